package core

import (
	"fmt"
	"slices"
	"testing"
)

func TestExclusiveConsumerTakesAll(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, plain := consume(t, s, "q", ConsumerOptions{})
	ex, excl := consume(t, s, "q", ConsumerOptions{Exclusive: true})
	_, late := consume(t, s, "q", ConsumerOptions{})
	fillQueue(t, s, "q", 6)
	if got := bodies(excl.take(t, 6)); !slices.Equal(got, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Errorf("exclusive consumer got %v", got)
	}
	plain.none(t)
	late.none(t)
	// The exclusive consumer leaves: its unacked messages and what comes
	// next are shared by the others again.
	ex.Close()
	fillQueue(t, s, "q", 4)
	got := append(plain.buffered(), late.buffered()...)
	if len(got) != 10 {
		t.Fatalf("after the exclusive consumer closed the others got %d messages, want 10", len(got))
	}
	if len(plain.buffered()) != 0 || len(late.buffered()) != 0 {
		t.Fatal("more deliveries than messages")
	}
}

func TestExclusiveTakeoverByNextExclusive(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	first, c1 := consume(t, s, "q", ConsumerOptions{Exclusive: true, Credit: 2})
	_, plain := consume(t, s, "q", ConsumerOptions{})
	_, c2 := consume(t, s, "q", ConsumerOptions{Exclusive: true})
	fillQueue(t, s, "q", 5)
	if got := bodies(c1.take(t, 2)); !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("first exclusive got %v", got)
	}
	// Out of credit, the owner still keeps the others away.
	c2.none(t)
	plain.none(t)
	first.Close()
	if got := bodies(c2.take(t, 5)); !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("second exclusive after takeover got %v", got)
	}
	plain.none(t)
}

func TestExclusiveHigherPriorityTakesOwnership(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, low := consume(t, s, "q", ConsumerOptions{Exclusive: true})
	_, high := consume(t, s, "q", ConsumerOptions{Exclusive: true, Priority: 5})
	fillQueue(t, s, "q", 3)
	if got := len(high.take(t, 3)); got != 3 {
		t.Errorf("higher-priority exclusive got %d", got)
	}
	low.none(t)
}

func TestConsumerPriority(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, low := consume(t, s, "q", ConsumerOptions{Priority: 1})
	hc, high := consume(t, s, "q", ConsumerOptions{Priority: 9, Credit: 3, Window: true})
	_, high2 := consume(t, s, "q", ConsumerOptions{Priority: 9, Credit: 3, Window: true})
	fillQueue(t, s, "q", 8)
	// The two high-priority consumers share what their credit allows,
	// round-robin; the rest goes to the low one.
	h1, h2 := high.buffered(), high2.buffered()
	if len(h1) != 3 || len(h2) != 3 {
		t.Fatalf("high-priority consumers got %d and %d, want 3 each", len(h1), len(h2))
	}
	if got := bodies(low.take(t, 2)); !slices.Equal(got, []string{"6", "7"}) {
		t.Errorf("low-priority consumer got %v, want [6 7]", got)
	}
	if b1, b2 := bodies(h1), bodies(h2); !slices.Equal(b1, []string{"0", "2", "4"}) && !slices.Equal(b2, []string{"0", "2", "4"}) {
		t.Errorf("high-priority consumers not round-robin: %v %v", b1, b2)
	}
	// Credit back on the high one: the next message goes there, not low.
	ackAll(t, h1)
	fillQueue(t, s, "q", 1)
	if got := bodies(high.take(t, 1)); got[0] != "0" {
		t.Errorf("after ack the high-priority consumer got %v", got)
	}
	low.none(t)
	hc.Close()
}

func TestConsumerPrioritySelectorFallsThrough(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	_, high := consume(t, s, "q", ConsumerOptions{Priority: 5, Selector: "color = 'red'"})
	_, low := consume(t, s, "q", ConsumerOptions{})
	red := msg("q", "red", "color", "red")
	red.RoutingType = Anycast
	blue := msg("q", "blue")
	blue.RoutingType = Anycast
	send(t, s, blue)
	send(t, s, red)
	if got := bodies(high.take(t, 1)); got[0] != "red" {
		t.Errorf("high got %v", got)
	}
	if got := bodies(low.take(t, 1)); got[0] != "blue" {
		t.Errorf("low got %v", got)
	}
}

// TestOrderedDispatchChurn: consumers of mixed priorities, one exclusive,
// come and go while messages arrive; every message is acked once.
func TestOrderedDispatchChurn(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	const n = 300
	col := newCollector()
	open := func(o ConsumerOptions) *Consumer {
		o.Handler, o.Credit, o.Window = col.handler, 5, true
		c, err := s.Consume("churn", o)
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
		return c
	}
	cs := []*Consumer{open(ConsumerOptions{Priority: 2}), open(ConsumerOptions{}), open(ConsumerOptions{Exclusive: true, Priority: 1})}
	seen := map[string]bool{}
	for i := range n {
		m := msg("churn", fmt.Sprint(i))
		m.RoutingType = Anycast
		send(t, s, m)
		if i%50 == 25 {
			cs[0].Close() // unacked ones come back
			cs[0] = open(ConsumerOptions{Priority: i % 3, Exclusive: i%100 == 25})
		}
		for _, d := range col.buffered() {
			if d.Consumer.Ack(d.Tag) == nil {
				seen[string(d.Message.Body)] = true
			}
		}
	}
	for len(seen) < n {
		d := col.next(t, waitTimeout)
		if d.Consumer.Ack(d.Tag) == nil {
			seen[string(d.Message.Body)] = true
		}
	}
	if st := queueStats(t, b, "churn"); st.Acked != n || st.Messages != 0 {
		t.Fatalf("after the churn: %+v, want %d acked and none left", st, n)
	}
}
