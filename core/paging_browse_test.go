package core

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

// browseAll browses queue with sel and returns the bodies shown.
func browseAll(t *testing.T, s *Session, queue, sel string) []string {
	t.Helper()
	var got []string
	if err := s.Browse(queue, sel, func(m *Message) bool { got = append(got, string(m.Body)); return true }); err != nil {
		t.Fatal(err)
	}
	return got
}

// A browser sees a paging queue whole, in order: what is in memory, then
// the paged tail read from the store, without paging anything in.
func TestPagingBrowse(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	const n = 1500
	sendPaged(t, s, "orders", "m", 0, n)
	before := queueStats(t, b, "orders")
	if before.Paged == 0 {
		t.Fatal("orders is not paging")
	}
	storePaged := store.Stats().Paged

	got := browseAll(t, s, "orders", "")
	if len(got) != n {
		t.Fatalf("browsed %d messages of %d (%d paged)", len(got), n, before.Paged)
	}
	for i, body := range got {
		if want := fmt.Sprint("m", i); body != want {
			t.Fatalf("browsed message %d is %q, want %q", i, body, want)
		}
	}
	if after := queueStats(t, b, "orders"); after != before {
		t.Errorf("browsing changed the queue: %+v, was %+v", after, before)
	}
	if sp := store.Stats().Paged; sp != storePaged {
		t.Errorf("browsing paged in: the store holds %d paged, held %d", sp, storePaged)
	}

	// A selector applies to the paged tail too.
	got = browseAll(t, s, "orders", "n < 3 OR n BETWEEN 700 AND 702 OR n > 1496")
	want := []string{"m0", "m1", "m2", "m700", "m701", "m702", "m1497", "m1498", "m1499"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("selector browse showed %v, want %v", got, want)
	}

	// A browser with little credit reads as it advances, and ends.
	var shown []string
	ended := false
	br, err := s.NewBrowser("orders", BrowserOptions{
		Handler: func(m *Message) { shown = append(shown, string(m.Body)) },
		OnEnd:   func() { ended = true },
		Credit:  10,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if len(shown) != 10 {
		t.Fatalf("credit 10 showed %d", len(shown))
	}
	for !ended {
		was := len(shown)
		br.AddCredit(333)
		if len(shown) == was && !ended {
			t.Fatalf("stalled at %d", was)
		}
	}
	if len(shown) != n || shown[n-1] != fmt.Sprint("m", n-1) {
		t.Fatalf("stepping browser showed %d, last %q", len(shown), shown[len(shown)-1])
	}
}

// A browser that goes through a paging queue while a consumer drains it
// sees messages in order and none twice, also the ones the queue paged in
// behind it, and reaches the end.
func TestPagingBrowseWhileDraining(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	const n = 3000
	sendPaged(t, s, "orders", "m", 0, n)
	var shown []int
	ended := false
	br, err := s.NewBrowser("orders", BrowserOptions{
		Handler: func(m *Message) {
			i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Body), "m"))
			shown = append(shown, i)
		},
		OnEnd: func() { ended = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 40, Window: true})
	consumed := 0
	for step := 0; !ended; step++ {
		if step > n {
			t.Fatal("the browser never ended")
		}
		br.AddCredit(30)
		// The consumer takes 40 (the queue pages in behind the browser).
		if consumed < n-100 {
			ds := col.take(t, min(40, n-100-consumed))
			consumed += len(ds)
			ackAll(t, ds)
		}
	}
	c.Close()
	t.Logf("browsed %d while %d were consumed", len(shown), consumed)
	for i := 1; i < len(shown); i++ {
		if shown[i] <= shown[i-1] {
			t.Fatalf("browsed m%d after m%d", shown[i], shown[i-1])
		}
	}
	if len(shown) == 0 || shown[len(shown)-1] != n-1 {
		t.Fatalf("the browser ended at %v of %d", shown[max(0, len(shown)-3):], n)
	}
	last := map[int]bool{}
	for _, i := range shown {
		last[i] = true
	}
	// The consumer holds up to its credit (40) in flight past what it
	// took: the rest of the queue was ready when the browser came by.
	for i := n - 100 + 40; i < n; i++ {
		if !last[i] {
			t.Errorf("m%d, never delivered, was not browsed", i)
		}
	}
}

