package amqp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// A receiver with distribution-mode copy browses a paging queue whole: the
// messages in memory, then the paged tail read from the store, without
// taking or paging in any.
func TestBrowsePagingQueue(t *testing.T) {
	budget, page := core.ByteSize(16<<10), "PAGE"
	s := startBroker(t, func(c *config.Config) {
		c.Store.Type = "journal"
		c.AddressSettings = map[string]*core.AddressSettings{"deep": {MaxSizeBytes: &budget, AddressFullPolicy: &page}}
	})
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "deep", nil)
	const n = 200
	pad := strings.Repeat("p", 1000)
	for i := range n {
		m := amqp.NewMessage(fmt.Appendf(nil, "%03d%s", i, pad))
		m.Header = &amqp.MessageHeader{Durable: true}
		send(t, snd, m)
	}
	before := queueStats(t, s, "deep")
	if before.Paged == 0 {
		t.Fatalf("200 KiB over a 16 KiB PAGE budget and nothing paged: %+v", before)
	}
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "browser", Handle: 0, Role: codec.RoleReceiver,
		Source: &codec.Source{Address: "deep", DistributionMode: codec.DistributionCopy}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 1000, OutgoingWindow: 1000,
		Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 500, HasLinkCredit: true, Drain: true}, nil)
	for i := range n {
		if tr := expect[*codec.Transfer](r); !tr.Settled {
			t.Fatalf("browsed message %d was not pre-settled", i)
		}
	}
	f := expect[*codec.Flow](r)
	if !f.Drain || f.LinkCredit != 0 || f.DeliveryCount != 500 {
		t.Fatalf("drain answered with %+v, want credit 0 at delivery-count 500", f)
	}
	if after := queueStats(t, s, "deep"); after != before {
		t.Fatalf("browsing changed the queue: %+v, was %+v", after, before)
	}
}
