package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/junctionmq/junction/core"
)

// Memory given back after a backlog drains. Go returns freed heap to the
// operating system only gradually (the scavenger), so a broker whose
// backlog of 700 MB drained kept 760 MiB resident for minutes. When the
// messages held fall to a quarter of a peak of at least returnAbove, the
// freed memory is handed back at once, at most every returnEvery: the call
// stops the world for a full collection.
const (
	returnAbove = 64 << 20
	returnEvery = 10 * time.Second
)

// returnMemory watches the broker's held bytes until ctx ends.
func returnMemory(ctx context.Context, b *core.Broker, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var peak int64
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held := b.GlobalSize()
		peak = max(peak, held)
		if peak < returnAbove || held > peak/4 || time.Since(last) < returnEvery {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory()
		last = time.Now()
		log.Debug("returned freed memory to the operating system", "peak-held", peak, "held", held, "took", last.Sub(start))
		peak = held
	}
}

// MemoryLimit is the Go runtime's soft memory limit for a broker with the
// given global-max-size and machine (or container) memory: the budget, half
// again for what messages cost beyond it (connections, buffers, garbage
// not yet collected), capped at nine tenths of the memory there is. 0 means
// no limit is warranted (unlimited budget).
func MemoryLimit(budget, total int64) int64 {
	if budget <= 0 {
		return 0
	}
	lim := budget + budget/2 + 64<<20
	if total > 0 {
		lim = min(lim, total/10*9)
	}
	return lim
}
