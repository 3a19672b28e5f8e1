package core

import (
	"errors"
	"testing"

	"github.com/junctionmq/junction/storage/memory"
)

// Purge takes ready and scheduled messages, leaves those in flight, and the
// store forgets what it took: a restart on the same store brings back only
// the message in flight.
func TestPurge(t *testing.T) {
	st := memory.New()
	b := newTestBroker(t, Config{Store: st})
	s := newSession(t, b, SessionOptions{})
	if _, err := b.CreateQueue(QueueInfo{Name: "p", Address: "p", RoutingType: Anycast, Durable: true}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"a", "b", "c"} {
		m := msg("p", body)
		m.Durable = true
		send(t, s, m)
	}
	later := msg("p", "later")
	later.Durable, later.ScheduledAt = true, b.nowMs()+3_600_000
	send(t, s, later)
	c, col := consume(t, s, "p", ConsumerOptions{Credit: 1})
	d := col.next(t, waitTimeout)
	q, _ := b.Queue("p")
	if n := q.Purge(); n != 3 {
		t.Fatalf("purged %d, want 3 (2 ready, 1 scheduled)", n)
	}
	if st := q.Stats(); st.Messages != 1 || st.InFlight != 1 || st.Ready != 0 || st.Scheduled != 0 || st.Acked != 3 {
		t.Fatalf("after purge: %+v", st)
	}
	if err := c.Ack(d.Tag); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Messages != 0 || st.Delivered != 1 || st.Oldest != 0 {
		t.Fatalf("after the ack: %+v", st)
	}
	waitFor(t, "the store emptied", func() bool { return st.Stats().Messages == 0 })
}

func TestCreateQueueAndDeleteAddress(t *testing.T) {
	b := newTestBroker(t, Config{})
	for _, bad := range []QueueInfo{
		{Name: "", Address: "a", RoutingType: Anycast},
		{Name: "a", Address: "b", RoutingType: Anycast},
		{Name: "a", Address: "a", RoutingType: RoutingAny},
		{Name: "a", Address: "a", RoutingType: Multicast, Filter: "x =="},
	} {
		if _, err := b.CreateQueue(bad); err == nil {
			t.Errorf("CreateQueue(%+v) succeeded", bad)
		}
	}
	if _, err := b.CreateQueue(QueueInfo{Name: "sub", Address: "news", RoutingType: Multicast, Filter: "region = 'eu'"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateQueue(QueueInfo{Name: "sub", Address: "news", RoutingType: Multicast}); !errors.Is(err, ErrQueueExists) {
		t.Fatalf("second create: %v, want ErrQueueExists", err)
	}
	s := newSession(t, b, SessionOptions{})
	m := msg("news", "eu", "region", "eu")
	m.RoutingType = Multicast
	send(t, s, m)
	m = msg("news", "us", "region", "us")
	m.RoutingType = Multicast
	send(t, s, m)
	if st := queueStats(t, b, "sub"); st.Messages != 1 {
		t.Fatalf("filtered subscription holds %d, want 1", st.Messages)
	}
	ai, ok := b.Address("news")
	if !ok || !ai.Multicast || ai.AutoCreated {
		t.Fatalf("address: %+v %v", ai, ok)
	}
	if err := b.DeleteAddress("news", false); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("delete in use: %v, want ErrAddressInUse", err)
	}
	if err := b.DeleteAddress("news", true); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Queue("sub"); ok {
		t.Fatal("the subscription outlived its address")
	}
	for _, a := range b.Addresses() {
		if a.Name == "news" {
			t.Fatal("address still listed")
		}
	}
	if err := b.DeleteAddress("news", true); !errors.Is(err, ErrNoSuchAddress) {
		t.Fatalf("second delete: %v, want ErrNoSuchAddress", err)
	}
}

func TestSessionsInfo(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "c1", User: "u", Protocol: "test", RemoteAddr: "10.0.0.1:5"})
	consume(t, s, "in", ConsumerOptions{Credit: 10})
	send(t, s, msg("in", "x"))
	var got SessionInfo
	for _, si := range b.Sessions() {
		if si.ID == s.ID() {
			got = si
		}
	}
	if got.Protocol != "test" || got.ClientID != "c1" || got.User != "u" || got.RemoteAddr != "10.0.0.1:5" ||
		got.Consumers != 1 || got.MessagesIn != 1 || got.MessagesOut != 1 || got.Since.IsZero() {
		t.Fatalf("session info: %+v", got)
	}
	s.Close()
	for _, si := range b.Sessions() {
		if si.ID == s.ID() {
			t.Fatal("closed session listed")
		}
	}
}

// A consumer with KeepQueue leaving an auto-created queue it emptied does
// not auto-delete it; an ordinary one does.
func TestKeepQueue(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for _, keep := range []bool{true, false} {
		c, col := consume(t, s, "auto", ConsumerOptions{Credit: 10, KeepQueue: keep})
		send(t, s, msg("auto", "x"))
		if err := c.Ack(col.next(t, waitTimeout).Tag); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if _, ok := b.Queue("auto"); ok != keep {
			t.Fatalf("KeepQueue %v: queue there after the close: %v", keep, ok)
		}
	}
}
