package management_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/management"
)

// The message list of a paging queue goes past what is in memory: a page
// deep in the paged tail lists its messages, read from the store, and the
// queue is left as it was.
func TestBrowsePagingQueue(t *testing.T) {
	budget, page := core.ByteSize(16<<10), "PAGE"
	e := start(t, func(c *config.Config) {
		c.Store.Type = "journal"
		c.AddressSettings = map[string]*core.AddressSettings{"deep": {MaxSizeBytes: &budget, AddressFullPolicy: &page}}
	})
	pad := strings.Repeat("p", 1000)
	const n = 200
	for i := range n {
		e.must(201, "POST", "/api/v1/addresses/deep/messages", map[string]any{"body": fmt.Sprintf("m%03d %s", i, pad), "routing_type": "anycast"}, nil)
	}
	var before management.Queue
	e.must(200, "GET", "/api/v1/queues/deep", nil, &before)
	if before.Paged == 0 || before.Depth != n {
		t.Fatalf("200 KiB over a 16 KiB PAGE budget: %+v", before)
	}
	var br management.BrowseResult
	e.must(200, "GET", "/api/v1/queues/deep/messages?limit=5&offset=190", nil, &br)
	if len(br.Items) != 5 || !br.More {
		t.Fatalf("a page deep in the paged tail: %d items (more %v)", len(br.Items), br.More)
	}
	for i, m := range br.Items {
		if want := fmt.Sprintf("m%03d", 190+i); !strings.HasPrefix(m.BodyPreview, want) {
			t.Fatalf("item %d is %.10q, want %s...", i, m.BodyPreview, want)
		}
	}
	var after management.Queue
	e.must(200, "GET", "/api/v1/queues/deep", nil, &after)
	if after.Paged != before.Paged || after.Depth != before.Depth {
		t.Fatalf("browsing changed the queue: %+v, was %+v", after, before)
	}
}
