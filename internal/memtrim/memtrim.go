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
// the last trim, at the first Interval in which fewer than Quiet bytes were.
type Policy struct {
	Interval time.Duration
	Quiet    uint64
	Burst    uint64
}

// Default trims after 16 MiB of allocation once a second passes with less
// than 1 MiB: a busy broker never trims (the collector paces itself), an
// idle one trims once after each burst.
var Default = Policy{Interval: time.Second, Quiet: 1 << 20, Burst: 16 << 20}

// Run trims by p until ctx ends; trim is debug.FreeOSMemory unless a test
// says otherwise. It reports how many times it trimmed.
func Run(ctx context.Context, p Policy, trim func()) int {
	if trim == nil {
		trim = debug.FreeOSMemory
	}
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocs := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	last := allocs()
	sinceTrim := uint64(0)
	trims := 0
	for {
		select {
		case <-ctx.Done():
			return trims
		case <-t.C:
		}
		now := allocs()
		delta := now - last
		last = now
		sinceTrim += delta
		if delta < p.Quiet && sinceTrim >= p.Burst {
			trim()
			trims++
			// The trim's own collection allocates little; start counting
			// afresh after it.
			last, sinceTrim = allocs(), 0
		}
	}
}
