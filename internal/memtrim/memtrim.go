// Package memtrim hands the heap that a burst of work left free back to the
// operating system once the broker goes quiet.
//
// The Go collector lets the heap grow to twice what is live (GOGC) before
// it collects, and returns free pages only slowly and only above that goal.
// After a burst of connections (a fleet of devices reconnecting), the pages
// that held the handshakes' garbage stay resident: with 10,000 MQTT devices
// that connected and went idle, a third of the broker's memory was such
// garbage. Once allocation stops, nothing would ever collect it. Trimming
// then costs one collection, which is cheap precisely because the broker is
// idle.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy says when to trim: after at least Burst bytes were allocated since
// the last trim, some Interval of them at least Quiet bytes, at the first
// Interval in which fewer than Quiet bytes were.
type Policy struct {
	Interval time.Duration
	Quiet    uint64
	Burst    uint64
}

// Default trims once a second passes with less than 1 MiB allocated after
// a burst of at least 16 MiB: a busy broker never trims (the collector
// paces itself), an idle one trims once after each burst.
var Default = Policy{Interval: time.Second, Quiet: 1 << 20, Burst: 16 << 20}

// Run trims by p until ctx ends; trim is debug.FreeOSMemory unless a test
// says otherwise. It reports how many times it trimmed.
func Run(ctx context.Context, p Policy, trim func()) int {
	if trim == nil {
		trim = debug.FreeOSMemory
	}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	return run(ctx, p, trim, t.C, allocated)
}

// allocated is the bytes allocated since the process started.
func allocated() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// run is Run with its clock and allocation counter given.
func run(ctx context.Context, p Policy, trim func(), ticks <-chan time.Time, allocs func() uint64) int {
	d := decider{p: p, last: allocs()}
	trims := 0
	for {
		select {
		case <-ctx.Done():
			return trims
		case <-ticks:
		}
		if d.tick(allocs()) {
			trim()
			trims++
			// The trim's own collection allocates little; count afresh
			// from after it.
			d.last = allocs()
		}
	}
}

// decider says, at each tick, whether to trim: at a quiet tick that ends
// a burst (a busy tick since the last trim, and Burst bytes). A steady
// trickle under the quiet rate never trims, however much it adds up to.
type decider struct {
	p         Policy
	last      uint64 // the counter at the last tick
	sinceTrim uint64 // bytes allocated since the last trim
	busy      bool   // a tick since the last trim allocated Quiet or more
}

// tick takes the allocation counter's value now.
func (d *decider) tick(now uint64) bool {
	delta := now - d.last
	d.last = now
	d.sinceTrim += delta
	if delta >= d.p.Quiet {
		d.busy = true
		return false
	}
	if d.busy && d.sinceTrim >= d.p.Burst {
		d.sinceTrim, d.busy = 0, false
		return true
	}
	return false
}
