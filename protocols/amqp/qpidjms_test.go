package amqp_test

// Qpid JMS (the JMS client Artemis recommends) cannot run here, so these
// tests send the frames it sends, field for field as its AMQP provider
// builds them (qpid-jms-client .../provider/amqp: AmqpConnectionBuilder,
// AmqpConsumerBuilder, AmqpConnectionSession.unsubscribe,
// AmqpTemporaryDestinationBuilder), and check the answers it relies on.

import (
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/server"
)

// jmsOpen is Qpid JMS's open: its desired capabilities and properties.
func jmsOpen(container string) *codec.Open {
	return &codec.Open{ContainerID: container, Hostname: "localhost", MaxFrameSize: 1 << 20, ChannelMax: 32767, IdleTimeOut: 30000,
		DesiredCapabilities: []codec.Symbol{"sole-connection-for-container", "DELAYED_DELIVERY", "ANONYMOUS-RELAY", "SHARED-SUBS"},
		Properties: codec.Map{{Key: codec.Symbol("product"), Value: "QpidJMS"}, {Key: codec.Symbol("version"), Value: "2.5.0"},
			{Key: codec.Symbol("platform"), Value: "JVM: 17"}}}
}

// jmsConn opens a raw connection the way Qpid JMS does, with a session on
// channel 0.
func jmsConn(t *testing.T, s *server.Server, container string) *raw {
	t.Helper()
	r := dialRaw(t, s.Addr("amqp"))
	o := r.open(jmsOpen(container))
	for _, want := range []codec.Symbol{"ANONYMOUS-RELAY", "DELAYED_DELIVERY", "SHARED-SUBS", "sole-connection-for-container"} {
		if !hasSym(o.OfferedCapabilities, want) {
			t.Fatalf("the open offers %v, without %s", o.OfferedCapabilities, want)
		}
	}
	if openFailed(o) {
		t.Fatalf("open refused: %v", o.Properties)
	}
	r.begin(0)
	return r
}

// openFailed: the open's properties say a close follows (Qpid JMS's
// AmqpConnectionProperties checks the key alone).
func openFailed(o *codec.Open) bool {
	for _, e := range o.Properties {
		if e.Key == codec.Symbol("amqp:connection-establishment-failed") {
			return e.Value == true
		}
	}
	return false
}

func hasSym(l []codec.Symbol, s codec.Symbol) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

var jmsOutcomes = []codec.Symbol{codec.OutcomeAccepted, codec.OutcomeRejected, codec.OutcomeReleased, codec.OutcomeModified}

// jmsDurableSource is AmqpConsumerBuilder.configureSource for a durable
// subscriber on a topic.
func jmsDurableSource(topic, selector string, caps ...codec.Symbol) *codec.Source {
	src := &codec.Source{Address: topic, Durable: 2, ExpiryPolicy: "never", DistributionMode: "copy",
		Capabilities: append([]codec.Symbol{"topic"}, caps...), Outcomes: jmsOutcomes,
		DefaultOutcome: &codec.Modified{DeliveryFailed: true}}
	if selector != "" {
		src.Filter = codec.Map{{Key: codec.Symbol("jms-selector"),
			Value: codec.Described{Descriptor: codec.Symbol("apache.org:selector-filter:string"), Value: selector}}}
	}
	return src
}

// attach sends a receiver attach and returns the broker's answer; a
// refused one (no source) also returns the closing detach that follows.
func (r *raw) attachReceiver(handle uint32, name string, src *codec.Source, desired ...codec.Symbol) (*codec.Attach, *codec.Detach) {
	r.t.Helper()
	r.send(0, &codec.Attach{Name: name, Handle: handle, Role: codec.RoleReceiver, SndSettleMode: 0, RcvSettleMode: 0,
		Source: src, Target: &codec.Target{}, DesiredCapabilities: desired}, nil)
	a := expect[*codec.Attach](r)
	if a.Source != nil {
		return a, nil
	}
	d := expect[*codec.Detach](r)
	r.send(0, &codec.Detach{Handle: handle, Closed: true}, nil)
	return a, d
}

