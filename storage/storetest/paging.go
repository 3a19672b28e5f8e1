package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
)

// The paging half of the contract: what a store implementing storage.Pager
// guarantees the core when it pages a queue's tail out. A store that is not
// a Pager skips these.

func pagingTests() []struct {
	name string
	fn   func(*testing.T, Harness)
} {
	return []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"PagedOrder", testPagedOrder},
		{"PageIn", testPageIn},
		{"PageDrop", testPageDrop},
		{"PagedRecovery", testPagedRecovery},
		{"PagedNeedsRecovery", testPagedNeedsRecovery},
		{"PagedAtomic", testPagedAtomic},
		{"PagedDrain", testPagedDrain},
		{"PagedFailure", testPagedFailure},
	}
}

// Paged is one PagedRecovery call.
type Paged struct {
	QueueID uint64
	Count   int64
	Bytes   int64
}

// Paged implements storage.PagedRecovery.
func (r *Recorder) Paged(queueID uint64, count, bytes int64) error {
	r.Events = append(r.Events, Event{Kind: "paged", QueueID: queueID, Count: count, Bytes: bytes})
	return nil
}

// PagedQueues returns what the store reported through Paged, by queue.
func (r *Recorder) PagedQueues() map[uint64]Paged {
	out := map[uint64]Paged{}
	for _, e := range r.Events {
		if e.Kind == "paged" {
			out[e.QueueID] = Paged{e.QueueID, e.Count, e.Bytes}
		}
	}
	return out
}

func pager(t *testing.T, s storage.Store) storage.Pager {
	t.Helper()
	p, ok := s.(storage.Pager)
	if !ok {
		t.Skip("the store does not implement storage.Pager")
	}
	return p
}

func pageRef(q, id uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpPageRef, QueueID: q, MsgID: id, Data: []byte(data)}
}

func pageIn(q, id, pos uint64) storage.Op {
	return storage.Op{Kind: storage.OpPageIn, QueueID: q, MsgID: id, Pos: pos}
}

func pageDrop(q, pos uint64) storage.Op {
	return storage.Op{Kind: storage.OpPageDrop, QueueID: q, Pos: pos}
}

// readAll returns every paged reference of q after position after, reading
// max at a time, and checks that positions increase.
func readAll(t *testing.T, p storage.Pager, q, after uint64, max int) []storage.PagedRef {
	t.Helper()
	var out []storage.PagedRef
	for {
		n := 0
		err := p.ReadPaged(q, after, max, func(r storage.PagedRef) error {
			if r.Pos <= after {
				return fmt.Errorf("queue %d: position %d reported after %d", q, r.Pos, after)
			}
			after = r.Pos
			r.Data = slices.Clone(r.Data)
			out = append(out, r)
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("ReadPaged(%d): %v", q, err)
		}
		if n > max {
			t.Fatalf("ReadPaged(%d, max %d) reported %d", q, max, n)
		}
		if n < max {
			return out
		}
	}
}

func ids(refs []storage.PagedRef) []uint64 {
	out := make([]uint64, len(refs))
	for i, r := range refs {
		out[i] = r.MsgID
	}
	return out
}

func body(id uint64) string { return fmt.Sprintf("paged message %d", id) }

// pageAll pages ids into q, one Apply each, with the body body(id).
func pageAll(t *testing.T, s storage.Store, q uint64, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		mustApply(t, s, pageRef(q, id, body(id)))
	}
}

func bodyBytes(ids ...uint64) int64 {
	var n int64
	for _, id := range ids {
		n += int64(len(body(id)))
	}
	return n
}

func waitPaged(t *testing.T, s storage.Store, want int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Stats().Paged = %d (now %d)", want, s.Stats().Paged), func() bool { return s.Stats().Paged == want })
}

