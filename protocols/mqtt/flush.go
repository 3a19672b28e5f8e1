package mqtt

// Deferred flushes. A PUBLISH read by a connection's reader is routed on that
// goroutine, and the core encodes each delivery into its subscriber's output
// buffer there too. Rather than start a writer goroutine per subscriber and
// per message (a goroutine to create, an idle thread to wake: the larger part
// of the broker's CPU per message when a client sends one PUBLISH per
// segment), the reader marks those subscribers and, once it has handled all
// the input it holds, writes to each itself: one non-blocking write per
// subscriber per batch, as an event-loop broker does. What does not fit in
// the socket goes to a writer goroutine as before.
//
// Deliveries made on other goroutines (a credit returned, a timer, another
// protocol's producer) are deferred too while some reader is in a batch, and
// that reader's flush writes them; with no reader in a batch they signal the
// writer at once. A reader never waits for anything while it has flushes
// pending: it ends its batch first (endDefer).

// beginDefer starts a batch on the reader's goroutine.
func (c *conn) beginDefer() {
	if c.deferring {
		return
	}
	c.deferring = true
	s := c.s
	s.flushMu.Lock()
	s.deferring++
	s.flushMu.Unlock()
}

// endDefer ends the reader's batch and writes to the subscribers marked
// since. The caller holds no lock.
func (c *conn) endDefer() {
	if !c.deferring {
		return
	}
	c.deferring = false
	s := c.s
	s.flushMu.Lock()
	s.deferring--
	list := s.dirty
	s.dirty, s.dirtySpare = s.dirtySpare[:0], nil
	s.flushMu.Unlock()
	for i, sc := range list {
		sc.lock()
		sc.dirty = false
		sc.ob.FlushSettleLocked()
		list[i] = nil
	}
	s.flushMu.Lock()
	if s.dirtySpare == nil && cap(list) <= 1024 {
		s.dirtySpare = list[:0]
	}
	s.flushMu.Unlock()
}

// signalLocked has the connection's output written: by the reader whose
// batch is open, or by a writer goroutine. Caller holds c's lock.
func (c *conn) signalLocked() {
	if c.dirty {
		return // a batch's flush will write it
	}
	s := c.s
	s.flushMu.Lock()
	if s.deferring > 0 {
		c.dirty = true
		s.dirty = append(s.dirty, c)
		s.flushMu.Unlock()
		return
	}
	s.flushMu.Unlock()
	c.ob.SignalLocked()
}