// detach detaches a link and returns the broker's detach.
func (r *raw) detach(handle uint32, closed bool) *codec.Detach {
	r.t.Helper()
	r.send(0, &codec.Detach{Handle: handle, Closed: closed}, nil)
	return expect[*codec.Detach](r)
}

// A second connection with a container id in use, asking for
// sole-connection-for-container as Qpid JMS always does, gets an open
// that says it failed and a close with invalid-field naming container-id
// (Qpid JMS: InvalidClientIDException). Once the first is gone, the id is
// free again.
func TestQpidJMSDuplicateClientID(t *testing.T) {
	s := startBroker(t, nil)
	first := jmsConn(t, s, "orders-app")

	dup := dialRaw(t, s.Addr("amqp"))
	o := dup.open(jmsOpen("orders-app"))
	if !openFailed(o) {
		t.Fatalf("the refused open's properties are %v, want amqp:connection-establishment-failed true", o.Properties)
	}
	cl := expect[*codec.Close](dup)
	if condition(cl.Error) != codec.CondInvalidField {
		t.Fatalf("close %v, want amqp:invalid-field", cl.Error)
	}
	info := false
	for _, e := range cl.Error.Info {
		info = info || (e.Key == codec.Symbol("invalid-field") && e.Value == codec.Symbol("container-id"))
	}
	if !info {
		t.Fatalf("close info %v, want invalid-field: container-id", cl.Error.Info)
	}
	dup.expectEOF()

	// A client that does not ask for a sole connection may not join a
	// container that did either.
	plain := dialRaw(t, s.Addr("amqp"))
	plain.open(&codec.Open{ContainerID: "orders-app"})
	if cl := expect[*codec.Close](plain); condition(cl.Error) != codec.CondInvalidField {
		t.Fatalf("a second connection joining a sole-connection container: close %v, want amqp:invalid-field", cl.Error)
	}

	first.send(0, &codec.Close{}, nil)
	expect[*codec.Close](first)
	first.expectEOF()
	waitUntil(t, "the container id free again", func() bool {
		again := dialRaw(t, s.Addr("amqp"))
		defer again.nc.Close()
		return !openFailed(again.open(jmsOpen("orders-app")))
	})
	// Without the capability, connections may share a container id.
	dial(t, s, &amqp.ConnOptions{ContainerID: "shared-id"})
	dial(t, s, &amqp.ConnOptions{ContainerID: "shared-id"})
}

