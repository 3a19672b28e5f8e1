package journal

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// TestSyncFaultIsFatal: after a failed sync Linux may have dropped pages it
// could not write, so the journal fails for good: the request and every later
// one fail, and only a reopen continues.
func TestSyncFaultIsFatal(t *testing.T) {
	dir := t.TempDir()
	plan := &faultPlan{op: "sync", err: syscall.EIO}
	var logs logBuffer
	opts := Options{SegmentSize: 64 << 10, CompactLiveRatio: -1, hooks: plan.hooks(), Logger: logs.logger()}
	j, _ := openT(t, dir, opts)
	var good [][]storage.Op
	for i := 1; i <= 5; i++ {
		ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
		mustApply(t, j, ops...)
		good = append(good, ops)
	}
	plan.armed.Store(true)
	failed := []storage.Op{msgOp(6, payload(6)), refOp(1, 6)}
	if err := applyWait(t, j, failed, true); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("done got %v, want ErrFailed wrapping EIO", err)
	}
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
	// Only the sync failed: the failed Apply may be on disk.
	opts.hooks = nil
	_, got := openT(t, dir, opts)
	if !got.equal(memState(t, good)) && !got.equal(memState(t, append(good, failed))) {
		t.Fatalf("after reopen: %v, want %v", got, memState(t, good))
	}
}

// TestWriteFaultRetried: a failed write is written again until it lands. Its
// request is not confirmed meanwhile, Health says why, new requests fail at
// once; once the fault is gone the journal resumes by itself, and a reopen
// finds exactly what was confirmed.
func TestWriteFaultRetried(t *testing.T) {
	cases := []struct {
		name string
		err  error
		torn int
	}{
		{"ENOSPC", syscall.ENOSPC, 0},
		{"EIO torn", syscall.EIO, 30},
		{"EROFS", syscall.EROFS, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plan := &faultPlan{op: "write", err: tc.err, torn: tc.torn}
			var logs logBuffer
			opts := Options{SegmentSize: 64 << 10, CompactLiveRatio: -1, hooks: plan.hooks(), Logger: logs.logger()}
			j, _ := openT(t, dir, opts)
			changed := make(chan struct{}, 16)
			j.Notify(func() { changed <- struct{}{} })
			var good [][]storage.Op
			for i := 1; i <= 5; i++ {
				ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
				mustApply(t, j, ops...)
				good = append(good, ops)
			}
			plan.armed.Store(true)
			held := []storage.Op{msgOp(6, payload(6)), refOp(1, 6)}
			heldDone := make(chan error, 1)
			j.Apply(held, true, func(err error) { heldDone <- err })
			awaitHealth(t, j, changed, true)
			if err := j.Health(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, tc.err) {
				t.Fatalf("Health = %v, want ErrUnavailable wrapping %v", err, tc.err)
			}
			called := false
			j.Apply([]storage.Op{msgOp(999, "x")}, true, func(err error) {
				called = true
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("Apply while stalled: %v", err)
				}
			})
			if !called {
				t.Fatal("an Apply while stalled was queued instead of failing at once")
			}
			select {
			case err := <-heldDone:
				t.Fatalf("the stalled request completed (%v) before its write landed", err)
			default:
			}
			plan.armed.Store(false)
			select {
			case err := <-heldDone:
				if err != nil {
					t.Fatalf("the retried request: %v", err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("the retried request never completed")
			}
			good = append(good, held)
			awaitHealth(t, j, changed, false)
			later := []storage.Op{msgOp(7, payload(7)), refOp(1, 7)}
			mustApply(t, j, later...)
			good = append(good, later)
			if err := j.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
				t.Fatalf("%d ERROR lines for one failure, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "free=") {
				t.Fatalf("the failure's log line does not give the free space:\n%s", logs.String())
			}
			opts.hooks = nil
			_, got := openT(t, dir, opts)
			if want := memState(t, good); !got.equal(want) {
				t.Fatalf("after reopen: %v, want %v", got, want)
			}
		})
	}
}

// TestShortOfSpace: when the next segment cannot be prepared, Health says so
// (the broker refuses durable sends), what still fits the active segment is
// written, what does not fails without stopping the journal, and once space
// returns the backoff retry prepares the segment and Health clears, with one
// log line for each change.
func TestShortOfSpace(t *testing.T) {
	dir := t.TempDir()
	plan := &faultPlan{op: "prepare", err: syscall.ENOSPC}
	var logs logBuffer
	opts := Options{SegmentSize: 16 << 10, CompactLiveRatio: -1, hooks: plan.hooks(), Logger: logs.logger()}
	j, _ := openT(t, dir, opts)
	changed := make(chan struct{}, 64)
	j.Notify(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	plan.armed.Store(true)
	// Requests fill the active segment (and the one prepared before the
	// fault, if any); then one does not fit and fails, alone.
	var good [][]storage.Op
	var failErr error
	writtenWhileShort := 0
	for i := 1; i < 2000; i++ {
		short := j.Health() != nil
		ops := []storage.Op{msgOp(uint64(i), payload(i)), refOp(1, uint64(i))}
		if err := applyWait(t, j, ops, true); err != nil {
			failErr = err
			break
		}
		if short {
			writtenWhileShort++
		}
		good = append(good, ops)
	}
	if failErr == nil || writtenWhileShort == 0 {
		t.Fatalf("%d written while short of space, then %v: want some, then a failure", writtenWhileShort, failErr)
	}
	if !errors.Is(failErr, ErrUnavailable) || !errors.Is(failErr, syscall.ENOSPC) || errors.Is(failErr, ErrFailed) {
		t.Fatalf("the request that did not fit got %v, want ErrUnavailable wrapping ENOSPC (not ErrFailed)", failErr)
	}
	if err := j.Health(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Health = %v, want ErrUnavailable", err)
	}
	// An ack-sized request still fits the room left after a large one.
	small := []storage.Op{ackOp(1, 1)}
	if err := applyWait(t, j, small, false); err == nil {
		good = append(good, small)
	}
	plan.armed.Store(false)
	awaitHealth(t, j, changed, false)
	later := []storage.Op{msgOp(1000, payload(1000)), refOp(1, 1000)}
	mustApply(t, j, later...)
	good = append(good, later)
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, "cannot prepare the next segment"); n != 1 {
		t.Fatalf("%d lines for entering the state, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "writes resume"); n != 1 {
		t.Fatalf("%d lines for leaving it, want 1:\n%s", n, out)
	}
	opts.hooks = nil
	_, got := openT(t, dir, opts)
	if want := memState(t, good); !got.equal(want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
}

// awaitHealth waits until Health is an error (bad) or nil.
func awaitHealth(t *testing.T, j *Journal, changed <-chan struct{}, bad bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for (j.Health() != nil) != bad {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("Health still %v", j.Health())
		}
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
