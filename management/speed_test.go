//go:build !race

package management_test

import (
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
)

// TestMetricsSpeed10kQueues is the bound: /metrics with 10,000
// queues answers in under 200 ms (the default series cap of 1,000 queues
// applies). Not under -race, whose slowdown is no measure.
func TestMetricsSpeed10kQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := start(t, func(c *config.Config) { c.MaxQueues = 20000; c.MaxAddresses = 20000 })
	makeQueues(t, e.s.Core, 10000)
	d := timeScrape(t, e.http, e.base+"/metrics", 5)
	t.Logf("/metrics with 10,000 queues: %v (fastest of 5)", d)
	if d > 200*time.Millisecond {
		t.Fatalf("/metrics took %v with 10,000 queues, want under 200ms", d)
	}
}
