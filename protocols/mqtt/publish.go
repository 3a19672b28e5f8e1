package mqtt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// Annotations the adapter keeps on core messages for MQTT's own use. They
// are annotations, not properties, so no other protocol's client sees them.
// (Journals of format 1 stored them as properties _MQTT_QOS and
// _MQTT_RETAIN; core's decoder renames those to these.)
const (
	annQoS    = "mqtt.qos"    // 2 for a QoS 2 publish; QoS 1 and 0 are told by Durable
	annRetain = "mqtt.retain" // the publish had RETAIN set (for retain-as-published)
)

// ownAddress maps a topic to its core address, in memory of its own (the
// topic may be a view of a read buffer: see onPublish).
func ownAddress(topic string) string {
	addr := topicToAddress(topic)
	if unsafe.StringData(addr) == unsafe.StringData(topic) {
		// Unchanged by the mapping, so still the caller's string.
		addr = strings.Clone(topic)
	}
	return addr
}

// addressOf is ownAddress for the reader's publishes, remembering the last
// topic: a producer usually publishes to few topics, and mapping each
// publish's topic cost an allocation. Reader goroutine only.
func (c *conn) addressOf(topic string) string {
	if topic != c.lastTopic || c.lastTopic == "" {
		addr := ownAddress(topic)
		c.lastTopic, c.lastAddr = addr, addr
		if addr != topic {
			c.lastTopic = strings.Clone(topic)
		}
	}
	return c.lastAddr
}

// toMessage maps a PUBLISH to a core message (see docs/MQTT.md); addr is
// the topic's address (ownAddress).
func toMessage(addr string, qos byte, retain bool, pr *packet.Properties, payload []byte, v5 bool) *core.Message {
	m := &core.Message{
		Address:     addr,
		RoutingType: core.Multicast,
		Durable:     qos > 0,
		Priority:    core.DefaultPriority,
		Body:        append([]byte(nil), payload...),
	}
	if qos == 2 {
		m.Annotations = append(m.Annotations, prop.Property{Name: annQoS, Value: prop.Int8Value(2)})
	}
	if retain {
		m.Annotations = append(m.Annotations, prop.Property{Name: annRetain, Value: prop.BoolValue(true)})
	}
	if !v5 {
		return m
	}
	if pr.Has(packet.PropPayloadFormat) && pr.PayloadFormat == 1 {
		m.BodyKind = core.BodyText
	}
	if pr.Has(packet.PropMessageExpiry) {
		m.Expiration = time.Now().UnixMilli() + int64(pr.MessageExpiry)*1000
	}
	if pr.Has(packet.PropContentType) {
		m.ContentType = pr.ContentType
	}
	if pr.Has(packet.PropResponseTopic) {
		m.ReplyTo, m.ReplyToType = topicToAddress(pr.ResponseTopic), core.Multicast
	}
	if pr.Has(packet.PropCorrelationData) && len(pr.CorrelationData) > 0 {
		// Correlation data is binary, but nearly always text: kept as a
		// string when it is UTF-8, so JMS selectors and STOMP headers read
		// it as the text it is.
		if utf8.Valid(pr.CorrelationData) {
			m.CorrelationID = prop.StringValue(string(pr.CorrelationData))
		} else {
			m.CorrelationID = prop.BytesValue(bytes.Clone(pr.CorrelationData))
		}
	}
	// User properties are the application's properties (STOMP consumers
	// get them as headers).
	for _, u := range pr.User {
		m.Properties = append(m.Properties, prop.Property{Name: u.Key, Value: prop.StringValue(u.Value)})
	}
	return m
}

func willMessage(w *packet.Will) *core.Message {
	return toMessage(ownAddress(w.Topic), w.QoS, w.Retain, &w.Properties, w.Payload, true)
}

