package core

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// A page-in that fails (the read, or the store refusing the page-in) loses
// and duplicates nothing: the queue serves its paged messages, in order
// and once each, when the store recovers.
func TestPagingUnderStoreFaults(t *testing.T) {
	inner := memory.New()
	st := faulty.Wrap(inner)
	cfg := pagingConfig(nil)
	cfg.Store = st
	b := newTestBroker(t, cfg)
	s := newSession(t, b, SessionOptions{})
	const n = 600
	sendPaged(t, s, "orders", "m", 0, n)
	if !queueStats(t, b, "orders").Paging {
		t.Fatal("orders is not paging")
	}

	st.SetRead(faulty.ReadAlways())
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1000})
	waitFor(t, "a failed read", func() bool { return st.ReadFailures() > 0 })
	// The store refuses the next page-in batch once reads work again.
	st.Set(faulty.OnKind(storage.OpPageIn))
	st.SetRead(nil)
	waitFor(t, "a failed page-in", func() bool { return st.Failures() > 0 })
	st.Set(nil)
	// Then the store goes away as a whole and comes back.
	st.Break(nil)
	fails := st.ReadFailures()
	ds := col.take(t, 20) // what was in memory is served meanwhile
	waitFor(t, "a read of the broken store", func() bool { return st.ReadFailures() > fails })
	st.Heal()
	ds = append(ds, col.take(t, n-len(ds))...)
	for i, d := range ds {
		if got, want := string(d.Message.Body), "m"+itoa(i); got != want {
			t.Fatalf("delivery %d is %q, want %q", i, got, want)
		}
	}
	ackAll(t, ds)
	waitFor(t, "the queue to empty", func() bool { st := queueStats(t, b, "orders"); return st.Messages == 0 && st.Paged == 0 })
	if st := queueStats(t, b, "orders"); st.PagedBytes != 0 || st.Paging || st.InFlight != 0 {
		t.Errorf("drained queue: %+v", st)
	}
	c.Close()
	waitFor(t, "the store to empty", func() bool { ss := inner.Stats(); return ss.Paged == 0 && ss.Messages == 0 && ss.Refs == 0 })
}

// Close waits for a page-in under way: none reaches the store after Close
// returns (a store reopened for the next broker would get page-ins its
// recovery did not count, and lose those messages to both brokers).
func TestPagingCloseWaitsForPageIn(t *testing.T) {
	inner := memory.New()
	st := faulty.Wrap(inner)
	cfg := pagingConfig(nil)
	cfg.Store = st
	b, err := New(withDiscardLogger(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := b.NewSession(SessionOptions{})
	const n = 300
	sendPaged(t, s, "orders", "m", 0, n)
	reading, release := make(chan struct{}, 1), make(chan struct{})
	st.SetRead(func(uint64) error {
		select {
		case reading <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	c, _ := consume(t, s, "orders", ConsumerOptions{Credit: 10})
	select {
	case <-reading:
	case <-time.After(waitTimeout):
		close(release)
		t.Fatal("no page-in started")
	}
	c.Close()
	s.Close()
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case <-closed:
		close(release)
		t.Fatal("Close returned while a page-in was reading")
	case <-time.After(100 * time.Millisecond): // proving something does not happen
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// The next broker on the same store finds every message, in order.
	inner.Reopen()
	st.SetRead(nil)
	nb := newTestBroker(t, func() Config { c := pagingConfig(nil); c.Store = st; return c }())
	drainInOrder(t, newSession(t, nb, SessionOptions{}), "orders", "m", 0, n)
}

func withDiscardLogger(cfg Config) Config {
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}
