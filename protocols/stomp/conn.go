package stomp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/protocols/transport"
)

// ServerName is sent in CONNECTED frames.
const ServerName = "Junction/0.1"

type ackMode uint8

const (
	ackAuto ackMode = iota
	ackClient
	ackClientIndividual
)

// subscription is one SUBSCRIBE on a connection.
type subscription struct {
	id      string
	num     uint64 // short number used in ack ids
	dest    string // as the client wrote it
	prefix  string // /queue/ or /topic/ for MESSAGE destinations
	ack     ackMode
	durable string // durable subscription name, if any

	// Set by the reader once Consume/Subscribe returns; guarded by
	// conn.outMu because the writer reads it to return credit, and the core
	// may deliver (and so queue credit) before Consume has returned.
	consumer *core.Consumer
	browser  *core.Browser // a browser subscription's, instead of a consumer

	// Guarded by conn.outMu.
	pendingCredit int               // auto-ack deliveries written since the last flush
	byMsgID       map[uint64]uint64 // STOMP 1.0/1.1 ack by message-id -> tag
}

type conn struct {
	s      *Server
	remote string
	rd     *frame.Reader
	w      transport.Waiter // input side: last read, peer deadline, parking
	ctx    context.Context
	done   func()
	// ver and the flags share one word (the reader's, but withdrawn is
	// guarded by outMu: distinct bytes, so no race).
	ver       frame.Version
	connected bool
	quit      bool // a DISCONNECT was handled: read no more
	withdrawn bool // a withdrawn frame was passed: no receipt may follow; guarded by outMu

	id   *access.Identity
	sess *core.Session
	prod *core.Producer // the connection's SENDs, for flow control
	// spareSend is a finished SEND's confirmation, for the next (reader only).
	spareSend *pendingSend

	// Reader goroutine only: the frame being handled, made by the first
	// frame after the connection parked (an idle one holds none).
	f *frame.Frame
	// The reader's maps, made by the first frame after CONNECT (see
	// handle): a connection that connected and went quiet holds none.
	*readerState

	// Outbound, guarded by outMu (with the outbox's buffer and state).
	outMu    sync.Mutex
	ob       transport.Outbox // ob.Closing: an ERROR or DISCONNECT receipt is queued: close after it
	credits  []*subscription  // credit to return once the deliveries queued are written
	settling []*subscription  // the writer's: credits whose deliveries it is writing
	writeHB  time.Duration
	hbTimer  *time.Timer
	// The ordered line of confirmations (see replies.go): replies[0] is
	// slot replyBase.
	replies   []reply
	replyBase uint64
	drained   chan struct{} // made by awaitReplies; closed when the line empties
	obClosed  chan struct{} // made by awaitRelease; closed by OutboxClosed

	// When it says more input is coming, a reply is left to a writer
	// goroutine, which sends it with the replies that follow.
	busy atomic.Bool
}

// readerState is what the reader keeps once a connection does more than
// connect: its subscriptions, transactions and temporary destinations.
type readerState struct {
	subs    map[string]*subscription
	subNums map[uint64]*subscription
	nextSub uint64
	txs     map[string]*core.Tx
	// txNacks are the message-id lookups (STOMP 1.0/1.1) of NACKs held by
	// an open transaction: forgotten at COMMIT, kept by ABORT so that the
	// client can still settle those messages.
	txNacks map[string][]txNack
	temps   map[string]string // temp destination -> queue name
}

// logger is the server's logger with this connection's address; built only
// when something is logged, so idle connections do not carry one.
func (c *conn) logger() *slog.Logger { return c.s.log.With("remote", c.remote) }

// producer is the connection's producer, made by its first send: a
// connection that only subscribes, or sits idle, carries none.
func (c *conn) producer() *core.Producer {
	if c.prod == nil {
		c.prod = c.sess.NewProducer()
	}
	return c.prod
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s: s, remote: nc.RemoteAddr().String(),
	}
	c.w.Init(nc)
	c.w.Meter = &s.counters.Meter
	c.ob.Init(&c.w, &c.outMu, s.opts.WriteTimeout, c)
	c.rd = frame.NewReader(&c.w, s.opts.Limits)
	return c
}

