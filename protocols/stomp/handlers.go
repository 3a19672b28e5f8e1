package stomp

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// Header names beyond the STOMP specification that Junction understands, as
// ActiveMQ and Artemis spell them.
const (
	hdrPersistent      = "persistent"
	hdrPriority        = "priority"
	hdrExpires         = "expires"
	hdrReplyTo         = "reply-to"
	hdrCorrelationID   = "correlation-id"
	hdrType            = "type"
	hdrTimestamp       = "timestamp"
	hdrRedelivered     = "redelivered"
	hdrDeliveryCount   = "delivery-count"
	hdrGroupID         = "JMSXGroupID"
	hdrGroupSeq        = "JMSXGroupSeq"
	hdrUserID          = "JMSXUserID"
	hdrJMSXDelivery    = "JMSXDeliveryCount"
	hdrScheduledDelay  = "AMQ_SCHEDULED_DELAY" // ActiveMQ: delay in ms
	hdrScheduledAt     = "_AMQ_SCHED_DELIVERY" // Artemis: absolute time in ms
	hdrSelector        = "selector"
	hdrPrefetchAMQ     = "activemq.prefetchSize"
	hdrExclusiveAMQ    = "activemq.exclusive"
	hdrPriorityAMQ     = "activemq.priority"
	hdrPrefetch        = "prefetch-count"
	hdrDurableArtemis  = "durable-subscription-name"
	hdrDurableArtemis2 = "durable-subscriber-name"
	hdrDurableAMQ      = "activemq.subscriptionName"
	hdrShared          = "shared-subscription-name"
	hdrNoLocal         = "no-local"
	hdrNoLocalAMQ      = "activemq.noLocal"
	hdrBrowser         = "browser"
	hdrClientID        = "client-id"
)

// toMessage builds a core message from a SEND frame.
func (c *conn) toMessage(f *frame.Frame, addr string, rt core.RoutingType) (*core.Message, error) {
	m := &core.Message{Address: addr, RoutingType: rt, Priority: core.DefaultPriority, Body: f.Body}
	for i, h := range f.Headers {
		if repeated(f.Headers[:i], h.Key) {
			continue // STOMP 1.2: the first occurrence of a header wins
		}
		v := h.Value
		switch h.Key {
		case frame.HdrDestination, frame.HdrReceipt, frame.HdrTransaction, frame.HdrContentLength,
			frame.HdrMessageID, frame.HdrSubscription, frame.HdrAck, hdrTimestamp, hdrRedelivered,
			hdrDeliveryCount, hdrJMSXDelivery, hdrUserID:
			// Set by the broker, never taken from a client.
		case frame.HdrContentType:
			m.ContentType = v
			if strings.HasPrefix(v, "text/") {
				m.BodyKind = core.BodyText
			}
		case hdrPersistent:
			m.Durable = v == "true"
		case hdrPriority:
			p, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || p < 0 || p > 9 {
				return nil, errorf("invalid priority %s: must be 0-9", printable(v))
			}
			m.Priority = uint8(p)
		case hdrExpires:
			exp, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || exp < 0 {
				return nil, errorf("invalid expires %s: must be a time in milliseconds since the epoch, or 0", printable(v))
			}
			m.Expiration = exp
		case hdrReplyTo:
			name, rrt, err := c.resolveReplyTo(v)
			if err != nil {
				return nil, err
			}
			m.ReplyTo, m.ReplyToType = name, rrt
		case hdrCorrelationID:
			if v != "" {
				m.CorrelationID = prop.StringValue(v)
			}
		case hdrType:
			m.Type = v
		case hdrGroupID:
			m.GroupID = v
		case hdrGroupSeq:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, errorf("invalid %s %s", hdrGroupSeq, printable(v))
			}
			m.GroupSeq = int32(n)
		case hdrScheduledDelay:
			d, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || d < 0 {
				return nil, errorf("invalid %s %s: must be milliseconds", hdrScheduledDelay, printable(v))
			}
			if d > 0 {
				m.ScheduledAt = time.Now().UnixMilli() + d
			}
		case hdrScheduledAt:
			at, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || at < 0 {
				return nil, errorf("invalid %s %s: must be a time in milliseconds since the epoch", hdrScheduledAt, printable(v))
			}
			m.ScheduledAt = at
		default:
			m.Properties = append(m.Properties, prop.Property{Name: h.Key, Value: prop.UntypedValue(v)})
		}
	}
	return m, nil
}

