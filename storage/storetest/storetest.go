// Package storetest is the contract every storage.Store passes: run it from
// the store's own tests with Run. It checks what the core relies on: atomic
// batches, the recovery order, each operation's effect, done called exactly
// once and only after the data is durable, Apply that never blocks, ErrClosed
// after Close, failures reported through done, Health and Notify, and
// (with Heal) a store that resumes by itself once the cause is gone; and, for
// a store that implements storage.Pager, the paging contract (paging.go).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
)

// Harness describes the store under test.
type Harness struct {
	// Open opens the store kept in dir, a folder private to one subtest.
	// Opening dir again after Close must find what was stored there. The
	// suite calls Load itself.
	Open func(t *testing.T, dir string) storage.Store
	// Break, when set, makes every later write of s fail as a broken disk
	// or database would; the suite then checks how the failure is reported.
	Break func(t *testing.T, s storage.Store)
	// Heal, when set, undoes Break as freeing space or remounting would:
	// the store must then resume by itself, without a reopen.
	Heal func(t *testing.T, s storage.Store)
	// PressureAt, when positive, is the number of outstanding Apply calls at
	// which the store reports Pressure (a store whose Apply completes at
	// once has none: 0).
	PressureAt int
}

// timeout bounds every wait: generous, since the race detector and a shared
// machine slow everything.
const timeout = 20 * time.Second

// Run runs the contract suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"LoadOrder", testLoadOrder},
		{"RefLifecycle", testRefLifecycle},
		{"Bindings", testBindings},
		{"AtomicBatch", testAtomicBatch},
		{"SyncDurable", testSyncDurable},
		{"DoneOnce", testDoneOnce},
		{"Closed", testClosed},
		{"Concurrent", testConcurrent},
		{"LargeBatches", testLargeBatches},
		{"Stats", testStats},
		{"NeverBlocks", testNeverBlocks},
		{"Failure", testFailure},
	}
	tests = append(tests, pagingTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// Event is one call a store made on its Recovery.
type Event struct {
	Kind          string // "binding", "message", "ref" or "paged"
	Binding       storage.BindingKind
	Key           string
	Data          []byte
	MsgID         uint64
	QueueID       uint64
	DeliveryCount uint32
	ScheduledAt   int64
	Count, Bytes  int64 // "paged": the queue's paged references
}

// Recorder is a storage.Recovery that records what it is given.
type Recorder struct{ Events []Event }

// Binding implements storage.Recovery.
func (r *Recorder) Binding(kind storage.BindingKind, key string, data []byte) error {
	r.Events = append(r.Events, Event{Kind: "binding", Binding: kind, Key: key, Data: slices.Clone(data)})
	return nil
}

// Message implements storage.Recovery.
func (r *Recorder) Message(id uint64, data []byte) error {
	r.Events = append(r.Events, Event{Kind: "message", MsgID: id, Data: slices.Clone(data)})
	return nil
}

// Ref implements storage.Recovery.
func (r *Recorder) Ref(queueID, msgID uint64, dc uint32, sched int64) error {
	r.Events = append(r.Events, Event{Kind: "ref", QueueID: queueID, MsgID: msgID, DeliveryCount: dc, ScheduledAt: sched})
	return nil
}

func (r *Recorder) messages() map[uint64]string {
	out := map[uint64]string{}
	for _, e := range r.Events {
		if e.Kind == "message" {
			out[e.MsgID] = string(e.Data)
		}
	}
	return out
}

func (r *Recorder) refs() []Event {
	var out []Event
	for _, e := range r.Events {
		if e.Kind == "ref" {
			out = append(out, e)
		}
	}
	return out
}

func (r *Recorder) bindings() map[string]string {
	out := map[string]string{}
	for _, e := range r.Events {
		if e.Kind == "binding" {
			out[fmt.Sprintf("%d/%s", e.Binding, e.Key)] = string(e.Data)
		}
	}
	return out
}

// open opens and loads the store in dir; it is closed when the test ends
// unless the test closed it.
func open(t *testing.T, h Harness, dir string) (storage.Store, *Recorder) {
	t.Helper()
	s := h.Open(t, dir)
	rec := &Recorder{}
	if err := s.Load(context.Background(), rec); err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, rec
}

// reopen closes s and opens dir again.
func reopen(t *testing.T, h Harness, s storage.Store, dir string) (storage.Store, *Recorder) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, h, dir)
}

// apply applies ops and waits for done.
func apply(t *testing.T, s storage.Store, sync bool, ops ...storage.Op) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Apply(ops, sync, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(timeout):
		t.Fatalf("done not called within %v", timeout)
		return nil
	}
}

func mustApply(t *testing.T, s storage.Store, ops ...storage.Op) {
	t.Helper()
	if err := apply(t, s, true, ops...); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func msg(id uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpAddMessage, MsgID: id, Data: []byte(data)}
}

