package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMaxQueuesRefusesCreation(t *testing.T) {
	b := newTestBroker(t, Config{MaxQueues: 2})
	s := newSession(t, b, SessionOptions{})
	send(t, s, &Message{Address: "q1", RoutingType: Anycast, Body: []byte("x")})
	if _, err := s.Subscribe(SubscribeOptions{Address: "t1"}, ConsumerOptions{Handler: func(Delivery) {}}); err != nil {
		t.Fatalf("second queue: %v", err)
	}
	if err := sendErr(s, &Message{Address: "q2", RoutingType: Anycast, Body: []byte("x")}); !errors.Is(err, ErrResourceLimit) {
		t.Errorf("send creating a third queue: %v, want ErrResourceLimit", err)
	}
	if _, err := s.Subscribe(SubscribeOptions{Address: "t2"}, ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrResourceLimit) {
		t.Errorf("subscription creating a third queue: %v, want ErrResourceLimit", err)
	}
	if _, err := s.Consume("q3", ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrResourceLimit) {
		t.Errorf("consumer creating a third queue: %v, want ErrResourceLimit", err)
	}
	if _, ok := b.Address("t2"); ok {
		t.Error("the refused subscription left its address behind")
	}
	// What exists keeps working.
	send(t, s, &Message{Address: "q1", RoutingType: Anycast, Body: []byte("y")})
	if st := queueStats(t, b, "q1"); st.Messages != 2 {
		t.Errorf("q1 holds %d, want 2", st.Messages)
	}
}

