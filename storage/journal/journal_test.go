package journal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/junctionmq/junction/storage"
)

func TestReopenRestoresState(t *testing.T) {
	for _, policy := range []string{storage.SyncAlways, storage.SyncBatch, storage.SyncNever} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			batches := [][]storage.Op{
				{putOp(storage.BindingQueue, "q1", `{"name":"q1"}`)},
				{msgOp(1, "hello"), refOp(10, 1), refOp(11, 1)},
				{msgOp(2, "world"), refOp(10, 2)},
				{{Kind: storage.OpUpdateRef, QueueID: 10, MsgID: 1, DeliveryCount: 3, ScheduledAt: 12345}},
				{ackOp(11, 1)},
				{msgOp(3, "gone"), refOp(10, 3)},
				{ackOp(10, 3), delOp(3)},
				{putOp(kindRetained, "a/b", "r1"), putOp(kindRetained, "a/b", "r2")},
				{putOp(storage.BindingMeta, "x", "1"), {Kind: storage.OpDeleteBinding, Binding: storage.BindingMeta, Key: "x"}},
			}
			j, s := openT(t, dir, Options{SyncPolicy: policy})
			if len(s.messages)+len(s.refs)+len(s.bindings) != 0 {
				t.Fatalf("new journal recovered %v", s)
			}
			for _, b := range batches {
				mustApply(t, j, b...)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			want := memState(t, batches)
			j, got := openT(t, dir, Options{SyncPolicy: policy})
			defer j.Close()
			if !got.equal(want) {
				t.Fatalf("recovered %v, want %v", got, want)
			}
			st := j.Detail()
			if st.RecoveredMessages != 2 || st.RecoveredRefs != 2 || st.RecoveredBindings != 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// randomOps draws batches over small id spaces, so that re-adds, deletes of
// absent records, updates of absent refs and supersessions all happen.
func randomOps(r *rand.Rand, n int, big bool) [][]storage.Op {
	var out [][]storage.Op
	for range n {
		k := 1 + r.IntN(4)
		if r.IntN(20) == 0 {
			k = 20 + r.IntN(40)
		}
		var ops []storage.Op
		for range k {
			m := uint64(1 + r.IntN(40))
			q := uint64(1 + r.IntN(3))
			switch p := r.IntN(100); {
			case p < 25:
				size := r.IntN(200)
				if big && r.IntN(50) == 0 {
					size = 3000 + r.IntN(6000)
				}
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(r.Uint32())
				}
				ops = append(ops, storage.Op{Kind: storage.OpAddMessage, MsgID: m, Data: data})
			case p < 33:
				ops = append(ops, delOp(m))
			case p < 58:
				ops = append(ops, storage.Op{Kind: storage.OpAddRef, QueueID: q, MsgID: m,
					DeliveryCount: uint32(r.IntN(3)), ScheduledAt: int64(r.IntN(2)) * 1700000000000})
			case p < 78:
				ops = append(ops, ackOp(q, m))
			case p < 88:
				ops = append(ops, storage.Op{Kind: storage.OpUpdateRef, QueueID: q, MsgID: m,
					DeliveryCount: uint32(r.IntN(9)), ScheduledAt: int64(r.IntN(1000))})
			case p < 95:
				ops = append(ops, putOp(storage.BindingKind(1+r.IntN(5)), fmt.Sprintf("k%d", r.IntN(8)), fmt.Sprintf("v%d", r.IntN(1000))))
			default:
				ops = append(ops, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingKind(1 + r.IntN(5)), Key: fmt.Sprintf("k%d", r.IntN(8))})
			}
		}
		out = append(out, ops)
	}
	return out
}

// TestRandomAgainstMemory applies random batches to the journal and to the
// memory store and compares what each recovers, reopening at random points.
// Small segments make rollover, reclaim and compaction happen throughout.
func TestRandomAgainstMemory(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		seed uint64
	}{
		{"batch/4k", Options{SegmentSize: 4096}, 1},
		{"batch/16k/ratio0.6", Options{SegmentSize: 16 << 10, CompactLiveRatio: 0.6}, 2},
		{"never/8k", Options{SegmentSize: 8192, SyncPolicy: storage.SyncNever}, 3},
		{"always/4k/nocompact", Options{SegmentSize: 4096, SyncPolicy: storage.SyncAlways, CompactLiveRatio: -1}, 4},
		{"batch/64k/concurrent", Options{SegmentSize: 64 << 10}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tc.seed, 99))
			dir := t.TempDir()
			var all [][]storage.Op
			j, _ := openT(t, dir, tc.opts)
			for round := range 12 {
				batches := randomOps(r, 150, true)
				if tc.name == "batch/64k/concurrent" {
					// Concurrent producers: the order among them is the
					// order done callbacks fire in, recorded under a lock.
					var mu sync.Mutex
					var wg sync.WaitGroup
					ch := make(chan []storage.Op)
					for range 8 {
						wg.Go(func() {
							for ops := range ch {
								c := make(chan error, 1)
								mu.Lock()
								j.Apply(ops, true, func(err error) { c <- err })
								all = append(all, ops)
								mu.Unlock()
								if err := <-c; err != nil {
									t.Error(err)
								}
							}
						})
					}
					for _, ops := range batches {
						ch <- ops
					}
					close(ch)
					wg.Wait()
				} else {
					for _, ops := range batches {
						if err := applyWait(t, j, ops, r.IntN(4) != 0); err != nil {
							t.Fatal(err)
						}
						all = append(all, ops)
					}
				}
				if round%3 == 2 {
					continue
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
				want := memState(t, all)
				var got *state
				j, got = openT(t, dir, tc.opts)
				if !got.equal(want) {
					t.Fatalf("round %d: recovered %v, want %v", round, got, want)
				}
			}
			st := j.Detail()
			j.Close()
			t.Logf("%+v", st)
		})
	}
}

