package openwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/openwire/wire"
	"github.com/junctionmq/junction/protocols/transport"
)

// conn is one OpenWire connection. The reader goroutine owns the JMS state
// (the maps below); what other goroutines touch is guarded by outMu.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	ctx    context.Context
	w      transport.Waiter
	br     *bufio.Reader
	rd     *wire.Decoder

	// Set by the handshake.
	negotiated bool
	inactivity time.Duration // 0: no inactivity monitoring
	initDelay  time.Duration

	// Set by ConnectionInfo.
	connected bool
	connID    string
	clientID  string
	id        *access.Identity
	sess      *core.Session

	// The reader's state.
	sessions  map[int64]bool
	producers map[wire.ProducerID]*producer
	consumers map[wire.ConsumerID]*consumer
	txs       map[int64]*txState
	temps     map[string]*wire.Destination // temporary destinations this connection created
	heldProd  *core.Producer               // sends of producers without a window, for the held bound
	// onAck's scratch.
	ackCredit []creditFor
	ackSettle []settlement
	// The last send destination and its resolution (see sendTargets).
	lastDest    *wire.Destination
	lastTargets []target

	// Output, guarded by outMu (with the Outbox's state and each
	// consumer's in-flight records).
	outMu    sync.Mutex
	ob       transport.Outbox
	enc      *wire.Encoder
	kaTimer  *time.Timer
	obClosed chan struct{}
	closed   bool // cleanup has begun: no more deliveries are recorded
	// seq numbers the connection's deliveries; it becomes the MessageId's
	// broker sequence id, which the client echoes in acks and, as the last
	// one its application received, when it closes a consumer or a
	// session. One sequence for the connection makes those comparable
	// across a session's consumers, as ActiveMQ's are.
	seq int64
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s: s, nc: nc, remote: nc.RemoteAddr().String(),
		sessions:  map[int64]bool{},
		producers: map[wire.ProducerID]*producer{},
		consumers: map[wire.ConsumerID]*consumer{},
		txs:       map[int64]*txState{},
		temps:     map[string]*wire.Destination{},
	}
	c.w.Init(nc)
	c.w.Meter = &s.counters.Meter
	c.ob.Init(&c.w, &c.outMu, s.opts.WriteTimeout, c)
	c.br = bufio.NewReaderSize(&c.w, 8<<10)
	c.rd = wire.NewDecoder(wire.InitialFormat())
	c.enc = wire.NewEncoder(wire.InitialFormat())
	return c
}

// logger is the server's logger with this connection's address.
func (c *conn) logger() *slog.Logger { return c.s.log.With("remote", c.remote) }

// Settler: nothing waits for bytes to reach the socket (credit comes back
// with the client's acks), so these are empty but OutboxClosed.
func (c *conn) SettlePending() bool { return false }
func (c *conn) TakeSettle()         {}
func (c *conn) Settle()             {}

func (c *conn) OutboxClosed() {
	if c.ob.Stalled {
		c.logger().Warn("openwire connection closed: the client read nothing for the write timeout", "timeout", c.s.opts.WriteTimeout)
	}
	c.outMu.Lock()
	if c.obClosed != nil {
		close(c.obClosed)
		c.obClosed = nil
	}
	c.outMu.Unlock()
	// The reader may be blocked in a read: the closed socket wakes it.
}

// serve runs the connection: our WireFormatInfo first (as the ActiveMQ
// broker does, without waiting for the client's), then one command at a
// time until the connection ends.
func (c *conn) serve(ctx context.Context) {
	c.ctx = ctx
	defer func() {
		if v := recover(); v != nil {
			// A bug in one connection's handling ends that connection, not
			// the broker.
			c.logger().Error("openwire connection handler panicked", "panic", v, "stack", string(debug.Stack()))
		}
		c.cleanup()
	}()
	c.send(wire.NewWireFormatInfo(c.serverOptions()))
	for {
		_ = c.nc.SetReadDeadline(c.readDeadline())
		cmd, err := c.rd.ReadCommand(c.br)
		if err != nil {
			c.inputFailed(err)
			return
		}
		if !c.handle(ctx, cmd) {
			return
		}
	}
}

func (c *conn) serverOptions() wire.Options {
	o := wire.ServerOptions(c.s.opts.MaxInactivity, c.s.opts.MaxFrameSize)
	// Stack traces would tell a client about the broker's insides and cost
	// bytes on every exception; the Java client does not need them.
	o.StackTraceEnabled = false
	if c.s.opts.MaxInactivity < 0 {
		o.MaxInactivityDuration = 0
	}
	return o
}

// readDeadline is when a silent client is considered gone: the handshake
// timeout until the WireFormatInfo came, then the negotiated inactivity
// duration (with the client's initial delay before its first keep-alive).
func (c *conn) readDeadline() time.Time {
	switch {
	case !c.negotiated:
		return time.Now().Add(c.s.opts.HandshakeTimeout)
	case c.inactivity <= 0:
		return time.Time{}
	}
	d := c.inactivity
	if c.initDelay > 0 {
		d += c.initDelay
		c.initDelay = 0
	}
	return time.Now().Add(d)
}

