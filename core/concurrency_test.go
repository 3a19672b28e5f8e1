package core

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tracker records, per message body, what the consumers saw.
type tracker struct {
	mu     sync.Mutex
	acks   map[string]int
	leftAt map[string]uint32 // highest delivery count at which a consumer left it unacked
	errs   []string
	acked  atomic.Int64
	want   int64
	done   chan struct{}
}

func newTracker(want int) *tracker {
	return &tracker{acks: map[string]int{}, leftAt: map[string]uint32{}, want: int64(want), done: make(chan struct{})}
}

func (tr *tracker) errorf(format string, args ...any) {
	tr.mu.Lock()
	if len(tr.errs) < 20 {
		tr.errs = append(tr.errs, fmt.Sprintf(format, args...))
	}
	tr.mu.Unlock()
}

// acked records a successful ack; the message must not have been acked before,
// and if a consumer left it unacked, this delivery must count that one.
func (tr *tracker) ackedDelivery(d Delivery) {
	body := string(d.Message.Body)
	tr.mu.Lock()
	tr.acks[body]++
	if tr.acks[body] > 1 {
		tr.errs = append(tr.errs, fmt.Sprintf("%s acked %d times", body, tr.acks[body]))
	}
	if left, ok := tr.leftAt[body]; ok && d.DeliveryCount <= left {
		tr.errs = append(tr.errs, fmt.Sprintf("%s redelivered with count %d after being left at %d", body, d.DeliveryCount, left))
	}
	tr.mu.Unlock()
	if tr.acked.Add(1) == tr.want {
		close(tr.done)
	}
}

func (tr *tracker) left(d Delivery) {
	tr.mu.Lock()
	tr.leftAt[string(d.Message.Body)] = max(tr.leftAt[string(d.Message.Body)], d.DeliveryCount)
	tr.mu.Unlock()
}

func (tr *tracker) wait(t *testing.T) {
	t.Helper()
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d of %d messages acked", tr.acked.Load(), tr.want)
	}
}

func (tr *tracker) check(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, e := range tr.errs {
		t.Error(e)
	}
	if len(tr.acks) != int(tr.want) {
		t.Errorf("%d distinct messages acked, want %d", len(tr.acks), tr.want)
	}
}

