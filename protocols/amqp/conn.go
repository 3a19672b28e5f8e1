package amqp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/transport"
)

// Protocol headers (AMQP 1.0 part 2, 2.2 and part 5, 5.3.1).
var (
	headerAMQP = codec.ProtocolHeader(codec.ProtoAMQP)
	headerSASL = codec.ProtocolHeader(codec.ProtoSASL)
)

// Frame types (part 2, 2.3.1 and part 5, 5.3.2).
const (
	frameAMQP = codec.FrameAMQP
	frameSASL = codec.FrameSASL
)

// emptyFrame is the keep-alive: a frame header with no body (part 2, 2.4.5).
var emptyFrame = []byte{0, 0, 0, 8, 2, frameAMQP, 0, 0}

// ServerContainerID names the broker in its open.
const ServerContainerID = "junction"

// conn is one AMQP connection. The reader goroutine (serve) owns the
// handshake fields; everything from mu down is shared with the core's
// delivery callbacks and the store's confirmations, under mu.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	ctx    context.Context
	w      transport.Waiter
	sr     sockReader // what br reads: the socket
	br     *bufio.Reader
	log    *slog.Logger

	id          *access.Identity
	sess        *core.Session
	containerID string
	// containerHeld: the container id is counted in Server.containers.
	containerHeld bool
	opened        bool      // the client's open was handled
	openBy        time.Time // the open must have come by then
	// closeSent: our close is queued, read nothing more (set by the
	// reader or by the core closing the session).
	closeSent atomic.Bool

	// Negotiated in open; written by the reader before any other
	// goroutine encodes a frame.
	peerMaxFrame   uint32
	peerChannelMax uint16
	peerIdle       time.Duration

	mu       sync.Mutex
	ob       transport.Outbox
	sessions map[uint16]*session // by the client's channel
	local    map[uint16]*session // by our channel
	kaTimer  *time.Timer
	// pending counts confirmations still to come from the core (durable
	// sends being stored, commits): a closing connection waits for them.
	pending  int
	drained  chan struct{}
	frameBuf []byte

	// The reader's: transactions and the counters naming dynamic nodes
	// and transactions.
	txns        map[string]*txn
	nextTxn     uint64
	nextDynamic uint64
	// partialBytes is what the links hold of messages arriving in several
	// frames (bounded: maxPartialFactor).
	partialBytes int

	// batching (under mu): the reader is handling already-buffered frames
	// and writes the output when the batch ends (signalLocked).
	batching bool
	// flushListed (guarded by s.flush): listed to be written when a
	// reader's batch ends (transport.BatchFlush).
	flushListed bool
	// accRun (under mu): the settled accepted disposition that is the
	// last frame queued, which the next acceptance may extend.
	accRun acceptedRun
	// scratch (the reader's): the transfer, disposition or flow being
	// handled, decoded without an allocation per frame; nothing keeps it
	// past its frame.
	scratch codec.Scratch
	// inBatch (the reader's): its copy of batching, read without mu.
	inBatch bool
	// armed (the reader's): the read deadline set on the socket.
	armed time.Time
	// seat (the reader's): its batch's place in the server's BatchFlush,
	// which writes other connections' output when the batch ends.
	seat transport.BatchSeat
	// sb: Azure Service Bus state, for clients that use $cbs (servicebus.go).
	sb *sbState
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.w.Init(nc)
	c.w.Meter = &s.counters.Meter
	c.ob.Init(&c.w, &c.mu, s.opts.WriteTimeout, c)
	c.sr.init(&c.w)
	c.br = bufio.NewReaderSize(&c.sr, 16<<10)
	c.log = s.log.With("remote", c.remote)
	return c
}

// connError ends the whole connection with a close carrying the condition.
type connError struct{ e *codec.Error }

func (e *connError) Error() string { return e.e.Error() }

func connErr(cond codec.Symbol, format string, args ...any) error {
	return &connError{codec.Errorf(cond, format, args...)}
}

// errQuit ends the read loop without anything more to send.
var errQuit = errors.New("connection finished")

