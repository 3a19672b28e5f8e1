package memtrim

import (
	"context"
	"testing"
	"time"
)

var sink [][]byte

// A burst of allocation followed by quiet trims once; quiet without a
// burst, and a burst that goes on, do not.
func TestRunTrimsAfterABurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trims := make(chan struct{}, 4)
	p := Policy{Interval: 50 * time.Millisecond, Quiet: 1 << 20, Burst: 8 << 20}
	ran := make(chan int, 1)
	go func() { ran <- Run(ctx, p, func() { trims <- struct{}{} }) }()

	// Quiet from the start: nothing to trim.
	select {
	case <-trims:
		t.Fatal("trimmed with nothing allocated")
	case <-time.After(4 * p.Interval):
	}
	// Busy: more than Quiet every interval, for several intervals.
	busyUntil := time.Now().Add(6 * p.Interval)
	for time.Now().Before(busyUntil) {
		sink = append(sink, make([]byte, 64<<10))
		if len(sink) > 64 {
			sink = sink[:0]
		}
		select {
		case <-trims:
			t.Fatal("trimmed while allocating")
		default:
		}
		time.Sleep(time.Millisecond)
	}
	// Quiet after the burst: one trim.
	select {
	case <-trims:
	case <-time.After(5 * time.Second):
		t.Fatal("no trim after the burst went quiet")
	}
	select {
	case <-trims:
		t.Fatal("trimmed twice for one burst")
	case <-time.After(4 * p.Interval):
	}
	cancel()
	if n := <-ran; n != 1 {
		t.Fatalf("Run reported %d trims, want 1", n)
	}
}
