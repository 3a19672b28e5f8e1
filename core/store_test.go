package core

import (
	"context"
	"errors"
	"testing"
	"time"

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
