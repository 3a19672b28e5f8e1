package transport

import (
	"os"
	"runtime/debug"
)

// Conn is an adapter's connection as Waiter.Run drives it.
type Conn interface {
	// HandleNext decodes and handles the next frame or packet, which is
	// buffered or arriving. It returns false when the connection must end,
	// having told the peer why (an ERROR frame, a DISCONNECT).
	HandleNext() bool
	// InputFailed tells the peer, where the protocol can, why reading
	// failed: a timeout (CONNECT, heart-beat, keep-alive) or a frame that
	// could not be decoded. A closed connection needs nothing.
	InputFailed(err error)
	// Quiet drops what a parked connection need not hold (output buffers,
	// the last frame).
	Quiet()
	// Finish releases everything the connection holds and tells the
	// transport it is done.
	Finish()
	// Panicked logs a panic in the connection's handling; Finish follows,
	// so that a bug in one connection does not take the broker down.
	Panicked(v any, stack []byte)
}

// Run reads and handles input until the connection ends, or until the peer
// has been quiet for HandoffAfter: the connection then parks (see Sleep) and
// runs again in a new goroutine once input arrives. Either way Finish is
// called once, at the end.
func (w *Waiter) Run(r IdleReader, c Conn) {
	defer RecoverConn(c)
	for {
		if r.Buffered() == 0 {
			idle, err := w.Await(r)
			if err != nil {
				c.InputFailed(err)
				c.Finish()
				return
			}
			if idle {
				c.Quiet()
				w.sleep(r, c)
				return
			}
		}
		if !c.HandleNext() {
			c.Finish()
			return
		}
	}
}

// sleep is Sleep for Run. A raw connection parks with one closure (48
// bytes while it waits) rather than Sleep's two.
func (w *Waiter) sleep(r IdleReader, c Conn) {
	fc, ok := w.nc.(*fdConn)
	if !ok {
		w.Sleep(r, func(err error) { w.resume(r, c, err) })
		return
	}
	r.Release()
	if fc.park(w.PeerDeadline(), func(timedOut bool) {
		var err error
		if timedOut {
			err = os.ErrDeadlineExceeded
		}
		w.resume(r, c, err)
	}) {
		return
	}
	go func() {
		_ = w.nc.SetReadDeadline(w.PeerDeadline())
		w.resume(r, c, r.WaitIdle())
	}()
}

func (w *Waiter) resume(r IdleReader, c Conn, err error) {
	if err != nil {
		defer RecoverConn(c)
		c.InputFailed(err)
		c.Finish()
		return
	}
	w.Run(r, c)
}

// RecoverConn, deferred, turns a panic in c's handling into a log line and
// the end of c alone. Run defers it; an adapter defers it too around work it
// does before Run (a handshake).
func RecoverConn(c Conn) {
	if v := recover(); v != nil {
		c.Panicked(v, debug.Stack())
		c.Finish()
	}
}
