package transport

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// MaxIdleBuf bounds the outbound buffer a connection keeps between bursts.
const MaxIdleBuf = 64 << 10

// Settler is what an adapter settles once bytes it queued have reached the
// socket: flow-control credit, deliveries that only needed to be written.
// The Outbox calls its methods from whichever goroutine writes.
type Settler interface {
	// SettlePending reports whether settling waits for the next write.
	// Called under the Outbox's lock.
	SettlePending() bool
	// TakeSettle moves the pending settling aside for the bytes about to be
	// written. Called under the lock, by one writer at a time.
	TakeSettle()
	// Settle runs what TakeSettle moved aside, once those bytes are
	// written. Called without the lock.
	Settle()
	// OutboxClosed runs once, when the Outbox has closed the connection
	// (after the queued bytes of a close, or after a failed write).
	OutboxClosed()
}

// Outbox is the output side of an adapter's connection. Frames are encoded
// into Buf under the adapter's lock; one writer at a time sends them. That is
// a writer goroutine which exists only while there is output (an idle
// connection holds none) and sends whatever accumulated in one write, or,
// for a reply a client is waiting for, the goroutine that produced it, with
// one non-blocking write (FlushLocked): the goroutine hand-off would cost
// more than the write.
//
// Buf, Closing and Dead are guarded by the lock given to Init. The fields
// are few and packed: every connection, idle ones included, carries one.
type Outbox struct {
	Buf     []byte // queued output; append, then SignalLocked or FlushLocked
	Closing bool   // close the connection once Buf is written
	Dead    bool   // closed or failed: nothing more is written
	writing bool   // a writer (goroutine or inline) owns the socket
	noRaw   bool   // no inline write: not plain TCP
	linger  bool   // drain the peer's input before the close: see LingerLocked
	// Stalled: the connection was closed because a write made no progress
	// for the timeout (a peer that stopped reading). Set by the writer
	// before it calls Settler.OutboxClosed, which may read it.
	Stalled bool

	lastWrite int64 // Unix nanoseconds; under the lock
	mu        *sync.Mutex
	w         *Waiter // the connection, and how to close it
	timeout   time.Duration
	settler   Settler
	spare     []byte
	done      chan struct{} // closed when the current writer goroutine exits

	// The inline write on plain TCP: made on the first inline flush (an
	// idle connection does not carry it), then reused so that a write
	// allocates nothing.
	raw *rawWriter
}

type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	buf []byte
	n   int
}

// Init binds the Outbox to the connection of w (initialised already), which
// also closes it. mu is the adapter's lock; timeout closes a connection
// whose peer stops reading.
func (o *Outbox) Init(w *Waiter, mu *sync.Mutex, timeout time.Duration, s Settler) {
	o.w, o.mu, o.timeout, o.settler = w, mu, timeout, s
	o.MarkWritten()
}

// MarkWritten notes that bytes went out now. Caller holds the lock.
func (o *Outbox) MarkWritten() { o.lastWrite = time.Now().UnixNano() }

// SinceWrite is how long ago bytes last went out. Caller holds the lock.
func (o *Outbox) SinceWrite() time.Duration {
	return time.Duration(time.Now().UnixNano() - o.lastWrite)
}

// SignalLocked makes sure a writer goroutine runs. Caller holds the lock.
//
// With nothing to write, settle or close it starts none: such a writer
// would find nothing and exit, and a reader's batch that lists a connection
// whose output an inline flush has sent meanwhile (an MQTT publisher's
// PUBACKs) used to start one for each batch.
func (o *Outbox) SignalLocked() {
	if o.writing || o.Dead {
		return
	}
	if len(o.Buf) == 0 && !o.Closing && !o.settler.SettlePending() {
		return
	}
	o.writing = true
	o.done = make(chan struct{})
	go o.writer(o.done)
}