// start runs in the connection's first goroutine.
func (c *conn) start() {
	c.w.PeerTimeout = c.s.opts.ConnectTimeout
	c.w.Run(c.rd, c)
}

// HandleNext, InputFailed, Quiet, Finish and Panicked implement
// transport.Conn: the transport's Waiter.Run reads, parks and resumes.

// HandleNext reads and handles one frame (heart-beats are skipped).
func (c *conn) HandleNext() bool {
	if c.f == nil {
		c.f = new(frame.Frame)
	}
	f := c.f
	hb, err := c.rd.ReadFrame(f)
	if err != nil {
		c.InputFailed(err)
		return false
	}
	c.busy.Store(c.rd.Buffered() > 0)
	if hb {
		return true
	}
	if err := c.handle(c.ctx, f); err != nil {
		c.fail(err, f)
		return false
	}
	if c.quit {
		return false
	}
	c.outMu.Lock()
	closing := c.ob.Closing
	c.outMu.Unlock()
	return !closing
}

// Quiet: a parked connection keeps no output buffer and no frame.
func (c *conn) Quiet() {
	c.f = nil
	c.outMu.Lock()
	c.ob.ReleaseLocked()
	c.outMu.Unlock()
}

// Finish releases everything the connection holds and tells the transport.
func (c *conn) Finish() {
	c.cleanup()
	c.s.counters.Closed()
	c.done()
}

func (c *conn) Panicked(v any, stack []byte) {
	c.s.log.Error("stomp connection handler panicked", "remote", c.remote, "panic", v, "stack", string(stack))
}

func (c *conn) InputFailed(err error) {
	var pe *frame.ProtocolError
	switch {
	case errors.As(err, &pe):
		c.logger().Info("stomp protocol error", "err", pe.Msg)
		c.linger()
		c.sendError(pe.Msg, "The frame could not be read: "+pe.Msg, "")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			msg := "no CONNECT frame received in time"
			if c.connected {
				msg = "heart-beat timeout: nothing received from the client in time"
			}
			c.logger().Info("closing stomp connection", "reason", msg)
			c.sendError(msg, msg, "")
		}
	}
}

// clientError is a refusal the client caused; its text goes in an ERROR frame.
type clientError struct {
	msg    string
	detail string
	// versions, when set, is sent as the ERROR's version header: the spec's
	// answer to a CONNECT that shares no version with the server.
	versions string
}

func (e *clientError) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &clientError{msg: fmt.Sprintf(format, args...)}
}

// fail sends an ERROR frame for err and closes the connection.
func (c *conn) fail(err error, f *frame.Frame) {
	receipt, _ := f.Get(frame.HdrReceipt)
	msg, detail := describe(err)
	c.logger().Info("stomp request refused", "command", f.Command, "err", msg)
	c.linger()
	var ce *clientError
	if errors.As(err, &ce) && ce.versions != "" {
		c.sendError(msg, detail, receipt, frame.Header{Key: frame.HdrVersion, Value: ce.versions})
		return
	}
	c.sendError(msg, detail, receipt)
}

func describe(err error) (msg, detail string) {
	var ce *clientError
	if errors.As(err, &ce) {
		detail = ce.detail
		if detail == "" {
			detail = ce.msg
		}
		return ce.msg, detail
	}
	var pe *core.PermissionError
	if errors.As(err, &pe) {
		return pe.Error(), "Access denied: " + pe.Error()
	}
	return err.Error(), err.Error()
}

// linger makes the close that follows the ERROR drain what the client is
// still sending (the rest of a refused frame, pipelined frames), so that the
// close does not reset the connection before the client reads the ERROR.
// Only the reader calls it, once it reads no more.
func (c *conn) linger() {
	c.outMu.Lock()
	c.ob.LingerLocked()
	c.outMu.Unlock()
}

