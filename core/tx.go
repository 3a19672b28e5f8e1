package core

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/junctionmq/junction/internal/lockorder"
	"github.com/junctionmq/junction/storage"
)

// Tx is a local transaction: its sends and settlements (acks and every other
// outcome) take effect together at Commit, in one atomic store write, or not
// at all.
type Tx struct {
	s     *Session
	mu    lockorder.Mutex[lockorder.TransactionRank]
	sends []*Message
	acks  []txSettle
	done  bool
}

// txSettle is a delivery settled inside the transaction.
type txSettle struct {
	c *Consumer
	r *ref
	o Outcome
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
func (tx *Tx) Ack(c *Consumer, tag uint64) error { return tx.settle(c, tag, ackOutcome, false) }

// AckUpTo acknowledges, inside the transaction, every delivery of c up to tag.
func (tx *Tx) AckUpTo(c *Consumer, tag uint64) error { return tx.settle(c, tag, ackOutcome, true) }

// Settle ends a delivery with any outcome inside the transaction (AMQP
// transactional dispositions, a STOMP NACK with a transaction header). The
// outcome takes effect at Commit; until then the delivery stays with c.
func (tx *Tx) Settle(c *Consumer, tag uint64, o Outcome) error { return tx.settle(c, tag, o, false) }

func (tx *Tx) settle(c *Consumer, tag uint64, o Outcome, cumulative bool) error {
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
		return errUnknownDelivery(tag)
	}
	if !cumulative {
		r.tx = tx
		tx.acks = append(tx.acks, txSettle{c, r, o})
		return nil
	}
	for x := c.head; x != nil && x.tag <= tag; x = x.next {
		if x.tx == nil {
			x.tx = tx
			tx.acks = append(tx.acks, txSettle{c, x, o})
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
	if p.closed.Load() {
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
func (tx *Tx) hold(ctx context.Context, sends []*Message, acks []txSettle, a *address, pass []*address, done func(error), p *Producer) {
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
	b.park(ctx, p, a, w, need, &stop)
}

// apply writes and publishes a resolved transaction.
func (tx *Tx) apply(sends []*Message, acks []txSettle, plans []resolved, done func(error)) {
	b := tx.s.b
	var ops []storage.Op
	gate := b.pageGate(true) // its sends, and its acks' dead-letter moves, may page
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
	var moves []move
	var unstored []queueAcks
	for _, a := range acks {
		q := a.c.q
		q.mu.Lock()
		if a.r.tx == tx && a.r.consumer == a.c {
			a.r.tx = nil
			q.settleLocked(a.c, a.r, a.o, now)
			q.dispatchLocked()
		}
		ops = append(ops, q.ops...)
		unstored = append(unstored, queueAcks{q, q.unstored})
		q.ops, q.unstored = nil, nil
		// Dead-letter moves join the batch: the copy, the source's ack and
		// the rest of the transaction are stored together.
		if r := q.rare; r != nil {
			moves = append(moves, r.moves...)
			r.moves = nil
		}
		q.unlock()
	}
	var movePlans []*movePlan
	for _, mv := range moves {
		if plan, ok := b.prepareMove(mv, &ops); ok {
			movePlans = append(movePlans, plan)
		}
	}
	// The transaction's messages become visible once the store has the
	// whole of it: a failed commit delivers none of them, and brings back
	// the messages it acked. done is called after that.
	stored := func(err error) {
		for _, p := range movePlans {
			b.finishMove(p, err)
		}
		for _, p := range ready {
			if h := b.hooks.AfterSend; h != nil && p.m != nil {
				h(tx.s, p.m, p.queues(), storeErr(err))
			}
			if err != nil {
				b.withdraw(p)
			} else {
				b.publish(p)
			}
		}
		if err != nil {
			b.storeWriteFailed(err)
			for _, u := range unstored {
				u.q.restoreAcks(u.acks)
			}
		}
		done(storeErr(err))
	}
	if len(ops) > 0 {
		gate.apply(b, ops, true, stored)
	} else {
		gate.open()
		stored(nil)
	}
}

// queueAcks are a transaction's acks on one queue, not yet stored.
type queueAcks struct {
	q    *Queue
	acks []ackedRef
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

// Rollback discards the transaction's sends and settlements. Acked messages
// come back for redelivery (counted as a failed delivery, as JMS and STOMP
// ABORT do); any other outcome is simply dropped, so the delivery stays in
// flight with its consumer as before the transaction (AMQP: a discharged
// transaction that failed leaves its deliveries unsettled). A delivery whose
// consumer closed meanwhile returns to its queue as Close would have done.
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
func (tx *Tx) rollbackAcks(acks []txSettle) {
	now := tx.s.b.nowMs()
	for _, a := range acks {
		q := a.c.q
		q.mu.Lock()
		if a.r.tx == tx && a.r.consumer == a.c {
			a.r.tx = nil
			if a.o.Kind == Accepted || a.c.closed {
				q.settleLocked(a.c, a.r, failedOutcome, now)
				q.dispatchLocked()
			}
		}
		q.unlock()
	}
}