// inputFailed reports why reading stopped, where OpenWire can: a command
// that could not be decoded or a silent peer get a ConnectionError before
// the close.
func (c *conn) inputFailed(err error) {
	var de *wire.DecodeError
	var ne net.Error
	switch {
	case errors.As(err, &de):
		// The message names the problem, never the payload.
		c.logger().Info("openwire protocol error", "err", de.Error())
		c.closeWithError(&wire.Throwable{Class: "java.io.IOException", Message: de.Error()}, true)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
	case errors.As(err, &ne) && ne.Timeout():
		msg := "no WireFormatInfo received in time"
		if c.negotiated {
			msg = "inactivity timeout: nothing received from the client for " + c.inactivity.String()
		}
		c.logger().Info("closing openwire connection", "reason", msg)
		c.closeWithError(&wire.Throwable{Class: "org.apache.activemq.transport.InactivityIOException", Message: msg}, true)
	default:
		c.logger().Debug("openwire read failed", "err", err)
	}
}

// closeWithError queues a ConnectionError; the connection closes after it.
// Only the reader, which reads no more, may ask for the close to linger
// (drain the client's input so it reads the error before the close);
// another goroutine closing the connection must not, as the Outbox would
// then read the socket alongside the reader.
func (c *conn) closeWithError(t *wire.Throwable, linger bool) {
	ce := &wire.ConnectionError{Exception: t}
	if c.connID != "" {
		ce.ConnectionID = &wire.ConnectionID{Value: c.connID}
	}
	c.outMu.Lock()
	c.appendLocked(ce)
	if linger {
		c.ob.LingerLocked()
	}
	c.ob.Closing = true
	c.ob.SignalLocked()
	c.outMu.Unlock()
}

// send encodes cmd into the outbound buffer and wakes the writer.
func (c *conn) send(cmd wire.Command) {
	c.outMu.Lock()
	c.appendLocked(cmd)
	c.ob.SignalLocked()
	c.outMu.Unlock()
}

// appendLocked encodes cmd. A command that cannot be encoded (a value
// the negotiated version cannot carry) is a bug or an oversized value:
// logged and dropped, never half written. Caller holds outMu.
func (c *conn) appendLocked(cmd wire.Command) {
	if c.ob.Dead || c.ob.Closing {
		return
	}
	buf, err := c.enc.Encode(c.ob.Buf, cmd)
	if err != nil {
		c.logger().Error("openwire: cannot encode command", "type", wire.TypeName(cmd.DataType()), "err", err)
		return
	}
	c.ob.Buf = buf
}

// respond answers a command that asked for a response: Response on
// success, ExceptionResponse with err's Java class otherwise. A command
// that asked for none gets nothing on success; on failure it gets a
// ConnectionError, as ActiveMQ reports asynchronous errors (the
// connection stays open and the client's exception listener hears).
func (c *conn) respond(base *wire.BaseCommand, err error) {
	switch {
	case base.ResponseRequired && err == nil:
		c.send(&wire.Response{CorrelationID: base.CommandID})
	case base.ResponseRequired:
		c.send(&wire.ExceptionResponse{Response: wire.Response{CorrelationID: base.CommandID}, Exception: throwable(err)})
	case err != nil:
		ce := &wire.ConnectionError{Exception: throwable(err)}
		if c.connID != "" {
			ce.ConnectionID = &wire.ConnectionID{Value: c.connID}
		}
		c.send(ce)
	}
}

// keepAlive runs on a timer: a KeepAliveInfo goes out when nothing was
// written for a third of the inactivity duration, so the client's read
// check (which fails after a whole duration of silence) never fires.
func (c *conn) keepAlive() {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.ob.Dead || c.ob.Closing || c.kaTimer == nil {
		return
	}
	every := keepAliveEvery(c.inactivity)
	if len(c.ob.Buf) == 0 && c.ob.SinceWrite() >= every {
		c.appendLocked(&wire.KeepAliveInfo{})
		c.ob.SignalLocked()
	}
	c.kaTimer.Reset(every)
}

// keepAliveEvery is how often the keep-alive timer looks: a third of the
// inactivity duration, floored so that a client asking for a tiny duration
// cannot make the server spin.
func keepAliveEvery(inactivity time.Duration) time.Duration {
	return max(inactivity/3, 50*time.Millisecond)
}

