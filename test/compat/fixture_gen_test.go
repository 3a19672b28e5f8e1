package compat_test

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server/servertest"
)

// TestWriteJournalFixture writes the journal that TestLoadJournalV1 loads.
// It runs only when JUNCTION_WRITE_JOURNAL_FIXTURE names an empty folder; the
// testdata/journal-v1 fixture was written by it at the commit before the
// stored message format became version 2 (git worktree add /tmp/old <commit>,
// copy this file there, run it). Keep it so the next format change can make
// its own fixture the same way.
func TestWriteJournalFixture(t *testing.T) {
	dir := os.Getenv("JUNCTION_WRITE_JOURNAL_FIXTURE")
	if dir == "" {
		t.Skip("JUNCTION_WRITE_JOURNAL_FIXTURE not set")
	}
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type, c.Data = "journal", dir
		c.Store.SegmentSize = 4096
	}})

	// Subscriptions first, so the messages below are stored for them.
	sc, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.Header("client-id", "compat-client"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][2]string{{"/topic/compat.news", "news"}, {"/topic/compat.mqtt.#", "from-mqtt"}} {
		if _, err := sc.Subscribe(d[0], stompc.AckClientIndividual, stompc.SubscribeOpt.Header("durable-subscription-name", d[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Disconnect(); err != nil {
		t.Fatal(err)
	}

	nc, err := net.Dial("tcp", s.Addr("mqtt"))
	if err != nil {
		t.Fatal(err)
	}
	// Never expires: an expiry interval would run out against the wall clock
	// and turn the test that loads the fixture into a time bomb.
	expiry := uint32(0xFFFFFFFF)
	sub5, _, err := testkit.ConnectPaho5(t, nc, &paho.Connect{ClientID: "compat-mqtt-sub", CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}, waitForFixture, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sub5.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "compat/mqtt/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := sub5.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}

	// STOMP: a text message with headers, a binary one, a topic message.
	sc, err = stompc.Dial("tcp", s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("/queue/compat.stomp", "text/plain", []byte("hello from stomp"),
		stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("persistent", "true"), stompc.SendOpt.Header("priority", "7"),
		stompc.SendOpt.Header("correlation-id", "corr-1"), stompc.SendOpt.Header("reply-to", "/queue/compat.replies"),
		stompc.SendOpt.Header("type", "greeting"), stompc.SendOpt.Header("JMSXGroupID", "g1"),
		stompc.SendOpt.Header("weight", "25"), stompc.SendOpt.Header("color", "red")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("/queue/compat.stomp", "", []byte{0, 1, 2, 0xff},
		stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("/topic/compat.news", "text/plain", []byte("news"),
		stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true"), stompc.SendOpt.Header("edition", "1")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Disconnect(); err != nil {
		t.Fatal(err)
	}

	// MQTT 5: a QoS 1 publish with properties, a QoS 2 one, a retained one.
	nc, err = net.Dial("tcp", s.Addr("mqtt"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := testkit.ConnectPaho5(t, nc, &paho.Connect{ClientID: "compat-mqtt-pub", CleanStart: true}, waitForFixture, nil)
	if err != nil {
		t.Fatal(err)
	}
	format := byte(1)
	msgs := []*paho.Publish{
		{Topic: "compat/mqtt/t", QoS: 1, Payload: []byte("mqtt one"), Properties: &paho.PublishProperties{
			PayloadFormat: &format, ContentType: "text/plain", ResponseTopic: "compat/replies",
			CorrelationData: []byte("mqtt-corr"),
			User:            paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}, {Key: "site", Value: "north"}}}},
		{Topic: "compat/mqtt/q2", QoS: 2, Payload: []byte("mqtt two")},
		{Topic: "compat/mqtt/kept", QoS: 1, Retain: true, Payload: []byte("retained"), Properties: &paho.PublishProperties{
			User: paho.UserProperties{{Key: "origin", Value: "fixture"}}}},
	}
	for _, m := range msgs {
		if _, err := pub.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}
