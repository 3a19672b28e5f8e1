package amqp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// The server never sends more transfer frames than the client's session
// incoming-window allows; a session flow opening the window lets the rest
// go (part 2, 2.5.6).
func TestSessionIncomingWindowRespected(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "window", nil)
	for i := range 3 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "w%d", i)))
	}
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.send(0, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 1, OutgoingWindow: 100}, nil)
	b := expect[*codec.Begin](r)
	r.send(0, &codec.Attach{Name: "win", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "window"}, Target: &codec.Target{},
		SndSettleMode: codec.SndSettled}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{NextIncomingID: b.NextOutgoingID, HasNextIncomingID: true, IncomingWindow: 1, NextOutgoingID: 0, OutgoingWindow: 100,
		Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true}, nil)
	tr := expect[*codec.Transfer](r)
	// Nothing more may come until the window opens.
	_ = r.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var buf []byte
	for {
		_, body, err := codec.ReadFrame(r.nc, 0, &buf)
		if err != nil {
			break // the deadline: nothing arrived
		}
		if p, _, _ := codec.DecodePerformative(body); p != nil {
			if _, ok := p.(*codec.Transfer); ok {
				t.Fatal("a transfer beyond the session window")
			}
		}
	}
	_ = r.nc.SetReadDeadline(time.Now().Add(waitFor))
	r.send(0, &codec.Flow{NextIncomingID: tr.DeliveryID + 1, HasNextIncomingID: true, IncomingWindow: 10, NextOutgoingID: 0, OutgoingWindow: 100}, nil)
	expect[*codec.Transfer](r)
	expect[*codec.Transfer](r)
}

// A multi-frame delivery the sender aborts is dropped; one above the
// max-message-size detaches the link with message-size-exceeded.
func TestAbortedAndOversizedTransfers(t *testing.T) {
	s := servertestWithMaxMessage(t, 4096)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "parts", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "parts"},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	if a := expect[*codec.Attach](r); a.MaxMessageSize != 4096 {
		t.Fatalf("max-message-size %d announced, want 4096", a.MaxMessageSize)
	}
	expect[*codec.Flow](r)
	head := []byte{0x00, 0x53, 0x75, 0xb0, 0, 0, 0x0b, 0xb8} // data section of 3000 bytes
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{0}, More: true}, append(head, make([]byte, 1000)...))
	r.send(0, &codec.Transfer{Handle: 0, Aborted: true}, nil)
	// A whole one in three frames arrives and is accepted.
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 1, HasDeliveryID: true, DeliveryTag: []byte{1}, More: true}, append(head, make([]byte, 1000)...))
	r.send(0, &codec.Transfer{Handle: 0, More: true}, make([]byte, 1000))
	r.send(0, &codec.Transfer{Handle: 0}, make([]byte, 1000))
	d := expect[*codec.Disposition](r)
	if _, ok := d.State.(*codec.Accepted); !ok || d.First != 1 {
		t.Fatalf("disposition %+v, want accepted for delivery 1", d)
	}
	if st := queueStats(t, s, "parts"); st.Messages != 1 {
		t.Fatalf("queue holds %d messages, want 1 (the aborted one dropped)", st.Messages)
	}
	for i := range 5 {
		r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 2, HasDeliveryID: i == 0, DeliveryTag: []byte{2}, More: true}, make([]byte, 1000))
	}
	det := expect[*codec.Detach](r)
	if condition(det.Error) != codec.CondMessageSizeExceeded {
		t.Fatalf("detach with %v, want message-size-exceeded", det.Error)
	}
}

// With the no-local filter a subscriber does not get what its own
// connection published.
func TestNoLocal(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, &amqp.ConnOptions{ContainerID: "self"})
	r := newReceiver(t, ss, "chat", &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}, Credit: 10,
		Filters: []amqp.LinkFilter{amqp.NewLinkFilter("apache.org:no-local-filter:list", 0x0000468C00000003, []any{})}})
	if r.LinkSourceFilterValue("apache.org:no-local-filter:list") == nil {
		t.Fatal("no-local filter not echoed")
	}
	topic := &amqp.SenderOptions{TargetCapabilities: []string{"topic"}}
	send(t, newSender(t, ss, "chat", topic), amqp.NewMessage([]byte("mine")))
	_, other := session(t, s, nil)
	send(t, newSender(t, other, "chat", topic), amqp.NewMessage([]byte("theirs")))
	if m := receive(t, r); body(m) != "theirs" {
		t.Fatalf("got %q, want only the other connection's message", body(m))
	}
}

// A receiver in rcv-settle-mode second: the broker applies the outcome,
// then settles, and the client's settlement completes it.
func TestReceiverSettleModeSecond(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "second", nil), amqp.NewMessage([]byte("two-step")))
	r := newReceiver(t, ss, "second", &amqp.ReceiverOptions{SettlementMode: amqp.ReceiverSettleModeSecond.Ptr()})
	m := receive(t, r)
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatalf("accept in mode second: %v", err)
	}
	waitUntil(t, "the acceptance", func() bool {
		q, ok := s.Core.Queue("second")
		return !ok || q.Stats().Messages == 0
	})
}

// Many links each holding part of a message cannot make one connection
// hold more than a few max-message-sizes: the link that would go beyond
// is detached with resource-limit-exceeded.
func TestPartialDeliveriesBounded(t *testing.T) {
	s := servertestWithMaxMessage(t, 4096)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	for h := range uint32(5) {
		r.send(0, &codec.Attach{Name: fmt.Sprint("p", h), Handle: h, Role: codec.RoleSender, Target: &codec.Target{Address: "parts"},
			InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
		expect[*codec.Attach](r)
		expect[*codec.Flow](r)
	}
	for h := range uint32(5) {
		r.send(0, &codec.Transfer{Handle: h, DeliveryID: h, HasDeliveryID: true, DeliveryTag: []byte{byte(h)}, More: true}, make([]byte, 3500))
	}
	d := expect[*codec.Detach](r)
	if d.Handle != 4 || condition(d.Error) != codec.CondResourceLimitExceeded {
		t.Fatalf("detach of handle %d with %v, want handle 4 with resource-limit-exceeded", d.Handle, d.Error)
	}
}

// One disposition with a range as wide as the delivery-id space settles
// what is unsettled in it, at once.
func TestWideDispositionRange(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "wide", nil)
	for i := range 3 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "w%d", i)))
	}
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "wide", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "wide"}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, OutgoingWindow: 100,
		Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 3, HasLinkCredit: true}, nil)
	for range 3 {
		expect[*codec.Transfer](r)
	}
	r.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: 0, Last: 1<<32 - 1, Settled: true, State: &codec.Accepted{}}, nil)
	waitUntil(t, "the three acknowledged", func() bool {
		q, ok := s.Core.Queue("wide")
		return !ok || q.Stats().Acked == 3
	})
}

// A sender asking the broker to settle second: the broker's accepted
// disposition comes unsettled, the client settles, and the send completes.
func TestSenderWithReceiverSettleSecond(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "second-in", &amqp.SenderOptions{RequestedReceiverSettleMode: amqp.ReceiverSettleModeSecond.Ptr()})
	send(t, snd, durable("two phases"))
	if st := queueStats(t, s, "second-in"); st.Messages != 1 {
		t.Fatalf("queue holds %d messages, want 1", st.Messages)
	}
}