// reasonFor maps a core refusal to an MQTT 5 reason code.
func reasonFor(err error) packet.ReasonCode {
	var pe *core.PermissionError
	switch {
	case errors.As(err, &pe):
		return packet.NotAuthorized
	case errors.Is(err, core.ErrAddressFull), errors.Is(err, core.ErrResourceLimit):
		return packet.QuotaExceeded
	case errors.Is(err, core.ErrMessageTooLarge):
		return packet.PacketTooLarge
	case errors.Is(err, core.ErrNoSuchAddress), errors.Is(err, core.ErrInvalidName):
		return packet.TopicNameInvalid
	case errors.Is(err, core.ErrStoreUnavailable):
		// The broker's fault, not the publish's: nothing more specific fits.
		return packet.UnspecifiedError
	}
	return packet.ImplementationSpecificError
}

func (c *conn) onPublish(ctx context.Context, p *packet.Publish) error {
	// A view of the packet's bytes, which the reader reuses once this
	// returns: what keeps the topic (an alias, the retained map, the
	// message's address) takes a copy. Converting it for every publish was
	// an allocation per message that most of them did not need.
	topic := unsafe.String(unsafe.SliceData(p.Topic), len(p.Topic))
	v5 := c.ver == packet.Version5
	if v5 && len(p.Properties.SubscriptionIDs) > 0 {
		return protoErr(packet.ProtocolError, "a client PUBLISH must not carry a subscription identifier [MQTT-3.3.4-6]")
	}
	if v5 && p.Properties.Has(packet.PropTopicAlias) {
		a := p.Properties.TopicAlias
		if a == 0 || int(a) > c.s.opts.TopicAliasMaximum {
			return protoErr(packet.TopicAliasInvalid, "topic alias %d is out of range [MQTT-3.3.2-9]", a)
		}
		if topic == "" {
			if topic = c.inAliases[a]; topic == "" {
				return protoErr(packet.ProtocolError, "topic alias %d was never set", a)
			}
		} else {
			if c.inAliases == nil {
				c.inAliases = map[uint16]string{}
			}
			c.inAliases[a] = strings.Clone(topic)
		}
	}
	if !packet.ValidTopicName(topic) {
		return protoErr(packet.TopicNameInvalid, "invalid topic name %q [MQTT-3.3.2-2]", truncate(topic))
	}
	ss := c.ss
	var slot uint64
	if p.QoS > 0 {
		c.lock()
		over := c.inFlightIn+1 > c.s.opts.ReceiveMaximum
		if !over && p.QoS == 1 {
			// Nothing between here and Send refuses a QoS 1 publish: its
			// slot is taken in the same lock round as the check. A QoS 2
			// one takes it after its duplicate check.
			slot = c.reserveAckLocked(1)
		}
		c.unlock()
		if over {
			return protoErr(packet.ReceiveMaximumExceeded, "more than %d QoS 1 and 2 publishes in flight [MQTT-3.3.4-7]", c.s.opts.ReceiveMaximum)
		}
	}
	if p.QoS == 2 {
		ss.mu.Lock()
		_, dup := ss.inbound2[p.PacketID]
		if !dup {
			if ss.inbound2 == nil {
				ss.inbound2 = map[uint16]struct{}{}
			}
			ss.inbound2[p.PacketID] = struct{}{}
		}
		ss.mu.Unlock()
		if dup {
			// Already received and routed: only the PUBREC is repeated [MQTT-4.3.3-9].
			c.send(&packet.Pubrec{PacketID: p.PacketID})
			return nil
		}
	}
	m := toMessage(c.addressOf(topic), p.QoS, p.Retain, &p.Properties, p.Payload, v5)
	if p.QoS == 2 {
		c.lock()
		slot = c.reserveAckLocked(2)
		c.unlock()
	}
	// A publish is confirmed once the message and, for a retained one, the
	// retained copy are both stored. The completion is one closure: it
	// keeps what it needs of the packet, not the packet (that would move
	// every PUBLISH, 336 bytes, to the heap), and only a retained publish,
	// with two completions to join, adds an ackJoin.
	var ack, done func(error)
	var join *ackJoin
	if p.QoS > 0 {
		qos, id := p.QoS, p.PacketID
		ack = func(err error) {
			// Counted before the PUBACK or PUBREC can go out, which may
			// happen inside Send: a client that has its acknowledgement
			// finds its message in the adapter's stats.
			if err == nil {
				c.s.counters.MessageIn()
			}
			c.completeAck(slot, qos, id, err)
		}
		done = ack
		if p.Retain {
			join = &ackJoin{n: 2, done: ack}
			done = join.one
		}
	}
	c.beginDefer()
	if err := c.producer().Send(ctx, m, done); err != nil {
		code := reasonFor(err)
		c.logger().Info("mqtt publish refused", "client", ss.id, "topic", strings.Clone(topic), "code", code.String(), "err", err)
		if p.QoS == 0 || !v5 {
			// 3.x has no way to refuse a publish, and QoS 0 no
			// acknowledgement: the connection is closed rather than the
			// message silently dropped.
			return protoErr(code, "publish to %q refused: %v", truncate(topic), err)
		}
		if ack != nil {
			// Send did not take done: the refusal is the only completion.
			ack(err)
		}
		return nil
	}
	if p.QoS == 0 {
		c.s.counters.MessageIn()
	}
	if p.Retain {
		// The store may push back: the batch's flushes do not wait with it.
		c.endDefer()
		var rdone func(error)
		if join != nil {
			rdone = join.one
		}
		c.s.setRetained(strings.Clone(topic), m.Clone(), rdone)
	}
	if c.prod.Held() > c.s.opts.MaxHeldBytes {
		c.endDefer()
		c.awaitRelease()
	}
	return nil
}

