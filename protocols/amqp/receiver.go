package amqp

import (
	"bytes"
	"errors"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// partialDelivery is a message arriving in several transfer frames.
type partialDelivery struct {
	id      uint32
	settled bool
	batch   bool // Service Bus batch format (servicebus.go)
	state   codec.DeliveryState
	buf     []byte
}

// attachReceiver attaches a link on which we receive: the client's sender
// to an address, to no address (anonymous relay), to a dynamic node, or
// to the transaction coordinator.
func (ss *session) attachReceiver(l *link, a *codec.Attach) error {
	c := ss.c
	reply := &codec.Attach{Name: a.Name, Handle: l.handle, Role: codec.RoleReceiver,
		SndSettleMode: l.sndMode, RcvSettleMode: l.rcvMode, Source: a.Source,
		MaxMessageSize: uint64(c.s.opts.MaxMessageSize), Unsettled: ss.unsettledReply(l, a)}
	switch {
	case a.Coordinator != nil:
		// Local transactions only (part 4, 4.3): the reply says so. A
		// transaction belongs to the connection, so any session may work
		// in it, and a session may have many open.
		l.coordinator = true
		reply.Coordinator = &codec.Coordinator{Capabilities: []codec.Symbol{codec.TxnLocal, codec.TxnMultiPerSession, codec.TxnMultiSessions}}
	case a.Target == nil || (a.Target.Address == "" && !a.Target.Dynamic):
		l.anonymous = true
		reply.Target = a.Target
		if reply.Target == nil {
			reply.Target = &codec.Target{}
		}
	case a.Target.Dynamic && hasCap(a.Target.Capabilities, capTempTopic):
		// A JMS TemporaryTopic (Qpid JMS makes one with a sender link to a
		// dynamic target, and keeps the link for the topic's life): a
		// multicast address of a broker-chosen name, whose subscriptions
		// end with the link.
		name := c.dynamicName()
		l.tempTopic = name
		l.address, l.rt = name, core.Multicast
		t := *a.Target
		t.Address = name
		reply.Target = &t
	case a.Target.Dynamic:
		name := c.dynamicName()
		if _, err := c.sess.CreateTemporaryQueue(name); err != nil {
			return ss.refuse(l, a, coreError(err))
		}
		l.dynamic = name
		l.address, l.rt = name, core.Anycast
		t := *a.Target
		t.Address = name
		reply.Target = &t
	default:
		l.address, l.rt = c.resolveAddress(a.Target.Address, a.Target.Capabilities)
		if err := c.id.Authorize(core.PermSend, l.address); err != nil {
			return ss.refuse(l, a, codec.Errorf(codec.CondUnauthorizedAccess, "not allowed to send to %q", l.address))
		}
		reply.Target = a.Target
	}
	if !l.coordinator {
		l.producer = c.sess.NewProducer()
	}
	ss.byName[l.name] = l
	c.mu.Lock()
	l.deliveryCount = a.InitialDeliveryCount
	ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, reply, nil), false)
	l.credit = int64(c.s.opts.LinkCredit)
	ss.appendFlowLocked(l)
	c.signalLocked()
	c.mu.Unlock()
	return nil
}

// onReceiverFlow is the client's flow on a link it sends on: it may ask
// for an echo; its delivery-count and available need nothing from us.
func (l *link) onReceiverFlow(f *codec.Flow) error {
	if f.Echo {
		c := l.ss.c
		c.mu.Lock()
		l.ss.appendFlowLocked(l)
		c.signalLocked()
		c.mu.Unlock()
	}
	return nil
}

// onTransfer handles one transfer frame from the client.
func (ss *session) onTransfer(t *codec.Transfer, payload []byte) error {
	if err := ss.incomingTransfer(); err != nil {
		return err
	}
	l := ss.links[t.Handle]
	if l == nil {
		return sessErr(codec.CondUnattachedHandle, "transfer on handle %d, which is not attached", t.Handle)
	}
	if l.detaching.Load() {
		return nil
	}
	if l.sending {
		return sessErr(codec.CondNotAllowed, "transfer on link %q, on which the client receives", l.name)
	}
	c := ss.c
	p := l.partial
	if p == nil {
		// The first frame of a delivery.
		if !t.HasDeliveryID {
			return sessErr(codec.CondInvalidField, "the first transfer of a delivery needs a delivery-id")
		}
		c.mu.Lock()
		credit := l.credit
		if credit > 0 {
			l.credit--
			l.deliveryCount++
		}
		c.mu.Unlock()
		if credit <= 0 {
			return l.errorf(codec.CondTransferLimitExceeded, "transfer without link credit")
		}
		batch := t.MessageFormat == batchFormat && c.sb != nil
		if t.HasMessageFormat && t.MessageFormat != 0 && !batch {
			return l.errorf(codec.CondNotImplemented, "message format %d is not supported", t.MessageFormat)
		}
		l.pd = partialDelivery{id: t.DeliveryID, batch: batch}
		p = &l.pd
	}
	p.settled = p.settled || t.Settled
	if t.State != nil {
		p.state = t.State
	}
	if t.Aborted {
		// The sender gave the delivery up: nothing of it is kept.
		l.dropPartial()
		l.afterDelivery()
		return nil
	}
	if len(p.buf)+len(payload) > c.s.opts.MaxMessageSize {
		l.dropPartial()
		return l.errorf(codec.CondMessageSizeExceeded, "message exceeds max-message-size %d", c.s.opts.MaxMessageSize)
	}
	if t.More {
		if c.partialBytes+len(payload) > maxPartialFactor*c.s.opts.MaxMessageSize {
			l.dropPartial()
			return l.errorf(codec.CondResourceLimitExceeded, "the connection is reassembling more than %d bytes of messages", maxPartialFactor*c.s.opts.MaxMessageSize)
		}
		p.buf = append(p.buf, payload...)
		c.partialBytes += len(payload)
		l.partial = p
		return nil
	}
	l.dropPartial()
	var msg []byte
	if p.buf != nil {
		msg = append(p.buf, payload...)
	} else {
		msg = payload // aliases the read buffer: decoded before the next read
	}
	err := l.receive(p, msg)
	l.afterDelivery()
	return err
}

