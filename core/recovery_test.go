package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

// restart closes b and starts a new broker on the same memory store.
func restart(t *testing.T, b *Broker, store *memory.Store) (*Broker, RecoveryStats) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	nb, err := New(Config{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := nb.Start(context.Background())
	if err != nil {
		t.Fatalf("Start after restart: %v", err)
	}
	t.Cleanup(func() { _ = nb.Close() })
	return nb, st
}

func TestRecovery(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store})
	s := b.NewSession(SessionOptions{ClientID: "app"})

	// A durable queue with durable and non-durable messages; one acked, one
	// failed once.
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 2})
	for i := range 5 {
		m := msg("orders", fmt.Sprint(i), "n", i)
		m.RoutingType, m.Durable = Anycast, true
		send(t, s, m)
	}
	nd := msg("orders", "non-durable")
	nd.RoutingType = Anycast
	send(t, s, nd)
	sched := msg("orders", "scheduled")
	sched.RoutingType, sched.Durable = Anycast, true
	sched.ScheduledAt = time.Now().Add(time.Hour).UnixMilli()
	send(t, s, sched)
	ds := col.take(t, 2)
	if err := c.Ack(ds[1].Tag); err != nil {
		t.Fatal(err)
	}
	if err := c.Nack(ds[0].Tag); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A durable subscription with a selector, and a non-durable one.
	sub := SubscribeOptions{Address: "events", Name: "audit", Durable: true, Selector: "keep = TRUE"}
	dc, _ := subscribe(t, s, sub, ConsumerOptions{Credit: -1})
	subscribe(t, s, SubscribeOptions{Address: "events"}, ConsumerOptions{Credit: -1})
	for i, keep := range []bool{true, false, true} {
		m := msg("events", fmt.Sprintf("e%d", i), "keep", keep)
		m.Durable = true
		send(t, s, m)
	}
	dc.Close()
	if _, err := s.CreateTemporaryQueue("tmp"); err != nil {
		t.Fatal(err)
	}
	recorded := make(chan error, 1)
	b.PutRecord(adapterKind, "mqtt-client", []byte("state"), func(err error) { recorded <- err })
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	var lastID uint64
	_ = s.Browse("orders", "", func(m *Message) bool { lastID = max(lastID, m.ID); return true })
	s.Close()

	b, st := restart(t, b, store)
	if st.Queues != 2 || st.Messages != 7 || st.Refs != 7 {
		t.Errorf("recovery stats = %+v, want 2 queues, 7 messages, 7 refs", st)
	}
	if n := b.Stats().Queues; n != 2 {
		t.Errorf("%d queues after restart, want 2 (orders, app.audit)", n)
	}
	if got := b.Records(adapterKind)["mqtt-client"]; !bytes.Equal(got, []byte("state")) {
		t.Errorf("record = %q", got)
	}
	if qs := queueStats(t, b, "orders"); qs.Ready != 4 || qs.Scheduled != 1 {
		t.Errorf("orders after restart: %+v", qs)
	}

	s = newSession(t, b, SessionOptions{ClientID: "app"})
	_, col = consume(t, s, "orders", ConsumerOptions{})
	got := col.take(t, 4)
	wantBodies := []string{"0", "2", "3", "4"}
	wantCounts := []uint32{2, 1, 1, 1}
	for i, d := range got {
		if string(d.Message.Body) != wantBodies[i] || d.DeliveryCount != wantCounts[i] {
			t.Errorf("recovered delivery %d = %q count %d, want %q count %d", i, d.Message.Body, d.DeliveryCount, wantBodies[i], wantCounts[i])
		}
		if d.Message.Property("n").I != int64(i+boolInt(i > 0)) || !d.Message.Durable {
			t.Errorf("recovered message lost its content: %+v", d.Message)
		}
	}
	col.none(t)
	ackAll(t, got)
	// New messages get ids above the recovered ones.
	m := msg("orders", "new")
	m.RoutingType = Anycast
	send(t, s, m)
	if d := col.next(t, waitTimeout); d.Message.ID <= lastID {
		t.Errorf("new message id %d is not above recovered %d", d.Message.ID, lastID)
	} else {
		ackAll(t, []Delivery{d})
	}

	_, scol := subscribe(t, s, sub, ConsumerOptions{AutoAck: true})
	if got := bodies(scol.take(t, 2)); !slices.Equal(got, []string{"e0", "e2"}) {
		t.Errorf("durable subscription recovered %v", got)
	}
	scol.none(t)
	if info, ok := b.Address("events"); !ok || !info.Multicast {
		t.Errorf("address events after restart: %+v %v", info, ok)
	}
	s.Close()

	// Everything consumed but the scheduled message: a second restart finds
	// only it.
	_, st = restart(t, b, store)
	if st.Messages != 1 || st.Refs != 1 {
		t.Errorf("second recovery stats = %+v, want only the scheduled message", st)
	}
}

