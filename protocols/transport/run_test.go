package transport

import (
	"bytes"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// lineConn is a minimal adapter for Waiter.Run: one line per "frame".
type lineConn struct {
	w   Waiter
	buf []byte

	mu       sync.Mutex
	lines    []string
	quiets   int
	inputErr error
	panicked any
	finished chan struct{}
	finishes int
	got      chan string
}

func newLineConn(nc net.Conn) *lineConn {
	c := &lineConn{finished: make(chan struct{}), got: make(chan string, 16)}
	c.w.Init(nc)
	return c
}

// IdleReader over the connection.
func (c *lineConn) Buffered() int { return len(c.buf) }
func (c *lineConn) Release()      {}
func (c *lineConn) WaitIdle() error {
	if len(c.buf) > 0 {
		return nil
	}
	return c.fill()
}

func (c *lineConn) fill() error {
	var b [64]byte
	n, err := c.w.Read(b[:])
	c.buf = append(c.buf, b[:n]...)
	return err
}

func (c *lineConn) HandleNext() bool {
	for bytes.IndexByte(c.buf, '\n') < 0 {
		if err := c.fill(); err != nil {
			c.InputFailed(err)
			return false
		}
	}
	i := bytes.IndexByte(c.buf, '\n')
	line := string(c.buf[:i])
	c.buf = c.buf[i+1:]
	if line == "panic" {
		panic("handler bug")
	}
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
	c.got <- line
	return line != "quit"
}

func (c *lineConn) InputFailed(err error) {
	c.mu.Lock()
	c.inputErr = err
	c.mu.Unlock()
}

func (c *lineConn) Quiet() {
	c.mu.Lock()
	c.quiets++
	c.mu.Unlock()
}

func (c *lineConn) Finish() {
	c.mu.Lock()
	c.finishes++
	n := c.finishes
	c.mu.Unlock()
	c.w.Close()
	if n == 1 {
		close(c.finished)
	}
}

func (c *lineConn) Panicked(v any, _ []byte) {
	c.mu.Lock()
	c.panicked = v
	c.mu.Unlock()
}

func (c *lineConn) snapshot() (lines []string, quiets, finishes int, panicked any, inputErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...), c.quiets, c.finishes, c.panicked, c.inputErr
}

// A connection handles its input, parks when the peer goes quiet, runs
// again when input arrives, and finishes once when the handler says so.
func TestRunParksAndResumes(t *testing.T) {
	client, server := tcpPair(t)
	c := newLineConn(server)
	go c.w.Run(c, c)
	client.Write([]byte("one\ntwo\n"))
	recv(t, c.got, "line one")
	recv(t, c.got, "line two")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, quiets, _, _, _ := c.snapshot(); quiets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a quiet connection did not park")
		}
		time.Sleep(HandoffAfter / 5)
	}
	client.Write([]byte("three\nquit\n"))
	recv(t, c.finished, "finish")
	lines, _, finishes, panicked, inputErr := c.snapshot()
	if want := []string{"one", "two", "three", "quit"}; !slices.Equal(lines, want) {
		t.Fatalf("handled %q, want %q", lines, want)
	}
	if finishes != 1 || inputErr != nil || panicked != nil {
		t.Fatalf("finishes %d, input error %v, panic %v", finishes, inputErr, panicked)
	}
}

// A panic in one connection's handler ends that connection alone.
func TestRunRecoversPanic(t *testing.T) {
	client, server := tcpPair(t)
	c := newLineConn(server)
	go c.w.Run(c, c)
	client.Write([]byte("panic\n"))
	recv(t, c.finished, "finish after the panic")
	_, _, finishes, panicked, _ := c.snapshot()
	if panicked != "handler bug" || finishes != 1 {
		t.Fatalf("panic %v, finishes %d; want the panic reported and one finish", panicked, finishes)
	}
}

// A peer silent past its deadline is reported to the adapter, then finished
// (here while parked, the long wait).
func TestRunPeerTimeout(t *testing.T) {
	_, server := tcpPair(t)
	c := newLineConn(server)
	c.w.PeerTimeout = 3 * HandoffAfter
	go c.w.Run(c, c)
	recv(t, c.finished, "finish after the peer deadline")
	_, _, finishes, _, inputErr := c.snapshot()
	if !errors.Is(inputErr, os.ErrDeadlineExceeded) || finishes != 1 {
		t.Fatalf("input error %v, finishes %d; want a deadline error and one finish", inputErr, finishes)
	}
}