// JMS Session.unsubscribe: Qpid JMS attaches a receiver named by the
// subscription with no source at all, expects the subscription's source
// back, then detaches with closed=true, which must delete it. Unknown
// names are amqp:not-found (InvalidDestinationException); a subscription
// still in use cannot be removed.
func TestQpidJMSUnsubscribe(t *testing.T) {
	s := startBroker(t, nil)
	r := jmsConn(t, s, "client-1")
	a, d := r.attachReceiver(0, "audit", jmsDurableSource("ledger", "amount > 10"))
	if d != nil {
		t.Fatalf("durable subscriber refused: %v", d.Error)
	}
	if a.Source.Address != "ledger" || len(a.Source.Filter) != 1 {
		t.Fatalf("durable subscriber's source %+v: want the address and the selector echoed", a.Source)
	}
	qname := "client-1.audit"
	if st := queueStats(t, s, qname); st.Consumers != 1 {
		t.Fatalf("subscription has %d consumers", st.Consumers)
	}

	// Unsubscribing while the subscriber is active (here from another
	// connection with the same client id is impossible, so the same
	// connection's second session: Qpid JMS would refuse itself, other
	// clients rely on the broker).
	r.send(1, &codec.Begin{IncomingWindow: 100, OutgoingWindow: 100}, nil)
	expect[*codec.Begin](r)
	r.send(1, &codec.Attach{Name: "audit", Handle: 0, Role: codec.RoleReceiver, Target: &codec.Target{}}, nil)
	busy := expect[*codec.Attach](r)
	if busy.Source != nil {
		t.Fatal("a lookup of an active exclusive subscription attached")
	}
	if bd := expect[*codec.Detach](r); condition(bd.Error) == "" {
		t.Fatal("the lookup of an active subscription was detached without an error")
	}
	r.send(1, &codec.Detach{Handle: 0, Closed: true}, nil)

	// The durable subscriber closes: Qpid JMS detaches without closing.
	if dd := r.detach(0, false); dd.Error != nil || dd.Closed {
		t.Fatalf("detach answered %+v", dd)
	}
	if st := queueStats(t, s, qname); st.Consumers != 0 {
		t.Fatalf("subscription kept %d consumers", st.Consumers)
	}

	// The lookup.
	a, d = r.attachReceiver(1, "audit", nil)
	if d != nil {
		t.Fatalf("lookup refused: %v", d.Error)
	}
	if a.Source.Address != "ledger" || a.Source.Durable != 2 || !hasSym(a.Source.Capabilities, "topic") || len(a.Source.Filter) != 1 {
		t.Fatalf("lookup answered source %+v", a.Source)
	}
	if dd := r.detach(1, true); dd.Error != nil {
		t.Fatalf("unsubscribe detach answered %v", dd.Error)
	}
	if _, ok := s.Core.Queue(qname); ok {
		t.Fatal("the subscription survived the unsubscribe")
	}

	// Again: it is gone.
	a, d = r.attachReceiver(2, "audit", nil)
	if a.Source != nil || d == nil || condition(d.Error) != codec.CondNotFound {
		t.Fatalf("lookup of a removed subscription: attach source %v, detach %+v; want no source and amqp:not-found", a.Source, d)
	}
}

// Shared durable subscriptions of connections without a client id:
// Qpid JMS names the links "NAME|global", "NAME|global2" and asks for the
// shared and global capabilities; it unsubscribes with a lookup whose
// desired capabilities are shared and global.
func TestQpidJMSGlobalSharedDurableUnsubscribe(t *testing.T) {
	s := startBroker(t, nil)
	r1 := jmsConn(t, s, "ID:generated-1")
	r2 := jmsConn(t, s, "ID:generated-2")
	if _, d := r1.attachReceiver(0, "pool|global", jmsDurableSource("jobs", "", "shared", "global")); d != nil {
		t.Fatalf("first shared consumer refused: %v", d.Error)
	}
	if _, d := r2.attachReceiver(0, "pool|global2", jmsDurableSource("jobs", "", "shared", "global")); d != nil {
		t.Fatalf("second shared consumer refused: %v", d.Error)
	}
	if st := queueStats(t, s, "pool"); st.Consumers != 2 {
		t.Fatalf("the shared subscription has %d consumers, want 2", st.Consumers)
	}
	// One consumer closing its link for good leaves the subscription to
	// the other, without an error.
	if dd := r1.detach(0, true); dd.Error != nil {
		t.Fatalf("closing one shared consumer: %v", dd.Error)
	}
	// Unsubscribing while the other is attached fails.
	if _, d := r1.attachReceiver(1, "pool|global", nil, "shared", "global"); d != nil {
		t.Fatalf("lookup refused: %v", d.Error)
	}
	if dd := r1.detach(1, true); condition(dd.Error) == "" {
		t.Fatal("unsubscribing an active shared subscription succeeded")
	}
	if dd := r2.detach(0, false); dd.Error != nil {
		t.Fatalf("durable detach: %v", dd.Error)
	}
	a, d := r1.attachReceiver(2, "pool|global", nil, "shared", "global")
	if d != nil {
		t.Fatalf("lookup refused: %v", d.Error)
	}
	if !hasSym(a.Source.Capabilities, "shared") || !hasSym(a.Source.Capabilities, "global") {
		t.Fatalf("lookup source capabilities %v, want shared and global", a.Source.Capabilities)
	}
	if dd := r1.detach(2, true); dd.Error != nil {
		t.Fatalf("unsubscribe: %v", dd.Error)
	}
	if _, ok := s.Core.Queue("pool"); ok {
		t.Fatal("the global shared subscription survived the unsubscribe")
	}
}