func TestGroupCommitCoalesces(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{})
	defer j.Close()
	const producers, each = 16, 50
	var wg sync.WaitGroup
	var failed atomic.Int64
	before := j.Detail().Syncs
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				id := uint64(p*each + i + 1)
				ch := make(chan error, 1)
				j.Apply([]storage.Op{msgOp(id, "x"), refOp(1, id)}, true, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d applies failed", failed.Load())
	}
	syncs := j.Detail().Syncs - before
	if syncs == 0 || syncs >= producers*each/2 {
		t.Fatalf("%d applies took %d syncs: no coalescing", producers*each, syncs)
	}
	t.Logf("%d applies, %d syncs", producers*each, syncs)
}

func TestSyncAlwaysSyncsEachApply(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SyncPolicy: storage.SyncAlways})
	defer j.Close()
	before := j.Detail().Syncs
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 10 {
				mustApply(t, j, msgOp(uint64(p*100+i+1), "x"))
			}
		})
	}
	wg.Wait()
	if got := j.Detail().Syncs - before; got != 40 {
		t.Fatalf("always: %d syncs for 40 applies", got)
	}
}

func TestSyncNeverDoesNotSync(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SyncPolicy: storage.SyncNever})
	before := j.Detail().Syncs
	for i := range 20 {
		mustApply(t, j, msgOp(uint64(i+1), "x"))
	}
	if got := j.Detail().Syncs - before; got != 0 {
		t.Fatalf("never: %d syncs", got)
	}
	j.Close()
}

func TestApplyStates(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := applyWait(t, j, []storage.Op{msgOp(1, "x")}, true); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("before Load: %v", err)
	}
	if err := j.Load(context.Background(), newState()); err != nil {
		t.Fatal(err)
	}
	if err := j.Load(context.Background(), newState()); err == nil {
		t.Fatal("second Load succeeded")
	}
	if err := applyWait(t, j, []storage.Op{{Kind: 99}}, true); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("invalid op: %v", err)
	}
	if err := applyWait(t, j, nil, true); err != nil {
		t.Fatalf("empty apply: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := applyWait(t, j, []storage.Op{msgOp(1, "x")}, true); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestCloseFlushesPending(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SyncPolicy: storage.SyncNever})
	var calls atomic.Int64
	var batches [][]storage.Op
	for i := range 2000 {
		ops := []storage.Op{msgOp(uint64(i+1), "m"), refOp(1, uint64(i+1))}
		batches = append(batches, ops)
		j.Apply(ops, false, func(err error) {
			if err == nil {
				calls.Add(1)
			}
		})
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2000 {
		t.Fatalf("%d of 2000 done callbacks succeeded", calls.Load())
	}
	_, got := openT(t, dir, Options{})
	if want := memState(t, batches); !got.equal(want) {
		t.Fatalf("recovered %v, want %v", got, want)
	}
}

func TestLockExcludesSecondOpen(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{})
	if _, err := Open(dir, Options{Logger: quietLogger()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	j.Close()
	j2, _ := openT(t, dir, Options{})
	j2.Close()
}

func TestOpenRejects(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"foreign files", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "postgres.conf"), []byte("x"), 0o644)
		}, ErrNotJournal},
		{"bad format magic", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, formatFileName), []byte("something else\nformat 1\n"), 0o644)
		}, ErrNotJournal},
		{"newer format file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, formatFileName), fmt.Appendf(nil, "%s\nformat %d\n", formatMagic, formatVersion+1), 0o644)
		}, ErrNewerVersion},
		{"segments without format file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, segName(1)), make([]byte, 4096), 0o644)
		}, ErrNotJournal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := Open(dir, Options{Logger: quietLogger()})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, lockFileName)); err == nil && tc.want == ErrNotJournal {
				t.Fatal("Open left a lock file in a folder that is not a journal")
			}
		})
	}
}

func TestNewerSegmentVersion(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentSize: 4096})
	mustApply(t, j, msgOp(1, "x"))
	j.Close()
	name := filepath.Join(dir, segFiles(t, dir)[0])
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hb [segHeaderSize]byte
	f.ReadAt(hb[:], 0)
	h, err := decodeSegHeader(hb[:])
	if err != nil {
		t.Fatal(err)
	}
	h.version = formatVersion + 1
	encodeSegHeader(hb[:], h)
	f.WriteAt(hb[:], 0)
	f.Close()
	if _, err := Open(dir, Options{SegmentSize: 4096, Logger: quietLogger()}); !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Open: %v, want ErrNewerVersion", err)
	}
	if _, err := Inspect(dir); !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Inspect: %v, want ErrNewerVersion", err)
	}
}

func TestReadOnlyFolder(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentSize: 4096})
	mustApply(t, j, msgOp(1, "x"))
	j.Close()
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
	} else {
		// Root ignores permissions; an immutable folder refuses even root.
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make a read-only folder as root: %v %s", err, out)
		}
		defer exec.Command("chattr", "-i", dir).Run()
	}
	_, err := Open(dir, Options{Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Open of a read-only folder: %v", err)
	}
}
