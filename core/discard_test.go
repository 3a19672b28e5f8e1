package core

import (
	"slices"
	"testing"

	"github.com/junctionmq/junction/storage/memory"
)

// TestDiscard: a message discarded from a subscription queue, ready, in
// flight or waiting for redelivery, is gone from that queue for good (also
// after a restart) while the other queues that hold it keep it.
func TestDiscard(t *testing.T) {
	store := memory.New()
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{ClientID: "c"})
	// One consumer with credit 1 leaves the rest of its queue ready.
	a, colA := subscribe(t, s, SubscribeOptions{Address: "d.x", QueueName: "qa", Durable: true}, ConsumerOptions{Window: true, Credit: 1})
	_, colB := subscribe(t, s, SubscribeOptions{Address: "d.#", QueueName: "qb", Durable: true}, ConsumerOptions{Window: true, Credit: 10})
	var ids []uint64
	for _, body := range []string{"m1", "m2", "m3"} {
		m := msg("d.x", body)
		m.Durable = true
		send(t, s, m)
		ids = append(ids, m.ID)
	}
	first := colA.next(t, waitTimeout)
	if !a.Discard(first.Message.ID) { // in flight
		t.Fatal("in-flight message not discarded")
	}
	if !a.Discard(ids[2]) { // ready
		t.Fatal("ready message not discarded")
	}
	if a.Discard(ids[2]) {
		t.Fatal("discarded twice")
	}
	if got := bodies(colA.take(t, 1)); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("qa delivered %v, want [m2]", got)
	}
	colA.none(t)
	if got := bodies(colB.take(t, 3)); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("qb delivered %v", got)
	}
	q, _ := b.Queue("qa")
	if st := q.Stats(); st.Messages != 1 {
		t.Fatalf("qa holds %d messages, want 1 (m2 in flight)", st.Messages)
	}
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	b2 := newTestBroker(t, Config{Store: store})
	q, _ = b2.Queue("qa")
	if st := q.Stats(); st.Messages != 1 {
		t.Fatalf("after a restart qa holds %d messages, want 1", st.Messages)
	}
	q, _ = b2.Queue("qb")
	if st := q.Stats(); st.Messages != 3 {
		t.Fatalf("after a restart qb holds %d messages, want 3", st.Messages)
	}
}

// TestCloseReturning: deliveries the adapter held back go back uncounted,
// the others counted, and all keep their order in the queue.
func TestCloseReturning(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "cr", ConsumerOptions{Window: true, Credit: 4})
	for _, body := range []string{"m1", "m2", "m3", "m4"} {
		m := msg("cr", body)
		m.RoutingType = Anycast
		send(t, s, m)
	}
	ds := col.take(t, 4)
	held := map[uint64]bool{ds[0].Tag: true, ds[2].Tag: true}
	c.CloseReturning(func(tag uint64) bool { return held[tag] })
	_, col = consume(t, s, "cr", ConsumerOptions{Window: true, Credit: 4})
	again := col.take(t, 4)
	if got := bodies(again); !slices.Equal(got, []string{"m1", "m2", "m3", "m4"}) {
		t.Fatalf("redelivered %v, want the original order", got)
	}
	for i, want := range []uint32{1, 2, 1, 2} {
		if again[i].DeliveryCount != want {
			t.Fatalf("%s: delivery count %d, want %d", again[i].Message.Body, again[i].DeliveryCount, want)
		}
	}
}
