package journal

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func payload(i int) string { return fmt.Sprintf("%-100d", i) }

func TestReclaimFreesDeadSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	j, _ := openT(t, dir, opts)
	defer j.Close()
	const n = 200
	for i := 1; i <= n; i++ {
		mustApply(t, j, msgOp(uint64(i), payload(i)), refOp(1, uint64(i)))
	}
	peak := j.Detail().Segments
	if peak < 5 {
		t.Fatalf("setup: only %d segments", peak)
	}
	for i := 1; i <= n; i++ {
		mustApply(t, j, ackOp(1, uint64(i)), delOp(uint64(i)))
	}
	// Everything is dead: all sealed segments go (the last ones only once the
	// segments holding what they cancel are gone), leaving the active one and
	// the one whose cancels it still waits on at most.
	waitFor(t, "dead segments to be freed", func() bool { return j.Detail().Segments <= 2 })
	st := j.Detail()
	if st.SegmentsFreed == 0 || st.PoolSegments == 0 || st.Compactions != 0 {
		t.Fatalf("stats %+v", st)
	}
	if files := segFiles(t, dir); len(files) > 3 {
		t.Fatalf("files left: %v", files)
	}
}

// TestAckOutlivesItsAdd: an ack whose add-ref lies in an older segment that
// stays (it holds a live message) must stay too, or recovery would bring the
// reference back.
func TestAckOutlivesItsAdd(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	j, _ := openT(t, dir, opts)
	mustApply(t, j, msgOp(1, payload(1)), refOp(1, 1), refOp(2, 1))
	var batches [][]storage.Op
	batches = append(batches, []storage.Op{msgOp(1, payload(1)), refOp(1, 1), refOp(2, 1)})
	// Fill the first segment, then ack one of the refs far away.
	for i := 2; i <= 60; i++ {
		ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
		mustApply(t, j, ops...)
		batches = append(batches, ops)
		ops = []storage.Op{ackOp(1, uint64(i)), delOp(uint64(i))}
		mustApply(t, j, ops...)
		batches = append(batches, ops)
	}
	mustApply(t, j, ackOp(2, 1))
	batches = append(batches, []storage.Op{ackOp(2, 1)})
	for i := 100; i <= 160; i++ {
		ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
		mustApply(t, j, ops...)
		batches = append(batches, ops)
		ops = []storage.Op{ackOp(1, uint64(i)), delOp(uint64(i))}
		mustApply(t, j, ops...)
		batches = append(batches, ops)
	}
	waitFor(t, "reclaim to settle", func() bool { return j.Detail().SegmentsFreed > 0 })
	j.Close()
	_, got := openT(t, dir, opts)
	if want := memState(t, batches); !got.equal(want) {
		t.Fatalf("recovered %v, want %v", got, want)
	}
}

func TestCompactionKeepsStateAndFreesSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 8192, CompactLiveRatio: 0.5}
	j, _ := openT(t, dir, opts)
	var batches [][]storage.Op
	apply := func(ops ...storage.Op) {
		mustApply(t, j, ops...)
		batches = append(batches, ops)
	}
	apply(putOp(storage.BindingQueue, "q", "queue"))
	// Every 10th message stays; updates and re-puts leave superseded records.
	for i := 1; i <= 600; i++ {
		apply(msgOp(uint64(i), payload(i)), refOp(1, uint64(i)))
		if i%10 != 0 {
			apply(ackOp(1, uint64(i)), delOp(uint64(i)))
		} else {
			apply(storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: uint64(i), DeliveryCount: 2, ScheduledAt: int64(i)})
			apply(putOp(kindRetained, "t", payload(i)))
		}
	}
	waitFor(t, "compaction", func() bool { st := j.Detail(); return st.Compactions > 0 && st.Segments <= 4 })
	st := j.Detail()
	j.Close()
	want := memState(t, batches)
	j, got := openT(t, dir, opts)
	defer j.Close()
	if !got.equal(want) {
		t.Fatalf("after compaction: %v, want %v", got, want)
	}
	if len(got.refs) != 60 {
		t.Fatalf("%d refs", len(got.refs))
	}
	t.Logf("compactions %d, copied %d bytes, freed %d segments, %d on disk", st.Compactions, st.CopiedBytes, st.SegmentsFreed, st.Segments)
}

// TestDiskBoundedUnderSteadyLoad: a steady send-and-ack load with one old
// message never consumed must not grow the journal.
func TestDiskBoundedUnderSteadyLoad(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64 << 10}
	j, _ := openT(t, dir, opts)
	defer j.Close()
	mustApply(t, j, msgOp(1, "the old one"), refOp(1, 1))
	const producers, each = 4, 2500
	var maxSegs atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				id := uint64(10 + p*each + i)
				if err := applyWait(t, j, []storage.Op{msgOp(id, payload(int(id))), refOp(1, id)}, true); err != nil {
					t.Error(err)
					return
				}
				if err := applyWait(t, j, []storage.Op{ackOp(1, id), delOp(id)}, true); err != nil {
					t.Error(err)
					return
				}
				if n := int64(j.Detail().Segments); n > maxSegs.Load() {
					maxSegs.Store(n)
				}
			}
		})
	}
	wg.Wait()
	st := j.Detail()
	written := st.UsedBytes + int64(st.SegmentsFreed)*opts.SegmentSize
	t.Logf("wrote ~%d KiB through %d segments; at most %d on disk; compactions %d", written>>10, st.Rollovers+1, maxSegs.Load(), st.Compactions)
	if st.Rollovers < 10 {
		t.Fatalf("setup: only %d rollovers", st.Rollovers)
	}
	if maxSegs.Load() > 6 {
		t.Fatalf("disk grew to %d segments", maxSegs.Load())
	}
	if st.Compactions == 0 {
		t.Fatal("the old message's segment was never compacted")
	}
}

