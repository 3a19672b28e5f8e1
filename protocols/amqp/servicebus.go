package amqp

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/security"
)

// Azure Service Bus compatibility (docs/AMQP.md "Azure Service Bus
// clients"): the $cbs node, where a client puts SAS tokens (AMQP Claims
// Based Security, the draft the Azure SDKs speak), the <entity>/$management
// nodes answering Service Bus management requests (mgmt.go), lock tokens as
// delivery tags, and the entity sub-queue names.
//
// The Azure SDKs log in with SASL ANONYMOUS and then put a token to $cbs
// for each entity before attaching to it. So that ANONYMOUS is not an
// anonymous login where anonymous access is off, a connection that logs
// in that way while some user has a sas-key starts with no core session:
// it may attach to $cbs only, until a valid token names its user (or, if
// anonymous access is on, until it attaches elsewhere as anonymous).

// Node addresses.
const (
	cbsAddress   = "$cbs"
	mgmtSuffix   = "/$management"
	mgmtAddress  = "$management"
	dlqSuffix    = "/$DeadLetterQueue"
	sasTokenType = "servicebus.windows.net:sastoken"
)

// nodeKind tells a Service Bus node link from an entity link.
type nodeKind uint8

const (
	nodeNone nodeKind = iota
	nodeCBS
	nodeMgmt
)

// sbState is a connection's Service Bus state: made by a SASL ANONYMOUS
// login that may wait for a token, or by the first $cbs or $management
// attach. The reader owns it; tokens, expiry and timer are written under
// conn.mu, which the expiry timer reads them under.
type sbState struct {
	// user is the user a token logged the connection in as ("" none).
	user string
	// tokens: a token was accepted, so this is a Service Bus client: its
	// entity links get the Service Bus form (lock tokens, system
	// properties, abandon counted, entity paths). Other clients that log
	// in with ANONYMOUS keep plain AMQP semantics.
	tokens bool
	// expiry is when the latest token put expires, or for a connection
	// not logged in, the time by which a token must come; the connection
	// closes then unless a newer one came.
	expiry time.Time
	timer  *time.Timer
	// links are the entity links sending with lock tokens, by the second
	// half of their tokens.
	nextLink uint64
	links    map[uint64]*link
}

// sbLink is a link's Service Bus state.
type sbLink struct {
	node nodeKind
	// entity is a $management node's queue.
	entity string
	// replyTo is the client's target address on a node link we send on:
	// requests name it in reply-to.
	replyTo string
	// pending are replies waiting for link credit (under conn.mu).
	pending [][]byte
	// lockID is the second half of an entity link's lock tokens.
	lockID uint64
	tag    [16]byte
}

// close stops the expiry timer. Nil-safe: called by every connection.
func (sb *sbState) close() {
	if sb != nil && sb.timer != nil {
		sb.timer.Stop()
	}
}

// nodeOf recognises a node address.
func nodeOf(addr string) (nodeKind, string) {
	switch {
	case addr == cbsAddress:
		return nodeCBS, ""
	case addr == mgmtAddress:
		return nodeMgmt, ""
	case strings.HasSuffix(addr, mgmtSuffix):
		return nodeMgmt, strings.TrimSuffix(addr, mgmtSuffix)
	}
	return nodeNone, ""
}

// startSession makes the core session for the connection's identity (at
// the open, or for a connection that waited for a token, at its first
// link).
func (c *conn) startSession() {
	opts := c.id.SessionOptions(c.containerID)
	opts.OnClose = c.sessionClosed
	c.sess = c.s.opts.Broker.NewSession(opts)
}

