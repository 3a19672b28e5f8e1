package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// WebSocketConn is an upgraded WebSocket connection seen as a byte stream.
// Reads return the payloads of text and binary messages back to back; each
// Write sends one message. See the package documentation for deadlines.
type WebSocketConn struct {
	ws   *websocket.Conn
	raw  net.Conn // the hijacked TCP or TLS connection
	text bool

	rmu sync.Mutex // serialises Read: one message reader at a time
	msg io.Reader  // message being read, nil between messages
	eof bool       // the peer closed normally

	wmu sync.Mutex // serialises Write so deadline bookkeeping pairs up

	rdl, wdl deadline

	broken atomic.Bool // unusable: Close skips the close handshake
	closed atomic.Bool
}

func newWebSocketConn(ws *websocket.Conn, raw net.Conn, text bool) *WebSocketConn {
	// The adapter enforces its own frame-size limits on the stream, and a
	// message is streamed, never buffered whole, so no per-message cap.
	ws.SetReadLimit(-1)
	c := &WebSocketConn{ws: ws, raw: raw, text: text}
	c.rdl.abort = c.abort
	c.wdl.abort = c.abort
	return c
}

// The library is called with a context that is never done: it then skips
// its per-call context watcher, and deadlines are enforced by this type's
// timers instead (see deadline).
var noCtx = context.Background()

// Subprotocol returns the negotiated WebSocket subprotocol.
func (c *WebSocketConn) Subprotocol() string { return c.ws.Subprotocol() }

// Read reads the payload bytes of the incoming messages, text or binary,
// as one stream. A close frame with status 1000, 1001 or none reads as
// io.EOF.
func (c *WebSocketConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if !c.rdl.begin() {
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	n, err := c.read(p)
	if c.rdl.end() && err != nil {
		err = os.ErrDeadlineExceeded
	}
	if err != nil && err != io.EOF {
		return n, c.opError("read", err)
	}
	return n, err
}

func (c *WebSocketConn) read(p []byte) (int, error) {
	for {
		if c.msg == nil {
			if c.eof {
				return 0, io.EOF
			}
			_, r, err := c.ws.Reader(noCtx)
			if err != nil {
				switch websocket.CloseStatus(err) {
				case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
					c.eof = true
					return 0, io.EOF
				}
				c.broken.Store(true)
				return 0, err
			}
			c.msg = r
		}
		n, err := c.msg.Read(p)
		if errors.Is(err, io.EOF) {
			c.msg = nil
			if n == 0 {
				continue // empty message: nothing for the stream
			}
			return n, nil
		}
		if err != nil {
			c.broken.Store(true)
		}
		return n, err
	}
}

// Write sends p as one message: binary, or text if the connection was
// registered for text and p is valid UTF-8.
func (c *WebSocketConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	typ := websocket.MessageBinary
	if c.text && utf8.Valid(p) {
		typ = websocket.MessageText
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.wdl.begin() {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	err := c.ws.Write(noCtx, typ, p)
	if c.wdl.end() && err != nil {
		err = os.ErrDeadlineExceeded
	}
	if err != nil {
		c.broken.Store(true)
		return 0, c.opError("write", err)
	}
	return len(p), nil
}

// Close performs the WebSocket close handshake with status 1000 (at most a
// few seconds against an unresponsive peer) and closes the connection. If
// the connection already failed, it just closes the socket.
func (c *WebSocketConn) Close() error {
	return c.closeWith(websocket.StatusNormalClosure, "")
}

func (c *WebSocketConn) closeWith(code websocket.StatusCode, reason string) error {
	if !c.closed.CompareAndSwap(false, true) {
		return c.opError("close", net.ErrClosed)
	}
	c.rdl.stop()
	c.wdl.stop()
	var err error
	if c.broken.Load() {
		err = c.ws.CloseNow()
	} else {
		err = c.ws.Close(code, reason)
	}
	// The peer closing first, or answering with another status, is still
	// a completed close from the caller's point of view.
	if err != nil && !errors.Is(err, net.ErrClosed) && websocket.CloseStatus(err) == -1 {
		return c.opError("close", err)
	}
	return nil
}

// abort cuts the socket under the WebSocket library: blocked reads, writes
// and close handshakes fail at once. Closing the raw connection rather than
// calling CloseNow matters: CloseNow waits for a close handshake already in
// progress instead of interrupting it.
func (c *WebSocketConn) abort() {
	c.broken.Store(true)
	_ = c.raw.Close()
}

// LocalAddr returns the server's address of the underlying connection.
func (c *WebSocketConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the client's address of the underlying connection.
func (c *WebSocketConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *WebSocketConn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; see the package documentation.
func (c *WebSocketConn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set read deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline; see the package documentation.
func (c *WebSocketConn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set write deadline", net.ErrClosed)
	}
	c.wdl.set(t)
	return nil
}

// ConnectionState returns the TLS state of a wss connection; ok is false
// for plain ws.
func (c *WebSocketConn) ConnectionState() (state tls.ConnectionState, ok bool) {
	if tc, isTLS := c.raw.(*tls.Conn); isTLS {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

func (c *WebSocketConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "websocket", Source: c.raw.LocalAddr(), Addr: c.raw.RemoteAddr(), Err: err}
}

// deadline is one direction's deadline. The library can only be
// interrupted by closing the connection, so an expiry during a call aborts
// the connection; an expiry between calls is remembered and fails the next
// call, as net.Conn requires, until the deadline is moved.
//
// Adapters push the deadline forward before nearly every read (heart-beat
// tracking), so moving it later does not touch the timer: the timer fires
// at the old time, sees the new deadline and re-arms itself for it. Only
// an earlier deadline resets the timer.
type deadline struct {
	abort func()

	mu      sync.Mutex
	t       time.Time // zero: none
	timer   *time.Timer
	timerAt time.Time // when the timer is armed to fire; zero: not armed
	expired bool
	active  bool // a call is in progress
	stopped bool
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.t = t
	d.expired = false
	if t.IsZero() || d.stopped {
		// An armed timer finds no deadline when it fires.
		d.mu.Unlock()
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.expired = true
		active := d.active
		d.mu.Unlock()
		if active {
			d.abort()
		}
		return
	}
	if d.timerAt.IsZero() || t.Before(d.timerAt) {
		d.arm(t, dur)
	}
	d.mu.Unlock()
}

// arm schedules the timer for t, dur from now; d.mu is held.
func (d *deadline) arm(t time.Time, dur time.Duration) {
	d.timerAt = t
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.fire)
		return
	}
	d.timer.Reset(dur)
}

// fire runs on the timer goroutine. It re-checks the deadline, which may
// have been moved or cleared since the timer was armed.
func (d *deadline) fire() {
	d.mu.Lock()
	d.timerAt = time.Time{}
	if d.t.IsZero() || d.expired || d.stopped {
		d.mu.Unlock()
		return
	}
	if dur := time.Until(d.t); dur > 0 {
		d.arm(d.t, dur)
		d.mu.Unlock()
		return
	}
	d.expired = true
	active := d.active
	d.mu.Unlock()
	if active {
		d.abort()
	}
}

// begin marks a call in progress; false means the deadline has passed.
func (d *deadline) begin() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expired {
		return false
	}
	d.active = true
	return true
}

// end marks the call finished and reports whether the deadline expired
// meanwhile (then the call's error is a timeout).
func (d *deadline) end() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active = false
	return d.expired
}

// stop disarms the timer for good (the connection is closing).
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.timerAt = time.Time{}
	if d.timer != nil {
		d.timer.Stop()
	}
}