func (c *conn) resolveReplyTo(dest string) (string, core.RoutingType, error) {
	switch {
	case hasPrefix(dest, "/queue/"):
		return dest[len("/queue/"):], core.Anycast, nil
	case hasPrefix(dest, "/topic/"):
		return dest[len("/topic/"):], core.Multicast, nil
	case hasPrefix(dest, "/temp-queue/"), hasPrefix(dest, "/temp-topic/"):
		return c.resolveDest(dest, false)
	}
	return dest, core.RoutingAny, nil
}

func (c *conn) onSubscribe(f *frame.Frame) error {
	dest, ok := f.Get(frame.HdrDestination)
	if !ok || dest == "" {
		return errorf("SUBSCRIBE needs a destination header")
	}
	id, ok := f.Get(frame.HdrID)
	if !ok || id == "" {
		if c.ver > frame.V1_0 {
			return errorf("SUBSCRIBE needs an id header")
		}
		id = dest
	}
	if _, dup := c.subs[id]; dup {
		return errorf("subscription id %s is already in use on this connection", printable(id))
	}
	sub := &subscription{id: id, dest: dest}
	switch a, _ := f.Get(frame.HdrAck); a {
	case "", "auto":
		sub.ack = ackAuto
	case "client":
		sub.ack = ackClient
	case "client-individual":
		sub.ack = ackClientIndividual
	default:
		return errorf("invalid ack mode %s: use auto, client or client-individual", printable(a))
	}
	sel, _ := f.Get(hdrSelector)
	credit := c.s.opts.DefaultPrefetch
	if sub.ack == ackAuto {
		credit = c.s.opts.AutoAckWindow
	}
	for _, h := range []string{hdrPrefetchAMQ, hdrPrefetch} {
		if v, ok := f.Get(h); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return errorf("invalid %s %s", h, printable(v))
			}
			if n > 0 {
				credit = n
			}
		}
	}
	addr, rt, err := c.resolveDest(dest, true)
	if err != nil {
		return err
	}
	if b, _ := f.Get(hdrBrowser); b == "true" {
		return c.browse(f, sub, addr, sel, credit)
	}
	c.nextSub++
	sub.num = c.nextSub
	opts := core.ConsumerOptions{Selector: sel, Credit: credit, Handler: func(d core.Delivery) { c.deliver(sub, d) },
		OnClose: func(reason error) { c.subscriptionClosed(sub, reason) }}
	// ActiveMQ's consumer options, as its STOMP clients send them.
	if v, _ := f.Get(hdrExclusiveAMQ); v == "true" {
		opts.Exclusive = true
	}
	if v, ok := f.Get(hdrPriorityAMQ); ok {
		p, err := strconv.Atoi(v)
		if err != nil || p < -128 || p > 127 {
			return errorf("invalid %s %s", hdrPriorityAMQ, printable(v))
		}
		opts.Priority = p
	}
	if sub.ack == ackAuto {
		opts.AutoAck = true
	} else {
		opts.Window = true
		if c.ver < frame.V1_2 {
			sub.byMsgID = map[uint64]uint64{}
		}
	}
	durable := firstHeader(f, hdrDurableArtemis, hdrDurableAMQ, hdrDurableArtemis2)
	shared, _ := f.Get(hdrShared)
	if rt == core.RoutingAny {
		// A bare name: a queue if one exists, else a topic subscription.
		if q, ok := c.s.opts.Broker.Queue(addr); ok && q.Info().RoutingType == core.Anycast {
			rt = core.Anycast
		} else {
			rt = core.Multicast
		}
	}
	var consumer *core.Consumer
	var stored *pendingSend
	if rt == core.Anycast {
		sub.prefix = "/queue/"
		if durable != "" || shared != "" {
			return errorf("durable and shared subscriptions are for topics, not %s", printable(dest))
		}
		consumer, err = c.sess.Consume(addr, opts)
	} else {
		sub.prefix = "/topic/"
		so := core.SubscribeOptions{Address: addr, Selector: sel, NoLocal: firstHeader(f, hdrNoLocal, hdrNoLocalAMQ) == "true"}
		switch {
		case durable != "":
			so.Durable, so.Name = true, durable
			so.Shared = shared != "" || c.sess.ClientID() == ""
			if so.Shared && shared != "" {
				so.Name = shared
			}
			sub.durable = durable
		case shared != "":
			so.Shared, so.Name = true, shared
		}
		opts.Selector = "" // the subscription's filter does the selecting
		if rid := receiptOf(f); so.Durable && rid != "" {
			// The RECEIPT says the durable subscription is stored.
			stored = &pendingSend{c: c, receipt: rid, failure: "subscription not stored"}
			so.Stored = stored.done
		}
		consumer, err = c.sess.Subscribe(so, opts)
		if err == nil && !so.Durable {
			// The subscription's own queue, gone with it: beyond its bound
			// the oldest message waiting is discarded (Options).
			q := consumer.Queue()
			q.SetLimits(max(c.s.opts.MaxQueuedMessages, 0), max(c.s.opts.MaxQueuedBytes, 0), false)
			q.SetEvictOldest(true)
		}
	}
	if err != nil {
		return err
	}
	c.outMu.Lock()
	sub.consumer = consumer
	if sub.pendingCredit > 0 {
		// Delivered to during Consume/Subscribe: the writer could not
		// return that credit without the consumer.
		c.credits = append(c.credits, sub)
		c.ob.SignalLocked()
	}
	c.outMu.Unlock()
	c.addSub(sub)
	if stored != nil {
		stored.sent()
		return nil
	}
	c.receipt(receiptOf(f))
	return nil
}

