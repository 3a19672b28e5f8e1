package management_test

import (
	"net/http"
	"testing"

	"github.com/junctionmq/junction/config"
)

// BenchmarkMetrics10kQueues scrapes /metrics over HTTP from a broker with
// 10,000 queues, reading the answer to its last byte without parsing it
// (docs/PERFORMANCE.md).
func BenchmarkMetrics10kQueues(b *testing.B) {
	e := start(b, func(c *config.Config) { c.MaxQueues = 20000; c.MaxAddresses = 20000 })
	makeQueues(b, e.s.Core, 10000)
	client := &http.Client{}
	b.ResetTimer()
	for range b.N {
		timeScrape(b, client, e.base+"/metrics", 1)
	}
}

// BenchmarkQueueList10kQueues asks for one page of the queue list, sorted
// by depth, from a broker with 10,000 queues: what the console does.
func BenchmarkQueueList10kQueues(b *testing.B) {
	e := start(b, func(c *config.Config) { c.MaxQueues = 20000; c.MaxAddresses = 20000 })
	makeQueues(b, e.s.Core, 10000)
	b.ResetTimer()
	for range b.N {
		if got := e.do("GET", "/api/v1/queues?sort=depth&order=desc&limit=50&filter=bulk", nil, nil); got != 200 {
			b.Fatalf("status %d", got)
		}
	}
}