func testPagedOrder(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	if got := readAll(t, p, 1, 0, 10); len(got) != 0 {
		t.Fatalf("a new store has paged references %v", ids(got))
	}
	// Two queues interleaved, several per batch, with delivery counts and
	// schedules, and one batch unsynced: ReadPaged sees it once done ran.
	mustApply(t, s, pageRef(1, 1, body(1)), pageRef(2, 101, body(101)), pageRef(1, 2, body(2)))
	mustApply(t, s, storage.Op{Kind: storage.OpPageRef, QueueID: 1, MsgID: 3, DeliveryCount: 4, ScheduledAt: 98765, Data: []byte(body(3))})
	if err := apply(t, s, false, pageRef(2, 102, body(102)), pageRef(1, 4, body(4))); err != nil {
		t.Fatalf("unsynced Apply: %v", err)
	}
	all := readAll(t, p, 1, 0, 100)
	if got := ids(all); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("queue 1 paged %v, want [1 2 3 4]", got)
	}
	for _, r := range all {
		if string(r.Data) != body(r.MsgID) {
			t.Fatalf("paged %d holds %q", r.MsgID, r.Data)
		}
	}
	if r := all[2]; r.DeliveryCount != 4 || r.ScheduledAt != 98765 {
		t.Fatalf("paged 3 read as %+v, want delivery count 4 scheduled 98765", r)
	}
	if r := all[0]; r.DeliveryCount != 0 || r.ScheduledAt != 0 {
		t.Fatalf("paged 1 read as %+v, want delivery count 0 unscheduled", r)
	}
	if got := ids(readAll(t, p, 2, 0, 100)); !slices.Equal(got, []uint64{101, 102}) {
		t.Fatalf("queue 2 paged %v, want [101 102]", got)
	}
	// Paging through with after and max.
	ones := readAll(t, p, 1, 0, 1)
	if got := ids(ones); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("queue 1 read one at a time: %v", got)
	}
	for i := range ones {
		if ones[i].Pos != all[i].Pos || string(ones[i].Data) != string(all[i].Data) {
			t.Fatalf("paged %d read one at a time as %+v, at once as %+v", ones[i].MsgID, ones[i], all[i])
		}
	}
	var two []uint64
	if err := p.ReadPaged(1, all[0].Pos, 2, func(r storage.PagedRef) error { two = append(two, r.MsgID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(two, []uint64{2, 3}) {
		t.Fatalf("ReadPaged after the first, max 2: %v, want [2 3]", two)
	}
	if got := readAll(t, p, 1, all[3].Pos, 10); len(got) != 0 {
		t.Fatalf("ReadPaged after the last: %v", ids(got))
	}
	if got := readAll(t, p, 3, 0, 10); len(got) != 0 {
		t.Fatalf("a queue never paged has %v", ids(got))
	}
	// An error from fn stops the read and comes back.
	stop := errors.New("enough")
	calls := 0
	err := p.ReadPaged(1, 0, 10, func(storage.PagedRef) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn's error: ReadPaged returned %v after %d calls, want %v after 1", err, calls, stop)
	}
	waitPaged(t, s, 6)
	// Order and content survive a reopen.
	s, _ = reopen(t, h, s, dir)
	p = pager(t, s)
	again := readAll(t, p, 1, 0, 3)
	if got := ids(again); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("queue 1 paged %v after reopening", got)
	}
	if r := again[2]; r.DeliveryCount != 4 || r.ScheduledAt != 98765 || string(r.Data) != body(3) {
		t.Fatalf("paged 3 read as %+v after reopening", r)
	}
	// New ones go after the old ones.
	pageAll(t, s, 1, 5)
	if got := ids(readAll(t, p, 1, 0, 100)); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("queue 1 paged %v after reopening and paging 5", got)
	}
	waitPaged(t, s, 7)
}

