package amqp_test

// The at-least-once path end to end over real sockets with go-amqp:
// a producer pipelining unsettled sends, a consumer accepting each
// message at a given link credit. The benchmark is the in-process
// measure of docs/PERFORMANCE.md ("AMQP 1.0"); the test checks that a
// consumer at credit 1 is never stalled.

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
	"github.com/junctionmq/junction/server/servertest"
)

// pipeline sends n 100-byte messages unsettled, keeping up to window
// outcomes outstanding, as a high-throughput go-amqp producer does.
func pipeline(ctx context.Context, snd *amqp.Sender, n, window int) error {
	body := make([]byte, 100)
	pending := make([]amqp.SendReceipt, 0, window)
	wait := func() error {
		st, err := pending[0].Wait(ctx)
		pending = pending[1:]
		if err != nil {
			return err
		}
		if _, ok := st.(*amqp.StateAccepted); !ok {
			return fmt.Errorf("outcome %T, want accepted", st)
		}
		return nil
	}
	for i := range n {
		binary.BigEndian.PutUint64(body, uint64(i))
		r, err := snd.SendWithReceipt(ctx, &amqp.Message{Data: [][]byte{body}}, nil)
		if err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
		pending = append(pending, r)
		if len(pending) >= window {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	for len(pending) > 0 {
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

// consume receives and accepts n messages, checking they come in order.
func consume(ctx context.Context, r *amqp.Receiver, n int) error {
	for i := range n {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return fmt.Errorf("after %d of %d messages: %w", i, n, err)
		}
		if got := binary.BigEndian.Uint64(m.GetData()); got != uint64(i) {
			return fmt.Errorf("message %d carries sequence %d", i, got)
		}
		if err := r.AcceptMessage(ctx, m); err != nil {
			return fmt.Errorf("accept %d: %w", i, err)
		}
	}
	return nil
}

// sendReceive runs n messages through queue q: producer and consumer on
// their own connections, as in `junction bench`.
func sendReceive(ctx context.Context, addr, q string, n, credit int) error {
	open := func() (*amqp.Conn, *amqp.Session, error) {
		c, err := amqp.Dial(ctx, "amqp://"+addr, nil)
		if err != nil {
			return nil, nil, err
		}
		ss, err := c.NewSession(ctx, nil)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, ss, nil
	}
	pc, ps, err := open()
	if err != nil {
		return err
	}
	defer pc.Close()
	cc, cs, err := open()
	if err != nil {
		return err
	}
	defer cc.Close()
	mode := amqp.SenderSettleModeUnsettled
	snd, err := ps.NewSender(ctx, q, &amqp.SenderOptions{SettlementMode: &mode})
	if err != nil {
		return err
	}
	rcv, err := cs.NewReceiver(ctx, q, &amqp.ReceiverOptions{Credit: int32(credit)})
	if err != nil {
		return err
	}
	errs := make(chan error, 1)
	go func() { errs <- pipeline(ctx, snd, n, 100) }()
	err = consume(ctx, rcv, n)
	if perr := <-errs; err == nil {
		err = perr
	}
	return err
}

// TestCreditOneNeverStalls: a consumer granting one credit at a time gets
// 1,000 messages from a pipelining producer in bounded time. Each message
// needs the client's flow before the next may go, so a broker that missed
// a flow, or held a delivery back waiting for more credit, stalls here.
func TestCreditOneNeverStalls(t *testing.T) {
	s := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := sendReceive(ctx, s.Addr("amqp"), "credit.one", 1000, 1); err != nil {
		t.Fatalf("credit 1 (after %s): %v", time.Since(start).Round(time.Millisecond), err)
	}
	// The last accept is a disposition go-amqp does not wait on; an
	// auto-created queue goes once empty and unused.
	waitUntil(t, "the queue emptied by the accepts", func() bool {
		q, ok := s.Core.Queue("credit.one")
		return !ok || q.Stats().Messages == 0
	})
}

// BenchmarkAMQPSendReceive: one op is one message sent unsettled, accepted
// by the broker, delivered and accepted by the consumer (memory store).
func BenchmarkAMQPSendReceive(b *testing.B) {
	for _, credit := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("credit=%d", credit), func(b *testing.B) {
			s := servertest.Start(b, servertest.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			if err := sendReceive(ctx, s.Addr("amqp"), "bench", b.N, credit); err != nil {
				b.Fatal(err)
			}
		})
	}
}

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