// ackJoin calls done once n completions have arrived, with the first error.
type ackJoin struct {
	mu   sync.Mutex
	n    int
	err  error
	done func(error)
}

func (j *ackJoin) one(err error) {
	j.mu.Lock()
	if err != nil && j.err == nil {
		j.err = err
	}
	j.n--
	fire := j.n == 0
	err = j.err
	j.mu.Unlock()
	if fire {
		j.done(err)
	}
}

// reserveAckLocked takes the next slot in the ordered acknowledgement
// queue for a QoS 1 or 2 publish. Caller holds the out lock.
func (c *conn) reserveAckLocked(qos byte) uint64 {
	c.inFlightIn++
	c.acks = append(c.acks, ackSlot{qos: qos})
	return c.ackBase + uint64(len(c.acks)) - 1
}

// completeAck fills a slot; completed slots at the head go out in order.
func (c *conn) completeAck(slot uint64, qos byte, packetID uint16, err error) {
	code := packet.Success
	if err != nil {
		code = reasonFor(err)
		if code == packet.PacketTooLarge {
			// Not a PUBACK/PUBREC reason code [MQTT-3.4.2-1]: "valid,
			// but the receiver is not willing to accept it".
			code = packet.ImplementationSpecificError
		}
		switch {
		case errors.Is(err, core.ErrClosed), errors.Is(err, context.Canceled):
		case errors.Is(err, core.ErrStoreUnavailable):
			// The broker logs a store that cannot write once, not per publish.
			c.logger().Debug("mqtt publish not stored", "client", c.clientID(), "err", err)
		default:
			c.logger().Warn("mqtt publish not stored", "client", c.clientID(), "err", err)
		}
	}
	if c.ver != packet.Version5 && err != nil {
		// 3.x cannot say no: close instead of confirming.
		c.disconnectWith(packet.UnspecifiedError, "")
		return
	}
	// Encoded on the stack (the concrete types, not a packet.Packet, which
	// would move them to the heap) and kept in the slot.
	var enc [ackMax]byte
	ack := packet.Puback{PacketID: packetID, ReasonCode: code}
	var b []byte
	if qos == 1 {
		b, _ = ack.Append(enc[:0], c.ver)
	} else {
		b, _ = (*packet.Pubrec)(&ack).Append(enc[:0], c.ver)
		if err != nil {
			c.ss.mu.Lock()
			delete(c.ss.inbound2, packetID)
			c.ss.mu.Unlock()
		}
	}
	c.lock()
	i := int(slot - c.ackBase)
	if i < 0 || i >= len(c.acks) {
		c.unlock()
		return
	}
	c.acks[i].n = uint8(copy(c.acks[i].pkt[:], b))
	c.acks[i].done = true
	c.acks[i].failed = err != nil
	k := 0
	for k < len(c.acks) && c.acks[k].done {
		a := &c.acks[k]
		if !c.ob.Dead {
			c.ob.Buf = append(c.ob.Buf, a.pkt[:a.n]...)
		}
		k++
		// A QoS 1 exchange ends with its PUBACK; a QoS 2 one with PUBCOMP,
		// unless its PUBREC refused the message.
		if a.qos == 1 || a.failed {
			c.inFlightDone()
		}
	}
	if k > 0 {
		// The rest moves to the front: the slice keeps its array, where
		// reslicing past the head would have reallocated it as it crept on.
		n := copy(c.acks, c.acks[k:])
		clear(c.acks[n:])
		c.acks = c.acks[:n]
		c.ackBase += uint64(k)
	}
	if len(c.acks) == 0 && c.drained != nil {
		close(c.drained)
		c.drained = nil
	}
	if c.busy.Load() || c.inFlightIn > 0 {
		// More acknowledgements are on their way: they go out together,
		// with the deliveries, when a reader's batch ends (the publisher's
		// own, when the message was routed inline), else from a writer
		// goroutine. Starting that goroutine for each batch's PUBACKs was
		// the larger part of a QoS 1 publish's scheduling cost.
		c.signalLocked()
		c.unlock()
		return
	}
	c.ob.FlushLocked()
}