// sendError queues an ERROR frame, after the replies still due for earlier
// frames, and closes the connection after it.
func (c *conn) sendError(msg, detail, receipt string, extra ...frame.Header) {
	c.appendReply(appendError(nil, c.ver, msg, detail, receipt, extra...), true, true)
}

// receipt queues a RECEIPT frame for a frame handled now.
func (c *conn) receipt(id string) {
	if id == "" {
		return
	}
	c.outMu.Lock()
	if len(c.replies) == 0 {
		if !c.ob.Dead && !c.ob.Closing {
			c.ob.Buf = appendReceipt(c.ob.Buf, c.ver, id)
		}
		c.flushLocked()
		return
	}
	c.outMu.Unlock()
	c.appendReply(appendReceipt(nil, c.ver, id), false, false)
}

// SettlePending, TakeSettle, Settle and OutboxClosed implement
// transport.Settler: credit comes back once the deliveries are written.
func (c *conn) SettlePending() bool { return len(c.credits) > 0 }
func (c *conn) TakeSettle()         { c.settling, c.credits = c.credits, nil }

func (c *conn) OutboxClosed() {
	if c.ob.Stalled {
		// A slow consumer: it stopped reading.
		c.logger().Warn("stomp connection closed: the client read nothing for the write timeout", "timeout", c.s.opts.WriteTimeout)
	}
	c.outMu.Lock()
	if c.obClosed != nil {
		close(c.obClosed)
		c.obClosed = nil
	}
	c.outMu.Unlock()
}

func (c *conn) Settle() {
	for _, sub := range c.settling {
		c.outMu.Lock()
		consumer, browser, n := sub.consumer, sub.browser, 0
		if consumer != nil || browser != nil { // else onSubscribe queues the credit again
			n, sub.pendingCredit = sub.pendingCredit, 0
		}
		c.outMu.Unlock()
		switch {
		case n == 0:
		case consumer != nil:
			consumer.AddCredit(n)
		default:
			browser.AddCredit(n)
		}
	}
	c.settling = nil
}

// heartbeat runs on a timer: it queues an EOL when nothing was written for
// most of the negotiated interval.
func (c *conn) heartbeat() {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.ob.Dead || c.ob.Closing {
		return
	}
	if len(c.ob.Buf) == 0 && c.ob.SinceWrite() >= c.writeHB*3/4 {
		c.ob.Buf = append(c.ob.Buf, frame.Heartbeat...)
		c.ob.SignalLocked()
	}
	c.hbTimer.Reset(c.writeHB / 2)
}

func (c *conn) cleanup() {
	if c.readerState != nil {
		for _, tx := range c.txs {
			tx.Rollback()
		}
	}
	if c.prod != nil {
		if c.quit {
			// A graceful DISCONNECT: its receipt follows every earlier
			// one, so held SENDs get their chance to be admitted first.
			c.awaitReplies(c.s.opts.DisconnectGrace)
		}
		// Whatever still waits for space is withdrawn: nobody is left to
		// confirm it to. Its slot fills with an ERROR nobody reads.
		c.prod.Close()
	}
	if c.sess != nil {
		c.sess.Close()
	}
	c.id.Close()
	// Replies being stored (a SEND, a COMMIT) go out before the close.
	c.awaitReplies(c.s.opts.DisconnectGrace)
	c.outMu.Lock()
	if c.hbTimer != nil {
		c.hbTimer.Stop()
	}
	done := c.ob.CloseLocked()
	c.outMu.Unlock()
	if done != nil {
		<-done
	}
	c.w.Close()
}