func testPageIn(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	// An ordinary reference first, as the core holds a queue's head in
	// memory and pages its tail.
	mustApply(t, s, msg(50, "in memory"), ref(1, 50))
	mustApply(t, s,
		storage.Op{Kind: storage.OpPageRef, QueueID: 1, MsgID: 1, DeliveryCount: 2, ScheduledAt: 555, Data: []byte(body(1))},
		pageRef(1, 2, body(2)), pageRef(1, 3, body(3)), pageRef(1, 4, body(4)), pageRef(1, 5, body(5)), pageRef(1, 6, body(6)))
	all := readAll(t, p, 1, 0, 100)
	if len(all) != 6 {
		t.Fatalf("paged %v", ids(all))
	}
	mustApply(t, s, pageIn(1, 1, all[0].Pos), pageIn(1, 2, all[1].Pos))
	if got := ids(readAll(t, p, 1, 0, 100)); !slices.Equal(got, []uint64{3, 4, 5, 6}) {
		t.Fatalf("after paging in 1 and 2, paged %v", got)
	}
	waitPaged(t, s, 4)
	// Paged in, they are ordinary: update one, ack and delete the other.
	mustApply(t, s, storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 2, DeliveryCount: 7, ScheduledAt: 777})
	mustApply(t, s, storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 50}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 50})
	// Paged in and consumed in one batch.
	mustApply(t, s, pageIn(1, 3, all[2].Pos), storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 3}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 3})
	waitPaged(t, s, 3)
	s, rec := reopen(t, h, s, dir)
	p = pager(t, s)
	if msgs := rec.messages(); len(msgs) != 2 || msgs[1] != body(1) || msgs[2] != body(2) {
		t.Fatalf("messages after paging in: %v", msgs)
	}
	refs := rec.refs()
	if len(refs) != 2 {
		t.Fatalf("refs after paging in: %+v", refs)
	}
	if r := refs[0]; r.QueueID != 1 || r.MsgID != 1 || r.DeliveryCount != 2 || r.ScheduledAt != 555 {
		t.Fatalf("paged-in ref %+v, want 1/1 with the delivery count 2 and schedule 555 it was paged with", r)
	}
	if r := refs[1]; r.QueueID != 1 || r.MsgID != 2 || r.DeliveryCount != 7 || r.ScheduledAt != 777 {
		t.Fatalf("updated paged-in ref %+v, want 1/2 delivery count 7 scheduled 777", r)
	}
	if got := rec.PagedQueues(); len(got) != 1 || got[1] != (Paged{1, 3, bodyBytes(4, 5, 6)}) {
		t.Fatalf("Paged reported %+v, want queue 1: 3 refs, %d bytes", got, bodyBytes(4, 5, 6))
	}
	rest := readAll(t, p, 1, 0, 100)
	if got := ids(rest); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Fatalf("paged %v after reopening", got)
	}
	// Page in after a reopen, with the positions it reports, then consume
	// the first paged-in ones.
	mustApply(t, s, pageIn(1, 4, rest[0].Pos), storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 1}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 1})
	s, rec = reopen(t, h, s, dir)
	if msgs := rec.messages(); len(msgs) != 2 || msgs[2] != body(2) || msgs[4] != body(4) {
		t.Fatalf("messages after paging in 4: %v", msgs)
	}
	var got []uint64
	for _, r := range rec.refs() {
		got = append(got, r.MsgID)
	}
	if !slices.Equal(got, []uint64{2, 4}) {
		t.Fatalf("refs %v, want [2 4] in their queue order", got)
	}
	if got := rec.PagedQueues(); got[1] != (Paged{1, 2, bodyBytes(5, 6)}) {
		t.Fatalf("Paged reported %+v, want queue 1: 2 refs", got)
	}
	if got := ids(readAll(t, pager(t, s), 1, 0, 100)); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("paged %v", got)
	}
}

