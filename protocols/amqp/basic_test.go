package amqp_test

import (
	"testing"

	"github.com/Azure/go-amqp"
)

// A message sent to a queue reaches a receiver on it, body intact, and the
// acceptance empties the queue.
func TestSendReceiveQueue(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "orders", nil)
	send(t, snd, amqp.NewMessage([]byte("hello")))
	r := newReceiver(t, ss, "orders", nil)
	m := receive(t, r)
	if got := string(m.GetData()); got != "hello" {
		t.Fatalf("body = %q, want hello", got)
	}
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatalf("accept: %v", err)
	}
	waitUntil(t, "the queue to empty", func() bool {
		st := queueStats(t, s, "orders")
		return st.Messages == 0 && st.InFlight == 0
	})
}
