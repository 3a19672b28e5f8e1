package amqp

import (
	"io"
	"net"
	"syscall"

	"github.com/junctionmq/junction/protocols/transport"
)

// sockReader is what the connection's bufio.Reader reads: on a plain TCP
// connection, read(2) through transport.SysRead inside the RawConn's
// readiness loop, else the Waiter's Read. syscall.Read enters the
// scheduler's syscall state (the socket is non-blocking, so nothing there
// needs it), and the first such call after the process was idle wakes Go's
// sysmon, which then polls every 20 µs until everything is idle again: a
// broker woken by each burst of input paid a futex wake and thread switches
// per burst, about 15 % of its CPU on the queue path. The outbox's writes
// do the same (transport's sysWrite).
type sockReader struct {
	w  *transport.Waiter
	rc syscall.RawConn // nil: read through w
	fn func(fd uintptr) bool
	// The call in progress, for fn.
	p   []byte
	n   int
	err syscall.Errno
}

func (r *sockReader) init(w *transport.Waiter) {
	r.w = w
	if tc, ok := w.Conn().(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			r.rc = rc
			r.fn = r.read
		}
	}
}

func (r *sockReader) Read(p []byte) (int, error) {
	if r.rc == nil || len(p) == 0 {
		return r.w.Read(p)
	}
	r.p = p
	err := r.rc.Read(r.fn) // waits for input, honouring the read deadline
	r.p = nil
	n, e := r.n, r.err
	r.n, r.err = 0, 0
	switch {
	case err != nil:
		return 0, err
	case e != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: e}
	case n == 0:
		return 0, io.EOF
	}
	r.w.Resumed() // the peer was heard from
	if m := r.w.Meter; m != nil {
		m.In.Add(uint64(n))
	}
	return n, nil
}

// read is the RawConn callback: false (wait for input) only when the
// socket has nothing.
func (r *sockReader) read(fd uintptr) bool {
	for {
		n, err := transport.SysRead(int(fd), r.p)
		switch err {
		case nil:
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.err = syscall.EIO
		if e, ok := err.(syscall.Errno); ok {
			r.err = e
		}
		return true
	}
}
