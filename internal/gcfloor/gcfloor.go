// Package gcfloor keeps the garbage collector from running every few
// megabytes when the live heap is small.
//
// The collector starts a cycle once the heap has grown by GOGC percent of
// what the last cycle found live (100 %: it doubles), and no sooner than at
// 4 MiB. A broker moving messages holds little (a few MiB: connections,
// queues, the messages in flight) and allocates a few hundred bytes per
// message, so it collected every few thousand messages, and each cycle
// costs about the same however little it finds: a mark worker on each
// core's scheduler, two stop-the-world pauses, the sweep of every span.
// Measured with a paho client publishing QoS 0, an 8 MiB floor used a fifth
// less broker CPU per message than the default (docs/PERFORMANCE.md). More
// buys little and costs resident memory under traffic: test/memory allows a
// broker 24 MiB of growth for 100,000 publishes that reach nobody (8 MiB:
// 18 MiB; 32 MiB: 39).
//
// A larger GOGC would also multiply a large heap (millions of queued
// messages) that doubling suits. So after each cycle the percentage is set
// so that the next starts once the heap has grown by at least a floor: a
// small heap grows by the floor, one larger than the floor doubles as
// before. Only while messages flow, though: the objects of connections
// that stay (a fleet of devices connecting) would be spread thinly over
// the floor's garbage, and the pages they keep resident once it is
// collected made an idle MQTT connection cost 1.8 KiB instead of 1.5
// (docs/PERFORMANCE.md); message garbage dies young and leaves nothing
// behind. The memory limit (debug.SetMemoryLimit) still bounds the heap,
// and internal/memtrim still hands the garbage back once traffic stops.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Default is the floor `junction serve` uses.
const Default = 8 << 20

// MinWork is how many messages a cycle must have seen for the next to
// wait for the floor.
const MinWork = 1000

// maxPercent bounds the percentage for a nearly empty heap.
const maxPercent = 5000

// Start tunes the collector after every cycle from now on, until the
// returned stop is called (which leaves the percentage where it was when
// Start was called). work counts the messages handled so far: the floor
// applies after a cycle in which at least MinWork were. Start does
// nothing, and stop nothing, when the GOGC environment variable is set:
// the operator chose.
func Start(floor uint64, gogcSet bool, work func() uint64) (stop func()) {
	if gogcSet {
		return func() {}
	}
	t := &tuner{floor: floor, work: work, lastWork: work()}
	t.orig = debug.SetGCPercent(100)
	t.adjust()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped.Store(true)
		debug.SetGCPercent(t.orig)
	}
}

type tuner struct {
	floor uint64
	work  func() uint64
	// lastWork is work() at the last cycle; the cleanups run one at a
	// time (each arms the next).
	lastWork uint64
	orig     int
	mu       sync.Mutex // stop against a cleanup's adjust
	percent  atomic.Int64
	stopped  atomic.Bool
}

// sentinel is what the cleanup watches: an object of its own (pointerful,
// so not merged into a tiny block) that becomes garbage at once, so its
// cleanup runs after the next cycle.
type sentinel struct {
	_ *byte
	_ [16]byte
}

func (t *tuner) arm() {
	runtime.AddCleanup(&sentinel{}, func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

// adjust sets the percentage for the live heap the last cycle found.
func (t *tuner) adjust() {
	// GOGC is a percentage of the live heap and the roots (stacks,
	// globals) together.
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(sample)
	var base uint64
	for _, v := range sample {
		if v.Value.Kind() != metrics.KindUint64 {
			return
		}
		base += v.Value.Uint64()
	}
	w := t.work()
	if w < t.lastWork {
		t.lastWork = 0 // a new broker counts from zero
	}
	busy := w-t.lastWork >= MinWork
	t.lastWork = w
	p := int64(100)
	if busy {
		p = int64(Percent(base, t.floor))
	}
	old := t.percent.Load()
	// Small changes are not worth a call (each takes the heap lock).
	if old != 0 && p*10 > old*9 && p*10 < old*11 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped.Load() {
		t.percent.Store(p)
		debug.SetGCPercent(int(p))
	}
}

// Percent is the GOGC that lets a heap whose live bytes and roots come to
// live grow by at least floor before the next cycle, and never less than
// the default 100.
func Percent(live, floor uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := floor * 100 / live
	return int(max(100, min(p, maxPercent)))
}
