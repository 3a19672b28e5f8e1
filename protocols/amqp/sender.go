package amqp

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// attachSender attaches a link on which we send: the client's receiver,
// fed by a core consumer on a queue or a subscription.
func (ss *session) attachSender(l *link, a *codec.Attach) error {
	c := ss.c
	src := a.Source
	caps := sourceCaps(src)
	if src == nil {
		// No source at all: Qpid JMS looks a durable subscription up this
		// way to unsubscribe it (the link name names it; "shared" and
		// "global" come as the link's desired capabilities).
		src = &codec.Source{}
		caps = a.DesiredCapabilities
	}
	reply := *src // echoed, with what we changed
	reply.Filter = nil

	// Filters: a JMS selector and no-local are understood; others are not
	// echoed, which tells the client they are not applied (part 3, 3.5.8).
	var selector string
	noLocal := false
	for _, e := range src.Filter {
		d, ok := e.Value.(codec.Described)
		if !ok {
			continue
		}
		switch {
		case isDescriptor(d.Descriptor, selectorFilterSym, selectorFilterNum):
			s, ok := d.Value.(string)
			if !ok {
				return ss.refuse(l, a, codec.Errorf(codec.CondInvalidField, "the selector filter's value must be a string"))
			}
			selector = s
			reply.Filter = append(reply.Filter, e)
		case isDescriptor(d.Descriptor, noLocalFilterSym, noLocalFilterNum):
			noLocal = true
			reply.Filter = append(reply.Filter, e)
		}
	}

	opts := core.ConsumerOptions{
		Handler: func(d core.Delivery) { l.deliver(d) },
		OnClose: func(reason error) { l.closedByCore(reason) },
		AutoAck: l.sndMode == sndSettled,
	}
	var consumer *core.Consumer
	var err error
	switch {
	case src.Dynamic:
		name := c.dynamicName()
		if _, err = c.sess.CreateTemporaryQueue(name); err == nil {
			l.dynamic = name
			reply.Address = name
			opts.Selector = selector
			l.queue = name
			consumer, err = c.sess.Consume(name, opts)
		}
	case src.Address == "":
		// A receiver that names no address resumes a durable
		// subscription by its link name (how JMS clients find one).
		name, global := subscriptionName(l.name, caps)
		qname := core.SubscriptionQueueName(c.containerID, name)
		if global {
			qname = name
		}
		q, ok := c.s.opts.Broker.Queue(qname)
		if !ok || q.Info().RoutingType != core.Multicast || !q.Info().Durable {
			return ss.refuse(l, a, codec.Errorf(codec.CondNotFound, "no source address, and no durable subscription %q", qname))
		}
		info := q.Info()
		reply = subscriptionSource(info, reply)
		so := core.SubscribeOptions{Address: info.Address, Name: name, Durable: true, Shared: info.Shared, Selector: info.Filter, NoLocal: info.NoLocal}
		if global {
			so.QueueName = qname
		}
		l.durableQueue, l.sharedSub, l.lookup = qname, info.Shared, true
		l.queue = qname
		consumer, err = c.sess.Subscribe(so, opts)
	default:
		addr, rt := c.resolveAddress(src.Address, caps)
		if rt == core.Anycast && src.DistributionMode == codec.DistributionCopy {
			// A browser (JMS QueueBrowser): copies of the queue's messages
			// in order, sent pre-settled, nothing taken.
			l.queue = addr
			l.sndMode = sndSettled
			var br *core.Browser
			br, err = c.sess.NewBrowser(addr, core.BrowserOptions{Selector: selector, Handler: l.browsed})
			if errors.Is(err, core.ErrNoSuchQueue) {
				// A queue nobody has used yet has nothing to show: the
				// JMS QueueBrowser gets an empty enumeration (as from
				// Artemis, which creates it), not InvalidDestinationException.
				if aerr := c.id.Authorize(core.PermBrowse, addr); aerr != nil {
					return ss.refuse(l, a, codec.Errorf(codec.CondUnauthorizedAccess, "not allowed to browse %q", addr))
				}
				err = nil
				l.emptyBrowse = true
			}
			if err == nil {
				l.browser = br
				ss.byName[l.name] = l
				c.mu.Lock()
				ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, &codec.Attach{
					Name: a.Name, Handle: l.handle, Role: codec.RoleSender,
					SndSettleMode: l.sndMode, RcvSettleMode: l.rcvMode,
					Source: &reply, Target: a.Target, HasInitialDeliveryCount: true,
				}, nil), false)
				c.signalLocked()
				c.mu.Unlock()
				return nil
			}
			break
		}
		if rt == core.Anycast {
			opts.Selector = selector
			l.queue = addr
			if noLocal {
				// no-local means nothing on a queue: not echoed.
				reply.Filter = removeFilter(reply.Filter, noLocalFilterSym, noLocalFilterNum)
			}
			consumer, err = c.sess.Consume(addr, opts)
			break
		}
		name, global := subscriptionName(l.name, caps)
		durable := src.Durable != durableNone || src.ExpiryPolicy == expiryNever
		shared := global || hasCap(caps, capShared)
		so := core.SubscribeOptions{Address: addr, Selector: selector, NoLocal: noLocal, Durable: durable, Shared: shared}
		if durable || shared {
			so.Name = name
		}
		if global && shared {
			// Shared across container ids: named by the link name alone.
			so.QueueName = name
		}
		consumer, err = c.sess.Subscribe(so, opts)
		if err == nil {
			l.queue = consumer.Queue().Info().Name
			if durable {
				l.durableQueue, l.sharedSub = l.queue, shared
			}
		}
	}
	if err != nil {
		if l.dynamic != "" {
			_ = c.sess.DeleteQueue(l.dynamic)
			l.dynamic = ""
		}
		l.durableQueue = ""
		return ss.refuse(l, a, coreError(err))
	}
	l.consumer = consumer
	l.maxMessage = a.MaxMessageSize
	ss.byName[l.name] = l
	zero := uint32(0)
	c.mu.Lock()
	ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, &codec.Attach{
		Name: a.Name, Handle: l.handle, Role: codec.RoleSender,
		SndSettleMode: l.sndMode, RcvSettleMode: l.rcvMode,
		Source: &reply, Target: a.Target, Unsettled: ss.unsettledReply(l, a),
		InitialDeliveryCount: zero, HasInitialDeliveryCount: true,
	}, nil), false)
	c.signalLocked()
	c.mu.Unlock()
	return nil
}

