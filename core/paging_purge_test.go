package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage/memory"
)

// Purging a paging queue in a loop while producers send into it leaves
// every message either purged or consumed, none twice, and the queue's
// paged count and bytes at exactly zero once drained.
func TestPagingPurgeRacingSends(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	q, err := b.CreateQueue(QueueInfo{Name: "work", Address: "work", RoutingType: Anycast, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	const producers, perProducer, inFlight = 4, 1500, 32
	pad := strings.Repeat("p", 200)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := b.NewSession(SessionOptions{})
			defer s.Close()
			sem := make(chan struct{}, inFlight)
			for i := range perProducer {
				sem <- struct{}{}
				m := msg("work", fmt.Sprintf("p%d-%d", p, i), "pad", pad)
				m.RoutingType, m.Durable = Anycast, true
				if err := s.Send(context.Background(), m, func(err error) {
					if err == nil {
						sent.Add(1)
					}
					<-sem
				}); err != nil {
					t.Error(err)
					return
				}
			}
			for range inFlight {
				sem <- struct{}{}
			}
		}()
	}
	stop := make(chan struct{})
	var purged atomic.Int64
	purger := make(chan struct{})
	go func() {
		defer close(purger)
		for {
			select {
			case <-stop:
				return
			default:
			}
			purged.Add(int64(q.Purge()))
			time.Sleep(100 * time.Microsecond) // let the tail grow between purges
		}
	}()
	// A consumer drains meanwhile, so that page-ins race the purges too.
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "work", ConsumerOptions{Credit: 50, Window: true})
	defer c.Close()
	seen := map[string]bool{}
	take := func(d Delivery) {
		body := string(d.Message.Body)
		if seen[body] {
			t.Fatalf("%s consumed twice", body)
		}
		seen[body] = true
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	sending := make(chan struct{})
	go func() { wg.Wait(); close(sending) }()
	for done := false; !done; {
		select {
		case d := <-col.ch:
			take(d)
		case <-sending:
			done = true
		}
	}
	close(stop)
	<-purger

	total := sent.Load()
	for int64(len(seen))+purged.Load() < total {
		d, ok := col.poll(waitTimeout)
		if !ok {
			st := q.Stats()
			t.Fatalf("sent %d, purged %d, consumed %d: the rest never came (queue %+v, store paged %d)",
				total, purged.Load(), len(seen), st, store.Stats().Paged)
		}
		take(d)
	}
	if d, ok := col.poll(50 * time.Millisecond); ok {
		t.Fatalf("sent %d, purged %d, consumed %d, and then %q more", total, purged.Load(), len(seen), d.Message.Body)
	}
	st := q.Stats()
	if st.Messages != 0 || st.Paged != 0 || st.PagedBytes != 0 || st.Paging {
		t.Errorf("drained queue (sent %d, purged %d, consumed %d): %+v", total, purged.Load(), len(seen), st)
	}
	waitFor(t, "the store to empty", func() bool { ss := store.Stats(); return ss.Paged == 0 && ss.Messages == 0 && ss.Refs == 0 })
	t.Logf("sent %d, purged %d, consumed %d", total, purged.Load(), len(seen))
}

// poll returns the next delivery, or false after timeout.
func (c *collector) poll(timeout time.Duration) (Delivery, bool) {
	select {
	case d := <-c.ch:
		return d, true
	case <-time.After(timeout):
		return Delivery{}, false
	}
}

// Deleting a paging queue in a loop while producers send into its address
// (each delete's queue comes back, auto-created, on the next send) leaves
// nothing behind in the store once the last queue is drained, and the
// last queue's counts at zero.
func TestPagingDeleteRacingSends(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	const producers, perProducer = 3, 800
	pad := strings.Repeat("p", 200)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := b.NewSession(SessionOptions{})
			defer s.Close()
			for i := range perProducer {
				m := msg("work", fmt.Sprintf("p%d-%d", p, i), "pad", pad)
				m.RoutingType, m.Durable = Anycast, true
				if err := sendErr(s, m); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop, deleter := make(chan struct{}), make(chan struct{})
	deletes := 0
	go func() {
		defer close(deleter)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b.DeleteQueue("work") == nil {
				deletes++
			}
			time.Sleep(200 * time.Microsecond) // let the tail grow between deletes
		}
	}()
	wg.Wait()
	close(stop)
	<-deleter
	s := newSession(t, b, SessionOptions{})
	last := msg("work", "last", "pad", pad)
	last.RoutingType, last.Durable = Anycast, true
	send(t, s, last) // the last queue exists (a delete may have come after every send)
	q, _ := b.Queue("work")
	c, col := consume(t, s, "work", ConsumerOptions{Credit: 200, Window: true})
	defer c.Close()
	seen := map[string]bool{}
	for {
		st := q.Stats()
		if st.Messages == 0 && st.InFlight == 0 {
			break
		}
		d, ok := col.poll(waitTimeout)
		if !ok {
			t.Fatalf("the last queue stalled: %+v (store paged %d)", q.Stats(), store.Stats().Paged)
		}
		if seen[string(d.Message.Body)] {
			t.Fatalf("%s twice", d.Message.Body)
		}
		seen[string(d.Message.Body)] = true
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	if st := q.Stats(); st.Paged != 0 || st.PagedBytes != 0 || st.Paging {
		t.Errorf("drained queue: %+v", st)
	}
	if !seen["last"] {
		t.Error("the last message was not consumed")
	}
	waitFor(t, "the store to empty", func() bool { ss := store.Stats(); return ss.Paged == 0 && ss.Messages == 0 && ss.Refs == 0 })
	t.Logf("%d deletes, %d consumed from the last queue", deletes, len(seen))
}
