package amqp_test

import (
	"slices"
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// coordinatorMessage is a message whose amqp-value holds a declare or a
// discharge (part 4, 4.5).
func coordinatorMessage(code uint64, fields ...any) []byte {
	b := codec.AppendDescriptor(nil, 0x77)
	return codec.AppendValue(b, codec.Described{Descriptor: code, Value: codec.List(fields)})
}

// txClient is a raw connection with a coordinator link (handle 0) and a
// sender to address (handle 1) on session 0.
type txClient struct {
	*raw
	next uint32 // next delivery-id
}

func newTxClient(t *testing.T, addr, address string) *txClient {
	r := dialRaw(t, addr)
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "txn-ctl", Handle: 0, Role: codec.RoleSender, Source: &codec.Source{},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.TxnLocal}}, InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	if a := expect[*codec.Attach](r); a.Coordinator == nil {
		t.Fatalf("coordinator attach answered with %+v", a)
	}
	expect[*codec.Flow](r)
	r.send(0, &codec.Attach{Name: "tx-sender", Handle: 1, Role: codec.RoleSender, Source: &codec.Source{},
		Target: &codec.Target{Address: address}, InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	return &txClient{raw: r}
}

// control sends a coordinator message and returns the disposition's state.
func (c *txClient) control(msg []byte) codec.DeliveryState {
	c.t.Helper()
	id := c.next
	c.next++
	c.send(0, &codec.Transfer{Handle: 0, DeliveryID: id, HasDeliveryID: true, DeliveryTag: []byte{byte(id)}}, msg)
	for {
		d := expect[*codec.Disposition](c.raw)
		if d.First == id {
			return d.State
		}
	}
}

func (c *txClient) declare() []byte {
	c.t.Helper()
	st := c.control(coordinatorMessage(0x31))
	d, ok := st.(*codec.Declared)
	if !ok {
		c.t.Fatalf("declare answered with %#v", st)
	}
	return append([]byte(nil), d.TxnID...)
}

// sendIn sends a message in the transaction and checks the transactional
// state that answers it.
func (c *txClient) sendIn(txn []byte, text string) {
	c.t.Helper()
	id := c.next
	c.next++
	data := codec.AppendBinary(codec.AppendDescriptor(nil, 0x75), []byte(text))
	c.send(0, &codec.Transfer{Handle: 1, DeliveryID: id, HasDeliveryID: true, DeliveryTag: []byte{byte(id)},
		State: &codec.TransactionalState{TxnID: txn}}, data)
	d := expect[*codec.Disposition](c.raw)
	ts, ok := d.State.(*codec.TransactionalState)
	if !ok || string(ts.TxnID) != string(txn) {
		c.t.Fatalf("transactional send answered with %#v", d.State)
	}
	if _, ok := ts.Outcome.(*codec.Accepted); !ok {
		c.t.Fatalf("transactional send outcome %#v", ts.Outcome)
	}
}

// Transactional sends are invisible until the discharge commits them; a
// discharge with fail drops them (part 4, 4.4).
func TestTransactionCommitRollback(t *testing.T) {
	s := startBroker(t, nil)
	c := newTxClient(t, s.Addr("amqp"), "txq")

	txn := c.declare()
	c.sendIn(txn, "rolled back")
	if st := c.control(coordinatorMessage(0x32, txn, true)); st == nil {
		t.Fatal("rollback not answered with an outcome")
	} else if _, ok := st.(*codec.Accepted); !ok {
		t.Fatalf("rollback answered with %#v", st)
	}

	txn = c.declare()
	c.sendIn(txn, "committed")
	if q, ok := s.Core.Queue("txq"); ok && q.Stats().Messages != 0 {
		t.Fatalf("a transactional send is visible before the commit: %+v", q.Stats())
	}
	if st, ok := c.control(coordinatorMessage(0x32, txn, false)).(*codec.Accepted); !ok {
		t.Fatalf("commit answered with %#v", st)
	}
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "txq", nil)
	if m := receive(t, r); body(m) != "committed" {
		t.Fatalf("got %q", body(m))
	}
	if st := queueStats(t, s, "txq"); st.Messages != 1 {
		t.Fatalf("queue holds %d messages, want only the committed one", st.Messages)
	}

	// Discharging an unknown transaction is refused.
	if _, ok := c.control(coordinatorMessage(0x32, []byte("nope"), false)).(*codec.Rejected); !ok {
		t.Fatal("discharge of an unknown transaction was not rejected")
	}
}

// A disposition in a transaction settles at the commit: an accepted
// delivery is consumed only then, and a rollback leaves it with the
// consumer.
func TestTransactionalAcknowledge(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "txack", nil), amqp.NewMessage([]byte("work")))

	c := newTxClient(t, s.Addr("amqp"), "unused")
	c.send(0, &codec.Attach{Name: "tx-recv", Handle: 2, Role: codec.RoleReceiver, Source: &codec.Source{Address: "txack"}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](c.raw)
	c.send(0, &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, NextOutgoingID: c.next, OutgoingWindow: 100,
		Handle: 2, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 1, HasLinkCredit: true}, nil)
	tr := expect[*codec.Transfer](c.raw)
	txn := c.declare()
	c.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: tr.DeliveryID, Last: tr.DeliveryID, Settled: true,
		State: &codec.TransactionalState{TxnID: txn, Outcome: &codec.Accepted{}}}, nil)
	waitUntil(t, "the delivery in flight", func() bool { return queueStats(t, s, "txack").InFlight == 1 })
	if st, ok := c.control(coordinatorMessage(0x32, txn, false)).(*codec.Accepted); !ok {
		t.Fatalf("commit answered with %#v", st)
	}
	if st := queueStats(t, s, "txack"); st.Messages != 0 || st.Acked != 1 {
		t.Fatalf("after the commit: %+v", st)
	}
}

