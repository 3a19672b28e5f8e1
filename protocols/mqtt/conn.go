package mqtt

import (
	"bytes"
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
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/protocols/transport"
)

// conn is one network connection of a session.
type conn struct {
	s      *Server
	remote string
	rd     *packet.Reader
	w      transport.Waiter // input side: last read, peer deadline, parking; w.Conn() is the connection
	// The small fields share one word: ver to aliasMax.
	ver  byte
	quit bool                // a DISCONNECT arrived: stop reading
	seat transport.BatchSeat // the reader's batch of publishes (flush.go)
	// Guarded by outMu: the writer has closed the connection; cleanup is
	// done. Their channels are made only for someone who waits.
	wclosedDone, detachedDone bool
	dirty                     bool   // guarded by s.flush: a batch's end will write the output (flush.go)
	aliasMax                  uint16 // the client's topic alias maximum
	// done is the transport's, called by Finish. The connection keeps no
	// context: the reader uses its Server's (see Server.ctx).
	done func()

	id   *access.Identity
	sess *core.Session  // this connection's core session
	prod *core.Producer // its publishes, for flow control
	ss   *session
	will *packet.Will // published if the connection ends without a normal DISCONNECT

	// What the client's publishes need, made by its first packet after
	// CONNECT other than PINGREQ (see handle): a device that connected and
	// went quiet holds none of it.
	*inState

	// Guarded by outMu.
	outMu sync.Mutex
	ob    transport.Outbox
	// What is settled once written, made by the first delivery that needs
	// it and dropped when the connection parks with nothing to settle.
	st         *settleState
	outAliases map[string]uint16
	maxOut     int32         // the client's maximum packet size (at most packet.MaxPacketSize)
	busy       atomic.Bool   // the reader has more input to handle: more replies are coming
	recvMax    int           // the client's receive maximum
	wclosed    chan struct{} // see writerClosed
	detached   chan struct{} // see cleanedUp
	// unsent is not nil while the connection is detaching (see detach):
	// its consumers are closing, and deliveries they still make go back to
	// their queues uncounted instead of to the connection. Guarded by the
	// session's mu; on the conn rather than the session, whose size class
	// every idle device pays.
	unsent map[unsentKey]bool
	// settleMu is held while a writer runs the acks it took: detach
	// takes it so that a delivery written before the connection ended is
	// settled before the consumers close (see settleWritten).
	settleMu sync.Mutex
}

// inState is the inbound side of a connection that publishes.
type inState struct {
	// Reader goroutine only.
	inAliases map[uint16]string
	// The last topic published and its address (addressOf).
	lastTopic, lastAddr string

	// Guarded by outMu.
	acks       []ackSlot     // PUBACK/PUBREC in the order the PUBLISHes arrived [MQTT-4.6.0-2]
	ackBase    uint64        // slot number of acks[0]
	inFlightIn int           // QoS 1 and 2 publishes not yet completed, for our receive maximum
	drained    chan struct{} // made by awaitAcks; closed when acks empties
}

// ackSlot is a PUBACK or PUBREC waiting for its message to be stored.
// The encoded acknowledgement is kept in the slot: a PUBACK or PUBREC with
// no properties is at most 4 bytes (3.x) or 5 (5.0, a reason code), and a
// separate buffer was one allocation per QoS 1 publish.
type ackSlot struct {
	pkt    [ackMax]byte
	n      uint8
	qos    byte
	done   bool
	failed bool
}

// ackMax is room for a PUBACK or PUBREC without properties: the encoder
// asks for 5 bytes beyond its 3 at most.
const ackMax = 8

// settleState is what a connection settles once its output is written.
// Guarded by outMu; Settle and settleWritten run what they take without it.
type settleState struct {
	acks    []flushAck   // since the last flush
	credits []consCredit // auto-acked deliveries written since the last flush
	// Taken for the bytes being written (TakeSettle), run by Settle, or by
	// detach's settleWritten.
	takenAcks    []flushAck
	takenCredits []consCredit
	spare        []consCredit // a credits array Settle is done with
}

// consCredit is credit to return to a consumer. A connection's deliveries
// between two flushes come from few consumers, so a short list beats a map
// (which cost two allocations per flush).
type consCredit struct {
	c *core.Consumer
	n int
}

// settling returns the connection's settleState, made if need be. Caller
// holds the lock.
func (c *conn) settling() *settleState {
	if c.st == nil {
		c.st = new(settleState)
	}
	return c.st
}

