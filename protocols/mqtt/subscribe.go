package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

func grantedQoS(q byte) packet.ReasonCode {
	switch q {
	case 1:
		return packet.GrantedQoS1
	case 2:
		return packet.GrantedQoS2
	}
	return packet.GrantedQoS0
}

func (c *conn) onSubscribe(ctx context.Context, p *packet.Subscribe) error {
	ss := c.ss
	codes := make([]packet.ReasonCode, len(p.Subscriptions))
	var subID uint32
	if len(p.Properties.SubscriptionIDs) > 0 {
		subID = p.Properties.SubscriptionIDs[0]
	}
	type newSub struct {
		sub     *subscription
		existed bool
		index   int        // in p.Subscriptions and codes
		stored  chan error // the queue's record written (persistent, new)
	}
	var granted []newSub
	// A persistent session's subscriptions are stored (its record, its
	// queues): while the store cannot write, a SUBACK would grant what a
	// restart loses, so every filter is refused instead.
	ss.mu.Lock()
	persistent := ss.persistent
	ss.mu.Unlock()
	var storeErr error
	if persistent {
		if err := ss.srv.b.StoreHealth(); err != nil {
			storeErr = fmt.Errorf("%w: %w", core.ErrStoreUnavailable, err)
		}
	}
	for i, req := range p.Subscriptions {
		if storeErr != nil {
			codes[i] = c.subscribeRefusal(storeErr)
			continue
		}
		group, filter, shared := packet.ParseShared(req.Filter)
		if !shared {
			filter = req.Filter
		}
		if packet.IsShared(req.Filter) && !shared || !packet.ValidTopicFilter(filter) || (shared && group == "") {
			codes[i] = packet.TopicFilterInvalid
			if c.ver != packet.Version5 {
				codes[i] = packet.SubackFailure // the only 3.x failure code [MQTT-3.9.3-2]
			}
			continue
		}
		if shared && req.NoLocal {
			return protoErr(packet.ProtocolError, "no-local on a shared subscription [MQTT-3.8.3-4]")
		}
		ss.mu.Lock()
		existing := ss.subs[req.Filter]
		ss.mu.Unlock()
		if existing != nil {
			// A subscription to the same filter replaces the old one's
			// options [MQTT-3.8.4-3]; the queue and its messages stay.
			ss.mu.Lock()
			oldZero := existing.QoS == 0
			existing.QoS, existing.NoLocal, existing.RAP, existing.RH, existing.SubID = req.QoS, req.NoLocal, req.RetainAsPublished, req.RetainHandling, subID
			cons := existing.consumer
			ss.mu.Unlock()
			if oldZero != (req.QoS == 0) && cons != nil {
				cons.Close()
				if err := c.attachConsumer(existing, nil); err != nil {
					codes[i] = c.subscribeRefusal(err)
					continue
				}
			}
			codes[i] = grantedQoS(req.QoS)
			granted = append(granted, newSub{sub: existing, existed: true, index: i})
			continue
		}
		sub := &subscription{sessionSub: sessionSub{Filter: req.Filter, QoS: req.QoS, NoLocal: req.NoLocal,
			RAP: req.RetainAsPublished, RH: req.RetainHandling, SubID: subID, Queue: queueName(ss.id, req.Filter), Shared: shared}}
		var stored chan error
		var onStored func(error)
		if persistent {
			// Buffered: core calls it once, maybe before Subscribe returns.
			stored = make(chan error, 1)
			onStored = func(err error) { stored <- err }
		}
		if err := c.attachConsumer(sub, onStored); err != nil {
			codes[i] = c.subscribeRefusal(err)
			continue
		}
		ss.mu.Lock()
		ss.initMaps()
		ss.subs[req.Filter] = sub
		ss.mu.Unlock()
		codes[i] = grantedQoS(req.QoS)
		granted = append(granted, newSub{sub: sub, index: i, stored: stored})
	}
	if !persistent || len(granted) == 0 {
		ss.persist()
	} else {
		// A persistent session's SUBACK promises a subscription that
		// survives a restart, so it waits for the session's record and the
		// new queues to be durable [MQTT-4.1.0-1]. The reader waits here,
		// not longer than the write takes: the SUBACK then goes out in its
		// place, behind nothing the client sent after it, and what is
		// refused is undone before the next packet is read.
		recDone := make(chan error, 1)
		ss.persistThen(func(err error) { recDone <- err })
		recErr, ok := c.awaitStored(ctx, recDone)
		if !ok {
			return nil // the connection is closing: no SUBACK to send
		}
		var undone []*subscription
		kept := granted[:0]
		for _, g := range granted {
			err := recErr
			if err == nil && g.stored != nil {
				if err, ok = c.awaitStored(ctx, g.stored); !ok {
					return nil
				}
			}
			if err == nil {
				kept = append(kept, g)
				continue
			}
			codes[g.index] = c.subscribeRefusal(fmt.Errorf("%w: subscription not stored: %w", core.ErrStoreUnavailable, err))
			if !g.existed {
				// A refused new subscription is removed, so the client is
				// not sent messages for a subscription it was told failed.
				// A refused change to an existing one keeps the queue the
				// store already has.
				undone = append(undone, g.sub)
			}
		}
		granted = kept
		if len(undone) > 0 {
			c.undoSubscriptions(undone)
		}
	}

	// Retained messages are sent per retain handling [MQTT-3.3.1-9]
	// [MQTT-3.3.1-10] [MQTT-3.3.1-11]; shared subscriptions get none. They
	// are picked before the SUBACK goes out: a message the client publishes
	// once it has the SUBACK reaches it through the subscription only, not
	// a second time as a retained message.
	type retainedOut struct {
		sub *subscription
		m   *core.Message
	}
	var retained []retainedOut
	for _, g := range granted {
		if g.sub.Shared || g.sub.RH == 2 || (g.sub.RH == 1 && g.existed) {
			continue
		}
		for _, m := range c.s.retainedMatching(g.sub.Filter) {
			retained = append(retained, retainedOut{g.sub, m})
		}
	}
	// The SUBACK and the retained messages are queued under the lock
	// deliveries take, so no other message comes between them.
	ss.mu.Lock()
	defer ss.mu.Unlock()
	c.send(&packet.Suback{PacketID: p.PacketID, ReasonCodes: codes})
	if ss.conn != c {
		return nil
	}
	now := nowMs()
	for _, r := range retained {
		m := r.m
		if m.Expiration != 0 && m.Expiration <= now {
			continue
		}
		qos := min(r.sub.QoS, msgQoS(m))
		d := core.Delivery{Message: m, DeliveryCount: 1}
		if qos > 0 && len(ss.outFlight) >= c.recvMax {
			ss.pending = append(ss.pending, pendingOut{sub: r.sub, d: d, qos: qos})
		} else {
			c.writePublish(r.sub, d, qos, true, nil)
		}
	}
	return nil
}

