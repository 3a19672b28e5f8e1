//go:build !linux

package transport

import (
	"net"
	"sync/atomic"
	"time"
)

type idleWaiter struct{}

// waitReadable is only available on Linux; elsewhere callers wait in a
// goroutine.
func waitReadable(net.Conn, time.Time, func(timedOut bool), *atomic.Pointer[idleWaiter]) bool {
	return false
}

func wakeIdle() {}

func wakeParked(*atomic.Pointer[idleWaiter]) {}