func testPageDrop(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	pageAll(t, s, 1, 1, 2, 3)
	pageAll(t, s, 2, 101)
	pageAll(t, s, 1, 4, 5, 6)
	pageAll(t, s, 2, 102)
	q1 := readAll(t, p, 1, 0, 100)
	// 1 is paged in: a drop past it leaves it alone.
	mustApply(t, s, pageIn(1, 1, q1[0].Pos))
	mustApply(t, s, pageDrop(1, q1[2].Pos))
	if got := ids(readAll(t, p, 1, 0, 100)); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Fatalf("after dropping through 3: %v", got)
	}
	if got := ids(readAll(t, p, 2, 0, 100)); !slices.Equal(got, []uint64{101, 102}) {
		t.Fatalf("queue 2 after dropping queue 1's: %v", got)
	}
	waitPaged(t, s, 5)
	s, rec := reopen(t, h, s, dir)
	p = pager(t, s)
	if msgs := rec.messages(); len(msgs) != 1 || msgs[1] != body(1) {
		t.Fatalf("messages after the drop: %v", msgs)
	}
	if refs := rec.refs(); len(refs) != 1 || refs[0].MsgID != 1 {
		t.Fatalf("refs after the drop: %+v", refs)
	}
	want := map[uint64]Paged{1: {1, 3, bodyBytes(4, 5, 6)}, 2: {2, 2, bodyBytes(101, 102)}}
	if got := rec.PagedQueues(); !mapsEqual(got, want) {
		t.Fatalf("Paged reported %+v, want %+v", got, want)
	}
	q1 = readAll(t, p, 1, 0, 100)
	if got := ids(q1); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Fatalf("after reopening: %v", got)
	}
	// Dropping at a position between two of them, then everything.
	mustApply(t, s, pageDrop(1, q1[0].Pos))
	if got := ids(readAll(t, p, 1, 0, 100)); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("after dropping 4: %v", got)
	}
	mustApply(t, s, pageDrop(1, q1[2].Pos))
	if got := readAll(t, p, 1, 0, 100); len(got) != 0 {
		t.Fatalf("after dropping all: %v", ids(got))
	}
	waitPaged(t, s, 2)
	// A queue whose paged references are all gone is not reported.
	s, rec = reopen(t, h, s, dir)
	want = map[uint64]Paged{2: {2, 2, bodyBytes(101, 102)}}
	if got := rec.PagedQueues(); !mapsEqual(got, want) {
		t.Fatalf("Paged reported %+v, want %+v", got, want)
	}
	// Paging resumes after a drop, in order.
	pageAll(t, s, 1, 7)
	if got := ids(readAll(t, pager(t, s), 1, 0, 100)); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("paged after the drops: %v", got)
	}
	// The core drops a whole paged tail (purge, queue delete) at the
	// largest position; paging goes on after it.
	mustApply(t, s, pageDrop(2, math.MaxUint64))
	if got := readAll(t, pager(t, s), 2, 0, 100); len(got) != 0 {
		t.Fatalf("after dropping at MaxUint64: %v", ids(got))
	}
	pageAll(t, s, 2, 103)
	if got := ids(readAll(t, pager(t, s), 2, 0, 100)); !slices.Equal(got, []uint64{103}) {
		t.Fatalf("paged after dropping at MaxUint64: %v", got)
	}
	s, rec = reopen(t, h, s, dir)
	want = map[uint64]Paged{1: {1, 1, bodyBytes(7)}, 2: {2, 1, bodyBytes(103)}}
	if got := rec.PagedQueues(); !mapsEqual(got, want) {
		t.Fatalf("Paged reported %+v, want %+v", got, want)
	}
	if got := ids(readAll(t, pager(t, s), 2, 0, 100)); !slices.Equal(got, []uint64{103}) {
		t.Fatalf("paged after reopening: %v", got)
	}
}

func mapsEqual(a, b map[uint64]Paged) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testPagedRecovery(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	pager(t, s)
	mustApply(t, s, put(storage.BindingQueue, "q1", "x"), msg(1, "m1"), ref(1, 1), ref(2, 1))
	pageAll(t, s, 1, 10, 11)
	pageAll(t, s, 3, 30)
	mustApply(t, s, msg(2, "m2"), ref(2, 2))
	_, rec := reopen(t, h, s, dir)
	// Paged comes after every Ref, once per queue with paged references.
	stage := map[string]int{"binding": 0, "message": 1, "ref": 2, "paged": 3}
	last := 0
	seen := map[uint64]bool{}
	for i, e := range rec.Events {
		if stage[e.Kind] < last {
			t.Fatalf("event %d is a %s after a later stage: %+v", i, e.Kind, rec.Events)
		}
		last = stage[e.Kind]
		if e.Kind == "paged" {
			if seen[e.QueueID] {
				t.Fatalf("queue %d reported twice through Paged", e.QueueID)
			}
			seen[e.QueueID] = true
		}
	}
	want := map[uint64]Paged{1: {1, 2, bodyBytes(10, 11)}, 3: {3, 1, bodyBytes(30)}}
	if got := rec.PagedQueues(); !mapsEqual(got, want) {
		t.Fatalf("Paged reported %+v, want %+v", got, want)
	}
	if n := len(rec.refs()); n != 3 {
		t.Fatalf("recovered %d refs, want 3 (paged ones are not refs)", n)
	}
	if msgs := rec.messages(); len(msgs) != 2 {
		t.Fatalf("recovered messages %v: paged ones are not messages", msgs)
	}
}

// plainRecovery is a Recovery that does not take paged references.
type plainRecovery struct{ r Recorder }

func (p *plainRecovery) Binding(k storage.BindingKind, key string, data []byte) error {
	return p.r.Binding(k, key, data)
}
func (p *plainRecovery) Message(id uint64, data []byte) error { return p.r.Message(id, data) }
func (p *plainRecovery) Ref(q, m uint64, dc uint32, sched int64) error {
	return p.r.Ref(q, m, dc, sched)
}

