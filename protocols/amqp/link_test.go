package amqp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

func body(m *amqp.Message) string { return string(m.GetData()) }

// A receiver asking for the topic capability subscribes: each of two
// subscribers gets its own copy (DESIGN.md: `x` is a queue unless the link
// asks for the topic capability).
func TestTopicCapability(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	topic := &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}, Credit: 10}
	r1 := newReceiver(t, ss, "news", topic)
	r2 := newReceiver(t, ss, "news", topic)
	snd := newSender(t, ss, "news", &amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
	send(t, snd, amqp.NewMessage([]byte("extra")))
	for i, r := range []*amqp.Receiver{r1, r2} {
		if m := receive(t, r); body(m) != "extra" {
			t.Fatalf("subscriber %d got %q", i+1, body(m))
		}
	}
}

// The topic:// and queue:// prefixes pick the routing type.
func TestAddressPrefixes(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	sub := newReceiver(t, ss, "topic://prices", &amqp.ReceiverOptions{Credit: 10})
	snd := newSender(t, ss, "topic://prices", nil)
	send(t, snd, amqp.NewMessage([]byte("42")))
	if m := receive(t, sub); body(m) != "42" {
		t.Fatalf("got %q", body(m))
	}
	q := newSender(t, ss, "queue://jobs", nil)
	send(t, q, amqp.NewMessage([]byte("job")))
	if st := queueStats(t, s, "jobs"); st.Messages != 1 {
		t.Fatalf("queue://jobs holds %d messages, want 1", st.Messages)
	}
}

// A durable receiver on a topic is a durable subscription: messages sent
// while it is away wait for it, and the same container id and link name
// resume it on a new connection.
func TestDurableSubscriptionResumed(t *testing.T) {
	s := startBroker(t, nil)
	opts := &amqp.ReceiverOptions{Name: "sub1", SourceCapabilities: []string{"topic"}, SourceDurability: amqp.DurabilityUnsettledState,
		SourceExpiryPolicy: amqp.ExpiryPolicyNever, Credit: 10}
	c1, ss1 := session(t, s, &amqp.ConnOptions{ContainerID: "client-a"})
	newReceiver(t, ss1, "events", opts)
	// Leaving without detaching keeps the subscription (a closing detach
	// would end it).
	if err := c1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	_, ps := session(t, s, nil)
	send(t, newSender(t, ps, "events", &amqp.SenderOptions{TargetCapabilities: []string{"topic"}}), amqp.NewMessage([]byte("while away")))
	// go-amqp's Close does not wait for the broker's close: the old
	// consumer may still be attached for a moment.
	waitUntil(t, "the message in the subscription, its consumer gone", func() bool {
		q, ok := s.Core.Queue("client-a.sub1")
		return ok && q.Stats().Messages == 1 && q.Stats().Consumers == 0
	})
	_, ss2 := session(t, s, &amqp.ConnOptions{ContainerID: "client-a"})
	r := newReceiver(t, ss2, "events", opts)
	if m := receive(t, r); body(m) != "while away" {
		t.Fatalf("got %q", body(m))
	}
	// A closing detach ends the subscription.
	if err := r.Close(ctxFor(t)); err != nil {
		t.Fatalf("close receiver: %v", err)
	}
	waitUntil(t, "the subscription to go", func() bool {
		_, ok := s.Core.Queue("client-a.sub1")
		return !ok
	})
}

// Two receivers with the shared capability and the same link name share
// one subscription: each message reaches one of them.
func TestSharedSubscription(t *testing.T) {
	s := startBroker(t, nil)
	opts := &amqp.ReceiverOptions{Name: "workers", SourceCapabilities: []string{"topic", "shared"}, Credit: 10}
	_, ss1 := session(t, s, &amqp.ConnOptions{ContainerID: "app"})
	_, ss2 := session(t, s, &amqp.ConnOptions{ContainerID: "app"})
	r1 := newReceiver(t, ss1, "tasks", opts)
	r2 := newReceiver(t, ss2, "tasks", opts)
	_, ps := session(t, s, nil)
	snd := newSender(t, ps, "tasks", &amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
	for i := range 4 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "t%d", i)))
	}
	if st := queueStats(t, s, "app.workers"); st.Consumers != 2 {
		t.Fatalf("the shared subscription has %d consumers, want 2", st.Consumers)
	}
	got := 0
	waitUntil(t, "the 4 messages across both receivers", func() bool {
		for _, r := range []*amqp.Receiver{r1, r2} {
			for r.Prefetched() != nil {
				got++
			}
		}
		return got >= 4
	})
	if got != 4 {
		t.Fatalf("got %d messages across the shared subscription, want 4", got)
	}
	if st := queueStats(t, s, "app.workers"); st.Enqueued != 4 {
		t.Fatalf("the subscription queue took %d messages, want one copy each (4)", st.Enqueued)
	}
}

