package amqp_test

import (
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/amqp/codec"
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

// Several sessions share one connection, each with its own links and
// transfer ids; ending one leaves the others working.
func TestManySessions(t *testing.T) {
	s := startBroker(t, nil)
	c := dial(t, s, nil)
	var sessions []*amqp.Session
	for range 3 {
		ss, err := c.NewSession(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		sessions = append(sessions, ss)
	}
	for i, ss := range sessions {
		q := "multi" + string(rune('a'+i))
		send(t, newSender(t, ss, q, nil), amqp.NewMessage([]byte(q)))
		if m := receive(t, newReceiver(t, ss, q, nil)); string(m.GetData()) != q {
			t.Fatalf("session %d got %q", i, m.GetData())
		}
	}
	if err := sessions[0].Close(ctxFor(t)); err != nil {
		t.Fatalf("end: %v", err)
	}
	send(t, newSender(t, sessions[2], "multic", nil), amqp.NewMessage([]byte("still")))
}

// A begin on a channel above our channel-max closes the connection with
// framing-error.
func TestChannelMax(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	so := r.open(&codec.Open{ContainerID: "raw", ChannelMax: 65535})
	r.send(so.ChannelMax+1, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 10, OutgoingWindow: 10}, nil)
	if c := expect[*codec.Close](r); condition(c.Error) != codec.CondFramingError {
		t.Fatalf("close with %v, want framing-error", c.Error)
	}
}

// The server's open announces its limits and offers anonymous relay and
// shared subscriptions.
func TestOpenAnnounces(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	so := r.open(nil)
	if so.MaxFrameSize != 128<<10 || so.ChannelMax != 2047 || so.IdleTimeOut != 60000 {
		t.Fatalf("open announces max-frame-size %d, channel-max %d, idle-time-out %d", so.MaxFrameSize, so.ChannelMax, so.IdleTimeOut)
	}
	caps := map[codec.Symbol]bool{}
	for _, c := range so.OfferedCapabilities {
		caps[c] = true
	}
	if !caps["ANONYMOUS-RELAY"] || !caps["SHARED-SUBS"] || !caps["DELAYED_DELIVERY"] {
		t.Fatalf("offered capabilities %v", so.OfferedCapabilities)
	}
	// A clean close is answered with a close.
	r.send(0, &codec.Close{}, nil)
	if c := expect[*codec.Close](r); c.Error != nil {
		t.Fatalf("close answered with an error: %v", c.Error)
	}
	r.expectEOF()
}

// x-opt-delivery-delay holds a message back (the DELAYED_DELIVERY the
// open offers): it waits scheduled, then arrives.
func TestDelayedDelivery(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	m := amqp.NewMessage([]byte("later"))
	m.Annotations = amqp.Annotations{"x-opt-delivery-delay": int64(300)}
	sent := time.Now()
	send(t, newSender(t, ss, "delayed", nil), m)
	if st := queueStats(t, s, "delayed"); st.Scheduled != 1 {
		t.Fatalf("the delayed message is not scheduled: %+v", st)
	}
	got := receive(t, newReceiver(t, ss, "delayed", nil))
	if string(got.GetData()) != "later" {
		t.Fatalf("got %q", got.GetData())
	}
	if el := time.Since(sent); el < 250*time.Millisecond {
		t.Fatalf("the message arrived after %v, before its 300ms delay", el)
	}
}
