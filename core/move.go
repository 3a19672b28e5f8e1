package core

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/storage"
)

// A dead-letter or expiry move takes a message out of its queue and puts a
// copy on another address. It is written as one store batch: the copy's
// AddMessage/AddRef and the source's Ack (and DeleteMessage). Only once that
// batch is durable does the copy become visible and the source ref go; until
// then the ref is "moving": out of every list, still counted by its queue.
// If the target refuses the copy (full, nowhere to route) or the batch fails,
// the ref goes back to its queue after moveRetryDelay. So after a crash at
// any instant the message is in exactly one of the two, and a refusal never
// drops it.

// moveRetryDelay is how long a message whose move failed waits in its queue
// before it can be delivered (or expired) again.
const moveRetryDelay = time.Second

// move is a ref leaving its queue for another address.
type move struct {
	q         *Queue
	r         *ref
	target    string
	reason    string
	condition string
	expiry    bool
}

// movePlan is a move whose copy is prepared and whose store operations are
// built; finishMove completes or undoes it once the batch's fate is known.
type movePlan struct {
	move
	p               prepared
	deletedMessage  bool // the batch deletes the source message: undo on failure
	durableRefTaken bool
}

// startMoveLocked parks r, which the caller took out of every list, as
// moving; the move runs once the queue's lock is released.
func (q *Queue) startMoveLocked(r *ref, mv move) {
	mv.q, mv.r = q, r
	r.moving = true
	r.expiring = false
	rare := q.rareLocked()
	rare.moves = append(rare.moves, mv)
}

// moveAll runs the moves a queue collected under its lock.
func (b *Broker) moveAll(moves []move) {
	for _, mv := range moves {
		var ops []storage.Op
		gate := b.pageGate(true)
		plan, ok := b.prepareMove(mv, &ops)
		if !ok {
			gate.open()
			continue
		}
		if len(ops) == 0 {
			gate.open()
			b.finishMove(plan, nil) // nothing durable on either side
			continue
		}
		gate.apply(b, ops, true, func(err error) { b.finishMove(plan, err) })
	}
}

// prepareMove builds the copy, prepares it on the target and appends the
// batch (copy and source ack) to ops. If the target refuses, the ref goes
// back to its queue and ok is false.
func (b *Broker) prepareMove(mv move, ops *[]storage.Op) (*movePlan, bool) {
	m := b.moveCopy(mv)
	// Dead-letter and expiry resources are created on demand, as Artemis'
	// auto-create-dead-letter-resources does.
	b.mu.Lock()
	if !b.closed {
		b.ensureAddressLocked(mv.target, Anycast, true)
		if q := b.queues[mv.target]; q == nil {
			b.createQueueLocked(QueueInfo{Name: mv.target, Address: mv.target, RoutingType: Anycast, Durable: true, AutoCreated: true}, nil)
		}
	}
	b.mu.Unlock()
	// A move never waits for space: with address-full-policy BLOCK a full
	// target refuses it like FAIL, and the message waits in its queue.
	var (
		p   prepared
		err error
	)
	start := len(*ops)
	for attempt := 0; ; attempt++ {
		var res resolved
		res, err = b.resolve(nil, m)
		if err != nil {
			break
		}
		if res.full {
			err = fmt.Errorf("%w: %q is full (address-full-policy BLOCK)", ErrAddressFull, mv.target)
			break
		}
		if res.drop {
			err = fmt.Errorf("%q dropped it (full with address-full-policy DROP, or bound to no queue)", mv.target)
			break
		}
		var ok bool
		p, ok = b.prepare(m, res, ops)
		if ok && p.m != nil {
			break
		}
		*ops = (*ops)[:start]
		if ok || attempt >= 3 {
			err = fmt.Errorf("%q has no queue", mv.target)
			break
		}
	}
	if err != nil {
		b.moveRefused(mv, err)
		return nil, false
	}
	plan := &movePlan{move: mv, p: p}
	src := mv.r.account()
	if q := mv.q; q.info.Durable && src.Durable {
		*ops = append(*ops, storage.Op{Kind: storage.OpAck, QueueID: q.info.ID, MsgID: src.key()})
		plan.durableRefTaken = true
		if src.durableRefs.Add(-1) == 0 {
			*ops = append(*ops, storage.Op{Kind: storage.OpDeleteMessage, MsgID: src.key()})
			plan.deletedMessage = true
		}
	}
	return plan, true
}