// A JMS TemporaryTopic: Qpid JMS attaches a sender to a dynamic target
// with the temporary-topic capability and keeps the link; consumers
// attach to the returned address with that capability, and every one
// gets each message (a topic, not a queue). Closing the creator link
// (TemporaryTopic.delete) ends the consumers' subscriptions.
func TestQpidJMSTemporaryTopic(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	creator, err := ss.NewSender(ctxFor(t), "", &amqp.SenderOptions{Name: "qpid-jms:temp-topic-creator:ID:1:1:1",
		DynamicAddress: true, TargetCapabilities: []string{"temporary-topic"}, TargetExpiryPolicy: amqp.ExpiryPolicyLinkDetach})
	if err != nil {
		t.Fatalf("temporary topic: %v", err)
	}
	addr := creator.Address()
	if addr == "" {
		t.Fatal("no address for the temporary topic")
	}
	opts := &amqp.ReceiverOptions{SourceCapabilities: []string{"temporary-topic"}, Credit: 10}
	r1 := newReceiver(t, ss, addr, opts)
	r2 := newReceiver(t, ss, addr, opts)
	snd := newSender(t, ss, addr, &amqp.SenderOptions{TargetCapabilities: []string{"temporary-topic"}})
	send(t, snd, amqp.NewMessage([]byte("tick")))
	for i, r := range []*amqp.Receiver{r1, r2} {
		if m := receive(t, r); body(m) != "tick" {
			t.Fatalf("consumer %d got %q", i, body(m))
		}
	}
	if err := creator.Close(ctxFor(t)); err != nil {
		t.Fatalf("closing the creator: %v", err)
	}
	if _, err := r1.Receive(ctxFor(t), nil); err == nil {
		t.Fatal("a consumer of a deleted temporary topic still receives")
	} else if e := amqpError(t, err); e.Condition != amqp.ErrCondResourceDeleted {
		t.Fatalf("consumer of a deleted temporary topic detached with %v", e)
	}
}

// A temporary queue as Qpid JMS makes it (dynamic target, delete-on-close
// lifetime, temporary-queue capability); its consumer uses the capability
// too.
func TestQpidJMSTemporaryQueue(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	creator, err := ss.NewSender(ctxFor(t), "", &amqp.SenderOptions{Name: "qpid-jms:temp-queue-creator:ID:1:1:1",
		DynamicAddress: true, TargetCapabilities: []string{"temporary-queue"}, TargetExpiryPolicy: amqp.ExpiryPolicyLinkDetach})
	if err != nil {
		t.Fatalf("temporary queue: %v", err)
	}
	addr := creator.Address()
	r := newReceiver(t, ss, addr, &amqp.ReceiverOptions{SourceCapabilities: []string{"temporary-queue"}, Credit: 10})
	send(t, newSender(t, ss, addr, &amqp.SenderOptions{TargetCapabilities: []string{"temporary-queue"}}), amqp.NewMessage([]byte("reply")))
	if m := receive(t, r); body(m) != "reply" {
		t.Fatalf("got %q", body(m))
	}
	// JMS deletes a temporary queue only once its consumers are closed.
	if err := r.Close(ctxFor(t)); err != nil {
		t.Fatalf("closing the consumer: %v", err)
	}
	if err := creator.Close(ctxFor(t)); err != nil {
		t.Fatalf("closing the creator: %v", err)
	}
	waitUntil(t, "the temporary queue deleted", func() bool { _, ok := s.Core.Queue(addr); return !ok })
}

