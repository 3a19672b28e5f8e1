package core

import "time"

// Credit in the forms the protocols use. Window credit (STOMP and OpenWire
// prefetch, MQTT receive maximum) is ConsumerOptions.Window; explicit credit
// is AddCredit/SetCredit (AMQP flow); Drain is AMQP's drain; Pull is
// OpenWire's MessagePull for a consumer with prefetch 0.

// Drain delivers what the consumer can take now, up to its credit, then
// takes the rest of the credit away and returns how much that was: AMQP's
// drain, where the sender advances the delivery count by the unused credit
// and reports it. The deliveries happen (through the handler) before Drain
// returns, so the adapter can send its flow reply after them.
func (c *Consumer) Drain() (unused int) {
	q := c.q
	q.mu.Lock()
	if !c.closed {
		c.seen = 0 // look again even if nothing changed since the last scan
		q.dispatchLocked()
		unused = max(c.credit, 0)
		c.credit = 0
	}
	q.unlock()
	return unused
}

// pullState is one Pull waiting for a message.
type pullState struct {
	timer   *time.Timer
	expired func()
}

// Pull asks for one message (OpenWire MessagePull, JMS receive on a consumer
// with prefetch 0). The message, if one is ready or arrives within timeout,
// comes through the handler as usual; otherwise expired is called once the
// timeout passes, with no core lock held, and the credit is withdrawn so a
// message arriving later waits for the next Pull. timeout 0 answers at once;
// a negative timeout waits until a message comes or the consumer closes.
// A Pull while another is waiting replaces its callback and timer. Give
// a pulling consumer no Window: its credit comes from Pull alone.
func (c *Consumer) Pull(timeout time.Duration, expired func()) {
	q := c.q
	q.mu.Lock()
	if c.closed {
		q.unlock()
		expired()
		return
	}
	if p := c.pull; p != nil && p.timer != nil {
		p.timer.Stop()
	}
	c.pull = nil
	c.credit = 1
	c.seen = 0
	q.dispatchLocked()
	if c.credit == 0 {
		q.unlock()
		return
	}
	if timeout == 0 {
		c.credit = 0
		q.unlock()
		expired()
		return
	}
	p := &pullState{expired: expired}
	c.pull = p
	if timeout > 0 {
		p.timer = time.AfterFunc(timeout, func() { c.pullTimedOut(p) })
	}
	q.unlock()
}

// pullTimedOut ends a Pull that got no message in time.
func (c *Consumer) pullTimedOut(p *pullState) {
	q := c.q
	q.mu.Lock()
	if c.pull != p { // delivered, replaced or closed meanwhile
		q.unlock()
		return
	}
	c.pull = nil
	c.credit = 0
	q.unlock()
	p.expired()
}

// pullDeliveredLocked is called by the queue after each delivery: a waiting
// Pull is answered, its timer goes.
func (c *Consumer) pullDeliveredLocked() {
	if p := c.pull; p != nil && c.credit <= 0 {
		if p.timer != nil {
			p.timer.Stop()
		}
		c.pull = nil
	}
}

// stopPullLocked drops a waiting Pull when the consumer closes; the adapter
// learns of the close, not of a timeout.
func (c *Consumer) stopPullLocked() {
	if p := c.pull; p != nil {
		if p.timer != nil {
			p.timer.Stop()
		}
		c.pull = nil
	}
}

// PullPending reports whether a Pull is waiting (tests and operators).
func (c *Consumer) PullPending() bool {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.pull != nil
}