// The coordinator supports local transactions only (part 4, 4.3): a
// declare with a global-id is rejected with amqp:not-implemented, and the
// coordinator link stays usable. The attach names what it supports.
func TestDeclareGlobalIDNotImplemented(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "txn-ctl", Handle: 0, Role: codec.RoleSender, Source: &codec.Source{},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.TxnDistributed}}, HasInitialDeliveryCount: true}, nil)
	a := expect[*codec.Attach](r)
	if a.Coordinator == nil || !slices.Contains(a.Coordinator.Capabilities, codec.TxnLocal) || slices.Contains(a.Coordinator.Capabilities, codec.TxnDistributed) {
		t.Fatalf("coordinator attach answered with %+v", a.Coordinator)
	}
	expect[*codec.Flow](r)
	c := &txClient{raw: r}
	st := c.control(coordinatorMessage(0x31, []byte("xid-1")))
	rej, ok := st.(*codec.Rejected)
	if !ok || rej.Error == nil || rej.Error.Condition != codec.CondNotImplemented {
		t.Fatalf("declare with a global-id answered with %#v", st)
	}
	if txn := c.declare(); len(txn) == 0 {
		t.Fatal("local declare after the refused one: empty txn-id")
	}
}

// Transactional acquisition (a flow whose properties carry a txn-id, part
// 4, 4.4.3) is refused on the link with amqp:not-implemented before any
// message is sent under it; the message stays in the queue for others.
func TestTransactionalAcquisitionRefused(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "acq", nil), amqp.NewMessage([]byte("kept")))

	c := newTxClient(t, s.Addr("amqp"), "acq")
	txn := c.declare()
	c.send(0, &codec.Attach{Name: "acq-receiver", Handle: 2, Role: codec.RoleReceiver,
		Source: &codec.Source{Address: "acq"}, Target: &codec.Target{}}, nil)
	if a := expect[*codec.Attach](c.raw); a.Source == nil {
		t.Fatalf("receiver attach refused: %+v", a)
	}
	c.send(0, &codec.Flow{IncomingWindow: 1000, NextOutgoingID: c.next, OutgoingWindow: 1000,
		Handle: 2, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true,
		Properties: codec.Map{{Key: codec.Symbol("txn-id"), Value: txn}}}, nil)
	for {
		p, _ := c.raw.next()
		switch p := p.(type) {
		case *codec.Transfer:
			t.Fatal("a message was sent under a transactional acquisition the broker does not support")
		case *codec.Detach:
			if p.Handle != 2 || !p.Closed || condition(p.Error) != codec.CondNotImplemented {
				t.Fatalf("detach %+v (error %v), want handle 2 closed with amqp:not-implemented", p, p.Error)
			}
			c.send(0, &codec.Detach{Handle: 2, Closed: true}, nil)
			if st := queueStats(t, s, "acq"); st.Messages != 1 {
				t.Fatalf("queue after the refused acquisition: %+v", st)
			}
			// The connection and the transaction are unaffected.
			c.sendIn(txn, "still in the transaction")
			return
		}
	}
}

// Transactional retirement rolled back (part 4, 4.4.2): the accepted
// outcome is undone and the message is delivered again.
func TestTransactionalAcknowledgeRollback(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "txrb", nil), amqp.NewMessage([]byte("again")))

	c := newTxClient(t, s.Addr("amqp"), "unused")
	c.send(0, &codec.Attach{Name: "tx-recv", Handle: 2, Role: codec.RoleReceiver, Source: &codec.Source{Address: "txrb"}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](c.raw)
	flow := func(credit uint32, count uint32) {
		c.send(0, &codec.Flow{IncomingWindow: 100, NextOutgoingID: c.next, OutgoingWindow: 100,
			Handle: 2, HasHandle: true, DeliveryCount: count, HasDeliveryCount: true, LinkCredit: credit, HasLinkCredit: true}, nil)
	}
	flow(1, 0)
	tr := expect[*codec.Transfer](c.raw)
	txn := c.declare()
	c.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: tr.DeliveryID, Last: tr.DeliveryID, Settled: true,
		State: &codec.TransactionalState{TxnID: txn, Outcome: &codec.Accepted{}}}, nil)
	if st, ok := c.control(coordinatorMessage(0x32, txn, true)).(*codec.Accepted); !ok {
		t.Fatalf("rollback answered with %#v", st)
	}
	flow(1, 1)
	again := expect[*codec.Transfer](c.raw)
	if again.DeliveryID == tr.DeliveryID {
		t.Fatalf("redelivery reused delivery-id %d", tr.DeliveryID)
	}
	if st := queueStats(t, s, "txrb"); st.Acked != 0 || st.InFlight != 1 {
		t.Fatalf("after the rollback: %+v", st)
	}
}
