package amqp

import (
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// Settle modes (part 2, 2.8.2 and 2.8.3).
const (
	sndUnsettled uint8 = 0
	sndSettled   uint8 = 1
	sndMixed     uint8 = 2
	rcvFirst     uint8 = 0
	rcvSecond    uint8 = 1
)

// Terminus capabilities and prefixes (DESIGN.md: `x` is a queue unless the
// link asks for the topic capability; queue:// and topic:// as Artemis).
const (
	capQueue  codec.Symbol = "queue"
	capTopic  codec.Symbol = "topic"
	capShared codec.Symbol = "shared"
	capGlobal codec.Symbol = "global"
	// Qpid JMS marks its temporary destinations' links with these.
	capTempQueue codec.Symbol = "temporary-queue"
	capTempTopic codec.Symbol = "temporary-topic"

	prefixQueue = "queue://"
	prefixTopic = "topic://"
)

// Expiry policies and durability (part 3, 3.5.5 and 3.5.6).
const (
	expiryNever       codec.Symbol = "never"
	durableNone       uint32       = 0
	durableConfig     uint32       = 1
	durableUnsettled  uint32       = 2
	distributionCopy  codec.Symbol = "copy"
	lifetimeOnClose   codec.Symbol = "amqp:delete-on-close:list"
	selectorFilterSym codec.Symbol = "apache.org:selector-filter:string"
	noLocalFilterSym  codec.Symbol = "apache.org:no-local-filter:list"
	selectorFilterNum uint64       = 0x0000468C00000004
	noLocalFilterNum  uint64       = 0x0000468C00000003
)

// link is one attached link. handle is the client's, which we use as ours
// too (each side picks its own handles, so the same number is free here).
type link struct {
	ss     *session
	name   string
	handle uint32
	// sending: we send (the client attached a receiver).
	sending bool
	// detaching: we sent a detach (with an error) and wait for the
	// client's, ignoring the link's frames meanwhile.
	detaching atomic.Bool
	sndMode   uint8
	rcvMode   uint8

	// Sending links.
	consumer *core.Consumer
	browser  *core.Browser
	// emptyBrowse: a browser on a queue that does not exist (nothing to
	// show; a drain answers at once).
	emptyBrowse bool
	maxMessage  uint64 // the client's max-message-size (0: none)
	browseTag   uint64 // the browser handler's, under the queue lock
	queue       string // the queue consumed
	dynamic     string // a dynamic node to delete when the link goes
	tempTopic   string // a temporary topic (dynamic target) to delete when the link goes
	// durableQueue is a durable subscription's queue, which a closing
	// detach deletes (JMS unsubscribe). sharedSub: other links may still
	// use it, and then a closing detach leaves it in place without an
	// error. lookup: the link found the subscription by its name alone
	// (an attach with no source address), as Qpid JMS does to
	// unsubscribe: there, a subscription still in use is an error.
	durableQueue string
	sharedSub    bool
	lookup       bool
	// Under conn.mu: the AMQP flow state of a sending link. credit is
	// ours to spend (link-credit); deliveryCount counts what we sent.
	deliveryCount uint32
	credit        int64
	drain         bool

	// Receiving links.
	address     string
	rt          core.RoutingType
	anonymous   bool // anonymous relay: each message names its address in `to`
	coordinator bool
	producer    *core.Producer
	partial     *partialDelivery
	// Under conn.mu: what the client may still send, and whether credit
	// is withheld because the connection's sends are held for space.
	blocked bool
	// pd is the delivery being received (partial points here while it
	// spans frames): one per link, not an allocation per message.
	pd partialDelivery
	// sb: a Service Bus node link or an entity link with lock tokens
	// (servicebus.go); nil for every other link.
	sb *sbLink
}

// linkErr detaches one link with an error.
type linkErr struct {
	l *link
	e *codec.Error
}

func (e *linkErr) Error() string { return e.e.Error() }

func (l *link) errorf(cond codec.Symbol, format string, args ...any) error {
	return &linkErr{l, codec.Errorf(cond, format, args...)}
}

// onAttach handles the client's attach.
func (ss *session) onAttach(a *codec.Attach) error {
	if a.Handle > ss.c.s.opts.HandleMax {
		return sessErr(codec.CondNotAllowed, "handle %d exceeds handle-max %d", a.Handle, ss.c.s.opts.HandleMax)
	}
	if ss.links[a.Handle] != nil {
		return sessErr(codec.CondHandleInUse, "handle %d is already attached", a.Handle)
	}
	l := &link{ss: ss, name: a.Name, handle: a.Handle, sending: a.Role, sndMode: a.SndSettleMode, rcvMode: a.RcvSettleMode}
	if l.sndMode > sndMixed || l.rcvMode > rcvSecond {
		return ss.refuse(l, a, codec.Errorf(codec.CondInvalidField, "unknown settle mode"))
	}
	ss.links[a.Handle] = l
	if done, err := ss.attachServiceBus(l, a); done {
		return err
	}
	if l.sending {
		return ss.attachSender(l, a)
	}
	return ss.attachReceiver(l, a)
}

// refuse answers an attach it cannot honour as the spec says (part 2,
// 2.6.3): an attach with no terminus of ours, then a closing detach with
// the error.
func (ss *session) refuse(l *link, a *codec.Attach, e *codec.Error) error {
	ss.c.log.Info("amqp link refused", "link", l.name, "condition", e.Condition, "description", e.Description)
	ss.links[a.Handle] = l
	// No terminus at all: the spec only needs ours to be null, but
	// clients (go-amqp) look for both.
	reply := &codec.Attach{Name: a.Name, Handle: a.Handle, Role: !a.Role, SndSettleMode: l.sndMode, RcvSettleMode: l.rcvMode}
	if l.sending {
		reply.HasInitialDeliveryCount = true
	}
	c := ss.c
	c.mu.Lock()
	ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, reply, nil), false)
	c.mu.Unlock()
	l.detachWithError(e)
	return nil
}

