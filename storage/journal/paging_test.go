package journal

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

func pageRefOp(q, id uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpPageRef, QueueID: q, MsgID: id, Data: []byte(data)}
}

func pageInOp(q, id, pos uint64) storage.Op {
	return storage.Op{Kind: storage.OpPageIn, QueueID: q, MsgID: id, Pos: pos}
}

// pstate is a recovered state with its paged references: what Paged
// reported, and what ReadPaged reads, per queue.
type pstate struct {
	*state
	paged map[uint64][2]int64
	read  map[uint64][]string // "id/dc/sched/data"
}

func newPstate() *pstate {
	return &pstate{state: newState(), paged: map[uint64][2]int64{}, read: map[uint64][]string{}}
}

func (p *pstate) Paged(q uint64, n, bytes int64) error {
	p.paged[q] = [2]int64{n, bytes}
	return nil
}

// readPaged fills p.read from pg, reading a few at a time.
func (p *pstate) readPaged(t testing.TB, pg storage.Pager, queues ...uint64) {
	t.Helper()
	for _, q := range queues {
		var after uint64
		for {
			n := 0
			err := pg.ReadPaged(q, after, 3, func(r storage.PagedRef) error {
				p.read[q] = append(p.read[q], fmt.Sprintf("%d/%d/%d/%s", r.MsgID, r.DeliveryCount, r.ScheduledAt, r.Data))
				after = r.Pos
				n++
				return nil
			})
			if err != nil {
				t.Fatalf("ReadPaged(%d): %v", q, err)
			}
			if n < 3 {
				break
			}
		}
	}
}

func (p *pstate) equal(o *pstate) bool {
	if !p.state.equal(o.state) || len(p.paged) != len(o.paged) || len(p.read) != len(o.read) {
		return false
	}
	for q, v := range p.paged {
		if o.paged[q] != v {
			return false
		}
	}
	for q, v := range p.read {
		if !slices.Equal(o.read[q], v) {
			return false
		}
	}
	return true
}

func (p *pstate) String() string {
	return fmt.Sprintf("%v, paged %v, read %v", p.state, p.paged, p.read)
}

// loadPaged opens, loads, reads and closes a journal folder.
func loadPaged(t testing.TB, dir string, opts Options, queues ...uint64) (*pstate, error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	j, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	s := newPstate()
	if err := j.Load(context.Background(), s); err != nil {
		return nil, err
	}
	s.readPaged(t, j, queues...)
	return s, nil
}

// pagingModel replays a journal workload into the memory store, whose
// positions differ: page-in and page-drop name their record by message id
// (byPos maps the journal's positions to them).
type pagingModel struct {
	m     *memory.Store
	byPos map[uint64]uint64
}