func (c *conn) handle(ctx context.Context, f *frame.Frame) error {
	if !c.connected {
		switch f.Command {
		case frame.CmdConnect, frame.CmdStomp:
			return c.onConnect(ctx, f)
		}
		return errorf("expected a CONNECT or STOMP frame, got %s", printable(f.Command))
	}
	if c.readerState == nil {
		c.readerState = &readerState{}
	}
	switch f.Command {
	case frame.CmdSend:
		return c.onSend(ctx, f)
	case frame.CmdSubscribe:
		return c.onSubscribe(f)
	case frame.CmdUnsubscribe:
		return c.onUnsubscribe(f)
	case frame.CmdAck:
		return c.onAck(f, false)
	case frame.CmdNack:
		if c.ver == frame.V1_0 {
			return errorf("NACK is not part of STOMP 1.0")
		}
		return c.onAck(f, true)
	case frame.CmdBegin:
		return c.onBegin(f)
	case frame.CmdCommit:
		return c.onCommit(ctx, f)
	case frame.CmdAbort:
		return c.onAbort(f)
	case frame.CmdDisconnect:
		return c.onDisconnect(f)
	case frame.CmdConnect, frame.CmdStomp:
		return errorf("already connected")
	}
	return errorf("unknown command %s", printable(f.Command))
}

func printable(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return strconv.Quote(s)
}

func (c *conn) onConnect(ctx context.Context, f *frame.Frame) error {
	accept, _ := f.Get(frame.HdrAcceptVersion)
	v, ok := frame.Negotiate(accept)
	if !ok {
		return &clientError{msg: "unsupported protocol version", detail: "Supported protocol versions are " + frame.SupportedVersions, versions: frame.SupportedVersions}
	}
	c.ver = v
	c.rd.SetVersion(v)
	login, _ := f.Get(frame.HdrLogin)
	pass, hasPass := f.Get(frame.HdrPasscode)
	var tlsState *tls.ConnectionState
	if st, ok := transport.TLSConnectionState(c.w.Conn()); ok {
		tlsState = &st
	}
	id, err := c.s.opts.Gate.Login(ctx, login, pass, hasPass, c.remote, tlsState)
	if err != nil {
		_, msg := access.Refusal(err)
		return errorf("%s", msg)
	}
	c.id = id
	clientID, _ := f.Get("client-id")
	opts := id.SessionOptions(clientID)
	opts.OnClose = c.sessionClosed
	opts.Protocol, opts.RemoteAddr = "stomp", c.remote
	c.sess = c.s.opts.Broker.NewSession(opts)
	c.connected = true

	// Heart-beats: we send as often as the client wants to hear from us and
	// expect to hear from it as often as it offers, both floored.
	var sendEvery, expectEvery time.Duration
	if hb, ok := f.Get(frame.HdrHeartBeat); ok && v > frame.V1_0 {
		cx, cy, err := frame.ParseHeartBeat(hb)
		if err != nil {
			return errorf("invalid heart-beat header %s", printable(hb))
		}
		if cy > 0 {
			sendEvery = max(time.Duration(cy)*time.Millisecond, c.s.opts.HeartBeatFloor)
		}
		if cx > 0 {
			expectEvery = max(time.Duration(cx)*time.Millisecond, c.s.opts.HeartBeatFloor)
		}
	}
	// A peer that promised heart-beats and goes silent for twice the interval is dead.
	c.w.PeerTimeout = 2 * expectEvery

	c.outMu.Lock()
	var e frame.Encoder
	e.Begin(c.ob.Buf, v, frame.CmdConnected)
	e.Header(frame.HdrVersion, v.String())
	if v > frame.V1_0 {
		e.Header(frame.HdrHeartBeat, frame.FormatHeartBeat(int(sendEvery/time.Millisecond), int(expectEvery/time.Millisecond)))
	}
	e.Header(frame.HdrServer, ServerName)
	e.HeaderUint(frame.HdrSession, c.sess.ID())
	if u := id.User(); u != "" {
		e.Header("user-id", u)
	}
	c.ob.Buf = e.Body(nil)
	c.writeHB = sendEvery
	c.ob.MarkWritten()
	if sendEvery > 0 {
		c.hbTimer = time.AfterFunc(sendEvery/2, c.heartbeat)
	}
	c.ob.SignalLocked()
	c.outMu.Unlock()
	c.logger().Debug("stomp connected", "version", v.String(), "user", id.Subject.String())
	return nil
}