// attachServiceBus is onAttach's first step: it attaches node links
// ($cbs, $management), refuses other links of a connection that has not
// put a token yet, and gives the links of a connection that uses $cbs
// their Service Bus form. done: the attach was answered here.
func (ss *session) attachServiceBus(l *link, a *codec.Attach) (done bool, err error) {
	c := ss.c
	var addr string
	switch {
	case l.sending && a.Source != nil:
		addr = a.Source.Address
	case !l.sending && a.Target != nil:
		addr = a.Target.Address
	}
	kind, entity := nodeOf(addr)
	if kind != nodeCBS && c.sess == nil {
		if c.id == nil {
			return true, ss.refuse(l, a, codec.Errorf(codec.CondUnauthorizedAccess,
				"not authenticated: put a SAS token to $cbs first, or log in with SASL PLAIN"))
		}
		// Anonymous access is on and no token came: anonymous it is.
		c.startSession()
	}
	if kind == nodeNone {
		if c.sb != nil && c.sb.tokens && l.sending && a.Source != nil && !a.Source.Dynamic {
			if hasSessionFilter(a.Source.Filter) {
				return true, ss.refuse(l, a, codec.Errorf(codec.CondNotImplemented, "Service Bus sessions are not supported by Junction"))
			}
			src := a.Source
			if topic, ok := subscriptionOf(src.Address); ok {
				// A subscription "T/Subscriptions/S": a durable
				// subscription of topic T shared by every receiver,
				// whose queue is named by the entity path (the link's
				// name names the subscription: sender.go).
				l.name = src.Address
				src.Address = prefixTopic + topic
				src.Capabilities = append(src.Capabilities[:len(src.Capabilities):len(src.Capabilities)], capShared, capGlobal)
				src.Durable = durableConfig
			} else {
				src.Address = c.subQueue(src.Address)
			}
			l.sb = &sbLink{lockID: c.sb.register(l)}
		}
		return false, nil
	}
	if c.sb == nil {
		c.sb = &sbState{}
	}
	if kind == nodeMgmt && entity != "" {
		entity = c.subQueue(entity)
	}
	l.sb = &sbLink{node: kind, entity: entity}
	ss.byName[l.name] = l
	reply := &codec.Attach{Name: a.Name, Handle: l.handle, Role: !a.Role, SndSettleMode: l.sndMode, RcvSettleMode: l.rcvMode,
		Source: a.Source, Target: a.Target}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.sending {
		if a.Target != nil {
			l.sb.replyTo = a.Target.Address
		}
		reply.HasInitialDeliveryCount = true
		ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, reply, nil), false)
	} else {
		reply.MaxMessageSize = uint64(c.s.opts.MaxMessageSize)
		l.deliveryCount = a.InitialDeliveryCount
		ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, reply, nil), false)
		l.credit = int64(c.s.opts.LinkCredit)
		ss.appendFlowLocked(l)
	}
	c.signalLocked()
	return true, nil
}

// subQueue maps a Service Bus entity path to a Junction queue: the
// dead-letter sub-queue ("q/$DeadLetterQueue") is the dead-letter address
// of q; anything else is itself.
func (c *conn) subQueue(entity string) string {
	if q, ok := strings.CutSuffix(entity, dlqSuffix); ok {
		if topic, ok := subscriptionOf(q); ok {
			q = topic // a subscription dead-letters by its topic's settings
		}
		if s := c.s.opts.Broker.Settings(q); s != nil && s.DeadLetterAddress != "" {
			return s.DeadLetterAddress
		}
	}
	return entity
}

// subscriptionSep separates a topic from its subscription in an entity
// path.
const subscriptionSep = "/Subscriptions/"

// subscriptionOf recognises a subscription's entity path, "T/Subscriptions/S".
func subscriptionOf(entity string) (topic string, ok bool) {
	t, s, ok := strings.Cut(entity, subscriptionSep)
	if !ok || t == "" || s == "" || strings.Contains(s, "/") {
		return "", false
	}
	return t, true
}

// sessionFilter is the filter of a Service Bus session receiver.
const (
	sessionFilterSym codec.Symbol = "com.microsoft:session-filter"
	sessionFilterNum uint64       = 0x00000137000000C
)

func hasSessionFilter(m codec.Map) bool {
	for _, e := range m {
		if k, _ := key(e.Key); k == string(sessionFilterSym) {
			return true
		}
		if d, ok := e.Value.(codec.Described); ok && isDescriptor(d.Descriptor, sessionFilterSym, sessionFilterNum) {
			return true
		}
	}
	return false
}

