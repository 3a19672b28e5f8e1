package amqp_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// Transfers that arrive together are accepted together: one disposition
// covering the range, not one per delivery (each costs the client a frame
// to decode). Ids are reported exactly once, all accepted and settled.
func TestAcceptedRangeForABatch(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "batch", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "batch"},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	const n = 20
	msg := message.AppendPayload(nil, core.NewMessage("batch", []byte("x")), message.Delivery{Now: time.Now()})
	var batch []byte
	for i := range n {
		batch = codec.AppendFrame(batch, 0, &codec.Transfer{Handle: 0, DeliveryID: uint32(i), HasDeliveryID: true,
			DeliveryTag: []byte{byte(i)}}, msg)
	}
	r.write(batch) // one write: the broker reads them as one batch
	seen := make([]int, n)
	frames := 0
	for covered := 0; covered < n; {
		d := expect[*codec.Disposition](r)
		frames++
		if _, ok := d.State.(*codec.Accepted); !ok || !d.Settled || d.Role != codec.RoleReceiver {
			t.Fatalf("disposition %+v, want settled accepted from the receiver", d)
		}
		for id := d.First; ; id++ {
			if id >= n {
				t.Fatalf("disposition %d..%d beyond the %d deliveries", d.First, d.Last, n)
			}
			seen[id]++
			covered++
			if id == d.Last {
				break
			}
		}
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("delivery %d reported %d times", id, k)
		}
	}
	if frames == n {
		t.Fatalf("%d transfers in one write got %d dispositions: none was coalesced", n, frames)
	}
}

// A batch of transfers mixing outcomes: a range never covers a delivery
// that was not accepted, and every delivery gets exactly its own outcome
// (the third message does not decode and is rejected between accepted
// ones).
func TestAcceptedRangeStopsAtOtherOutcomes(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "mixed", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "mixed"},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	good := message.AppendPayload(nil, core.NewMessage("mixed", []byte("x")), message.Delivery{Now: time.Now()})
	// A data section whose binary claims 16 bytes and has none.
	bad := []byte{0x00, 0x53, 0x75, 0xa0, 0x10}
	payloads := [][]byte{good, good, bad, good, good, good}
	var batch []byte
	for i, p := range payloads {
		batch = codec.AppendFrame(batch, 0, &codec.Transfer{Handle: 0, DeliveryID: uint32(i), HasDeliveryID: true,
			DeliveryTag: []byte{byte(i)}}, p)
	}
	r.write(batch)
	outcome := make([]string, len(payloads))
	for covered := 0; covered < len(payloads); {
		d := expect[*codec.Disposition](r)
		for id := d.First; ; id++ {
			if int(id) >= len(payloads) || outcome[id] != "" {
				t.Fatalf("disposition %d..%d: delivery %d out of range or reported twice", d.First, d.Last, id)
			}
			switch d.State.(type) {
			case *codec.Accepted:
				outcome[id] = "accepted"
			case *codec.Rejected:
				outcome[id] = "rejected"
			default:
				t.Fatalf("disposition state %T", d.State)
			}
			covered++
			if id == d.Last {
				break
			}
		}
	}
	want := []string{"accepted", "accepted", "rejected", "accepted", "accepted", "accepted"}
	for i := range want {
		if outcome[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", outcome, want)
		}
	}
}

// go-amqp settles every receipt of a ranged disposition: a pipelined
// producer gets an accepted outcome for each of its messages.
func TestPipelinedReceiptsWithRanges(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "ranges", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 2000
	receipts := make([]amqp.SendReceipt, 0, n)
	for i := range n {
		rc, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte{byte(i)}), nil)
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, rc)
	}
	for i, rc := range receipts {
		st, err := rc.Wait(ctx)
		if err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if _, ok := st.(*amqp.StateAccepted); !ok {
			t.Fatalf("receipt %d: state %T, want accepted", i, st)
		}
	}
	if got := queueStats(t, s, "ranges").Messages; got != n {
		t.Fatalf("queue holds %d messages, want %d", got, n)
	}
}
