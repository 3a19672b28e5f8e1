package journal

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/junctionmq/junction/storage"
)

// faultAfter returns hooks that fail the step matching op on a segment file
// once armed, with err; torn > 0 makes a failing write write that many bytes.
type faultPlan struct {
	op    string
	err   error
	torn  int
	armed atomic.Bool
	hits  atomic.Int64
}

func (f *faultPlan) hooks() *hooks {
	return &hooks{before: func(s ioStep) (int, error) {
		if !f.armed.Load() || s.op != f.op {
			return 0, nil
		}
		if s.op != "prepare" && !strings.Contains(s.path, ".seg") {
			return 0, nil
		}
		f.hits.Add(1)
		return f.torn, f.err
	}}
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name    string
		op      string
		err     error
		torn    int
		segSize int64
		// mayLand: the failed Apply may be found after reopening (it was
		// written; only its sync failed).
		mayLand bool
	}{
		{"write ENOSPC", "write", syscall.ENOSPC, 0, 64 << 10, false},
		{"write EIO torn", "write", syscall.EIO, 30, 64 << 10, false},
		{"write EROFS", "write", syscall.EROFS, 0, 64 << 10, false},
		{"sync EIO", "sync", syscall.EIO, 0, 64 << 10, true},
		{"prepare ENOSPC at rollover", "prepare", syscall.ENOSPC, 0, 4096, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plan := &faultPlan{op: tc.op, err: tc.err, torn: tc.torn}
			var logs logBuffer
			opts := Options{SegmentSize: tc.segSize, CompactLiveRatio: -1, hooks: plan.hooks(), Logger: logs.logger()}
			j, _ := openT(t, dir, opts)
			var good [][]storage.Op
			for i := 1; i <= 5; i++ {
				ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
				mustApply(t, j, ops...)
				good = append(good, ops)
			}
			plan.armed.Store(true)
			// Keep applying until the fault hits (at once, or at the next
			// rollover for prepare).
			var failed []storage.Op
			var failErr error
			for i := 6; i < 200 && failErr == nil; i++ {
				ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
				if err := applyWait(t, j, ops, true); err != nil {
					failErr, failed = err, ops
				} else {
					good = append(good, ops)
				}
			}
			if failErr == nil {
				t.Fatal("the fault never hit")
			}
			if !errors.Is(failErr, ErrFailed) || !errors.Is(failErr, tc.err) {
				t.Fatalf("done got %v, want ErrFailed wrapping %v", failErr, tc.err)
			}
			// Every later Apply fails at once, synchronously.
			called := false
			j.Apply([]storage.Op{msgOp(999, "x")}, true, func(err error) {
				called = true
				if !errors.Is(err, ErrFailed) {
					t.Errorf("later Apply: %v", err)
				}
			})
			if !called {
				t.Fatal("later Apply was queued instead of failing at once")
			}
			if st := j.Detail(); st.Failed == nil {
				t.Fatal("stats do not report the failure")
			}
			if err := j.Close(); !errors.Is(err, ErrFailed) {
				t.Fatalf("Close: %v", err)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Fatal("failure not logged")
			}
			// Reopened, the journal holds every confirmed Apply; the failed
			// one only if it reached the file.
			opts.hooks = nil
			_, got := openT(t, dir, opts)
			want := memState(t, good)
			if !got.equal(want) && !(tc.mayLand && got.equal(memState(t, append(good, failed)))) {
				t.Fatalf("after reopen: %v, want %v", got, want)
			}
		})
	}
}

// TestFaultWithConcurrentProducers: once the journal fails, every pending
// done callback is called with an error or had succeeded before; none hangs.
func TestFaultWithConcurrentProducers(t *testing.T) {
	dir := t.TempDir()
	plan := &faultPlan{op: "sync", err: syscall.EIO}
	j, _ := openT(t, dir, Options{hooks: plan.hooks()})
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	for p := range 16 {
		wg.Go(func() {
			for i := range 200 {
				if p == 0 && i == 50 {
					plan.armed.Store(true)
				}
				id := uint64(p*1000 + i + 1)
				if err := applyWait(t, j, []storage.Op{msgOp(id, "x"), refOp(1, id)}, true); err != nil {
					if !errors.Is(err, ErrFailed) {
						t.Errorf("unexpected error %v", err)
					}
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	j.Close()
	if bad.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("ok %d, failed %d", ok.Load(), bad.Load())
	}
	// No confirmation after the failure: the confirmed ones are all there.
	opts := Options{}
	_, got := openT(t, dir, opts)
	if int64(len(got.messages)) < ok.Load() {
		t.Fatalf("%d confirmed, %d recovered", ok.Load(), len(got.messages))
	}
}
