package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

func TestBrokenStoreRefusesDurableSends(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "q", ConsumerOptions{Credit: -1})
	send(t, s, dupMsg("q", "before", ""))
	store.Break(nil)

	err := s.Send(context.Background(), dupMsg("q", "durable", ""), func(error) {
		t.Error("done called for a refused send")
	})
	if !errors.Is(err, ErrStoreUnavailable) || !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("durable send on a broken store: %v, want ErrStoreUnavailable wrapping the cause", err)
	}
	if !errors.Is(b.StoreHealth(), faulty.ErrInjected) {
		t.Errorf("StoreHealth = %v", b.StoreHealth())
	}
	nd := msg("q", "non-durable")
	send(t, s, nd) // nothing to store: still accepted
	tx := s.Begin()
	if err := tx.Send(dupMsg("q", "in tx", "")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background(), nil); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("commit on a broken store: %v", err)
	}
	tx.Rollback()
	if n := queueStats(t, b, "q").Messages; n != 2 {
		t.Fatalf("queue holds %d messages, want 2 (before, non-durable)", n)
	}

	store.Heal()
	send(t, s, dupMsg("q", "after", ""))
	if n := queueStats(t, b, "q").Messages; n != 3 {
		t.Fatalf("queue holds %d messages after healing, want 3", n)
	}
}

func TestStorePressureHoldsDurableSends(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{})
	consume(t, s, "q", ConsumerOptions{Credit: -1})
	store.Press(true)
	if !b.StorePressure() {
		t.Fatal("StorePressure is off while the store reports pressure")
	}
	// A non-durable send needs no store and goes through.
	send(t, s, msg("q", "non-durable"))

	sent := make(chan error, 1)
	go func() { sent <- sendErr(s, dupMsg("q", "held", "")) }()
	waitFor(t, "the durable send to wait for the store", func() bool { return b.HeldSends("q") == 1 })
	if n := queueStats(t, b, "q").Messages; n != 1 {
		t.Fatalf("queue holds %d messages while the send is held, want 1", n)
	}
	store.Press(false)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("held send: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the held send did not go on once the pressure cleared")
	}
	if n := queueStats(t, b, "q").Messages; n != 2 {
		t.Fatalf("queue holds %d messages, want 2", n)
	}

	// A held producer whose context ends gives up with an error.
	store.Press(true)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	if err := s.Send(ctx, dupMsg("q", "abandoned", ""), func(err error) { errc <- err }); err != nil {
		t.Fatalf("Send under store pressure returned %v; it must be held, not refused", err)
	}
	if n := b.HeldSends("q"); n != 1 {
		t.Fatalf("%d sends held, want 1", n)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned send: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("a cancelled send stayed held")
	}
	store.Press(false)
}

// A batch the store fails while it still reports itself healthy (the race
// between a send and the failure) is never delivered, and its duplicate id
// does not make the producer's retry a duplicate.
func TestFailedSendIsNeverDelivered(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{AutoAck: true})
	send(t, s, dupMsg("q", "before", ""))
	col.next(t, waitTimeout)
	store.Set(faulty.SyncOnly())
	err := sendErr(s, dupMsg("q", "failed", "id-1"))
	if !errors.Is(err, ErrStoreUnavailable) || !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("send whose batch failed: %v, want ErrStoreUnavailable wrapping the cause", err)
	}
	col.none(t)
	if st := queueStats(t, b, "q"); st.Messages != 0 {
		t.Fatalf("queue holds %d messages after a failed send", st.Messages)
	}
	tx := s.Begin()
	if err := tx.Send(dupMsg("q", "failed in tx", "")); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { committed <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("commit whose batch failed: %v", err)
	}
	col.none(t)

	store.Set(nil)
	send(t, s, dupMsg("q", "retried", "id-1"))
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "retried" {
		t.Fatalf("got %q, want the retried send", d.Message.Body)
	}
}