func (c *conn) serve(ctx context.Context) {
	c.ctx = ctx
	defer c.finish()
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("amqp connection handler panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	c.w.PeerTimeout = c.s.opts.ConnectTimeout
	c.openBy = time.Now().Add(c.s.opts.ConnectTimeout)
	if err := c.handshake(); err != nil {
		c.inputFailed(err)
		return
	}
	for {
		err := c.readOne()
		if err != nil || !c.frameBuffered() {
			c.flushOutput()
		}
		if err != nil {
			c.inputFailed(err)
			return
		}
		if c.closeSent.Load() {
			return
		}
	}
}

// signalLocked gets queued output written. While the reader handles
// frames that were already buffered (a batch: a producer's transfers, a
// consumer's dispositions and flows) it writes what they produced, and
// what other goroutines queued meanwhile, in one write when the batch
// ends (flushOutput), from its own goroutine: no writer goroutine per
// reply, and one syscall for the batch. Caller holds mu.
func (c *conn) signalLocked() {
	if c.batching || c.s.flush.DeferLocked(c, &c.flushListed) {
		return
	}
	c.ob.SignalLocked()
}

// enterFlush makes the reader's batch one that writes, when it ends, the
// output it caused on other connections (transport.BatchFlush): for the frames that
// never wait (transfers, dispositions, flows).
func (c *conn) enterFlush() { c.seat.Enter(&c.s.flush) }

// leaveFlush ends the reader's part in the BatchFlush, writing what other
// connections have queued: before any frame whose handling may wait, and
// when the batch ends.
func (c *conn) leaveFlush() { c.seat.Leave(&c.s.flush) }

// frameBuffered reports whether a whole frame is already read into the
// buffer, so that handling it cannot block on the socket.
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 8 {
		return false
	}
	h, err := c.br.Peek(4)
	if err != nil {
		return false
	}
	return int(binary.BigEndian.Uint32(h)) <= n
}

// flushOutput ends a batch: what it queued goes out from this goroutine
// with one non-blocking write (the rest, if any, to a writer goroutine).
func (c *conn) flushOutput() {
	c.inBatch = false
	c.mu.Lock()
	c.batching = false
	if len(c.ob.Buf) == 0 && !c.ob.Closing {
		c.mu.Unlock()
	} else {
		c.ob.FlushLocked()
	}
	c.leaveFlush()
}

// inputFailed tells the client why reading ended, where it still can.
func (c *conn) inputFailed(err error) {
	var ce *connError
	var ne net.Error
	switch {
	case errors.Is(err, errQuit):
	case errors.As(err, &ce):
		c.log.Info("amqp connection closed with an error", "condition", ce.e.Condition, "description", ce.e.Description)
		c.sendClose(ce.e)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		if !c.opened {
			c.log.Info("amqp connection closed: no open received in time")
			return
		}
		c.log.Info("amqp connection closed: idle time-out", "timeout", c.s.opts.IdleTimeout)
		c.sendClose(codec.Errorf(codec.CondResourceLimitExceeded, "local-idle-timeout expired"))
	default:
		c.log.Debug("amqp connection read failed", "err", err)
	}
}

// finish releases what the connection holds: links, core session, login.
func (c *conn) finish() {
	c.leaveFlush() // after a panic in a batch
	c.mu.Lock()
	sessions := make([]*session, 0, len(c.sessions))
	for _, ss := range c.sessions {
		sessions = append(sessions, ss)
	}
	c.mu.Unlock()
	for _, ss := range sessions {
		ss.release()
	}
	if c.sess != nil {
		c.sess.Close()
	}
	c.rollbackAll()
	if c.containerHeld {
		c.s.containers.remove(c.containerID)
	}
	c.id.Close()
	c.sb.close()
	c.awaitPending(c.s.opts.CloseGrace)
	c.mu.Lock()
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	done := c.ob.CloseLocked()
	c.mu.Unlock()
	if done != nil {
		<-done
	}
	_ = c.w.Close()
}

// readDeadline arms the read deadline: the connect timeout until the open
// (counted from the accept, so a client trickling bytes cannot stretch
// it), then our idle time-out.
func (c *conn) readDeadline() {
	d := c.w.PeerDeadline()
	if !c.opened && (d.IsZero() || c.openBy.Before(d)) {
		d = c.openBy
	}
	if c.opened {
		// The deadline moves with every read, and setting it updates a
		// runtime timer: it is armed with slack (1/16 of the idle
		// time-out) and armed again only once the slack is used up, so
		// a busy connection re-arms it every few seconds instead of per
		// frame. A silent client is closed after its idle time-out, and
		// at most that slack later.
		slack := c.w.PeerTimeout / 16
		switch {
		case d.IsZero() && c.armed.IsZero():
			return
		case !d.IsZero() && !c.armed.Before(d) && !c.armed.After(d.Add(slack)):
			return
		case !d.IsZero():
			d = d.Add(slack)
		}
	}
	c.armed = d
	_ = c.nc.SetReadDeadline(d)
}

// readHeader reads an 8-byte protocol header.
func (c *conn) readHeader() ([8]byte, error) {
	var h [8]byte
	c.readDeadline()
	_, err := io.ReadFull(c.br, h[:])
	return h, err
}

