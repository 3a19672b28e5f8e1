package core

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/core/selector"
	"github.com/junctionmq/junction/storage/memory"
)

var benchBody = make([]byte, 100)

// BenchmarkSendDeliverAck is the core's hot path on one goroutine: send a
// 100-byte message to a queue, the consumer's handler records the delivery,
// then it is acked.
func BenchmarkSendDeliverAck(b *testing.B) {
	br := newTestBroker(b, Config{})
	s := newSession(b, br, SessionOptions{})
	var last Delivery
	c, err := s.Consume("bench", ConsumerOptions{Handler: func(d Delivery) { last = d }, Credit: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		m := &Message{Address: "bench", RoutingType: Anycast, Priority: DefaultPriority, Body: benchBody}
		if err := s.Send(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Ack(last.Tag); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendDeliverAckPipelined runs producer and consumer on their own
// goroutines, the consumer acking from a channel as an adapter's writer would.
func BenchmarkSendDeliverAckPipelined(b *testing.B) {
	br := newTestBroker(b, Config{})
	s := newSession(b, br, SessionOptions{})
	ch := make(chan Delivery, 1024)
	c, err := s.Consume("bench", ConsumerOptions{Handler: func(d Delivery) { ch <- d }, Credit: 1000, Window: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.ResetTimer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			d := <-ch
			if err := c.Ack(d.Tag); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		m := &Message{Address: "bench", RoutingType: Anycast, Priority: DefaultPriority, Body: benchBody}
		if err := s.Send(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkFanOut10 sends to a multicast address with ten subscriptions; one
// op is one message sent and ten deliveries acked.
func BenchmarkFanOut10(b *testing.B) {
	br := newTestBroker(b, Config{})
	s := newSession(b, br, SessionOptions{})
	type pending struct {
		c   *Consumer
		tag uint64
	}
	var acks []pending
	for range 10 {
		_, err := s.Subscribe(SubscribeOptions{Address: "fan"}, ConsumerOptions{
			Handler: func(d Delivery) { acks = append(acks, pending{d.Consumer, d.Tag}) },
			Credit:  1 << 30,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m := &Message{Address: "fan", RoutingType: Multicast, Priority: DefaultPriority, Body: benchBody}
		if err := s.Send(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
		for _, p := range acks {
			if err := p.c.Ack(p.tag); err != nil {
				b.Fatal(err)
			}
		}
		acks = acks[:0]
	}
}

// BenchmarkSelectiveConsumerDeepQueue fills a queue with 1,000,000 messages of
// which 1 in 1,000 matches a consumer's selector, then times attaching the
// consumer and draining the 1,000 matches (credit 10, acked as they come).
func BenchmarkSelectiveConsumerDeepQueue(b *testing.B) {
	const total, every = 1_000_000, 1000
	for b.Loop() {
		b.StopTimer()
		br, err := New(Config{Store: memory.New(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := br.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		s := br.NewSession(SessionOptions{})
		ctx := context.Background()
		for i := range total {
			m := &Message{Address: "deep", RoutingType: Anycast, Priority: DefaultPriority, Body: benchBody}
			m.Properties = []prop.Property{{Name: "match", Value: prop.BoolValue(i%every == every-1)}}
			if err := s.Send(ctx, m, nil); err != nil {
				b.Fatal(err)
			}
		}
		ch := make(chan Delivery, 16)
		b.StartTimer()
		start := time.Now()
		c, err := s.Consume("deep", ConsumerOptions{Handler: func(d Delivery) { ch <- d }, Credit: 10, Window: true, Selector: "match = TRUE"})
		if err != nil {
			b.Fatal(err)
		}
		for range total / every {
			d := <-ch
			if err := c.Ack(d.Tag); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(elapsed.Microseconds())/1000, "ms/drain")
		s.Close()
		_ = br.Close()
		b.StartTimer()
	}
}

// BenchmarkSelectorOnMessage evaluates a three-clause selector against a core
// Message: two properties and a header.
func BenchmarkSelectorOnMessage(b *testing.B) {
	sel := selector.MustParse("color = 'red' AND weight > 10 AND JMSPriority >= 4")
	m := msg("cars", "", "color", "red", "weight", 25, "region", "eu", "size", "L")
	m.Priority = 5
	if !sel.Matches(m) {
		b.Fatal("selector does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !sel.Matches(m) {
			b.Fatal("no match")
		}
	}
}

func TestSelectorOnMessageDoesNotAllocate(t *testing.T) {
	sel := selector.MustParse("color = 'red' AND weight > 10 AND JMSPriority >= 4")
	m := msg("cars", "", "color", "red", "weight", 25)
	m.Priority = 5
	if n := testing.AllocsPerRun(100, func() { sel.Matches(m) }); n != 0 {
		t.Errorf("selector evaluation allocates %v times", n)
	}
}

// BenchmarkSendDeliverAckHooks is BenchmarkSendDeliverAck with every
// message hook set to a function that does nothing: the cost of the hook
// calls themselves, which a broker without plugins does not pay.
func BenchmarkSendDeliverAckHooks(b *testing.B) {
	var n int
	br := newTestBroker(b, Config{Hooks: Hooks{
		BeforeSend:    func(*Session, *Message) error { n++; return nil },
		AfterSend:     func(*Session, *Message, []*Queue, error) { n++ },
		BeforeDeliver: func(*Queue, Delivery) { n++ },
		AfterDeliver:  func(*Queue, Delivery) { n++ },
		Acknowledged:  func(*Queue, *Message, *Consumer) { n++ },
	}})
	s := newSession(b, br, SessionOptions{})
	var last Delivery
	c, err := s.Consume("bench", ConsumerOptions{Handler: func(d Delivery) { last = d }, Credit: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		m := &Message{Address: "bench", RoutingType: Anycast, Priority: DefaultPriority, Body: benchBody}
		if err := s.Send(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Ack(last.Tag); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no hook ran")
	}
}
