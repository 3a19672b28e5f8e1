package amqp

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// Request-response on the $cbs and $management nodes (AMQP Management
// draft, as Service Bus speaks it): a request is a message with a
// message-id, a reply-to naming the client's receiving link, the operation
// in the application properties and its arguments in an amqp-value map;
// the response carries correlation-id = the request's message-id and
// status-code / status-description application properties.

// Management operations (Service Bus names).
const (
	opPutToken       = "put-token"
	opRenewLock      = "com.microsoft:renew-lock"
	opPeek           = "com.microsoft:peek-message"
	opSchedule       = "com.microsoft:schedule-message"
	opCancelSchedule = "com.microsoft:cancel-scheduled-message"
	opDisposition    = "com.microsoft:update-disposition"
)

// lockReport is the lock duration renew-lock reports. Junction's locks do
// not expire: a delivery stays locked for as long as its link is attached
// and unsettled, so this is a lower bound (Service Bus's default lock
// duration), for clients that schedule renewals by it.
const lockReport = time.Minute

// maxPeek bounds the messages one peek returns.
const maxPeek = 1000

// nodeRequest is one decoded request.
type nodeRequest struct {
	l         *link
	messageID any
	replyTo   string
	props     map[string]any // application properties
	body      any            // the amqp-value body
	reply     *link          // where the response goes
}

// nodeRequest handles a message sent to a $cbs or $management node.
func (l *link) nodeRequest(p *partialDelivery, msg []byte) error {
	r, err := decodeRequest(msg)
	if err != nil {
		return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "management request: %v", err))
	}
	r.l = l
	if r.reply = l.ss.replyLink(l.sb.node, r.replyTo); r.reply == nil {
		return l.rejectOrDetach(p, codec.Errorf(codec.CondPreconditionFailed,
			"no link of this connection receives from %s with target %q (the request's reply-to)", nodeName(l.sb), r.replyTo))
	}
	if !p.settled {
		l.dispose(p.id, &codec.Accepted{})
	}
	c := l.ss.c
	op, _ := r.props["operation"].(string)
	var status int32
	var desc string
	var body any
	switch {
	case l.sb.node == nodeCBS && op == opPutToken:
		status, desc, body = c.putToken(r)
	case l.sb.node == nodeCBS:
		status, desc = 501, "$cbs implements put-token only, not "+quote(op)
	case op == opRenewLock:
		status, desc, body = c.renewLock(r)
	case op == opPeek:
		status, desc, body = c.peek(r)
	case op == opSchedule:
		if c.schedule(r) {
			return nil // answered when the store has the messages
		}
		status, desc = 400, "schedule-message needs a messages list of maps with an encoded message each"
	case op == opDisposition:
		status, desc = c.updateDisposition(r)
	case op == opCancelSchedule:
		status, desc = 501, "cancel-scheduled-message is not supported: Junction cannot take back a scheduled message"
	default:
		status, desc = 501, "operation "+quote(op)+" is not implemented by Junction"
	}
	if status >= 300 {
		c.log.Info("amqp management request failed", "node", nodeName(l.sb), "operation", op, "status", status, "description", desc)
	}
	c.mu.Lock()
	r.reply.sendReplyLocked(encodeResponse(r.messageID, status, desc, body))
	c.mu.Unlock()
	return nil
}

func nodeName(sl *sbLink) string {
	if sl.node == nodeCBS {
		return cbsAddress
	}
	if sl.entity == "" {
		return mgmtAddress
	}
	return sl.entity + mgmtSuffix
}

// decodeRequest reads the sections of a request.
func decodeRequest(msg []byte) (*nodeRequest, error) {
	r := &nodeRequest{}
	d := codec.NewDecoder(msg)
	for d.Len() > 0 {
		code, _, err := d.ReadDescriptor()
		if err != nil {
			return nil, err
		}
		v, err := d.ReadValue()
		if err != nil {
			return nil, err
		}
		switch code {
		case codec.DescProperties:
			if l, ok := v.(codec.List); ok {
				if len(l) > 0 {
					r.messageID = l[0]
				}
				if len(l) > 4 {
					r.replyTo, _ = l[4].(string)
				}
			}
		case codec.DescApplicationProperties:
			m, ok := v.(codec.Map)
			if !ok {
				return nil, errors.New("application-properties is not a map")
			}
			r.props = make(map[string]any, len(m))
			for _, e := range m {
				if k, ok := key(e.Key); ok {
					r.props[k] = e.Value
				}
			}
		case codec.DescAMQPValue:
			r.body = v
		}
	}
	if r.messageID == nil {
		return nil, errors.New("a request needs a message-id to correlate its response")
	}
	return r, nil
}

