package mqtt

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// takeoverTimeout bounds how long a CONNECT waits for the previous
// connection of its client id to finish closing (its consumers closed, its
// unacknowledged deliveries back in their queues).
const takeoverTimeout = 10 * time.Second

// testHook, when a test sets it, runs at named moments of a connection's end
// and of a takeover, so a test can hold a race window open.
var testHook atomic.Pointer[func(point, clientID string)]

func runHook(point, clientID string) {
	if h := testHook.Load(); h != nil {
		(*h)(point, clientID)
	}
}

// attach binds a connection to its session: a second connection with the same
// client id takes the session over [MQTT-3.1.4-3], clean start discards it
// [MQTT-3.1.2-4]. It reports whether a previous session is present.
//
// The session stays bound to the previous connection until that connection's
// cleanup has closed its consumers (detach), so a takeover always waits for
// that: attaching earlier would find the subscription queues still in use.
// The wait is bounded by a deadline, not a number of rounds: each round waits
// for one connection to finish, and a client that reconnects repeatedly
// makes a connection end per round.
func (s *Server) attach(c *conn, clientID string, clean bool, expiry uint32) (bool, error) {
	deadline := time.Now().Add(takeoverTimeout)
	for {
		s.mu.Lock()
		old := s.sessions[clientID]
		var oc *conn
		if old != nil {
			old.mu.Lock()
			oc = old.conn
			old.mu.Unlock()
		}
		if oc != nil {
			s.mu.Unlock()
			if err := s.takeOver(oc, clientID, deadline); err != nil {
				return false, err
			}
			continue
		}
		if old != nil && (clean || old.gone) {
			delete(s.sessions, clientID)
			s.mu.Unlock()
			s.destroy(old)
			continue
		}
		ss := old
		present := old != nil
		if ss == nil {
			ss = newSession(s, clientID)
			s.sessions[clientID] = ss
		}
		ss.mu.Lock()
		ss.stopTimers()
		ss.conn = c
		ss.expiry = expiry
		ss.persistent = expiry > 0
		c.ss = ss
		ss.mu.Unlock()
		s.mu.Unlock()
		// Stored (or, no longer persistent, forgotten) outside the locks.
		ss.persist()
		return present, nil
	}
}

// takeOver closes the connection holding a session and waits, until
// deadline, for its cleanup to finish.
func (s *Server) takeOver(oc *conn, clientID string, deadline time.Time) error {
	oc.logger().Info("mqtt session taken over", "client", clientID)
	oc.disconnectWith(packet.SessionTakenOver, "another connection with the same client id")
	runHook("takeover-wait", clientID)
	t := time.NewTimer(min(time.Until(deadline), time.Second))
	defer t.Stop()
	// Let the writer deliver the DISCONNECT and close; a peer that does
	// not read is cut off.
	select {
	case <-oc.writerClosed():
	case <-t.C:
	}
	oc.w.Close()
	t.Reset(time.Until(deadline))
	select {
	case <-oc.cleanedUp():
		return nil
	case <-t.C:
		return fmt.Errorf("the previous connection of client id %q did not finish closing within %v", clientID, takeoverTimeout)
	}
}

// resume attaches consumers for the session's subscriptions and resends the
// PUBRELs of QoS 2 exchanges left unfinished [MQTT-4.4.0-1]. Unacknowledged
// PUBLISHes come back by themselves: closing the previous consumers returned
// them to their queues, and they are redelivered with DUP set.
func (s *Server) resume(c *conn) {
	ss := c.ss
	ss.mu.Lock()
	subs := make([]*subscription, 0, len(ss.subs))
	for _, sub := range ss.subs {
		subs = append(subs, sub)
	}
	for id, om := range ss.outFlight {
		if om.released {
			c.send(&packet.Pubrel{PacketID: id})
		}
	}
	ss.mu.Unlock()
	for _, sub := range subs {
		if err := c.attachConsumer(sub, nil); err != nil {
			c.logger().Warn("mqtt subscription not resumed", "client", ss.id, "filter", sub.Filter, "err", err)
		}
	}
}