func TestMaxAddressesRefusesCreation(t *testing.T) {
	b := newTestBroker(t, Config{MaxAddresses: 1})
	s := newSession(t, b, SessionOptions{})
	if _, err := s.Subscribe(SubscribeOptions{Address: "a"}, ConsumerOptions{Handler: func(Delivery) {}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(SubscribeOptions{Address: "b"}, ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrResourceLimit) {
		t.Errorf("subscription creating a second address: %v, want ErrResourceLimit", err)
	}
	if err := b.CreateAddress("c", Multicast); !errors.Is(err, ErrResourceLimit) {
		t.Errorf("CreateAddress beyond the cap: %v, want ErrResourceLimit", err)
	}
	// A message to a topic nobody listens to creates nothing, so the cap
	// does not refuse it.
	if err := sendErr(s, &Message{Address: "nobody", RoutingType: Multicast, Body: []byte("x")}); err != nil {
		t.Errorf("send to an unbound topic: %v", err)
	}
}

func TestUnboundTopicsCreateNothing(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for i := range 1000 {
		send(t, s, &Message{Address: fmt.Sprintf("t.%d", i), RoutingType: Multicast, Body: []byte("x")})
	}
	if st := b.Stats(); st.Addresses != 0 || st.Dropped != 1000 {
		t.Errorf("after 1000 sends to unbound topics: %d addresses, %d dropped; want 0 and 1000", st.Addresses, st.Dropped)
	}
	// A wildcard subscription makes the next one land.
	_, col := subscribe(t, s, SubscribeOptions{Address: "t.#"}, ConsumerOptions{})
	send(t, s, &Message{Address: "t.5", RoutingType: Multicast, Body: []byte("x")})
	col.next(t, waitTimeout)
}

func globalConfig(policy string, budget int64) Config {
	cfg := Config{GlobalMaxSize: budget}
	if policy != "" {
		cfg.AddressSettings = settings("#", &AddressSettings{AddressFullPolicy: ptr(policy)})
	}
	return cfg
}

// fillGlobal sends 1 KiB messages to a queue nobody consumes until the
// global budget refuses or holds one; it returns how many went in.
func fillGlobal(t *testing.T, b *Broker, s *Session, addr string) int {
	t.Helper()
	for i := 0; ; i++ {
		if !b.globalFits(1024) {
			return i
		}
		send(t, s, &Message{Address: addr, RoutingType: Anycast, Body: []byte(strings.Repeat("x", 1024))})
		if i > 1000 {
			t.Fatal("the global budget never filled")
		}
	}
}

func TestGlobalMaxSizeBlocks(t *testing.T) {
	b := newTestBroker(t, globalConfig("", 64<<10))
	s := newSession(t, b, SessionOptions{})
	n := fillGlobal(t, b, s, "a")
	if n < 30 || n > 64 {
		t.Fatalf("%d 1 KiB messages fit a 64 KiB budget", n)
	}
	// Another address, with no limit of its own, is held by the budget.
	p := s.NewProducer()
	done := make(chan error, 1)
	if err := p.Send(context.Background(), &Message{Address: "b", RoutingType: Anycast, Body: []byte("held")}, func(err error) { done <- err }); err != nil {
		t.Fatalf("send over the budget: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("send over the budget confirmed (%v) instead of held", err)
	default:
	}
	if b.HeldSends("b") != 1 {
		t.Fatalf("HeldSends(b) = %d, want 1", b.HeldSends("b"))
	}
	// Consuming from "a" frees budget, which lets "b"'s line go.
	_, col := consume(t, s, "a", ConsumerOptions{})
	ackAll(t, col.take(t, n))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("held send: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the held send was not admitted after the budget freed")
	}
	if st := queueStats(t, b, "b"); st.Messages != 1 {
		t.Errorf("b holds %d, want 1", st.Messages)
	}
}

func TestGlobalMaxSizeFailAndDrop(t *testing.T) {
	for _, policy := range []string{"FAIL", "DROP"} {
		t.Run(policy, func(t *testing.T) {
			b := newTestBroker(t, globalConfig(policy, 64<<10))
			s := newSession(t, b, SessionOptions{})
			fillGlobal(t, b, s, "a")
			dropped := b.Stats().Dropped
			err := sendErr(s, &Message{Address: "b", RoutingType: Anycast, Body: []byte("over")})
			switch policy {
			case "FAIL":
				if !errors.Is(err, ErrAddressFull) || !strings.Contains(err.Error(), "global-max-size") {
					t.Errorf("send over the budget with FAIL: %v, want ErrAddressFull naming global-max-size", err)
				}
			case "DROP":
				if err != nil {
					t.Errorf("send over the budget with DROP: %v", err)
				}
				if got := b.Stats().Dropped; got != dropped+1 {
					t.Errorf("dropped %d, want %d", got, dropped+1)
				}
			}
			if st := queueStats(t, b, "b"); st.Messages != 0 {
				t.Errorf("b holds %d, want 0", st.Messages)
			}
		})
	}
}

func TestGlobalSizeReturnsToZero(t *testing.T) {
	b := newTestBroker(t, globalConfig("", 1<<20))
	s := newSession(t, b, SessionOptions{})
	_, col := subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{})
	for range 10 {
		send(t, s, &Message{Address: "t", RoutingType: Multicast, Body: []byte("abc")})
	}
	if b.GlobalSize() == 0 {
		t.Fatal("GlobalSize = 0 with messages held")
	}
	ackAll(t, col.take(t, 10))
	if got := b.GlobalSize(); got != 0 {
		t.Errorf("GlobalSize = %d after every message was acknowledged", got)
	}
}

func TestQueueLimits(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	// A subscriber with no credit: it reads nothing.
	c, col := subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{Credit: -1})
	c.Queue().SetLimits(3, 0, true)
	for i := range 5 {
		send(t, s, &Message{Address: "t", RoutingType: Multicast, Body: []byte(fmt.Sprint(i))})
	}
	q := c.Queue()
	if st := q.Stats(); st.Messages != 3 || st.Dropped != 2 {
		t.Fatalf("non-durable messages over the limit: queue holds %d, dropped %d; want 3 and 2", st.Messages, st.Dropped)
	}
	// A durable message waits for room while the queue has a consumer.
	p := s.NewProducer()
	done := make(chan error, 1)
	if err := p.Send(context.Background(), &Message{Address: "t", RoutingType: Multicast, Durable: true, Body: []byte("d")}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("durable send to a full queue with a consumer confirmed (%v) instead of held", err)
	default:
	}
	if b.HeldSends("t") != 1 {
		t.Fatalf("HeldSends = %d, want 1", b.HeldSends("t"))
	}
	c.SetCredit(1)
	ackAll(t, col.take(t, 1))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("held send not admitted once the queue had room")
	}
	if st := q.Stats(); st.Messages != 3 {
		t.Errorf("queue holds %d, want 3", st.Messages)
	}
}

