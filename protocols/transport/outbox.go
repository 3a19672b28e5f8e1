package transport

import (
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
// Buf, Closing, Dead and LastWrite are guarded by the lock given to Init.
type Outbox struct {
	Buf       []byte    // queued output; append, then SignalLocked or FlushLocked
	Closing   bool      // close the connection once Buf is written
	Dead      bool      // closed or failed: nothing more is written
	LastWrite time.Time // when bytes last went out

	mu      *sync.Mutex
	nc      net.Conn
	w       *Waiter
	timeout time.Duration
	settler Settler
	spare   []byte
	writing bool          // a writer (goroutine or inline) owns the socket
	done    chan struct{} // closed when the current writer goroutine exits

	// The inline write on plain TCP, made once per connection so that a
	// write allocates nothing.
	raw    syscall.RawConn
	noRaw  bool
	rawFn  func(fd uintptr) bool
	rawBuf []byte
	rawN   int
}

// Init binds the Outbox to its connection. mu is the adapter's lock;
// timeout closes a connection whose peer stops reading; w closes the
// connection (and wakes it if parked).
func (o *Outbox) Init(nc net.Conn, w *Waiter, mu *sync.Mutex, timeout time.Duration, s Settler) {
	o.nc, o.w, o.mu, o.timeout, o.settler = nc, w, mu, timeout, s
	o.LastWrite = time.Now()
}

// SignalLocked makes sure a writer goroutine runs. Caller holds the lock.
func (o *Outbox) SignalLocked() {
	if o.writing || o.Dead {
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
	if n < len(buf) {
		// The rest goes first, before anything queued meanwhile.
		rest := buf[n:]
		if len(o.Buf) == 0 {
			o.Buf = append(buf[:0], rest...)
		} else {
			o.Buf = append(append(make([]byte, 0, len(rest)+len(o.Buf)), rest...), o.Buf...)
		}
	} else {
		o.LastWrite = time.Now()
		o.keep(buf)
	}
	if len(o.Buf) > 0 || o.settler.SettlePending() || o.Closing {
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

// ReleaseLocked drops the buffers of a quiet connection that no writer is
// using. Caller holds the lock.
func (o *Outbox) ReleaseLocked() {
	if !o.writing {
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
			_ = o.nc.SetWriteDeadline(time.Now().Add(o.timeout))
			if _, err := o.nc.Write(buf); err != nil {
				o.finish()
				return
			}
		}
		o.mu.Lock()
		o.LastWrite = time.Now()
		o.keep(buf)
		o.mu.Unlock()
		o.settler.Settle()
		if closing {
			// Let the peer read the last frame (an ERROR, a DISCONNECT)
			// before the close.
			if tc, ok := o.nc.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite()
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
	tc, ok := o.nc.(*net.TCPConn)
	if !ok {
		o.noRaw = true
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		o.noRaw = true
		return false
	}
	o.raw, o.rawFn = rc, o.rawWrite
	return true
}

// writeRaw makes one non-blocking attempt to write b and reports how many
// bytes went out. Only the owner of the socket (writing set) calls it.
func (o *Outbox) writeRaw(b []byte) int {
	o.rawBuf, o.rawN = b, 0
	_ = o.raw.Write(o.rawFn) // fails only on a closed connection: see FlushLocked
	n := o.rawN
	o.rawBuf = nil
	return n
}

// rawWrite is the RawConn callback: write until done, the socket is full
// or the write fails, and never wait (the writer goroutine waits, and meets
// the failure again).
func (o *Outbox) rawWrite(fd uintptr) bool {
	for o.rawN < len(o.rawBuf) {
		m, err := syscall.Write(int(fd), o.rawBuf[o.rawN:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return true
		}
		o.rawN += m
	}
	return true
}