func ref(q, id uint64) storage.Op { return storage.Op{Kind: storage.OpAddRef, QueueID: q, MsgID: id} }

func put(kind storage.BindingKind, key, data string) storage.Op {
	return storage.Op{Kind: storage.OpPutBinding, Binding: kind, Key: key, Data: []byte(data)}
}

// waitFor polls cond, for figures a store publishes after done has run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func testLoadOrder(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, rec := open(t, h, dir)
	if len(rec.Events) != 0 {
		t.Fatalf("a new store recovered %d events", len(rec.Events))
	}
	// Interleave kinds and queues: recovery must still give bindings, then
	// messages, then refs in the order they were added.
	mustApply(t, s, msg(10, "m10"), ref(2, 10), put(storage.BindingQueue, "q2", "queue 2"))
	mustApply(t, s, msg(5, "m5"), ref(1, 5), ref(2, 5))
	mustApply(t, s, put(storage.BindingAddress, "a", "address"), msg(7, "m7"), ref(1, 7), ref(2, 7))
	mustApply(t, s, ref(1, 10))
	_, rec = reopen(t, h, s, dir)
	stage := map[string]int{"binding": 0, "message": 1, "ref": 2}
	last := 0
	for i, e := range rec.Events {
		if stage[e.Kind] < last {
			t.Fatalf("event %d is a %s after a later stage: %+v", i, e.Kind, rec.Events)
		}
		last = stage[e.Kind]
	}
	var got []string
	for _, e := range rec.refs() {
		got = append(got, fmt.Sprintf("%d/%d", e.QueueID, e.MsgID))
	}
	want := []string{"2/10", "1/5", "2/5", "1/7", "2/7", "1/10"}
	if !slices.Equal(got, want) {
		t.Fatalf("refs recovered as %v, want %v", got, want)
	}
	msgs := rec.messages()
	if len(msgs) != 3 || msgs[5] != "m5" || msgs[7] != "m7" || msgs[10] != "m10" {
		t.Fatalf("messages recovered as %v", msgs)
	}
	if b := rec.bindings(); len(b) != 2 || b["2/q2"] != "queue 2" || b["1/a"] != "address" {
		t.Fatalf("bindings recovered as %q", b)
	}
}

func testRefLifecycle(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	mustApply(t, s, msg(1, "one"), ref(1, 1), ref(2, 1), msg(2, "two"), ref(1, 2), msg(3, "three"), ref(1, 3))
	// Ack one of message 1's refs, update another message's, delete a
	// message with its last ref, and update a ref that does not exist.
	mustApply(t, s, storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 1})
	mustApply(t, s, storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 2, DeliveryCount: 3, ScheduledAt: 12345})
	mustApply(t, s, storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 3}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 3})
	if err := apply(t, s, false, storage.Op{Kind: storage.OpUpdateRef, QueueID: 9, MsgID: 9, DeliveryCount: 1}); err != nil {
		t.Fatalf("updating a missing ref: %v", err)
	}
	_, rec := reopen(t, h, s, dir)
	msgs := rec.messages()
	if len(msgs) != 2 || msgs[1] != "one" || msgs[2] != "two" {
		t.Fatalf("messages after ack/delete: %v", msgs)
	}
	refs := rec.refs()
	if len(refs) != 2 {
		t.Fatalf("refs after ack: %+v", refs)
	}
	if r := refs[0]; r.QueueID != 2 || r.MsgID != 1 || r.DeliveryCount != 0 {
		t.Fatalf("first ref %+v, want queue 2 message 1", r)
	}
	if r := refs[1]; r.QueueID != 1 || r.MsgID != 2 || r.DeliveryCount != 3 || r.ScheduledAt != 12345 {
		t.Fatalf("updated ref %+v, want queue 1 message 2 delivery count 3 scheduled 12345", r)
	}
}