// maxPartialFactor bounds what one connection holds of messages arriving
// in several frames, all its links together, in max-message-sizes: each
// link is bounded by max-message-size, and this keeps a client with many
// links from making the broker hold that many times over.
const maxPartialFactor = 4

// dropPartial forgets the link's partial delivery (its bytes were copied
// into the message, or are dropped). p itself stays usable.
func (l *link) dropPartial() {
	if p := l.partial; p != nil {
		l.ss.c.partialBytes -= len(p.buf)
		l.partial = nil
	}
}

// receive routes one complete message.
func (l *link) receive(p *partialDelivery, msg []byte) error {
	c := l.ss.c
	if l.coordinator {
		return l.coordinate(p, msg)
	}
	if l.sb != nil {
		return l.nodeRequest(p, msg) // only node links receive with sb set
	}
	if p.batch {
		return l.receiveBatch(p, msg)
	}
	m, info, err := decodeMessage(msg)
	if err != nil {
		var e *codec.Error
		if !errors.As(err, &e) {
			e = codec.Errorf(codec.CondDecodeError, "message could not be decoded: %v", err)
		}
		return l.rejectOrDetach(p, e)
	}
	if l.anonymous {
		// Anonymous relay: the message names its address (part 3,
		// 3.2.4 to); a bare name follows the link rules, queue unless
		// the address is a topic.
		if info.To == "" {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondInvalidField, "a message on an anonymous relay link needs a to address"))
		}
		var caps []codec.Symbol
		switch m.RoutingType { // x-opt-jms-dest said which
		case core.Multicast:
			caps = []codec.Symbol{capTopic}
		case core.Anycast:
			caps = []codec.Symbol{capQueue}
		}
		m.Address, m.RoutingType = c.resolveAddress(info.To, caps)
		if err := c.id.Authorize(core.PermSend, m.Address); err != nil {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondUnauthorizedAccess, "not allowed to send to %q", m.Address))
		}
	} else {
		m.Address, m.RoutingType = l.address, l.rt
	}
	if c.sb != nil {
		scheduledEnqueue(m) // Service Bus's x-opt-scheduled-enqueue-time
	}
	if txnID := txnOf(p.state); txnID != nil {
		tx := c.txnFor(txnID)
		if tx == nil {
			return l.errorf(codec.CondTransactionUnknownID, "transfer in unknown transaction %x", txnID)
		}
		if err := tx.tx.Send(m); err != nil {
			return l.rejectOrDetach(p, coreError(err))
		}
		c.s.counters.MessageIn()
		if !p.settled {
			l.dispose(p.id, &codec.TransactionalState{TxnID: txnID, Outcome: &codec.Accepted{}})
		}
		return nil
	}
	if p.settled {
		// At most once: nothing to confirm.
		if err := l.producer.Send(c.ctx, m, nil); err != nil {
			return l.rejectOrDetach(p, coreError(err))
		}
		c.s.counters.MessageIn()
		l.checkHeld()
		return nil
	}
	id := p.id
	c.beginPending()
	err = l.producer.Send(c.ctx, m, func(err error) {
		// The store has it (or could not take it): only now is the
		// delivery settled for the client.
		if err != nil {
			l.disposeLocked(id, &codec.Rejected{Error: coreError(err)}, true)
			return
		}
		l.disposeLocked(id, &codec.Accepted{}, true)
	})
	if err != nil {
		c.mu.Lock()
		c.endPendingLocked()
		c.mu.Unlock()
		return l.rejectOrDetach(p, coreError(err))
	}
	c.s.counters.MessageIn()
	l.checkHeld()
	return nil
}

// rejectOrDetach refuses one message: rejected when the client waits for
// an outcome; a pre-settled one has no disposition to carry the error, so
// the link is detached with it rather than the message vanish unnoticed.
func (l *link) rejectOrDetach(p *partialDelivery, e *codec.Error) error {
	if p.settled {
		return &linkErr{l, e}
	}
	l.ss.c.log.Info("amqp message refused", "link", l.name, "condition", e.Condition, "description", e.Description)
	l.dispose(p.id, &codec.Rejected{Error: e})
	return nil
}