// awaitStored waits for a store write's outcome; ok is false when the
// connection closed first.
func (c *conn) awaitStored(ctx context.Context, ch <-chan error) (err error, ok bool) {
	select {
	case err = <-ch:
		return err, true
	case <-ctx.Done():
		return nil, false
	case <-c.writerClosed():
		return nil, false
	}
}

// undoSubscriptions removes new subscriptions whose stored state failed:
// their consumers, their queues, their session entries. The session's record
// is then written again without them, for when the store takes writes again.
func (c *conn) undoSubscriptions(subs []*subscription) {
	ss := c.ss
	ss.mu.Lock()
	for _, sub := range subs {
		if ss.subs[sub.Filter] == sub {
			delete(ss.subs, sub.Filter)
		}
	}
	ss.mu.Unlock()
	// The broker made these queues for the client and removes them with a
	// session of its own, as destroy does: the user may not hold the
	// permission to delete a queue.
	sess := c.s.b.NewSession(core.SessionOptions{ClientID: ss.id})
	defer sess.Close()
	for _, sub := range subs {
		if sub.consumer != nil {
			sub.consumer.Close()
		}
		if sub.Shared {
			c.s.dropSharedIfUnused(sess, sub.Queue)
		} else if err := sess.DeleteQueue(sub.Queue); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
			c.logger().Warn("mqtt subscription not stored: queue not deleted", "client", c.clientID(), "queue", sub.Queue, "err", err)
		}
	}
	ss.persist()
}

