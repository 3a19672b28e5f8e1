package mqtt

// Deferred flushes. A PUBLISH read by a connection's reader is routed on that
// goroutine, and the core encodes each delivery into its subscriber's output
// buffer there too; the reader writes those subscribers once it has handled
// all the input it holds (transport.BatchFlush, the server's flush). A reader
// never waits for anything while its batch is open: it ends it first
// (endDefer).

// beginDefer starts a batch on the reader's goroutine.
func (c *conn) beginDefer() { c.seat.Enter(&c.s.flush) }

// endDefer ends the reader's batch and writes to the subscribers listed
// since. The caller holds no lock.
func (c *conn) endDefer() { c.seat.Leave(&c.s.flush) }

// FlushBatched implements transport.Flushable: the written deliveries are
// settled by the same inline write.
func (c *conn) FlushBatched(int) {
	c.lock()
	c.ob.FlushSettleLocked()
}

// signalLocked has the connection's output written: by the reader whose
// batch is open, or by a writer goroutine. Caller holds c's lock.
func (c *conn) signalLocked() {
	if !c.s.flush.DeferLocked(c, &c.dirty) {
		c.ob.SignalLocked()
	}
}