// rawFrame is one frame as read: its type, channel and body (the
// performative and, for a transfer, the payload). body aliases the
// connection's read buffer until the next read.
type rawFrame struct {
	typ     byte
	channel uint16
	body    []byte
}

// readFrame reads one frame, refusing a size beyond our max-frame-size
// before reading its body. An empty frame has a nil body.
func (c *conn) readFrame(f *rawFrame) error {
	c.readDeadline()
	h, body, err := codec.ReadFrame(c.br, c.s.opts.MaxFrameSize, &c.frameBuf)
	if err != nil {
		var e *codec.Error
		if errors.As(err, &e) {
			return &connError{e}
		}
		return err
	}
	f.typ, f.channel, f.body = h.Type, h.Channel, body
	if len(body) == 0 {
		f.body = nil
	}
	return nil
}

// handshake runs the protocol header exchange, SASL if the client asks
// for it (or must), and reads the client's open.
func (c *conn) handshake() error {
	h, err := c.readHeader()
	if err != nil {
		return err
	}
	saslNeeded := !c.anonymousAllowed()
	switch h {
	case headerSASL:
		if err := c.sasl(); err != nil {
			return err
		}
		if h, err = c.readHeader(); err != nil {
			return err
		}
		if h != headerAMQP {
			c.log.Info("amqp: unexpected protocol header after SASL", "header", fmt.Sprintf("% x", h))
			c.writeRaw(headerAMQP[:], true)
			return errQuit
		}
		c.writeRaw(headerAMQP[:], false)
	case headerAMQP:
		if saslNeeded {
			// Authentication is required: our SASL header tells the client
			// to start again with SASL (part 2, 2.2).
			c.log.Info("amqp: client skipped SASL, which is required here")
			c.writeRaw(headerSASL[:], true)
			return errQuit
		}
		id, err := c.s.opts.Gate.Login(c.ctx, "", "", false, c.remote, c.tlsState())
		if err != nil {
			_, msg := access.Refusal(err)
			c.log.Info("amqp login refused", "err", msg)
			c.writeRaw(headerSASL[:], true)
			return errQuit
		}
		c.id = id
		c.writeRaw(headerAMQP[:], false)
	default:
		// Not a version we speak: answer with the one we do, then close.
		c.log.Info("amqp: unsupported protocol header", "header", fmt.Sprintf("% x", h))
		if saslNeeded {
			c.writeRaw(headerSASL[:], true)
		} else {
			c.writeRaw(headerAMQP[:], true)
		}
		return errQuit
	}
	return c.readOpen()
}

func (c *conn) anonymousAllowed() bool {
	g := c.s.opts.Gate
	if g == nil || g.Manager == nil {
		return true
	}
	return g.Manager.UsersFile() == "" || g.Manager.AnonymousAllowed()
}

// writeRaw queues bytes outside any frame (protocol headers); closing
// closes the connection after them.
func (c *conn) writeRaw(b []byte, closing bool) {
	c.mu.Lock()
	c.ob.Buf = append(c.ob.Buf, b...)
	if closing {
		c.ob.Closing = true
		c.ob.LingerLocked()
	}
	c.signalLocked()
	c.mu.Unlock()
}

// readOpen reads the client's open (the first frame) and answers it.
func (c *conn) readOpen() error {
	var f rawFrame
	for {
		if err := c.readFrame(&f); err != nil {
			return c.beforeOpen(err)
		}
		if f.body != nil {
			break
		}
	}
	if f.typ != frameAMQP {
		return c.beforeOpen(connErr(codec.CondFramingError, "frame type %d where an open was expected", f.typ))
	}
	perf, _, err := codec.DecodePerformative(f.body)
	if err != nil {
		return c.beforeOpen(asConnErr(err))
	}
	open, ok := perf.(*codec.Open)
	if !ok {
		return c.beforeOpen(connErr(codec.CondNotAllowed, "the first frame must be an open, not %s", perfName(perf)))
	}
	return c.onOpen(open)
}

// beforeOpen answers a failure before the client's open: the spec wants
// an open before a close, so an open goes first.
func (c *conn) beforeOpen(err error) error {
	var ce *connError
	if errors.As(err, &ce) {
		c.sendOpen()
	}
	return err
}

func asConnErr(err error) error {
	var e *codec.Error
	if errors.As(err, &e) {
		return &connError{e}
	}
	return &connError{codec.Errorf(codec.CondDecodeError, "%v", err)}
}

