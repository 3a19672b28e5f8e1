package openwire

import (
	"slices"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// consumer is one ConsumerInfo: core consumers (one per part of a
// composite destination), a queue browser, or an advisory subscription.
//
// Credit: a consumer with a prefetch gets that much core credit, and the
// server gives one back for each delivery the client first acknowledges in
// any way, a DELIVERED ack included: the ActiveMQ client sends those to
// widen its window before it consumes (transacted and client-acknowledge
// sessions), and the later STANDARD ack of the same message gives nothing
// more. A consumer with prefetch 0 gets credit from MessagePull only.
type consumer struct {
	c        *conn
	id       wire.ConsumerID
	prefetch int
	dest     *wire.Destination // as the client gave it
	cores    []*core.Consumer
	browser  *core.Browser

	// Advisory subscriptions: which temporary-destination advisories the
	// consumer wants.
	advisory, advQueue, advTopic bool
	// watch are the connection and consumer advisory topics (patterns) it
	// subscribed to; advTopics the consumer advisory topics it was
	// announced on (advisory_consumers.go).
	watch, advTopics []string

	// Guarded by c.outMu.
	inflight map[int64]*inflight // by the delivery's sequence number (conn.seq)
	removed  bool
}

// inflight is one delivery the client has not settled.
type inflight struct {
	cc       *core.Consumer // nil for a browsed message
	tag      uint64
	credited bool // its credit was given back (by a DELIVERED or transacted ack)
	sent     bool // written to the connection's buffer
}

func (c *conn) onConsumerInfo(info *wire.ConsumerInfo) error {
	if info.ConsumerID == nil {
		return jmsError("javax.jms.JMSException", "ConsumerInfo without a consumer id")
	}
	if c.consumers[*info.ConsumerID] != nil {
		return nil // a failover client replaying its state
	}
	ts, err := targets(info.Destination)
	if err != nil {
		return err
	}
	con := &consumer{c: c, id: *info.ConsumerID, prefetch: max(int(info.PrefetchSize), 0), dest: info.Destination, inflight: map[int64]*inflight{}}
	if info.Retroactive {
		c.logger().Debug("openwire: the retroactive consumer option is not applied")
	}
	for _, t := range ts {
		if t.advisory() {
			con.advisory = true
			switch {
			case t.name == advisoryTempQueue:
				con.advQueue = true
			case t.name == advisoryTempTopic:
				con.advTopic = true
			case t.wildcard():
				con.advQueue, con.advTopic = true, true
			}
			if t.name != advisoryTempQueue && t.name != advisoryTempTopic {
				// Connection and consumer advisories name other users'
				// connections: consuming them needs the permission on the
				// advisory topic, as under ActiveMQ's authorization plugin.
				// The temporary-destination ones every client subscribes
				// to on its own stay open to all.
				if err := c.id.Authorize(core.PermConsume, coreName(t.name)); err != nil {
					c.closeConsumer(con, 0, false) // parts attached before this one
					return &core.PermissionError{Permission: core.PermConsume, Address: t.name, Err: err}
				}
				con.watch = append(con.watch, t.name)
			}
			continue
		}
		if err := c.attach(con, info, t); err != nil {
			c.closeConsumer(con, 0, false)
			return err
		}
	}
	c.consumers[con.id] = con
	if con.advQueue || con.advTopic {
		c.s.addAdvisor(con)
	}
	if len(con.watch) > 0 {
		c.s.addWatcher(con)
	}
	var topics []string
	for _, t := range ts {
		if !t.advisory() {
			topics = append(topics, consumerAdvisoryTopic(t))
		}
	}
	if len(topics) > 0 {
		c.s.consumerAdded(con, info, topics)
	}
	return nil
}

// attach opens the core side of one target.
func (c *conn) attach(con *consumer, info *wire.ConsumerInfo, t target) error {
	if info.Browser {
		if t.topic() || t.wildcard() {
			return jmsError("javax.jms.InvalidDestinationException", "only a queue can be browsed")
		}
		if con.browser != nil {
			return jmsError("javax.jms.InvalidDestinationException", "a browser browses one queue")
		}
		br, err := c.sess.NewBrowser(t.name, core.BrowserOptions{
			Selector: info.Selector, Credit: max(con.prefetch, 1),
			Handler: func(m *core.Message) { con.browsed(m, t) },
			OnEnd:   con.endOfBrowse,
		})
		if err != nil {
			return err
		}
		con.browser = br
		return nil
	}
	opts := core.ConsumerOptions{
		Handler: func(d core.Delivery) { con.deliver(d, t) },
		Credit:  con.prefetch,
		OnClose: con.coreClosed,
		// consumer.exclusive / consumer.priority: the client copies the
		// destination options onto the ConsumerInfo.
		Exclusive: info.Exclusive,
		Priority:  int(info.Priority),
	}
	if t.temp() && !c.s.tempExists(t.name) {
		return jmsError("javax.jms.InvalidDestinationException", "Cannot consume from a deleted Destination: "+t.name)
	}
	var cc *core.Consumer
	var err error
	switch {
	case t.topic():
		sub := core.SubscribeOptions{Address: coreName(t.name), Selector: info.Selector, NoLocal: info.NoLocal}
		if info.SubscriptionName != "" {
			if c.clientID == "" {
				return jmsError("javax.jms.InvalidClientIDException", "a durable subscriber needs a client id: set one on the connection")
			}
			sub.Name, sub.Durable = info.SubscriptionName, true
		}
		cc, err = c.sess.Subscribe(sub, opts)
	case t.wildcard():
		return jmsError("javax.jms.InvalidDestinationException", "wildcard queue consumers are not supported: "+t.name)
	default:
		opts.Selector = info.Selector
		cc, err = c.sess.Consume(t.name, opts)
	}
	if err != nil {
		return err
	}
	con.cores = append(con.cores, cc)
	return nil
}

// dispatchDest is the destination a delivery names: the message's own
// address, in the kind of the target it came through.
func dispatchDest(m *core.Message, t target) *wire.Destination {
	if t.topic() && m.Address != t.name {
		return &wire.Destination{Type: t.typ, PhysicalName: m.Address}
	}
	return t.destination()
}

// deliver is the core's handler: it runs with the queue's lock held, so
// it only encodes the dispatch.
func (con *consumer) deliver(d core.Delivery, t target) {
	c := con.c
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.seq++
	seq := c.seq
	e := &inflight{cc: d.Consumer, tag: d.Tag}
	con.inflight[seq] = e
	if con.removed || c.closed || c.ob.Dead || c.ob.Closing {
		return // closing: the close returns it to the queue, unsent
	}
	dest := dispatchDest(d.Message, t)
	wm, err := c.s.fromCore(d.Message, dest, d.DeliveryCount, seq)
	if err != nil {
		// A body this server cannot express in OpenWire: the client would
		// never see it, so it is dead-lettered (from a goroutine: the
		// queue's lock is held here). Logged without the payload.
		c.logger().Error("openwire: cannot convert a message for delivery", "message", d.Message.ID, "err", err)
		delete(con.inflight, seq)
		cc, tag, reason := d.Consumer, d.Tag, "cannot be delivered over OpenWire: "+err.Error()
		go func() { _ = cc.Reject(tag, reason) }()
		return
	}
	e.sent = true
	c.appendLocked(&wire.MessageDispatch{ConsumerID: &con.id, Destination: dest, Message: wm, RedeliveryCounter: wm.RedeliveryCounter})
	c.ob.SignalLocked()
	c.s.counters.MessageOut()
}

// browsed dispatches one browsed message (queue lock held).
func (con *consumer) browsed(m *core.Message, t target) {
	c := con.c
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.seq++
	seq := c.seq
	con.inflight[seq] = &inflight{}
	if con.removed || c.closed {
		return
	}
	wm, err := c.s.fromCore(m, t.destination(), 1, seq)
	if err != nil {
		c.logger().Error("openwire: cannot convert a message for browsing", "message", m.ID, "err", err)
		return
	}
	c.appendLocked(&wire.MessageDispatch{ConsumerID: &con.id, Destination: t.destination(), Message: wm})
	c.ob.SignalLocked()
}

// endOfBrowse tells the browser it has seen everything: a dispatch without
// a message.
func (con *consumer) endOfBrowse() { con.nullDispatch() }

// nullDispatch sends a MessageDispatch without a message: the end of a
// browse, or a MessagePull that timed out (without it the client's
// receive(timeout) would wait forever).
func (con *consumer) nullDispatch() {
	c := con.c
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if con.removed || c.closed {
		return
	}
	c.appendLocked(&wire.MessageDispatch{ConsumerID: &con.id, Destination: con.dest})
	c.ob.SignalLocked()
}

// coreClosed is the core ending a consumer on its own (its queue was
// deleted, its permission revoked): the client is told to close it.
func (con *consumer) coreClosed(reason error) {
	con.c.logger().Info("openwire consumer closed by the broker", "reason", reason)
	con.c.send(&wire.ConsumerControl{ConsumerID: &con.id, Destination: con.dest, Close: true})
}

// onConsumerControl applies a prefetch a client sets on one of its
// consumers. The ActiveMQ client's failover transport does this after a
// reconnect: it restores each consumer that had a prefetch with prefetch 0
// (so that nothing is dispatched while it clears what the dead connection
// delivered) and, once that is done, sends a ConsumerControl with the
// consumer's real prefetch; ignoring it leaves the consumer with no credit
// for good. Close, start, stop and flush are for network bridges and stay
// ignored.
func (c *conn) onConsumerControl(cc *wire.ConsumerControl) {
	if cc.ConsumerID == nil || cc.Close || cc.Prefetch < 0 {
		c.logger().Debug("openwire: ConsumerControl from a client ignored")
		return
	}
	con := c.consumers[*cc.ConsumerID]
	if con == nil || len(con.cores) == 0 || int(cc.Prefetch) == con.prefetch {
		return // gone, a browser or an advisory consumer, or no change
	}
	old, next := con.prefetch, int(cc.Prefetch)
	con.prefetch = next
	switch {
	case next == 0:
		// From pushing to pulling: the window closes; acks of what is in
		// flight give nothing back (onAck), a MessagePull gives credit.
		for _, k := range con.cores {
			k.SetCredit(0)
		}
	case old == 0:
		// From pulling to pushing. A waiting pull is answered at once (its
		// timer would otherwise take the window away when it fires), and
		// what was pulled never took window credit, so its acks must give
		// none back.
		for _, k := range con.cores {
			if k.PullPending() {
				k.Pull(0, func() {})
			}
		}
		c.outMu.Lock()
		for _, e := range con.inflight {
			e.credited = true
		}
		c.outMu.Unlock()
		for _, k := range con.cores {
			k.AddCredit(next)
		}
	default:
		// A wider or narrower window: relative, so that deliveries racing
		// with this change are counted once (credit may go below zero and
		// comes back with acks).
		for _, k := range con.cores {
			k.AddCredit(next - old)
		}
	}
}

func (c *conn) onPull(p *wire.MessagePull) error {
	if p.ConsumerID == nil {
		return nil
	}
	con := c.consumers[*p.ConsumerID]
	if con == nil || con.prefetch > 0 || len(con.cores) == 0 {
		// Only a zero-prefetch consumer pulls; anything else has its
		// messages pushed already.
		return nil
	}
	var timeout time.Duration
	switch {
	case p.Timeout < 0: // receiveNoWait
		timeout = 0
	case p.Timeout == 0: // receive(): wait for a message
		timeout = -1
	default:
		timeout = time.Duration(p.Timeout) * time.Millisecond
	}
	con.cores[0].Pull(timeout, con.nullDispatch)
	return nil
}

// settlement is one core settlement an ack asks for.
type settlement struct {
	cc     *core.Consumer
	tag    uint64
	kind   int8
	reason string
}

func (c *conn) onAck(a *wire.MessageAck) error {
	if a.ConsumerID == nil || a.LastMessageID == nil {
		return nil
	}
	con := c.consumers[*a.ConsumerID]
	if con == nil || con.advisory && len(con.cores) == 0 {
		// Acks for a consumer already closed, or for advisories, which
		// need nothing.
		return nil
	}
	last := a.LastMessageID.BrokerSequenceID
	first := last
	if a.FirstMessageID != nil {
		first = a.FirstMessageID.BrokerSequenceID
	} else if a.AckType == wire.AckStandard {
		first = 1 // cumulative, as the broker reads a standard ack
	}
	var st *txState
	if a.TransactionID != nil && (a.AckType == wire.AckStandard || a.AckType == wire.AckIndividual) {
		id, err := localTx(a.TransactionID)
		if err != nil {
			return err
		}
		if st = c.txs[id]; st == nil {
			return jmsError("javax.jms.IllegalStateException", "transaction has not been started")
		}
	}
	// Scratch kept on the connection (the reader's): one ack per message
	// in AUTO_ACKNOWLEDGE should not allocate.
	credit, settle := c.ackCredit[:0], c.ackSettle[:0]
	browsed := 0
	reason := "poison ack"
	if a.PoisonCause != nil && a.PoisonCause.Message != "" {
		reason = a.PoisonCause.Message
	}
	c.outMu.Lock()
	con.eachInRange(first, last, func(seq int64, e *inflight) {
		if a.AckType == wire.AckRedelivered {
			// The client redelivers these from its own buffer: nothing
			// changes here, not even the window.
			return
		}
		if !e.credited {
			e.credited = true
			if e.cc == nil {
				browsed++
			} else {
				credit = addCredit(credit, e.cc)
			}
		}
		if a.AckType == wire.AckDelivered {
			return // widens the window; the message stays in flight
		}
		if e.cc == nil {
			delete(con.inflight, seq)
			return
		}
		if st != nil {
			st.acks = append(st.acks, txAck{con: con, seq: seq})
			return
		}
		delete(con.inflight, seq)
		switch a.AckType {
		case wire.AckPoison:
			settle = append(settle, settlement{e.cc, e.tag, wire.AckPoison, reason})
		case wire.AckExpired:
			settle = append(settle, settlement{e.cc, e.tag, wire.AckPoison, "expired on the client"})
		default:
			settle = append(settle, settlement{e.cc, e.tag, wire.AckStandard, ""})
		}
	})
	c.outMu.Unlock()
	for _, s := range settle {
		var err error
		if s.kind == wire.AckPoison {
			err = s.cc.Reject(s.tag, s.reason)
		} else {
			err = s.cc.Ack(s.tag)
		}
		if err != nil {
			c.logger().Debug("openwire ack of an unknown delivery", "err", err)
		}
	}
	if con.prefetch > 0 {
		for _, cr := range credit {
			cr.cc.AddCredit(cr.n)
		}
	}
	if browsed > 0 && con.browser != nil {
		con.browser.AddCredit(browsed)
	}
	clear(settle)
	clear(credit)
	c.ackCredit, c.ackSettle = credit[:0], settle[:0]
	return nil
}

// creditFor is credit to give back to one core consumer.
type creditFor struct {
	cc *core.Consumer
	n  int
}

// addCredit counts one credit for cc; a consumer has one core consumer
// per destination part, so a linear search is the fast way.
func addCredit(list []creditFor, cc *core.Consumer) []creditFor {
	for i := range list {
		if list[i].cc == cc {
			list[i].n++
			return list
		}
	}
	return append(list, creditFor{cc, 1})
}

// eachInRange calls fn for the in-flight deliveries numbered first..last,
// in order. Caller holds outMu.
func (con *consumer) eachInRange(first, last int64, fn func(seq int64, e *inflight)) {
	if first > last {
		first, last = last, first
	}
	if last-first >= int64(len(con.inflight)) {
		// A wide range (a cumulative ack): walk what is in flight rather
		// than every number in between.
		seqs := make([]int64, 0, len(con.inflight))
		for seq := range con.inflight {
			if seq >= first && seq <= last {
				seqs = append(seqs, seq)
			}
		}
		slices.Sort(seqs)
		for _, seq := range seqs {
			fn(seq, con.inflight[seq])
		}
		return
	}
	for seq := first; seq <= last; seq++ {
		if e := con.inflight[seq]; e != nil {
			fn(seq, e)
		}
	}
}

// ackInTx hands a transacted ack to the core transaction at commit.
func (con *consumer) ackInTx(tx *core.Tx, seq int64) {
	c := con.c
	c.outMu.Lock()
	e := con.inflight[seq]
	if e != nil {
		delete(con.inflight, seq)
	}
	c.outMu.Unlock()
	if e == nil || e.cc == nil {
		return
	}
	if err := tx.Ack(e.cc, e.tag); err != nil {
		c.logger().Debug("openwire transacted ack of an unknown delivery", "err", err)
	}
}

// closeConsumer closes a consumer. Deliveries never written, and with
// lastKnown those after lastDelivered (the client's last delivered
// sequence id), never reached the application: they go back released,
// their delivery count undone; the others come back redelivered.
func (c *conn) closeConsumer(con *consumer, lastDelivered int64, lastKnown bool) {
	c.outMu.Lock()
	con.removed = true
	unsent := map[*core.Consumer]map[uint64]bool{}
	for seq, e := range con.inflight {
		if e.cc != nil && (!e.sent || lastKnown && seq > lastDelivered) {
			if unsent[e.cc] == nil {
				unsent[e.cc] = map[uint64]bool{}
			}
			unsent[e.cc][e.tag] = true
		}
	}
	con.inflight = map[int64]*inflight{}
	c.outMu.Unlock()
	delete(c.consumers, con.id)
	if con.advQueue || con.advTopic {
		c.s.removeAdvisor(con)
	}
	if len(con.watch) > 0 {
		c.s.removeWatcher(con)
	}
	c.s.consumerRemoved(con)
	for _, cc := range con.cores {
		set := unsent[cc]
		cc.CloseReturning(func(tag uint64) bool { return set[tag] })
	}
	if con.browser != nil {
		con.browser.Close()
	}
}
