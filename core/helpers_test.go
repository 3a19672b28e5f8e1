package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/storage/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait for an event; generous because the race
// detector and a shared machine slow everything down.
const waitTimeout = 5 * time.Second

// newTestBroker starts a broker and closes it when the test ends. A nil logger
// is replaced by one that discards, so expected warnings do not clutter output.
func newTestBroker(t testing.TB, cfg Config) *Broker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		cfg.Store = memory.New()
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// newSession opens a session closed when the test ends (before the broker,
// since cleanups run last-registered first).
func newSession(t testing.TB, b *Broker, opts SessionOptions) *Session {
	t.Helper()
	s := b.NewSession(opts)
	t.Cleanup(s.Close)
	return s
}

// collector gathers a consumer's deliveries. Handlers run under the queue lock
// and must not call into the core, so the handler only pushes into a buffered
// channel; the test goroutine settles. Deliveries made during a Send or an
// AddCredit are in the channel when that call returns.
type collector struct {
	ch chan Delivery
}

func newCollector() *collector { return &collector{ch: make(chan Delivery, 4096)} }

func (c *collector) handler(d Delivery) { c.ch <- d }

// next waits for one delivery.
func (c *collector) next(t testing.TB, timeout time.Duration) Delivery {
	t.Helper()
	select {
	case d := <-c.ch:
		return d
	case <-time.After(timeout):
		t.Fatalf("no delivery within %v", timeout)
		return Delivery{}
	}
}

// take returns n deliveries, waiting for each.
func (c *collector) take(t testing.TB, n int) []Delivery {
	t.Helper()
	out := make([]Delivery, 0, n)
	for range n {
		out = append(out, c.next(t, waitTimeout))
	}
	return out
}

// buffered returns every delivery made so far, without waiting.
func (c *collector) buffered() []Delivery {
	var out []Delivery
	for {
		select {
		case d := <-c.ch:
			out = append(out, d)
		default:
			return out
		}
	}
}

// none asserts that nothing has been delivered so far. It is meaningful right
// after a synchronous call (Send, AddCredit, Ack) that would have delivered.
func (c *collector) none(t testing.TB) {
	t.Helper()
	select {
	case d := <-c.ch:
		t.Fatalf("unexpected delivery %q (count %d)", d.Message.Body, d.DeliveryCount)
	default:
	}
}

// consume attaches a consumer with a collector.
func consume(t testing.TB, s *Session, queue string, opts ConsumerOptions) (*Consumer, *collector) {
	t.Helper()
	col := newCollector()
	opts.Handler = col.handler
	if opts.Credit == 0 {
		opts.Credit = 1000
	}
	c, err := s.Consume(queue, opts)
	if err != nil {
		t.Fatalf("Consume(%q): %v", queue, err)
	}
	return c, col
}

// subscribe attaches a subscription consumer with a collector.
func subscribe(t testing.TB, s *Session, sub SubscribeOptions, opts ConsumerOptions) (*Consumer, *collector) {
	t.Helper()
	col := newCollector()
	opts.Handler = col.handler
	if opts.Credit == 0 {
		opts.Credit = 1000
	}
	c, err := s.Subscribe(sub, opts)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", sub, err)
	}
	return c, col
}

// send sends a message and waits until the store has it.
func send(t testing.TB, s *Session, m *Message) {
	t.Helper()
	if err := sendErr(s, m); err != nil {
		t.Fatalf("Send to %q: %v", m.Address, err)
	}
}

func sendErr(s *Session, m *Message) error {
	done := make(chan error, 1)
	if err := s.Send(context.Background(), m, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		return errors.New("send not confirmed")
	}
}

// msg builds a message; props are name/value pairs.
func msg(addr, body string, props ...any) *Message {
	m := NewMessage(addr, []byte(body))
	for i := 0; i+1 < len(props); i += 2 {
		name := props[i].(string)
		switch v := props[i+1].(type) {
		case string:
			m.SetProperty(name, prop.StringValue(v))
		case int:
			m.SetProperty(name, prop.Int64Value(int64(v)))
		case bool:
			m.SetProperty(name, prop.BoolValue(v))
		case prop.Value:
			m.SetProperty(name, v)
		default:
			panic("msg: unsupported property type")
		}
	}
	return m
}

func bodies(ds []Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Message.Body)
	}
	return out
}

func ackAll(t testing.TB, ds []Delivery) {
	t.Helper()
	for _, d := range ds {
		if err := d.Consumer.Ack(d.Tag); err != nil {
			t.Fatalf("Ack(%d): %v", d.Tag, err)
		}
	}
}

func queueStats(t testing.TB, b *Broker, name string) QueueStats {
	t.Helper()
	q, ok := b.Queue(name)
	if !ok {
		t.Fatalf("queue %q does not exist", name)
	}
	return q.Stats()
}

// waitFor polls cond until it holds. It is only for state that no event
// announces (the periodic reaper's counters, a producer parking); everything
// else is awaited through deliveries.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// fakeClock is an injectable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) ms() int64 { return c.Now().UnixMilli() }

func ptr[T any](v T) *T { return &v }

// settings builds an address-settings map from pattern/entry pairs.
func settings(kv ...any) map[string]*AddressSettings {
	out := map[string]*AddressSettings{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(*AddressSettings)
	}
	return out
}
