package transport

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := recv(t, accepted, "accept")
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// testSettler counts what the Outbox asks of its adapter.
type testSettler struct {
	pending  bool // under the outbox lock
	taken    bool // the writer's
	settled  atomic.Int32
	closed   atomic.Int32
	closedCh chan struct{}
}

func (s *testSettler) SettlePending() bool { return s.pending }
func (s *testSettler) TakeSettle()         { s.taken, s.pending = s.taken || s.pending, false }
func (s *testSettler) Settle() {
	if s.taken {
		s.settled.Add(1)
		s.taken = false
	}
}
func (s *testSettler) OutboxClosed() {
	if s.closed.Add(1) == 1 {
		close(s.closedCh)
	}
}

type testOutbox struct {
	mu sync.Mutex
	w  Waiter
	ob Outbox
	st testSettler
}

func newTestOutbox(nc net.Conn) *testOutbox {
	o := &testOutbox{st: testSettler{closedCh: make(chan struct{})}}
	o.w.Init(nc)
	o.ob.Init(&o.w, &o.mu, 10*time.Second, &o.st)
	return o
}

// queue appends b and flushes it inline (or signals the writer).
func (o *testOutbox) queue(b []byte, inline bool) {
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, b...)
	if inline {
		o.ob.FlushLocked()
		return
	}
	o.ob.SignalLocked()
	o.mu.Unlock()
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return got
}

// A reply on plain TCP goes out from the calling goroutine: no writer
// goroutine is left running or needed.
func TestOutboxFlushInline(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	msg := []byte("RECEIPT\nreceipt-id:1\n\n\x00")
	o.queue(msg, true)
	o.mu.Lock()
	writing, done, left := o.ob.writing, o.ob.done, len(o.ob.Buf)
	o.mu.Unlock()
	if writing || done != nil || left != 0 {
		t.Fatalf("after an inline flush: writing %v, writer goroutine %v, %d bytes left", writing, done != nil, left)
	}
	if got := readN(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}
}

// A peer that does not read fills the socket buffers: the inline write
// returns instead of blocking, a writer goroutine sends the rest, and what
// is queued meanwhile follows it in order.
func TestOutboxFlushInlineFullSocket(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	// More than loopback's socket buffers hold, however large they grow.
	big := bytes.Repeat([]byte("x"), 32<<20)
	returned := make(chan struct{})
	go func() {
		o.queue(big, true)
		close(returned)
	}()
	recv(t, returned, "FlushLocked on a full socket")
	tail := []byte("after")
	o.queue(tail, true)
	got := readN(t, c, len(big)+len(tail))
	if !bytes.Equal(got[:len(big)], big) || !bytes.Equal(got[len(big):], tail) {
		t.Fatal("bytes arrived out of order or damaged")
	}
}

// TLS and WebSocket connections cannot be written inline: the writer
// goroutine sends instead.
func TestOutboxNotTCPUsesWriter(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	o := newTestOutbox(s)
	msg := []byte("PUBACK")
	o.queue(msg, true)
	if got := readN(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}
}

// Settling waits for the write; a close sends what is queued first, then
// closes the connection once, telling the adapter once.
func TestOutboxSettleAndClose(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, "MESSAGE"...)
	o.st.pending = true
	o.ob.FlushLocked() // pending settling: handed to the writer goroutine
	readN(t, c, len("MESSAGE"))
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, "ERROR"...)
	done := o.ob.CloseLocked()
	o.mu.Unlock()
	if done != nil {
		recv(t, done, "writer exit")
	}
	recv(t, o.st.closedCh, "OutboxClosed")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "ERROR" {
		t.Fatalf("after the close the peer read %q, %v; want ERROR then EOF", rest, err)
	}
	if n := o.st.settled.Load(); n != 1 {
		t.Fatalf("settled %d times, want 1", n)
	}
	if n := o.st.closed.Load(); n != 1 {
		t.Fatalf("OutboxClosed ran %d times, want 1", n)
	}
	o.mu.Lock()
	dead := o.ob.Dead
	o.ob.Buf = append(o.ob.Buf, "late"...)
	o.ob.SignalLocked() // a dead outbox starts no writer
	writing := o.ob.writing
	o.mu.Unlock()
	if !dead || writing {
		t.Fatalf("after the close: dead %v, writing %v", dead, writing)
	}
}

// A peer that went away fails the write; the connection is closed once.
func TestOutboxWriteFailureCloses(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	c.Close()
	for i := 0; ; i++ {
		select {
		case <-o.st.closedCh:
			if n := o.st.closed.Load(); n != 1 {
				t.Fatalf("OutboxClosed ran %d times, want 1", n)
			}
			return
		default:
		}
		if i > 1000 {
			t.Fatal("writes to a closed peer never failed")
		}
		o.queue(bytes.Repeat([]byte("y"), 64<<10), i%2 == 0)
		time.Sleep(time.Millisecond)
	}
}