// register numbers an entity link for its lock tokens, forgetting the
// links that went.
func (sb *sbState) register(l *link) uint64 {
	if sb.links == nil {
		sb.links = map[uint64]*link{}
	}
	for id, old := range sb.links {
		if old.ss.links[old.handle] != old {
			delete(sb.links, id)
		}
	}
	sb.nextLink++
	sb.links[sb.nextLink] = l
	return sb.nextLink
}

// lockTag is the delivery tag of a delivery on a link with lock tokens:
// 16 bytes, which the SDKs read as the lock token (a GUID in .NET byte
// order): the core's tag, then the link's number. Caller holds conn.mu;
// the transfer copies it.
func (sl *sbLink) lockTag(coreTag uint64) []byte {
	binary.BigEndian.PutUint64(sl.tag[:8], coreTag)
	binary.BigEndian.PutUint64(sl.tag[8:], sl.lockID)
	return sl.tag[:]
}

// annotate adds the Service Bus system properties to a delivery's
// message annotations: the sequence number (the core's message id), the
// enqueued time and the locked-until time (lockReport: Junction's locks
// last while the link does).
func (sl *sbLink) annotate(payload []byte, m *core.Message) []byte {
	out, err := withAnnotations(payload, codec.Map{
		{Key: codec.Symbol("x-opt-sequence-number"), Value: int64(m.ID)},
		{Key: codec.Symbol("x-opt-enqueued-time"), Value: codec.Timestamp(m.Timestamp)},
		{Key: codec.Symbol("x-opt-locked-until"), Value: codec.Timestamp(time.Now().Add(lockReport).UnixMilli())},
	})
	if err != nil {
		return payload // our own encoding: cannot fail
	}
	// A dead-lettered message: the reason where the SDKs read it
	// (DeadLetterReason, DeadLetterErrorDescription application properties).
	if r := m.Property(core.PropDLQReason); r.Kind == prop.String && r.S != "" {
		reason, desc := r.S, ""
		if m.Property(core.PropDLQCondition).S == string(condDeadLetter) {
			reason, desc, _ = strings.Cut(r.S, dlqReasonSep)
		}
		props := codec.Map{{Key: "DeadLetterReason", Value: reason}}
		if desc != "" {
			props = append(props, codec.MapEntry{Key: "DeadLetterErrorDescription", Value: desc})
		}
		if with, err := withSection(out, codec.DescApplicationProperties, props); err == nil {
			out = with
		}
	}
	return out
}