func (pm *pagingModel) memPos(t testing.TB, q, id uint64) (uint64, bool) {
	var pos uint64
	found := false
	err := pm.m.ReadPaged(q, 0, 1<<30, func(r storage.PagedRef) error {
		if r.MsgID == id {
			pos, found = r.Pos, true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pos, found
}

func (pm *pagingModel) apply(t testing.TB, ops []storage.Op) {
	var out []storage.Op
	for _, op := range ops {
		switch op.Kind {
		case storage.OpPageIn:
			p, ok := pm.memPos(t, op.QueueID, op.MsgID)
			if !ok {
				t.Fatalf("model: page-in of %d, not paged", op.MsgID)
			}
			op.Pos = p
		case storage.OpPageDrop:
			p, ok := pm.memPos(t, op.QueueID, pm.byPos[op.Pos])
			if !ok {
				t.Fatalf("model: drop at %d, not paged", pm.byPos[op.Pos])
			}
			op.Pos = p
		}
		out = append(out, op)
	}
	pm.m.Apply(out, true, func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	})
}

func (pm *pagingModel) state(t testing.TB, queues ...uint64) *pstate {
	s := newPstate()
	if err := pm.m.Load(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	s.readPaged(t, pm.m, queues...)
	return s
}

// pagingWorkload drives j with ordinary messages on queue 1 and paged ones
// on queues 2 and 3: page-ins in the order ReadPaged reports, consumed
// paged-in messages, drops, and batches mixing all of them. It returns the
// batches applied, for a model, and the positions' message ids. before and
// after bracket each Apply.
func pagingWorkload(t testing.TB, j *Journal, n int, seed uint64, before, after func()) ([][]storage.Op, map[uint64]uint64) {
	r := rand.New(rand.NewPCG(seed, seed))
	var batches [][]storage.Op
	byPos := map[uint64]uint64{}
	live := map[uint64]uint64{} // paged in or ordinary, not consumed: id -> queue
	next := uint64(0)
	newID := func() uint64 { next++; return next }
	head := func(q uint64, k int) []storage.PagedRef {
		var out []storage.PagedRef
		if err := j.ReadPaged(q, 0, k, func(p storage.PagedRef) error {
			p.Data = nil
			out = append(out, p)
			byPos[p.Pos] = p.MsgID
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for range n {
		var ops []storage.Op
		q := uint64(2 + r.IntN(2))
		switch x := r.IntN(10); {
		case x < 4:
			for range 1 + r.IntN(3) {
				id := newID()
				ops = append(ops, storage.Op{Kind: storage.OpPageRef, QueueID: q, MsgID: id, DeliveryCount: uint32(r.IntN(2)),
					ScheduledAt: int64(r.IntN(2) * 1000), Data: []byte(payload(int(id)))})
			}
		case x < 6:
			for i, p := range head(q, 1+r.IntN(3)) {
				ops = append(ops, pageInOp(q, p.MsgID, p.Pos))
				if i == 0 && r.IntN(2) == 0 {
					ops = append(ops, ackOp(q, p.MsgID), delOp(p.MsgID))
				} else {
					live[p.MsgID] = q
				}
			}
		case x < 7:
			if h := head(q, 4); len(h) > 0 {
				ops = append(ops, storage.Op{Kind: storage.OpPageDrop, QueueID: q, Pos: h[r.IntN(len(h))].Pos})
			}
		case x < 9:
			id := newID()
			ops = append(ops, msgOp(id, payload(int(id))), refOp(1, id))
			live[id] = 1
			if r.IntN(2) == 0 {
				id := newID()
				ops = append(ops, pageRefOp(q, id, payload(int(id))))
			}
		default:
			for id, lq := range live {
				ops = append(ops, ackOp(lq, id), delOp(id))
				delete(live, id)
				if len(ops) >= 4 {
					break
				}
			}
		}
		if len(ops) == 0 {
			continue
		}
		batches = append(batches, ops)
		before()
		if err := applyWait(t, j, ops, true); err != nil {
			t.Fatal(err)
		}
		after()
	}
	return batches, byPos
}

// TestPagingCrashImages takes an image of the folder after every write,
// sync, rollover, free and compaction step of a paging workload and checks
// that each recovers to the state after some prefix of the batches
// between those confirmed and those submitted: page ops are as atomic and
// durable as the rest, and reclaim never resurrects a paged reference.
func TestPagingCrashImages(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	base := t.TempDir()
	var confirmed, submitted atomic.Int64
	type image struct {
		files  map[string][]byte
		lo, hi int
		step   string
	}
	var images []image
	h := &hooks{after: func(s ioStep) {
		images = append(images, image{files: readDirFiles(t, base), lo: int(confirmed.Load()), hi: int(submitted.Load()), step: s.op})
	}}
	opts := Options{SegmentSize: 4096, CompactLiveRatio: 0.6, hooks: h}
	j, _ := openPagedT(t, base, opts)
	batches, byPos := pagingWorkload(t, j, 300, 11, func() { submitted.Add(1) }, func() { confirmed.Add(1) })
	st := j.Detail()
	j.hookMu.Lock()
	snapshot := images
	j.hookMu.Unlock()
	j.Close()
	if st.SegmentsFreed == 0 || st.Rollovers < 5 {
		t.Fatalf("setup: no segment freed or too few rollovers: %+v", st)
	}
	pm := &pagingModel{m: memory.New(), byPos: byPos}
	states := []*pstate{pm.state(t, 2, 3)}
	for _, b := range batches {
		pm.apply(t, b)
		states = append(states, pm.state(t, 2, 3))
	}
	final := states[len(states)-1]
	if len(final.read[2])+len(final.read[3]) == 0 || len(final.refs) == 0 {
		t.Fatalf("setup: the workload ends with nothing paged or no refs: %v", final)
	}
	scratch := scratchDir(t)
	steps := map[string]int{}
	for n, img := range snapshot {
		dir, err := os.MkdirTemp(scratch, "p")
		if err != nil {
			t.Fatal(err)
		}
		writeDirFiles(t, dir, img.files)
		got, err := loadPaged(t, dir, Options{SegmentSize: 4096, CompactLiveRatio: -1, hooks: &hooks{noSync: true}}, 2, 3)
		if err != nil {
			t.Fatalf("image %d (after %s): %v", n, img.step, err)
		}
		ok := false
		for k := img.lo; k <= img.hi && k < len(states); k++ {
			ok = ok || got.equal(states[k])
		}
		if !ok {
			t.Fatalf("image %d (after %s): recovered %v;\nwant the state after %d..%d applies: %v", n, img.step, got, img.lo, img.hi, states[img.lo])
		}
		steps[img.step]++
		os.RemoveAll(dir)
	}
	// And the folder as the journal left it.
	got, err := loadPaged(t, base, Options{SegmentSize: 4096}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !got.equal(final) {
		t.Fatalf("after Close: %v\nwant %v", got, final)
	}
	t.Logf("%d crash images recovered correctly (%v); %d compactions, %d segments freed, %d rollovers",
		len(snapshot), steps, st.Compactions, st.SegmentsFreed, st.Rollovers)
}

func openPagedT(t testing.TB, dir string, opts Options) (*Journal, *pstate) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	s := newPstate()
	if err := j.Load(context.Background(), s); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return j, s
}

// TestPagedSegmentsKeptThenFreed: segments holding unread page records stay
// (and are not compacted) however dead the rest of them is; once the queue
// is drained they are freed, and a reopen finds nothing paged.
func TestPagedSegmentsKeptThenFreed(t *testing.T) {
	dir := t.TempDir()
	j, _ := openPagedT(t, dir, Options{SegmentSize: 8192, CompactLiveRatio: 0.9})
	const n = 400
	for i := range uint64(n) {
		// A paged reference between two ordinary messages that are
		// consumed at once: the segments are nearly all dead bytes.
		a, b := 10_000+2*i, 10_001+2*i
		mustApply(t, j, msgOp(a, payload(int(a))), refOp(1, a), pageRefOp(2, i+1, payload(int(i))), msgOp(b, payload(int(b))), refOp(1, b))
		mustApply(t, j, ackOp(1, a), delOp(a), ackOp(1, b), delOp(b))
	}
	waitFor(t, "housekeeping to settle", func() bool { return j.Detail().Paged == n })
	st := j.Detail()
	if st.Segments < 10 {
		t.Fatalf("setup: %d segments", st.Segments)
	}
	if st.Compactions != 0 {
		t.Fatalf("%d compactions of segments holding unread page records", st.Compactions)
	}
	// Drain: page in 50 at a time, consume.
	var after uint64
	drained := 0
	for drained < n {
		var ops []storage.Op
		err := j.ReadPaged(2, after, 50, func(p storage.PagedRef) error {
			if want := payload(drained); string(p.Data) != want {
				return fmt.Errorf("paged %d holds %q, want %q", p.MsgID, p.Data, want)
			}
			drained++
			after = p.Pos
			ops = append(ops, pageInOp(2, p.MsgID, p.Pos), ackOp(2, p.MsgID), delOp(p.MsgID))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			t.Fatalf("ReadPaged found nothing after %d of %d", drained, n)
		}
		mustApply(t, j, ops...)
	}
	// Every segment but the last couple goes.
	waitFor(t, "the drained segments to be freed", func() bool {
		d := j.Detail()
		return d.Paged == 0 && d.Segments <= 3
	})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := loadPaged(t, dir, Options{SegmentSize: 8192}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.paged) != 0 || len(got.read[2]) != 0 || len(got.messages) != 0 || len(got.refs) != 0 {
		t.Fatalf("after draining and reopening: %v", got)
	}
}

// TestPagedInCompacted: paged-in references whose segment is otherwise dead
// are compacted out as ordinary messages and references, keep their order
// among the queue's references, and their segment is freed.
func TestPagedInCompacted(t *testing.T) {
	dir := t.TempDir()
	j, _ := openPagedT(t, dir, Options{SegmentSize: 8192, CompactLiveRatio: 0.5})
	mustApply(t, j, msgOp(1000, "first"), refOp(2, 1000))
	for i := range uint64(300) {
		a := 2000 + i
		mustApply(t, j, pageRefOp(2, i+1, payload(int(i))), msgOp(a, payload(int(a))), refOp(1, a))
	}
	var all []storage.PagedRef
	if err := j.ReadPaged(2, 0, 1000, func(p storage.PagedRef) error { p.Data = nil; all = append(all, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 300 {
		t.Fatalf("read %d", len(all))
	}
	// Page in the first 200 (kept live), then make everything else dead.
	for i := 0; i < 200; i += 20 {
		var ops []storage.Op
		for _, p := range all[i : i+20] {
			ops = append(ops, pageInOp(2, p.MsgID, p.Pos))
		}
		mustApply(t, j, ops...)
	}
	for i := range uint64(300) {
		mustApply(t, j, ackOp(1, 2000+i), delOp(2000+i))
	}
	// Give back a little to move the mark on.
	mustApply(t, j, ackOp(2, 1), delOp(1))
	waitFor(t, "a compaction", func() bool { return j.Detail().Compactions > 0 })
	segsBefore := j.Detail().Segments
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := loadPaged(t, dir, Options{SegmentSize: 8192, CompactLiveRatio: -1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2/1000/0/0"}
	for i := uint64(2); i <= 200; i++ {
		want = append(want, fmt.Sprintf("2/%d/0/0", i))
	}
	if !slices.Equal(got.refs, want) {
		t.Fatalf("refs after compaction: %d %v...", len(got.refs), got.refs[:min(5, len(got.refs))])
	}
	for i := uint64(2); i <= 200; i++ {
		if got.messages[i] != payload(int(i-1)) {
			t.Fatalf("message %d = %q", i, got.messages[i])
		}
	}
	if len(got.read[2]) != 100 || got.paged[2] != [2]int64{100, int64(100 * len(payload(0)))} {
		t.Fatalf("paged after compaction: %v %d", got.paged, len(got.read[2]))
	}
	t.Logf("%d segments after compaction", segsBefore)
}

// TestPagingFormatVersion: a journal that never paged keeps writing format
// 1; the segment that takes the first page operation says 2, which a broker
// that reads only format 1 refuses.
func TestPagingFormatVersion(t *testing.T) {
	dir := t.TempDir()
	j, _ := openPagedT(t, dir, Options{})
	mustApply(t, j, msgOp(1, "x"), refOp(1, 1))
	version := func() uint32 {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, segName(j.activeSeq.Load())))
		if err != nil {
			t.Fatal(err)
		}
		h, err := decodeSegHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		return h.version
	}
	if v := version(); v != baseVersion {
		t.Fatalf("segment format %d before paging, want %d", v, baseVersion)
	}
	mustApply(t, j, pageRefOp(2, 2, "paged"))
	if v := version(); v != pagingVersion {
		t.Fatalf("segment format %d after paging, want %d", v, pagingVersion)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, formatFileName)); !strings.Contains(string(b), fmt.Sprintf("format %d\n", baseVersion)) {
		t.Fatalf("format file %q", b)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if rep.Paged != 1 || rep.PagedQueues != 1 || !strings.Contains(text.String(), "1 paged references in 1 queues") || !strings.Contains(text.String(), "page-ref=1") {
		t.Fatalf("inspect: %+v\n%s", rep, text.String())
	}
	got, err := loadPaged(t, dir, Options{}, 2)
	if err != nil || len(got.read[2]) != 1 {
		t.Fatalf("reopen: %v %v", got, err)
	}
}

// TestPagingMemoryFlat writes a million page records and checks that the
// journal's heap does not grow with them, written or replayed: an index
// entry per record, even a few bytes, would exceed the bound.
func TestPagingMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 1_000_000
	const bound = 4 << 20 // 4 bytes a record
	dir := t.TempDir()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	j, _ := openPagedT(t, dir, Options{SyncPolicy: storage.SyncNever})
	base := heap()
	body := []byte("0123456789")
	const batch = 1000
	for i := 0; i < n; i += batch {
		ops := make([]storage.Op, batch)
		for k := range ops {
			ops[k] = storage.Op{Kind: storage.OpPageRef, QueueID: uint64(1 + k%2), MsgID: uint64(i + k + 1), Data: body}
		}
		if err := applyWait(t, j, ops, false); err != nil {
			t.Fatal(err)
		}
	}
	written := heap()
	if d := j.Detail(); d.Paged != n {
		t.Fatalf("Paged = %d, want %d", d.Paged, n)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, s := openPagedT(t, dir, Options{SyncPolicy: storage.SyncNever})
	replayed := heap()
	if s.paged[1] != [2]int64{n / 2, n / 2 * int64(len(body))} {
		t.Fatalf("Paged reported %v", s.paged)
	}
	var first []uint64
	if err := j.ReadPaged(2, 0, 3, func(p storage.PagedRef) error { first = append(first, p.MsgID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, []uint64{2, 4, 6}) {
		t.Fatalf("queue 2 starts %v", first)
	}
	t.Logf("heap: %d before, +%d after writing %d page records, +%d after replaying them", base, int64(written)-int64(base), n, int64(replayed)-int64(base))
	if written > base+bound || replayed > base+bound {
		t.Fatalf("heap grew with paged references: %d before, %d written, %d replayed (bound +%d)", base, written, replayed, bound)
	}
}

// TestReadPagedReportsDamage: a sealed segment whose page records cannot be
// read is an error, not a silently shorter queue.
func TestReadPagedReportsDamage(t *testing.T) {
	dir := t.TempDir()
	j, _ := openPagedT(t, dir, Options{SegmentSize: 4096})
	for i := range uint64(60) {
		mustApply(t, j, pageRefOp(2, i+1, payload(int(i))))
	}
	if j.Detail().Rollovers == 0 {
		t.Fatal("setup: no rollover")
	}
	first := j.x.pages.queues[2].segs[0]
	// Flip a byte inside the first batch record's payload.
	f, err := os.OpenFile(filepath.Join(dir, segName(first.seq)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	off := int64(first.first) + recHeaderSize + 40
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = j.ReadPaged(2, 0, 10, func(storage.PagedRef) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("ReadPaged over a damaged record: %v", err)
	}
}

// Benchmarks. Bodies of 1 KiB, the message size.

var body1k = []byte(strings.Repeat("k", 1024))

// BenchmarkPagingWrite compares writing a paged reference with writing a
// message and its reference, sync=false, nobody waiting: the writer's own
// cost per message.
func BenchmarkPagingWrite(b *testing.B) {
	for _, mode := range []string{"page-ref", "add-message+ref"} {
		b.Run(mode, func(b *testing.B) {
			j, _ := openPagedT(b, b.TempDir(), Options{SyncPolicy: storage.SyncNever})
			done := make(chan error, 1024)
			b.SetBytes(int64(len(body1k)))
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				id := uint64(i + 1)
				var ops []storage.Op
				if mode == "page-ref" {
					ops = []storage.Op{{Kind: storage.OpPageRef, QueueID: 1, MsgID: id, Data: body1k}}
				} else {
					ops = []storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: body1k}, {Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}
				}
				j.Apply(ops, false, func(err error) { done <- err })
				if i >= 512 {
					if err := <-done; err != nil {
						b.Fatal(err)
					}
				}
			}
			for range min(b.N, 512) {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/msg")
		})
	}
}

// BenchmarkPagingDrain drains a queue as the core does: read a chunk after
// the last position, page it in, acknowledge and delete it (sync=false).
// Against it, the same drain of a queue held as ordinary references (ack
// and delete only). The read variant is ReadPaged alone.
func BenchmarkPagingDrain(b *testing.B) {
	const chunk = 256
	for _, mode := range []string{"paged", "in-memory", "read"} {
		b.Run(mode, func(b *testing.B) {
			j, _ := openPagedT(b, b.TempDir(), Options{SyncPolicy: storage.SyncNever})
			n := b.N
			if mode == "read" {
				n = min(b.N, 100_000)
			}
			for i := 0; i < n; i += 1000 {
				var ops []storage.Op
				for k := i; k < min(i+1000, n); k++ {
					id := uint64(k + 1)
					if mode == "in-memory" {
						ops = append(ops, storage.Op{Kind: storage.OpAddMessage, MsgID: id, Data: body1k}, storage.Op{Kind: storage.OpAddRef, QueueID: 1, MsgID: id})
					} else {
						ops = append(ops, storage.Op{Kind: storage.OpPageRef, QueueID: 1, MsgID: id, Data: body1k})
					}
				}
				if err := applyWait(b, j, ops, false); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(body1k)))
			b.ResetTimer()
			cpu := cpuTime()
			var after uint64
			next := uint64(1)
			for got := 0; got < b.N; {
				var ops []storage.Op
				if mode == "in-memory" {
					for k := 0; k < chunk && got < b.N; k++ {
						ops = append(ops, ackOp(1, next), delOp(next))
						next++
						got++
					}
				} else {
					read := 0
					err := j.ReadPaged(1, after, min(chunk, b.N-got), func(p storage.PagedRef) error {
						after = p.Pos
						read++
						if mode == "paged" {
							ops = append(ops, pageInOp(1, p.MsgID, p.Pos), ackOp(1, p.MsgID), delOp(p.MsgID))
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					if read == 0 {
						after = 0 // read: start over
					}
					got += read
				}
				if len(ops) > 0 {
					if err := applyWait(b, j, ops, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/msg")
		})
	}
}

// TestPageOpsOutliveTheirRecords: a page-in or page-drop record whose own
// segment is otherwise dead stays on disk while the page records it ended
// are there (kept by another live record of their segment): freeing it
// first would page them again on the next start.
func TestPageOpsOutliveTheirRecords(t *testing.T) {
	for _, kind := range []storage.OpKind{storage.OpPageIn, storage.OpPageDrop} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
			j, _ := openPagedT(t, dir, opts)
			// The first segment: page records and a message that stays.
			mustApply(t, j, msgOp(1, "stays"), refOp(1, 1), pageRefOp(2, 2, "a"), pageRefOp(2, 3, "b"))
			var ps []storage.PagedRef
			if err := j.ReadPaged(2, 0, 10, func(p storage.PagedRef) error { p.Data = nil; ps = append(ps, p); return nil }); err != nil || len(ps) != 2 {
				t.Fatalf("read %v %v", ps, err)
			}
			// Fill segments with consumed messages, end the page records
			// far from them, and fill more.
			churn := func(from int) {
				for i := from; i < from+60; i++ {
					mustApply(t, j, msgOp(uint64(i), payload(i)), refOp(1, uint64(i)))
					mustApply(t, j, ackOp(1, uint64(i)), delOp(uint64(i)))
				}
			}
			churn(100)
			if kind == storage.OpPageIn {
				// Paged in and kept: only the page-in record says so.
				mustApply(t, j, pageInOp(2, 2, ps[0].Pos), pageInOp(2, 3, ps[1].Pos))
			} else {
				mustApply(t, j, storage.Op{Kind: storage.OpPageDrop, QueueID: 2, Pos: ps[1].Pos})
			}
			churn(200)
			// The consumed churn before the page records end is freed; what
			// depends on them (the record that ended them, and acks of adds
			// next to it) is not.
			waitFor(t, "reclaim", func() bool { d := j.Detail(); return d.SegmentsFreed >= 2 && d.Paged == 0 })
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := loadPaged(t, dir, opts, 2)
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint64]string{1: "stays"}
			wantRefs := []string{"1/1/0/0"}
			if kind == storage.OpPageIn {
				want[2], want[3] = "a", "b"
				wantRefs = append(wantRefs, "2/2/0/0", "2/3/0/0")
			}
			if len(got.paged) != 0 || len(got.read[2]) != 0 || !maps.Equal(got.messages, want) || !slices.Equal(got.refs, wantRefs) {
				t.Fatalf("after reclaim and reopen: %v", got)
			}
		})
	}
}

// TestPageInReadsBack: a page-in whose record ReadPaged did not just report
// (read by an earlier process, or past what is kept ahead) reads its head
// back from the segment, with the same result.
func TestPageInReadsBack(t *testing.T) {
	dir := t.TempDir()
	j, _ := openPagedT(t, dir, Options{SegmentSize: 4096})
	for i := range uint64(40) {
		mustApply(t, j, storage.Op{Kind: storage.OpPageRef, QueueID: 2, MsgID: i + 1, DeliveryCount: uint32(i), ScheduledAt: int64(i), Data: []byte(payload(int(i)))})
	}
	var ps []storage.PagedRef
	if err := j.ReadPaged(2, 0, 100, func(p storage.PagedRef) error { p.Data = nil; ps = append(ps, p); return nil }); err != nil {
		t.Fatal(err)
	}
	p := &j.x.pages
	p.mu.Lock()
	if n := len(p.queues[2].ahead); n != 40 || p.ahead != 40 {
		t.Fatalf("%d heads kept (%d in all), want 40", n, p.ahead)
	}
	p.ahead -= len(p.queues[2].ahead)
	p.queues[2].ahead = nil
	p.mu.Unlock()
	var ops []storage.Op
	for _, r := range ps[:30] {
		ops = append(ops, pageInOp(2, r.MsgID, r.Pos))
	}
	mustApply(t, j, ops...)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := loadPaged(t, dir, Options{SegmentSize: 4096}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.refs) != 30 || got.refs[29] != "2/30/29/29" || got.messages[30] != payload(29) || got.paged[2][0] != 10 {
		t.Fatalf("after paging in without heads: %v", got)
	}
}

var pagingScale = flag.Int("paging.scale", 0, "TestPagingScale: messages of 1 KiB to page out and drain (0: skip)")

// rss returns the process's resident set, from /proc (0 elsewhere).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// TestPagingScale is the scenario at the store's level, for
// docs/PERFORMANCE.md: n messages of 1 KiB written by 16 producers each
// waiting for its confirmation (persistent sends), then a restart, then a
// drain in order as the core does it; the same with ordinary messages and
// references (a queue that fits in memory) for comparison. It reports rates,
// CPU per message, heap and RSS.
//
//	go test -run TestPagingScale -v -timeout 30m ./storage/journal -args -paging.scale=1000000
func TestPagingScale(t *testing.T) {
	n := *pagingScale
	if n == 0 {
		t.Skip("set -paging.scale")
	}
	for _, paged := range []bool{true, false} {
		name := "paged"
		if !paged {
			name = "in-memory"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			j, _ := openPagedT(t, dir, Options{})
			base := heapNow()
			start, cpu := time.Now(), cpuTime()
			const producers = 16
			var wg sync.WaitGroup
			per := n / producers
			for p := range producers {
				wg.Go(func() {
					ch := make(chan error, 1)
					done := func(err error) { ch <- err }
					for i := range per {
						id := uint64(p*per + i + 1)
						var ops []storage.Op
						if paged {
							ops = []storage.Op{{Kind: storage.OpPageRef, QueueID: 1, MsgID: id, Data: body1k}}
						} else {
							ops = []storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: body1k}, {Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}
						}
						j.Apply(ops, true, done)
						if err := <-ch; err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			total := per * producers
			el, c := time.Since(start), cpuTime()-cpu
			t.Logf("%s: wrote %d in %v: %.0f msg/s, %.1f µs CPU/msg; heap +%d MiB, RSS %d MiB, disk %d MiB",
				name, total, el.Round(time.Millisecond), float64(total)/el.Seconds(), float64(c.Microseconds())/float64(total),
				(int64(heapNow())-int64(base))>>20, rss()>>20, j.Detail().DiskBytes>>20)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			j, err := Open(dir, Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			rec := &countPaged{}
			if err := j.Load(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: reopened in %v (%d messages, %d refs, %d paged); heap +%d MiB, RSS %d MiB",
				name, time.Since(start).Round(time.Millisecond), rec.msgs, rec.refs, rec.paged, (int64(heapNow())-int64(base))>>20, rss()>>20)
			// Drain, 1024 at a time, sync=false as the core pages in and
			// acknowledges; the last batch synced.
			start, cpu = time.Now(), cpuTime()
			var after uint64
			next := uint64(0)
			for got := 0; got < total; {
				var ops []storage.Op
				if paged {
					err := j.ReadPaged(1, after, 1024, func(p storage.PagedRef) error {
						after = p.Pos
						ops = append(ops, pageInOp(1, p.MsgID, p.Pos), ackOp(1, p.MsgID), delOp(p.MsgID))
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					got += len(ops) / 3
				} else {
					for k := 0; k < 1024 && got < total; k++ {
						next++
						ops = append(ops, ackOp(1, next), delOp(next))
						got++
					}
				}
				if len(ops) == 0 {
					t.Fatalf("drained %d of %d", got, total)
				}
				if err := applyWait(t, j, ops, got == total); err != nil {
					t.Fatal(err)
				}
			}
			el, c = time.Since(start), cpuTime()-cpu
			t.Logf("%s: drained %d in %v: %.0f msg/s, %.1f µs CPU/msg; heap +%d MiB, RSS %d MiB",
				name, total, el.Round(time.Millisecond), float64(total)/el.Seconds(), float64(c.Microseconds())/float64(total),
				(int64(heapNow())-int64(base))>>20, rss()>>20)
		})
	}
}

func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type countPaged struct {
	countRecovery
	paged int64
}

func (c *countPaged) Paged(q uint64, n, bytes int64) error { c.paged += n; return nil }
