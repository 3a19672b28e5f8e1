package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/journal"
	"github.com/junctionmq/junction/storage/memory"
)

// batchLog records the batches a faulty.Store passes on (or fails).
type batchLog struct {
	mu      sync.Mutex
	batches [][]storage.Op
}

func (l *batchLog) rule(fail func(ops []storage.Op) bool) faulty.Rule {
	return func(ops []storage.Op, _ bool) error {
		l.mu.Lock()
		l.batches = append(l.batches, slices.Clone(ops))
		l.mu.Unlock()
		if fail != nil && fail(ops) {
			return faulty.ErrInjected
		}
		return nil
	}
}

// moveBatches returns the recorded batches that both add a ref and ack one:
// dead-letter and expiry moves.
func (l *batchLog) moveBatches() [][]storage.Op {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]storage.Op
	for _, b := range l.batches {
		if isMove(b) {
			out = append(out, b)
		}
	}
	return out
}

func isMove(ops []storage.Op) bool {
	var add, ack bool
	for _, op := range ops {
		add = add || op.Kind == storage.OpAddRef
		ack = ack || op.Kind == storage.OpAck
	}
	return add && ack
}

func durableMsg(addr, body string) *Message {
	m := msg(addr, body)
	m.RoutingType = Anycast
	m.Durable = true
	return m
}

// TestDeadLetterMoveIsOneBatch: the copy on the dead-letter address and the
// ack that removes the message from its queue are one store batch.
func TestDeadLetterMoveIsOneBatch(t *testing.T) {
	for _, tt := range []struct {
		name   string
		settle func(c *Consumer, d Delivery) error
		reason string
	}{
		{"reject", func(c *Consumer, d Delivery) error {
			return c.Settle(d.Tag, Outcome{Kind: Rejected, Reason: "bad payload", Condition: "amqp:decode-error"})
		}, "bad payload"},
		{"nack after max-delivery-attempts", func(c *Consumer, d Delivery) error { return c.Nack(d.Tag) }, "max-delivery-attempts 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log batchLog
			st := faulty.Wrap(memory.New())
			b := newTestBroker(t, Config{Store: st, AddressSettings: settings("#", &AddressSettings{MaxDeliveryAttempts: ptr(1)})})
			s := newSession(t, b, SessionOptions{})
			_, dl := consume(t, s, "DLQ", ConsumerOptions{})
			c, col := consume(t, s, "work", ConsumerOptions{})
			send(t, s, durableMsg("work", "poison"))
			st.Set(log.rule(nil))
			if err := tt.settle(c, col.next(t, waitTimeout)); err != nil {
				t.Fatal(err)
			}
			d := dl.next(t, waitTimeout)
			checkDeadLetter(t, d.Message, "work", "work", tt.reason)
			if tt.name == "reject" {
				if got := d.Message.Property(PropDLQCondition).Text(); got != "amqp:decode-error" {
					t.Errorf("%s = %q", PropDLQCondition, got)
				}
			}
			moves := log.moveBatches()
			if len(moves) != 1 {
				t.Fatalf("move batches: %v", log.batches)
			}
			var kinds []storage.OpKind
			for _, op := range moves[0] {
				kinds = append(kinds, op.Kind)
			}
			want := []storage.OpKind{storage.OpAddMessage, storage.OpAddRef, storage.OpAck, storage.OpDeleteMessage}
			if !slices.Equal(kinds, want) {
				t.Errorf("move batch %v, want %v", kinds, want)
			}
			if st := queueStats(t, b, "work"); st.Messages != 0 || st.DeadLettered != 1 {
				t.Errorf("source stats %+v", st)
			}
		})
	}
}

// TestMoveBatchFailureKeepsMessage: when the store refuses the move's batch,
// the message stays in its queue (and is delivered again after the retry
// delay); nothing reaches the dead-letter queue.
func TestMoveBatchFailureKeepsMessage(t *testing.T) {
	var log batchLog
	st := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: st})
	s := newSession(t, b, SessionOptions{})
	_, dl := consume(t, s, "DLQ", ConsumerOptions{})
	c, col := consume(t, s, "work", ConsumerOptions{})
	send(t, s, durableMsg("work", "keep me"))
	st.Set(log.rule(isMove))
	d := col.next(t, waitTimeout)
	if err := c.Reject(d.Tag, "no"); err != nil {
		t.Fatal(err)
	}
	if st.Failures() != 1 {
		t.Fatalf("store failures %d, want the move's batch to fail", st.Failures())
	}
	dl.none(t)
	if st := queueStats(t, b, "work"); st.Messages != 1 || st.DeadLettered != 0 {
		t.Errorf("after the failed move: %+v", st)
	}
	if st := queueStats(t, b, "DLQ"); st.Messages != 0 {
		t.Errorf("DLQ after the failed move: %+v", st)
	}
	// It comes back after the retry delay; with the store healthy the
	// next rejection moves it.
	again := col.next(t, moveRetryDelay+waitTimeout)
	if string(again.Message.Body) != "keep me" {
		t.Fatalf("got %q back", again.Message.Body)
	}
	st.Set(nil)
	if err := c.Reject(again.Tag, "still no"); err != nil {
		t.Fatal(err)
	}
	checkDeadLetter(t, dl.next(t, waitTimeout).Message, "work", "work", "still no")
}

