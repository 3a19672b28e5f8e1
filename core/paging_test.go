package core

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/journal"
	"github.com/junctionmq/junction/storage/memory"
)

// pagingBudget is the max-size-bytes of the paging tests' addresses: a few
// dozen of their messages.
const pagingBudget = 8 << 10

func pagingConfig(store *memory.Store, extra ...any) Config {
	kv := append([]any{"#", &AddressSettings{MaxSizeBytes: ptr(ByteSize(pagingBudget)), AddressFullPolicy: ptr("PAGE")}}, extra...)
	return Config{Store: store, AddressSettings: settings(kv...), pageLow: 64, pageBatch: 25}
}

// sendPaged sends n durable messages "<prefix><i>" of about 200 bytes to an
// anycast address, waiting for each to be stored.
func sendPaged(t *testing.T, s *Session, addr, prefix string, from, n int) {
	t.Helper()
	pad := strings.Repeat("p", 200)
	for i := from; i < from+n; i++ {
		m := msg(addr, fmt.Sprintf("%s%d", prefix, i), "n", i, "pad", pad)
		m.RoutingType, m.Durable = Anycast, true
		send(t, s, m)
	}
}

// drainInOrder consumes n messages from queue, acking each, and checks they
// are "<prefix><from>" to "<prefix><from+n-1>" in that order.
func drainInOrder(t *testing.T, s *Session, queue, prefix string, from, n int) {
	t.Helper()
	c, col := consume(t, s, queue, ConsumerOptions{Credit: 100, Window: true})
	defer c.Close()
	for i := from; i < from+n; i++ {
		d := col.next(t, waitTimeout)
		if got, want := string(d.Message.Body), fmt.Sprintf("%s%d", prefix, i); got != want {
			t.Fatalf("delivery %d is %q, want %q", i-from, got, want)
		}
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPagingOrderAndMemory(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	const n = 12000
	sendPaged(t, s, "orders", "m", 0, n)
	st := queueStats(t, b, "orders")
	if st.Messages != n || st.Paged == 0 || !st.Paging {
		t.Fatalf("after %d sends: %d messages, %d paged (paging %v); want all counted, most paged", n, st.Messages, st.Paged, st.Paging)
	}
	q, _ := b.Queue("orders")
	q.mu.Lock()
	inMemory := q.total
	q.mu.Unlock()
	if inMemory > pagingBudget/200 {
		t.Errorf("%d messages in memory with no consumer, want at most the budget's", inMemory)
	}
	if sp := store.Stats().Paged; sp != st.Paged {
		t.Errorf("the store holds %d paged, the queue counts %d", sp, st.Paged)
	}
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 100, Window: true})
	for i := range n {
		d := col.next(t, waitTimeout)
		if got, want := string(d.Message.Body), fmt.Sprint("m", i); got != want {
			t.Fatalf("delivery %d is %q, want %q", i, got, want)
		}
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the queue to empty", func() bool { return queueStats(t, b, "orders").Messages == 0 })
	if st := queueStats(t, b, "orders"); st.Paged != 0 || st.Paging || st.PagedBytes != 0 {
		t.Errorf("drained queue: %+v", st)
	}
	waitFor(t, "the store to empty", func() bool { ss := store.Stats(); return ss.Paged == 0 && ss.Messages == 0 && ss.Refs == 0 })
	c.Close()
	// With the tail drained, new messages are kept in memory again.
	sendPaged(t, s, "orders", "x", 0, 3)
	if st := queueStats(t, b, "orders"); st.Paged != 0 || st.Messages != 3 {
		t.Errorf("after the tail drained, 3 sends: %+v", st)
	}
}

func TestPagingConsumerWhileSending(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 3000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ps := b.NewSession(SessionOptions{})
		defer ps.Close()
		pad := strings.Repeat("p", 200)
		for i := 3000; i < 9000; i++ {
			m := msg("orders", fmt.Sprintf("m%d", i), "pad", pad)
			m.RoutingType, m.Durable = Anycast, true
			if err := sendErr(ps, m); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	drainInOrder(t, s, "orders", "m", 0, 9000)
	<-done
}

func TestPagingSelectorsExpiryScheduled(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "fill", 0, 200) // over budget: what follows is paged
	if !queueStats(t, b, "orders").Paging {
		t.Fatal("not paging after filling the budget")
	}
	pad := strings.Repeat("p", 200)
	expired := msg("orders", "expired", "pad", pad)
	expired.RoutingType, expired.Durable = Anycast, true
	expired.Expiration = time.Now().Add(50 * time.Millisecond).UnixMilli()
	send(t, s, expired)
	later := msg("orders", "later", "pad", pad)
	later.RoutingType, later.Durable = Anycast, true
	later.ScheduledAt = time.Now().Add(500 * time.Millisecond).UnixMilli()
	send(t, s, later)
	for i := range 10 {
		m := msg("orders", fmt.Sprintf("sel%d", i), "color", []string{"red", "blue"}[i%2], "pad", pad)
		m.RoutingType, m.Durable = Anycast, true
		send(t, s, m)
	}
	if st := queueStats(t, b, "orders"); st.Paged < 12 {
		t.Fatalf("%d paged, want the last 12 at least", st.Paged)
	}
	time.Sleep(60 * time.Millisecond) // let "expired" expire: a time, not a synchronisation

	// A selective consumer finds the paged red ones once the tail is in.
	_, col := consume(t, s, "orders", ConsumerOptions{Selector: "color = 'red'", Credit: 100})
	reds := col.take(t, 5)
	if got := strings.Join(bodies(reds), ","); got != "sel0,sel2,sel4,sel6,sel8" {
		t.Errorf("red consumer got %s", got)
	}
	ackAll(t, reds)
	// Everything else, in order; "later" comes last, after its time, and
	// "expired" went to the expiry address.
	all, allCol := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	ds := allCol.take(t, 200+5)
	ackAll(t, ds)
	for i, d := range ds[:200] {
		if string(d.Message.Body) != fmt.Sprint("fill", i) {
			t.Fatalf("delivery %d is %q", i, d.Message.Body)
		}
	}
	if got := strings.Join(bodies(ds[200:]), ","); got != "sel1,sel3,sel5,sel7,sel9" {
		t.Errorf("after the fill: %s", got)
	}
	d := allCol.next(t, waitTimeout)
	if string(d.Message.Body) != "later" || time.Now().UnixMilli() < later.ScheduledAt {
		t.Errorf("got %q at %d, want \"later\" at %d or after", d.Message.Body, time.Now().UnixMilli(), later.ScheduledAt)
	}
	ackAll(t, []Delivery{d})
	all.Close()
	_, expCol := consume(t, s, "ExpiryQueue", ConsumerOptions{})
	if e := expCol.next(t, waitTimeout); string(e.Message.Body) != "expired" {
		t.Errorf("expiry queue got %q", e.Message.Body)
	}
}

func TestPagingRedeliveryAndPriority(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store, "orders", &AddressSettings{
		MaxSizeBytes: ptr(ByteSize(pagingBudget)), AddressFullPolicy: ptr("PAGE"), MaxDeliveryAttempts: ptr(2)}))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "fill", 0, 100)
	pad := strings.Repeat("p", 200)
	for i, pri := range []uint8{1, 9, 4} {
		m := msg("orders", fmt.Sprintf("pri%d", pri), "i", i, "pad", pad)
		m.RoutingType, m.Durable, m.Priority = Anycast, true, pri
		send(t, s, m)
	}
	if st := queueStats(t, b, "orders"); st.Paged < 3 {
		t.Fatalf("%d paged, want the 3 prioritised ones", st.Paged)
	}
	// Once in memory, priorities order them (they are read back in
	// arrival order, all in one batch); the fill keeps its order.
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	all := col.take(t, 103)
	var ds, fill []Delivery
	for _, d := range all {
		if strings.HasPrefix(string(d.Message.Body), "pri") {
			ds = append(ds, d)
		} else {
			fill = append(fill, d)
		}
	}
	ackAll(t, fill)
	for i, d := range fill {
		if string(d.Message.Body) != fmt.Sprint("fill", i) {
			t.Fatalf("fill %d is %q", i, d.Message.Body)
		}
	}
	if got := strings.Join(bodies(ds), ","); got != "pri9,pri4,pri1" {
		t.Errorf("paged messages by priority: %s, want pri9,pri4,pri1", got)
	}
	// Redelivery and dead-lettering of a paged-in message.
	if err := c.Nack(ds[0].Tag); err != nil {
		t.Fatal(err)
	}
	again := col.next(t, waitTimeout)
	if string(again.Message.Body) != "pri9" || again.DeliveryCount != 2 {
		t.Fatalf("redelivered %q count %d", again.Message.Body, again.DeliveryCount)
	}
	if err := c.Nack(again.Tag); err != nil {
		t.Fatal(err)
	}
	ackAll(t, ds[1:])
	_, dlq := consume(t, s, "DLQ", ConsumerOptions{})
	if d := dlq.next(t, waitTimeout); string(d.Message.Body) != "pri9" {
		t.Errorf("DLQ got %q", d.Message.Body)
	}
}