// ackAfterFlushLocked settles a once the output queued so far is written.
func (c *conn) ackAfterFlushLocked(a ...flushAck) {
	if len(a) == 0 {
		return
	}
	st := c.settling()
	st.acks = append(st.acks, a...)
}

// creditAfterFlushLocked returns a credit to cons once the output queued so
// far is written. Only the last few entries are searched: a consumer may
// appear twice, which costs an AddCredit call, not a wrong count.
func (c *conn) creditAfterFlushLocked(cons *core.Consumer) {
	st := c.settling()
	for i := len(st.credits) - 1; i >= 0 && i >= len(st.credits)-8; i-- {
		if st.credits[i].c == cons {
			st.credits[i].n++
			return
		}
	}
	st.credits = append(st.credits, consCredit{cons, 1})
}

// flushAck settles a delivery once the bytes carrying it have been written
// (QoS 0 deliveries of a QoS 1/2 subscription, or messages a client's maximum
// packet size excluded).
type flushAck struct {
	c   *core.Consumer
	tag uint64
	// msgID, when set, discards that message from c's queue instead (a
	// copy for another subscription of a message already sent, copies.go).
	msgID uint64
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, remote: nc.RemoteAddr().String(), maxOut: packet.MaxPacketSize, recvMax: 65535}
	c.w.Init(nc)
	c.w.Meter = &s.counters.Meter
	c.ob.Init(&c.w, &c.outMu, s.opts.WriteTimeout, c)
	c.rd = packet.NewReader(&c.w, s.opts.MaxPacketSize)
	return c
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

// lock guards the outbound buffer and what the writer settles after a
// flush. Lock order: a queue's lock, then the session's, then this one.
func (c *conn) lock()   { c.outMu.Lock() }
func (c *conn) unlock() { c.outMu.Unlock() }

// SettlePending, TakeSettle, Settle and OutboxClosed implement
// transport.Settler: deliveries that only had to reach the socket are
// settled, and credit returned, once they are written.
func (c *conn) SettlePending() bool {
	st := c.st
	return st != nil && (len(st.acks) > 0 || len(st.credits) > 0)
}

// TakeSettle adds to what an earlier call took and Settle has not run yet:
// an inline flush that wrote part of its buffer leaves its settling to the
// writer goroutine (transport.Outbox.FlushSettleLocked).
func (c *conn) TakeSettle() {
	st := c.st
	if st == nil {
		return
	}
	if st.takenAcks == nil {
		st.takenAcks = st.acks
	} else {
		st.takenAcks = append(st.takenAcks, st.acks...)
	}
	st.acks = nil
	if st.takenCredits == nil {
		st.takenCredits, st.credits, st.spare = st.credits, st.spare, nil
	} else {
		st.takenCredits = append(st.takenCredits, st.credits...)
		clear(st.credits)
		st.credits = st.credits[:0]
	}
}

func (c *conn) Settle() {
	if h := testHook.Load(); h != nil && c.ss != nil {
		c.lock()
		pending := c.st != nil && len(c.st.takenAcks) > 0
		c.unlock()
		if pending {
			(*h)("settle", c.ss.id)
		}
	}
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	c.lock()
	st := c.st
	if st == nil {
		c.unlock()
		return
	}
	acks, credits := st.takenAcks, st.takenCredits
	st.takenAcks, st.takenCredits = nil, nil
	c.unlock()
	for _, cr := range credits {
		cr.c.AddCredit(cr.n)
	}
	for _, a := range acks {
		a.run()
	}
	if credits != nil {
		clear(credits)
		c.lock()
		if c.st != nil && c.st.spare == nil {
			c.st.spare = credits[:0]
		}
		c.unlock()
	}
}

func (c *conn) OutboxClosed() {
	c.lock()
	if c.ob.Stalled {
		// A slow consumer by the other measure: it stopped reading.
		c.logger().Warn("mqtt connection closed: the client read nothing for the write timeout", "timeout", c.s.opts.WriteTimeout)
	}
	c.wclosedDone = true
	if c.wclosed != nil {
		close(c.wclosed)
	}
	c.unlock()
}

// writerClosed is closed once the writer has closed the connection. The
// channel is made by the first caller (a takeover, a held publish), not by
// every connection: two channels cost 192 bytes.
func (c *conn) writerClosed() <-chan struct{} {
	c.lock()
	defer c.unlock()
	return lazyDone(&c.wclosed, c.wclosedDone)
}

