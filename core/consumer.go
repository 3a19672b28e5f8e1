package core

import (
	"github.com/junctionmq/junction/core/selector"
	"slices"
)

// ConsumerOptions configure a consumer.
type ConsumerOptions struct {
	// Handler receives each delivery. It is called with the queue's lock held, in
	// delivery order: it must not block and must not call back into the core
	// synchronously (append to the connection's outbound buffer and return).
	Handler func(Delivery)
	// Selector filters what this consumer receives (JMS SQL-92); "" for none.
	Selector string
	// Credit is how many deliveries the consumer may have outstanding.
	Credit int
	// Window makes every settlement (ack, nack, release, reject) give one credit
	// back: JMS/STOMP prefetch. Without it the adapter adds credit itself
	// (AMQP flow, or after writing auto-acked messages to the socket).
	Window bool
	// AutoAck settles each message as it is delivered (STOMP ack:auto, MQTT QoS 0).
	AutoAck bool
	// OnClose is told when the core closes the consumer on its own: its queue
	// was deleted (ErrQueueDeleted), its user lost the permission to consume
	// (ErrPermissionRevoked), an operator closed it (ErrAdminClosed). It is
	// not called when the adapter closes the consumer itself. It runs once,
	// on the goroutine that closed the consumer, with no core lock held, after
	// the consumer's unsettled deliveries went back to the queue; the adapter
	// reports the end natively (STOMP ERROR, MQTT DISCONNECT, AMQP detach).
	OnClose func(reason error)
	// KeepQueue: the consumer's leaving never auto-deletes its queue (an
	// operator's move or redrive that empties an auto-created queue must
	// not make it disappear: no client's consumer left).
	KeepQueue bool
	// Exclusive asks to be the queue's only receiver (ActiveMQ's exclusive
	// consumer): while an exclusive consumer is attached, it alone gets the
	// queue's messages, the others wait. Among several exclusive consumers
	// the one of highest Priority, then the earliest, is the owner; when it
	// leaves, the next one takes over, and with none left every consumer
	// receives again.
	Exclusive bool
	// Priority orders the queue's consumers (ActiveMQ's consumer priority):
	// a message goes to a consumer of the highest priority that has credit
	// and takes it, round-robin among equals; lower ones get what the
	// higher ones cannot take. 0 is the default.
	Priority int
}

// Consumer takes messages from one queue.
type Consumer struct {
	id      uint64
	q       *Queue
	s       *Session
	sel     *selector.Selector
	selText string
	handler func(Delivery)
	autoAck bool
	window  bool
	credit  int
	seen    uint64
	scan    [levels]scanState
	groups  int
	nextTag uint64
	closed  bool
	onClose func(error)
	// authAddrs are the addresses the consume permission was checked on at
	// attach; Broker.Revalidate asks again after a users-file change.
	authAddrs []string
	pull      *pullState // a Pull waiting for a message
	// temporary: close deletes the queue (non-durable subscription)
	ownsQueue bool
	keepQueue bool // ConsumerOptions.KeepQueue
	exclusive bool // ConsumerOptions.Exclusive
	priority  int  // ConsumerOptions.Priority

	head, tail *ref // in-flight refs in delivery order
	inFlight   map[uint64]*ref
}

type scanState struct {
	hi    int64  // positions from hi on are not examined yet
	seen  uint64 // queue version at the last complete look at the front
	reset uint64
	epoch uint32
	valid bool
}

// Queue returns the queue the consumer reads.
func (c *Consumer) Queue() *Queue { return c.q }

func (c *Consumer) pushInFlight(r *ref) {
	if c.inFlight == nil {
		c.inFlight = make(map[uint64]*ref)
	}
	c.inFlight[r.tag] = r
	r.prev, r.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = r
	} else {
		c.head = r
	}
	c.tail = r
}

func (c *Consumer) removeInFlight(r *ref) {
	delete(c.inFlight, r.tag)
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		c.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		c.tail = r.prev
	}
	r.prev, r.next = nil, nil
}

// AddCredit lets the consumer receive n more messages.
func (c *Consumer) AddCredit(n int) {
	q := c.q
	q.mu.Lock()
	if !c.closed {
		c.credit += n
		q.dispatchLocked()
	}
	q.unlock()
}

// SetCredit replaces the consumer's credit (AMQP flow sets it absolutely).
func (c *Consumer) SetCredit(n int) {
	q := c.q
	q.mu.Lock()
	if !c.closed {
		c.credit = n
		q.dispatchLocked()
	}
	q.unlock()
}

// Credit returns the consumer's remaining credit.
func (c *Consumer) Credit() int {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.credit
}

// InFlight returns how many deliveries await settlement.
func (c *Consumer) InFlight() int {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return len(c.inFlight)
}

// Ack settles one delivery: the message is consumed.
func (c *Consumer) Ack(tag uint64) error { return c.Settle(tag, ackOutcome) }