func (c *conn) onOpen(o *codec.Open) error {
	c.containerID = o.ContainerID
	c.peerMaxFrame = o.MaxFrameSize
	if c.peerMaxFrame == 0 {
		c.peerMaxFrame = 1<<32 - 1
	}
	c.peerChannelMax = o.ChannelMax
	if !c.s.containers.add(c.containerID, hasCap(o.DesiredCapabilities, capSoleConnection)) {
		c.sendOpenFailed()
		c.opened = true
		return containerInUse(c.containerID)
	}
	c.containerHeld = true
	c.sendOpen()
	c.opened = true
	if c.peerMaxFrame < minMaxFrameSize {
		return connErr(codec.CondFrameSizeTooSmall, "max-frame-size %d is below the minimum of %d", c.peerMaxFrame, minMaxFrameSize)
	}
	if c.sb == nil {
		if c.id == nil {
			// Only SASL logs in before the open; reaching here without it is a bug.
			return connErr(codec.CondInternalError, "no login")
		}
		c.startSession()
	} // else a client to put a token to $cbs: the session comes later
	c.w.PeerTimeout = c.s.opts.IdleTimeout
	if o.IdleTimeOut > 0 {
		c.peerIdle = max(time.Duration(o.IdleTimeOut)*time.Millisecond, c.s.opts.IdleFloor)
		c.mu.Lock()
		c.kaTimer = time.AfterFunc(c.peerIdle/2, c.keepAlive)
		c.mu.Unlock()
	}
	c.log.Debug("amqp connection opened", "container-id", c.containerID, "user", c.id.User())
	return nil
}

// sendOpen queues our open.
func (c *conn) sendOpen() {
	c.sendOpenWith(codec.Map{{Key: codec.Symbol("product"), Value: "Junction"}})
}

// sendOpenFailed queues the open that comes before a refusing close: its
// properties say the close follows (Qpid JMS then waits for the close and
// reports its error rather than an open connection).
func (c *conn) sendOpenFailed() {
	c.sendOpenWith(codec.Map{{Key: codec.Symbol("product"), Value: "Junction"}, {Key: propOpenFailed, Value: true}})
}

func (c *conn) sendOpenWith(props codec.Map) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appendFrameLocked(0, &codec.Open{
		ContainerID:         ServerContainerID,
		MaxFrameSize:        c.s.opts.MaxFrameSize,
		ChannelMax:          c.s.opts.ChannelMax,
		IdleTimeOut:         uint32(c.s.opts.IdleTimeout / time.Millisecond),
		OfferedCapabilities: []codec.Symbol{capAnonymousRelay, capSharedSubs, capDelayedDelivery, capSoleConnection},
		Properties:          props,
	}, nil)
	c.signalLocked()
}

// Capabilities offered in open.
const (
	capAnonymousRelay codec.Symbol = "ANONYMOUS-RELAY"
	capSharedSubs     codec.Symbol = "SHARED-SUBS"
	// DELAYED_DELIVERY: x-opt-delivery-time and x-opt-delivery-delay are
	// honoured (scheduled delivery in the core); Qpid JMS asks for it
	// before it sends a message with a delivery delay.
	capDelayedDelivery codec.Symbol = "DELAYED_DELIVERY"
)

// sendClose queues a close (with err, if any) and closes the connection
// after it. Nothing more is read.
func (c *conn) sendClose(err *codec.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent.Load() || c.ob.Dead {
		return
	}
	c.closeSent.Store(true)
	c.appendFrameLocked(0, &codec.Close{Error: err}, nil)
	// Nothing may follow the close: confirmations arriving later are
	// dropped with their sessions.
	for _, ss := range c.local {
		ss.ended = true
		ss.backlog = nil
	}
	c.ob.Closing = true
	c.ob.LingerLocked()
	c.signalLocked()
}

// appendFrameLocked encodes one AMQP frame into the outbound buffer.
// Caller holds mu.
func (c *conn) appendFrameLocked(channel uint16, perf codec.Performative, payload []byte) {
	c.ob.Buf = codec.AppendFrame(c.ob.Buf, channel, perf, payload)
}

// keepAlive runs on a timer: an empty frame when nothing was written for
// half the client's idle time-out (part 2, 2.4.5).
func (c *conn) keepAlive() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ob.Dead || c.ob.Closing {
		return
	}
	if len(c.ob.Buf) == 0 && c.ob.SinceWrite() >= c.peerIdle/2 {
		c.ob.Buf = append(c.ob.Buf, emptyFrame...)
		c.signalLocked()
	}
	c.kaTimer.Reset(c.peerIdle / 4)
}