func sourceCaps(s *codec.Source) []codec.Symbol {
	if s == nil {
		return nil
	}
	return s.Capabilities
}

// subscriptionSource is the source a lookup attach gets back: the
// subscription as it was made, so the client sees what it found (Qpid JMS
// takes a null source as "no such subscription").
func subscriptionSource(info core.QueueInfo, reply codec.Source) codec.Source {
	reply.Address = info.Address
	reply.Durable = durableUnsettled
	reply.ExpiryPolicy = expiryNever
	reply.Capabilities = []codec.Symbol{capTopic}
	if info.Shared {
		reply.Capabilities = append(reply.Capabilities, capShared)
		if info.ClientID == "" || info.Name == info.SubscriptionName {
			reply.Capabilities = append(reply.Capabilities, capGlobal)
		}
	}
	if info.Filter != "" {
		reply.Filter = append(reply.Filter, codec.MapEntry{Key: selectorFilterSym, Value: codec.Described{Descriptor: selectorFilterSym, Value: info.Filter}})
	}
	if info.NoLocal {
		reply.Filter = append(reply.Filter, codec.MapEntry{Key: noLocalFilterSym, Value: codec.Described{Descriptor: noLocalFilterSym, Value: codec.List{}}})
	}
	return reply
}

// isDescriptor reports whether a filter's descriptor is the symbol or
// the code given.
func isDescriptor(d any, sym codec.Symbol, code uint64) bool {
	switch v := d.(type) {
	case codec.Symbol:
		return v == sym
	case uint64:
		return v == code
	}
	return false
}