// subscribeRefusal logs a refused subscription and returns its SUBACK code.
func (c *conn) subscribeRefusal(err error) packet.ReasonCode {
	c.logger().Info("mqtt subscription refused", "client", c.clientID(), "err", err)
	var pe *core.PermissionError
	switch {
	case c.ver != packet.Version5:
		return packet.SubackFailure
	case errors.As(err, &pe):
		return packet.NotAuthorized
	case errors.Is(err, core.ErrNoSuchAddress):
		return packet.TopicFilterInvalid
	case errors.Is(err, core.ErrSubscriptionInUse), errors.Is(err, core.ErrResourceLimit):
		return packet.QuotaExceeded
	}
	return packet.UnspecifiedError
}

func (c *conn) onUnsubscribe(p *packet.Unsubscribe) error {
	ss := c.ss
	codes := make([]packet.ReasonCode, len(p.Filters))
	for i, f := range p.Filters {
		ss.mu.Lock()
		sub := ss.subs[f]
		ss.mu.Unlock()
		if sub == nil {
			codes[i] = packet.NoSubscriptionExisted
			continue
		}
		// A non-durable queue goes with its consumer; a durable one is
		// deleted here with whatever it still held, which needs the
		// permission to delete it. Without it the subscription stays whole
		// (consumer, queue, session entry): dropping only the session's
		// side would leave a queue collecting messages nobody reads.
		durable := false
		if !sub.Shared {
			if q, ok := c.s.b.Queue(sub.Queue); ok && q.Info().Durable {
				durable = true
				if err := c.sess.MayDeleteQueue(sub.Queue); err != nil {
					codes[i] = c.unsubscribeRefusal(f, err)
					continue
				}
			}
		}
		ss.mu.Lock()
		if ss.subs[f] == sub {
			delete(ss.subs, f)
		}
		ss.mu.Unlock()
		if sub.consumer != nil {
			sub.consumer.Close()
		}
		if sub.Shared {
			c.s.dropSharedIfUnused(c.sess, sub.Queue)
		} else if durable {
			if err := c.sess.DeleteQueue(sub.Queue); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
				c.logger().Warn("mqtt unsubscribe: queue not deleted", "client", c.clientID(), "queue", sub.Queue, "err", err)
			}
		}
		codes[i] = packet.Success
	}
	ss.persist()
	c.send(&packet.Unsuback{PacketID: p.PacketID, ReasonCodes: codes})
	return nil
}

// unsubscribeRefusal logs a refused unsubscription and returns its UNSUBACK
// code. 3.1.1 has no failure code: its UNSUBACK carries none, and the client
// keeps receiving from the subscription it could not end, which at least
// matches what the broker holds for it. The denial itself is audit-logged by
// the authorize hook.
func (c *conn) unsubscribeRefusal(filter string, err error) packet.ReasonCode {
	c.logger().Info("mqtt unsubscribe refused", "client", c.clientID(), "filter", filter, "err", err)
	var pe *core.PermissionError
	if errors.As(err, &pe) {
		return packet.NotAuthorized
	}
	return packet.UnspecifiedError
}

func (c *conn) onDisconnect(p *packet.Disconnect) error {
	ss := c.ss
	if c.ver == packet.Version5 && p.Properties.Has(packet.PropSessionExpiry) {
		ss.mu.Lock()
		was := ss.expiry
		if was == 0 && p.Properties.SessionExpiry != 0 {
			ss.mu.Unlock()
			// [MQTT-3.14.2-2]
			return protoErr(packet.ProtocolError, "session expiry interval set on DISCONNECT after CONNECT set 0")
		}
		ss.expiry = p.Properties.SessionExpiry
		ss.persistent = ss.expiry > 0
		ss.mu.Unlock()
	}
	if c.ver == packet.Version5 && p.ReasonCode == packet.DisconnectWithWillMessage {
		// The client asks for its will to be published [MQTT-3.14.4-3].
		c.quit = true
		return nil
	}
	c.will = nil // a normal DISCONNECT discards the will [MQTT-3.14.4-3]
	c.quit = true
	return nil
}

func nowMs() int64 { return time.Now().UnixMilli() }