func (c *conn) onSend(ctx context.Context, f *frame.Frame) error {
	dest, ok := f.Get(frame.HdrDestination)
	if !ok || dest == "" {
		return errorf("SEND needs a destination header")
	}
	addr, rt, err := c.resolveDest(dest, false)
	if err != nil {
		return err
	}
	m, err := c.toMessage(f, addr, rt)
	if err != nil {
		return err
	}
	receipt, _ := f.Get(frame.HdrReceipt)
	if txID, ok := f.Get(frame.HdrTransaction); ok {
		tx := c.txs[txID]
		if tx == nil {
			return errorf("unknown transaction %s", printable(txID))
		}
		if err := tx.Send(m); err != nil {
			return err
		}
		c.s.counters.MessageIn()
		c.receipt(receipt)
		return nil
	}
	// A SEND that is not done when Send returns (stored later, or held for
	// space) takes a slot in the reply line, receipt or not: a later
	// receipt says this SEND was processed too. One done at once (the
	// common non-persistent case) needs no slot.
	ps := c.spareSend
	if ps == nil {
		ps = &pendingSend{c: c}
		ps.doneFn = ps.done
	}
	c.spareSend = nil
	ps.reset(receipt)
	if err := c.producer().Send(ctx, m, ps.doneFn); err != nil {
		c.spareSend = ps // done is not called after an error
		return err
	}
	// Counted before sent() can write the receipt: a client that has its
	// receipt finds its message in the adapter's stats.
	c.s.counters.MessageIn()
	if ps.sent() {
		c.spareSend = ps
	}
	if held := c.prod.Held(); held > c.s.opts.MaxHeldBytes {
		c.awaitRelease()
	}
	return nil
}

// pendingSend is one SEND's confirmation. Its state settles who writes the
// reply: done called before Send returned (stateDone) leaves it to the
// reader, which appends it in order; otherwise the reader reserves a slot
// (stateSlot, under outMu) and done fills it.
//
// A SEND done at once (the common, non-persistent case) leaves its
// pendingSend free for the connection's next SEND (conn.spareSend): one
// allocated per SEND, with its bound done method, cost the hot path two
// allocations.
type pendingSend struct {
	c       *conn
	doneFn  func(error) // ps.done, bound once
	receipt string
	failure string // the ERROR's message; "message not stored" when empty
	state   atomic.Uint32
	seq     uint64 // the slot; written before stateSlot is stored
	err     error  // done's error when it ran first
}

// reset readies a pendingSend for another SEND.
func (ps *pendingSend) reset(receipt string) {
	ps.receipt, ps.failure, ps.seq, ps.err = receipt, "", 0, nil
	ps.state.Store(stateSending)
}

const (
	stateSending uint32 = iota
	stateDone
	stateSlot
)

func (ps *pendingSend) done(err error) {
	// err is written before the state can say stateDone: the reader reads
	// it only after seeing that state.
	ps.err = err
	if ps.state.CompareAndSwap(stateSending, stateDone) {
		return
	}
	c := ps.c
	switch {
	case withdrawn(err):
		// Withdrawn as the connection ends: no receipt, nor any after
		// it, and no ERROR in place of the one that may be ending the
		// connection.
		c.completeClosed(ps.seq)
	case err != nil:
		msg, detail := ps.refusal(err)
		c.completeError(ps.seq, msg, detail, ps.receipt)
	default:
		c.completeReply(ps.seq, ps.receipt)
	}
}

// refusal is the ERROR for a frame the store did not take, and logs it: a
// store that cannot write is logged once by the broker, so each refusal
// only at debug level.
func (ps *pendingSend) refusal(err error) (msg, detail string) {
	msg, what := ps.failure, "it"
	if msg == "" {
		msg, what = "message not stored", "the message"
	}
	level := slog.LevelError
	if errors.Is(err, core.ErrStoreUnavailable) {
		level = slog.LevelDebug
	}
	ps.c.logger().Log(context.Background(), level, msg, "err", err)
	return msg, "The broker could not store " + what + ": " + err.Error()
}