// FlushLocked writes Buf from the calling goroutine when no writer runs,
// with one non-blocking write, and leaves whatever did not go out (and any
// settling) to a writer goroutine. Use it for the last reply a client is
// waiting for; a burst is cheaper as one write from SignalLocked's writer.
// Caller holds the lock, which FlushLocked releases.
func (o *Outbox) FlushLocked() {
	if o.writing || o.Dead || o.Closing || len(o.Buf) == 0 || o.settler.SettlePending() || !o.canWriteRaw() {
		o.SignalLocked()
		o.mu.Unlock()
		return
	}
	o.writing = true
	buf := o.take()
	o.mu.Unlock()
	// A failed write is left to the writer goroutine, whose write fails the
	// same way and ends the connection by the one path.
	n := o.writeRaw(buf)
	o.mu.Lock()
	o.writing = false
	o.wroteLocked(buf, n)
	if len(o.Buf) > 0 || o.settler.SettlePending() || o.Closing {
		o.SignalLocked()
	}
	o.mu.Unlock()
}

// wroteLocked ends an inline write of buf that wrote n bytes: the rest goes
// back first, before anything queued meanwhile, or the buffer is kept for
// reuse. Caller holds mu.
func (o *Outbox) wroteLocked(buf []byte, n int) {
	if n < len(buf) {
		rest := buf[n:]
		if len(o.Buf) == 0 {
			o.Buf = append(buf[:0], rest...)
		} else {
			o.Buf = append(append(make([]byte, 0, len(rest)+len(o.Buf)), rest...), o.Buf...)
		}
		return
	}
	o.MarkWritten()
	o.keep(buf)
}

// FlushSettleLocked is FlushLocked for a caller that holds no lock but this
// one, which it releases: with settling pending (credit, deliveries that
// only had to be written) it writes inline all the same and, once every
// byte went out, runs the settling itself, still owning the socket, instead
// of leaving both to a writer goroutine. A broker's reader uses it for the
// subscribers its publishes reached (one write each per batch of input,
// and no goroutine to start and wake). When the write is partial the
// settling taken stays taken for the writer goroutine, whose TakeSettle
// must then add to it rather than replace it.
func (o *Outbox) FlushSettleLocked() {
	if o.writing || o.Dead || o.Closing || len(o.Buf) == 0 || !o.canWriteRaw() {
		o.SignalLocked()
		o.mu.Unlock()
		return
	}
	o.writing = true
	buf := o.take()
	settle := o.settler.SettlePending()
	if settle {
		o.settler.TakeSettle()
	}
	o.mu.Unlock()
	n := o.writeRaw(buf)
	if n == len(buf) && settle {
		// The writer's part: no writer goroutine runs while writing is set.
		o.settler.Settle()
		settle = false
	}
	o.mu.Lock()
	o.writing = false
	o.wroteLocked(buf, n)
	if len(o.Buf) > 0 || settle || o.settler.SettlePending() || o.Closing {
		o.SignalLocked()
	}
	o.mu.Unlock()
}

// CloseLocked asks for the connection to be closed once what is queued is
// written, and returns a channel closed when the writer has finished (nil
// if none runs). Caller holds the lock.
func (o *Outbox) CloseLocked() <-chan struct{} {
	o.Closing = true
	o.SignalLocked()
	for o.writing && o.done == nil {
		// An inline write is in progress; in a moment it finishes or hands
		// the rest (and the close) to a writer goroutine.
		o.mu.Unlock()
		runtime.Gosched()
		o.mu.Lock()
	}
	return o.done
}

// LingerTimeout bounds how long a closing connection keeps reading, and
// discarding, what its peer is still sending (see LingerLocked).
const LingerTimeout = 2 * time.Second

// LingerLocked makes the coming close linger: after the last frame is
// written and the sending side shut, the peer's input is read and discarded
// until it closes too or LingerTimeout passes. Closing a socket with unread
// input makes the kernel send a reset, and a peer still busy writing (the
// rest of a message that was refused for its size, pipelined frames behind a
// bad one) then loses the error frame before it reads it; many clients write
// and read in one loop and only read once their write completes. Only the
// connection's reader may ask for it, when it has stopped reading for good,
// since the Outbox then reads the connection. Caller holds the lock.
func (o *Outbox) LingerLocked() { o.linger = true }

// ReleaseLocked drops the buffers of a quiet connection that no writer is
// using and that hold nothing to write: output queued for a later flush
// (an MQTT reader's batch, FlushSettleLocked) stays. Caller holds the lock.
func (o *Outbox) ReleaseLocked() {
	if !o.writing && len(o.Buf) == 0 {
		o.Buf, o.spare = nil, nil
	}
}