// TestMoveRefusedByFullTarget: a dead-letter queue that is full with
// address-full-policy FAIL refuses the copy; the message stays where it was.
func TestMoveRefusedByFullTarget(t *testing.T) {
	b := newTestBroker(t, Config{AddressSettings: settings(
		"DLQ", &AddressSettings{MaxSizeBytes: ptr(ByteSize(600)), AddressFullPolicy: ptr("FAIL")})})
	s := newSession(t, b, SessionOptions{})
	send(t, s, durableMsg("DLQ", strings.Repeat("x", 200)))
	c, col := consume(t, s, "work", ConsumerOptions{})
	send(t, s, durableMsg("work", strings.Repeat("y", 200)))
	d := col.next(t, waitTimeout)
	if err := c.Reject(d.Tag, ""); err != nil {
		t.Fatal(err)
	}
	if st := queueStats(t, b, "work"); st.Messages != 1 {
		t.Errorf("source after the refused move: %+v", st)
	}
	if st := queueStats(t, b, "DLQ"); st.Messages != 1 {
		t.Errorf("DLQ after the refused move: %+v", st)
	}
	// Space in the DLQ: the next rejection goes through.
	_, dl := consume(t, s, "DLQ", ConsumerOptions{})
	ackAll(t, dl.take(t, 1))
	again := col.next(t, moveRetryDelay+waitTimeout)
	if err := c.Reject(again.Tag, ""); err != nil {
		t.Fatal(err)
	}
	if got := dl.next(t, waitTimeout); got.Message.Property(PropOrigQueue).Text() != "work" {
		t.Errorf("DLQ got %v", got.Message.Properties)
	}
	if st := queueStats(t, b, "work"); st.Messages != 0 {
		t.Errorf("source after the move: %+v", st)
	}
}