func TestRecoveryMulticastSharesStoredMessage(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store})
	s := b.NewSession(SessionOptions{ClientID: "app"})
	for _, name := range []string{"a", "b"} {
		c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: name, Durable: true}, ConsumerOptions{})
		c.Close()
	}
	m := msg("t", "shared")
	m.Durable = true
	send(t, s, m)
	s.Close()
	b, st := restart(t, b, store)
	if st.Messages != 1 || st.Refs != 2 {
		t.Fatalf("stats = %+v, want one message with two refs", st)
	}
	s = newSession(t, b, SessionOptions{ClientID: "app"})
	_, ca := subscribe(t, s, SubscribeOptions{Address: "t", Name: "a", Durable: true}, ConsumerOptions{})
	ackAll(t, ca.take(t, 1))
	s.Close()
	// One subscription consumed it; the message stays stored for the other.
	b, st = restart(t, b, store)
	if st.Messages != 1 || st.Refs != 1 {
		t.Fatalf("stats = %+v, want one message with one ref", st)
	}
	s = newSession(t, b, SessionOptions{ClientID: "app"})
	_, cb := subscribe(t, s, SubscribeOptions{Address: "t", Name: "b", Durable: true}, ConsumerOptions{})
	ackAll(t, cb.take(t, 1))
	s.Close()
	if _, st = restart(t, b, store); st.Messages != 0 || st.Refs != 0 {
		t.Fatalf("stats = %+v, want nothing stored", st)
	}
}

func TestRecoveryUnsubscribedIsGone(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store})
	s := b.NewSession(SessionOptions{ClientID: "app"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: "x", Durable: true}, ConsumerOptions{Credit: -1})
	m := msg("t", "m")
	m.Durable = true
	send(t, s, m)
	c.Close()
	if err := s.Unsubscribe("x"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, st := restart(t, b, store); st.Queues != 0 || st.Messages != 0 {
		t.Errorf("after unsubscribe, recovery found %+v", st)
	}
}

// adapterKind stands for a record kind an adapter registers.
const adapterKind = storage.BindingKind(200)