// A JMS anonymous producer sends to a queue whose name is in use only as
// a topic: x-opt-jms-dest 0 says queue, and the message goes to a queue.
func TestQpidJMSAnonymousProducerQueueAnnotation(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	topicSub := newReceiver(t, ss, "topic://prices", &amqp.ReceiverOptions{Credit: 10})
	_ = topicSub
	anon, err := ss.NewSender(ctxFor(t), "", nil)
	if err != nil {
		t.Fatalf("anonymous sender: %v", err)
	}
	m := amqp.NewMessage([]byte("to the queue"))
	m.Properties = &amqp.MessageProperties{To: ptr("prices")}
	m.Annotations = amqp.Annotations{"x-opt-jms-dest": int8(0)}
	send(t, anon, m)
	q := newReceiver(t, ss, "prices", &amqp.ReceiverOptions{SourceCapabilities: []string{"queue"}, Credit: 10})
	if got := receive(t, q); body(got) != "to the queue" {
		t.Fatalf("queue got %q", body(got))
	}
}

// jmsFlow is the flow Qpid JMS sends for receiveNoWait with no prefetch:
// one credit and drain in one frame.
func jmsFlow(handle, deliveryCount, credit uint32, drain bool) *codec.Flow {
	return &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 2047, OutgoingWindow: 2147483647,
		Handle: handle, HasHandle: true, DeliveryCount: deliveryCount, HasDeliveryCount: true, LinkCredit: credit, HasLinkCredit: true, Drain: drain}
}

// A QueueBrowser on a queue no one has used yet: the browser attaches,
// and Qpid JMS's drain (hasMoreElements) is answered at once with no
// credit left: an empty enumeration, not InvalidDestinationException.
func TestQpidJMSBrowseUnknownQueue(t *testing.T) {
	s := startBroker(t, nil)
	r := jmsConn(t, s, "browser-app")
	r.send(0, &codec.Attach{Name: "qpid-jms:receiver:ID:1:1:1:1:nothing-yet", Handle: 0, Role: codec.RoleReceiver, SndSettleMode: 1,
		Source: &codec.Source{Address: "nothing-yet", ExpiryPolicy: "link-detach", DistributionMode: codec.DistributionCopy,
			Capabilities: []codec.Symbol{"queue"}, Outcomes: jmsOutcomes, DefaultOutcome: &codec.Modified{DeliveryFailed: true}},
		Target: &codec.Target{}}, nil)
	if a := expect[*codec.Attach](r); a.Source == nil {
		d := expect[*codec.Detach](r)
		t.Fatalf("browser on an unused queue refused: %v", d.Error)
	}
	r.send(0, jmsFlow(0, 0, 1000, true), nil)
	f := expect[*codec.Flow](r)
	if f.LinkCredit != 0 || f.DeliveryCount != 1000 {
		t.Fatalf("drain answered with %+v, want credit 0 at delivery-count 1000", f)
	}
}

// receiveNoWait on an empty queue, as Qpid JMS does it: credit 1 with
// drain; the broker answers with a flow that leaves no credit. Then a
// message arrives and receive(timeout) with credit 1 gets it.
func TestQpidJMSReceiveNoWait(t *testing.T) {
	s := startBroker(t, nil)
	r := jmsConn(t, s, "pull-app")
	if _, d := r.attachReceiver(0, "qpid-jms:receiver:ID:1:1:1:1:work", &codec.Source{Address: "work", ExpiryPolicy: "link-detach",
		Capabilities: []codec.Symbol{"queue"}, Outcomes: jmsOutcomes, DefaultOutcome: &codec.Modified{DeliveryFailed: true}}); d != nil {
		t.Fatalf("consumer refused: %v", d.Error)
	}
	r.send(0, jmsFlow(0, 0, 1, true), nil)
	if f := expect[*codec.Flow](r); f.LinkCredit != 0 || f.DeliveryCount != 1 {
		t.Fatalf("drain on an empty queue answered with %+v, want credit 0 at delivery-count 1", f)
	}
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "work", nil), amqp.NewMessage([]byte("job")))
	r.send(0, jmsFlow(0, 1, 1, false), nil)
	tr := expect[*codec.Transfer](r)
	if tr.Settled {
		t.Fatal("an at-least-once consumer got a settled transfer")
	}
	// JMS acknowledges: accepted, settled.
	r.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: tr.DeliveryID, Settled: true, State: &codec.Accepted{}}, nil)
	waitUntil(t, "the message acknowledged", func() bool { st := queueStats(t, s, "work"); return st.Messages == 0 && st.InFlight == 0 })
}