// detachWithError releases the link and sends a closing detach with e; the
// handle stays taken until the client detaches too.
func (l *link) detachWithError(e *codec.Error) {
	l.release()
	l.detaching.Store(true)
	c := l.ss.c
	c.mu.Lock()
	l.ss.queueFrameLocked(codec.AppendFrame(nil, l.ss.localCh, &codec.Detach{Handle: l.handle, Closed: true, Error: e}, nil), false)
	c.signalLocked()
	c.mu.Unlock()
}

// onDetach is the client's detach.
func (ss *session) onDetach(d *codec.Detach) error {
	l := ss.links[d.Handle]
	if l == nil {
		return sessErr(codec.CondUnattachedHandle, "detach of handle %d, which is not attached", d.Handle)
	}
	delete(ss.links, d.Handle)
	if ss.byName[l.name] == l {
		delete(ss.byName, l.name)
	}
	if d.Error != nil {
		ss.c.log.Info("amqp client detached a link with an error", "link", l.name, "condition", d.Error.Condition, "description", d.Error.Description)
	}
	l.release() // again, when ours went first: nothing is held twice
	if l.detaching.Load() {
		return nil // the answer to ours
	}
	var e *codec.Error
	if d.Closed && l.durableQueue != "" {
		// Closing a durable terminus ends it (part 3, 3.5.5): JMS's
		// unsubscribe.
		err := ss.c.sess.DeleteQueue(l.durableQueue)
		switch {
		case err == nil, errors.Is(err, core.ErrNoSuchQueue):
		case errors.Is(err, core.ErrSubscriptionInUse) && l.sharedSub && !l.lookup:
			// One consumer of a shared subscription leaving: the others
			// keep it.
		default:
			e = coreError(err)
		}
	}
	c := ss.c
	c.mu.Lock()
	ss.queueFrameLocked(codec.AppendFrame(nil, ss.localCh, &codec.Detach{Handle: l.handle, Closed: d.Closed, Error: e}, nil), false)
	c.signalLocked()
	c.mu.Unlock()
	return nil
}