// Request/reply with a dynamic receiver: the broker names a temporary
// queue, the replier sends to it, and it goes when the link closes.
func TestDynamicReceiverRequestReply(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	reply, err := ss.NewReceiver(ctxFor(t), "", &amqp.ReceiverOptions{DynamicAddress: true, Credit: 10})
	if err != nil {
		t.Fatalf("dynamic receiver: %v", err)
	}
	addr := reply.Address()
	if addr == "" {
		t.Fatal("the dynamic node has no address")
	}
	if _, ok := s.Core.Queue(addr); !ok {
		t.Fatalf("no queue %q for the dynamic node", addr)
	}
	send(t, newSender(t, ss, addr, nil), amqp.NewMessage([]byte("pong")))
	if m := receive(t, reply); body(m) != "pong" {
		t.Fatalf("got %q", body(m))
	}
	if err := reply.Close(ctxFor(t)); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitUntil(t, "the dynamic queue to be deleted", func() bool {
		_, ok := s.Core.Queue(addr)
		return !ok
	})
}

// A sender with no target relays each message by its `to` address, and
// the broker offers ANONYMOUS-RELAY.
func TestAnonymousRelay(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd, err := ss.NewSender(ctxFor(t), "", nil)
	if err != nil {
		t.Fatalf("anonymous sender: %v", err)
	}
	for _, q := range []string{"relay-a", "relay-b"} {
		m := amqp.NewMessage([]byte("to " + q))
		m.Properties = &amqp.MessageProperties{To: ptr(q)}
		send(t, snd, m)
	}
	for _, q := range []string{"relay-a", "relay-b"} {
		r := newReceiver(t, ss, q, nil)
		if m := receive(t, r); body(m) != "to "+q {
			t.Fatalf("%s got %q", q, body(m))
		}
	}
}

// With credit 1 the broker sends one message and then waits for more
// credit; drain uses up the credit and the flow comes back.
func TestCreditOneAndDrain(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "credit", nil)
	for i := range 3 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "m%d", i)))
	}
	r := newReceiver(t, ss, "credit", &amqp.ReceiverOptions{Credit: -1})
	if err := r.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	m := receive(t, r)
	if body(m) != "m0" {
		t.Fatalf("got %q", body(m))
	}
	// The broker holds one in flight and never more with credit 1.
	waitUntil(t, "one message in flight", func() bool { return queueStats(t, s, "credit").InFlight == 1 })
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the acceptance", func() bool {
		st := queueStats(t, s, "credit")
		return st.InFlight == 0 && st.Ready == 2
	})
	// More credit than messages: both come, then a drain takes the rest
	// of the credit away (go-amqp's drain flow carries link-credit 0).
	if err := r.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m1", "m2"} {
		if m := receive(t, r); body(m) != want {
			t.Fatalf("got %q, want %q", body(m), want)
		}
	}
	if err := r.DrainCredit(ctxFor(t), nil); err != nil {
		t.Fatalf("drain: %v", err)
	}
	// Drained: a new message waits for credit.
	send(t, snd, amqp.NewMessage([]byte("late")))
	time.Sleep(50 * time.Millisecond) // nothing to await: asserting an absence
	if r.Prefetched() != nil {
		t.Fatal("a message arrived after the drain used up the credit")
	}
}