// TestMoveSurvivesRestart: after a dead-letter move on the journal, a
// restarted broker finds the message in the DLQ only.
func TestMoveSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *Broker {
		j, err := journal.Open(dir, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(Config{Store: j, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	s := b.NewSession(SessionOptions{})
	send(t, s, durableMsg("work", "poison"))
	c, col := consume(t, s, "work", ConsumerOptions{})
	if err := c.Reject(col.next(t, waitTimeout).Tag, "why"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the move", func() bool { return queueStats(t, b, "DLQ").Messages == 1 })
	s.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open()
	defer b.Close()
	// The source queue was auto-deleted once empty; if it is back, it is empty.
	if q, ok := b.Queue("work"); ok && q.Stats().Messages != 0 {
		t.Errorf("source after restart: %+v", q.Stats())
	}
	if st := queueStats(t, b, "DLQ"); st.Messages != 1 {
		t.Errorf("DLQ after restart: %+v", st)
	}
}

// TestTxSettleOutcomes: every outcome settled in a transaction takes effect
// at Commit, in the transaction's batch, and Rollback discards it, leaving the
// delivery with its consumer.
func TestTxSettleOutcomes(t *testing.T) {
	var log batchLog
	st := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: st, AddressSettings: settings("#", &AddressSettings{MaxDeliveryAttempts: ptr(1)})})
	s := newSession(t, b, SessionOptions{})
	_, dl := consume(t, s, "DLQ", ConsumerOptions{})
	c, col := consume(t, s, "work", ConsumerOptions{})
	for _, body := range []string{"reject", "nack", "release"} {
		send(t, s, durableMsg("work", body))
	}
	ds := col.take(t, 3)

	// Rollback: nothing happens, the deliveries can still be settled.
	tx := s.Begin()
	for i, o := range []Outcome{{Kind: Rejected}, failedOutcome, {Kind: Released}} {
		if err := tx.Settle(c, ds[i].Tag, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Ack(ds[0].Tag); err == nil {
		t.Error("a delivery settled in an open transaction was acked outside it")
	}
	tx.Rollback()
	col.none(t)
	dl.none(t)
	if st := queueStats(t, b, "work"); st.InFlight != 3 {
		t.Errorf("after rollback: %+v", st)
	}

	// Commit: one batch with the reply, the dead-letter copies and the acks.
	st.Set(log.rule(nil))
	tx = s.Begin()
	if err := tx.Settle(c, ds[0].Tag, Outcome{Kind: Rejected, Reason: "in tx"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Settle(c, ds[1].Tag, failedOutcome); err != nil {
		t.Fatal(err)
	}
	if err := tx.Settle(c, ds[2].Tag, Outcome{Kind: Released}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(durableMsg("replies", "reply")); err != nil {
		t.Fatal(err)
	}
	dl.none(t)
	done := make(chan error, 1)
	if err := tx.Commit(context.Background(), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := dl.take(t, 2)
	reasons := []string{got[0].Message.Property(PropDLQReason).Text(), got[1].Message.Property(PropDLQReason).Text()}
	slices.Sort(reasons)
	if reasons[0] != "in tx" || !strings.HasPrefix(reasons[1], "max-delivery-attempts") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	if r := col.next(t, waitTimeout); string(r.Message.Body) != "release" || r.DeliveryCount != 1 {
		t.Errorf("released message back as %q count %d", r.Message.Body, r.DeliveryCount)
	}
	// Auto-creating "replies" stores its binding apart; the rest is one.
	log.mu.Lock()
	defer log.mu.Unlock()
	n := 0
	for _, b := range log.batches {
		if b[0].Kind != storage.OpPutBinding {
			n++
		}
	}
	if n != 1 {
		t.Errorf("commit wrote %d batches, want 1: %v", n, log.batches)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestExpiryMoveFailureKeepsMessage: an expiry move whose batch the store
// refuses leaves the message in its queue (never delivered: it is expired);
// the reaper moves it once the store takes the batch.
func TestExpiryMoveFailureKeepsMessage(t *testing.T) {
	clock := newFakeClock()
	st := faulty.Wrap(memory.New())
	b := newTestBroker(t, Config{Store: st, Now: clock.Now, ReaperInterval: 10 * time.Millisecond})
	s := newSession(t, b, SessionOptions{})
	m := durableMsg("q", "stale")
	m.Expiration = clock.ms() + 1000
	send(t, s, m)
	var log batchLog
	st.Set(log.rule(isMove))
	clock.Advance(2 * time.Second)
	waitFor(t, "a failed expiry move", func() bool { return st.Failures() > 0 })
	if st := queueStats(t, b, "q"); st.Messages != 1 || st.Expired != 0 {
		t.Errorf("after the failed move: %+v", st)
	}
	_, col := consume(t, s, "q", ConsumerOptions{})
	col.none(t)
	st.Set(nil)
	_, exp := consume(t, s, "ExpiryQueue", ConsumerOptions{})
	d := exp.next(t, waitTimeout)
	if string(d.Message.Body) != "stale" || d.Message.Property(PropOrigQueue).Text() != "q" {
		t.Errorf("expiry queue got %q %v", d.Message.Body, d.Message.Properties)
	}
	waitFor(t, "the source to let go", func() bool { return queueStats(t, b, "q").Messages == 0 })
	if len(log.moveBatches()) == 0 {
		t.Error("no move batch was seen")
	}
}

// TestConcurrentMoves: consumers on several goroutines reject and NACK
// messages while others settle theirs, on the journal (whose callbacks come
// from its own goroutine) and with a DLQ that is drained as it fills: every
// message ends in the DLQ exactly once or acked, and the source is empty.
func TestConcurrentMoves(t *testing.T) {
	j, err := journal.Open(t.TempDir(), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBroker(t, Config{Store: j, AddressSettings: settings("work", &AddressSettings{MaxDeliveryAttempts: ptr(2)})})
	s := newSession(t, b, SessionOptions{})
	const n, workers = 400, 4
	var mu sync.Mutex
	dead := map[string]int{}
	dlDone := make(chan struct{})
	dl, err := s.Consume("DLQ", ConsumerOptions{Credit: 1 << 20, AutoAck: true, Handler: func(d Delivery) {
		mu.Lock()
		dead[string(d.Message.Body)]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var acked atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		ch := make(chan Delivery, n)
		c, err := s.Consume("work", ConsumerOptions{Credit: 16, Window: true, Handler: func(d Delivery) { ch <- d }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case d := <-ch:
					var err error
					switch i := d.Message.ID % 3; {
					case i == 0:
						err = c.Reject(d.Tag, "w"+fmt.Sprint(w))
					case i == 1:
						err = c.Nack(d.Tag)
					default:
						err = c.Ack(d.Tag)
						acked.Add(1)
					}
					if err != nil {
						t.Error(err)
						return
					}
				case <-dlDone:
					return
				}
			}
		}()
	}
	for i := range n {
		send(t, s, durableMsg("work", fmt.Sprint(i)))
	}
	waitFor(t, "every message settled or moved", func() bool {
		mu.Lock()
		moved := len(dead)
		mu.Unlock()
		return int64(moved)+acked.Load() == n
	})
	close(dlDone)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for body, k := range dead {
		if k != 1 {
			t.Errorf("%s reached the DLQ %d times", body, k)
		}
	}
	if st := queueStats(t, b, "work"); st.Messages != 0 || int(st.DeadLettered) != len(dead) {
		t.Errorf("source %+v, %d dead-lettered", st, len(dead))
	}
}