// inFlightDone releases a receive-maximum slot. Caller holds the out lock.
func (c *conn) inFlightDone() {
	if c.inFlightIn > 0 {
		c.inFlightIn--
	}
}

func (c *conn) onPubrel(id uint16) {
	ss := c.ss
	ss.mu.Lock()
	_, ok := ss.inbound2[id]
	delete(ss.inbound2, id)
	ss.mu.Unlock()
	code := packet.Success
	if !ok && c.ver == packet.Version5 {
		code = packet.PacketIdentifierNotFound
	}
	c.lock()
	if ok {
		c.inFlightDone()
	}
	c.queueLocked(&packet.Pubcomp{PacketID: id, ReasonCode: code})
	c.unlock()
}

// deliver is the core's handler for a subscription: it runs under the queue's
// lock, so it only encodes into the connection's buffer.
func (ss *session) deliver(sub *subscription, d core.Delivery) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	c := ss.conn
	if c == nil {
		return // the consumer is closing; the core takes the message back
	}
	if c.unsent != nil {
		// The connection is detaching: the delivery goes back to its
		// queue, uncounted, when its consumer closes a moment later.
		if d.Consumer != nil && !sub.autoAck {
			c.unsent[unsentKey{d.Consumer, d.Tag}] = true
		}
		return
	}
	qos := min(sub.QoS, msgQoS(d.Message))
	dup, qos, ids := c.copyFor(sub, d, qos)
	if dup {
		return
	}
	if qos > 0 && len(ss.outFlight) >= c.recvMax {
		ss.pending = append(ss.pending, pendingOut{sub: sub, d: d, qos: qos, ids: ids})
		return
	}
	c.writePublish(sub, d, qos, false, ids)
}