func produce(t *testing.T, b *Broker, addr string, rt RoutingType, producers, perProducer int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for p := range producers {
		s := newSession(t, b, SessionOptions{})
		wg.Go(func() {
			for i := range perProducer {
				m := msg(addr, fmt.Sprintf("p%d-%d", p, i))
				m.RoutingType = rt
				if err := s.Send(t.Context(), m, nil); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	return &wg
}

func TestConcurrentProducersConsumersExactlyOnce(t *testing.T) {
	const producers, consumers, perProducer = 4, 4, 2500
	b := newTestBroker(t, Config{})
	tr := newTracker(producers * perProducer)
	var wg sync.WaitGroup
	for range consumers {
		s := newSession(t, b, SessionOptions{})
		c, col := consume(t, s, "work", ConsumerOptions{Credit: 32, Window: true})
		wg.Go(func() {
			for {
				select {
				case d := <-col.ch:
					if d.DeliveryCount != 1 {
						tr.errorf("%s delivered with count %d although nothing failed", d.Message.Body, d.DeliveryCount)
					}
					if err := c.Ack(d.Tag); err != nil {
						tr.errorf("ack: %v", err)
						continue
					}
					tr.ackedDelivery(d)
				case <-tr.done:
					return
				}
			}
		})
	}
	pw := produce(t, b, "work", Anycast, producers, perProducer)
	pw.Wait()
	tr.wait(t)
	wg.Wait()
	tr.check(t)
	if st := queueStats(t, b, "work"); st.Messages != 0 || st.Acked != producers*perProducer || st.InFlight != 0 {
		t.Errorf("queue stats = %+v", st)
	}
}

func TestConcurrentConsumerChurnRedelivers(t *testing.T) {
	// Consumers come and go while producers send. Each consumer acks every
	// other delivery and leaves the rest unacked when it closes: those must
	// reach another consumer with a higher delivery count, and every message
	// must be acked exactly once. The queue is auto-created and auto-deleted
	// whenever it is empty with no consumers, racing with the sends.
	const producers, perProducer, workers, batch = 3, 1000, 3, 10
	b := newTestBroker(t, Config{AddressSettings: settings("#", &AddressSettings{MaxDeliveryAttempts: ptr(-1)})})
	tr := newTracker(producers * perProducer)
	var wg sync.WaitGroup
	for range workers {
		s := newSession(t, b, SessionOptions{})
		wg.Go(func() {
			for {
				select {
				case <-tr.done:
					return
				default:
				}
				col := newCollector()
				c, err := s.Consume("churn", ConsumerOptions{Handler: col.handler, Credit: batch, Window: true})
				if err != nil {
					tr.errorf("consume: %v", err)
					return
				}
				for i := 0; i < batch; i++ {
					var d Delivery
					select {
					case d = <-col.ch:
					case <-tr.done:
						c.Close()
						return
					case <-time.After(5 * time.Millisecond):
						// Nothing available now: let another consumer try.
						i = batch
						continue
					}
					if i%2 == 1 {
						tr.left(d)
						continue
					}
					if err := c.Ack(d.Tag); err != nil {
						tr.errorf("ack: %v", err)
						continue
					}
					tr.ackedDelivery(d)
				}
				c.Close()
			}
		})
	}
	pw := produce(t, b, "churn", Anycast, producers, perProducer)
	pw.Wait()
	tr.wait(t)
	wg.Wait()
	tr.check(t)
	tr.mu.Lock()
	redelivered := len(tr.leftAt)
	tr.mu.Unlock()
	if redelivered == 0 {
		t.Error("no message was ever left unacked: the test did not exercise redelivery")
	}
}

func TestConcurrentFanOut(t *testing.T) {
	const producers, perProducer, subs = 4, 500, 3
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	var trs []*tracker
	var wg sync.WaitGroup
	for range subs {
		tr := newTracker(producers * perProducer)
		trs = append(trs, tr)
		c, col := subscribe(t, s, SubscribeOptions{Address: "fan"}, ConsumerOptions{Credit: 16, Window: true})
		wg.Go(func() {
			for {
				select {
				case d := <-col.ch:
					if err := c.Ack(d.Tag); err != nil {
						tr.errorf("ack: %v", err)
						continue
					}
					tr.ackedDelivery(d)
				case <-tr.done:
					return
				}
			}
		})
	}
	produce(t, b, "fan", Multicast, producers, perProducer).Wait()
	for _, tr := range trs {
		tr.wait(t)
	}
	wg.Wait()
	for _, tr := range trs {
		tr.check(t)
	}
}

func TestAckRacesWithSubscribe(t *testing.T) {
	// Acking takes the queue lock and, when a message is finished, updates
	// its address; Subscribe holds the broker lock and looks at the queue.
	// Neither may wait for the other while holding its own lock.
	b := newTestBroker(t, Config{})
	owner := newSession(t, b, SessionOptions{ClientID: "app"})
	sub := SubscribeOptions{Address: "t", Name: "s", Durable: true}
	c, col := subscribe(t, owner, sub, ConsumerOptions{Credit: 64, Window: true})
	const n = 3000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		other := b.NewSession(SessionOptions{ClientID: "app"})
		defer other.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := other.Subscribe(sub, ConsumerOptions{Handler: func(Delivery) {}}); err == nil {
				t.Error("a second consumer attached to a non-shared durable subscription")
				return
			}
			_ = other.Unsubscribe("s")
		}
	})
	wg.Go(func() {
		for range n {
			if err := owner.Send(t.Context(), msg("t", "x"), nil); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			select {
			case d := <-col.ch:
				if err := c.Ack(d.Tag); err != nil {
					t.Errorf("ack: %v", err)
				}
			case <-time.After(waitTimeout):
				t.Errorf("deliveries stopped: deadlock?")
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("acking is stuck: deadlock between the queue and broker locks")
	}
	close(stop)
	wg.Wait()
}