func testBindings(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	const other = storage.BindingKind(200) // an adapter's kind, unregistered: stores do not care
	mustApply(t, s, put(storage.BindingQueue, "k", "v1"), put(other, "k", "other"))
	mustApply(t, s, put(storage.BindingQueue, "k", "v2"))
	mustApply(t, s, put(storage.BindingQueue, "gone", "x"), put(storage.BindingMeta, "empty", ""))
	mustApply(t, s, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingQueue, Key: "gone"})
	mustApply(t, s, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingQueue, Key: "never"})
	_, rec := reopen(t, h, s, dir)
	want := map[string]string{"2/k": "v2", "200/k": "other", "5/empty": ""}
	got := rec.bindings()
	if len(got) != len(want) {
		t.Fatalf("bindings %q, want %q", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("binding %s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func testAtomicBatch(t *testing.T, h Harness) {
	// A batch mixing every kind lands whole, including an op that undoes an
	// earlier one in the same batch.
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	mustApply(t, s,
		msg(1, "a"), ref(1, 1), ref(2, 1),
		storage.Op{Kind: storage.OpAck, QueueID: 2, MsgID: 1},
		put(storage.BindingQueue, "q", "1"),
		msg(2, "b"), ref(1, 2),
		storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 2},
		storage.Op{Kind: storage.OpDeleteMessage, MsgID: 2},
		put(storage.BindingQueue, "q", "2"),
	)
	_, rec := reopen(t, h, s, dir)
	if msgs := rec.messages(); len(msgs) != 1 || msgs[1] != "a" {
		t.Fatalf("messages %v, want only 1", msgs)
	}
	if refs := rec.refs(); len(refs) != 1 || refs[0].QueueID != 1 || refs[0].MsgID != 1 {
		t.Fatalf("refs %+v, want only 1/1", refs)
	}
	if b := rec.bindings(); len(b) != 1 || b["2/q"] != "2" {
		t.Fatalf("bindings %q", b)
	}
}

func testSyncDurable(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	// Synced: present once done has run. Unsynced: present after Close,
	// which flushes.
	mustApply(t, s, msg(1, "synced"), ref(1, 1))
	s.Apply([]storage.Op{msg(2, "async"), ref(1, 2)}, false, func(error) {})
	_, rec := reopen(t, h, s, dir)
	if msgs := rec.messages(); msgs[1] != "synced" || msgs[2] != "async" {
		t.Fatalf("after reopen: %v", msgs)
	}
}

func testDoneOnce(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	const n = 500
	calls := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		s.Apply([]storage.Op{msg(uint64(i+1), "x"), ref(1, uint64(i+1))}, i%2 == 0, func(err error) {
			if err != nil {
				t.Errorf("apply %d: %v", i, err)
			}
			if calls[i].Add(1) == 1 {
				wg.Done()
			}
		})
	}
	// Empty batches also complete.
	if err := apply(t, s, true); err != nil {
		t.Fatalf("empty sync batch: %v", err)
	}
	waitGroup(t, &wg)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("done of apply %d called %d times", i, c)
		}
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("not every done was called within %v", timeout)
	}
}

func testClosed(t *testing.T, h Harness) {
	s, _ := open(t, h, t.TempDir())
	if err := s.Health(); err != nil {
		t.Fatalf("Health of an open store: %v", err)
	}
	changed := make(chan struct{}, 1)
	s.Notify(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-changed:
	case <-time.After(timeout):
		t.Fatal("Close did not notify")
	}
	if err := s.Health(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Health after Close = %v, want ErrClosed", err)
	}
	for _, sync := range []bool{true, false} {
		if err := apply(t, s, sync, msg(1, "late")); !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("Apply(sync %v) after Close = %v, want ErrClosed", sync, err)
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	const producers, each = 16, 100
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := uint64(p + 1)
			for i := range each {
				id := q<<32 | uint64(i)
				done := make(chan error, 1)
				s.Apply([]storage.Op{msg(id, fmt.Sprint(id)), ref(q, id)}, i%3 != 0, func(err error) { done <- err })
				if i%10 == 9 {
					// Some producers wait, as a sender awaiting its receipt.
					if err := <-done; err != nil {
						t.Errorf("producer %d apply %d: %v", p, i, err)
						return
					}
				}
			}
		}()
	}
	waitGroup(t, &wg)
	_, rec := reopen(t, h, s, dir)
	msgs := rec.messages()
	if len(msgs) != producers*each {
		t.Fatalf("recovered %d messages, want %d", len(msgs), producers*each)
	}
	next := map[uint64]uint64{}
	for _, r := range rec.refs() {
		if want := r.QueueID<<32 | next[r.QueueID]; r.MsgID != want {
			t.Fatalf("queue %d: ref to %x, want %x (refs out of add order)", r.QueueID, r.MsgID, want)
		}
		next[r.QueueID]++
		if msgs[r.MsgID] != fmt.Sprint(r.MsgID) {
			t.Fatalf("message %x holds %q", r.MsgID, msgs[r.MsgID])
		}
	}
}

func testLargeBatches(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	var ops []storage.Op
	for i := range 5000 {
		ops = append(ops, msg(uint64(i+1), "small"), ref(1, uint64(i+1)))
	}
	mustApply(t, s, ops...)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mustApply(t, s, storage.Op{Kind: storage.OpAddMessage, MsgID: 99999, Data: big}, ref(2, 99999))
	_, rec := reopen(t, h, s, dir)
	msgs := rec.messages()
	if intact := msgs[99999] == string(big); len(msgs) != 5001 || !intact {
		t.Fatalf("recovered %d messages (big one intact: %v)", len(msgs), intact)
	}
	if n := len(rec.refs()); n != 5001 {
		t.Fatalf("recovered %d refs, want 5001", n)
	}
}