func TestPagingPurgeAndDelete(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 500)
	q, _ := b.Queue("orders")
	if n := q.Purge(); n != 500 {
		t.Errorf("Purge removed %d, want 500", n)
	}
	if st := q.Stats(); st.Messages != 0 || st.Paged != 0 {
		t.Errorf("after purge: %+v", st)
	}
	waitFor(t, "the store to drop the paged tail", func() bool { return store.Stats().Paged == 0 && store.Stats().Messages == 0 })
	// The queue is back to memory; it pages again past the budget.
	sendPaged(t, s, "orders", "n", 0, 200)
	drainInOrder(t, s, "orders", "n", 0, 200)

	sendPaged(t, s, "jobs", "j", 0, 300)
	if !queueStats(t, b, "jobs").Paging {
		t.Fatal("jobs is not paging")
	}
	if err := b.DeleteQueue("jobs"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store to drop the deleted queue's tail", func() bool { return store.Stats().Paged == 0 })
}

func TestPagingRecovery(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := b.NewSession(SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 2000)
	// Drain part of it, so that some paged messages are paged in and
	// acked, and some paged in and not.
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	ds := col.take(t, 700)
	ackAll(t, ds[:600])
	c.Close()
	s.Close()
	paged := queueStats(t, b, "orders").Paged
	if paged == 0 {
		t.Fatal("nothing left paged")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	nb, err := New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), AddressSettings: pagingConfig(nil).AddressSettings})
	if err != nil {
		t.Fatal(err)
	}
	st, err := nb.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nb.Close() })
	if st.Paged == 0 {
		t.Errorf("recovery reported no paged references")
	}
	if qs := queueStats(t, nb, "orders"); qs.Messages != 1400 {
		t.Errorf("recovered %d messages (%d paged), want 1400", qs.Messages, qs.Paged)
	}
	ns := newSession(t, nb, SessionOptions{})
	drainInOrder(t, ns, "orders", "m", 600, 1400)
}

