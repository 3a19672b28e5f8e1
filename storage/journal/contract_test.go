package journal

import (
	"log/slog"
	"sync"
	"syscall"
	"testing"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/storetest"
)

func TestContract(t *testing.T) {
	var mu sync.Mutex
	plans := map[*Journal]*faultPlan{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storage.Store {
			// Small segments, so the large-batch case grows one and the
			// others roll over.
			plan := &faultPlan{op: "write", err: syscall.EIO}
			j, err := Open(dir, Options{SegmentSize: 64 << 10, hooks: plan.hooks(), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			mu.Lock()
			plans[j] = plan
			mu.Unlock()
			return j
		},
		Break: func(t *testing.T, s storage.Store) {
			mu.Lock()
			defer mu.Unlock()
			plans[s.(*Journal)].armed.Store(true)
		},
		Heal: func(t *testing.T, s storage.Store) {
			mu.Lock()
			defer mu.Unlock()
			plans[s.(*Journal)].armed.Store(false)
		},
		PressureAt: pressureRequests,
	})
}