func firstHeader(f *frame.Frame, keys ...string) string {
	for _, k := range keys {
		if v, ok := f.Get(k); ok && v != "" {
			return v
		}
	}
	return ""
}

func receiptOf(f *frame.Frame) string {
	r, _ := f.Get(frame.HdrReceipt)
	return r
}

// browse answers an ActiveMQ-style browser subscription: the queue's messages
// as MESSAGE frames, then one with browser:end. A core.Browser walks the
// queue with the writer's credit, as auto-acked deliveries flow, so a deep
// queue is neither copied nor buffered whole.
func (c *conn) browse(f *frame.Frame, sub *subscription, queue, sel string, window int) error {
	sub.prefix = "/queue/"
	// It has no consumer and nothing to acknowledge. Keep the id until the
	// client unsubscribes, as for any subscription (stomp.js and ActiveMQ
	// clients UNSUBSCRIBE after browser:end).
	sub.ack = ackAuto
	br, err := c.sess.NewBrowser(queue, core.BrowserOptions{Selector: sel,
		Handler: func(m *core.Message) { c.browsed(sub, m) },
		OnEnd:   func() { c.browseEnded(sub, queue) }})
	if err != nil {
		return err
	}
	c.outMu.Lock()
	sub.browser = br
	c.outMu.Unlock()
	c.addSub(sub)
	c.receipt(receiptOf(f))
	br.AddCredit(window)
	return nil
}

// browsed is a browser's handler: under the queue's lock, like deliver.
func (c *conn) browsed(sub *subscription, m *core.Message) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.ob.Dead {
		return
	}
	c.encodeMessage(sub, m, 0, 0, nil)
	if sub.pendingCredit == 0 {
		c.credits = append(c.credits, sub)
	}
	sub.pendingCredit++
	c.ob.SignalLocked()
}

func (c *conn) browseEnded(sub *subscription, queue string) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.ob.Dead {
		return
	}
	var e frame.Encoder
	e.Begin(c.ob.Buf, c.ver, frame.CmdMessage)
	e.Header(frame.HdrSubscription, sub.id)
	e.Header(frame.HdrMessageID, "browser-end")
	e.Header(frame.HdrDestination, "/queue/"+queue)
	e.Header(hdrBrowser, "end")
	c.ob.Buf = e.Body(nil)
	c.ob.SignalLocked()
}

// subscriptionClosed is the core closing a subscription's consumer on its
// own (queue deleted, permission revoked, operator). STOMP has no frame that
// ends one subscription: the client gets an ERROR naming it and the reason,
// and, as the specification requires after an ERROR, the connection closes.
func (c *conn) subscriptionClosed(sub *subscription, reason error) {
	msg := "subscription " + sub.id + " to " + sub.dest + " closed: " + reason.Error()
	c.logger().Info("stomp subscription closed by the broker", "subscription", sub.id, "reason", reason)
	c.sendError(msg, msg, "", frame.Header{Key: frame.HdrSubscription, Value: sub.id})
}

// sessionClosed is the core closing the whole session (the user was removed
// from the users file, an operator closed the connection).
func (c *conn) sessionClosed(reason error) {
	msg := "connection closed by the broker: " + reason.Error()
	c.logger().Info("stomp connection closed by the broker", "reason", reason)
	c.sendError(msg, msg, "")
}