func removeFilter(m codec.Map, sym codec.Symbol, code uint64) codec.Map {
	out := m[:0]
	for _, e := range m {
		if d, ok := e.Value.(codec.Described); ok && isDescriptor(d.Descriptor, sym, code) {
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// subscriptionName is the subscription a topic link names: its link
// name, without the suffixes Qpid JMS adds ("|global" for a shared
// subscription without a client id, "|volatileN" for non-durable shared
// ones). global: the subscription is shared across client ids.
func subscriptionName(linkName string, caps []codec.Symbol) (name string, global bool) {
	name, global = linkName, hasCap(caps, capGlobal)
	if i := strings.IndexByte(name, '|'); i >= 0 {
		suffix := name[i+1:]
		name = name[:i]
		if strings.HasPrefix(suffix, "global") {
			global = true
		}
	}
	return name, global
}

// onFlow handles the client's flow for a link.
func (l *link) onFlow(f *codec.Flow) error {
	if f.Properties != nil && l.sending {
		// Only transactional acquisition puts properties here.
		if err := l.checkAcquisition(f); err != nil {
			return err
		}
	}
	if !l.sending {
		return l.onReceiverFlow(f)
	}
	if !f.HasLinkCredit && !f.Drain && !f.Echo {
		return nil
	}
	c := l.ss.c
	c.mu.Lock()
	var delta int64
	if f.HasLinkCredit {
		// The client's view: credit counts from its delivery-count, which
		// may lag ours by the deliveries in flight (part 2, 2.6.7).
		rcvCount := l.deliveryCount
		if f.HasDeliveryCount {
			rcvCount = f.DeliveryCount
		}
		// Delivery counts are serial numbers (RFC 1982): the difference
		// is taken modulo 2^32.
		credit := max(int64(int32(rcvCount-l.deliveryCount))+int64(f.LinkCredit), 0)
		delta = credit - l.credit
		l.credit = credit
	}
	l.drain = f.Drain
	c.mu.Unlock()
	if delta != 0 && l.consumer != nil {
		l.consumer.AddCredit(int(delta))
	}
	if delta > 0 && l.browser != nil {
		l.browser.AddCredit(int(delta))
	}
	if l.sb != nil && l.sb.node != nodeNone {
		l.flushReplies()
	}
	if f.Drain && (l.browser != nil || l.emptyBrowse) {
		// The browser has shown all it can: what credit is left is unused.
		c.mu.Lock()
		l.deliveryCount += uint32(max(l.credit, 0))
		l.credit = 0
		l.ss.appendFlowLocked(l)
		c.signalLocked()
		c.mu.Unlock()
		return nil
	}
	if f.Drain && l.consumer != nil {
		// What can go now goes; the rest of the credit is used up by
		// advancing the delivery count, and the flow says so.
		unused := l.consumer.Drain()
		c.mu.Lock()
		l.deliveryCount += uint32(unused)
		l.credit = 0
		l.ss.appendFlowLocked(l)
		c.signalLocked()
		c.mu.Unlock()
		return nil
	}
	if f.Echo {
		c.mu.Lock()
		l.ss.appendFlowLocked(l)
		c.signalLocked()
		c.mu.Unlock()
	}
	return nil
}

// deliver is the consumer's handler: under the queue's lock, it encodes
// the transfer frames into the output.
func (l *link) deliver(d core.Delivery) {
	l.transfer(d.Message, d.DeliveryCount, d.Tag, l.sndMode == sndSettled)
}

// browsed is a browser's handler: a copy, pre-settled.
func (l *link) browsed(m *core.Message) {
	l.browseTag++
	l.transfer(m, 1, l.browseTag, true)
}

func (l *link) transfer(m *core.Message, count uint32, coreTag uint64, settled bool) {
	c := l.ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := l.ss
	if ss.ended || c.ob.Dead || l.detaching.Load() {
		return // the session close returns what is unsettled
	}
	// Encoded into the session's scratch buffer: the frames copy it.
	payload := encodeMessage(ss.enc[:0], m, count)
	if cap(payload) <= maxKeptEncodeBuffer {
		ss.enc = payload[:0]
	}
	if l.sb != nil {
		payload = l.sb.annotate(payload, m) // Service Bus system properties
	}
	if l.maxMessage > 0 && uint64(len(payload)) > l.maxMessage {
		l.tooLarge(coreTag, settled, len(payload))
		return
	}
	id := ss.nextDeliveryID
	ss.nextDeliveryID++
	l.deliveryCount++
	l.credit--
	if !settled {
		ss.unsettled[id] = outDelivery{l: l, tag: coreTag}
	}
	binary.BigEndian.PutUint64(ss.tag[:], coreTag)
	tag := ss.tag[:]
	if l.sb != nil {
		tag = l.sb.lockTag(coreTag) // a Service Bus lock token
	}
	// Split to the client's max-frame-size: the first frame carries the
	// delivery's identity, every frame but the last says more.
	t := &ss.xfer
	*t = codec.Transfer{Handle: l.handle, DeliveryID: id, HasDeliveryID: true, DeliveryTag: tag,
		MessageFormat: 0, HasMessageFormat: true, Settled: settled}
	room := int(min(c.peerMaxFrame, 1<<30)) - transferOverhead
	for first := true; first || len(payload) > 0; first = false {
		chunk := payload
		if len(chunk) > room {
			chunk = payload[:room]
			t.More = true
		} else {
			t.More = false
		}
		payload = payload[len(chunk):]
		ss.appendPerfLocked(t, chunk, l)
		if first {
			// Continuations carry only the handle (and more).
			*t = codec.Transfer{Handle: l.handle, Settled: settled}
		}
	}
	c.s.counters.MessageOut()
	c.signalLocked()
}

// tooLarge handles a delivery above the client's max-message-size, which
// may not be sent (part 2, 2.7.3). Under the queue lock the core cannot be
// called, so a goroutine gives the message back as undeliverable here (it
// goes to another consumer, or to the dead-letter address once its
// attempts are used up) and the credit it took. Caller holds conn.mu.
func (l *link) tooLarge(tag uint64, settled bool, size int) {
	c := l.ss.c
	if settled || l.consumer == nil {
		// Acknowledged as it was handed over (at most once) or browsed:
		// nothing to give back.
		c.log.Warn("amqp message larger than the receiver's max-message-size dropped for it", "link", l.name, "size", size, "max", l.maxMessage)
		return
	}
	c.log.Info("amqp message larger than the receiver's max-message-size returned", "link", l.name, "size", size, "max", l.maxMessage)
	consumer := l.consumer
	go func() {
		_ = consumer.Settle(tag, core.Outcome{Kind: core.Modified, DeliveryFailed: true, UndeliverableHere: true})
		consumer.AddCredit(1)
	}()
}

// maxKeptEncodeBuffer bounds the encode buffer a session keeps between
// deliveries: a rare large message does not pin its size.
const maxKeptEncodeBuffer = 64 << 10

// transferOverhead bounds the frame header and transfer performative of
// one frame, so that a frame of payload stays within max-frame-size.
const transferOverhead = 64

// closedByCore is the core closing the consumer (queue deleted, permission
// revoked, operator): the link is detached with the reason. The reader
// owns the link table, so only the frame is written here; the client's
// detach answering it finds the link detaching.
func (l *link) closedByCore(reason error) {
	cond := codec.CondDetachForced
	switch {
	case errors.Is(reason, core.ErrQueueDeleted):
		cond = codec.CondResourceDeleted
	case errors.Is(reason, core.ErrPermissionRevoked):
		cond = codec.CondUnauthorizedAccess
	}
	c := l.ss.c
	c.log.Info("amqp link detached by the broker", "link", l.name, "reason", reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	l.detaching.Store(true)
	l.ss.queueFrameLocked(codec.AppendFrame(nil, l.ss.localCh, &codec.Detach{Handle: l.handle, Closed: true,
		Error: codec.Errorf(cond, "%v", reason)}, nil), false)
	c.signalLocked()
}

// outcomeOf maps a delivery state from a disposition to a core outcome.
// terminal is false for received (a progress report); txn is the
// transaction of a transactional state.
func outcomeOf(st codec.DeliveryState) (o core.Outcome, txn []byte, terminal bool, err error) {
	if ts, ok := st.(*codec.TransactionalState); ok {
		txn = ts.TxnID
		st = ts.Outcome
		if st == nil {
			// A transactional state without an outcome is a transfer's
			// (received) mark: nothing settles yet.
			return o, txn, false, nil
		}
	}
	switch s := st.(type) {
	case nil:
		// Settled with no outcome: taken as consumed, as the client
		// has finished with it and asks for nothing back.
		return core.Outcome{Kind: core.Accepted}, txn, true, nil
	case *codec.Accepted:
		return core.Outcome{Kind: core.Accepted}, txn, true, nil
	case *codec.Released:
		return core.Outcome{Kind: core.Released}, txn, true, nil
	case *codec.Rejected:
		o = core.Outcome{Kind: core.Rejected}
		if s.Error != nil {
			o.Condition, o.Reason = string(s.Error.Condition), deadLetterReason(s.Error)
		}
		return o, txn, true, nil
	case *codec.Modified:
		o = core.Outcome{Kind: core.Modified, DeliveryFailed: s.DeliveryFailed, UndeliverableHere: s.UndeliverableHere}
		for _, e := range s.MessageAnnotations {
			name, ok := annotationKey(e.Key)
			if !ok {
				continue
			}
			v, ok := message.PropValue(e.Value)
			if !ok {
				// A list, map, array or described value: kept encoded
				// (message.AnnEncodedPrefix), standing for name.
				o.Annotations = append(o.Annotations, prop.Property{Name: message.AnnEncodedPrefix + name, Value: prop.BytesValue(codec.AppendValue(nil, e.Value))})
				continue
			}
			// A simple value replaces an encoded one of the same name.
			o.Annotations = append(o.Annotations, prop.Property{Name: name, Value: v},
				prop.Property{Name: message.AnnEncodedPrefix + name})
		}
		return o, txn, true, nil
	case *codec.Received:
		return o, txn, false, nil
	}
	return o, txn, false, sessErr(codec.CondInvalidField, "unknown delivery state %T in a disposition", st)
}

func annotationKey(k any) (string, bool) {
	switch v := k.(type) {
	case codec.Symbol:
		return string(v), true
	case string:
		return v, true
	}
	return "", false
}