// onWireFormat completes the handshake: both directions switch to the
// negotiated format, and the client learns who the broker is.
func (c *conn) onWireFormat(info *wire.WireFormatInfo) error {
	if c.negotiated {
		// The Java client sends one; a second would change the format
		// under the cache. ActiveMQ ignores it, and so do we.
		c.logger().Debug("openwire: second WireFormatInfo ignored")
		return nil
	}
	n, err := wire.Negotiate(c.serverOptions(), info, c.s.opts.MaxFrameSize)
	if err != nil {
		return err
	}
	c.negotiated = true
	c.inactivity = n.MaxInactivity
	c.initDelay = n.InitialDelay
	c.rd.SetFormat(n.Format)
	c.outMu.Lock()
	c.enc.SetFormat(n.Format)
	c.appendLocked(&wire.BrokerInfo{
		BrokerID:   &wire.BrokerID{Value: c.s.brokerID},
		BrokerName: c.s.opts.BrokerName,
		BrokerURL:  "tcp://" + c.nc.LocalAddr().String(),
	})
	if c.inactivity > 0 {
		c.kaTimer = time.AfterFunc(keepAliveEvery(c.inactivity), c.keepAlive)
	}
	c.ob.SignalLocked()
	c.outMu.Unlock()
	c.logger().Debug("openwire wire format negotiated", "version", n.Format.Version, "tight", n.Format.Tight, "cache", n.Format.Cache, "inactivity", n.MaxInactivity)
	return nil
}

// onConnectionInfo logs the client in and opens its core session.
func (c *conn) onConnectionInfo(ctx context.Context, info *wire.ConnectionInfo) error {
	if c.connected {
		if info.ConnectionID != nil && info.ConnectionID.Value == c.connID {
			return nil // a failover client replaying its state
		}
		return jmsError("javax.jms.IllegalStateException", "this connection is already open as "+c.connID)
	}
	var tlsState *tls.ConnectionState
	if st, ok := transport.TLSConnectionState(c.nc); ok {
		tlsState = &st
	}
	id, err := c.s.opts.Gate.Login(ctx, info.UserName, info.Password, info.Password != "", c.remote, tlsState)
	if err != nil {
		bad, msg := access.Refusal(err)
		c.logger().Info("openwire login refused", "user", info.UserName, "bad_credentials", bad)
		return &javaError{class: "java.lang.SecurityException", msg: msg, closeAfter: true}
	}
	connID := ""
	if info.ConnectionID != nil {
		connID = info.ConnectionID.Value
	}
	if info.ClientID != "" && !c.s.claimClientID(info.ClientID, connID, c) {
		id.Close()
		return jmsError("javax.jms.InvalidClientIDException", "Broker: "+c.s.opts.BrokerName+" - Client: "+info.ClientID+" already connected")
	}
	c.id = id
	c.clientID = info.ClientID
	c.connID = connID
	opts := id.SessionOptions(info.ClientID)
	opts.OnClose = c.sessionClosed
	c.sess = c.s.opts.Broker.NewSession(opts)
	c.connected = true
	// The advisory consumer and connection-level producers use session -1,
	// which the client never announces.
	c.sessions[-1] = true
	c.s.connectionAdded(c, info)
	c.logger().Debug("openwire connected", "user", id.Subject.String(), "client_id", info.ClientID)
	return nil
}

// sessionClosed is the core ending the session (login revoked, operator):
// the client gets a ConnectionError and the connection closes.
func (c *conn) sessionClosed(reason error) {
	c.logger().Info("openwire connection closed by the broker", "reason", reason)
	class := "javax.jms.JMSException"
	if errors.Is(reason, core.ErrPermissionRevoked) {
		class = "java.lang.SecurityException"
	}
	c.closeWithError(&wire.Throwable{Class: class, Message: reason.Error()}, false)
}

// cleanup releases everything the connection holds: transactions roll
// back, consumers close (unacknowledged messages go back), temporary
// destinations go with their advisories.
func (c *conn) cleanup() {
	c.outMu.Lock()
	c.closed = true
	if c.kaTimer != nil {
		c.kaTimer.Stop()
		c.kaTimer = nil
	}
	c.outMu.Unlock()
	c.closeState()
	c.outMu.Lock()
	done := c.ob.CloseLocked()
	c.outMu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(c.s.opts.WriteTimeout):
		}
	}
	c.w.Close()
}

// closeState ends the JMS connection: transactions roll back, consumers
// close (unacknowledged messages go back), held sends are withdrawn,
// temporary destinations go with their advisories, the client id is free
// again. It runs when the client removes the connection (so that it can
// reconnect with the same client id at once, before its ShutdownInfo and
// the close arrive) and when the connection ends; the second time it finds
// nothing left.
func (c *conn) closeState() {
	for id, tx := range c.txs {
		tx.rollback()
		delete(c.txs, id)
	}
	for _, con := range c.consumers {
		c.closeConsumer(con, 0, false)
	}
	for id, p := range c.producers {
		p.close()
		delete(c.producers, id)
	}
	if c.heldProd != nil {
		c.heldProd.Close()
		c.heldProd = nil
	}
	for name := range c.temps {
		c.s.removeTemp(name, c)
		delete(c.temps, name)
	}
	c.s.connectionRemoved(c)
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
	}
	if c.clientID != "" {
		c.s.releaseClientID(c.clientID, c)
		c.clientID = ""
	}
	c.id.Close()
	c.id = nil
	c.connected = false
}