// writePublish encodes one PUBLISH. Caller holds ss.mu. retained marks a
// retained message sent because of a new subscription (no core delivery).
// ids, when not nil, are the subscription identifiers of every matching
// subscription (the message is sent once for all of them, copies.go).
func (c *conn) writePublish(sub *subscription, d core.Delivery, qos byte, retained bool, ids []uint32) {
	c.s.counters.MessageOut()
	ss := c.ss
	m := d.Message
	p := packet.Publish{QoS: qos, Payload: m.Body}
	topic := sub.topicFor(m.Address)
	if retained {
		p.Retain = true
	} else if sub.RAP {
		p.Retain = m.Annotation(annRetain).Bool()
	}
	if qos > 0 {
		p.Dup = d.DeliveryCount > 1
		p.PacketID = ss.allocID(m.ID)
	}
	if c.ver == packet.Version5 {
		c.setPublishProps(&p, m, sub, topic, ids)
	} else {
		p.Topic = topicBytes(topic)
	}
	settleAfterFlush := !retained && !sub.autoAck && qos == 0
	if size := p.Size(c.ver); size == 0 || size > int(c.maxOut) {
		// The client cannot take it: discard as if delivered [MQTT-3.1.2-25].
		c.logger().Debug("mqtt message over the client's maximum packet size dropped", "client", ss.id, "size", size)
		if len(p.Topic) > 0 && p.Properties.Has(packet.PropTopicAlias) {
			// The alias was assigned for this packet, which is not sent.
			delete(c.outAliases, topic)
		}
		if !retained {
			work := ss.settleCopy(m.ID)
			c.lock()
			c.ackAfterFlushLocked(work...)
			if sub.autoAck {
				// Settled on delivery; only the credit comes back.
				c.creditAfterFlushLocked(d.Consumer)
			} else {
				c.ackAfterFlushLocked(flushAck{c: d.Consumer, tag: d.Tag})
			}
			c.ob.SignalLocked()
			c.unlock()
		}
		return
	}
	if qos > 0 {
		om := &outMsg{tag: d.Tag, msgID: m.ID, qos: qos}
		if !retained {
			om.consumer = d.Consumer
		}
		ss.initMaps()
		ss.outFlight[p.PacketID] = om
	}
	var work []flushAck
	if qos == 0 && !retained {
		// The copy is settled once written; so are the others.
		work = ss.settleCopy(m.ID)
	}
	c.lock()
	c.appendPublishLocked(&p)
	c.ackAfterFlushLocked(work...)
	if settleAfterFlush {
		c.ackAfterFlushLocked(flushAck{c: d.Consumer, tag: d.Tag})
	} else if sub.autoAck && !retained {
		c.creditAfterFlushLocked(d.Consumer)
	}
	c.unlock()
}

// setPublishProps fills the 5.0 properties of an outgoing PUBLISH, with a
// topic alias when the client allows them.
func (c *conn) setPublishProps(p *packet.Publish, m *core.Message, sub *subscription, topic string, ids []uint32) {
	pr := &p.Properties
	if m.BodyKind == core.BodyText {
		pr.PayloadFormat = 1
		pr.Set(packet.PropPayloadFormat)
	}
	if m.Expiration != 0 {
		left := (m.Expiration - time.Now().UnixMilli() + 999) / 1000
		pr.MessageExpiry = uint32(max(left, 1))
		pr.Set(packet.PropMessageExpiry)
	}
	if m.ContentType != "" {
		pr.ContentType = m.ContentType
		pr.Set(packet.PropContentType)
	}
	if m.ReplyTo != "" {
		pr.ResponseTopic = addressToTopic(m.ReplyTo)
		pr.Set(packet.PropResponseTopic)
	}
	switch cid := &m.CorrelationID; cid.Kind {
	case prop.Null:
	case prop.Bytes:
		pr.CorrelationData = []byte(cid.S)
		pr.Set(packet.PropCorrelationData)
	default:
		pr.CorrelationData = []byte(cid.Text())
		pr.Set(packet.PropCorrelationData)
	}
	switch {
	case ids != nil:
		pr.SubscriptionIDs = ids
	case sub != nil && sub.SubID > 0:
		pr.SubscriptionIDs = []uint32{sub.SubID}
	}
	for i := range m.Properties {
		pr.User = append(pr.User, packet.UserProperty{Key: m.Properties[i].Name, Value: m.Properties[i].Value.Text()})
	}
	if m.UserID != "" {
		pr.User = append(pr.User, packet.UserProperty{Key: core.PropUserID, Value: m.UserID})
	}
	p.Topic = topicBytes(topic)
	if c.aliasMax == 0 {
		return
	}
	if a, ok := c.outAliases[topic]; ok {
		p.Topic = nil
		pr.TopicAlias = a
		pr.Set(packet.PropTopicAlias)
		return
	}
	if len(c.outAliases) < int(c.aliasMax) {
		if c.outAliases == nil {
			c.outAliases = map[string]uint16{}
		}
		a := uint16(len(c.outAliases) + 1)
		c.outAliases[topic] = a
		pr.TopicAlias = a
		pr.Set(packet.PropTopicAlias)
	}
}

