package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{4 << 20, 32 << 20, 800},
		{64 << 20, 32 << 20, 100}, // a large heap doubles as before
		{32 << 20, 32 << 20, 100},
		{1 << 10, 32 << 20, maxPercent},
		{0, 32 << 20, maxPercent},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// After a collection that saw messages flow the percentage follows the
// live heap, after one that did not it is the default; stop puts the
// original back; GOGC set by the operator is left alone.
func TestStartTunesAfterEachCycle(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	var work atomic.Uint64
	stop := Start(1<<40, false, work.Load) // far above any live heap here: the cap
	deadline := time.Now().Add(5 * time.Second)
	for cur := 0; cur != maxPercent; {
		work.Add(MinWork)
		runtime.GC()
		cur = gogc(t)
		if time.Now().After(deadline) {
			t.Fatalf("percent %d after collections, want %d", cur, maxPercent)
		}
		time.Sleep(time.Millisecond) // the cleanup runs on its own goroutine
	}
	// No messages: back to the default.
	for cur := 0; cur != 100; {
		runtime.GC()
		cur = gogc(t)
		if time.Now().After(deadline) {
			t.Fatalf("percent %d after idle collections, want 100", cur)
		}
		time.Sleep(time.Millisecond)
	}
	work.Add(MinWork)
	stop()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if cur := gogc(t); cur != 100 {
		t.Fatalf("percent %d after stop, want the original 100", cur)
	}
	noop := Start(1<<40, true, work.Load)
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // a cleanup, were there one, would have run
	noop()
	if cur := gogc(t); cur != 100 {
		t.Fatalf("percent %d with GOGC set, want it untouched", cur)
	}
}

func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("no /gc/gogc:percent metric")
	}
	return int(s[0].Value.Uint64())
}