// key is a map key that is a string or a symbol.
func key(k any) (string, bool) {
	switch v := k.(type) {
	case string:
		return v, true
	case codec.Symbol:
		return string(v), true
	}
	return "", false
}

// field is the entry of a request's map body named name.
func (r *nodeRequest) field(name string) any {
	m, ok := r.body.(codec.Map)
	if !ok {
		return nil
	}
	for _, e := range m {
		if k, ok := key(e.Key); ok && k == name {
			return e.Value
		}
	}
	return nil
}

// encodeResponse makes a response message.
func encodeResponse(correlationID any, status int32, desc string, body any) []byte {
	var b []byte
	b = codec.AppendDescriptor(b, codec.DescProperties)
	b = codec.AppendList(b, codec.List{nil, nil, nil, nil, nil, correlationID})
	b = codec.AppendDescriptor(b, codec.DescApplicationProperties)
	b = codec.AppendMap(b, codec.Map{{Key: "status-code", Value: status}, {Key: "status-description", Value: desc}})
	b = codec.AppendDescriptor(b, codec.DescAMQPValue)
	return codec.AppendValue(b, body)
}

// replyLink finds the link a response goes on: a link of this connection
// sending from the same kind of node whose target is reply-to, in this
// session first.
func (ss *session) replyLink(kind nodeKind, replyTo string) *link {
	match := func(s *session) *link {
		for _, l := range s.links {
			if l.sending && l.sb != nil && l.sb.node == kind && l.sb.replyTo == replyTo && !l.detaching.Load() {
				return l
			}
		}
		return nil
	}
	if l := match(ss); l != nil {
		return l
	}
	c := ss.c
	c.mu.Lock()
	others := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		others = append(others, s)
	}
	c.mu.Unlock()
	for _, s := range others {
		if l := match(s); l != nil {
			return l
		}
	}
	return nil
}

// sendReplyLocked sends a response on a node link, or keeps it until the
// client gives credit. Caller holds conn.mu.
func (l *link) sendReplyLocked(payload []byte) {
	if l.detaching.Load() || l.ss.ended {
		return
	}
	if l.credit <= 0 {
		l.sb.pending = append(l.sb.pending, payload)
		return
	}
	ss, c := l.ss, l.ss.c
	id := ss.nextDeliveryID
	ss.nextDeliveryID++
	l.deliveryCount++
	l.credit--
	settled := l.sndMode != sndUnsettled
	tag := binary.BigEndian.AppendUint32(nil, id)
	room := int(min(c.peerMaxFrame, 1<<30)) - transferOverhead
	t := &codec.Transfer{Handle: l.handle, DeliveryID: id, HasDeliveryID: true, DeliveryTag: tag,
		MessageFormat: 0, HasMessageFormat: true, Settled: settled}
	for first := true; first || len(payload) > 0; first = false {
		chunk := payload
		t.More = len(chunk) > room
		if t.More {
			chunk = payload[:room]
		}
		payload = payload[len(chunk):]
		ss.appendPerfLocked(t, chunk, l)
		t = &codec.Transfer{Handle: l.handle, Settled: settled}
	}
	c.signalLocked()
}

// flushReplies sends the responses that waited for credit (the client's
// flow on a node link).
func (l *link) flushReplies() {
	c := l.ss.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(l.sb.pending) > 0 && l.credit > 0 {
		p := l.sb.pending[0]
		l.sb.pending = l.sb.pending[1:]
		l.sendReplyLocked(p)
	}
}

