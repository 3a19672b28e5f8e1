package transport

import (
	"net"
	"syscall"
)

// TryWrite makes one non-blocking attempt to write b to c and reports how
// many bytes went out. ok is false, with nothing written, when c is not a
// plain TCP connection (TLS and WebSocket framing need their own writer).
//
// It lets the goroutine that produced a small reply (a RECEIPT, a PUBACK)
// write it at once instead of waking a writer goroutine for it: on loopback
// or a fast network the socket buffer almost always has room, and the
// hand-off costs more than the write. Whatever did not fit is the caller's to
// write the usual way. A would-block is not an error.
func TryWrite(c net.Conn, b []byte) (n int, ok bool, err error) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return 0, false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, true, err
	}
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if e == syscall.EINTR {
				continue
			}
			if e != nil {
				if e != syscall.EAGAIN {
					werr = e
				}
				return true
			}
			n += m
		}
		return true
	})
	if cerr != nil {
		return n, true, cerr
	}
	if werr != nil {
		return n, true, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: werr}
	}
	return n, true, nil
}
