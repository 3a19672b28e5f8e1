package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// Store failures above the journal: storage/faulty fails batches on demand.

// faultyBroker starts a broker on a memory store wrapped by faulty.
func faultyBroker(t *testing.T) (*Broker, *faulty.Store, *memory.Store) {
	t.Helper()
	inner := memory.New()
	fs := faulty.Wrap(inner)
	return newTestBroker(t, Config{Store: fs}), fs, inner
}

// durable makes m a persistent message for an anycast queue (auto-created).
func durable(m *Message) *Message { m.Durable, m.RoutingType = true, Anycast; return m }

// TestStoreFailureReachesTheSender: a durable send the store refuses is
// confirmed with the store's error, never with nil; a non-durable one needs
// no store and is confirmed. Catches the mutation "route confirms a durable
// send once it is published, ignoring the store's answer".
func TestStoreFailureReachesTheSender(t *testing.T) {
	b, fs, _ := faultyBroker(t)
	s := newSession(t, b, SessionOptions{})
	send(t, s, durable(msg("q", "stored")))
	fs.Set(faulty.SyncOnly())
	if err := sendErr(s, durable(msg("q", "lost"))); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("durable send with a failing store confirmed with %v, want the store's error", err)
	}
	if err := sendErr(s, msg("q", "not durable")); err != nil {
		t.Fatalf("non-durable send: %v", err)
	}
	if fs.Failures() != 1 {
		t.Fatalf("%d store batches failed, want 1", fs.Failures())
	}
}

// TestFailedCommitLeavesNothingHalfApplied: a transaction with sends to two
// queues and an ack is one store batch; when the store refuses the part with
// the ack, none of it is stored: after a restart the sends are absent and the
// acked message is back. Catches the mutation "commit writes its sends and
// its acks in separate batches" (the sends would survive the restart).
func TestFailedCommitLeavesNothingHalfApplied(t *testing.T) {
	b, fs, inner := faultyBroker(t)
	s := newSession(t, b, SessionOptions{})
	send(t, s, durable(msg("in", "consumed in the transaction")))
	c, col := consume(t, s, "in", ConsumerOptions{})
	d := col.next(t, waitTimeout)
	// The destinations exist before the transaction (queues auto-created by
	// a send), so their bindings survive whatever happens to the commit.
	for _, q := range []string{"out1", "out2"} {
		c, col := consume(t, s, q, ConsumerOptions{})
		send(t, s, durable(msg(q, "before")))
		ackAll(t, col.take(t, 1))
		c.Close()
	}

	tx := s.Begin()
	for _, q := range []string{"out1", "out2"} {
		if err := tx.Send(durable(msg(q, "sent in the transaction"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Ack(c, d.Tag); err != nil {
		t.Fatal(err)
	}
	fs.Set(faulty.OnKind(storage.OpAck))
	committed := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { committed <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-committed:
		if !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("commit with a failing store confirmed with %v, want the store's error", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("commit never confirmed")
	}
	fs.Set(nil)

	// Nor in memory: the sends were never made visible and the acked
	// message is back in its queue (catches "publish the transaction's
	// sends before the store answers").
	for q, want := range map[string]int{"in": 1, "out1": 0, "out2": 0} {
		if st := queueStats(t, b, q); st.Messages != want {
			t.Errorf("%s after the failed commit: %d messages in memory, want %d", q, st.Messages, want)
		}
	}

	nb, _ := restart(t, b, inner)
	for q, want := range map[string]int{"in": 1, "out1": 0, "out2": 0} {
		if st := queueStats(t, nb, q); st.Messages != want {
			t.Errorf("%s after the failed commit and a restart: %d messages, want %d", q, st.Messages, want)
		}
	}
}

// TestQueueDeletedDuringSend: a send that resolved its queue and then waited
// (address full, BLOCK) while the queue was deleted resolves again, so the
// auto-created queue comes back and holds the message. Catches the mutation
// "route does not retry when prepare finds a target deleted" (the send would
// be confirmed and the message lost).
func TestQueueDeletedDuringSend(t *testing.T) {
	b := newTestBroker(t, fullSettings("BLOCK"))
	s := newSession(t, b, SessionOptions{})
	for range 2 { // fill, with anycast messages that create the queue
		send(t, s, durable(msg("full", strings.Repeat("x", 300))))
	}
	sent := make(chan error, 1)
	if err := s.Send(context.Background(), durable(msg("full", "waited")), func(err error) { sent <- err }); err != nil {
		t.Fatal(err)
	}
	if n := b.HeldSends("full"); n != 1 {
		t.Fatalf("%d sends held, want 1", n)
	}
	// Deleting the queue frees the address and wakes the producer, whose
	// resolved targets still name the deleted queue.
	if err := s.DeleteQueue("full"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("send after its queue was deleted: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("send still held after its queue was deleted")
	}
	c, col := consume(t, s, "full", ConsumerOptions{})
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "waited" {
		t.Fatalf("the recreated queue delivered %q", d.Message.Body)
	}
	_ = c
	if st := queueStats(t, b, "full"); st.Messages != 1 {
		t.Fatalf("recreated queue holds %d, want 1 (only the waiting send): %+v", st.Messages, st)
	}
}