// moveCopy returns the message that goes to the target, recording where it
// came from.
func (b *Broker) moveCopy(mv move) *Message {
	src := mv.r.msg
	m := src.Clone()
	m.SetProperty(PropOrigAddress, stringValue(src.Address))
	m.SetProperty(PropOrigQueue, stringValue(mv.q.info.Name))
	m.SetProperty(PropOrigMessageID, stringValue(src.MessageID()))
	if mv.expiry {
		m.SetProperty(PropExpiredAt, int64Value(b.nowMs()))
		m.Expiration = 0
	} else {
		m.SetProperty(PropDLQReason, stringValue(mv.reason))
		if mv.condition != "" {
			m.SetProperty(PropDLQCondition, stringValue(mv.condition))
		}
	}
	// The duplicate-id check guards against a producer's retries; a copy of
	// one message dead-lettered from two subscriptions is no retry, and
	// would be dropped as one.
	m.DeleteProperty(PropDuplicateID)
	m.Address = mv.target
	m.RoutingType = Anycast
	m.ScheduledAt = 0
	return m
}

// finishMove completes a move whose batch is durable, or undoes it.
func (b *Broker) finishMove(plan *movePlan, err error) {
	if err != nil {
		b.abandon(plan.p)
		src := plan.r.account()
		if plan.durableRefTaken {
			src.durableRefs.Add(1)
		}
		b.moveRefused(plan.move, fmt.Errorf("store: %w", err))
		return
	}
	// The source lets go first, so whoever sees the copy finds the source
	// settled.
	q, r := plan.q, plan.r
	q.mu.Lock()
	r.moving = false
	if plan.expiry {
		q.expired.Add(1)
		b.stats.expired.Add(1)
	} else {
		q.deadLettered.Add(1)
		b.stats.deadLettered.Add(1)
	}
	src := r.msg
	q.finishLocked(r, false) // its store operations were in the batch
	q.dispatchLocked()
	q.unlock()
	if plan.expiry {
		if h := b.hooks.Expired; h != nil {
			h(q, src, plan.p.m)
		}
	} else if h := b.hooks.DeadLettered; h != nil {
		h(q, src, plan.p.m, plan.reason)
	}
	b.publish(plan.p)
}

// abandon undoes prepare for a message that will not be published.
func (b *Broker) abandon(p prepared) {
	for _, q := range p.targets {
		q.mu.Lock()
		q.pins--
		q.mu.Unlock()
	}
	b.unpage(p)
	if p.m != nil && p.m.addr != nil && len(p.targets) > 0 {
		p.m.refs.Store(0)
		b.released(p.m)
	}
}

// moveRefused puts a ref whose move failed back in its queue, deliverable
// again after moveRetryDelay, and says why.
func (b *Broker) moveRefused(mv move, err error) {
	q, r := mv.q, mv.r
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if !closed {
		b.moveLog(q, r, mv, err)
	}
	q.mu.Lock()
	r.moving = false
	switch {
	case q.deleted:
		// The queue went meanwhile; deleteQueue could not see this ref.
		q.finishLocked(r, true)
	case closed:
		// The broker is stopping (the store failed the batch as closed):
		// no timer for a retry that will not happen; the store still has
		// the message in this queue.
		q.makeReady(r, true)
	default:
		q.scheduleLocked(r, b.nowMs(), moveRetryDelay)
	}
	q.unlock()
}

// moveLog reports a refused move, at most once a second: a full dead-letter
// queue refuses every message that reaches max-delivery-attempts.
func (b *Broker) moveLog(q *Queue, r *ref, mv move, err error) {
	now := time.Now().UnixNano()
	last := b.moveLogAt.Load()
	if now-last < int64(time.Second) || !b.moveLogAt.CompareAndSwap(last, now) {
		b.moveLogSuppressed.Add(1)
		return
	}
	kind := "dead-letter"
	if mv.expiry {
		kind = "expiry"
	}
	b.log.Warn("message kept in its queue: "+kind+" move refused",
		"queue", q.info.Name, "message", r.msg.ID, "target", mv.target, "reason", mv.reason,
		"err", err, "retry_in", moveRetryDelay, "suppressed", b.moveLogSuppressed.Swap(0))
}

// moveLogState is embedded in Broker.
type moveLogState struct {
	moveLogAt         atomic.Int64
	moveLogSuppressed atomic.Int64
}