// Each outcome maps to the core: rejected dead-letters with the error,
// released returns without counting, modified(delivery-failed) counts.
func TestDispositionOutcomes(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "outcomes", nil)
	send(t, snd, amqp.NewMessage([]byte("one")))
	r := newReceiver(t, ss, "outcomes", &amqp.ReceiverOptions{Credit: 1})

	m := receive(t, r)
	if err := r.ReleaseMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
	m = receive(t, r)
	if m.Header == nil || m.Header.DeliveryCount != 0 {
		t.Fatalf("released message redelivered with header %+v, want delivery-count 0", m.Header)
	}
	if err := r.ModifyMessage(ctxFor(t), m, &amqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
		t.Fatal(err)
	}
	m = receive(t, r)
	if m.Header == nil || m.Header.DeliveryCount != 1 {
		t.Fatalf("modified(delivery-failed) message redelivered with header %+v, want delivery-count 1", m.Header)
	}
	if err := r.RejectMessage(ctxFor(t), m, &amqp.Error{Condition: "app:bad", Description: "cannot parse"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the message in the DLQ", func() bool {
		q, ok := s.Core.Queue("DLQ")
		return ok && q.Stats().Messages == 1
	})
	dlq := newReceiver(t, ss, "DLQ", nil)
	d := receive(t, dlq)
	if body(d) != "one" {
		t.Fatalf("DLQ got %q", body(d))
	}
	if reason := fmt.Sprint(d.ApplicationProperties["_AMQ_DLQ_REASON"]); !strings.Contains(reason, "cannot parse") {
		t.Fatalf("dead-lettered without the reason: %v", d.ApplicationProperties)
	}
	if cond := fmt.Sprint(d.ApplicationProperties["_AMQ_DLQ_CONDITION"]); cond != "app:bad" {
		t.Fatalf("dead-lettered without the error condition: %v", d.ApplicationProperties)
	}
	if st := queueStats(t, s, "outcomes"); st.Messages != 0 || st.DeadLettered != 1 {
		t.Fatalf("queue after reject: %+v", st)
	}
}

// A message larger than the frame size travels in many transfer frames,
// both ways, and arrives whole.
func TestLargeMessage(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, &amqp.ConnOptions{MaxFrameSize: 4096})
	big := []byte(strings.Repeat("0123456789abcdef", 64<<10)) // 1 MiB
	send(t, newSender(t, ss, "big", nil), amqp.NewMessage(big))
	m := receive(t, newReceiver(t, ss, "big", nil))
	if got := m.GetData(); string(got) != string(big) {
		t.Fatalf("large message came back with %d bytes, want %d", len(got), len(big))
	}
}

// A JMS selector filters what the receiver gets, and the broker echoes the
// filter it applied; a bad selector refuses the link with invalid-field.
func TestSelector(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "sel", nil)
	for _, color := range []string{"red", "blue", "red"} {
		m := amqp.NewMessage([]byte(color))
		m.ApplicationProperties = map[string]any{"color": color}
		send(t, snd, m)
	}
	r := newReceiver(t, ss, "sel", &amqp.ReceiverOptions{Credit: 10, Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = 'blue'")}})
	if r.LinkSourceFilterValue("apache.org:selector-filter:string") == nil && r.LinkSourceFilterValue("jms-selector") == nil {
		t.Fatal("the broker did not echo the selector filter")
	}
	if m := receive(t, r); body(m) != "blue" {
		t.Fatalf("got %q", body(m))
	}
	_, err := ss.NewReceiver(ctxFor(t), "sel", &amqp.ReceiverOptions{Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = ")}})
	if err == nil {
		t.Fatal("a bad selector was accepted")
	}
	if e := amqpError(t, err); e.Condition != amqp.ErrCondInvalidField {
		t.Fatalf("bad selector refused with %v, want invalid-field", e)
	}
}

// A receiver with distribution-mode copy browses: it sees the queue's
// messages, pre-settled, and takes none (JMS QueueBrowser). go-amqp has no
// distribution-mode option: raw frames.
func TestBrowse(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "shelf", nil)
	for i := range 3 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "b%d", i)))
	}
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "browser", Handle: 0, Role: codec.RoleReceiver,
		Source: &codec.Source{Address: "shelf", DistributionMode: codec.DistributionCopy}, Target: &codec.Target{}}, nil)
	if a := expect[*codec.Attach](r); a.Source == nil || a.Source.DistributionMode != codec.DistributionCopy {
		t.Fatalf("browse attach answered with %+v", a.Source)
	}
	r.send(0, &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, OutgoingWindow: 100,
		Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true, Drain: true}, nil)
	for range 3 {
		if tr := expect[*codec.Transfer](r); !tr.Settled {
			t.Fatal("a browsed message was not pre-settled")
		}
	}
	f := expect[*codec.Flow](r)
	if !f.Drain || f.LinkCredit != 0 || f.DeliveryCount != 10 {
		t.Fatalf("drain answered with %+v, want credit 0 at delivery-count 10", f)
	}
	if st := queueStats(t, s, "shelf"); st.Messages != 3 || st.InFlight != 0 {
		t.Fatalf("browsing took messages: %+v", st)
	}
}

