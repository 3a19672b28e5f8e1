//go:build !linux

package amqp

import "github.com/junctionmq/junction/protocols/transport"

// sockReader reads through the Waiter (sockread_linux.go reads a plain TCP
// connection without entering the scheduler's syscall state).
type sockReader struct{ w *transport.Waiter }

func (r *sockReader) init(w *transport.Waiter) { r.w = w }

func (r *sockReader) Read(p []byte) (int, error) { return r.w.Read(p) }