// readOne reads and handles one frame after the open.
func (c *conn) readOne() error {
	var f rawFrame
	if err := c.readFrame(&f); err != nil {
		return err
	}
	if f.body == nil {
		return nil // keep-alive
	}
	if !c.inBatch {
		// The first frame of a batch (flushOutput ends it).
		c.inBatch = true
		c.mu.Lock()
		c.batching = true
		c.mu.Unlock()
	}
	if f.typ != frameAMQP {
		return connErr(codec.CondFramingError, "frame type %d after the open", f.typ)
	}
	perf, payload, err := codec.DecodePerformativeInto(f.body, &c.scratch)
	if err != nil {
		var e *codec.Error
		if errors.As(err, &e) && e.Condition == codec.CondInvalidField {
			// Well-formed but with a field we cannot accept (an unknown
			// delivery state): the session it came on ends, not the
			// connection.
			if ss := c.sessionFor(f.channel); ss != nil {
				return ss.fail(e)
			}
		}
		return asConnErr(err)
	}
	switch perf.(type) {
	case *codec.Transfer, *codec.Disposition, *codec.Flow:
		c.enterFlush()
	default:
		c.leaveFlush()
	}
	switch p := perf.(type) {
	case *codec.Open:
		return connErr(codec.CondIllegalState, "a second open")
	case *codec.Close:
		if p.Error != nil {
			c.log.Info("amqp client closed the connection with an error", "condition", p.Error.Condition, "description", p.Error.Description)
		}
		// The dispositions still due (durable sends being stored) go out
		// first: nothing may follow our close.
		c.awaitPending(c.s.opts.CloseGrace)
		c.sendClose(nil)
		return errQuit
	case *codec.Begin:
		return c.onBegin(f.channel, p)
	}
	ss := c.sessionFor(f.channel)
	if ss == nil {
		return connErr(codec.CondNotAllowed, "%s on channel %d, where no session is open", perfName(perf), f.channel)
	}
	return ss.handle(perf, payload)
}

// sessionFor is the session on the client's channel ch. Only the reader
// writes c.sessions (under mu, for the other goroutines that read it), so
// the reader reads it without the lock.
func (c *conn) sessionFor(ch uint16) *session {
	return c.sessions[ch]
}

// perfName names a performative in errors and logs.
func perfName(p any) string {
	switch p.(type) {
	case *codec.Open:
		return "open"
	case *codec.Begin:
		return "begin"
	case *codec.Attach:
		return "attach"
	case *codec.Flow:
		return "flow"
	case *codec.Transfer:
		return "transfer"
	case *codec.Disposition:
		return "disposition"
	case *codec.Detach:
		return "detach"
	case *codec.End:
		return "end"
	case *codec.Close:
		return "close"
	}
	return fmt.Sprintf("%T", p)
}

// tlsState is the connection's TLS state, nil on plain connections.
func (c *conn) tlsState() *tls.ConnectionState {
	if st, ok := transport.TLSConnectionState(c.nc); ok {
		return &st
	}
	return nil
}

// sessionClosed is the core closing the whole session (the user was
// removed, an operator closed the connection): the connection closes with
// amqp:connection:forced.
func (c *conn) sessionClosed(reason error) {
	c.log.Info("amqp connection closed by the broker", "reason", reason)
	cond := codec.CondConnectionForced
	if errors.Is(reason, core.ErrPermissionRevoked) {
		cond = codec.CondUnauthorizedAccess
	}
	c.sendClose(codec.Errorf(cond, "%v", reason))
}

// beginPending notes a confirmation the core will send later.
func (c *conn) beginPending() {
	c.mu.Lock()
	c.pending++
	c.mu.Unlock()
}

// endPendingLocked notes a confirmation done. Caller holds mu.
func (c *conn) endPendingLocked() {
	c.pending--
	if c.pending == 0 && c.drained != nil {
		close(c.drained)
		c.drained = nil
	}
}

// awaitPending waits, up to grace, for the confirmations still due.
func (c *conn) awaitPending(grace time.Duration) {
	c.mu.Lock()
	if c.pending == 0 {
		c.mu.Unlock()
		return
	}
	if c.drained == nil {
		c.drained = make(chan struct{})
	}
	ch := c.drained
	c.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// transport.Settler: nothing waits for writes to complete.
func (c *conn) SettlePending() bool { return false }
func (c *conn) TakeSettle()         {}
func (c *conn) Settle()             {}
func (c *conn) OutboxClosed() {
	if c.ob.Stalled {
		c.log.Warn("amqp connection closed: the client read nothing for the write timeout", "timeout", c.s.opts.WriteTimeout)
	}
}
