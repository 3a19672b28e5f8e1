package mqtt

import (
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// One copy per session. Each subscription is a core queue of its own, so a
// message matching several of a session's subscriptions (TopicA and
// TopicA/#) reaches the session once per subscription. The first copy to
// arrive is sent, at the highest QoS of the matching subscriptions and with
// all their identifiers [MQTT-3.3.4-2] [MQTT-3.3.4-5]; the others are held
// back. Copies that arrive while it is on its way are parked in flight with
// their consumers, so a connection that drops first gives them back to their
// queues and the message comes again. Once the client has it (PUBACK,
// PUBREC, or written for QoS 0) the parked copies are acknowledged and the
// ones not yet dispatched are discarded from their queues (core
// Consumer.Discard), so neither a later delivery nor a restart brings the
// message back through another subscription. See docs/ARCHITECTURE.md.

// settledCopies bounds how many settled message ids a session remembers for
// copies still on their way through a queue that has not dispatched them.
const settledCopies = 256

// copyTable holds a session's messages sent once for several subscriptions,
// and the order settled ones are forgotten in.
type copyTable struct {
	byID    map[uint64]*copyState
	settled []uint64
}

// copyState is a message sent once for several subscriptions of a session.
type copyState struct {
	settled bool
	subs    []*subscription // the other matching subscriptions whose copy has not arrived
	parked  []flushAck      // copies that arrived while the sent one was unsettled
}

// copyFor decides how a delivery through sub is sent. It returns dup when
// the message already went out through another subscription (the delivery
// is then parked or settled here), else the QoS and subscription
// identifiers to send it with. Caller holds ss.mu.
func (c *conn) copyFor(sub *subscription, d core.Delivery, qos byte) (dup bool, _ byte, ids []uint32) {
	ss := c.ss
	m := d.Message
	if sub.Shared || len(ss.subs) < 2 || d.Consumer == nil {
		return false, qos, nil
	}
	if cs := ss.copies.get(m.ID); cs != nil {
		for i, o := range cs.subs {
			if o == sub {
				cs.subs = append(cs.subs[:i], cs.subs[i+1:]...)
				break
			}
		}
		c.holdCopy(sub, d, cs)
		return true, 0, nil
	}
	topic := sub.topicFor(m.Address)
	var others []*subscription
	for _, o := range ss.subs {
		// A no-local subscription cannot tell here whether the message is
		// the session's own: it counts only when its copy is the one sent.
		if o == sub || o.Shared || o.NoLocal || !packet.MatchTopic(o.Filter, topic) {
			continue
		}
		others = append(others, o)
	}
	if len(others) == 0 {
		return false, qos, nil
	}
	mq := msgQoS(m)
	if sub.SubID > 0 {
		ids = append(ids, sub.SubID)
	}
	for _, o := range others {
		qos = max(qos, min(o.QoS, mq))
		if o.SubID > 0 {
			ids = append(ids, o.SubID)
		}
	}
	if ss.copies == nil {
		ss.copies = &copyTable{byID: map[uint64]*copyState{}}
	}
	ss.copies.byID[m.ID] = &copyState{subs: others}
	if ids == nil {
		ids = []uint32{} // none of them has an identifier: send none
	}
	return false, qos, ids
}

// holdCopy parks a duplicate copy until the sent one is settled, or settles
// it once the bytes go out when that already happened. Caller holds ss.mu.
func (c *conn) holdCopy(sub *subscription, d core.Delivery, cs *copyState) {
	c.lock()
	defer c.unlock()
	if sub.autoAck {
		// Settled on dispatch; only the credit comes back.
		c.creditAfterFlushLocked(d.Consumer)
		c.ob.SignalLocked()
		return
	}
	if !cs.settled {
		cs.parked = append(cs.parked, flushAck{c: d.Consumer, tag: d.Tag})
		return
	}
	c.ackAfterFlushLocked(flushAck{c: d.Consumer, tag: d.Tag})
	c.ob.SignalLocked()
}

// settleCopy ends a message sent once for several subscriptions: the
// parked copies are to be acknowledged and those still queued discarded.
// It returns that work, to be done without the session's lock (the core
// takes queue locks). Caller holds ss.mu.
func (ss *session) settleCopy(msgID uint64) []flushAck {
	cs := ss.copies.get(msgID)
	if cs == nil || cs.settled {
		return nil
	}
	cs.settled = true
	work := cs.parked
	for _, o := range cs.subs {
		// The consumer as it is now: after a restart a subscription's
		// consumer may have been attached after the copy went out.
		if o.consumer != nil {
			work = append(work, flushAck{c: o.consumer, msgID: msgID})
		}
	}
	cs.parked, cs.subs = nil, nil
	t := ss.copies
	t.settled = append(t.settled, msgID)
	if len(t.settled) > settledCopies {
		delete(t.byID, t.settled[0])
		t.settled = t.settled[1:]
	}
	return work
}

// dropCopies forgets the copies of a connection that ended, returning the
// parked ones: they never reached the client and go back uncounted. Caller
// holds ss.mu.
func (ss *session) dropCopies() []flushAck {
	if ss.copies == nil {
		return nil
	}
	var parked []flushAck
	for _, cs := range ss.copies.byID {
		parked = append(parked, cs.parked...)
	}
	ss.copies = nil
	return parked
}

// get returns a message's copy state; t may be nil.
func (t *copyTable) get(msgID uint64) *copyState {
	if t == nil {
		return nil
	}
	return t.byID[msgID]
}

// run does the work of a flushAck: a discard by message id or an ack.
func (a flushAck) run() {
	if a.msgID != 0 {
		a.c.Discard(a.msgID)
		return
	}
	_ = a.c.Ack(a.tag)
}