func TestPagingMulticast(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{ClientID: "app"})
	for _, name := range []string{"s1", "s2"} {
		c, _ := subscribe(t, s, SubscribeOptions{Address: "news", Name: name, Durable: true}, ConsumerOptions{})
		c.Close()
	}
	pad := strings.Repeat("p", 200)
	const n = 300
	for i := range n {
		m := msg("news", fmt.Sprint(i), "pad", pad)
		m.RoutingType, m.Durable = Multicast, true
		send(t, s, m)
	}
	// A message paged into both subscriptions keeps one identity, as one
	// held in memory does: the same id (JMSMessageID) in both.
	var ids [2][]uint64
	distinct := map[uint64]bool{}
	for k, name := range []string{"s1", "s2"} {
		_, col := subscribe(t, s, SubscribeOptions{Address: "news", Name: name, Durable: true}, ConsumerOptions{})
		ds := col.take(t, n)
		for i, d := range ds {
			if string(d.Message.Body) != fmt.Sprint(i) {
				t.Fatalf("%s: delivery %d is %q", name, i, d.Message.Body)
			}
			ids[k] = append(ids[k], d.Message.ID)
			distinct[d.Message.ID] = true
		}
		ackAll(t, ds)
	}
	for i := range n {
		if ids[0][i] != ids[1][i] {
			t.Fatalf("message %d is %d in s1 and %d in s2: one message, two identities", i, ids[0][i], ids[1][i])
		}
	}
	if len(distinct) != n {
		t.Errorf("%d distinct ids over two subscriptions of %d messages, want %d", len(distinct), n, n)
	}
	waitFor(t, "the store to empty", func() bool { ss := store.Stats(); return ss.Paged == 0 && ss.Messages == 0 })
}