// release ends what the link holds in the core: its consumer (unsettled
// deliveries return to the queue), its producer's held sends, its
// dynamic node, a partial delivery.
func (l *link) release() {
	if l.consumer != nil {
		l.consumer.Close()
	}
	if l.browser != nil {
		l.browser.Close()
	}
	c := l.ss.c
	c.mu.Lock()
	for id, od := range l.ss.unsettled {
		if od.l == l {
			delete(l.ss.unsettled, id)
		}
	}
	if len(l.ss.backlog) > 0 {
		l.ss.dropBacklogLocked(l)
	}
	l.credit = 0
	c.mu.Unlock()
	if l.producer != nil {
		l.producer.Close()
	}
	l.dropPartial()
	if l.dynamic != "" {
		if err := c.sess.DeleteQueue(l.dynamic); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
			c.log.Debug("amqp dynamic node not deleted", "queue", l.dynamic, "err", err)
		}
		l.dynamic = ""
	}
	if l.tempTopic != "" {
		// Its subscriptions go with it (their consumers are detached
		// with amqp:resource-deleted), as JMS's TemporaryTopic.delete.
		if err := c.s.opts.Broker.DeleteAddress(l.tempTopic, true); err != nil && !errors.Is(err, core.ErrNoSuchAddress) {
			c.log.Debug("amqp temporary topic not deleted", "address", l.tempTopic, "err", err)
		}
		l.tempTopic = ""
	}
}

// resolveAddress maps a terminus address and capabilities to a core
// address and routing type.
func (c *conn) resolveAddress(addr string, caps []codec.Symbol) (string, core.RoutingType) {
	switch {
	case strings.HasPrefix(addr, prefixQueue):
		return addr[len(prefixQueue):], core.Anycast
	case strings.HasPrefix(addr, prefixTopic):
		return addr[len(prefixTopic):], core.Multicast
	}
	for _, cp := range caps {
		switch cp {
		case capTopic, capTempTopic:
			return addr, core.Multicast
		case capQueue, capTempQueue:
			return addr, core.Anycast
		}
	}
	// A bare name is a queue, unless it names an address that is only a
	// topic (one MQTT or STOMP clients publish to).
	if info, ok := c.s.opts.Broker.Address(addr); ok && info.Multicast && !info.Anycast {
		return addr, core.Multicast
	}
	return addr, core.Anycast
}

func hasCap(caps []codec.Symbol, want codec.Symbol) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

// coreError turns a core refusal into the AMQP error the client sees.
func coreError(err error) *codec.Error {
	var pe *core.PermissionError
	cond := codec.CondInternalError
	switch {
	case errors.As(err, &pe):
		cond = codec.CondUnauthorizedAccess
	case errors.Is(err, core.ErrInvalidSelector), errors.Is(err, core.ErrInvalidName), errors.Is(err, core.ErrInvalidPriority):
		cond = codec.CondInvalidField
	case errors.Is(err, core.ErrNoSuchQueue), errors.Is(err, core.ErrNoSuchAddress):
		cond = codec.CondNotFound
	case errors.Is(err, core.ErrSubscriptionInUse), errors.Is(err, core.ErrQueueExists):
		cond = codec.CondResourceLocked
	case errors.Is(err, core.ErrResourceLimit), errors.Is(err, core.ErrAddressFull):
		cond = codec.CondResourceLimitExceeded
	case errors.Is(err, core.ErrMessageTooLarge):
		cond = codec.CondMessageSizeExceeded
	case errors.Is(err, core.ErrRoutingType), errors.Is(err, core.ErrNoClientID):
		cond = codec.CondNotAllowed
	case errors.Is(err, core.ErrStoreUnavailable), errors.Is(err, core.ErrClosed):
		cond = codec.CondResourceLimitExceeded
	}
	return &codec.Error{Condition: cond, Description: err.Error()}
}

// dynamicName names a dynamic node: unique in the broker, recognisable.
func (c *conn) dynamicName() string {
	c.mu.Lock()
	c.nextDynamic++
	n := c.nextDynamic
	c.mu.Unlock()
	return "dynamic." + strconv.FormatUint(c.sess.ID(), 10) + "." + strconv.FormatUint(n, 10)
}