// A durable subscriber that comes back with another selector replaces
// its subscription, as JMS requires: what the old one held is gone.
func TestQpidJMSDurableSelectorChange(t *testing.T) {
	s := startBroker(t, nil)
	r := jmsConn(t, s, "client-2")
	if _, d := r.attachReceiver(0, "prices", jmsDurableSource("quotes", "sym = 'A'")); d != nil {
		t.Fatalf("durable subscriber refused: %v", d.Error)
	}
	r.detach(0, false)
	_, ss := session(t, s, nil)
	m := amqp.NewMessage([]byte("old"))
	m.ApplicationProperties = map[string]any{"sym": "A"}
	send(t, newSender(t, ss, "topic://quotes", nil), m)
	if st := queueStats(t, s, "client-2.prices"); st.Messages != 1 {
		t.Fatalf("the subscription holds %d messages, want 1", st.Messages)
	}
	a, d := r.attachReceiver(1, "prices", jmsDurableSource("quotes", "sym = 'B'"))
	if d != nil {
		t.Fatalf("durable subscriber with a new selector refused: %v", d.Error)
	}
	if len(a.Source.Filter) != 1 {
		t.Fatalf("the new selector was not echoed: %+v", a.Source.Filter)
	}
	if st := queueStats(t, s, "client-2.prices"); st.Messages != 0 {
		t.Fatalf("the replaced subscription still holds %d messages", st.Messages)
	}
}

// transfer reads until a transfer arrives and returns it with its
// message, decoded by go-amqp (one frame: the messages here are small).
func (r *raw) transfer() (*codec.Transfer, *amqp.Message) {
	r.t.Helper()
	for {
		_, body, err := codec.ReadFrame(r.nc, 0, &r.buf)
		if err != nil {
			r.t.Fatalf("reading frame: %v", err)
		}
		if len(body) == 0 {
			continue
		}
		p, payload, err := codec.DecodePerformative(body)
		if err != nil {
			r.t.Fatalf("decoding frame: %v", err)
		}
		tr, ok := p.(*codec.Transfer)
		if !ok {
			continue
		}
		var m amqp.Message
		if err := m.UnmarshalBinary(payload); err != nil {
			r.t.Fatalf("decoding the message: %v", err)
		}
		return tr, &m
	}
}

