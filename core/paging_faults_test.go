package core

import (
	"testing"

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
