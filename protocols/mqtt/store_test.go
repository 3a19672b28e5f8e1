package mqtt_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// A QoS 1 publish the store cannot take is never acknowledged as a success:
// 5.0 gets a PUBACK with an error reason code, 3.1.1 (which cannot say no)
// loses its connection without a PUBACK.
func TestPublishNotStoredNotAcknowledged(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})
	addr := s.Addr("mqtt")

	// A persistent session subscribed at QoS 1 makes every publish durable.
	holder, _ := dial5(t, addr, &paho.Connect{ClientID: "holder", KeepAlive: 30, CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}})
	holder.sub(paho.SubscribeOptions{Topic: "store/#", QoS: 1})

	t.Run("5.0 store failed before the publish", func(t *testing.T) {
		store.Break(nil)
		defer store.Heal()
		pub, _ := dial5(t, addr, &paho.Connect{ClientID: "pub5", KeepAlive: 30, CleanStart: true})
		resp, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "store/a", QoS: 1, Payload: []byte("refused-a")})
		if err == nil {
			t.Fatal("paho 5.0: a publish the store refused was acknowledged as a success")
		}
		if resp == nil || resp.ReasonCode != byte(packet.UnspecifiedError) {
			t.Fatalf("PUBACK %+v (err %v), want reason code 0x80", resp, err)
		}
	})

	t.Run("5.0 the store fails the write", func(t *testing.T) {
		store.Set(faulty.SyncOnly())
		defer store.Set(nil)
		pub, _ := dial5(t, addr, &paho.Connect{ClientID: "pub5b", KeepAlive: 30, CleanStart: true})
		resp, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "store/b", QoS: 1, Payload: []byte("unstored-b")})
		if err == nil || resp == nil || resp.ReasonCode < 0x80 {
			t.Fatalf("PUBACK %+v (err %v), want an error reason code", resp, err)
		}
	})

	t.Run("3.1.1 store failed before the publish", func(t *testing.T) {
		store.Break(nil)
		defer store.Heal()
		cl := dial3(t, addr, "pub3", nil)
		tok := cl.c.Publish("store/c", 1, false, "refused-c")
		select {
		case <-cl.lost:
		case <-time.After(waitFor):
			t.Fatalf("3.1.1 connection still open %v after a publish the store refused", waitFor)
		}
		// The connection is gone; a PUBACK would have been read before it.
		select {
		case <-tok.Done():
			if tok.Error() == nil {
				t.Fatal("paho 3.1.1: the publish completed as acknowledged")
			}
		default:
		}
	})

	t.Run("healed", func(t *testing.T) {
		pub, _ := dial5(t, addr, &paho.Connect{ClientID: "pub5c", KeepAlive: 30, CleanStart: true})
		pub.pub(&paho.Publish{Topic: "store/d", QoS: 1, Payload: []byte("kept")})
		// A publish refused, or whose write failed, reaches nobody: the core
		// makes a message visible only once the store has it.
		if m := holder.recv(); string(m.Payload) != "kept" {
			t.Fatalf("holder got %q, want only the stored publish", m.Payload)
		}
	})
}

// A persistent session's SUBSCRIBE is refused while the store cannot write:
// a granted SUBACK would promise a subscription that a restart loses.
func TestPersistentSubscribeWhileStoreBroken(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})
	addr := s.Addr("mqtt")
	store.Break(nil)
	persistent, _ := dial5(t, addr, &paho.Connect{ClientID: "keeper", KeepAlive: 30, CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}})
	ack, err := persistent.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "keep/#", QoS: 1}}})
	if err == nil && (ack == nil || ack.Reasons[0] < 0x80) {
		t.Fatalf("SUBACK %+v of a persistent session while the store cannot write, want a failure", ack)
	}
	if ack != nil && len(ack.Reasons) == 1 && ack.Reasons[0] != byte(packet.UnspecifiedError) {
		t.Errorf("SUBACK reason %#x, want 0x80", ack.Reasons[0])
	}
	// A session that stores nothing subscribes as usual.
	clean, _ := dial5(t, addr, &paho.Connect{ClientID: "transient", KeepAlive: 30, CleanStart: true})
	clean.sub(paho.SubscribeOptions{Topic: "keep/#", QoS: 0})

	store.Heal()
	persistent.sub(paho.SubscribeOptions{Topic: "keep/#", QoS: 1})
}