// take swaps Buf for the spare buffer. Caller holds the lock.
func (o *Outbox) take() []byte {
	buf := o.Buf
	o.Buf, o.spare = o.spare[:0], nil
	return buf
}

// keep makes a written buffer the spare, unless it grew too large to keep.
// Caller holds the lock.
func (o *Outbox) keep(buf []byte) {
	if cap(buf) <= MaxIdleBuf && o.spare == nil {
		o.spare = buf[:0]
	}
}

func (o *Outbox) writer(done chan struct{}) {
	defer close(done)
	for {
		o.mu.Lock()
		closing := o.Closing || o.Dead
		if len(o.Buf) == 0 && !o.settler.SettlePending() && !closing {
			o.writing = false
			o.done = nil // closed by the deferred close; nobody waits on an idle writer
			if cap(o.Buf) > MaxIdleBuf {
				o.Buf = nil
			}
			o.mu.Unlock()
			return
		}
		buf := o.take()
		o.settler.TakeSettle()
		o.mu.Unlock()
		if len(buf) > 0 {
			// What fits into the socket goes without a wait (and with
			// no deadline to arm); only the rest waits for room.
			var n int
			if o.canWriteRaw() {
				n = o.writeRaw(buf)
			}
			var err error
			if n < len(buf) {
				_ = o.w.nc.SetWriteDeadline(time.Now().Add(o.timeout))
				var m int
				m, err = o.w.nc.Write(buf[n:])
				o.w.Meter.wrote(m)
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					o.mu.Lock()
					o.Stalled = true
					o.mu.Unlock()
				}
				o.finish()
				return
			}
		}
		o.mu.Lock()
		o.MarkWritten()
		o.keep(buf)
		o.mu.Unlock()
		o.settler.Settle()
		if closing {
			// Let the peer read the last frame (an ERROR, a DISCONNECT)
			// before the close.
			if tc, ok := o.w.nc.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite()
			}
			o.mu.Lock()
			linger := o.linger
			o.mu.Unlock()
			if linger {
				o.w.drain(LingerTimeout)
			}
			o.finish()
			return
		}
	}
}

// finish marks the Outbox dead and closes the connection; the writer
// goroutine that calls it exits right after.
func (o *Outbox) finish() {
	o.mu.Lock()
	o.Dead = true
	o.Buf = nil
	o.writing = false
	o.mu.Unlock()
	o.w.Close()
	o.settler.OutboxClosed()
}

// canWriteRaw prepares the inline write: plain TCP only (TLS and WebSocket
// framing need their writer). Caller holds the lock.
func (o *Outbox) canWriteRaw() bool {
	if o.raw != nil {
		return true
	}
	if o.noRaw {
		return false
	}
	if _, ok := o.w.nc.(*fdConn); ok {
		return true
	}
	tc, ok := o.w.nc.(*net.TCPConn)
	if !ok {
		o.noRaw = true
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		o.noRaw = true
		return false
	}
	o.raw = &rawWriter{rc: rc}
	o.raw.fn = o.raw.write
	return true
}

// writeRaw makes one non-blocking attempt to write b and reports how many
// bytes went out. Only the owner of the socket (writing set) calls it.
func (o *Outbox) writeRaw(b []byte) int {
	if fc, ok := o.w.nc.(*fdConn); ok {
		n := fc.writeNow(b)
		o.w.Meter.wrote(n)
		return n
	}
	r := o.raw
	r.buf, r.n = b, 0
	_ = r.rc.Write(r.fn) // fails only on a closed connection: see FlushLocked
	r.buf = nil
	o.w.Meter.wrote(r.n)
	return r.n
}

// write is the RawConn callback: write until done, the socket is full or
// the write fails, and never wait (the writer goroutine waits, and meets the
// failure again).
func (r *rawWriter) write(fd uintptr) bool {
	for r.n < len(r.buf) {
		m, err := sysWrite(int(fd), r.buf[r.n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return true
		}
		r.n += m
	}
	return true
}
