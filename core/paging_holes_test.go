package core

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage/memory"
)

// A paged tail that starts with many messages scheduled for later does not
// hold back the ready ones behind them: scheduled messages read back do
// not count as the consumers' read-ahead.
func TestPagingScheduledHeadDoesNotBlock(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store)) // read-ahead 64
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "fill", 0, 100) // over budget: what follows is paged
	pad := strings.Repeat("p", 200)
	later := time.Now().Add(time.Hour).UnixMilli()
	for i := range 300 {
		m := msg("orders", fmt.Sprint("later", i), "pad", pad)
		m.RoutingType, m.Durable, m.ScheduledAt = Anycast, true, later
		send(t, s, m)
	}
	sendPaged(t, s, "orders", "now", 0, 50)
	if st := queueStats(t, b, "orders"); st.Paged < 350 {
		t.Fatalf("%d paged, want the scheduled and what follows", st.Paged)
	}
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	defer c.Close()
	ds := col.take(t, 150)
	for i, d := range ds {
		want := fmt.Sprint("fill", i)
		if i >= 100 {
			want = fmt.Sprint("now", i-100)
		}
		if string(d.Message.Body) != want {
			t.Fatalf("delivery %d is %q, want %q", i, d.Message.Body, want)
		}
	}
	ackAll(t, ds)
	if st := queueStats(t, b, "orders"); st.Scheduled != 300 || st.Messages != 300 {
		t.Errorf("after the ready ones: %+v, want the 300 scheduled left", st)
	}
}

// Paged copies of multicast messages, whose store id is not their id, are
// settled under the store's id on every path: ack, transactional ack rolled
// back then committed, redelivery, dead-lettering into a paging DLQ. The
// store ends empty, and nothing is delivered twice or lost.
func TestPagingCopiesSettleEveryWay(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store, "news", &AddressSettings{
		MaxSizeBytes: ptr(ByteSize(pagingBudget)), AddressFullPolicy: ptr("PAGE"), MaxDeliveryAttempts: ptr(2),
	}))
	s := newSession(t, b, SessionOptions{ClientID: "app"})
	for _, name := range []string{"s1", "s2", "s3"} {
		c, _ := subscribe(t, s, SubscribeOptions{Address: "news", Name: name, Durable: true}, ConsumerOptions{})
		c.Close()
	}
	pad := strings.Repeat("p", 200)
	const n = 200
	for i := range n {
		m := msg("news", fmt.Sprint(i), "pad", pad)
		m.RoutingType, m.Durable = Multicast, true
		send(t, s, m)
	}
	if st := queueStats(t, b, "app.s3"); st.Paged == 0 {
		t.Fatalf("s3 is not paging: %+v", st)
	}
	check := func(name string, ds []Delivery) {
		t.Helper()
		for i, d := range ds {
			if string(d.Message.Body) != fmt.Sprint(i) {
				t.Fatalf("%s: delivery %d is %q", name, i, d.Message.Body)
			}
		}
	}
	// s1: acked inside a transaction that rolls back, then one that commits.
	c1, col1 := subscribe(t, s, SubscribeOptions{Address: "news", Name: "s1", Durable: true}, ConsumerOptions{Credit: 1000})
	ds := col1.take(t, n)
	check("s1", ds)
	tx := s.Begin()
	for _, d := range ds {
		if err := tx.Ack(c1, d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	tx.Rollback()
	ds = col1.take(t, n) // back, in order, redelivered
	check("s1 after rollback", ds)
	tx = s.Begin()
	for _, d := range ds {
		if err := tx.Ack(c1, d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	commitWait(t, tx)
	c1.Close()
	// s2: rejected, to the dead-letter address (which pages too).
	c2, col2 := subscribe(t, s, SubscribeOptions{Address: "news", Name: "s2", Durable: true}, ConsumerOptions{Credit: 1000})
	ds = col2.take(t, n)
	check("s2", ds)
	for _, d := range ds {
		if err := c2.Reject(d.Tag, "bad"); err != nil {
			t.Fatal(err)
		}
	}
	c2.Close()
	waitFor(t, "the dead letters", func() bool { q, ok := b.Queue("DLQ"); return ok && q.Stats().Messages == n })
	drainInOrder(t, s, "DLQ", "", 0, n)
	// s3: nacked (redelivered), then acked.
	c3, col3 := subscribe(t, s, SubscribeOptions{Address: "news", Name: "s3", Durable: true}, ConsumerOptions{Credit: 1000})
	ds = col3.take(t, n)
	check("s3", ds)
	for _, d := range ds[:50] {
		if err := c3.Nack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	ackAll(t, ds[50:])
	again := col3.take(t, 50)
	check("s3 redelivered", again)
	ackAll(t, again)
	col3.none(t)
	c3.Close()
	waitFor(t, "the store to empty", func() bool {
		ss := store.Stats()
		return ss.Paged == 0 && ss.Messages == 0 && ss.Refs == 0
	})
}

func commitWait(t *testing.T, tx *Tx) {
	t.Helper()
	done := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A consumer whose selector matches only messages deep in a paged tail
// makes the queue read ahead a bounded amount, then waits; as others drain
// the queue its messages come, in order.
func TestPagingDeepSelector(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store)) // read-ahead 64, look-ahead 16x
	s := newSession(t, b, SessionOptions{})
	pad := strings.Repeat("p", 200)
	const n, reds = 3000, 10
	for i := range n {
		m := msg("orders", fmt.Sprint(i), "pad", pad)
		if i >= n-reds {
			m.SetProperty("color", stringValue("red"))
		}
		m.RoutingType, m.Durable = Anycast, true
		send(t, s, m)
	}
	red, redCol := consume(t, s, "orders", ConsumerOptions{Selector: "color = 'red'", Credit: 100})
	defer red.Close()
	q, _ := b.Queue("orders")
	waitFor(t, "the look-ahead to stop", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return !q.pg.reading
	})
	q.mu.Lock()
	held := q.total
	q.mu.Unlock()
	if held > 64*16+2*25+100 {
		t.Errorf("a selective consumer made the queue hold %d messages in memory", held)
	}
	redCol.none(t)
	others, col := consume(t, s, "orders", ConsumerOptions{Selector: "color IS NULL", Credit: 200, Window: true})
	defer others.Close()
	for i := range n - reds {
		d := col.next(t, waitTimeout)
		if string(d.Message.Body) != fmt.Sprint(i) {
			t.Fatalf("delivery %d is %q", i, d.Message.Body)
		}
		if err := others.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	ds := redCol.take(t, reds)
	for i, d := range ds {
		if string(d.Message.Body) != fmt.Sprint(n-reds+i) {
			t.Fatalf("red %d is %q", i, d.Message.Body)
		}
	}
	ackAll(t, ds)
}