// promoteLocked sends waiting deliveries while the client's receive maximum
// allows. Caller holds ss.mu.
func (c *conn) promoteLocked() {
	ss := c.ss
	for len(ss.pending) > 0 && len(ss.outFlight) < c.recvMax {
		po := ss.pending[0]
		ss.pending[0] = pendingOut{}
		ss.pending = ss.pending[1:]
		c.writePublish(po.sub, po.d, po.qos, po.d.Consumer == nil, po.ids)
	}
}

func (c *conn) onPuback(id uint16) {
	ss := c.ss
	ss.mu.Lock()
	om := ss.outFlight[id]
	if om == nil || om.qos != 1 {
		ss.mu.Unlock()
		return // unknown or duplicate acknowledgement: nothing to do
	}
	delete(ss.outFlight, id)
	ss.forgetID(om.msgID)
	work := ss.settleCopy(om.msgID)
	c.promoteLocked()
	ss.mu.Unlock()
	if om.consumer != nil {
		_ = om.consumer.Ack(om.tag)
	}
	for _, a := range work {
		a.run()
	}
}

func (c *conn) onPubrec(id uint16, code packet.ReasonCode) {
	ss := c.ss
	ss.mu.Lock()
	om := ss.outFlight[id]
	if om == nil || om.qos != 2 {
		ss.mu.Unlock()
		rc := packet.Success
		if c.ver == packet.Version5 {
			rc = packet.PacketIdentifierNotFound
		}
		c.send(&packet.Pubrel{PacketID: id, ReasonCode: rc})
		return
	}
	cons, tag := om.consumer, om.tag
	om.consumer = nil
	// From PUBREC on the message is the client's, refused or not.
	work := ss.settleCopy(om.msgID)
	if code.IsError() {
		// The client refused the message: the exchange ends here [MQTT-4.3.3-4].
		delete(ss.outFlight, id)
		ss.forgetID(om.msgID)
		c.promoteLocked()
	} else if !om.released {
		om.released = true
		c.send(&packet.Pubrel{PacketID: id})
	} else {
		c.send(&packet.Pubrel{PacketID: id})
	}
	ss.mu.Unlock()
	// From PUBREC on, the message belongs to the client.
	if cons != nil {
		_ = cons.Ack(tag)
	}
	for _, a := range work {
		a.run()
	}
}

func (c *conn) onPubcomp(id uint16) {
	ss := c.ss
	ss.mu.Lock()
	if om := ss.outFlight[id]; om != nil && om.released {
		delete(ss.outFlight, id)
		ss.forgetID(om.msgID)
		c.promoteLocked()
	}
	ss.mu.Unlock()
}

// topicBytes lends a topic string to an outgoing PUBLISH, whose encoder only
// reads it: the copy []byte(topic) made was one allocation per delivery.
func topicBytes(topic string) []byte {
	return unsafe.Slice(unsafe.StringData(topic), len(topic))
}