// A transacted JMS session as Qpid JMS runs it: a coordinator link, a
// declare, a transactional send (transactional-state without outcome), a
// transactional acknowledgement (settled, transactional-state accepted),
// and a rollback: the acknowledged message comes back as a redelivery
// (header delivery-count 1: JMSRedelivered, JMSXDeliveryCount 2) and the
// sent one never appears.
func TestQpidJMSTransactedSessionRollback(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "orders", nil), amqp.NewMessage([]byte("order-1")))

	r := jmsConn(t, s, "tx-app")
	r.send(0, &codec.Attach{Name: "qpid-jms:coordinator:ID:1:1", Handle: 0, Role: codec.RoleSender, SndSettleMode: 0, RcvSettleMode: 0,
		Source: &codec.Source{Outcomes: jmsOutcomes}, Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.TxnLocal}},
		HasInitialDeliveryCount: true}, nil)
	if a := expect[*codec.Attach](r); a.Coordinator == nil {
		t.Fatalf("coordinator refused: %+v", a)
	}
	r.send(0, &codec.Attach{Name: "qpid-jms:sender:ID:1:1:1:1:orders", Handle: 1, Role: codec.RoleSender,
		Source: &codec.Source{Address: "ID:1:1:1:1", Outcomes: jmsOutcomes},
		Target: &codec.Target{Address: "orders", Capabilities: []codec.Symbol{"queue"}}, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	if _, d := r.attachReceiver(2, "qpid-jms:receiver:ID:1:1:1:2:orders", &codec.Source{Address: "orders", ExpiryPolicy: "link-detach",
		Capabilities: []codec.Symbol{"queue"}, Outcomes: jmsOutcomes, DefaultOutcome: &codec.Modified{DeliveryFailed: true}}); d != nil {
		t.Fatalf("consumer refused: %v", d.Error)
	}

	next := uint32(0) // our delivery ids
	control := func(msg []byte) codec.DeliveryState {
		id := next
		next++
		r.send(0, &codec.Transfer{Handle: 0, DeliveryID: id, HasDeliveryID: true, DeliveryTag: []byte{byte(id)}, HasMessageFormat: true}, msg)
		for {
			if d := expect[*codec.Disposition](r); d.First == id {
				return d.State
			}
		}
	}
	declared, ok := control(coordinatorMessage(0x31)).(*codec.Declared)
	if !ok {
		t.Fatal("declare not answered with declared")
	}
	txn := append([]byte(nil), declared.TxnID...)

	// JMS receive() in the transaction, then its acknowledgement.
	r.send(0, jmsFlow(2, 0, 1000, false), nil)
	tr, m := r.transfer()
	if body(m) != "order-1" || (m.Header != nil && m.Header.DeliveryCount != 0) {
		t.Fatalf("first delivery %q, header %+v", body(m), m.Header)
	}
	r.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: tr.DeliveryID, Settled: true,
		State: &codec.TransactionalState{TxnID: txn, Outcome: &codec.Accepted{}}}, nil)

	// JMS send() in the transaction.
	id := next
	next++
	r.send(0, &codec.Transfer{Handle: 1, DeliveryID: id, HasDeliveryID: true, DeliveryTag: []byte{byte(id)}, HasMessageFormat: true,
		State: &codec.TransactionalState{TxnID: txn}}, codec.AppendValue(codec.AppendDescriptor(nil, 0x77), "never"))
	for {
		if d := expect[*codec.Disposition](r); d.First == id {
			if ts, ok := d.State.(*codec.TransactionalState); !ok || string(ts.TxnID) != string(txn) {
				t.Fatalf("transactional send answered with %#v", d.State)
			}
			break
		}
	}

	// Session.rollback(): Qpid JMS drains the consumer first, then
	// discharges with fail.
	r.send(0, jmsFlow(2, 1, 999, true), nil)
	if f := expect[*codec.Flow](r); f.LinkCredit != 0 {
		t.Fatalf("drain answered with credit %d", f.LinkCredit)
	}
	if _, ok := control(coordinatorMessage(0x32, txn, true)).(*codec.Accepted); !ok {
		t.Fatal("rollback not accepted")
	}
	// The consumer starts again: the acknowledged message is back,
	// redelivered; the rolled-back send is not there.
	r.send(0, jmsFlow(2, 1000, 1000, false), nil)
	_, m = r.transfer()
	if body(m) != "order-1" || m.Header == nil || m.Header.DeliveryCount != 1 || m.Header.FirstAcquirer {
		t.Fatalf("after the rollback: %q, header %+v; want order-1 with delivery-count 1", body(m), m.Header)
	}
	if st := queueStats(t, s, "orders"); st.Messages != 1 {
		t.Fatalf("the queue holds %d messages, want 1 (the rolled-back send dropped)", st.Messages)
	}
}