// A multicast message paged into two subscriptions keeps its one identity
// across a restart, whether it was paged in before it or not.
func TestPagingMulticastIdentityRecovery(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := b.NewSession(SessionOptions{ClientID: "app"})
	for _, name := range []string{"s1", "s2"} {
		c, _ := subscribe(t, s, SubscribeOptions{Address: "news", Name: name, Durable: true}, ConsumerOptions{})
		c.Close()
	}
	pad := strings.Repeat("p", 200)
	const n = 300
	for i := range n {
		m := msg("news", fmt.Sprint(i), "pad", pad)
		m.RoutingType, m.Durable = Multicast, true
		send(t, s, m)
	}
	// s1 pages part of its tail in (and leaves it unacked); s2 does not.
	c, col := subscribe(t, s, SubscribeOptions{Address: "news", Name: "s1", Durable: true}, ConsumerOptions{Credit: 150})
	before := col.take(t, 150)
	c.Close()
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	nb, err := New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), AddressSettings: pagingConfig(nil).AddressSettings})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nb.Close() })
	ns := newSession(t, nb, SessionOptions{ClientID: "app"})
	var ids [2][]uint64
	for k, name := range []string{"s1", "s2"} {
		_, col := subscribe(t, ns, SubscribeOptions{Address: "news", Name: name, Durable: true}, ConsumerOptions{})
		ds := col.take(t, n)
		for i, d := range ds {
			if string(d.Message.Body) != fmt.Sprint(i) {
				t.Fatalf("%s: delivery %d is %q", name, i, d.Message.Body)
			}
			ids[k] = append(ids[k], d.Message.ID)
		}
		ackAll(t, ds)
	}
	for i := range n {
		if ids[0][i] != ids[1][i] {
			t.Fatalf("after a restart message %d is %d in s1 and %d in s2", i, ids[0][i], ids[1][i])
		}
	}
	for i, d := range before {
		if d.Message.ID != ids[0][i] {
			t.Fatalf("message %d was %d before the restart and %d after", i, d.Message.ID, ids[0][i])
		}
	}
	waitFor(t, "the store to empty", func() bool { ss := store.Stats(); return ss.Paged == 0 && ss.Messages == 0 })
}

func TestPagingNonPersistentIsHeld(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 100)
	// Larger than the room the sends left under the budget (less than
	// one of them).
	p := s.NewProducer()
	done := make(chan error, 1)
	m := msg("orders", "np", "pad", strings.Repeat("q", 300))
	m.RoutingType = Anycast
	if err := p.Send(context.Background(), m, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("non-persistent send over a PAGE budget confirmed (%v), want it held", err)
	default:
	}
	if b.HeldSends("orders") != 1 {
		t.Fatalf("HeldSends = %d, want 1", b.HeldSends("orders"))
	}
	_, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	ds := col.take(t, 100)
	ackAll(t, ds)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("held non-persistent send never admitted")
	}
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "np" {
		t.Errorf("got %q", d.Message.Body)
	}
}

// noPager is a store without storage.Pager.
type noPager struct{ storage.Store }

func TestPagingNeedsPager(t *testing.T) {
	_, err := New(Config{Store: noPager{memory.New()}, AddressSettings: settings("#", &AddressSettings{AddressFullPolicy: ptr("PAGE")})})
	if err == nil || !strings.Contains(err.Error(), "PAGE") {
		t.Fatalf("New with PAGE on a store that cannot page: %v", err)
	}
}