// attachConsumer opens the core consumer of a subscription. stored, when not
// nil, is called as core.SubscribeOptions.Stored is: once the queue's stored
// record is durable (at once when there is none to write).
func (c *conn) attachConsumer(sub *subscription, stored func(error)) error {
	ss := c.ss
	_, filter, shared := packet.ParseShared(sub.Filter)
	if !shared {
		filter = sub.Filter
	}
	opts := core.ConsumerOptions{Handler: func(d core.Delivery) { ss.deliver(sub, d) }, OnClose: c.closedByBroker}
	if sub.QoS == 0 {
		// Credit comes back as bytes reach the socket, so it bounds what a
		// subscriber that stops reading holds in output buffers: 100 kept
		// loopback throughput (370,000/s) and cut a stalled subscriber
		// from 3 to 1 MiB (1000 did; docs/PERFORMANCE.md "Memory").
		opts.AutoAck, opts.Credit = true, 100
	} else {
		opts.Window, opts.Credit = true, min(c.s.opts.MaxInflight, max(c.recvMax, 1))
	}
	durable := ss.persistent
	if q, ok := c.s.b.Queue(sub.Queue); ok && shared {
		// A shared subscription's queue belongs to its group: a member
		// joins it as it is. It is durable when a persistent session made
		// it, and then outlives its members' connections; the adapter
		// deletes it when no session is subscribed any more
		// (dropSharedIfUnused). One made by a clean session is not durable
		// and goes with its last consumer, as a clean subscription does.
		durable = q.Info().Durable
	}
	so := core.SubscribeOptions{
		Address:   filterToPattern(filter),
		QueueName: sub.Queue,
		Durable:   durable,
		Shared:    shared,
		NoLocal:   sub.NoLocal,
		// Filters starting with a wildcard do not match $ topics [MQTT-4.7.2-1].
		NoDollar: len(filter) > 0 && (filter[0] == '+' || filter[0] == '#'),
		Stored:   stored,
	}
	ss.mu.Lock()
	sub.autoAck = opts.AutoAck
	ss.mu.Unlock()
	cons, err := c.sess.Subscribe(so, opts)
	if err != nil {
		return err
	}
	// Negative options mean unlimited, which SetLimits spells 0. A QoS 0
	// subscription drops what does not fit, whatever the publish's QoS.
	cons.Queue().SetLimits(max(c.s.opts.MaxQueuedMessages, 0), max(c.s.opts.MaxQueuedBytes, 0), sub.QoS > 0)
	ss.mu.Lock()
	sub.consumer = cons
	ss.mu.Unlock()
	return nil
}

// unsentKey names a delivery a closing connection never passed on.
type unsentKey struct {
	c   *core.Consumer
	tag uint64
}