// cleanedUp is closed once cleanup has finished.
func (c *conn) cleanedUp() <-chan struct{} {
	c.lock()
	defer c.unlock()
	return lazyDone(&c.detached, c.detachedDone)
}

// lazyDone returns *ch, made now if need be and closed if done already.
func lazyDone(ch *chan struct{}, done bool) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
		if done {
			close(*ch)
		}
	}
	return *ch
}

// queue appends an encoded packet. Caller holds the lock.
func (c *conn) queueLocked(p packet.Packet) {
	if c.ob.Dead {
		return
	}
	b, err := p.Append(c.ob.Buf, c.ver)
	if err != nil {
		c.logger().Error("mqtt packet not encodable", "type", p.Type(), "err", err)
		return
	}
	c.ob.Buf = b
	c.ob.SignalLocked()
}

// appendPublishLocked is queueLocked for a delivery: the output is written
// by the open batch's flush when there is one (flush.go). It takes the
// concrete type, so the packet stays on its caller's stack. Caller holds the
// lock.
func (c *conn) appendPublishLocked(p *packet.Publish) {
	if c.ob.Dead {
		return
	}
	b, err := p.Append(c.ob.Buf, c.ver)
	if err != nil {
		c.logger().Error("mqtt packet not encodable", "type", p.Type(), "err", err)
		return
	}
	c.ob.Buf = b
	c.signalLocked()
}

func (c *conn) send(p packet.Packet) {
	c.lock()
	c.queueLocked(p)
	c.unlock()
}

