package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// HandoffAfter is how long a connection waits for input in the goroutine
// that served it before parking: without a goroutine where waitReadable can
// watch the socket, else in a fresh goroutine whose stack has not grown. It
// is short so a burst of clients that connect and then go quiet never holds a
// goroutine (and its grown stack) each; a busy connection rarely waits this
// long between reads, and parking costs a few microseconds when it does.
const HandoffAfter = 50 * time.Millisecond

// IdleReader is a protocol decoder that can wait for input holding no buffer
// (see the STOMP frame and MQTT packet readers).
type IdleReader interface {
	// Buffered is how many bytes are read but not yet decoded.
	Buffered() int
	// WaitIdle blocks until input arrives when nothing is buffered.
	WaitIdle() error
	// Release gives back the memory an idle reader holds.
	Release()
}

// Waiter is the input side of an adapter's connection: it records when the
// peer last sent anything, enforces the peer deadline (CONNECT timeout,
// heart-beats, keep-alive), and parks a quiet connection. Adapters embed one
// and read through it.
type Waiter struct {
	nc   net.Conn
	last int64 // when the peer was last heard from: see monoNow
	// PeerTimeout: a peer silent this long is gone (0: never).
	PeerTimeout time.Duration
	// Meter, when set, counts the bytes read here and written by the
	// connection's Outbox.
	Meter  *Meter
	parked atomic.Pointer[idleWaiter] // the parked wait, for Close to wake
}

// clockBase anchors the Waiter's clock: nanoseconds since it, from the
// monotonic clock, take 8 bytes of every connection where a time.Time took 24.
var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) }

// Meter counts the bytes an adapter's connections read and write; one per
// adapter, shared by its connections (an atomic add per read or write call,
// not per byte). WebSocket connections count their payload.
type Meter struct {
	In, Out atomic.Uint64
}

func (m *Meter) read(n int) {
	if m != nil && n > 0 {
		m.In.Add(uint64(n))
	}
}

func (m *Meter) wrote(n int) {
	if m != nil && n > 0 {
		m.Out.Add(uint64(n))
	}
}

// Init binds the waiter to its connection; the peer counts as heard from now.
func (w *Waiter) Init(nc net.Conn) {
	w.nc = nc
	w.last = monoNow()
}

// Conn is the connection the waiter reads (adapters keep no copy of it).
func (w *Waiter) Conn() net.Conn { return w.nc }

// parkable: only a plain TCP connection can wait without a goroutine.
func (w *Waiter) parkable() bool {
	_, ok := w.nc.(*net.TCPConn)
	return ok
}

// Read reads from the connection, noting when data arrives.
func (w *Waiter) Read(p []byte) (int, error) {
	n, err := w.nc.Read(p)
	if n > 0 {
		w.last = monoNow()
		w.Meter.read(n)
	}
	return n, err
}

// Resumed counts the peer as heard from now. An adapter calls it after it
// stopped reading on its own account (producer flow control): the silence
// was the server's, and the peer's heart-beats are waiting unread.
func (w *Waiter) Resumed() { w.last = monoNow() }

// PeerDeadline is when a silent peer is considered gone (zero: never).
func (w *Waiter) PeerDeadline() time.Time {
	if w.PeerTimeout <= 0 {
		return time.Time{}
	}
	return clockBase.Add(time.Duration(w.last) + w.PeerTimeout)
}

// Await waits for input for up to HandoffAfter (or the peer deadline, if
// sooner) and reports idle when that short wait ran out: the caller then
// parks. TLS and WebSocket connections cannot be parked, and a deadline that
// expires inside their Read breaks them, so they wait for the peer deadline
// alone.
func (w *Waiter) Await(r IdleReader) (idle bool, err error) {
	pd := w.PeerDeadline()
	if !w.parkable() {
		_ = w.nc.SetReadDeadline(pd)
		return false, r.WaitIdle()
	}
	deadline := time.Now().Add(HandoffAfter)
	if !pd.IsZero() && pd.Before(deadline) {
		deadline = pd
	}
	_ = w.nc.SetReadDeadline(deadline)
	if err = r.WaitIdle(); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && (pd.IsZero() || time.Now().Before(pd)) {
			return true, nil
		}
		return false, err
	}
	// The rest of the frame may take its time, within the peer deadline.
	_ = w.nc.SetReadDeadline(w.PeerDeadline())
	return false, nil
}

// Sleep waits for input without the calling goroutine, which should return
// right after. A plain TCP connection is parked with waitReadable, holding no
// goroutine and (after Release) no buffer; any other waits in a fresh
// goroutine with a small stack. Either way wake runs in a new goroutine:
// with nil once input is there, or with the error that ended the wait
// (os.ErrDeadlineExceeded when the peer deadline passed).
func (w *Waiter) Sleep(r IdleReader, wake func(err error)) {
	r.Release()
	parked := waitReadable(w.nc, w.PeerDeadline(), func(timedOut bool) {
		if timedOut {
			wake(os.ErrDeadlineExceeded)
			return
		}
		wake(nil)
	}, &w.parked)
	if parked {
		return
	}
	go func() {
		_ = w.nc.SetReadDeadline(w.PeerDeadline())
		wake(r.WaitIdle())
	}()
}

// ServeBlocking runs a DetachedHandler's connection to its end, for callers
// that hold a goroutine per connection anyway (the WebSocket listener).
func ServeBlocking(ctx context.Context, h DetachedHandler, nc net.Conn) {
	done := make(chan struct{})
	h.ServeConnDetached(ctx, nc, func() { close(done) })
	<-done
}

// drain reads and discards input until the peer closes the connection, the
// connection is closed, or d has passed (see Outbox.LingerLocked).
func (w *Waiter) drain(d time.Duration) {
	_ = w.nc.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4<<10)
	for {
		if _, err := w.nc.Read(buf); err != nil {
			return
		}
	}
}

// Close closes the connection and wakes its parked wait, if any, so the
// connection's goroutine runs, finds it closed and cleans up. Adapters close
// through it, never through the net.Conn directly.
func (w *Waiter) Close() error {
	err := w.nc.Close()
	wakeParked(&w.parked)
	return err
}