func TestPagingTransaction(t *testing.T) {
	store := memory.New()
	var hooked []int
	cfg := pagingConfig(store)
	cfg.Hooks.AfterSend = func(_ *Session, m *Message, queues []*Queue, err error) {
		if strings.HasPrefix(string(m.Body), "tx") {
			hooked = append(hooked, len(queues))
		}
	}
	b := newTestBroker(t, cfg)
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 100)
	pad := strings.Repeat("p", 200)
	txSend := func(prefix string, commit bool) {
		tx := s.Begin()
		for i := range 5 {
			m := msg("orders", fmt.Sprint(prefix, i), "pad", pad)
			m.RoutingType, m.Durable = Anycast, true
			if err := tx.Send(m); err != nil {
				t.Fatal(err)
			}
		}
		if !commit {
			tx.Rollback()
			return
		}
		done := make(chan error, 1)
		if err := tx.Commit(context.Background(), func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	txSend("rolledback", false)
	txSend("tx", true)
	if st := queueStats(t, b, "orders"); st.Messages != 105 || st.Paged < 5 {
		t.Fatalf("after a committed transaction of 5 paged sends: %+v", st)
	}
	if fmt.Sprint(hooked) != "[1 1 1 1 1]" {
		t.Errorf("AfterSend saw queues %v for the paged sends, want one each", hooked)
	}
	_, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	ds := col.take(t, 105)
	ackAll(t, ds)
	if got := strings.Join(bodies(ds[100:]), ","); got != "tx0,tx1,tx2,tx3,tx4" {
		t.Errorf("transaction's messages: %s", got)
	}
	col.none(t)
}

// TestPagingOnJournal: paging, a partial drain, a purge of another queue
// and a restart on the journal, which keeps paged references on disk.
func TestPagingOnJournal(t *testing.T) {
	dir := t.TempDir()
	open := func() *Broker {
		j, err := journal.Open(dir, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := pagingConfig(nil)
		cfg.Store, cfg.Logger = j, discard()
		b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	s := b.NewSession(SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 1000)
	sendPaged(t, s, "jobs", "j", 0, 500)
	if st := queueStats(t, b, "orders"); st.Paged == 0 || st.Messages != 1000 {
		t.Fatalf("orders: %+v", st)
	}
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 100, Window: true})
	for i := range 300 {
		d := col.next(t, waitTimeout)
		if string(d.Message.Body) != fmt.Sprint("m", i) {
			t.Fatalf("delivery %d is %q", i, d.Message.Body)
		}
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	jobs, _ := b.Queue("jobs")
	if n := jobs.Purge(); n != 500 {
		t.Errorf("purged %d of jobs, want 500", n)
	}
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open()
	t.Cleanup(func() { _ = b.Close() })
	if st := queueStats(t, b, "orders"); st.Messages != 700 {
		t.Errorf("orders after a restart: %d messages (%d paged), want 700", st.Messages, st.Paged)
	}
	if q, ok := b.Queue("jobs"); ok && q.Stats().Messages != 0 {
		t.Errorf("purged jobs came back with %d messages", q.Stats().Messages)
	}
	ns := newSession(t, b, SessionOptions{})
	drainInOrder(t, ns, "orders", "m", 300, 700)
}

// TestPagingDeadLetterTarget: dead-letter moves into a paging DLQ page
// like sends, and come back in order.
func TestPagingDeadLetterTarget(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "work", "w", 0, 150)
	c, col := consume(t, s, "work", ConsumerOptions{Credit: 1000})
	for i := range 150 {
		d := col.next(t, waitTimeout)
		if string(d.Message.Body) != fmt.Sprint("w", i) {
			t.Fatalf("delivery %d is %q", i, d.Message.Body)
		}
		if err := c.Reject(d.Tag, "bad"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the moves", func() bool {
		q, ok := b.Queue("DLQ")
		return ok && q.Stats().Messages == 150
	})
	if st := queueStats(t, b, "DLQ"); st.Paged == 0 {
		t.Errorf("150 dead letters over an 8 KiB budget and none paged: %+v", st)
	}
	c.Close()
	drainInOrder(t, s, "DLQ", "w", 0, 150)
}

// TestPagingNonDurableSubscription: a durable message over the budget is
// paged for a durable subscription and kept in memory for a non-durable
// one, which must not find it after a restart.
func TestPagingNonDurableSubscription(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{ClientID: "app"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "news", Name: "kept", Durable: true}, ConsumerOptions{})
	c.Close()
	_, live := subscribe(t, s, SubscribeOptions{Address: "news"}, ConsumerOptions{Credit: 1000})
	pad := strings.Repeat("p", 200)
	for i := range 200 {
		m := msg("news", fmt.Sprint(i), "pad", pad)
		m.RoutingType, m.Durable = Multicast, true
		send(t, s, m)
	}
	ds := live.take(t, 200)
	for i, d := range ds {
		if string(d.Message.Body) != fmt.Sprint(i) {
			t.Fatalf("non-durable subscriber: delivery %d is %q", i, d.Message.Body)
		}
	}
	ackAll(t, ds)
	var paged int64
	for _, q := range b.Queues() {
		st := q.Stats()
		if q.Info().Durable {
			paged = st.Paged
		} else if st.Paged != 0 {
			t.Errorf("non-durable subscription %s has %d paged", q.Name(), st.Paged)
		}
	}
	if paged == 0 {
		t.Error("the durable subscription paged nothing over the budget")
	}
}

// TestPagingGlobalBudget: with no max-size-bytes, global-max-size is the
// budget past which PAGE addresses page.
func TestPagingGlobalBudget(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store, GlobalMaxSize: 64 << 10, pageLow: 64, pageBatch: 25,
		AddressSettings: settings("#", &AddressSettings{AddressFullPolicy: ptr("PAGE")})})
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 1000)
	if st := queueStats(t, b, "orders"); st.Paged == 0 || st.Messages != 1000 {
		t.Fatalf("1000 sends over a 64 KiB global budget: %+v", st)
	}
	if g := b.GlobalSize(); g > 64<<10 {
		t.Errorf("held %d bytes with a 64 KiB global budget and no consumer", g)
	}
	drainInOrder(t, s, "orders", "m", 0, 1000)
}