// awaitAcks waits, at most for d, until every PUBACK and PUBREC due is in
// the output buffer.
func (c *conn) awaitAcks(d time.Duration) {
	if c.inState == nil {
		return // nothing was published
	}
	c.lock()
	if len(c.acks) == 0 || c.ob.Dead {
		c.unlock()
		return
	}
	if c.drained == nil {
		c.drained = make(chan struct{})
	}
	ch := c.drained
	c.unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// awaitRelease stops reading until the connection's held publishes are back
// under MaxHeldBytes. Below it the reader never waits for space, so the
// PUBACKs and PUBRECs behind a held publish are read and can free it.
func (c *conn) awaitRelease() {
	released := make(chan struct{})
	if !c.prod.OnRelease(c.s.opts.MaxHeldBytes, func() { close(released) }) {
		return
	}
	select {
	case <-released:
	case <-c.writerClosed():
	case <-c.s.ctx.Done():
	}
	c.w.Resumed()
}

// start runs in the connection's first goroutine: the handshake, then run.
// ctx is the listener's (transport.DetachedHandler), for the login.
func (c *conn) start(ctx context.Context) {
	defer transport.RecoverConn(c)
	c.w.PeerTimeout = c.s.opts.ConnectTimeout
	_ = c.w.Conn().SetReadDeadline(c.w.PeerDeadline())
	if err := c.handshake(ctx); err != nil {
		if !errors.Is(err, io.EOF) {
			c.logger().Info("mqtt connect refused", "err", err)
		}
		c.Finish()
		return
	}
	c.w.Run(c.rd, c)
}

// HandleNext, InputFailed, Quiet, Finish and Panicked implement
// transport.Conn: the transport's Waiter.Run reads, parks and resumes.

// HandleNext reads and handles one packet.
func (c *conn) HandleNext() bool {
	fh, body, err := c.rd.ReadPacket()
	if err != nil {
		c.endDefer()
		c.InputFailed(err)
		return false
	}
	// A packet whose rest is still on its way does not count: the reader
	// would hold the batch's flushes (flush.go) while it waits.
	more := c.rd.Complete()
	c.busy.Store(c.rd.Buffered() > 0)
	err = c.handle(c.s.ctx, fh, body)
	if !more || err != nil || c.quit {
		// The input in hand is handled: write what it delivered before
		// the reader waits for more.
		c.endDefer()
	}
	if err != nil {
		c.protocolError(err)
		return false
	}
	return !c.quit
}

// Quiet: a parked connection keeps no output buffer.
func (c *conn) Quiet() {
	c.lock()
	c.ob.ReleaseLocked()
	if st := c.st; st != nil && len(st.acks) == 0 && len(st.credits) == 0 && st.takenAcks == nil && st.takenCredits == nil {
		c.st = nil
	}
	c.unlock()
}

// Finish releases the connection and tells the transport.
func (c *conn) Finish() {
	c.cleanup()
	c.s.counters.Closed()
	c.done()
}

func (c *conn) Panicked(v any, stack []byte) {
	c.endDefer()
	c.s.log.Error("mqtt connection handler panicked", "remote", c.remote, "panic", v, "stack", string(stack))
}

func (c *conn) InputFailed(err error) {
	var pe *packet.Error
	switch {
	case errors.As(err, &pe):
		c.protocolError(err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.logger().Info("mqtt keep-alive timeout: closing", "client", c.clientID())
			c.disconnectWith(packet.KeepAliveTimeout, "keep alive timeout")
		}
	}
}

func (c *conn) clientID() string {
	if c.ss != nil {
		return c.ss.id
	}
	return ""
}

// protocolError ends the connection as the specification says: a 5.0 client
// first gets a DISCONNECT with the reason code [MQTT-4.13.1-1].
func (c *conn) protocolError(err error) {
	code := packet.CodeOf(err)
	if code < 0x80 {
		code = packet.UnspecifiedError
	}
	c.logger().Info("mqtt protocol error: closing", "client", c.clientID(), "code", code.String(), "err", err)
	// Only the reader calls this, and it reads no more: the close can drain
	// what the client is still sending, so the DISCONNECT reaches it.
	c.lock()
	c.ob.LingerLocked()
	c.unlock()
	c.disconnectWith(code, err.Error())
}

// disconnectWith sends a 5.0 DISCONNECT (nothing for 3.x) and closes.
func (c *conn) disconnectWith(code packet.ReasonCode, reason string) {
	c.lock()
	if c.ver == packet.Version5 && !c.ob.Dead {
		d := &packet.Disconnect{ReasonCode: code}
		if reason != "" {
			d.Properties.ReasonString = truncate(reason)
			d.Properties.Set(packet.PropReasonString)
		}
		c.queueLocked(d)
	}
	c.ob.Closing = true
	c.ob.SignalLocked()
	c.unlock()
}

// closedByBroker is the core closing one of the connection's consumers, or
// its whole session, on its own. MQTT cannot end one subscription, so the
// connection goes: a 5.0 client is told why with DISCONNECT's reason code,
// a 3.1.1 client only sees the close.
func (c *conn) closedByBroker(reason error) {
	code := packet.AdministrativeAction // an operator, or a deleted subscription queue
	switch {
	case errors.Is(reason, core.ErrPermissionRevoked):
		code = packet.NotAuthorized
	case errors.Is(reason, core.ErrTakenOver):
		code = packet.SessionTakenOver
	case errors.Is(reason, core.ErrSlowConsumer):
		code = packet.QuotaExceeded
	}
	c.logger().Info("mqtt connection closed by the broker", "reason", reason)
	c.disconnectWith(code, reason.Error())
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// protoErr builds an error carrying a reason code.
func protoErr(code packet.ReasonCode, format string, args ...any) error {
	return &packet.Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (c *conn) handle(ctx context.Context, fh packet.FixedHeader, body []byte) error {
	if c.inState == nil && fh.Type != packet.PINGREQ {
		// Completions of this connection's publishes read it under outMu
		// later; they cannot start before the publish that follows this.
		c.inState = &inState{}
	}
	switch fh.Type {
	case packet.PUBLISH, packet.PUBACK, packet.PUBREC, packet.PUBREL, packet.PUBCOMP, packet.PINGREQ:
	default:
		// SUBSCRIBE and UNSUBSCRIBE may wait for the store: the batch's
		// flushes must not wait with them.
		c.endDefer()
	}
	switch fh.Type {
	case packet.PUBLISH:
		var p packet.Publish
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		return c.onPublish(ctx, &p)
	case packet.PUBACK, packet.PUBREC, packet.PUBCOMP:
		var p packet.Puback
		if err := (&p).Decode(fh.Flags, body, c.ver); err != nil && fh.Type == packet.PUBACK {
			return err
		}
		switch fh.Type {
		case packet.PUBREC:
			var r packet.Pubrec
			if err := r.Decode(fh.Flags, body, c.ver); err != nil {
				return err
			}
			c.onPubrec(r.PacketID, r.ReasonCode)
		case packet.PUBCOMP:
			var r packet.Pubcomp
			if err := r.Decode(fh.Flags, body, c.ver); err != nil {
				return err
			}
			c.onPubcomp(r.PacketID)
		default:
			c.onPuback(p.PacketID)
		}
		return nil
	case packet.PUBREL:
		var p packet.Pubrel
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		c.onPubrel(p.PacketID)
		return nil
	case packet.SUBSCRIBE:
		var p packet.Subscribe
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		return c.onSubscribe(ctx, &p)
	case packet.UNSUBSCRIBE:
		var p packet.Unsubscribe
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		return c.onUnsubscribe(&p)
	case packet.PINGREQ:
		var p packet.Pingreq
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		c.send(&packet.Pingresp{})
		return nil
	case packet.DISCONNECT:
		var p packet.Disconnect
		if err := p.Decode(fh.Flags, body, c.ver); err != nil {
			return err
		}
		return c.onDisconnect(&p)
	case packet.AUTH:
		// No enhanced authentication method exists, so no AUTH exchange can
		// have been started [MQTT-4.12.0-1].
		return protoErr(packet.ProtocolError, "AUTH without an authentication method")
	case packet.CONNECT:
		return protoErr(packet.ProtocolError, "second CONNECT on a connection [MQTT-3.1.0-2]")
	}
	return protoErr(packet.ProtocolError, "unexpected %v packet from a client", fh.Type)
}

// handshake reads CONNECT, authenticates, attaches the session and sends CONNACK.
func (c *conn) handshake(ctx context.Context) error {
	fh, body, err := c.rd.ReadPacket()
	if err != nil {
		return err
	}
	if fh.Type != packet.CONNECT {
		return fmt.Errorf("first packet is %v, not CONNECT [MQTT-3.1.0-1]", fh.Type)
	}
	var p packet.Connect
	if err := p.Decode(fh.Flags, body, 0); err != nil {
		if packet.CodeOf(err) == packet.UnsupportedProtocolVersion {
			// 3.1.1 clients get return code 0x01, 5.0 clients 0x84 [MQTT-3.1.2-2].
			c.ver = packet.Version311
			if p.Version == packet.Version5 {
				c.ver = packet.Version5
			}
			c.refuse(packet.UnsupportedProtocolVersion, "unsupported protocol version")
			return err
		}
		if p.Version == packet.Version5 {
			c.ver = packet.Version5
			c.refuse(packet.CodeOf(err), err.Error())
		}
		return err
	}
	c.ver = p.Version
	if p.Version == packet.Version5 && p.Properties.Has(packet.PropAuthMethod) {
		c.refuse(packet.BadAuthenticationMethod, "no enhanced authentication method is supported")
		return errors.New("AUTH method requested")
	}
	clientID := p.ClientID
	assigned := false
	if clientID == "" {
		if !p.CleanStart && p.Version != packet.Version5 {
			// [MQTT-3.1.3-8]
			c.refuse(packet.ClientIdentifierNotValid, "an empty client id needs clean session")
			return errors.New("empty client id without clean session")
		}
		clientID = "junction-" + strconv.FormatUint(c.s.assigned.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		assigned = true
	}
	if p.Will != nil && !packet.ValidTopicName(p.Will.Topic) {
		c.refuse(packet.TopicNameInvalid, "invalid will topic")
		return errors.New("invalid will topic")
	}
	var tlsState *tls.ConnectionState
	if st, ok := transport.TLSConnectionState(c.w.Conn()); ok {
		tlsState = &st
	}
	id, err := c.s.opts.Gate.Login(ctx, p.Username, string(p.Password), p.HasPassword, c.remote, tlsState)
	if err != nil {
		bad, msg := access.Refusal(err)
		code := packet.NotAuthorized
		switch {
		case bad && p.HasUsername:
			code = packet.BadUserNameOrPassword
		case !bad:
			code = packet.QuotaExceeded
		}
		c.refuse(code, msg)
		return err
	}
	c.id = id
	if p.Will != nil {
		if err := id.Authorize(core.PermSend, topicToAddress(p.Will.Topic)); err != nil {
			c.refuse(packet.NotAuthorized, "not authorized to publish the will topic")
			id.Close()
			c.id = nil
			return err
		}
	}

	// Keep alive: the client must send something within 1.5 times it [MQTT-3.1.2-24].
	keepAlive := time.Duration(p.KeepAlive) * time.Second
	serverKeepAlive := -1
	if max := c.s.opts.MaxKeepAlive; max > 0 && (keepAlive == 0 || keepAlive > max) {
		if c.ver != packet.Version5 && keepAlive > max {
			// 3.x has no Server Keep Alive to tell the client: it is
			// refused, as Mosquitto refuses it (return code 0x02). A
			// keep-alive of 0 cannot be held to anything it agreed to,
			// so it is left alone.
			c.refuse(packet.ClientIdentifierNotValid, "")
			id.Close()
			c.id = nil
			return fmt.Errorf("keep alive %v above the maximum %v", keepAlive, max)
		}
		if c.ver == packet.Version5 {
			keepAlive = max
			serverKeepAlive = int(max / time.Second)
		}
	}
	c.w.PeerTimeout = keepAlive * 3 / 2
	_ = c.w.Conn().SetReadDeadline(c.w.PeerDeadline())
	if c.ver == packet.Version5 {
		if p.Properties.Has(packet.PropReceiveMaximum) {
			c.recvMax = int(p.Properties.ReceiveMaximum)
		}
		if p.Properties.Has(packet.PropMaximumPacketSize) {
			// Past what MQTT can encode, the limit is no limit.
			c.maxOut = int32(min(p.Properties.MaximumPacketSize, packet.MaxPacketSize))
		}
		if p.Properties.Has(packet.PropTopicAliasMaximum) {
			c.aliasMax = p.Properties.TopicAliasMaximum
		}
	}
	expiry := uint32(0)
	if c.ver == packet.Version5 {
		expiry = p.Properties.SessionExpiry
	} else if !p.CleanStart {
		expiry = neverExpires
	}
	if w := p.Will; w != nil {
		// The will is published when the connection ends, long after the
		// read buffer its payload aliases has gone back to the pool and
		// been refilled with other connections' packets.
		w.Payload = bytes.Clone(w.Payload)
		w.Properties.CorrelationData = bytes.Clone(w.Properties.CorrelationData)
		c.will = w
	}
	opts := id.SessionOptions(clientID)
	opts.OnClose = c.closedByBroker
	opts.Protocol, opts.RemoteAddr = "mqtt", c.remote
	c.sess = c.s.b.NewSession(opts)

	present, err := c.s.attach(c, clientID, p.CleanStart, expiry)
	if err != nil {
		c.refuse(packet.ServerUnavailable, err.Error())
		return err
	}

	ack := &packet.Connack{SessionPresent: present, ReasonCode: packet.Success}
	if c.ver == packet.Version5 {
		pr := &ack.Properties
		pr.ReceiveMaximum = uint16(c.s.opts.ReceiveMaximum)
		pr.MaximumPacketSize = uint32(c.s.opts.MaxPacketSize)
		pr.TopicAliasMaximum = uint16(c.s.opts.TopicAliasMaximum)
		pr.Set(packet.PropReceiveMaximum, packet.PropMaximumPacketSize, packet.PropTopicAliasMaximum)
		if assigned {
			pr.AssignedClientID = clientID
			pr.Set(packet.PropAssignedClientID)
		}
		if serverKeepAlive >= 0 {
			pr.ServerKeepAlive = uint16(serverKeepAlive)
			pr.Set(packet.PropServerKeepAlive)
		}
	}
	c.send(ack)
	c.s.resume(c)
	c.logger().Debug("mqtt connected", "client", clientID, "version", c.ver, "clean", p.CleanStart, "present", present)
	return nil
}

// refuse sends a CONNACK with an error code and closes. 3.x clients get the
// return code their version knows.
func (c *conn) refuse(code packet.ReasonCode, reason string) {
	ack := &packet.Connack{ReasonCode: code}
	if c.ver != packet.Version5 {
		ack.ReasonCode = packet.ConnackCodeV4(code)
	} else if reason != "" {
		ack.Properties.ReasonString = truncate(reason)
		ack.Properties.Set(packet.PropReasonString)
	}
	c.lock()
	c.queueLocked(ack)
	c.ob.Closing = true
	c.ob.SignalLocked()
	c.unlock()
}

func (c *conn) cleanup() {
	c.endDefer()
	if c.prod != nil {
		if c.quit {
			// The client said goodbye: the PUBACKs and PUBRECs of what it
			// published before go out first, held publishes included if
			// they are admitted in time.
			c.awaitAcks(c.s.opts.DisconnectGrace)
		}
		// What still waits for space is withdrawn: its PUBACK would reach
		// nobody, and a QoS 1/2 sender resends it in its next session.
		c.prod.Close()
		c.awaitAcks(c.s.opts.DisconnectGrace)
	}
	if c.ss != nil {
		c.s.detach(c)
	} else if c.sess != nil {
		c.sess.Close()
	}
	c.id.Close()
	c.lock()
	done := c.ob.CloseLocked()
	c.unlock()
	if done != nil {
		<-done
	}
	c.w.Close()
	c.lock()
	c.detachedDone = true
	if c.detached != nil {
		close(c.detached)
	}
	c.unlock()
}