func testPagedNeedsRecovery(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	pager(t, s)
	mustApply(t, s, msg(1, "m1"), ref(1, 1))
	pageAll(t, s, 1, 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Paged references and a Recovery that cannot take them: Load fails
	// rather than lose them silently.
	s = h.Open(t, dir)
	err := s.Load(context.Background(), &plainRecovery{})
	_ = s.Close()
	if err == nil {
		t.Fatal("Load succeeded with paged references and a Recovery that is no PagedRecovery")
	}
	// Once none is left, any Recovery will do.
	s, _ = open(t, h, dir)
	got := readAll(t, pager(t, s), 1, 0, 10)
	if len(got) != 1 {
		t.Fatalf("paged %v after the failed Load", ids(got))
	}
	mustApply(t, s, pageIn(1, 2, got[0].Pos))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.Open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	plain := &plainRecovery{}
	if err := s.Load(context.Background(), plain); err != nil {
		t.Fatalf("Load with nothing paged and a plain Recovery: %v", err)
	}
	if msgs := plain.r.messages(); len(msgs) != 2 || msgs[2] != body(2) {
		t.Fatalf("messages %v", msgs)
	}
}

func testPagedAtomic(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	pageAll(t, s, 1, 1, 2, 3)
	pageAll(t, s, 2, 21, 22)
	q1 := readAll(t, p, 1, 0, 10)
	q2 := readAll(t, p, 2, 0, 10)
	// One batch of every kind, with a page-in consumed within it and a
	// page-ref dropped within it.
	mustApply(t, s,
		msg(10, "m10"), ref(1, 10),
		pageIn(1, 1, q1[0].Pos),
		storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 1, DeliveryCount: 3},
		pageIn(1, 2, q1[1].Pos),
		storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: 2}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: 2},
		pageRef(1, 4, body(4)),
		pageDrop(2, q2[1].Pos),
		pageRef(2, 23, body(23)),
		put(storage.BindingQueue, "q", "v"),
	)
	check := func(s storage.Store, rec *Recorder) {
		t.Helper()
		p := pager(t, s)
		if got := ids(readAll(t, p, 1, 0, 10)); !slices.Equal(got, []uint64{3, 4}) {
			t.Fatalf("queue 1 paged %v, want [3 4]", got)
		}
		if got := ids(readAll(t, p, 2, 0, 10)); !slices.Equal(got, []uint64{23}) {
			t.Fatalf("queue 2 paged %v, want [23]", got)
		}
		waitPaged(t, s, 3)
		if rec == nil {
			return
		}
		if msgs := rec.messages(); len(msgs) != 2 || msgs[1] != body(1) || msgs[10] != "m10" {
			t.Fatalf("messages %v", msgs)
		}
		var got []string
		for _, r := range rec.refs() {
			got = append(got, fmt.Sprintf("%d/%d/%d", r.QueueID, r.MsgID, r.DeliveryCount))
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"1/1/3", "1/10/0"}) {
			t.Fatalf("refs %v", got)
		}
		want := map[uint64]Paged{1: {1, 2, bodyBytes(3, 4)}, 2: {2, 1, bodyBytes(23)}}
		if got := rec.PagedQueues(); !mapsEqual(got, want) {
			t.Fatalf("Paged reported %+v, want %+v", got, want)
		}
	}
	check(s, nil)
	s, rec := reopen(t, h, s, dir)
	check(s, rec)
}