// A TextMessage as Qpid JMS sends it with a delivery delay: message-id
// "ID:…" (a string), durable, `to`, the x-opt-jms-* annotations as bytes
// and x-opt-delivery-time as a long (not a timestamp). It is held until
// its time and reaches the consumer as sent.
func TestQpidJMSDeliveryDelayMessage(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "orders", &amqp.ReceiverOptions{SourceCapabilities: []string{"queue"}, Credit: 10})
	snd := newSender(t, ss, "orders", &amqp.SenderOptions{TargetCapabilities: []string{"queue"}})
	const delay = 300 * time.Millisecond
	at := time.Now().Add(delay)
	msgID := "ID:7c1c6a2e-0b1f-4c57-9c36-5b1b0d0e9b11:1:1:1-1"
	send(t, snd, &amqp.Message{
		Header:     &amqp.MessageHeader{Durable: true},
		Properties: &amqp.MessageProperties{MessageID: msgID, To: ptr("orders"), CreationTime: ptr(time.Now())},
		Annotations: amqp.Annotations{"x-opt-jms-msg-type": int8(5), "x-opt-jms-dest": int8(0),
			"x-opt-delivery-time": at.UnixMilli()},
		Value: "hello",
	})
	m := receive(t, r)
	if now := time.Now(); now.Before(at.Add(-20 * time.Millisecond)) {
		t.Fatalf("delivered %v before its delivery time", at.Sub(now))
	}
	if m.Value != "hello" || m.Properties == nil || m.Properties.MessageID != msgID {
		t.Fatalf("got %v with properties %+v", m.Value, m.Properties)
	}
	if v, ok := m.Annotations["x-opt-jms-msg-type"].(int8); !ok || v != 5 {
		t.Fatalf("x-opt-jms-msg-type %#v, want byte 5 (TextMessage)", m.Annotations["x-opt-jms-msg-type"])
	}
	if m.Header == nil || !m.Header.Durable {
		t.Fatalf("header %+v, want durable", m.Header)
	}
}

// JMS 2 shared non-durable consumers as Qpid JMS names them: with a
// client id "NAME|volatile1", "NAME|volatile2" (one subscription of that
// client id); without one "NAME|global-volatile1"… across connections.
// The subscription goes with its last consumer.
func TestQpidJMSSharedVolatileSubscription(t *testing.T) {
	s := startBroker(t, nil)
	opts := func(link string, caps ...string) *amqp.ReceiverOptions {
		return &amqp.ReceiverOptions{Name: link, SourceCapabilities: append([]string{"topic", "shared"}, caps...),
			SourceDurability: amqp.DurabilityNone, SourceExpiryPolicy: amqp.ExpiryPolicyLinkDetach, Credit: 10}
	}
	_, ss := session(t, s, &amqp.ConnOptions{ContainerID: "app-1"})
	r1 := newReceiver(t, ss, "feed", opts("ticks|volatile1"))
	r2 := newReceiver(t, ss, "feed", opts("ticks|volatile2"))
	if st := queueStats(t, s, "app-1.ticks"); st.Consumers != 2 {
		t.Fatalf("the shared subscription has %d consumers, want 2", st.Consumers)
	}
	_, g1 := session(t, s, &amqp.ConnOptions{ContainerID: "ID:gen-1"})
	_, g2 := session(t, s, &amqp.ConnOptions{ContainerID: "ID:gen-2"})
	newReceiver(t, g1, "feed", opts("gticks|global-volatile1", "global"))
	newReceiver(t, g2, "feed", opts("gticks|global-volatile2", "global"))
	if st := queueStats(t, s, "gticks"); st.Consumers != 2 {
		t.Fatalf("the global shared subscription has %d consumers, want 2", st.Consumers)
	}
	for _, r := range []*amqp.Receiver{r1, r2} {
		if err := r.Close(ctxFor(t)); err != nil {
			t.Fatalf("closing a shared consumer: %v", err)
		}
	}
	waitUntil(t, "the subscription gone with its last consumer", func() bool { _, ok := s.Core.Queue("app-1.ticks"); return !ok })
}