// TestCrashDuringCompaction takes an image of the folder after every I/O
// step (all journal I/O held off meanwhile, so each image is what a kill -9
// at that moment leaves) while a workload keeps compaction busy, and
// recovers each: every confirmed Apply must be there, and nothing that was
// cancelled may come back.
func TestCrashDuringCompaction(t *testing.T) {
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
		lo, hi := int(confirmed.Load()), int(submitted.Load())
		images = append(images, image{files: readDirFiles(t, base), lo: lo, hi: hi, step: s.op})
	}}
	opts := Options{SegmentSize: 4096, CompactLiveRatio: 0.6, hooks: h}
	j, _ := openT(t, base, opts)
	r := rand.New(rand.NewPCG(7, 7))
	var batches [][]storage.Op
	live := map[uint64]bool{}
	for i := 1; i <= 400; i++ {
		var ops []storage.Op
		id := uint64(i)
		switch {
		case r.IntN(4) == 0 && len(live) > 0:
			for m := range live {
				ops = []storage.Op{ackOp(1, m), delOp(m)}
				delete(live, m)
				break
			}
		case r.IntN(5) == 0:
			ops = []storage.Op{putOp(kindRetained, fmt.Sprint(r.IntN(3)), payload(i))}
		default:
			ops = []storage.Op{msgOp(id, payload(i)), refOp(1, id)}
			if r.IntN(3) == 0 {
				live[id] = true
			} else {
				ops = append(ops, storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: id, DeliveryCount: 1})
			}
		}
		batches = append(batches, ops)
		submitted.Add(1)
		if err := applyWait(t, j, ops, true); err != nil {
			t.Fatal(err)
		}
		confirmed.Add(1)
		if len(live) > 12 {
			// Keep sending acks for older messages: they land far from the adds.
			for m := range live {
				ops := []storage.Op{ackOp(1, m), delOp(m)}
				batches = append(batches, ops)
				submitted.Add(1)
				mustApply(t, j, ops...)
				confirmed.Add(1)
				delete(live, m)
				break
			}
		}
	}
	st := j.Detail()
	j.hookMu.Lock()
	snapshot := images
	j.hookMu.Unlock()
	j.Close()
	if st.Compactions == 0 || st.SegmentsFreed == 0 {
		t.Fatalf("setup: no compaction happened: %+v", st)
	}
	states := make([]*state, len(batches)+1)
	for k := range states {
		states[k] = memState(t, batches[:k])
	}
	scratch := scratchDir(t)
	steps := map[string]int{}
	for n, img := range snapshot {
		dir, err := os.MkdirTemp(scratch, "c")
		if err != nil {
			t.Fatal(err)
		}
		writeDirFiles(t, dir, img.files)
		got, err := loadDir(dir, Options{SegmentSize: 4096, CompactLiveRatio: -1, hooks: &hooks{noSync: true}})
		if err != nil {
			t.Fatalf("image %d (after %s): %v", n, img.step, err)
		}
		ok := false
		for k := img.lo; k <= img.hi && k < len(states); k++ {
			ok = ok || got.equal(states[k])
		}
		if !ok {
			var names []string
			for name := range img.files {
				names = append(names, name)
			}
			t.Fatalf("image %d (after %s, files %s): recovered %v; want the state after %d..%d applies",
				n, img.step, strings.Join(names, " "), got, img.lo, img.hi)
		}
		steps[img.step]++
		os.RemoveAll(dir)
	}
	t.Logf("%d crash images recovered correctly (%v); %d compactions, %d segments freed", len(snapshot), steps, st.Compactions, st.SegmentsFreed)
}

// TestCompactionKeepsUpWithPinnedMessages: small segments, pipelined
// producers, and every 16th message parked for good, so that nearly every
// segment keeps a little live data and only compaction can free it. Once
// the load stops, the journal must shrink to a small multiple of its live
// data.
func TestCompactionKeepsUpWithPinnedMessages(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4096}
	j, _ := openT(t, dir, opts)
	var producers, callbacks sync.WaitGroup
	acks := make(chan uint64, 1<<16)
	for p := range 4 {
		producers.Go(func() {
			window := make(chan struct{}, 16)
			for i := range 1500 {
				id := uint64(1 + p*100000 + i)
				window <- struct{}{}
				callbacks.Add(1)
				j.Apply([]storage.Op{msgOp(id, strings.Repeat("x", 350)), refOp(1, id)}, true, func(err error) {
					if err != nil {
						t.Error(err)
					}
					<-window
					if i%16 != 15 {
						acks <- id
					}
					callbacks.Done()
				})
			}
		})
	}
	consumed := make(chan struct{})
	go func() {
		for id := range acks {
			j.Apply([]storage.Op{ackOp(1, id), delOp(id)}, true, func(error) {})
		}
		close(consumed)
	}()
	producers.Wait()
	callbacks.Wait()
	close(acks)
	<-consumed
	mustApply(t, j, msgOp(999999, "last"))
	st := j.Detail()
	liveSegs := st.LiveBytes/(opts.SegmentSize-segHeaderSize) + 1
	waitFor(t, "the journal to shrink", func() bool { return int64(j.Detail().Segments) <= 4*liveSegs+4 })
	st = j.Detail()
	t.Logf("%d rollovers, %d compactions, %d segments freed; %d segments left for %d live bytes", st.Rollovers, st.Compactions, st.SegmentsFreed, st.Segments, st.LiveBytes)
	j.Close()
	_, got := openT(t, dir, opts)
	const pinned = 4 * 93 // i%16 == 15 for i < 1500
	if len(got.messages) != pinned+1 || len(got.refs) != pinned {
		t.Fatalf("recovered %v", got)
	}
}
