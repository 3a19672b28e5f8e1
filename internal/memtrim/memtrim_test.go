package memtrim

import (
	"context"
	"testing"
	"time"
)

// A burst of allocation followed by a quiet tick trims once; quiet without
// a burst, a burst that goes on, and small allocation that never stops do
// not.
func TestDecider(t *testing.T) {
	d := decider{p: Policy{Quiet: 1 << 20, Burst: 16 << 20}}
	var total uint64
	tick := func(n uint64) bool { total += n; return d.tick(total) }
	for i := range 3 {
		if tick(0) {
			t.Fatalf("quiet tick %d trimmed with nothing allocated", i)
		}
	}
	for i := range 8 {
		if tick(4 << 20) {
			t.Fatalf("busy tick %d trimmed", i)
		}
	}
	if !tick(0) {
		t.Fatal("the first quiet tick after a burst did not trim")
	}
	for i := range 3 {
		if tick(0) {
			t.Fatalf("quiet tick %d after the trim trimmed again", i)
		}
	}
	for i := range 40 {
		if tick(512 << 10) {
			t.Fatalf("tick %d of allocation under the quiet rate trimmed", i)
		}
	}
}

// Run trims once a real burst has gone quiet, and stops with its context.
func TestRunTrims(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	trimmed := make(chan struct{}, 1)
	ran := make(chan int, 1)
	go func() {
		ran <- Run(ctx, Policy{Interval: 20 * time.Millisecond, Quiet: 1 << 20, Burst: 4 << 20}, func() {
			select {
			case trimmed <- struct{}{}:
			default:
			}
		})
	}()
	// Bursts of 8 MiB, each followed by quiet, until one trims: the first
	// may come before Run reads the counter.
	deadline := time.Now().Add(10 * time.Second)
	for done := false; !done; {
		if time.Now().After(deadline) {
			t.Fatal("no trim after bursts of 8 MiB, each followed by quiet")
		}
		for range 8 {
			sink = make([]byte, 1<<20)
		}
		select {
		case <-trimmed:
			done = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	if n := <-ran; n < 1 {
		t.Fatalf("Run reported %d trims", n)
	}
}

func TestAllocatedCounts(t *testing.T) {
	before := allocated()
	sink = make([]byte, 1<<20)
	if after := allocated(); after < before+1<<20 {
		t.Fatalf("allocated %d -> %d after a 1 MiB allocation", before, after)
	}
}

var sink []byte