// AckUpTo acks every delivery of this consumer up to and including tag
// (STOMP client mode, JMS CLIENT_ACKNOWLEDGE).
func (c *Consumer) AckUpTo(tag uint64) error { return c.ackUpTo(tag, nil) }

// AckUpToWait is AckUpTo with a confirmation, as SettleWait.
func (c *Consumer) AckUpToWait(tag uint64, done func(error)) error {
	return c.ackUpTo(tag, storeDone(done))
}

func (c *Consumer) ackUpTo(tag uint64, done func(error)) error {
	q := c.q
	q.mu.Lock()
	if c.inFlight[tag] == nil {
		q.unlock()
		return errUnknownDelivery(tag)
	}
	now := q.b.nowMs()
	for r := c.head; r != nil; {
		next := r.next
		if r.tag > tag {
			break
		}
		if r.tx == nil {
			q.settleLocked(c, r, ackOutcome, now)
		}
		r = next
	}
	q.dispatchLocked()
	if done != nil {
		rare := q.rareLocked()
		rare.waiters = append(rare.waiters, done)
	}
	q.unlock()
	return nil
}

// Nack reports a failed delivery: the message is redelivered under the address
// settings (redelivery delay), or dead-lettered after max-delivery-attempts.
func (c *Consumer) Nack(tag uint64) error { return c.Settle(tag, failedOutcome) }

// Release returns a delivery that was never processed: it goes back to the head
// of the queue and its delivery count is not incremented (AMQP released).
func (c *Consumer) Release(tag uint64) error { return c.Settle(tag, Outcome{Kind: Released}) }

// Reject dead-letters a delivery at once (AMQP rejected); reason is kept on
// the dead-lettered copy ("" says only that it was rejected).
func (c *Consumer) Reject(tag uint64, reason string) error {
	return c.Settle(tag, Outcome{Kind: Rejected, Reason: reason})
}

// Modify is AMQP's modified outcome without annotations: failed counts as a
// delivery attempt; undeliverableHere keeps the message away from this
// consumer. Settle takes annotations too.
func (c *Consumer) Modify(tag uint64, failed, undeliverableHere bool) error {
	return c.Settle(tag, Outcome{Kind: Modified, DeliveryFailed: failed, UndeliverableHere: undeliverableHere})
}

// Close stops the consumer. Unsettled deliveries go back to the queue as
// redelivered (their count stays incremented), except those acked in a
// transaction still open, which the transaction settles.
func (c *Consumer) Close() { c.close(nil) }

// CloseReturning closes the consumer like Close, except that the in-flight
// deliveries for which unsent reports true go back released (their delivery
// count undone): the adapter held them and never passed them on. Doing it
// in the close, rather than releasing them first, keeps every delivery's
// place in the queue: a release would be dispatched again at once, and the
// close would then return it after deliveries that came later.
func (c *Consumer) CloseReturning(unsent func(tag uint64) bool) { c.close(unsent) }

// closeFor closes the consumer on the core's own initiative and tells the
// adapter why.
func (c *Consumer) closeFor(reason error) {
	if c.close(nil) && c.onClose != nil {
		c.onClose(reason)
	}
}

// close reports whether this call closed the consumer; unsent (may be nil)
// picks deliveries that go back released (see CloseReturning).
func (c *Consumer) close(unsent func(uint64) bool) bool {
	q := c.q
	q.mu.Lock()
	if c.closed {
		q.unlock()
		return false
	}
	c.closed = true
	c.stopPullLocked()
	now := q.b.nowMs()
	// Walk back to front so pushing each to the head keeps the original order.
	for r := c.tail; r != nil; {
		prev := r.prev
		if r.tx == nil {
			c.removeInFlight(r)
			q.inFlight--
			r.consumer = nil
			if unsent != nil && unsent(r.tag) {
				q.releaseLocked(r)
			} else {
				q.redeliverLocked(r, now, "consumer closed")
			}
		}
		r = prev
	}
	for i, x := range q.consumers {
		if x == c {
			// slices.Delete clears the vacated slot, so a closed consumer
			// is not kept alive by the queue's spare capacity.
			q.consumers = slices.Delete(q.consumers, i, i+1)
			q.nConsumers.Store(int32(len(q.consumers)))
			q.orderChangedLocked()
			if len(q.consumers) == 0 && q.limited() {
				// Sends held for this queue's room now drop for it.
				q.b.wakeLines()
			}
			if len(q.consumers) == 0 {
				q.consumers = nil
			}
			break
		}
	}
	if c.groups > 0 {
		for g, o := range q.groups {
			if o == c {
				delete(q.groups, g)
			}
		}
		q.resetGen++
		q.version++
	}
	q.dispatchLocked()
	remaining := len(q.consumers)
	empty := q.total == 0 && !q.pagedLocked()
	q.unlock()
	if c.s != nil {
		c.s.forget(c)
	}
	q.b.consumerGone(q, c, remaining, empty)
	return true
}