func testStats(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	mustApply(t, s, msg(1, "a"), ref(1, 1), ref(2, 1), msg(2, "b"), ref(1, 2))
	mustApply(t, s, put(storage.BindingQueue, "q1", "x"), put(storage.BindingQueue, "q2", "y"), put(storage.BindingAddress, "a", "z"))
	mustApply(t, s, storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 2}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 2})
	// Figures are published after done: wait for them to settle.
	waitFor(t, "stats to settle", func() bool {
		st := s.Stats()
		return st.Messages == 1 && st.Refs == 2 && st.Bindings == 3 && st.Pending == 0
	})
	st := s.Stats()
	if st.Applies < 3 || st.Bytes <= 0 || st.Errors != 0 || st.Unavailable != nil || st.Pressure {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = apply(t, s, true, msg(3, "late"))
	if st := s.Stats(); st.Errors == 0 || !errors.Is(st.Unavailable, storage.ErrClosed) {
		t.Fatalf("stats after a refused Apply: %+v", st)
	}
}

// testNeverBlocks stalls the store's completions (a disk that stopped
// answering, as far as Apply can tell) and checks that Apply still returns,
// that Pressure is reported and Notify called, and that it clears.
func testNeverBlocks(t *testing.T, h Harness) {
	if h.PressureAt <= 0 {
		t.Skip("the store completes every Apply at once")
	}
	s, _ := open(t, h, t.TempDir())
	var notified atomic.Int32
	s.Notify(func() { notified.Add(1) })
	release := make(chan struct{})
	var done sync.WaitGroup
	n := h.PressureAt + 100
	done.Add(n)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for i := range n {
			s.Apply([]storage.Op{msg(uint64(i+1), "x")}, false, func(error) {
				if i == 0 {
					<-release // hold the store's goroutine
				}
				done.Done()
			})
		}
	}()
	select {
	case <-returned:
	case <-time.After(timeout):
		close(release)
		t.Fatalf("Apply blocked with its completions stalled")
	}
	if !s.Pressure() {
		close(release)
		t.Fatalf("%d outstanding Apply calls and no Pressure", n)
	}
	close(release)
	waitGroup(t, &done)
	waitFor(t, "pressure to clear", func() bool { return !s.Pressure() })
	if notified.Load() < 2 {
		t.Fatalf("Notify called %d times for pressure on and off", notified.Load())
	}
}

func testFailure(t *testing.T, h Harness) {
	if h.Break == nil {
		t.Skip("the store cannot simulate a write failure")
	}
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	mustApply(t, s, msg(1, "before"), ref(1, 1))
	changed := make(chan struct{}, 1)
	s.Notify(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	h.Break(t, s)
	// A synced Apply on a broken store is never confirmed while it is
	// broken: it fails, or waits for the store to write it.
	first := make(chan error, 1)
	s.Apply([]storage.Op{msg(2, "during"), ref(1, 2)}, true, func(err error) { first <- err })
	deadline := time.After(timeout)
	for s.Health() == nil {
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the failure was not notified, or Health is nil after a failed write")
		}
	}
	confirmed := false
	select {
	case err := <-first:
		if err == nil {
			t.Fatal("a synced Apply on a broken store reported success")
		}
		first = nil
	default:
	}
	// Every later Apply fails too, synced or not, while the store is broken.
	for _, sync := range []bool{true, false} {
		if err := apply(t, s, sync, msg(3, "later")); err == nil {
			t.Fatalf("Apply(sync %v) after the failure reported success", sync)
		}
	}
	if st := s.Stats(); st.Errors < 2 || st.Unavailable == nil {
		t.Fatalf("stats after failures: %+v", st)
	}
	if h.Heal != nil {
		h.Heal(t, s)
		for s.Health() != nil {
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("Health still %v after the cause was gone", s.Health())
			}
		}
		if first != nil {
			select {
			case err := <-first:
				confirmed = err == nil
			case <-deadline:
				t.Fatal("the Apply made while broken never completed after healing")
			}
		}
		mustApply(t, s, msg(4, "healed"), ref(1, 4))
	}
	_ = s.Close() // may report the failure again
	if first != nil && !confirmed && h.Heal == nil {
		if err := <-first; err == nil {
			t.Fatal("Close confirmed an Apply the broken store never wrote")
		}
	}
	_, rec := open(t, h, dir)
	msgs := rec.messages()
	if msgs[1] != "before" || msgs[3] != "" || (msgs[2] != "") != confirmed {
		t.Fatalf("after reopening (during confirmed: %v): %v", confirmed, msgs)
	}
	if h.Heal != nil && msgs[4] != "healed" {
		t.Fatalf("after reopening, the write after healing is missing: %v", msgs)
	}
}
