package mqtt_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server"
)

// TestMaxQueuesSuback: beyond max-queues a subscription is refused with
// SUBACK 0x97 quota exceeded (5.0, seen by paho.golang) or 0x80 (3.1.1),
// and the granted ones keep working.
func TestMaxQueuesSuback(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MaxQueues = 1 })
	addr := s.Addr("mqtt")
	p5, _ := dial5(t, addr, &paho.Connect{ClientID: "cap-5", CleanStart: true})
	ack, err := p5.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "cap/a", QoS: 1}, {Topic: "cap/b", QoS: 1}}})
	if err != nil && !strings.Contains(err.Error(), "failed") {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	if ack == nil || !slices.Equal(ack.Reasons, []byte{1, byte(packet.QuotaExceeded)}) {
		t.Fatalf("SUBACK %+v, want [1 0x97]", ack)
	}

	c3 := dial3(t, addr, "cap-3", nil)
	tok := c3.c.Subscribe("cap/c", 1, nil)
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("no SUBACK")
	}
	if code := tok.(interface{ Result() map[string]byte }).Result()["cap/c"]; code != 0x80 {
		t.Errorf("3.1.1 SUBACK %#x, want 0x80", code)
	}

	c3.pub("cap/a", 1, false, "through")
	select {
	case m := <-p5.Msgs:
		if string(m.Payload) != "through" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(waitFor):
		t.Fatal("the granted subscription received nothing")
	}
}

// TestMaxQueuedMessagesDropsQoS0: a subscriber that never reads gets at
// most max-queued-messages QoS 0 messages queued; the rest are dropped and
// counted, and the publisher is never held.
func TestMaxQueuedMessagesDropsQoS0(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MaxQueuedMessages = 50 })
	addr := s.Addr("mqtt")
	slow, _ := connectRaw(t, addr, packet.Version311, "slow", true)
	slow.subscribe(1, packet.Subscription{Filter: "flood/#", QoS: 0})
	// The slow client reads nothing from here on: its socket buffers and
	// then its queue fill.
	pub := dial3(t, addr, "flooder", nil)
	body := strings.Repeat("x", 1024)
	const n = 20000
	for range n {
		pub.c.Publish("flood/x", 0, false, body)
	}
	// A QoS 1 round trip after the flood: every QoS 0 publish before it has
	// been routed.
	pub.pub("other/marker", 1, false, "m")
	q := findQueue(t, s, ":slow:")
	st := q.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped for a subscriber that never reads: %+v", st)
	}
	if st.Messages > 50 {
		t.Errorf("queue holds %d messages, limit 50", st.Messages)
	}
}

// findQueue returns the one queue whose name holds part.
func findQueue(t *testing.T, s *server.Server, part string) *core.Queue {
	t.Helper()
	for _, q := range s.Core.Queues() {
		if strings.Contains(q.Name(), part) {
			return q
		}
	}
	t.Fatalf("no queue named like %q", part)
	return nil
}

// TestSlowConsumerDisconnected: a QoS 1 subscriber that acknowledges
// nothing fills its queue (max-queued-messages 5); the publisher's QoS 1
// publishes then wait for room. After slow-consumer-timeout the subscriber
// is disconnected with 0x97 quota exceeded, the publisher's PUBACKs come,
// and the persistent session keeps its messages for the next connection.
func TestSlowConsumerDisconnected(t *testing.T) {
	s := startBroker(t, func(c *config.Config) {
		c.MaxQueuedMessages = 5
		c.SlowConsumerTimeout = time.Second
	})
	addr := s.Addr("mqtt")
	slow, _ := connectRaw(t, addr, packet.Version5, "slowc", false)
	slow.subscribe(1, packet.Subscription{Filter: "slowc/t", QoS: 1})

	pub := dial3(t, addr, "slowc-pub", nil)
	var toks []interface{ WaitTimeout(time.Duration) bool }
	for i := range 8 {
		toks = append(toks, pub.c.Publish("slowc/t", 1, false, fmt.Sprint(i)))
	}
	// Held, then released when the slow subscriber goes: every PUBACK comes.
	for i, tok := range toks {
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("publish %d never acknowledged: the slow subscriber still holds the publisher", i)
		}
	}
	got := slow.expectClosed()
	if len(got) == 0 {
		t.Fatal("slow subscriber closed without a DISCONNECT")
	}
	if d, ok := got[len(got)-1].(*packet.Disconnect); !ok || d.ReasonCode != packet.QuotaExceeded {
		t.Fatalf("slow subscriber got %s, want its PUBLISHes then DISCONNECT 0x97", describe(got))
	}

	again, ack := connectRaw(t, addr, packet.Version5, "slowc", false)
	if !ack.SessionPresent {
		t.Fatal("the persistent session was not kept")
	}
	for range 5 {
		again.ack(expectPublish(again))
	}
}