// detach unbinds a closing connection from its session. The session stays
// bound to it until its consumers are closed: a connection that attached
// earlier would find the subscription queues still in use (a non-shared
// subscription queue takes one consumer), and deliveries the old consumers
// make meanwhile would reach it under the old consumers' tags. Until then
// such deliveries are kept back (c.unsent) and go back to their queues
// uncounted, as does what waited for a receive-maximum slot.
func (s *Server) detach(c *conn) {
	ss := c.ss
	runHook("detach", ss.id)
	ss.mu.Lock()
	bound := ss.conn == c
	// Deliveries not yet acknowledged go back to their queues when the
	// consumers close; remember their packet ids for the resend.
	for id, om := range ss.outFlight {
		if !om.released {
			if om.msgID != 0 {
				ss.rememberID(om.msgID, id)
			}
			delete(ss.outFlight, id)
		}
	}
	// Deliveries that waited for a receive-maximum slot, and copies held
	// back for another subscription's (copies.go), never reached the
	// client: they go back uncounted, so reconnects alone never use up
	// max-delivery-attempts.
	unsent := map[unsentKey]bool{}
	for _, po := range ss.pending {
		if po.d.Consumer != nil {
			unsent[unsentKey{po.d.Consumer, po.d.Tag}] = true
		}
	}
	ss.pending = nil
	for _, a := range ss.dropCopies() {
		unsent[unsentKey{a.c, a.tag}] = true
	}
	if bound {
		c.unsent = unsent
	}
	consumers := make([]*core.Consumer, 0, len(ss.subs))
	for _, sub := range ss.subs {
		if sub.consumer != nil {
			consumers = append(consumers, sub.consumer)
		}
		sub.consumer = nil
	}
	persistent := ss.persistent && !ss.gone
	expiry := ss.expiry
	ss.mu.Unlock()
	// No delivery reaches c from here on (c.unsent, or the session has
	// another connection): what it settles once written is settled now.
	c.settleWritten()
	runHook("detach-consumers", ss.id)
	for _, cons := range consumers {
		cons.CloseReturning(func(tag uint64) bool {
			ss.mu.Lock()
			defer ss.mu.Unlock()
			return unsent[unsentKey{cons, tag}]
		})
	}
	c.sess.Close()
	runHook("consumers-closed", ss.id)
	unbind := func() {
		ss.mu.Lock()
		if bound {
			c.unsent = nil
		}
		if ss.conn == c {
			ss.conn = nil
		}
		ss.mu.Unlock()
	}

	willDelay := time.Duration(0)
	if c.will != nil && c.ver == packet.Version5 {
		willDelay = time.Duration(c.will.Properties.WillDelay) * time.Second
	}
	if !persistent {
		// Out of the map before it is unbound: a connection with the same
		// client id finds it bound (and waits) or finds none, never a
		// session about to be destroyed.
		s.mu.Lock()
		if s.sessions[ss.id] == ss {
			delete(s.sessions, ss.id)
		}
		unbind()
		s.mu.Unlock()
		s.destroy(ss)
		willDelay = 0 // the session ends now, and the will with it
	} else {
		unbind()
		ss.mu.Lock()
		offline := ss.conn == nil
		if offline && expiry != neverExpires {
			ss.scheduleExpiry(time.Duration(expiry) * time.Second)
			willDelay = min(willDelay, time.Duration(expiry)*time.Second)
		}
		ss.mu.Unlock()
		if offline {
			ss.persist() // with the time it went offline, for its expiry
		}
	}
	if c.will != nil {
		will, id := c.will, c.id
		if willDelay <= 0 {
			s.publishWill(ss.id, will, id)
		} else {
			fire := func() { s.publishWill(ss.id, will, id) }
			ss.mu.Lock()
			resumed, ended := ss.conn != nil, ss.gone
			if !resumed && !ended {
				ss.willTimer, ss.willFn = time.AfterFunc(willDelay, fire), fire
			}
			ss.mu.Unlock()
			// A connection that resumed the session meanwhile cancels the
			// will [MQTT-3.1.3-9]; a session that already ended sends it.
			if ended && !resumed {
				fire()
			}
		}
	}
}

// publishWill sends a connection's will message [MQTT-3.1.2-8].
func (s *Server) publishWill(clientID string, w *packet.Will, id interface {
	SessionOptions(string) core.SessionOptions
}) {
	if s.closed.Load() {
		return
	}
	m := willMessage(w)
	sess := s.b.NewSession(id.SessionOptions(clientID))
	defer sess.Close()
	if err := sess.Send(context.Background(), m, nil); err != nil {
		s.log.Warn("will message not published", "client", clientID, "topic", w.Topic, "err", err)
		return
	}
	if w.Retain {
		s.setRetained(w.Topic, m, nil)
	}
	s.log.Debug("will published", "client", clientID, "topic", w.Topic)
}

// settleWritten settles what the connection settles once its bytes are
// written (settleState.acks: QoS 0 deliveries of QoS 1/2 subscriptions, the copies
// of a message sent once for several subscriptions, messages over the
// client's maximum packet size), written or not, before detach closes the
// consumers. Left to the writer, a delivery handed to the socket but not yet
// settled when the client went away went back to its queue with the
// consumer and reached the client's next connection a second time: at most
// once forbids that. One still in the buffer is lost instead, as a QoS 0
// message to a client that went away may be. settleMu waits for a writer
// running what it took.
func (c *conn) settleWritten() {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	c.lock()
	var acks []flushAck
	if st := c.st; st != nil {
		acks = append(st.takenAcks, st.acks...)
		st.takenAcks, st.acks = nil, nil
	}
	c.unlock()
	for _, a := range acks {
		a.run()
	}
}
