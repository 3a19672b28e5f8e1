package security_test

import (
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/core"
)

// In the issue's configuration alice (admin) may create durable queues (and
// their addresses) outside orders.# but not delete them: the restricted user
// for these tests, on the topic news/x.

// subscriptionQueue returns the durable subscription queue bound to address,
// failing the test unless there is exactly one.
func subscriptionQueue(t testing.TB, e *env, address string) *core.Queue {
	t.Helper()
	var found []*core.Queue
	for _, q := range e.s.Core.Queues() {
		if q.Info().Address == address && q.Info().Durable {
			found = append(found, q)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d durable queues bound to %s, want 1", len(found), address)
	}
	return found[0]
}

// TestMQTT5UnsubscribeWithoutDeletePermission: a refused UNSUBSCRIBE of a
// durable subscription answers 0x87 and leaves the subscription working.
// Catches the mutation "onUnsubscribe forgets the subscription and closes
// its consumer before DeleteQueue refuses, and answers 0x00" (the defect of
// issue 17): UNSUBACK 0x00, no delivery afterwards, the queue left with no
// consumer.
func TestMQTT5UnsubscribeWithoutDeletePermission(t *testing.T) {
	e := start(t, setup{yaml: issueSecurity})
	addr := e.s.Addr("mqtt")
	cp := creds5("alice-unsub5", "alice", alicePW)
	cp.CleanStart = false
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}
	alice, _, err := dial5(t, addr, cp)
	if err != nil {
		t.Fatal(err)
	}
	if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "news/x", QoS: 1}}}); err != nil || !slices.Equal(sa.Reasons, []byte{1}) {
		t.Fatalf("durable SUBSCRIBE news/x: %+v %v", sa, err)
	}
	q := subscriptionQueue(t, e, "news.x")

	ua, err := alice.Unsubscribe(ctxT(t), &paho.Unsubscribe{Topics: []string{"news/x"}})
	if ua == nil {
		t.Fatalf("UNSUBSCRIBE: %v", err)
	}
	if !slices.Equal(ua.Reasons, []byte{0x87}) {
		t.Fatalf("UNSUBACK %#x, want 0x87 (Not authorized)", ua.Reasons)
	}
	e.expectAudit(t, "user=alice", "action=deleteDurableQueue", "address=news.x")

	// The subscription is intact: a message still reaches alice.
	pub := login5(t, addr, "alice-pub5", "alice", alicePW)
	if _, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "news/x", QoS: 1, Payload: []byte("still yours")}); err != nil {
		t.Fatal(err)
	}
	if m := alice.recv(t); string(m.Payload) != "still yours" {
		t.Fatalf("got %q", m.Payload)
	}
	if _, ok := e.s.Core.Queue(q.Name()); !ok || q.Stats().Consumers != 1 {
		t.Fatalf("subscription queue %s after the refused UNSUBSCRIBE: present %v, %+v", q.Name(), ok, q.Stats())
	}
}

// TestMQTT311UnsubscribeWithoutDeletePermission: 3.1.1's UNSUBACK has no
// failure code, so the broker keeps the subscription whole (messages keep
// flowing to the client, as the queue it cannot delete keeps collecting
// them) and audit-logs the denial. Catches the same mutation as the 5.0
// test: the message published after the UNSUBSCRIBE would sit in a queue
// without a consumer.
func TestMQTT311UnsubscribeWithoutDeletePermission(t *testing.T) {
	e := start(t, setup{yaml: issueSecurity})
	url := "tcp://" + e.s.Addr("mqtt")
	msgs := make(chan mqtt3.Message, 10)
	// paho drops its own route on UNSUBSCRIBE; what arrives afterwards goes
	// to the default handler.
	o := opts3(url, "alice-unsub3").SetUsername("alice").SetPassword(alicePW).SetCleanSession(false).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { msgs <- m })
	alice, code, err := connect3(t, o)
	if err != nil {
		t.Fatalf("connect: %#x %v", code, err)
	}
	if code := sub3(t, alice, "news/x", 1, msgs); code != 1 {
		t.Fatalf("SUBACK %#x, want QoS 1", code)
	}
	q := subscriptionQueue(t, e, "news.x")
	if err := wait3(t, "UNSUBSCRIBE", alice.Unsubscribe("news/x")); err != nil {
		t.Fatal(err)
	}
	e.expectAudit(t, "user=alice", "action=deleteDurableQueue", "address=news.x")

	pub := login3(t, url, "alice-pub3", "alice", alicePW)
	if err := wait3(t, "PUBLISH", pub.Publish("news/x", 1, false, "still yours")); err != nil {
		t.Fatal(err)
	}
	if m := recv3(t, msgs); string(m.Payload()) != "still yours" {
		t.Fatalf("got %q", m.Payload())
	}
	if st := q.Stats(); st.Consumers != 1 {
		t.Fatalf("subscription queue %s after the refused UNSUBSCRIBE: %+v", q.Name(), st)
	}
}

// TestMQTTSessionEndRemovesQueuesWithoutDeletePermission: when a session ends
// (clean start over a persistent session, or expiry) the broker removes its
// subscription queues itself; the user's missing deleteDurableQueue does not
// leave them behind collecting messages.
//
// "clean start" catches the mutation "the old session's queues are deleted
// with the new connection's session" (attach.go before issue 17);
// "expiry" catches "destroy deletes with a session whose authorize hook
// refuses" (the user's permissions applied to the broker's own cleanup).
func TestMQTTSessionEndRemovesQueuesWithoutDeletePermission(t *testing.T) {
	t.Run("clean start", func(t *testing.T) {
		e := start(t, setup{yaml: issueSecurity})
		addr := e.s.Addr("mqtt")
		o := opts3("tcp://"+addr, "alice-clean").SetUsername("alice").SetPassword(alicePW).SetCleanSession(false)
		alice, code, err := connect3(t, o)
		if err != nil {
			t.Fatalf("connect: %#x %v", code, err)
		}
		if code := sub3(t, alice, "news/x", 1, make(chan mqtt3.Message, 1)); code != 1 {
			t.Fatalf("SUBACK %#x", code)
		}
		q := subscriptionQueue(t, e, "news.x")
		alice.Disconnect(50)
		eventually(t, "subscription queue detached", func() bool { return q.Stats().Consumers == 0 })

		o = opts3("tcp://"+addr, "alice-clean").SetUsername("alice").SetPassword(alicePW).SetCleanSession(true)
		if _, code, err := connect3(t, o); err != nil {
			t.Fatalf("clean reconnect: %#x %v", code, err)
		}
		// The CONNACK follows the old session's removal.
		if _, ok := e.s.Core.Queue(q.Name()); ok {
			t.Fatalf("subscription queue %s outlived its session's clean start", q.Name())
		}
	})

	t.Run("expiry", func(t *testing.T) {
		e := start(t, setup{yaml: issueSecurity})
		addr := e.s.Addr("mqtt")
		cp := creds5("alice-expiry", "alice", alicePW)
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(1))}
		alice, _, err := dial5(t, addr, cp)
		if err != nil {
			t.Fatal(err)
		}
		if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "news/x", QoS: 1}}}); err != nil || !slices.Equal(sa.Reasons, []byte{1}) {
			t.Fatalf("durable SUBSCRIBE news/x: %+v %v", sa, err)
		}
		q := subscriptionQueue(t, e, "news.x")
		if err := alice.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		// The expiry timer is the broker's; polling the queue is all there is.
		eventually(t, "subscription queue removed at session expiry", func() bool {
			_, ok := e.s.Core.Queue(q.Name())
			return !ok
		})
	})
}