// TestOutboxLingerLetsABusyPeerReadTheLastFrame: a peer that writes a large
// message and only then reads (as go-stomp does) gets the last frame queued
// before a lingering close, because the Outbox drains its input instead of
// resetting the connection with unread data.
func TestOutboxLingerLetsABusyPeerReadTheLastFrame(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	written := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 8<<20))
		written <- err
	}()
	o.mu.Lock()
	o.ob.LingerLocked()
	o.ob.Buf = append(o.ob.Buf, "ERROR"...)
	o.ob.CloseLocked()
	o.mu.Unlock()
	if err := recv(t, written, "the peer's write"); err != nil {
		t.Fatalf("the peer's write failed: %v (the close did not drain it)", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ERROR" {
		t.Fatalf("peer read %q, %v; want ERROR then end of stream", got, err)
	}
	c.Close() // the peer leaves: the linger ends now, not at LingerTimeout
	recv(t, o.st.closedCh, "OutboxClosed")
}

// TestOutboxLingerIsBounded: a peer that neither closes nor stops sending
// is cut off after LingerTimeout.
func TestOutboxLingerIsBounded(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	start := time.Now()
	o.mu.Lock()
	o.ob.LingerLocked()
	o.ob.Buf = append(o.ob.Buf, "bye"...)
	o.ob.CloseLocked()
	o.mu.Unlock()
	recv(t, o.st.closedCh, "OutboxClosed")
	if d := time.Since(start); d < LingerTimeout-50*time.Millisecond || d > LingerTimeout+time.Second {
		t.Fatalf("closed after %v, want about %v", d, LingerTimeout)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if got, _ := io.ReadAll(c); string(got) != "bye" {
		t.Fatalf("peer read %q", got)
	}
}

// TestOutboxStalledPeer: a peer that stops reading fills the socket; the
// write that makes no progress for the timeout closes the connection and
// says why (Stalled), so the adapter can log a slow consumer.
func TestOutboxStalledPeer(t *testing.T) {
	c, s := tcpPair(t)
	_ = c // never read
	o := &testOutbox{st: testSettler{closedCh: make(chan struct{})}}
	o.w.Init(s)
	o.ob.Init(&o.w, &o.mu, 100*time.Millisecond, &o.st)
	o.queue(bytes.Repeat([]byte("z"), 32<<20), false) // more than any socket buffer
	select {
	case <-o.st.closedCh:
	case <-time.After(20 * time.Second):
		t.Fatal("a write that made no progress did not close the connection")
	}
	o.mu.Lock()
	stalled := o.ob.Stalled
	o.mu.Unlock()
	if !stalled {
		t.Error("Stalled not set after a write timed out")
	}
}

// A reader's flush of a subscriber it delivered to writes inline and settles
// inline (credit returned once the bytes are out): no writer goroutine.
func TestOutboxFlushSettleInline(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	msg := []byte("PUBLISH")
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, msg...)
	o.st.pending = true
	o.ob.FlushSettleLocked()
	o.mu.Lock()
	writing, done, left := o.ob.writing, o.ob.done, len(o.ob.Buf)
	o.mu.Unlock()
	if writing || done != nil || left != 0 || o.st.settled.Load() != 1 {
		t.Fatalf("after an inline flush: writing %v, writer goroutine %v, %d bytes left, settled %d times", writing, done != nil, left, o.st.settled.Load())
	}
	if got := readN(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}
}

// When the socket takes only part of it, the settling waits for the rest,
// which the writer goroutine sends and then settles.
func TestOutboxFlushSettlePartial(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	big := bytes.Repeat([]byte("x"), 32<<20)
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, big...)
	o.st.pending = true
	o.ob.FlushSettleLocked()
	if n := o.st.settled.Load(); n != 0 {
		t.Fatalf("settled %d times before the peer read anything", n)
	}
	got := readN(t, c, len(big))
	if !bytes.Equal(got, big) {
		t.Fatal("bytes damaged")
	}
	deadline := time.Now().Add(10 * time.Second)
	for o.st.settled.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the writer goroutine never settled what the inline flush took")
		}
		time.Sleep(time.Millisecond)
	}
}

// A connection that parks while output waits for a later flush keeps it:
// dropping it lost messages (and their credit) for good.
func TestOutboxReleaseKeepsQueuedOutput(t *testing.T) {
	c, s := tcpPair(t)
	o := newTestOutbox(s)
	msg := []byte("queued")
	o.mu.Lock()
	o.ob.Buf = append(o.ob.Buf, msg...)
	o.ob.ReleaseLocked()
	o.ob.FlushSettleLocked()
	if got := readN(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}
}
