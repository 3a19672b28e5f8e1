package journal

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
)

// TestApplyBackPressure: with the writer stuck in a write, Apply takes
// maxPending requests and then blocks its caller, instead of queueing
// without bound; once the write goes through, every request completes and
// is recovered after a reopen. Catches the mutation "enqueue never waits"
// (the producer would finish with the writer still stuck).
func TestApplyBackPressure(t *testing.T) {
	dir := t.TempDir()
	var gate atomic.Pointer[chan struct{}]
	entered := make(chan struct{}, 1)
	j, _ := openT(t, dir, Options{SyncPolicy: storage.SyncNever, hooks: &hooks{before: func(s ioStep) (int, error) {
		if g := gate.Load(); g != nil && s.op == "write" {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-*g
		}
		return 0, nil
	}}})
	release := make(chan struct{})
	gate.Store(&release)
	var opened sync.Once
	open := func() { opened.Do(func() { gate.Store(nil); close(release) }) }
	t.Cleanup(open) // a failed test must not leave Close waiting on the writer

	var completed, failed atomic.Int64
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		completed.Add(1)
	}
	j.Apply([]storage.Op{msgOp(1, "x")}, false, done)
	select {
	case <-entered: // the writer holds request 1 and is stuck writing it
	case <-time.After(waitTimeout):
		t.Fatal("the writer never wrote")
	}

	const total = maxPending + 1
	var returned atomic.Int64
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := range total {
			j.Apply([]storage.Op{msgOp(uint64(i+2), "x")}, false, done)
			returned.Add(1)
		}
	}()
	// The producer parks in enqueue once maxPending requests wait: an event
	// visible only in its stack.
	deadline := time.Now().Add(waitTimeout)
	for !producerParked() {
		select {
		case <-producerDone:
			t.Fatalf("all %d requests queued behind a stuck writer: no back-pressure", total)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the producer never blocked (%d requests returned)", returned.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if n := returned.Load(); n != maxPending {
		t.Fatalf("%d requests queued before the producer blocked, want %d", n, maxPending)
	}

	open()
	select {
	case <-producerDone:
	case <-time.After(waitTimeout):
		t.Fatal("the producer stayed blocked after the writer drained")
	}
	for completed.Load() != total+1 {
		if time.Now().After(deadline.Add(waitTimeout)) {
			t.Fatalf("%d of %d done callbacks", completed.Load(), total+1)
		}
		time.Sleep(time.Millisecond)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := loadDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.messages) != total+1 {
		t.Fatalf("recovered %d messages, want %d", len(st.messages), total+1)
	}
}

// producerParked reports whether some goroutine waits in enqueue's
// back-pressure.
func producerParked() bool {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for g := range strings.SplitSeq(stacks, "\n\n") {
		if strings.Contains(g, "sync.(*Cond).Wait") && strings.Contains(g, "journal.(*Journal).enqueue") {
			return true
		}
	}
	return false
}

// TestApplyTooLarge: operations that cannot fit one record are refused at
// once with ErrTooLarge, nothing of them is written, and the journal goes
// on working. The batch shares one 1 MiB buffer among 2049 messages, so the
// test allocates little. Catches the mutation "the size is reported with a
// plain error" (callers test errors.Is(err, ErrTooLarge)); a mutation that
// let the batch through would make the journal write 2 GiB, which is not
// something to try on a shared machine.
func TestApplyTooLarge(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{})
	data := make([]byte, 1<<20)
	ops := make([]storage.Op, 0, 2049)
	for i := range cap(ops) {
		ops = append(ops, storage.Op{Kind: storage.OpAddMessage, MsgID: uint64(100 + i), Data: data})
	}
	var got error
	called := false
	j.Apply(ops, true, func(err error) { got, called = err, true })
	if !called {
		t.Fatal("done not called before Apply returned")
	}
	if !errors.Is(got, ErrTooLarge) {
		t.Fatalf("Apply of more than MaxApplySize: %v, want ErrTooLarge", got)
	}
	mustApply(t, j, msgOp(1, "after"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := loadDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.messages) != 1 {
		t.Fatalf("recovered %d messages, want only the one after the refusal", len(st.messages))
	}
}