// TestModifiedAnnotationsSurviveRestart: a durable queue's annotated copy
// (AMQP modified with message-annotations) is stored as a message of its
// own, so the annotations and the delivery count come back after a restart,
// and the original is gone from the store. Catches: storeAnnotatedLocked
// not called (the restart finds the original without the annotation).
func TestModifiedAnnotationsSurviveRestart(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1, Window: true})
	m := msg("orders", "x")
	m.Durable = true
	send(t, s, m)
	d := col.next(t, waitTimeout)
	if err := c.Settle(d.Tag, Outcome{Kind: Modified, DeliveryFailed: true,
		Annotations: []prop.Property{{Name: "x-opt-tried-by", Value: prop.StringValue("worker-1")}}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	nb, st := restart(t, b, store)
	if st.Messages != 1 {
		t.Fatalf("recovered %d messages, want 1 (the annotated copy alone)", st.Messages)
	}
	ns := newSession(t, nb, SessionOptions{})
	_, ncol := consume(t, ns, "orders", ConsumerOptions{})
	got := ncol.next(t, waitTimeout)
	if v := got.Message.Annotation("x-opt-tried-by"); v.Text() != "worker-1" {
		t.Errorf("annotation after restart = %v, want worker-1", v)
	}
	if string(got.Message.Body) != "x" {
		t.Errorf("body %q", got.Message.Body)
	}
	// Delivered once before, failed, and once now.
	if got.DeliveryCount < 2 {
		t.Errorf("delivery count after restart = %d, want at least 2", got.DeliveryCount)
	}
}

// TestRecoveryFindsMessagesInAnyOrder drives the recoverer's lookup the
// three ways a store may order things: references in the order messages
// came (the cursor), messages in increasing id order with references out of
// it (binary search), and both in no order (the index made on a miss); with
// a message on two queues and a reference to a missing message.
func TestRecoveryFindsMessagesInAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []uint64
		refs []uint64
	}{
		{"cursor", []uint64{4, 2, 9, 7}, []uint64{4, 4, 2, 9, 9, 7, 8}},
		{"ascending", []uint64{2, 4, 7, 9}, []uint64{9, 2, 7, 7, 4, 8, 2}},
		{"index", []uint64{9, 2, 7, 4}, []uint64{4, 7, 2, 8, 9, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recoverer{ascending: true}
			r.Expect(len(tc.msgs))
			for _, id := range tc.msgs {
				m := &Message{ID: id, Address: "a", Priority: DefaultPriority, Body: []byte{byte(id)}}
				if err := r.Message(id, EncodeMessage(nil, m)); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range tc.refs {
				i, ok := r.find(id)
				if want := slices.Contains(tc.msgs, id); ok != want {
					t.Fatalf("find(%d) found=%v, want %v", id, ok, want)
				}
				if ok && (r.ids[i] != id || r.msgs[i].m.ID != id || r.msgs[i].m.Body[0] != byte(id)) {
					t.Fatalf("find(%d) = position %d holding message %d", id, i, r.msgs[i].m.ID)
				}
			}
			if (r.index != nil) != (tc.name == "index") && tc.name != "cursor" {
				t.Fatalf("index made: %v", r.index != nil)
			}
			if r.msgs[1].m.Address != r.msgs[0].m.Address {
				t.Fatalf("addresses %q, %q", r.msgs[0].m.Address, r.msgs[1].m.Address)
			}
		})
	}
}

// TestRecoveredSize keeps a recovered message and its first reference, one
// allocation, within 16 bytes of what the two cost apart once the
// allocator has rounded each to its size class (416 against 320 + 112 with
// a 304-byte Message): a field more in either may cost a size class.
func TestRecoveredSize(t *testing.T) {
	together := allocBytes(func() any { return new(recovered) })
	apart := allocBytes(func() any { return new(Message) }) + allocBytes(func() any { return new(ref) })
	if together > apart+16 {
		t.Fatalf("a recovered message and its reference take %d bytes together, %d apart (Message %d, ref %d bytes before rounding)",
			together, apart, unsafe.Sizeof(Message{}), unsafe.Sizeof(ref{}))
	}
}

// allocBytes is what the allocator hands out for one object made by mk.
func allocBytes(mk func() any) uint64 {
	const n = 1000
	keep := make([]any, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = mk()
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return (after.TotalAlloc - before.TotalAlloc) / n
}

// TestRecoverySharesNames checks that recovered messages share their
// address and property names, and keep their own values.
func TestRecoverySharesNames(t *testing.T) {
	r := &recoverer{ascending: true}
	for id := uint64(1); id <= 3; id++ {
		m := &Message{ID: id, Address: "orders", Priority: DefaultPriority, Body: []byte("b")}
		m.Properties = []prop.Property{{Name: "region", Value: prop.StringValue(fmt.Sprint("eu-", id))}, {Name: "n", Value: prop.Int64Value(int64(id))}}
		if err := r.Message(id, EncodeMessage(nil, m)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := &r.msgs[0].m, &r.msgs[2].m
	if unsafe.StringData(a.Address) != unsafe.StringData(b.Address) {
		t.Error("addresses not shared")
	}
	for i := range a.Properties {
		if unsafe.StringData(a.Properties[i].Name) != unsafe.StringData(b.Properties[i].Name) {
			t.Errorf("property name %q not shared", a.Properties[i].Name)
		}
	}
	if got := b.Property("region"); got.Text() != "eu-3" || b.Property("n").I != 3 || a.Property("region").Text() != "eu-1" {
		t.Errorf("properties %v, %v", a.Properties, b.Properties)
	}
}