func (c *conn) onUnsubscribe(f *frame.Frame) error {
	id, ok := f.Get(frame.HdrID)
	if !ok && c.ver == frame.V1_0 {
		id, ok = f.Get(frame.HdrDestination)
	}
	durable := firstHeader(f, hdrDurableArtemis, hdrDurableAMQ, hdrDurableArtemis2)
	sub := c.subs[id]
	if sub == nil && durable == "" {
		if !ok {
			return errorf("UNSUBSCRIBE needs an id header")
		}
		return errorf("no subscription with id %s", printable(id))
	}
	if sub != nil {
		if sub.consumer != nil { // nil for a browser subscription
			sub.consumer.Close()
		}
		if sub.browser != nil {
			sub.browser.Close()
		}
		delete(c.subs, id)
		delete(c.subNums, sub.num)
	}
	// A durable subscription is deleted only when asked explicitly.
	if durable != "" {
		if err := c.sess.Unsubscribe(durable); err != nil {
			return err
		}
	}
	c.receipt(receiptOf(f))
	return nil
}

// lookupAck finds the subscription and delivery tag an ACK or NACK names.
func (c *conn) lookupAck(f *frame.Frame) (*subscription, uint64, error) {
	if c.ver >= frame.V1_2 {
		id, ok := f.Get(frame.HdrID)
		if !ok {
			return nil, 0, errorf("%s needs an id header", f.Command)
		}
		numStr, tagStr, ok := strings.Cut(id, ".")
		num, err1 := strconv.ParseUint(numStr, 10, 64)
		tag, err2 := strconv.ParseUint(tagStr, 10, 64)
		if !ok || err1 != nil || err2 != nil || c.subNums[num] == nil {
			return nil, 0, errorf("%s for unknown message %s", f.Command, printable(id))
		}
		return c.subNums[num], tag, nil
	}
	mid, ok := f.Get(frame.HdrMessageID)
	if !ok {
		return nil, 0, errorf("%s needs a message-id header", f.Command)
	}
	msgID, err := strconv.ParseUint(strings.TrimPrefix(mid, "ID:"), 10, 64)
	if err != nil {
		return nil, 0, errorf("%s for unknown message %s", f.Command, printable(mid))
	}
	candidates := c.subs
	if sid, ok := f.Get(frame.HdrSubscription); ok {
		sub := c.subs[sid]
		if sub == nil {
			return nil, 0, errorf("%s for unknown subscription %s", f.Command, printable(sid))
		}
		candidates = map[string]*subscription{sid: sub}
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	for _, sub := range candidates {
		if tag, ok := sub.byMsgID[msgID]; ok {
			return sub, tag, nil
		}
		if sub.ack == ackAuto && len(candidates) == 1 {
			return sub, 0, nil
		}
	}
	return nil, 0, errorf("%s for unknown message %s", f.Command, printable(mid))
}

func (c *conn) onAck(f *frame.Frame, nack bool) error {
	sub, tag, err := c.lookupAck(f)
	if err != nil {
		return err
	}
	if sub.ack == ackAuto {
		c.receipt(receiptOf(f)) // nothing to settle: auto-acked on delivery
		return nil
	}
	txID, inTx := f.Get(frame.HdrTransaction)
	if sub.byMsgID != nil && !(nack && inTx) {
		c.outMu.Lock()
		if sub.ack == ackClient && !nack {
			for id, t := range sub.byMsgID {
				if t <= tag {
					delete(sub.byMsgID, id)
				}
			}
		} else {
			for id, t := range sub.byMsgID {
				if t == tag {
					delete(sub.byMsgID, id)
					break
				}
			}
		}
		c.outMu.Unlock()
	}
	if inTx {
		tx := c.txs[txID]
		if tx == nil {
			return errorf("unknown transaction %s", printable(txID))
		}
		switch {
		case nack:
			// Takes effect at COMMIT; ABORT leaves the message with us.
			err = tx.Settle(sub.consumer, tag, core.Outcome{Kind: core.Modified, DeliveryFailed: true})
			if err == nil && sub.byMsgID != nil {
				if c.txNacks == nil {
					c.txNacks = map[string][]txNack{}
				}
				c.txNacks[txID] = append(c.txNacks[txID], txNack{sub, tag})
			}
		case sub.ack == ackClient:
			err = tx.AckUpTo(sub.consumer, tag)
		default:
			err = tx.Ack(sub.consumer, tag)
		}
	} else if rid := receiptOf(f); rid != "" {
		// The RECEIPT says the settlement is stored: it waits for the store,
		// and an ERROR replaces it if the store fails (an acked message
		// then comes back to its queue).
		ps := &pendingSend{c: c, receipt: rid, failure: strings.ToLower(f.Command) + " not stored"}
		switch {
		case nack:
			err = sub.consumer.SettleWait(tag, core.Outcome{Kind: core.Modified, DeliveryFailed: true}, ps.done)
		case sub.ack == ackClient:
			err = sub.consumer.AckUpToWait(tag, ps.done)
		default:
			err = sub.consumer.SettleWait(tag, core.Outcome{Kind: core.Accepted}, ps.done)
		}
		if err != nil {
			return errorf("%s refused: %v", f.Command, err)
		}
		ps.sent()
		return nil
	} else {
		switch {
		case nack:
			err = sub.consumer.Nack(tag)
		case sub.ack == ackClient:
			err = sub.consumer.AckUpTo(tag)
		default:
			err = sub.consumer.Ack(tag)
		}
	}
	if err != nil {
		return errorf("%s refused: %v", f.Command, err)
	}
	c.receipt(receiptOf(f))
	return nil
}

// maxOpenTransactions bounds the transactions one connection may hold open:
// each keeps its sends and settlements in memory until COMMIT or ABORT.
const maxOpenTransactions = 256

func (c *conn) onBegin(f *frame.Frame) error {
	id, ok := f.Get(frame.HdrTransaction)
	if !ok || id == "" {
		return errorf("BEGIN needs a transaction header")
	}
	if c.txs[id] != nil {
		return errorf("transaction %s is already open", printable(id))
	}
	if len(c.txs) >= maxOpenTransactions {
		return errorf("too many open transactions (%d)", maxOpenTransactions)
	}
	if c.txs == nil {
		c.txs = map[string]*core.Tx{}
	}
	c.txs[id] = c.sess.Begin()
	c.receipt(receiptOf(f))
	return nil
}

func (c *conn) onCommit(ctx context.Context, f *frame.Frame) error {
	id, _ := f.Get(frame.HdrTransaction)
	tx := c.txs[id]
	if tx == nil {
		return errorf("COMMIT of unknown transaction %s", printable(id))
	}
	delete(c.txs, id)
	c.forgetTxNacks(id, true)
	receipt := receiptOf(f)
	// A commit may wait for space (address-full-policy BLOCK): its receipt
	// keeps its place in the line meanwhile.
	seq := c.reserveReply()
	err := c.producer().Commit(ctx, tx, func(err error) {
		if withdrawn(err) {
			c.completeClosed(seq)
			return
		}
		if err != nil {
			c.completeError(seq, "transaction not stored", "The broker could not store the transaction: "+err.Error(), receipt)
			return
		}
		c.completeReply(seq, receipt)
	})
	if err != nil {
		c.completeReply(seq, "")
		tx.Rollback()
		return err
	}
	return nil
}

func (c *conn) onAbort(f *frame.Frame) error {
	id, _ := f.Get(frame.HdrTransaction)
	tx := c.txs[id]
	if tx == nil {
		return errorf("ABORT of unknown transaction %s", printable(id))
	}
	delete(c.txs, id)
	c.forgetTxNacks(id, false)
	tx.Rollback()
	c.receipt(receiptOf(f))
	return nil
}

// txNack is a NACK held by a transaction, for a subscription that settles by
// message-id.
type txNack struct {
	sub *subscription
	tag uint64
}

// forgetTxNacks ends the transaction's record of its NACKs; with settled
// (COMMIT) their messages' message-id lookups go too.
func (c *conn) forgetTxNacks(txID string, settled bool) {
	ns := c.txNacks[txID]
	delete(c.txNacks, txID)
	if !settled || len(ns) == 0 {
		return
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	for _, n := range ns {
		for id, t := range n.sub.byMsgID {
			if t == n.tag {
				delete(n.sub.byMsgID, id)
				break
			}
		}
	}
}

func (c *conn) onDisconnect(f *frame.Frame) error {
	for id, tx := range c.txs {
		tx.Rollback()
		delete(c.txs, id)
	}
	c.txNacks = nil
	// Close the consumers before the receipt, so what they held is back in
	// the queues when the client learns it is disconnected, and give the
	// user's connection slot back so that it can reconnect at once.
	c.sess.Close()
	c.id.Close()
	// The receipt goes after every earlier reply [STOMP 1.2 graceful
	// disconnect]; the connection closes after it. cleanup waits for it.
	var encoded []byte
	if r := receiptOf(f); r != "" {
		encoded = appendReceipt(nil, c.ver, r)
	}
	c.appendReply(encoded, true, false)
	c.quit = true
	return nil
}

// deliver is the core's handler for a subscription: it runs under the queue's
// lock, so it only encodes into the outbound buffer.
func (c *conn) deliver(sub *subscription, d core.Delivery) {
	c.outMu.Lock()
	if c.ob.Dead {
		// The connection is going away; its session close returns what is
		// unsettled, and auto-acked messages were at-most-once anyway.
		c.outMu.Unlock()
		return
	}
	c.encodeMessage(sub, d.Message, d.DeliveryCount, d.Tag, sub)
	c.s.counters.MessageOut()
	if sub.ack == ackAuto {
		if sub.pendingCredit == 0 {
			c.credits = append(c.credits, sub)
		}
		sub.pendingCredit++
	} else if sub.byMsgID != nil {
		sub.byMsgID[d.Message.ID] = d.Tag
	}
	c.ob.SignalLocked()
	c.outMu.Unlock()
}

// encodeMessage appends a MESSAGE frame. Caller holds outMu. tag is 0 for
// browsed messages; ackSub is nil when no ack header is wanted.
func (c *conn) encodeMessage(sub *subscription, m *core.Message, count uint32, tag uint64, ackSub *subscription) {
	var scratch [64]byte
	var e frame.Encoder
	e.Begin(c.ob.Buf, c.ver, frame.CmdMessage)
	e.Header(frame.HdrSubscription, sub.id)
	e.HeaderBytes(frame.HdrMessageID, strconv.AppendUint(append(scratch[:0], "ID:"...), m.ID, 10))
	e.HeaderBytes(frame.HdrDestination, append(append(scratch[:0], sub.prefix...), m.Address...))
	if ackSub != nil && ackSub.ack != ackAuto && c.ver >= frame.V1_2 {
		b := strconv.AppendUint(scratch[:0], sub.num, 10)
		b = append(b, '.')
		e.HeaderBytes(frame.HdrAck, strconv.AppendUint(b, tag, 10))
	}
	if m.ContentType != "" {
		e.Header(frame.HdrContentType, m.ContentType)
	}
	if m.Durable {
		e.Header(hdrPersistent, "true")
	}
	e.HeaderUint(hdrPriority, uint64(m.Priority))
	e.HeaderInt(hdrTimestamp, m.Timestamp)
	e.HeaderInt(hdrExpires, m.Expiration)
	switch cid := &m.CorrelationID; cid.Kind {
	case prop.Null:
	case prop.Bytes:
		e.Header(hdrCorrelationID, cid.S)
	default:
		e.Header(hdrCorrelationID, cid.Text())
	}
	if m.ReplyTo != "" {
		e.Header(hdrReplyTo, destFor(m.ReplyTo, m.ReplyToType))
	}
	if m.Type != "" {
		e.Header(hdrType, m.Type)
	}
	if m.GroupID != "" {
		e.Header(hdrGroupID, m.GroupID)
	}
	if m.UserID != "" {
		e.Header(hdrUserID, m.UserID)
	}
	if count > 1 {
		e.Header(hdrRedelivered, "true")
	} else {
		e.Header(hdrRedelivered, "false")
	}
	if count > 0 {
		e.HeaderUint(hdrDeliveryCount, uint64(count))
		e.HeaderUint(hdrJMSXDelivery, uint64(count))
	}
	for i := range m.Properties {
		p := &m.Properties[i]
		switch p.Value.Kind {
		case prop.String:
			e.Header(p.Name, p.Value.S)
		case prop.Bytes:
			e.Header(p.Name, p.Value.S)
		default:
			e.Header(p.Name, p.Value.Text())
		}
	}
	c.ob.Buf = e.Body(m.Body)
}

// addSub registers a subscription; the maps are made on first use so an idle
// connection carries none.
func (c *conn) addSub(sub *subscription) {
	if c.subs == nil {
		c.subs, c.subNums = map[string]*subscription{}, map[uint64]*subscription{}
	}
	c.subs[sub.id] = sub
	if sub.num != 0 {
		c.subNums[sub.num] = sub
	}
}

// repeated reports whether key occurs in hs. Frames carry a handful of
// headers, so a scan beats allocating a set for every SEND.
func repeated(hs []frame.Header, key string) bool {
	for _, h := range hs {
		if h.Key == key {
			return true
		}
	}
	return false
}
