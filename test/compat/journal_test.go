package compat_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// startOnFixture starts a broker on a copy of a journal kept in testdata
// (the broker writes to its journal, the fixture must stay as it is).
func startOnFixture(t *testing.T, name string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type, c.Data = "journal", dir
		c.Store.SegmentSize = 4096
	}})
}

func dialSTOMP(t *testing.T, s *server.Server, opts ...func(*stompc.Conn) error) *stompc.Conn {
	t.Helper()
	c, err := stompc.Dial("tcp", s.Addr("stomp"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect() })
	return c
}

func dialPaho5(t *testing.T, s *server.Server, cp *paho.Connect) (*testkit.Paho5, *paho.Connack) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr("mqtt"))
	if err != nil {
		t.Fatal(err)
	}
	c, ack, err := testkit.ConnectPaho5(t, nc, cp, waitForFixture, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, ack
}

func recvMQTT(t *testing.T, c *testkit.Paho5) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.Msgs:
		return p
	case <-c.Done():
		t.Fatal("MQTT client disconnected while waiting for a message")
	case <-waitTimer():
		t.Fatalf("no MQTT message within %v", waitForFixture)
	}
	return nil
}

// wantHeaders fails unless every header has the wanted values, in order.
func wantHeaders(t *testing.T, m *stompc.Message, want map[string][]string) {
	t.Helper()
	for k, vs := range want {
		if got := m.Header.GetAll(k); fmt.Sprint(got) != fmt.Sprint(vs) {
			t.Errorf("message %q: header %s = %q, want %q", m.Body, k, got, vs)
		}
	}
}

// noInternalHeaders fails if a STOMP consumer sees an adapter's internal
// markers as headers.
func noInternalHeaders(t *testing.T, m *stompc.Message) {
	t.Helper()
	for i := range m.Header.Len() {
		if k, _ := m.Header.GetAt(i); len(k) > 6 && k[:6] == "_MQTT_" {
			t.Errorf("message %q: internal header %s reached a STOMP consumer", m.Body, k)
		}
	}
}

// TestLoadJournalV1: a journal written by the broker before the stored
// message format became version 2 (testdata/journal-v1, made by
// TestWriteJournalFixture) loads, and every message comes out to STOMP and
// MQTT consumers as it went in.
func TestLoadJournalV1(t *testing.T) {
	s := startOnFixture(t, "journal-v1")

	t.Run("STOMP queue", func(t *testing.T) {
		c := dialSTOMP(t, s)
		// Selectors still read the loaded message's untyped headers as
		// numbers and its correlation id as a string.
		sel, err := c.Subscribe("/queue/compat.stomp", stompc.AckClientIndividual,
			stompc.SubscribeOpt.Header("selector", "weight > 10 AND color = 'red' AND JMSCorrelationID = 'corr-1' AND JMSPriority = 7"))
		if err != nil {
			t.Fatal(err)
		}
		m := testkit.RecvSTOMP(t, sel, waitForFixture)
		if string(m.Body) != "hello from stomp" {
			t.Fatalf("first message %q", m.Body)
		}
		wantHeaders(t, m, map[string][]string{
			"content-type": {"text/plain"}, "persistent": {"true"}, "priority": {"7"},
			"correlation-id": {"corr-1"}, "reply-to": {"/queue/compat.replies"}, "type": {"greeting"},
			"weight": {"25"}, "color": {"red"},
		})
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
		sub, err := c.Subscribe("/queue/compat.stomp", stompc.AckClientIndividual)
		if err != nil {
			t.Fatal(err)
		}
		m2 := testkit.RecvSTOMP(t, sub, waitForFixture)
		if !bytes.Equal(m2.Body, []byte{0, 1, 2, 0xff}) {
			t.Fatalf("second message %q", m2.Body)
		}
		if err := c.Ack(m2); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("STOMP durable subscriptions", func(t *testing.T) {
		c := dialSTOMP(t, s, stompc.ConnOpt.Header("client-id", "compat-client"))
		news, err := c.Subscribe("/topic/compat.news", stompc.AckAuto, stompc.SubscribeOpt.Header("durable-subscription-name", "news"))
		if err != nil {
			t.Fatal(err)
		}
		m := testkit.RecvSTOMP(t, news, waitForFixture)
		if string(m.Body) != "news" {
			t.Fatalf("news: %q", m.Body)
		}
		wantHeaders(t, m, map[string][]string{"edition": {"1"}, "content-type": {"text/plain"}})

		// The MQTT messages, whose format 1 records held the adapter's
		// markers as properties: they must not come out as headers.
		fromMQTT, err := c.Subscribe("/topic/compat.mqtt.#", stompc.AckAuto, stompc.SubscribeOpt.Header("durable-subscription-name", "from-mqtt"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*stompc.Message{}
		for range 3 {
			m := testkit.RecvSTOMP(t, fromMQTT, waitForFixture)
			got[string(m.Body)] = m
			noInternalHeaders(t, m)
		}
		one := got["mqtt one"]
		if one == nil || got["mqtt two"] == nil || got["retained"] == nil {
			t.Fatalf("got %v", got)
		}
		wantHeaders(t, one, map[string][]string{
			"k": {"v1", "v2"}, "site": {"north"}, "correlation-id": {"mqtt-corr"},
			"content-type": {"text/plain"}, "reply-to": {"/topic/compat.replies"},
		})
		wantHeaders(t, got["retained"], map[string][]string{"origin": {"fixture"}})
	})

	t.Run("MQTT persistent session", func(t *testing.T) {
		c, ack := dialPaho5(t, s, &paho.Connect{ClientID: "compat-mqtt-sub", CleanStart: false})
		if !ack.SessionPresent {
			t.Fatal("session not present after loading the journal")
		}
		got := map[string]*paho.Publish{}
		for range 3 {
			p := recvMQTT(t, c)
			got[string(p.Payload)] = p
		}
		one, two, kept := got["mqtt one"], got["mqtt two"], got["retained"]
		if one == nil || two == nil || kept == nil {
			t.Fatalf("got %v", got)
		}
		if one.QoS != 1 || two.QoS != 2 || kept.QoS != 1 {
			t.Errorf("QoS %d %d %d, want 1 2 1", one.QoS, two.QoS, kept.QoS)
		}
		pr := one.Properties
		if pr == nil || pr.ContentType != "text/plain" || pr.ResponseTopic != "compat/replies" ||
			string(pr.CorrelationData) != "mqtt-corr" || pr.PayloadFormat == nil || *pr.PayloadFormat != 1 {
			t.Errorf("properties %+v", pr)
		}
		if pr != nil && fmt.Sprint(pr.User) != fmt.Sprint(paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}, {Key: "site", Value: "north"}}) {
			t.Errorf("user properties %v", pr.User)
		}
		if kept.Properties == nil || kept.Properties.User.Get("origin") != "fixture" {
			t.Errorf("retained message's properties %+v", kept.Properties)
		}
	})

	t.Run("MQTT retained message", func(t *testing.T) {
		c, _ := dialPaho5(t, s, &paho.Connect{ClientID: "compat-new", CleanStart: true})
		if _, err := c.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "compat/mqtt/kept", QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		p := recvMQTT(t, c)
		if string(p.Payload) != "retained" || !p.Retain {
			t.Fatalf("got %q retain %v", p.Payload, p.Retain)
		}
		if p.Properties == nil || p.Properties.User.Get("origin") != "fixture" {
			t.Errorf("properties %+v", p.Properties)
		}
	})
}