// A purge while a paging queue is browsed discards what the browser had
// read of the tail: it shows no purged message.
func TestPagingBrowsePurged(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, pagingConfig(store))
	s := newSession(t, b, SessionOptions{})
	sendPaged(t, s, "orders", "m", 0, 600)
	// Credit for what is in memory and 5 more: the browser reads a batch
	// of the tail (at least 16) and keeps the rest of it.
	credit := queueStats(t, b, "orders").Ready + 5
	var shown []string
	ended := false
	br, err := s.NewBrowser("orders", BrowserOptions{
		Handler: func(m *Message) { shown = append(shown, string(m.Body)) },
		OnEnd:   func() { ended = true },
		Credit:  credit,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if len(shown) != credit || ended || len(br.buf) == 0 {
		t.Fatalf("credit %d showed %d (ended %v, %d read ahead)", credit, len(shown), ended, len(br.buf))
	}
	q, _ := b.Queue("orders")
	if n := q.Purge(); n != 600 {
		t.Fatalf("purged %d, want 600", n)
	}
	br.AddCredit(1000)
	if len(shown) != credit || !ended {
		t.Fatalf("after the purge the browser showed %d more (ended %v): %v", len(shown)-credit, ended, shown[credit:min(len(shown), credit+10)])
	}
}

// pageInGate is a store that, once armed, holds back the completion of the
// first page-in batch it applies: the store has moved those references out
// of its paged tail, the queue has not appended them yet.
type pageInGate struct {
	*memory.Store
	armed   atomic.Bool
	moved   chan struct{} // closed when the held batch is in the store
	release chan struct{} // closing it (let) lets the page-in go on
	once    sync.Once
}

func (g *pageInGate) let() { g.once.Do(func() { close(g.release) }) }

func (g *pageInGate) Apply(ops []storage.Op, sync bool, done func(error)) {
	if !slices.ContainsFunc(ops, func(op storage.Op) bool { return op.Kind == storage.OpPageIn }) || !g.armed.CompareAndSwap(true, false) {
		g.Store.Apply(ops, sync, done)
		return
	}
	g.Store.Apply(ops, sync, func(err error) {
		close(g.moved)
		go func() { <-g.release; done(err) }()
	})
}

// A browser that reads the paged tail after a page-in moved the store's
// paged range, but before the queue appended what it paged in, must not
// pass over that batch (nor end early): it shows it from memory once it is
// there, in order.
func TestPagingBrowseDuringPageIn(t *testing.T) {
	g := &pageInGate{Store: memory.New(), moved: make(chan struct{}), release: make(chan struct{})}
	cfg := pagingConfig(g.Store)
	cfg.Store = g
	cfg.pageLow = 1 << 20 // any consumer makes the queue page in
	b := newTestBroker(t, cfg)
	t.Cleanup(g.let) // runs before the broker's Close, which waits for the page-in
	s := newSession(t, b, SessionOptions{})
	const n = 300
	sendPaged(t, s, "orders", "m", 0, n)
	st := queueStats(t, b, "orders")
	if st.Paged == 0 || st.Ready < 2 {
		t.Fatalf("orders: %+v, want some in memory and a paged tail", st)
	}
	var shown []int
	ended := false
	br, err := s.NewBrowser("orders", BrowserOptions{
		Handler: func(m *Message) {
			i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Body), "m"))
			shown = append(shown, i)
		},
		OnEnd:  func() { ended = true },
		Credit: st.Ready, // what is in memory
	})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	// A consumer takes m0 and the queue pages in its first batch, which
	// the store holds back once it has taken it.
	g.armed.Store(true)
	c, col := consume(t, s, "orders", ConsumerOptions{Credit: 1})
	defer c.Close()
	col.take(t, 1)
	select {
	case <-g.moved:
	case <-time.After(10 * time.Second):
		t.Fatal("the queue did not page in")
	}
	q, _ := b.Queue("orders")

	// The browser reads the tail now. It may not show what follows the
	// held batch: it waits for the batch to be appended.
	added := make(chan struct{})
	go func() { br.AddCredit(10); close(added) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case <-added:
		default:
			q.mu.Lock()
			waiting := q.pg.waiting
			q.mu.Unlock()
			if waiting == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the browser neither showed anything nor waited for the page-in")
				}
				runtime.Gosched()
				continue
			}
		}
		break
	}
	g.let()
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("the browser did not go on after the page-in")
	}
	for !ended {
		was := len(shown)
		br.AddCredit(100)
		if len(shown) == was && !ended {
			t.Fatalf("stalled at %d", was)
		}
	}
	if len(shown) != n {
		t.Fatalf("browsed %d of %d: %v", len(shown), n, shown[min(len(shown), st.Ready):min(len(shown), st.Ready+12)])
	}
	for i, v := range shown {
		if v != i {
			t.Fatalf("browsed m%d at %d (after %v)", v, i, shown[max(0, i-3):i])
		}
	}
}
