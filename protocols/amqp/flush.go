package amqp

// A producer's transfers are delivered into the consumers' connections on
// its reader's goroutine; the reader writes them when its batch of
// transfers, dispositions and flows ends (transport.BatchFlush, the
// server's flush). Every other frame leaves the batch first.

// maxInlineFlush bounds the connections one batch's end writes itself.
const maxInlineFlush = 16

// FlushBatched implements transport.Flushable.
func (c *conn) FlushBatched(i int) {
	c.mu.Lock()
	switch {
	case c.batching || (len(c.ob.Buf) == 0 && !c.ob.Closing):
		// Its own reader writes it when its batch ends, or a writer
		// already took the output.
		c.mu.Unlock()
	case i < maxInlineFlush:
		c.ob.FlushLocked()
	default:
		// A wide fan-out: the rest get their writer goroutines, which run
		// in parallel on other cores.
		c.ob.SignalLocked()
		c.mu.Unlock()
	}
}
