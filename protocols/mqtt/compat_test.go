package mqtt_test

import (
	"os"
	"path/filepath"
	"testing"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server/servertest"
)

// A journal written before the adapters owned their record kinds still
// loads: MQTT session, offline message, retained message and a STOMP queue
// all come back.
func TestJournalFromEarlierVersion(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "journal-11f23d2")
	dir := t.TempDir()
	for _, name := range []string{"JOURNAL", "0000000000000001.seg", "0000000000000002.seg"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type = "journal"
		c.Store.SegmentSize = 64 << 10
		c.Data = dir
	}})

	holder := dial3(t, s.Addr("mqtt"), "fixture-holder", func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) })
	// The session kept its subscription: the offline message arrives
	// without subscribing again.
	if m := holder.recv(); m.topic != "sensors/t" || m.payload != "21.5" {
		t.Fatalf("offline message %+v", m)
	}

	reader := dial3(t, s.Addr("mqtt"), "reader", nil)
	reader.sub("sensors/#", 1)
	if m := reader.recv(); m.payload != "21.5" || !m.retained {
		t.Fatalf("retained message %+v", m)
	}

	c, err := stompc.Dial("tcp", s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe("/queue/orders", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if m := testkit.RecvSTOMP(t, sub, waitFor); string(m.Body) != "order-1" {
		t.Fatalf("STOMP message %q", m.Body)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
}
