package management

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/storage/memory"
)

// BenchmarkSample10kQueues is one reading of the rate sampler on a broker
// with 10,000 queues: what watching the broker costs every SampleInterval
// (docs/PERFORMANCE.md).
func BenchmarkSample10kQueues(b *testing.B) {
	br, err := core.New(core.Config{Store: memory.New(), Logger: slog.New(slog.DiscardHandler), MaxQueues: 20000, MaxAddresses: 20000})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := br.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for i := range 10000 {
		name := fmt.Sprintf("q.%05d", i)
		if _, err := br.CreateQueue(core.QueueInfo{Name: name, Address: name, RoutingType: core.Anycast}); err != nil {
			b.Fatal(err)
		}
	}
	a := New(Options{Broker: br, Logger: slog.New(slog.DiscardHandler)})
	defer a.Close()
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		a.rates.sample(now.Add(time.Duration(i+1) * time.Second))
	}
}
