package core

import (
	"fmt"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/storage"
)

// OutcomeKind is how a consumer ends a delivery: AMQP 1.0's four terminal
// outcomes, which also cover JMS, STOMP and MQTT settlements.
type OutcomeKind uint8

const (
	// Accepted: the message is consumed.
	Accepted OutcomeKind = iota
	// Released: never processed; back to the head of the queue with its
	// delivery count undone.
	Released
	// Modified: not processed, with DeliveryFailed, UndeliverableHere and
	// Annotations saying how.
	Modified
	// Rejected: the message is invalid; it is dead-lettered at once.
	Rejected
)

// Outcome settles one delivery. Only the fields its Kind names are used.
type Outcome struct {
	Kind OutcomeKind
	// Rejected: why, kept on the dead-lettered copy as _AMQ_DLQ_REASON
	// (AMQP's error description, or any text the adapter has).
	Reason string
	// Rejected: AMQP's error condition (amqp:..., a symbol), kept on the
	// dead-lettered copy as _AMQ_DLQ_CONDITION.
	Condition string
	// Modified: the delivery counts as a failed attempt (JMS/STOMP NACK); a
	// message that has used up max-delivery-attempts is dead-lettered.
	// Without it the delivery count is undone, as for Released.
	DeliveryFailed bool
	// Modified: never deliver the message to this consumer again.
	UndeliverableHere bool
	// Modified: merged into the message's Annotations (a name given again
	// replaces the old value) for this queue's copy only.
	Annotations []prop.Property
}

// PropDLQCondition holds a rejecting consumer's error condition on the
// dead-lettered copy; PropDLQReason holds its description.
const PropDLQCondition = "_AMQ_DLQ_CONDITION"

// Settle ends one delivery with the given outcome.
func (c *Consumer) Settle(tag uint64, o Outcome) error { return c.settle(tag, o, nil) }

// SettleWait is Settle for a client that wants a confirmation (a STOMP ACK
// with a receipt): done is called once what the settlement writes is durable,
// at once when it writes nothing, or with the store's error (wrapping
// ErrStoreUnavailable), in which case an acked message comes back to its
// queue. done is not called when SettleWait returns an error.
func (c *Consumer) SettleWait(tag uint64, o Outcome, done func(error)) error {
	return c.settle(tag, o, storeDone(done))
}

func (c *Consumer) settle(tag uint64, o Outcome, done func(error)) error {
	q := c.q
	q.mu.Lock()
	r := c.inFlight[tag]
	if r == nil || r.tx != nil {
		q.unlock()
		return errUnknownDelivery(tag)
	}
	var now int64 // only redelivery needs the clock
	if o.Kind != Accepted {
		now = q.b.nowMs()
	}
	q.settleLocked(c, r, o, now)
	q.dispatchLocked()
	if done != nil {
		rare := q.rareLocked()
		rare.waiters = append(rare.waiters, done)
	}
	q.unlock()
	return nil
}

// storeDone wraps a store error for an adapter as ErrStoreUnavailable.
func storeDone(done func(error)) func(error) {
	return func(err error) { done(storeErr(err)) }
}

var (
	ackOutcome    = Outcome{Kind: Accepted}
	failedOutcome = Outcome{Kind: Modified, DeliveryFailed: true}
)

// annotate gives r a message of its own with annots merged into its
// Annotations. Messages are shared read-only between queues, so the change
// goes to a clone that only this ref sees; the ref keeps counting against the
// original, which the store and the other queues still hold.
func (r *ref) annotate(annots []prop.Property) {
	if len(annots) == 0 {
		return
	}
	orig := r.account()
	m := r.msg.Clone()
	m.ID, m.storeID, m.addr, m.size = r.msg.ID, r.msg.storeID, r.msg.addr, r.msg.size
	for _, a := range annots {
		m.SetAnnotation(a.Name, a.Value)
	}
	r.msg, r.orig = m, orig
}

// storeAnnotatedLocked makes an annotated clone survive a restart. The
// store keeps one copy of a message for every queue that holds it, so a
// durable queue's annotated copy becomes a message of its own: a new id,
// stored with this queue's reference to it in the batch that acks the
// queue's reference to the original. The ref stops counting against the
// original. After a restart the message is found at the back of its queue
// (references recover in the order they were added), with its annotations
// and delivery count. Caller holds q.mu.
func (q *Queue) storeAnnotatedLocked(r *ref) {
	orig := r.orig
	if orig == nil || !q.info.Durable || !orig.Durable {
		return
	}
	m := r.msg
	m.ID, m.storeID = q.b.nextMsgID.Add(1), 0
	m.refs.Store(1)
	m.durableRefs.Store(1)
	if a := m.addr; a != nil {
		a.size.Add(int64(m.size))
	}
	r.orig = nil
	q.ops = append(q.ops,
		storage.Op{Kind: storage.OpAddMessage, MsgID: m.ID, Data: EncodeMessage(nil, m)},
		storage.Op{Kind: storage.OpAddRef, QueueID: q.info.ID, MsgID: m.ID, DeliveryCount: r.deliveryCount},
		storage.Op{Kind: storage.OpAck, QueueID: q.info.ID, MsgID: orig.key()})
	if orig.durableRefs.Add(-1) == 0 {
		q.ops = append(q.ops, storage.Op{Kind: storage.OpDeleteMessage, MsgID: orig.key()})
	}
	if orig.refs.Add(-1) == 0 {
		q.b.released(orig)
	}
}

// account is the message whose reference counts r holds: the shared
// original even when r carries an annotated clone.
func (r *ref) account() *Message {
	if r.orig != nil {
		return r.orig
	}
	return r.msg
}

func errUnknownDelivery(tag uint64) error {
	return fmt.Errorf("%w: tag %d", ErrUnknownDelivery, tag)
}
