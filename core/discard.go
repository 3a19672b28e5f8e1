package core

import "container/heap"

// Discard consumes the message msgID in the consumer's queue without
// delivering it: a ready or scheduled ref is acknowledged where it is, one in
// flight to this consumer is acknowledged as if the client had. It reports
// whether the queue held the message for it.
//
// It exists for adapters that deliver one copy of a message that several
// subscriptions of one client received (MQTT: one PUBLISH per session): once
// the copy that went out is settled, the others must not come again, even
// after a restart. The search walks the queue from its head, where the other
// copies of a recent message are; refs of an open transaction, on their way
// to a dead-letter or expiry address, or about to expire are left alone.
func (c *Consumer) Discard(msgID uint64) bool {
	q := c.q
	q.mu.Lock()
	if c.closed || q.deleted {
		q.unlock()
		return false
	}
	found := false
	for r := c.head; r != nil; r = r.next {
		if r.msg.ID == msgID && r.tx == nil {
			q.settleLocked(c, r, ackOutcome, 0)
			found = true
			break
		}
	}
	for lvl := range q.nonEmptyLevels() {
		if found {
			break
		}
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil && r.msg.ID == msgID && !r.expiring && !r.moving {
				q.removeReady(r)
				q.acked.Add(1)
				q.finishLocked(r, true)
				found = true
				break
			}
		}
	}
	if !found {
		for i, r := range q.sched {
			if r.msg.ID == msgID && !r.moving {
				heap.Remove(&q.sched, i)
				r.scheduledAt = 0
				q.acked.Add(1)
				q.finishLocked(r, true)
				found = true
				break
			}
		}
	}
	if found {
		q.dispatchLocked()
	}
	q.unlock()
	return found
}