// Drain with credit outstanding: what is ready is sent, then the flow
// answering the drain advances the delivery-count by the unused credit
// (part 2, 2.6.7).
func TestDrainWithCredit(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "drainq", nil)
	send(t, snd, amqp.NewMessage([]byte("d1")))
	send(t, snd, amqp.NewMessage([]byte("d2")))
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "drainer", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "drainq"}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, OutgoingWindow: 100,
		Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 5, HasLinkCredit: true, Drain: true}, nil)
	expect[*codec.Transfer](r)
	expect[*codec.Transfer](r)
	f := expect[*codec.Flow](r)
	if !f.Drain || f.LinkCredit != 0 || f.DeliveryCount != 5 {
		t.Fatalf("drain answered with %+v, want credit 0 at delivery-count 5", f)
	}
	// The drained credit is gone: a new message waits.
	send(t, snd, amqp.NewMessage([]byte("d3")))
	waitUntil(t, "d3 in the queue", func() bool { return queueStats(t, s, "drainq").Ready == 1 })
	if st := queueStats(t, s, "drainq"); st.InFlight != 2 {
		t.Fatalf("after the drain: %+v", st)
	}
}

// A message above the receiver's max-message-size is not sent to it: it
// stays in the queue for others, and the receiver gets the next one.
func TestReceiverMaxMessageSize(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "sized", nil)
	send(t, snd, amqp.NewMessage([]byte(strings.Repeat("B", 10000))))
	send(t, snd, amqp.NewMessage([]byte("small")))
	r := newReceiver(t, ss, "sized", &amqp.ReceiverOptions{MaxMessageSize: 1024, Credit: 5})
	m := receive(t, r)
	if body(m) != "small" {
		t.Fatalf("got %d bytes, want the small message", len(m.GetData()))
	}
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the big message back in the queue", func() bool {
		st := queueStats(t, s, "sized")
		return st.Messages == 1 && st.InFlight == 0
	})
	big := newReceiver(t, ss, "sized", nil)
	if m := receive(t, big); len(m.GetData()) != 10000 {
		t.Fatalf("the other receiver got %d bytes", len(m.GetData()))
	}
}

// A receiver with no address and a durable subscription's link name finds
// the subscription (how JMS clients look one up); an unknown name is
// not-found.
func TestDurableSubscriptionLookup(t *testing.T) {
	s := startBroker(t, nil)
	durable := &amqp.ReceiverOptions{Name: "audit", SourceCapabilities: []string{"topic"}, SourceDurability: amqp.DurabilityUnsettledState,
		SourceExpiryPolicy: amqp.ExpiryPolicyNever, Credit: 10}
	c1, ss1 := session(t, s, &amqp.ConnOptions{ContainerID: "jms-1"})
	newReceiver(t, ss1, "ledger", durable)
	_ = c1.Close()
	// go-amqp's Close does not wait for the broker's close: the old
	// consumer may still be attached for a moment.
	sub := core.SubscriptionQueueName("jms-1", "audit")
	waitUntil(t, "the closed connection's consumer gone", func() bool { return queueStats(t, s, sub).Consumers == 0 })
	_, ps := session(t, s, nil)
	send(t, newSender(t, ps, "topic://ledger", nil), amqp.NewMessage([]byte("entry")))
	_, ss2 := session(t, s, &amqp.ConnOptions{ContainerID: "jms-1"})
	r, err := ss2.NewReceiver(ctxFor(t), "", durable)
	if err != nil {
		t.Fatalf("lookup by link name: %v", err)
	}
	if m := receive(t, r); body(m) != "entry" {
		t.Fatalf("got %q", body(m))
	}
	missing := *durable
	missing.Name = "nobody"
	if _, err := ss2.NewReceiver(ctxFor(t), "", &missing); err == nil {
		t.Fatal("an unknown durable subscription was found")
	} else if e := amqpError(t, err); e.Condition != amqp.ErrCondNotFound {
		t.Fatalf("unknown subscription refused with %v, want not-found", e)
	}
}

