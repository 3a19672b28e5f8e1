package core

import (
	"context"
	"fmt"
	"sync"

	"github.com/junctionmq/junction/storage"
)

// Tx is a local transaction: its sends and acks take effect together at Commit,
// in one atomic store write, or not at all.
type Tx struct {
	s     *Session
	mu    sync.Mutex
	sends []*Message
	acks  []txAck
	done  bool
}

type txAck struct {
	c *Consumer
	r *ref
}

// Begin starts a transaction.
func (s *Session) Begin() *Tx { return &Tx{s: s} }

// Send adds a message to the transaction. Permissions and the message itself
// are checked now; routing happens at Commit.
func (tx *Tx) Send(m *Message) error {
	if err := tx.s.prepareSend(m); err != nil {
		return err
	}
	if err := tx.s.b.validate(m); err != nil {
		return err
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return ErrTxDone
	}
	tx.sends = append(tx.sends, m)
	return nil
}

// Ack acknowledges a delivery inside the transaction. The message stays
// invisible to other consumers until Commit consumes it or Rollback returns it.
func (tx *Tx) Ack(c *Consumer, tag uint64) error { return tx.ack(c, tag, false) }

// AckUpTo acknowledges, inside the transaction, every delivery of c up to tag.
func (tx *Tx) AckUpTo(c *Consumer, tag uint64) error { return tx.ack(c, tag, true) }

func (tx *Tx) ack(c *Consumer, tag uint64, cumulative bool) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return ErrTxDone
	}
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	r := c.inFlight[tag]
	if r == nil || r.tx != nil {
		return fmt.Errorf("%w: tag %d", ErrUnknownDelivery, tag)
	}
	if !cumulative {
		r.tx = tx
		tx.acks = append(tx.acks, txAck{c, r})
		return nil
	}
	for x := c.head; x != nil && x.tag <= tag; x = x.next {
		if x.tx == nil {
			x.tx = tx
			tx.acks = append(tx.acks, txAck{c, x})
		}
	}
	return nil
}

// Commit routes the transaction's messages and settles its acks, writing all
// of it to the store as one unit; done is called once that is durable. If a
// message cannot be routed, nothing is sent and the error is returned (the
// acks stay pending: the caller should Rollback).
func (tx *Tx) Commit(ctx context.Context, done func(error)) error {
	tx.mu.Lock()
	if tx.done {
		tx.mu.Unlock()
		return ErrTxDone
	}
	b := tx.s.b
	if err := b.storeUnavailable(); err != nil && tx.needsStore() {
		tx.mu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	// Resolve every destination first so a failure sends nothing.
	plans := make([]resolved, len(tx.sends))
	for i, m := range tx.sends {
		res, err := b.resolve(ctx, tx.s, m)
		if err != nil {
			tx.mu.Unlock()
			return fmt.Errorf("commit: message %d of %d: %w", i+1, len(tx.sends), err)
		}
		plans[i] = res
	}
	tx.done = true
	sends, acks := tx.sends, tx.acks
	tx.sends, tx.acks = nil, nil
	tx.mu.Unlock()

	var ops []storage.Op
	ready := make([]prepared, 0, len(sends))
	for i, m := range sends {
		for attempt := 0; ; attempt++ {
			p, ok := b.prepare(m, plans[i], &ops)
			if ok {
				ready = append(ready, p)
				break
			}
			res, err := b.resolve(ctx, tx.s, m)
			if err != nil || attempt >= 3 {
				b.log.Warn("transactional send lost its destination during commit", "address", m.Address, "err", err)
				break
			}
			plans[i] = res
		}
	}
	now := b.nowMs()
	for _, a := range acks {
		q := a.c.q
		q.mu.Lock()
		if a.r.tx == tx && a.r.consumer == a.c {
			a.r.tx = nil
			q.settleLocked(a.c, a.r, outcomeAck, now)
			q.dispatchLocked()
		}
		ops = append(ops, q.ops...)
		q.ops = nil
		q.unlock()
	}
	// The whole transaction reaches the store before its messages become
	// visible, so no ack of them can overtake it.
	// Confirm when the transaction is durable and its messages visible.
	if done == nil {
		done = func(error) {}
	}
	j := &confirm{n: 2, done: done}
	if len(ops) > 0 {
		b.store.Apply(ops, true, j.one)
	} else {
		j.one(nil)
	}
	for _, p := range ready {
		b.publish(p)
	}
	j.one(nil)
	return nil
}

// needsStore reports whether committing writes to the store. Caller holds
// tx.mu.
func (tx *Tx) needsStore() bool {
	if len(tx.acks) > 0 {
		return true
	}
	for _, m := range tx.sends {
		if m.Durable {
			return true
		}
	}
	return false
}

// Rollback discards the transaction's sends and returns its acked messages for
// redelivery (counted as a failed delivery, as JMS does).
func (tx *Tx) Rollback() {
	tx.mu.Lock()
	if tx.done {
		tx.mu.Unlock()
		return
	}
	tx.done = true
	acks := tx.acks
	tx.sends, tx.acks = nil, nil
	tx.mu.Unlock()
	now := tx.s.b.nowMs()
	for _, a := range acks {
		q := a.c.q
		q.mu.Lock()
		if a.r.tx == tx && a.r.consumer == a.c {
			a.r.tx = nil
			q.settleLocked(a.c, a.r, outcomeFailed, now)
			q.dispatchLocked()
		}
		q.unlock()
	}
}
