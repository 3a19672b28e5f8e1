package amqp_test

import (
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// durableSource is a durable subscription's source on topic "news".
func durableSource() *codec.Source {
	return &codec.Source{Address: "news", Durable: 2, ExpiryPolicy: "never", Capabilities: []codec.Symbol{"topic"}}
}

// Link recovery (part 2, 2.6.13): a receiver re-attaching to its durable
// subscription with an unsettled map (the deliveries it still holds from
// the connection that ended) gets the broker's attach with an explicit
// empty unsettled map — the broker holds nothing unsettled across links —
// and the messages it never settled arrive again as new deliveries, marked
// as redelivered (delivery-count 1, not first-acquirer), never as resumed
// transfers.
func TestDurableReceiverResumesWithUnsettledMap(t *testing.T) {
	s := startBroker(t, nil)
	attachSub := func(r *raw, unsettled codec.Map) *codec.Attach {
		r.open(&codec.Open{ContainerID: "resumer", ChannelMax: 15})
		r.begin(0)
		r.send(0, &codec.Attach{Name: "sub1", Handle: 0, Role: codec.RoleReceiver, Source: durableSource(), Target: &codec.Target{}, Unsettled: unsettled}, nil)
		a := expect[*codec.Attach](r)
		if a.Source == nil {
			t.Fatalf("durable receiver refused: %+v", a)
		}
		r.send(0, &codec.Flow{IncomingWindow: 100, OutgoingWindow: 100, NextOutgoingID: 0,
			Handle: 0, HasHandle: true, DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true}, nil)
		return a
	}
	r1 := dialRaw(t, s.Addr("amqp"))
	if a := attachSub(r1, nil); a.Unsettled != nil {
		t.Fatalf("first attach (no unsettled map) answered with unsettled %v", a.Unsettled)
	}
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "topic://news", nil)
	send(t, snd, amqp.NewMessage([]byte("one")))
	send(t, snd, amqp.NewMessage([]byte("two")))
	var tags [][]byte
	for range 2 {
		tr := expect[*codec.Transfer](r1)
		tags = append(tags, append([]byte(nil), tr.DeliveryTag...))
	}
	// The connection ends with both deliveries unsettled.
	r1.nc.Close()
	waitUntil(t, "the deliveries back in the subscription", func() bool {
		q, ok := s.Core.Queue("resumer.sub1")
		return ok && q.Stats().InFlight == 0 && q.Stats().Messages == 2
	})

	r2 := dialRaw(t, s.Addr("amqp"))
	a := attachSub(r2, codec.Map{
		{Key: tags[0], Value: &codec.Accepted{}},
		{Key: tags[1], Value: nil},
	})
	if a.Unsettled == nil || len(a.Unsettled) != 0 || a.IncompleteUnsettled {
		t.Fatalf("resuming attach answered with unsettled %v (incomplete %v), want an empty map", a.Unsettled, a.IncompleteUnsettled)
	}
	for _, want := range []string{"one", "two"} {
		var payload []byte
		var tr *codec.Transfer
		for tr == nil {
			_, b, err := codec.ReadFrame(r2.nc, 0, &r2.buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == 0 {
				continue
			}
			p, pl, err := codec.DecodePerformative(b)
			if err != nil {
				t.Fatal(err)
			}
			if x, ok := p.(*codec.Transfer); ok {
				tr, payload = x, pl
			}
		}
		if tr.Resume {
			t.Fatal("a delivery was sent as resumed, after an empty unsettled map")
		}
		m, info, err := message.Decode(payload, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Body) != want || info.Header.DeliveryCount != 1 || info.Header.FirstAcquirer {
			t.Fatalf("redelivery %q, header %+v; want %q with delivery-count 1", m.Body, info.Header, want)
		}
	}
}

// A sender resuming its link (an unsettled map of deliveries it has not
// seen settled) is told the broker holds none of them: it may send them
// again as new deliveries, which the broker takes as such.
func TestSenderResumesWithUnsettledMap(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "resumed-sender", Handle: 0, Role: codec.RoleSender, Source: &codec.Source{},
		Target: &codec.Target{Address: "resumedq"}, HasInitialDeliveryCount: true,
		Unsettled: codec.Map{{Key: []byte{7}, Value: nil}}}, nil)
	a := expect[*codec.Attach](r)
	if a.Unsettled == nil || len(a.Unsettled) != 0 {
		t.Fatalf("resuming sender's attach answered with unsettled %v, want an empty map", a.Unsettled)
	}
	expect[*codec.Flow](r)
	data := codec.AppendBinary(codec.AppendDescriptor(nil, 0x75), []byte("again"))
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{7}}, data)
	if d := expect[*codec.Disposition](r); d.First != 0 {
		t.Fatalf("disposition for %d", d.First)
	} else if _, ok := d.State.(*codec.Accepted); !ok {
		t.Fatalf("resent delivery answered with %#v", d.State)
	}
	if st := queueStats(t, s, "resumedq"); st.Messages != 1 {
		t.Fatalf("queue holds %d", st.Messages)
	}
}