// dispose sends a disposition for one delivery we received.
func (l *link) dispose(id uint32, st codec.DeliveryState) {
	c := l.ss.c
	c.mu.Lock()
	l.appendDispositionLocked(id, st)
	c.signalLocked()
	c.mu.Unlock()
}

// disposeLocked is dispose from a core callback; pending ends a
// confirmation counted by beginPending.
func (l *link) disposeLocked(id uint32, st codec.DeliveryState, pending bool) {
	c := l.ss.c
	c.mu.Lock()
	l.appendDispositionLocked(id, st)
	if pending {
		c.endPendingLocked()
	}
	c.signalLocked()
	c.mu.Unlock()
}

func (l *link) appendDispositionLocked(id uint32, st codec.DeliveryState) {
	ss := l.ss
	settled := l.rcvMode == rcvFirst
	_, accepted := st.(*codec.Accepted)
	accepted = accepted && settled
	if accepted && ss.c.extendAcceptedLocked(ss, id) {
		return
	}
	d := &ss.disp
	*d = codec.Disposition{Role: codec.RoleReceiver, First: id, Last: id, Settled: settled, State: st}
	if accepted && len(ss.backlog) == 0 && !ss.ended {
		start := len(ss.c.ob.Buf)
		ss.appendPerfLocked(d, nil, nil)
		ss.c.acceptedRunLocked(ss, start, id, id)
		return
	}
	ss.appendPerfLocked(d, nil, nil)
}

// acceptedRun is the last frame in the output when that is a settled
// accepted disposition: the next delivery accepted on the session extends
// it to first..last rather than add a frame. A producer's transfers read
// in one batch (or confirmed by one journal sync) are confirmed by one
// disposition: the client decodes one frame for the batch, not one per
// message (part 2, 2.7.6: a disposition covers a range of delivery-ids).
type acceptedRun struct {
	ss          *session
	first, last uint32
	start, end  int // the frame's bytes in ob.Buf
	n           int
	enc         [48]byte // a copy of them, to know they are still ours
}

// acceptedRunLocked records the disposition just encoded at
// ob.Buf[start:]. Caller holds mu.
func (c *conn) acceptedRunLocked(ss *session, start int, first, last uint32) {
	r := &c.accRun
	frame := c.ob.Buf[start:]
	if len(frame) > len(r.enc) {
		r.ss = nil
		return
	}
	r.ss, r.first, r.last = ss, first, last
	r.start, r.end, r.n = start, len(c.ob.Buf), copy(r.enc[:], frame)
}

// extendAcceptedLocked makes the run cover id too, when id follows it and
// its frame is still the last one queued (not written yet, nothing after
// it). Caller holds mu.
func (c *conn) extendAcceptedLocked(ss *session, id uint32) bool {
	r := &c.accRun
	if r.ss != ss || id != r.last+1 || id == 0 || ss.ended || len(ss.backlog) > 0 ||
		len(c.ob.Buf) != r.end || r.end-r.start != r.n || !bytes.Equal(c.ob.Buf[r.start:r.end], r.enc[:r.n]) {
		return false
	}
	c.ob.Buf = c.ob.Buf[:r.start]
	d := &ss.disp
	*d = codec.Disposition{Role: codec.RoleReceiver, First: r.first, Last: id, Settled: true, State: &codec.Accepted{}}
	ss.appendPerfLocked(d, nil, nil)
	c.acceptedRunLocked(ss, r.start, r.first, id)
	return true
}

// checkHeld withholds the link's credit while the connection's sends wait
// for space (address-full-policy BLOCK), and gives it back once they are
// admitted: AMQP's producer back-pressure.
func (l *link) checkHeld() {
	p := l.producer
	if p.Held() <= l.ss.c.s.opts.MaxHeldBytes {
		return
	}
	c := l.ss.c
	c.mu.Lock()
	if l.blocked {
		c.mu.Unlock()
		return
	}
	l.blocked = true
	c.mu.Unlock()
	if !p.OnRelease(c.s.opts.MaxHeldBytes, l.unblock) {
		l.unblock()
	}
}

// unblock gives a held link its credit back.
func (l *link) unblock() {
	c := l.ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l.blocked {
		return
	}
	l.blocked = false
	l.grantLocked()
}

// afterDelivery tops the link's credit up once half is used, unless it is
// withheld.
func (l *link) afterDelivery() {
	c := l.ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l.blocked && l.credit <= int64(c.s.opts.LinkCredit)/2 {
		l.grantLocked()
	}
}

func (l *link) grantLocked() {
	c := l.ss.c
	if l.detaching.Load() || l.ss.ended {
		return
	}
	l.credit = int64(c.s.opts.LinkCredit)
	l.ss.appendFlowLocked(l)
	c.signalLocked()
}

// txnOf is the transaction a transfer's state names, if any.
func txnOf(st codec.DeliveryState) []byte {
	if ts, ok := st.(*codec.TransactionalState); ok {
		return ts.TxnID
	}
	return nil
}