// held finds an unsettled delivery by lock token: its link and core tag.
func (c *conn) held(u codec.UUID) (*link, uint64, uint32, bool) {
	coreTag, lockID := lockOf(u)
	if c.sb == nil {
		return nil, 0, 0, false
	}
	l := c.sb.links[lockID]
	if l == nil || l.consumer == nil || l.detaching.Load() {
		return nil, 0, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, od := range l.ss.unsettled {
		if od.l == l && od.tag == coreTag {
			return l, coreTag, id, true
		}
	}
	return nil, 0, 0, false
}

// lockTokens is a request's lock-tokens argument.
func (r *nodeRequest) lockTokens() ([]codec.UUID, bool) {
	var out []codec.UUID
	switch v := r.field("lock-tokens").(type) {
	case codec.Array:
		for _, e := range v {
			u, ok := e.(codec.UUID)
			if !ok {
				return nil, false
			}
			out = append(out, u)
		}
	case codec.List:
		for _, e := range v {
			u, ok := e.(codec.UUID)
			if !ok {
				return nil, false
			}
			out = append(out, u)
		}
	default:
		return nil, false
	}
	return out, len(out) > 0
}

// renewLock answers renew-lock: every token must name a delivery this
// connection still holds.
func (c *conn) renewLock(r *nodeRequest) (int32, string, any) {
	tokens, ok := r.lockTokens()
	if !ok {
		return 400, "renew-lock needs lock-tokens, an array of uuids", nil
	}
	exp := codec.Timestamp(time.Now().Add(lockReport).UnixMilli())
	out := make(codec.Array, 0, len(tokens))
	for _, u := range tokens {
		if _, _, _, ok := c.held(u); !ok {
			return 410, "lock lost: the message of lock token " + u.String() + " is no longer held by this connection (settled, or its link closed)", nil
		}
		out = append(out, exp)
	}
	return 200, "OK", codec.Map{{Key: "expirations", Value: out}}
}

// updateDisposition settles held deliveries by lock token (the SDKs do
// this when settling on the receiving link failed).
func (c *conn) updateDisposition(r *nodeRequest) (int32, string) {
	tokens, ok := r.lockTokens()
	if !ok {
		return 400, "update-disposition needs lock-tokens, an array of uuids"
	}
	status, _ := r.field("disposition-status").(string)
	var o core.Outcome
	switch status {
	case "completed":
		o.Kind = core.Accepted
	case "abandoned":
		o = core.Outcome{Kind: core.Modified, DeliveryFailed: true}
	case "suspended":
		o.Kind = core.Rejected
		o.Condition = string(condDeadLetter)
		reason, _ := r.field("deadletter-reason").(string)
		desc, _ := r.field("deadletter-description").(string)
		o.Reason = deadLetterReason(&codec.Error{Condition: condDeadLetter, Info: codec.Map{
			{Key: "DeadLetterReason", Value: reason}, {Key: "DeadLetterErrorDescription", Value: desc}}})
	case "defered", "deferred":
		return 501, "defer is not supported: Junction has no receive-by-sequence-number"
	default:
		return 400, "unknown disposition-status " + quote(status)
	}
	for _, u := range tokens {
		l, tag, id, ok := c.held(u)
		if !ok {
			return 410, "lock lost: the message of lock token " + u.String() + " is no longer held by this connection"
		}
		c.mu.Lock()
		delete(l.ss.unsettled, id)
		c.mu.Unlock()
		if err := l.consumer.Settle(tag, o); err != nil {
			return statusOf(err)
		}
	}
	return 200, "OK"
}

// peek answers peek-message: copies of the entity's ready messages whose
// sequence number (the core's message id) is from-sequence-number or more,
// in delivery order, each with x-opt-sequence-number and
// x-opt-enqueued-time. Nothing is taken or locked.
func (c *conn) peek(r *nodeRequest) (int32, string, any) {
	q := r.l.sb.entity
	if q == "" {
		return 400, "peek-message needs an entity's $management node", nil
	}
	from, _ := r.field("from-sequence-number").(int64)
	count := maxPeek
	if n, ok := r.field("message-count").(int32); ok && n > 0 {
		count = min(int(n), maxPeek)
	}
	var out codec.List
	var buf []byte
	err := c.sess.Browse(q, "", func(m *core.Message) bool {
		if int64(m.ID) < from {
			return true
		}
		buf = message.AppendPayload(buf[:0], m, message.Delivery{DeliveryCount: 1})
		enc, err := withAnnotations(buf, codec.Map{
			{Key: codec.Symbol("x-opt-sequence-number"), Value: int64(m.ID)},
			{Key: codec.Symbol("x-opt-enqueued-time"), Value: codec.Timestamp(m.Timestamp)}})
		if err != nil {
			c.log.Warn("amqp peek: a stored message could not be re-encoded", "queue", q, "err", err)
			return true
		}
		out = append(out, codec.Map{{Key: "message", Value: enc}})
		return len(out) < count
	})
	if errors.Is(err, core.ErrNoSuchQueue) {
		return 204, "No Content", nil // Junction makes queues on first use
	}
	if err != nil {
		st, desc := statusOf(err)
		return st, desc, nil
	}
	if len(out) == 0 {
		return 204, "No Content", nil
	}
	return 200, "OK", codec.Map{{Key: "messages", Value: out}}
}

// schedule handles schedule-message: each message is sent to the entity
// for delivery at its x-opt-scheduled-enqueue-time (the core's scheduled
// delivery), and the response, with the messages' sequence numbers, goes
// once the store has them all. false: the request was malformed (nothing
// was sent).
func (c *conn) schedule(r *nodeRequest) bool {
	list, ok := r.field("messages").(codec.List)
	if !ok || len(list) == 0 || r.l.sb.entity == "" {
		return false
	}
	var msgs []*core.Message
	for _, e := range list {
		em, ok := e.(codec.Map)
		if !ok {
			return false
		}
		var raw []byte
		for _, f := range em {
			if k, _ := key(f.Key); k == "message" {
				raw, _ = f.Value.([]byte)
			}
		}
		if raw == nil {
			return false
		}
		m, _, err := decodeMessage(raw)
		if err != nil {
			return false
		}
		scheduledEnqueue(m)
		m.Address, m.RoutingType = c.resolveAddress(r.l.sb.entity, nil)
		msgs = append(msgs, m)
	}
	if err := c.id.Authorize(core.PermSend, msgs[0].Address); err != nil {
		c.scheduleDone(r, 401, "not allowed to send to "+quote(msgs[0].Address), nil)
		return true
	}
	p := c.sess.NewProducer()
	seqs := make(codec.Array, len(msgs))
	left := len(msgs)
	var failed error
	for i, m := range msgs {
		done := func(err error) {
			c.mu.Lock()
			if err != nil && failed == nil {
				failed = err
			}
			seqs[i] = int64(m.ID)
			left--
			last := left == 0
			c.endPendingLocked()
			c.mu.Unlock()
			if !last {
				return
			}
			p.Close()
			if failed != nil {
				st, desc := statusOf(failed)
				c.scheduleDone(r, st, desc, nil)
				return
			}
			c.scheduleDone(r, 200, "OK", codec.Map{{Key: "sequence-numbers", Value: seqs}})
		}
		c.beginPending()
		if err := p.Send(c.ctx, m, done); err != nil {
			done(err)
		}
	}
	return true
}

// scheduleDone sends schedule-message's response.
func (c *conn) scheduleDone(r *nodeRequest, status int32, desc string, body any) {
	if status >= 300 {
		c.log.Info("amqp management request failed", "operation", opSchedule, "status", status, "description", desc)
	}
	c.mu.Lock()
	r.reply.sendReplyLocked(encodeResponse(r.messageID, status, desc, body))
	c.mu.Unlock()
}

// withAnnotations returns a copy of an encoded message with entries added
// to its message-annotations (made when it has none).
func withAnnotations(msg []byte, add codec.Map) ([]byte, error) {
	return withSection(msg, codec.DescMessageAnnotations, add)
}

// withSection returns a copy of an encoded message with entries added to
// its map section of descriptor code (message-annotations or
// application-properties), made in its place in the section order when the
// message has none.
func withSection(msg []byte, code uint64, add codec.Map) ([]byte, error) {
	d := codec.NewDecoder(msg)
	for d.Len() > 0 {
		start := len(msg) - d.Len()
		c, _, err := d.ReadDescriptor()
		if err != nil {
			return nil, err
		}
		switch {
		case c == code:
			v, err := d.ReadValue()
			if err != nil {
				return nil, err
			}
			m, _ := v.(codec.Map)
			out := append([]byte(nil), msg[:start]...)
			out = codec.AppendDescriptor(out, code)
			out = codec.AppendMap(out, append(m, add...))
			return append(out, d.Rest()...), nil
		case c > code:
			out := append([]byte(nil), msg[:start]...)
			out = codec.AppendDescriptor(out, code)
			out = codec.AppendMap(out, add)
			return append(out, msg[start:]...), nil
		}
		if err := d.Skip(); err != nil {
			return nil, err
		}
	}
	out := append([]byte(nil), msg...)
	out = codec.AppendDescriptor(out, code)
	return codec.AppendMap(out, add), nil
}