// testPagedDrain pages three queues concurrently, partly unsynced, while
// another goroutine drains one as the core does: read a chunk after the last
// position, page it in, consume half.
func testPagedDrain(t *testing.T, h Harness) {
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	const queues, each = 3, 1500
	var wg sync.WaitGroup
	for q := uint64(1); q <= queues; q++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); i < each; {
				n := min(1+i%7, each-i)
				var ops []storage.Op
				for k := range n {
					id := q<<32 | (i + k)
					ops = append(ops, pageRef(q, id, strings.Repeat("x", int(id%200))))
				}
				if err := apply(t, s, i%3 == 0, ops...); err != nil {
					t.Errorf("queue %d: %v", q, err)
					return
				}
				i += n
			}
		}()
	}
	// Drain queue 1 while the others are written, and while queue 1 is.
	var after uint64
	next := uint64(0)
	deadline := time.Now().Add(timeout)
	for next < each {
		if time.Now().After(deadline) {
			t.Fatalf("drained %d of %d within %v", next, each, timeout)
		}
		var ops []storage.Op
		// Few at a time, so that reads stop inside the batches.
		err := p.ReadPaged(1, after, 5, func(r storage.PagedRef) error {
			if want := uint64(1)<<32 | next; r.MsgID != want {
				return fmt.Errorf("read %x, want %x", r.MsgID, want)
			}
			if len(r.Data) != int(r.MsgID%200) {
				return fmt.Errorf("%x holds %d bytes", r.MsgID, len(r.Data))
			}
			next++
			after = r.Pos
			ops = append(ops, pageIn(1, r.MsgID, r.Pos))
			if r.MsgID%2 == 0 {
				ops = append(ops, storage.Op{Kind: storage.OpAck, QueueID: 1, MsgID: r.MsgID}, storage.Op{Kind: storage.OpDeleteMessage, MsgID: r.MsgID})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ReadPaged: %v", err)
		}
		if len(ops) > 0 {
			mustApply(t, s, ops...)
		} else {
			time.Sleep(time.Millisecond) // the writers are behind the reader
		}
	}
	waitGroup(t, &wg)
	waitPaged(t, s, 2*each)
	s, rec := reopen(t, h, s, dir)
	refs := rec.refs()
	if n := len(refs); n != each/2 {
		t.Fatalf("recovered %d refs, want %d", n, each/2)
	}
	// The paged-in references kept: in order, each with its message.
	msgs := rec.messages()
	for i, r := range refs {
		want := uint64(1)<<32 | uint64(2*i+1)
		if r.QueueID != 1 || r.MsgID != want || len(msgs[want]) != int(want%200) || strings.Trim(msgs[want], "x") != "" {
			t.Fatalf("ref %d is %d/%x with a message of %d bytes, want 1/%x with %d", i, r.QueueID, r.MsgID, len(msgs[r.MsgID]), want, want%200)
		}
	}
	var bytes int64
	for i := range uint64(each) {
		bytes += int64((uint64(2)<<32 | i) % 200)
	}
	if got := rec.PagedQueues(); got[2] != (Paged{2, each, bytes}) || got[1].Count != 0 || len(got) != 2 {
		t.Fatalf("Paged reported %+v", got)
	}
	p = pager(t, s)
	for q := uint64(2); q <= queues; q++ {
		got := readAll(t, p, q, 0, 100)
		if len(got) != each {
			t.Fatalf("queue %d: %d paged after reopening, want %d", q, len(got), each)
		}
		for i, r := range got {
			if r.MsgID != q<<32|uint64(i) {
				t.Fatalf("queue %d: paged %d is %x", q, i, r.MsgID)
			}
		}
	}
}

func testPagedFailure(t *testing.T, h Harness) {
	if h.Break == nil {
		t.Skip("the store cannot simulate a write failure")
	}
	dir := t.TempDir()
	s, _ := open(t, h, dir)
	p := pager(t, s)
	pageAll(t, s, 1, 1, 2)
	before := readAll(t, p, 1, 0, 10)
	h.Break(t, s)
	// Trigger the failure and wait until the store knows it.
	trigger := make(chan error, 1)
	s.Apply([]storage.Op{msg(99, "trigger")}, true, func(err error) { trigger <- err })
	waitFor(t, "Health to report the failure", func() bool { return s.Health() != nil })
	// While broken, a batch of page ops fails whole.
	if err := apply(t, s, true, pageRef(1, 3, body(3)), pageIn(1, 1, before[0].Pos), pageDrop(1, before[1].Pos)); err == nil {
		t.Fatal("a page batch on a broken store reported success")
	}
	// A store whose failure is the database being away may not read
	// either; one that reads must not show the failed batch.
	var during []uint64
	if err := p.ReadPaged(1, 0, 10, func(r storage.PagedRef) error { during = append(during, r.MsgID); return nil }); err == nil && !slices.Equal(during, []uint64{1, 2}) {
		t.Fatalf("after a failed page batch, paged %v, want [1 2]", during)
	}
	if h.Heal != nil {
		h.Heal(t, s)
		waitFor(t, "Health to clear", func() bool { return s.Health() == nil })
	}
	_ = s.Close()
	select {
	case <-trigger:
	case <-time.After(timeout):
		t.Fatal("the trigger Apply never completed")
	}
	s, rec := open(t, h, dir)
	if got := ids(readAll(t, pager(t, s), 1, 0, 10)); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("after reopening, paged %v, want [1 2]", got)
	}
	if got := rec.PagedQueues(); got[1] != (Paged{1, 2, bodyBytes(1, 2)}) {
		t.Fatalf("Paged reported %+v", got)
	}
	if refs := rec.refs(); len(refs) != 0 {
		t.Fatalf("refs %+v after a failed page-in", refs)
	}
}
