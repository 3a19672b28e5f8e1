package amqp

import (
	"errors"
	"slices"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// session is one AMQP session (part 2, 2.5.5). The reader owns the link
// table; the transfer-id bookkeeping of both directions is under conn.mu,
// because deliveries and store confirmations write frames from other
// goroutines.
type session struct {
	c        *conn
	remoteCh uint16           // the client's channel
	localCh  uint16           // ours
	links    map[uint32]*link // by the client's handle (which we use as ours)
	byName   map[string]*link
	// ending: we sent an end with an error and discard frames until the
	// client's end.
	ending bool

	// Under conn.mu.
	ended bool // no frame may be written on the session any more
	// Incoming: what the client may send (our window), by transfer frame.
	nextIncomingID uint32
	incomingWindow uint32
	// Outgoing: the transfer-id of our next transfer frame and how many
	// the client's window still lets us send; frames beyond it wait in
	// backlog, in order, with the frames queued after them.
	nextOutgoingID       uint32
	remoteIncomingWindow int64
	backlog              []queued
	nextDeliveryID       uint32
	unsettled            map[uint32]outDelivery // our deliveries by delivery-id

	// Scratch for the frames written per message, under conn.mu: the
	// codec takes a performative as an interface, so a fresh one per
	// frame would be an allocation each.
	xfer codec.Transfer
	flow codec.Flow
	disp codec.Disposition
	tag  [8]byte
	enc  []byte // a delivery's payload, encoded

	settles []settle // the reader's: onDisposition's
}

// settle is one delivery a disposition settles.
type settle struct {
	l   *link
	tag uint64
	id  uint32
}

// queued is a frame waiting for the client's session window; l is the
// link of a transfer.
type queued struct {
	frame    []byte
	transfer bool
	l        *link
}

// outDelivery is a delivery sent and not yet settled by the client.
type outDelivery struct {
	l   *link
	tag uint64
}

// sessionErr ends one session with an error.
type sessionErr struct{ e *codec.Error }

func (e *sessionErr) Error() string { return e.e.Error() }

func sessErr(cond codec.Symbol, format string, args ...any) error {
	return &sessionErr{codec.Errorf(cond, format, args...)}
}

func (c *conn) onBegin(ch uint16, b *codec.Begin) error {
	if b.HasRemoteChannel {
		return connErr(codec.CondNotAllowed, "begin with a remote-channel: the server begins no sessions")
	}
	if ch > c.s.opts.ChannelMax {
		return connErr(codec.CondFramingError, "channel %d exceeds channel-max %d", ch, c.s.opts.ChannelMax)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[ch] != nil {
		return connErr(codec.CondNotAllowed, "begin on channel %d, where a session is open", ch)
	}
	local, ok := c.freeLocalChannelLocked()
	if !ok {
		return connErr(codec.CondResourceLimitExceeded, "no free channel within the client's channel-max %d", c.peerChannelMax)
	}
	ss := &session{
		c: c, remoteCh: ch, localCh: local,
		links: map[uint32]*link{}, byName: map[string]*link{},
		nextIncomingID:       b.NextOutgoingID,
		incomingWindow:       c.s.opts.SessionWindow,
		remoteIncomingWindow: int64(b.IncomingWindow),
		unsettled:            map[uint32]outDelivery{},
	}
	if c.sessions == nil {
		c.sessions, c.local = map[uint16]*session{}, map[uint16]*session{}
	}
	c.sessions[ch] = ss
	c.local[local] = ss
	c.appendFrameLocked(local, &codec.Begin{
		RemoteChannel: ch, HasRemoteChannel: true,
		NextOutgoingID: ss.nextOutgoingID,
		IncomingWindow: ss.incomingWindow,
		OutgoingWindow: maxWindow,
		HandleMax:      c.s.opts.HandleMax,
	}, nil)
	c.signalLocked()
	return nil
}

// maxWindow is the outgoing window we announce: we do not limit ourselves
// beyond the client's incoming window.
const maxWindow = 1<<31 - 1

func (c *conn) freeLocalChannelLocked() (uint16, bool) {
	for ch := uint32(0); ch <= uint32(c.peerChannelMax); ch++ {
		if c.local[uint16(ch)] == nil {
			return uint16(ch), true
		}
	}
	return 0, false
}

// handle runs one frame on the session; a session or link error ends only
// that scope.
func (ss *session) handle(perf any, payload []byte) error {
	if ss.ending {
		if e, ok := perf.(*codec.End); ok {
			ss.onEnd(e)
		}
		return nil
	}
	var err error
	switch p := perf.(type) {
	case *codec.Attach:
		err = ss.onAttach(p)
	case *codec.Flow:
		err = ss.onFlow(p)
	case *codec.Transfer:
		err = ss.onTransfer(p, payload)
	case *codec.Disposition:
		err = ss.onDisposition(p)
	case *codec.Detach:
		err = ss.onDetach(p)
	case *codec.End:
		ss.onEnd(p)
		return nil
	default:
		return connErr(codec.CondNotAllowed, "%s on a session", perfName(perf))
	}
	if err == nil {
		return nil
	}
	return ss.scope(err)
}

// scope ends what err names: the session or one link. Apart from handle
// so that the targets errors.As needs (which escape) are only allocated
// on errors, not for every frame.
func (ss *session) scope(err error) error {
	var se *sessionErr
	var le *linkErr
	switch {
	case errors.As(err, &se):
		return ss.fail(se.e)
	case errors.As(err, &le):
		ss.c.log.Info("amqp link detached with an error", "link", le.l.name, "condition", le.e.Condition, "description", le.e.Description)
		le.l.detachWithError(le.e)
		return nil
	}
	return err
}

// fail ends the session with an error; its frames are ignored until the
// client's end.
func (ss *session) fail(e *codec.Error) error {
	if ss.ending {
		return nil
	}
	ss.c.log.Info("amqp session ended with an error", "condition", e.Condition, "description", e.Description)
	ss.ending = true
	ss.release()
	ss.sendEnd(e)
	return nil
}

// onEnd is the client's end: its links go, and the session with them;
// after an end of ours it completes the exchange.
func (ss *session) onEnd(e *codec.End) {
	if e.Error != nil {
		ss.c.log.Info("amqp client ended a session with an error", "condition", e.Error.Condition, "description", e.Error.Description)
	}
	ss.release()
	ss.sendEnd(nil) // nothing when ours went first
	c := ss.c
	c.mu.Lock()
	delete(c.sessions, ss.remoteCh)
	delete(c.local, ss.localCh)
	c.mu.Unlock()
}

// sendEnd queues our end; the session writes nothing after it.
func (ss *session) sendEnd(err *codec.Error) {
	c := ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if ss.ended {
		return
	}
	ss.ended = true
	ss.backlog = nil
	c.appendFrameLocked(ss.localCh, &codec.End{Error: err}, nil)
	c.signalLocked()
}

// release detaches every link of the session from the core.
func (ss *session) release() {
	for _, l := range ss.links {
		l.release()
	}
	ss.links = map[uint32]*link{}
	ss.byName = map[string]*link{}
}

// onFlow updates the session window and passes link flow to its link.
func (ss *session) onFlow(f *codec.Flow) error {
	c := ss.c
	c.mu.Lock()
	next := uint32(0) // the initial outgoing id we announced
	if f.HasNextIncomingID {
		next = f.NextIncomingID
	}
	// Transfer ids are serial numbers: the difference is modulo 2^32.
	ss.remoteIncomingWindow = int64(int32(next-ss.nextOutgoingID)) + int64(f.IncomingWindow)
	ss.flushBacklogLocked()
	c.mu.Unlock()
	if !f.HasHandle {
		if f.Echo {
			c.mu.Lock()
			ss.appendFlowLocked(nil)
			c.signalLocked()
			c.mu.Unlock()
		}
		return nil
	}
	l := ss.links[f.Handle]
	if l == nil {
		return sessErr(codec.CondUnattachedHandle, "flow for handle %d, which is not attached", f.Handle)
	}
	if l.detaching.Load() {
		return nil
	}
	return l.onFlow(f)
}

// appendFlowLocked queues a flow with the session state and, for a link,
// its state. Caller holds conn.mu.
func (ss *session) appendFlowLocked(l *link) {
	if ss.ended {
		return
	}
	f := &ss.flow
	*f = codec.Flow{
		NextIncomingID: ss.nextIncomingID, HasNextIncomingID: true,
		IncomingWindow: ss.incomingWindow,
		NextOutgoingID: ss.nextOutgoingID,
		OutgoingWindow: maxWindow,
	}
	if l != nil {
		f.Handle, f.HasHandle = l.handle, true
		f.DeliveryCount, f.HasDeliveryCount = l.deliveryCount, true
		f.LinkCredit, f.HasLinkCredit = uint32(max(l.credit, 0)), true
		f.Drain = l.drain
	}
	ss.appendPerfLocked(f, nil, nil)
}

// appendPerfLocked queues one frame: encoded straight into the output when
// nothing waits in the backlog (no buffer of its own), else into the
// backlog. A transfer names its link l (nil for other frames). Caller
// holds conn.mu.
func (ss *session) appendPerfLocked(perf codec.Performative, payload []byte, l *link) {
	if ss.ended {
		return
	}
	transfer := l != nil
	if len(ss.backlog) > 0 || (transfer && ss.remoteIncomingWindow <= 0) {
		ss.backlog = append(ss.backlog, queued{frame: codec.AppendFrame(nil, ss.localCh, perf, payload), transfer: transfer, l: l})
		return
	}
	if transfer {
		ss.remoteIncomingWindow--
		ss.nextOutgoingID++
	}
	ss.c.ob.Buf = codec.AppendFrame(ss.c.ob.Buf, ss.localCh, perf, payload)
}

// queueFrameLocked appends a frame to the output, or to the backlog when
// transfers wait for the client's window (frames keep their order).
// Caller holds conn.mu.
func (ss *session) queueFrameLocked(frame []byte, transfer bool) {
	ss.queueLocked(queued{frame: frame, transfer: transfer})
}

func (ss *session) queueLocked(q queued) {
	frame, transfer := q.frame, q.transfer
	if ss.ended {
		return
	}
	if len(ss.backlog) > 0 || (transfer && ss.remoteIncomingWindow <= 0) {
		ss.backlog = append(ss.backlog, q)
		return
	}
	if transfer {
		ss.remoteIncomingWindow--
		ss.nextOutgoingID++
	}
	ss.c.ob.Buf = append(ss.c.ob.Buf, frame...)
}

// dropBacklogLocked forgets the transfers of a link that went: they must
// not follow its detach (the core has them back already). Caller holds
// conn.mu.
func (ss *session) dropBacklogLocked(l *link) {
	keep := ss.backlog[:0]
	for _, q := range ss.backlog {
		if q.l != l {
			keep = append(keep, q)
		}
	}
	clear(ss.backlog[len(keep):])
	ss.backlog = keep
	if len(keep) == 0 {
		ss.backlog = nil
	}
}

// flushBacklogLocked writes the frames the window now allows. Caller
// holds conn.mu.
func (ss *session) flushBacklogLocked() {
	i := 0
	for ; i < len(ss.backlog); i++ {
		q := ss.backlog[i]
		if q.transfer {
			if ss.remoteIncomingWindow <= 0 {
				break
			}
			ss.remoteIncomingWindow--
			ss.nextOutgoingID++
		}
		ss.c.ob.Buf = append(ss.c.ob.Buf, q.frame...)
	}
	if i > 0 {
		ss.backlog = append(ss.backlog[:0], ss.backlog[i:]...)
		if len(ss.backlog) == 0 {
			ss.backlog = nil
		}
		ss.c.signalLocked()
	}
}

// incomingTransfer counts one transfer frame against our window and
// opens the window again once half of it is used.
func (ss *session) incomingTransfer() error {
	c := ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if ss.incomingWindow == 0 {
		return sessErr(codec.CondWindowViolation, "transfer beyond the session's incoming window")
	}
	ss.incomingWindow--
	ss.nextIncomingID++
	if ss.incomingWindow <= c.s.opts.SessionWindow/2 {
		ss.incomingWindow = c.s.opts.SessionWindow
		ss.appendFlowLocked(nil)
		c.signalLocked()
	}
	return nil
}

// onDisposition settles our deliveries the client reports on.
func (ss *session) onDisposition(d *codec.Disposition) error {
	if !d.Role {
		// From a sender: about deliveries the client sent us. We settle
		// those at once (rcv-settle-mode first), so there is nothing to do.
		return nil
	}
	last := d.Last
	outcome, txnID, terminal, err := outcomeOf(d.State)
	if err != nil {
		return err
	}
	if !terminal && !d.Settled {
		return nil // received: a progress report
	}
	c := ss.c
	c.mu.Lock()
	// The reader's scratch: the settlements of one disposition.
	todo := ss.settles[:0]
	// Delivery ids are serial numbers: id is in the range when its
	// distance from first is within the range's (modulo 2^32). A wide
	// range is matched against what is unsettled, not walked id by id.
	span := last - d.First
	if uint64(span) < uint64(len(ss.unsettled)) {
		for id := d.First; ; id++ {
			if od, ok := ss.unsettled[id]; ok {
				todo = append(todo, settle{od.l, od.tag, id})
				delete(ss.unsettled, id)
			}
			if id == last {
				break
			}
		}
	} else {
		for id, od := range ss.unsettled {
			if id-d.First <= span {
				todo = append(todo, settle{od.l, od.tag, id})
				delete(ss.unsettled, id)
			}
		}
		// Settle in delivery order, as the walk would.
		slices.SortFunc(todo, func(a, b settle) int { return int(int32(a.id - b.id)) })
	}
	c.mu.Unlock()
	defer func() {
		clear(todo)
		if cap(todo) <= 1024 {
			ss.settles = todo[:0]
		}
	}()
	var tx *txn
	if txnID != nil {
		if tx = c.txnFor(txnID); tx == nil {
			return sessErr(codec.CondTransactionUnknownID, "disposition in unknown transaction %x", txnID)
		}
	}
	for _, s := range todo {
		if s.l.consumer == nil {
			continue
		}
		o := outcome
		if s.l.sb != nil && o.Kind == core.Modified {
			// Service Bus counts an abandon as a delivery attempt.
			o.DeliveryFailed = true
		}
		var err error
		if tx != nil {
			err = tx.tx.Settle(s.l.consumer, s.tag, o)
		} else {
			err = s.l.consumer.Settle(s.tag, o)
		}
		if err != nil {
			c.log.Debug("amqp disposition for a delivery the core no longer holds", "delivery-id", s.id, "err", err)
		}
	}
	if !d.Settled && len(todo) > 0 {
		// rcv-settle-mode second: the client waits for us to settle.
		st := d.State
		if _, ok := st.(*codec.Rejected); ok {
			// The client's error says why it rejects; echoed back, a
			// client (go-amqp) takes it for our refusal of its outcome.
			st = &codec.Rejected{}
		}
		c.mu.Lock()
		ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, &codec.Disposition{
			Role: codec.RoleSender, First: d.First, Last: last, Settled: true, State: st,
		}, nil), false)
		c.signalLocked()
		c.mu.Unlock()
	}
	return nil
}