// TestQueueLimitsEvictOldest: a full evicting queue drops its oldest ready
// message for each new one, counts it, and keeps what is in flight; the
// consumer then gets the newest messages in order.
func TestQueueLimitsEvictOldest(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{Credit: 1})
	q := c.Queue()
	q.SetLimits(3, 0, false)
	q.SetEvictOldest(true)
	for i := range 8 {
		send(t, s, &Message{Address: "t", RoutingType: Multicast, Body: []byte(fmt.Sprint(i))})
	}
	// "0" is in flight (credit 1); of 1-7 the queue keeps the last two.
	if st := q.Stats(); st.Messages != 3 || st.InFlight != 1 || st.Dropped != 5 {
		t.Fatalf("queue holds %d (%d in flight), dropped %d; want 3 (1), 5", st.Messages, st.InFlight, st.Dropped)
	}
	first := col.take(t, 1)
	if string(first[0].Message.Body) != "0" {
		t.Fatalf("in flight %q, want 0", first[0].Message.Body)
	}
	ackAll(t, first)
	c.SetCredit(10)
	var got []string
	for _, d := range col.take(t, 2) {
		got = append(got, string(d.Message.Body))
	}
	if fmt.Sprint(got) != "[6 7]" {
		t.Fatalf("after eviction got %v, want the newest [6 7]", got)
	}
	// Everything in flight and the queue full: nothing to evict, so the new
	// message is the one missed.
	q2c, _ := subscribe(t, s, SubscribeOptions{Address: "u"}, ConsumerOptions{Credit: 2})
	q2 := q2c.Queue()
	q2.SetLimits(2, 0, false)
	q2.SetEvictOldest(true)
	for i := range 3 {
		send(t, s, &Message{Address: "u", RoutingType: Multicast, Body: []byte(fmt.Sprint(i))})
	}
	if st := q2.Stats(); st.Messages != 2 || st.InFlight != 2 || st.Dropped != 1 {
		t.Fatalf("all in flight: queue holds %d (%d in flight), dropped %d; want 2 (2), 1", st.Messages, st.InFlight, st.Dropped)
	}
}

func TestQueueLimitsWithoutConsumerDrop(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: "d", Durable: true}, ConsumerOptions{Credit: -1})
	q := c.Queue()
	q.SetLimits(0, 2000, true) // bytes: two 1000-byte bodies fill it
	for range 2 {
		send(t, s, &Message{Address: "t", RoutingType: Multicast, Durable: true, Body: []byte(strings.Repeat("x", 1000))})
	}
	p := s.NewProducer()
	done := make(chan error, 1)
	if err := p.Send(context.Background(), &Message{Address: "t", RoutingType: Multicast, Durable: true, Body: []byte(strings.Repeat("x", 1000))}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if b.HeldSends("t") != 1 {
		t.Fatalf("HeldSends = %d, want 1", b.HeldSends("t"))
	}
	// The subscriber goes offline: its durable queue stays, and the held
	// send is no longer held for it.
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("send still held after the full queue lost its consumer")
	}
	if st := q.Stats(); st.Messages != 3 {
		t.Errorf("offline queue holds %d", st.Messages)
	}
	send(t, s, &Message{Address: "t", RoutingType: Multicast, Durable: true, Body: []byte("more")})
	if st := q.Stats(); st.Dropped == 0 {
		t.Errorf("offline full queue dropped nothing: %+v", st)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	b := newTestBroker(t, Config{ReaperInterval: 10 * time.Millisecond, SlowConsumerTimeout: 50 * time.Millisecond})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	closed := make(chan error, 1)
	c, err := s.Subscribe(SubscribeOptions{Address: "t", Name: "d", Durable: true}, ConsumerOptions{Handler: func(Delivery) {}, Window: true, Credit: 1, OnClose: func(err error) { closed <- err }})
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queue()
	q.SetLimits(3, 0, true)
	for range 4 { // one in flight, never settled, and three waiting: full
		send(t, s, &Message{Address: "t", RoutingType: Multicast, Durable: true, Body: []byte("x")})
	}
	select {
	case err := <-closed:
		if !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("consumer closed with %v, want ErrSlowConsumer", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("a consumer whose queue stayed full was not closed")
	}
	// The durable queue and its messages stay for the client's return.
	if st := q.Stats(); st.Messages != 4 || st.Consumers != 0 {
		t.Errorf("after the close: %+v, want 4 messages and no consumer", st)
	}
}

func TestIdleAddressSweptSoon(t *testing.T) {
	b := newTestBroker(t, Config{ReaperInterval: 10 * time.Millisecond})
	s := newSession(t, b, SessionOptions{})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "gone"}, ConsumerOptions{})
	if _, ok := b.Address("gone"); !ok {
		t.Fatal("subscribing did not create the address")
	}
	c.Close()
	deadline := time.Now().Add(waitTimeout)
	for {
		if _, ok := b.Address("gone"); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("an auto-created address with nothing bound was still there after %v (%d reaper ticks)", waitTimeout, waitTimeout/(10*time.Millisecond))
		}
		time.Sleep(5 * time.Millisecond) // the sweep runs on the reaper's clock: nothing to wait on
	}
}
