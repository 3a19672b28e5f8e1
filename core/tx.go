package core

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

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
//
// Commit never waits for space: when a destination is full under
// address-full-policy BLOCK, the whole transaction waits in that address's
// admission line (then in the next full one's, if any) and done is called
// once it has been applied; an error found then (the address went away)
// rolls the acks back and goes to done. If ctx ends while the commit waits,
// it is rolled back and done gets the error.
func (tx *Tx) Commit(ctx context.Context, done func(error)) error {
	return tx.commit(ctx, done, nil)
}

// Commit commits tx as Tx.Commit does; a commit held for space counts for
// the producer (Held) and Close withdraws it, rolling it back.
func (p *Producer) Commit(ctx context.Context, tx *Tx, done func(error)) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return tx.commit(ctx, done, p)
}

func (tx *Tx) commit(ctx context.Context, done func(error), p *Producer) error {
	tx.mu.Lock()
	if tx.done {
		tx.mu.Unlock()
		return ErrTxDone
	}
	if err := tx.s.b.storeUnavailable(); err != nil && tx.needsStore() {
		tx.mu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	if done == nil {
		done = func(error) {}
	}
	// Resolve every destination first so a failure sends nothing.
	plans, full, err := tx.resolveAll(nil)
	if err != nil {
		tx.mu.Unlock()
		return err
	}
	tx.done = true
	sends, acks := tx.sends, tx.acks
	tx.sends, tx.acks = nil, nil
	tx.mu.Unlock()
	if full != nil {
		tx.hold(ctx, sends, acks, full, nil, done, p)
		return nil
	}
	tx.apply(sends, acks, plans, done)
	return nil
}

// resolveAll resolves every send of the transaction; full is the first
// address that makes it wait. Caller holds tx.mu or owns the sends.
func (tx *Tx) resolveAll(pass []*address) (plans []resolved, full *address, err error) {
	plans = make([]resolved, len(tx.sends))
	for i, m := range tx.sends {
		res, err := tx.s.b.resolve(tx.s, m, pass...)
		if err != nil {
			return nil, nil, fmt.Errorf("commit: message %d of %d: %w", i+1, len(tx.sends), err)
		}
		if res.full {
			return nil, res.a, nil
		}
		plans[i] = res
	}
	return plans, nil, nil
}

// hold queues a commit on a full address. Once admitted it resolves again,
// passing the limits of every address it has waited on: a transaction waits
// its turn once per address, never twice on the same one.
func (tx *Tx) hold(ctx context.Context, sends []*Message, acks []txAck, a *address, pass []*address, done func(error), p *Producer) {
	b := tx.s.b
	var need int64
	for _, m := range sends {
		if m.Address == a.name {
			need = int64(m.Size())
			break
		}
	}
	w := &waiter{need: need}
	var stop atomic.Pointer[func() bool]
	w.run = func() {
		if st := stop.Load(); st != nil {
			(*st)()
		}
		p.untrack(w, need)
		pass := append(append([]*address(nil), pass...), a)
		held := &Tx{s: tx.s, sends: sends}
		plans, full, err := held.resolveAll(pass)
		switch {
		case err != nil:
			tx.rollbackAcks(acks)
			done(err)
		case full != nil:
			tx.hold(ctx, sends, acks, full, pass, done, p)
		default:
			tx.apply(sends, acks, plans, done)
		}
	}
	w.withdrawn = func(err error) {
		p.untrack(w, need)
		tx.rollbackAcks(acks)
		done(fmt.Errorf("commit: %w: %q: %w", ErrAddressFull, a.name, err))
	}
	p.track(w, a, need)
	a.hold(b, w)
	if ctx.Done() != nil {
		st := context.AfterFunc(ctx, func() {
			if a.withdraw(w) {
				w.withdrawn(context.Cause(ctx))
			}
		})
		stop.Store(&st)
	}
}

// apply writes and publishes a resolved transaction.
func (tx *Tx) apply(sends []*Message, acks []txAck, plans []resolved, done func(error)) {
	b := tx.s.b
	var ops []storage.Op
	ready := make([]prepared, 0, len(sends))
	for i, m := range sends {
		for attempt := 0; ; attempt++ {
			p, ok := b.prepare(m, plans[i], &ops)
			if ok {
				ready = append(ready, p)
				break
			}
			// The queue went away: resolve again, past the limit the
			// transaction was already admitted under.
			res, err := b.resolve(tx.s, m, plans[i].a)
			if err != nil || attempt >= 3 || res.full {
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
	tx.rollbackAcks(acks)
}

// rollbackAcks returns acked messages for redelivery.
func (tx *Tx) rollbackAcks(acks []txAck) {
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
