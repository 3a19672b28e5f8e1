package mqtt_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// failingBroker starts a broker on a memory store wrapped by faulty, with a
// persistent session subscribed to t/x so that QoS 1 and 2 publishes to it
// are stored (without a durable subscriber nothing needs the store).
func failingBroker(t *testing.T) (*server.Server, *faulty.Store) {
	t.Helper()
	fs := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: fs})
	sub := dial3(t, s.Addr("mqtt"), "durable-sub", func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) })
	sub.sub("t/x", 1)
	return s, fs
}

// TestPublishNotStoredIsNotAcknowledged5: with the store refusing durable
// writes, a 5.0 QoS 1 PUBLISH gets a PUBACK with an error reason and a QoS 2
// one a PUBREC with an error reason: paho.golang reports both. Catches the
// mutation "completeAck ignores the store's error" (reason 0x00).
func TestPublishNotStoredIsNotAcknowledged5(t *testing.T) {
	s, fs := failingBroker(t)
	pub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "pub5", CleanStart: true, KeepAlive: 30})
	if r := pub.pub(&paho.Publish{Topic: "t/x", QoS: 1, Payload: []byte("stored")}); r.ReasonCode != 0 {
		t.Fatalf("PUBACK before the failure: %#x", r.ReasonCode)
	}
	fs.Set(faulty.SyncOnly())
	for _, qos := range []byte{1, 2} {
		r, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "t/x", QoS: qos, Payload: []byte("not stored")})
		if r == nil || r.ReasonCode < 0x80 {
			t.Fatalf("QoS %d publish the store refused: %+v, %v; want an error reason code", qos, r, err)
		}
	}
	if fs.Failures() < 2 {
		t.Fatalf("%d store failures, want at least 2", fs.Failures())
	}
}

// TestPublishNotStoredIsNotAcknowledged311: 3.1.1 has no PUBACK error code,
// so the broker closes the connection instead of acknowledging. Catches the
// same mutation: paho would see the PUBACK and complete the token.
func TestPublishNotStoredIsNotAcknowledged311(t *testing.T) {
	s, fs := failingBroker(t)
	pub := dial3(t, s.Addr("mqtt"), "pub3", nil)
	pub.pub("t/x", 1, false, "stored")
	fs.Set(faulty.SyncOnly())
	tok := pub.c.Publish("t/x", 1, false, "not stored")
	select {
	case <-pub.lost:
	case <-time.After(waitFor):
		t.Fatalf("connection still open %v after a publish the store refused", waitFor)
	}
	if tok.WaitTimeout(waitFor) && tok.Error() == nil {
		t.Fatal("paho 3.1.1 got a PUBACK for a publish that was not stored")
	}
}
