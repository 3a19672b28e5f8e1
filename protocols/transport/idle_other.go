//go:build !linux

package transport

import (
	"net"
	"time"
)

// WaitReadable is only available on Linux; elsewhere callers wait in a
// goroutine.
func WaitReadable(c net.Conn, deadline time.Time, ready func(timedOut bool)) bool { return false }

func wakeIdle() {}

func wakeParked(net.Conn) {}