// lockOf undoes lockTag for a lock token as a client sends it back (an
// AMQP uuid, in RFC 4122 order: the SDKs swap the first three groups of
// the tag's bytes).
func lockOf(u codec.UUID) (coreTag, lockID uint64) {
	b := [16]byte(u)
	b[0], b[3] = b[3], b[0]
	b[1], b[2] = b[2], b[1]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// putToken handles a $cbs put-token request: the token is checked
// (signature, expiry, that its resource covers the audience in name) and
// its user becomes the connection's, if the connection has none yet, or
// must be the connection's user.
func (c *conn) putToken(r *nodeRequest) (int32, string, any) {
	token, ok := r.body.(string)
	if !ok {
		return 400, "put-token needs the token as a string amqp-value body", nil
	}
	typ, _ := r.props["type"].(string)
	audience, _ := r.props["name"].(string)
	if typ != sasTokenType {
		return 400, "token type " + quote(typ) + " is not supported: only SAS tokens (" + sasTokenType + ")", nil
	}
	if audience == "" {
		return 400, "put-token needs the audience in the name application property", nil
	}
	subj, err := c.s.opts.Gate.CheckSAS(c.ctx, token, audience, c.remote, c.tlsState())
	if err != nil {
		c.log.Info("amqp $cbs token refused", "audience", audience, "err", err)
		if errors.Is(err, security.ErrTokenExpired) {
			return 401, "the SAS token has expired", nil
		}
		return 401, "SAS token refused: unknown key name, wrong signature, or a resource that does not cover " + quote(audience), nil
	}
	user := subj.User
	if subj.Anonymous {
		user = ""
	}
	switch {
	case c.sess == nil && c.sb.user != "" && user == c.sb.user:
		// Another entity's token for the user the connection waits as.
	case c.sess == nil:
		id, err := c.s.opts.Gate.LoginSubject(subj, c.tlsState())
		if err != nil {
			_, msg := access.Refusal(err)
			return 403, msg, nil
		}
		old := c.id
		c.id = id
		old.Close()
		c.sb.user = user
		c.log.Debug("amqp connection authenticated by a SAS token", "user", user)
	case subj.Anonymous && c.id.User() == "":
		// No users file: nobody is authenticated, tokens included.
	case user != c.id.User():
		return 403, "this connection is authenticated as " + quote(c.id.Subject.String()) +
			"; a token for " + quote(subj.String()) + " needs a connection of its own", nil
	}
	if subj.Anonymous {
		c.mu.Lock()
		c.sb.tokens = true
		c.mu.Unlock()
	} else if t, err := security.ParseSASToken(token); err == nil {
		c.tokenUntil(t.Expiry)
	}
	return 202, "Accepted", nil
}

// tokenUntil notes an accepted token's expiry: the connection closes once
// its latest token expired.
func (c *conn) tokenUntil(exp time.Time) { c.tokenDeadline(exp, true) }

// tokenDeadline arms the timer that closes the connection at exp: an
// accepted token's expiry (token), or, for a connection that logged in
// with ANONYMOUS to put a token, the time by which one must come.
func (c *conn) tokenDeadline(exp time.Time, token bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sb := c.sb
	if !sb.tokens || exp.After(sb.expiry) {
		// The first token replaces the deadline for one.
		sb.expiry = exp
	}
	if token {
		sb.tokens = true // read by the timer, under mu
	}
	d := time.Until(sb.expiry)
	if sb.timer == nil {
		sb.timer = time.AfterFunc(d, c.tokenExpired)
		return
	}
	sb.timer.Reset(d)
}

// tokenExpired runs on the expiry timer.
func (c *conn) tokenExpired() {
	c.mu.Lock()
	exp := c.sb.expiry
	if d := time.Until(exp); d > 0 {
		c.sb.timer.Reset(d)
		c.mu.Unlock()
		return
	}
	tokens := c.sb.tokens
	c.mu.Unlock()
	if !tokens {
		c.log.Info("amqp connection closed: no SAS token was put to $cbs in time")
		c.sendClose(codec.Errorf(codec.CondUnauthorizedAccess, "not authenticated: no SAS token was put to $cbs within %v", c.s.opts.ConnectTimeout))
		return
	}
	c.log.Info("amqp connection closed: its SAS token expired", "expiry", exp)
	c.sendClose(codec.Errorf(codec.CondUnauthorizedAccess, "the SAS token expired at %s and no newer one was put to $cbs", exp.UTC().Format(time.RFC3339)))
}

func quote(s string) string { return "\"" + s + "\"" }

// deadLetterReason is the reason a rejected outcome gives the core: the
// error's description, or a Service Bus client's dead-letter reason and
// description (condition com.microsoft:dead-letter, info
// DeadLetterReason and DeadLetterErrorDescription).
func deadLetterReason(e *codec.Error) string {
	if e.Condition != condDeadLetter {
		return e.Description
	}
	reason, _ := e.Info.Get("DeadLetterReason")
	if reason == nil {
		reason, _ = e.Info.Get(codec.Symbol("DeadLetterReason"))
	}
	desc, _ := e.Info.Get("DeadLetterErrorDescription")
	if desc == nil {
		desc, _ = e.Info.Get(codec.Symbol("DeadLetterErrorDescription"))
	}
	r, _ := reason.(string)
	d, _ := desc.(string)
	switch {
	case r != "" && d != "":
		return r + dlqReasonSep + d
	case r != "":
		return r
	case d != "":
		return d
	}
	return e.Description
}

// dlqReasonSep joins a Service Bus dead-letter reason and description in
// the core's reason; a delivery to a Service Bus client splits them again
// at the first one.
const dlqReasonSep = ": "

// condDeadLetter is the condition of a Service Bus client's dead-letter
// (a rejected outcome).
const condDeadLetter codec.Symbol = "com.microsoft:dead-letter"

// statusOf is the status of a management request the core refused.
func statusOf(err error) (int32, string) {
	var pe *core.PermissionError
	switch {
	case errors.As(err, &pe):
		return 401, err.Error()
	case errors.Is(err, core.ErrNoSuchQueue), errors.Is(err, core.ErrNoSuchAddress):
		return 404, err.Error()
	case errors.Is(err, core.ErrResourceLimit), errors.Is(err, core.ErrAddressFull), errors.Is(err, core.ErrStoreUnavailable):
		return 503, err.Error()
	case errors.Is(err, core.ErrMessageTooLarge), errors.Is(err, core.ErrInvalidName):
		return 400, err.Error()
	}
	return 500, err.Error()
}

// batchFormat is the message format of a Service Bus client's batch: a
// message whose data sections are each an encoded message.
const batchFormat uint32 = 0x80013700

// receiveBatch routes the messages of a batch, in order, as if each came
// in a transfer of its own on the link; the delivery is accepted once the
// store has them all, rejected if one failed. A batch is not atomic: the
// messages before a failure stay sent.
func (l *link) receiveBatch(p *partialDelivery, msg []byte) error {
	c := l.ss.c
	var msgs []*core.Message
	d := codec.NewDecoder(msg)
	for d.Len() > 0 {
		code, _, err := d.ReadDescriptor()
		if err != nil {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "batch: %v", err))
		}
		if code != codec.DescData {
			if err := d.Skip(); err != nil {
				return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "batch: %v", err))
			}
			continue
		}
		v, err := d.ReadValue()
		inner, ok := v.([]byte)
		if err != nil || !ok {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "batch: a data section that is not binary"))
		}
		m, info, err := decodeMessage(inner)
		if err != nil {
			return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "batch: a message could not be decoded: %v", err))
		}
		if l.anonymous {
			if info.To == "" {
				return l.rejectOrDetach(p, codec.Errorf(codec.CondInvalidField, "a message on an anonymous relay link needs a to address"))
			}
			m.Address, m.RoutingType = c.resolveAddress(info.To, nil)
			if err := c.id.Authorize(core.PermSend, m.Address); err != nil {
				return l.rejectOrDetach(p, codec.Errorf(codec.CondUnauthorizedAccess, "not allowed to send to %q", m.Address))
			}
		} else {
			m.Address, m.RoutingType = l.address, l.rt
		}
		scheduledEnqueue(m)
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return l.rejectOrDetach(p, codec.Errorf(codec.CondDecodeError, "an empty batch"))
	}
	if l.producer == nil {
		return l.errorf(codec.CondNotAllowed, "a batch on a link that cannot send messages")
	}
	id, settled := p.id, p.settled
	left := len(msgs)
	var failed error
	newDone := func() func(error) {
		if settled {
			return nil
		}
		c.beginPending()
		return func(err error) {
			c.mu.Lock()
			if err != nil && failed == nil {
				failed = err
			}
			left--
			last := left == 0
			st := codec.DeliveryState(&codec.Accepted{})
			if last && failed != nil {
				st = &codec.Rejected{Error: coreError(failed)}
			}
			c.mu.Unlock()
			if last {
				l.disposeLocked(id, st, true)
				return
			}
			c.mu.Lock()
			c.endPendingLocked()
			c.mu.Unlock()
		}
	}
	for i, m := range msgs {
		done := newDone()
		if err := l.producer.Send(c.ctx, m, done); err != nil {
			if settled {
				return l.rejectOrDetach(p, coreError(err))
			}
			// The rest are not sent: the batch is refused from here on.
			done(err)
			for range msgs[i+1:] {
				newDone()(err)
			}
			break
		}
		c.s.counters.MessageIn()
	}
	l.checkHeld()
	return nil
}

// scheduledEnqueue honours a Service Bus client's
// x-opt-scheduled-enqueue-time (Message.ScheduledEnqueueTime) as the
// core's scheduled delivery, like x-opt-delivery-time.
func scheduledEnqueue(m *core.Message) {
	if at := m.Annotation("x-opt-scheduled-enqueue-time"); at.Kind == prop.Timestamp && at.I > m.ScheduledAt {
		m.ScheduledAt = at.I
	}
}