// An ack the store fails does not make its message disappear: it comes back
// (the store still holds it), and a client that asked is told.
func TestFailedAckBringsMessageBack(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{})
	_, col := consume(t, s, "q", ConsumerOptions{Credit: 10, Window: true})
	send(t, s, dupMsg("q", "one", ""))
	send(t, s, dupMsg("q", "two", ""))
	ds := col.take(t, 2)
	store.Set(faulty.OnKind(storage.OpAck))
	acked := make(chan error, 1)
	if err := ds[0].Consumer.SettleWait(ds[0].Tag, Outcome{Kind: Accepted}, func(err error) { acked <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("SettleWait of an ack the store failed: %v", err)
	}
	if err := ds[1].Consumer.Ack(ds[1].Tag); err != nil {
		t.Fatal(err)
	}
	store.Set(nil)
	back := col.take(t, 2)
	for _, d := range back {
		if d.DeliveryCount < 2 {
			t.Errorf("%q came back with delivery count %d, want it counted", d.Message.Body, d.DeliveryCount)
		}
		if err := d.Consumer.AckUpToWait(d.Tag, func(err error) { acked <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-acked; err != nil {
			t.Fatalf("ack once the store writes: %v", err)
		}
	}
	if st := queueStats(t, b, "q"); st.Messages != 0 {
		t.Fatalf("queue holds %d messages after the acks were stored", st.Messages)
	}
}

// A durable subscription is not created while the store cannot write its
// binding; an existing one can still be attached to, so consumers drain.
func TestDurableSubscriptionWhileStoreBroken(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{ClientID: "c1"})
	c, _ := subscribe(t, s, SubscribeOptions{Address: "t", Name: "old", Durable: true}, ConsumerOptions{})
	c.Close()
	store.Break(nil)
	if _, err := s.Subscribe(SubscribeOptions{Address: "t", Name: "new", Durable: true}, ConsumerOptions{Handler: func(Delivery) {}}); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("new durable subscription on a broken store: %v", err)
	}
	subscribe(t, s, SubscribeOptions{Address: "t", Name: "old", Durable: true}, ConsumerOptions{})
	subscribe(t, s, SubscribeOptions{Address: "t"}, ConsumerOptions{}) // non-durable: nothing stored
}

// SubscribeOptions.Stored reports what became of a durable subscription's
// record: nil once stored or when nothing is written, the store's error when
// the write failed.
func TestSubscriptionStored(t *testing.T) {
	store := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: store})
	s := newSession(t, b, SessionOptions{ClientID: "c1"})
	stored := make(chan error, 1)
	sub := func(name string, durable bool) {
		t.Helper()
		c, err := s.Subscribe(SubscribeOptions{Address: "t", Name: name, Durable: durable, Stored: func(err error) { stored <- err }},
			ConsumerOptions{Handler: func(Delivery) {}})
		if err != nil {
			t.Fatalf("Subscribe %s: %v", name, err)
		}
		c.Close()
	}
	result := func() error {
		t.Helper()
		select {
		case err := <-stored:
			return err
		case <-time.After(waitTimeout):
			t.Fatal("Stored was not called")
			return nil
		}
	}
	sub("a", true)
	if err := result(); err != nil {
		t.Fatalf("a stored durable subscription: %v", err)
	}
	sub("a", true)
	if err := result(); err != nil {
		t.Fatalf("an existing durable subscription: %v", err)
	}
	sub("", false)
	if err := result(); err != nil {
		t.Fatalf("a non-durable subscription: %v", err)
	}
	store.Set(faulty.OnKind(storage.OpPutBinding))
	sub("b", true)
	if err := result(); !errors.Is(err, ErrStoreUnavailable) || !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("a durable subscription whose record failed: %v", err)
	}
	select {
	case err := <-stored:
		t.Fatalf("Stored called twice (%v)", err)
	default:
	}
}
