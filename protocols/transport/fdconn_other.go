//go:build !linux

package transport

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// fdConn exists on Linux only (fdconn_linux.go); elsewhere plain TCP
// connections keep Go's net.TCPConn and none is ever made.
type fdConn struct {
	net.Conn
	l atomic.Pointer[listener]
}

func (c *fdConn) detachedDone() {}

func rawConns(*Server) []*fdConn { return nil }

func (c *fdConn) park(time.Time, func(bool)) bool { return false }

func (c *fdConn) writeNow([]byte) int { return 0 }

func adoptTCP(*net.TCPConn) (*fdConn, error) {
	return nil, errors.New("transport: raw descriptors are served on Linux only")
}

type rawListener struct{}

func adoptListener(*net.TCPListener) (*rawListener, error) {
	return nil, errors.New("transport: raw descriptors are served on Linux only")
}

func (*rawListener) accept() (net.Conn, error) { return nil, net.ErrClosed }

func (*rawListener) close() error { return nil }