// sent is called by the reader once Send has returned without error. It
// reports whether done has run and is finished with ps, which may then
// serve the next SEND.
func (ps *pendingSend) sent() (free bool) {
	c := ps.c
	if ps.state.Load() != stateDone {
		// The slot is taken, and seq written, before the state says so:
		// done reads seq once it sees stateSlot.
		c.outMu.Lock()
		c.replies = append(c.replies, reply{})
		ps.seq = c.replyBase + uint64(len(c.replies)) - 1
		if ps.state.CompareAndSwap(stateSending, stateSlot) {
			c.outMu.Unlock()
			return false
		}
		// done ran meanwhile: give the slot back (still the last one,
		// since outMu is held).
		c.replies = c.replies[:len(c.replies)-1]
		if len(c.replies) == 0 {
			c.replies = nil
		}
		c.outMu.Unlock()
	}
	// done ran inside Send: its reply (if any) goes after every earlier one.
	switch err := ps.err; {
	case withdrawn(err):
		c.outMu.Lock()
		c.replies = append(c.replies, reply{done: true, withdrawn: true})
		c.emitLocked()
	case err != nil:
		msg, detail := ps.refusal(err)
		c.appendReply(appendError(nil, c.ver, msg, detail, ps.receipt), true, true)
	default:
		c.receipt(ps.receipt)
	}
	return true
}

// awaitRelease stops reading until the connection's held SENDs are back
// under MaxHeldBytes. Below that bound the reader never waits for space, so
// the ACKs and NACKs behind a held SEND are read and can free it; the bound
// only keeps a client that pipelines far more than an address can hold from
// making the broker buffer without limit.
func (c *conn) awaitRelease() {
	released := make(chan struct{})
	if !c.prod.OnRelease(c.s.opts.MaxHeldBytes, func() { close(released) }) {
		return
	}
	c.outMu.Lock()
	if c.ob.Dead {
		c.outMu.Unlock()
		return
	}
	if c.obClosed == nil {
		c.obClosed = make(chan struct{})
	}
	closed := c.obClosed
	c.outMu.Unlock()
	select {
	case <-released:
	case <-closed:
	case <-c.ctx.Done():
	}
	c.w.Resumed()
}

// resolveDest maps a STOMP destination to a core address and routing type.
func (c *conn) resolveDest(dest string, subscribing bool) (string, core.RoutingType, error) {
	switch {
	case hasPrefix(dest, "/queue/"):
		return nonEmpty(dest[len("/queue/"):], dest, core.Anycast)
	case hasPrefix(dest, "/topic/"):
		return nonEmpty(dest[len("/topic/"):], dest, core.Multicast)
	case hasPrefix(dest, "/temp-topic/"):
		// A temporary topic is a multicast address private to this connection's
		// name space; its subscriptions die with their consumers.
		return "temp-topic." + strconv.FormatUint(c.sess.ID(), 10) + "." + dest[len("/temp-topic/"):], core.Multicast, nil
	case hasPrefix(dest, "/temp-queue/"):
		name, ok := c.temps[dest]
		if !ok {
			if c.temps == nil {
				c.temps = map[string]string{}
			}
			name = "temp." + strconv.FormatUint(c.sess.ID(), 10) + "." + dest[len("/temp-queue/"):]
			if _, err := c.sess.CreateTemporaryQueue(name); err != nil {
				return "", 0, err
			}
			c.temps[dest] = name
		}
		return name, core.Anycast, nil
	}
	return dest, core.RoutingAny, nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func nonEmpty(name, dest string, rt core.RoutingType) (string, core.RoutingType, error) {
	if name == "" {
		return "", 0, errorf("destination %s names no address", printable(dest))
	}
	return name, rt, nil
}

// destFor renders a core address back as a STOMP destination.
func destFor(name string, rt core.RoutingType) string {
	switch rt {
	case core.Anycast:
		return "/queue/" + name
	case core.Multicast:
		return "/topic/" + name
	}
	return name
}