// A shared subscription with the global capability (or Qpid JMS's
// "|global" link-name suffix) is shared across container ids.
func TestGlobalSharedSubscription(t *testing.T) {
	s := startBroker(t, nil)
	opts := &amqp.ReceiverOptions{Name: "pool|global", SourceCapabilities: []string{"topic", "shared", "global"}, Credit: 10}
	_, ss1 := session(t, s, &amqp.ConnOptions{ContainerID: "one"})
	_, ss2 := session(t, s, &amqp.ConnOptions{ContainerID: "two"})
	newReceiver(t, ss1, "jobs", opts)
	newReceiver(t, ss2, "jobs", opts)
	if st := queueStats(t, s, "pool"); st.Consumers != 2 {
		t.Fatalf("the global subscription has %d consumers, want 2", st.Consumers)
	}
}

// A message on an anonymous relay link without a `to` address is rejected
// with invalid-field; the link goes on.
func TestAnonymousRelayNeedsTo(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd, err := ss.NewSender(ctxFor(t), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Send(ctxFor(t), amqp.NewMessage([]byte("nowhere")), nil)
	if err == nil {
		t.Fatal("a message without to was accepted on an anonymous relay link")
	}
	if e := amqpError(t, err); e.Condition != amqp.ErrCondInvalidField {
		t.Fatalf("rejected with %v, want invalid-field", e)
	}
	m := amqp.NewMessage([]byte("somewhere"))
	m.Properties = &amqp.MessageProperties{To: ptr("queue://relay-after")}
	send(t, snd, m)
}

// A receiver asking for pre-settled deliveries (snd-settle-mode settled)
// gets them at most once: the queue lets go of each as it is sent.
func TestPreSettledDelivery(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "presettled", nil)
	for i := range 3 {
		send(t, snd, amqp.NewMessage(fmt.Appendf(nil, "p%d", i)))
	}
	r := newReceiver(t, ss, "presettled", &amqp.ReceiverOptions{Credit: 10, RequestedSenderSettleMode: amqp.SenderSettleModeSettled.Ptr()})
	for range 3 {
		receive(t, r)
	}
	waitUntil(t, "the queue to let go", func() bool {
		q, ok := s.Core.Queue("presettled")
		return !ok || (q.Stats().Messages == 0 && q.Stats().Acked == 3)
	})
}

// Deliveries a client never settled go back to the queue when its session
// ends, and are redelivered with their delivery count.
func TestUnsettledReturnOnSessionEnd(t *testing.T) {
	s := startBroker(t, nil)
	c := dial(t, s, nil)
	ss, err := c.NewSession(ctxFor(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, newSender(t, ss, "giveback", nil), amqp.NewMessage([]byte("again")))
	r := newReceiver(t, ss, "giveback", &amqp.ReceiverOptions{Credit: 1})
	receive(t, r)
	if err := ss.Close(ctxFor(t)); err != nil {
		t.Fatalf("end: %v", err)
	}
	waitUntil(t, "the message back in the queue", func() bool { return queueStats(t, s, "giveback").Ready == 1 })
	_, ss2 := session(t, s, nil)
	m := receive(t, newReceiver(t, ss2, "giveback", nil))
	if m.Header == nil || m.Header.DeliveryCount != 1 {
		t.Fatalf("redelivered with header %+v, want delivery-count 1", m.Header)
	}
}
