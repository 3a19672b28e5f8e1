package amqp

import "sync"

// flusher lets a reader's batch write the output it caused on other
// connections. A producer's transfers, handled by its reader, are
// delivered by the core on that same goroutine into the consumers'
// connections; each of those would start a writer goroutine for the first
// transfer of a burst (a goroutine created, scheduled and often an idle
// thread woken, per burst and connection). Instead, while any reader is
// inside a batch of transfers, dispositions and flows, a connection with
// new output is listed here, and the reader writes it, with one
// non-blocking write per connection, when its batch ends: the transfers of
// the batch go out together, from a goroutine that was running anyway.
//
// Which goroutine caused the output is not known (the core calls the
// delivery handler on whatever goroutine sent or settled), so a
// connection listed while some reader is in a batch is written by the
// first reader whose batch ends. A batch handles only frames already
// buffered, and the frames that take part (transfer, disposition, flow)
// never wait, so the wait is bounded by the handling of one buffer's worth
// of frames. Every other frame leaves the batch first.
type flusher struct {
	mu     sync.Mutex
	active int     // readers inside a batch
	conns  []*conn // listed: written when a batch ends
	spare  []*conn
}

// maxInlineFlush bounds the connections one batch's end writes itself.
const maxInlineFlush = 16

// enter notes that a reader starts a batch.
func (f *flusher) enter() {
	f.mu.Lock()
	f.active++
	f.mu.Unlock()
}

// deferLocked lists c to be written at the end of a batch, if any reader
// is inside one; false: the caller must start c's writer itself. Caller
// holds c.mu.
func (f *flusher) deferLocked(c *conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active == 0 {
		return false
	}
	if !c.flushListed {
		c.flushListed = true
		f.conns = append(f.conns, c)
	}
	return true
}

// leave ends a reader's batch and writes what is listed. The caller
// holds no connection's lock.
func (f *flusher) leave() {
	f.mu.Lock()
	f.active--
	conns := f.conns
	if len(conns) == 0 {
		f.mu.Unlock()
		return
	}
	f.conns, f.spare = f.spare[:0], nil
	for _, c := range conns {
		c.flushListed = false
	}
	f.mu.Unlock()
	for i, c := range conns {
		c.mu.Lock()
		if c.batching || (len(c.ob.Buf) == 0 && !c.ob.Closing) {
			// Its own reader writes it when its batch ends, or a writer
			// already took the output.
			c.mu.Unlock()
		} else if i < maxInlineFlush {
			c.ob.FlushLocked()
		} else {
			// A wide fan-out: the rest get their writer goroutines,
			// which run in parallel on other cores.
			c.ob.SignalLocked()
			c.mu.Unlock()
		}
		conns[i] = nil
	}
	f.mu.Lock()
	if f.spare == nil && cap(conns) <= 1024 {
		f.spare = conns[:0]
	}
	f.mu.Unlock()
}
