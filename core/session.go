package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/junctionmq/junction/core/selector"
)

// SessionOptions describe the connection a session belongs to.
type SessionOptions struct {
	// ClientID names durable subscriptions (JMS client id, MQTT client id).
	ClientID string
	// User is the authenticated user; it is stamped on every message sent.
	User string
	// Authorize is asked before every guarded action; nil allows everything.
	Authorize func(p Permission, address string) error
	// Protocol ("stomp", "mqtt") and Connection (ConnectionInfo.ID) say
	// which adapter and which of its connections the session belongs to,
	// for operators (Broker.Sessions) and the Hooks; protocols/access fills
	// them in. Sessions an adapter opens for its own work leave Protocol
	// empty. The core does nothing else with them.
	Protocol   string
	Connection uint64
	// LoginValid is asked by Broker.Revalidate (after the users file
	// changed) whether the session's login still stands; an error (the user
	// was removed) closes the session with ErrPermissionRevoked. nil: always.
	LoginValid func() error
	// OnClose is told when the core closes the whole session on its own
	// (CloseFor: login revoked, operator, takeover). The session's consumers
	// are already closed, without their own OnClose; the adapter reports the
	// reason natively and closes the connection. Called once, with no core
	// lock held. Not called for the adapter's own Session.Close.
	OnClose func(reason error)
	// RemoteAddr is the client's address, for operators (Broker.Sessions).
	RemoteAddr string
}

// Session is one client connection's view of the core. It owns the consumers,
// temporary queues and transactions created through it; Close releases them.
type Session struct {
	b    *Broker
	id   uint64
	opts SessionOptions

	mu        sync.Mutex
	consumers map[*Consumer]struct{}
	// temps, made by the first temporary queue: a pointer, since every
	// session of an idle device carries the field and few have one
	// (Session 184 -> 168 bytes, size class 192 -> 176).
	temps  *[]*Queue
	closed bool

	since           int64 // unix ms the session opened
	sent, delivered atomic.Uint64
}

// NewSession opens a session.
func (b *Broker) NewSession(opts SessionOptions) *Session {
	s := &Session{b: b, id: b.nextSessionID.Add(1), opts: opts, since: b.nowMs()}
	b.sessionsMu.Lock()
	if b.sessions == nil {
		b.sessions = map[uint64]*Session{}
	}
	b.sessions[s.id] = s
	b.sessionsMu.Unlock()
	return s
}

// ID is unique among the broker's sessions.
func (s *Session) ID() uint64 { return s.id }

// ownerID identifies the session for no-local subscriptions: its client id,
// which survives reconnects, or a name unique to this session.
func (s *Session) ownerID() string {
	if id := s.ClientID(); id != "" {
		return "client:" + id
	}
	return "session:" + strconv.FormatUint(s.id, 10)
}

// ClientID returns the session's client id.
func (s *Session) ClientID() string { return s.opts.ClientID }

// User is the session's authenticated user ("" when anonymous).
func (s *Session) User() string { return s.opts.User }

// Protocol is the name of the adapter the session belongs to ("" when
// the session was opened without one, as tests do).
func (s *Session) Protocol() string { return s.opts.Protocol }

// Connection is the id of the connection the session belongs to (0 when
// unknown); see ConnectionInfo.ID.
func (s *Session) Connection() uint64 { return s.opts.Connection }

// SetClientID sets the client id (JMS lets a client set it after connecting).
func (s *Session) SetClientID(id string) { s.mu.Lock(); s.opts.ClientID = id; s.mu.Unlock() }

// Broker returns the session's broker.
func (s *Session) Broker() *Broker { return s.b }

func (s *Session) authorize(p Permission, address string) error {
	if s == nil || s.opts.Authorize == nil {
		return nil
	}
	if err := s.opts.Authorize(p, address); err != nil {
		return &PermissionError{Permission: p, Address: address, Err: err}
	}
	return nil
}

// Send routes a message. It returns at once with any routing error; done (may
// be nil) is called when the message is durable and in its queues. It never
// waits for space: see Producer.Send, which this is without the count of
// held bytes an adapter needs to bound them.
func (s *Session) Send(ctx context.Context, m *Message, done func(error)) error {
	if err := s.prepareSend(m); err != nil {
		return err
	}
	return s.b.route(ctx, s, m, done, nil)
}

func (s *Session) prepareSend(m *Message) error {
	if err := s.authorize(PermSend, m.Address); err != nil {
		return err
	}
	s.sent.Add(1)
	// The validated user replaces whatever the client claimed.
	m.UserID = s.opts.User
	m.DeleteProperty(PropUserID)
	if h := s.b.hooks.BeforeSend; h != nil {
		if err := h(s, m); err != nil {
			return &RejectedError{Address: m.Address, Err: err}
		}
	}
	return nil
}

// Consume attaches a consumer to a queue. A missing anycast queue is created
// when the address settings allow it.
func (s *Session) Consume(queue string, opts ConsumerOptions) (*Consumer, error) {
	return retryDeleted(func() (*Consumer, error) { return s.consume(queue, opts) })
}

// errQueueDeleted is attach losing a race with the deletion of the queue it
// looked up, typically an auto-deleted queue whose last consumer just left.
var errQueueDeleted = fmt.Errorf("%w: it was deleted", ErrNoSuchQueue)

// retryDeleted repeats a lookup-and-attach that lost that race: looking
// again finds the queue gone and creates it anew (or reports it missing).
func retryDeleted(attach func() (*Consumer, error)) (*Consumer, error) {
	for attempt := 0; ; attempt++ {
		c, err := attach()
		if attempt < 3 && errors.Is(err, errQueueDeleted) {
			continue
		}
		return c, err
	}
}

func (s *Session) consume(queue string, opts ConsumerOptions) (*Consumer, error) {
	if err := validName(queue); err != nil {
		return nil, err
	}
	if err := s.authorize(PermConsume, queue); err != nil {
		return nil, err
	}
	sel, err := parseSelector(opts.Selector)
	if err != nil {
		return nil, err
	}
	b := s.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	q := b.queues[queue]
	if q == nil {
		set := b.settings.Resolve(queue)
		a := b.addresses[queue]
		if (a == nil && !set.AutoCreateAddresses) || !set.AutoCreateQueues {
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: %q", ErrNoSuchQueue, queue)
		}
		if a == nil || !a.anycast {
			if err := s.authorize(PermCreateAddress, queue); err != nil {
				b.mu.Unlock()
				return nil, err
			}
		}
		if err := b.roomLocked(a == nil, true); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.ensureAddressLocked(queue, Anycast, a == nil)
		q = b.createQueueLocked(QueueInfo{Name: queue, Address: queue, RoutingType: Anycast, Durable: true, AutoCreated: true}, nil)
	}
	b.mu.Unlock()
	checked := []string{queue}
	if q.info.Address != queue {
		// A queue reached by name (a subscription's, say) holds what was sent
		// to its address: consuming it needs the permission there too.
		if err := s.authorize(PermConsume, q.info.Address); err != nil {
			return nil, err
		}
		checked = append(checked, q.info.Address)
	}
	return s.attach(q, sel, opts, false, checked)
}

func parseSelector(text string) (*selector.Selector, error) {
	sel, err := selector.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSelector, err)
	}
	return sel, nil
}

func (s *Session) attach(q *Queue, sel *selector.Selector, opts ConsumerOptions, ownsQueue bool, authAddrs []string) (*Consumer, error) {
	if opts.Handler == nil {
		return nil, fmt.Errorf("consumer needs a handler")
	}
	// The queue may just have been created: its binding goes to the store
	// now that the broker lock is released.
	s.b.flushBindings()
	c := &Consumer{
		id: s.b.nextConsumer.Add(1), q: q, s: s, sel: sel, handler: opts.Handler,
		autoAck: opts.AutoAck, window: opts.Window, credit: opts.Credit, ownsQueue: ownsQueue, keepQueue: opts.KeepQueue,
		exclusive: opts.Exclusive, priority: opts.Priority, onClose: opts.OnClose, authAddrs: authAddrs, selText: opts.Selector,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.consumers == nil {
		s.consumers = map[*Consumer]struct{}{} // made on first use: idle clients have none
	}
	s.consumers[c] = struct{}{}
	s.mu.Unlock()
	q.mu.Lock()
	if q.deleted {
		q.unlock()
		s.forget(c)
		return nil, fmt.Errorf("%q: %w", q.info.Name, errQueueDeleted)
	}
	q.addConsumerLocked(c)
	q.dispatchLocked()
	q.unlock()
	return c, nil
}

func (s *Session) forget(c *Consumer) {
	s.mu.Lock()
	delete(s.consumers, c)
	s.mu.Unlock()
}

// SubscribeOptions describe a subscription to a multicast address.
type SubscribeOptions struct {
	// Address may be a wildcard pattern (`*` one word, `#` any words).
	Address string
	// Name names a durable or shared subscription.
	Name    string
	Durable bool
	Shared  bool
	// Selector becomes the subscription queue's filter: messages it rejects
	// are never stored for this subscription.
	Selector string
	// NoLocal skips messages sent by this session (by its client id when it
	// has one, so the rule survives reconnects).
	NoLocal bool
	// NoDollar: see QueueInfo.NoDollar.
	NoDollar bool
	// QueueName, when set, names the subscription queue instead of the
	// client-id/name rule (MQTT names its queues itself).
	QueueName string
	// Stored, when set, is called once with what became of the
	// subscription's stored record: nil at once when there is none to write
	// (not durable, or it existed), nil once the record is durable, or an
	// error wrapping ErrStoreUnavailable. It may be called, from any
	// goroutine, even when Subscribe fails; a client that asked for a
	// confirmation (a SUBSCRIBE receipt) gets it from here.
	Stored func(error)
}

// SubscriptionQueueName returns the queue name of a durable or shared
// subscription: clientID.name, or name alone for a shared subscription of a
// session without a client id (as Artemis names them).
func SubscriptionQueueName(clientID, name string) string {
	if clientID == "" {
		return name
	}
	return clientID + "." + name
}

// Subscribe creates (or reattaches to) a subscription and a consumer on it.
func (s *Session) Subscribe(sub SubscribeOptions, opts ConsumerOptions) (*Consumer, error) {
	if fn := sub.Stored; fn != nil {
		// Once, although a retry may create the queue again.
		var once sync.Once
		sub.Stored = func(err error) { once.Do(func() { fn(err) }) }
	}
	created := false
	c, err := retryDeleted(func() (*Consumer, error) { return s.subscribe(sub, opts, &created) })
	if err == nil && sub.Stored != nil && !created {
		sub.Stored(nil) // nothing was written
	}
	return c, err
}

// subscribe sets *created when it queued a new durable record that calls
// sub.Stored.
func (s *Session) subscribe(sub SubscribeOptions, opts ConsumerOptions, created *bool) (*Consumer, error) {
	if err := validName(sub.Address); err != nil {
		return nil, err
	}
	if err := s.authorize(PermConsume, sub.Address); err != nil {
		return nil, err
	}
	filter, err := parseSelector(sub.Selector)
	if err != nil {
		return nil, err
	}
	if sub.Durable && !sub.Shared && s.ClientID() == "" && sub.QueueName == "" {
		return nil, ErrNoClientID
	}
	b := s.b
	perm := PermCreateNonDurableQueue
	if sub.Durable {
		perm = PermCreateDurableQueue
	}
	var name string
	owns := false
	switch {
	case sub.QueueName != "":
		name = sub.QueueName
		owns = !sub.Durable
	case sub.Durable || sub.Shared:
		if sub.Name == "" {
			return nil, fmt.Errorf("%w: a durable or shared subscription needs a name", ErrInvalidName)
		}
		name = SubscriptionQueueName(s.ClientID(), sub.Name)
		if !sub.Durable {
			owns = true // a shared non-durable subscription dies with its last consumer
		}
	default:
		name = "sub." + strconv.FormatUint(s.id, 10) + "." + strconv.FormatUint(b.nextConsumer.Add(1), 10)
		owns = true
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if !isPattern(sub.Address) {
		a := b.addresses[sub.Address]
		if a == nil || !a.multicast {
			if !b.settings.Resolve(sub.Address).AutoCreateAddresses {
				b.mu.Unlock()
				return nil, fmt.Errorf("%w: %q", ErrNoSuchAddress, sub.Address)
			}
			if err := s.authorize(PermCreateAddress, sub.Address); err != nil {
				b.mu.Unlock()
				return nil, err
			}
			// The subscription queue below must fit too: refuse before
			// creating the address rather than leave it behind.
			if err := b.roomLocked(a == nil, b.queues[name] == nil); err != nil {
				b.mu.Unlock()
				return nil, err
			}
			b.ensureAddressLocked(sub.Address, Multicast, a == nil)
		}
	}
	q := b.queues[name]
	if q != nil {
		if q.info.RoutingType != Multicast {
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: %q is a queue, not a subscription", ErrQueueExists, name)
		}
		if q.info.Address != sub.Address || q.info.Filter != sub.Selector {
			// JMS: a durable subscription re-created with another topic or
			// selector replaces the old one.
			q.mu.Lock()
			busy := len(q.consumers) > 0
			q.mu.Unlock()
			if busy {
				b.mu.Unlock()
				return nil, fmt.Errorf("%w: %q", ErrSubscriptionInUse, name)
			}
			// Replacing deletes the old subscription and its messages: ask
			// for that, and for creating the new one, before anything goes.
			del := PermDeleteNonDurableQueue
			if q.info.Durable {
				del = PermDeleteDurableQueue
			}
			if err := s.authorize(del, q.info.Address); err != nil {
				b.mu.Unlock()
				return nil, err
			}
			if err := s.authorize(perm, sub.Address); err != nil {
				b.mu.Unlock()
				return nil, err
			}
			b.mu.Unlock()
			b.deleteQueue(q, false)
			b.mu.Lock()
			q = nil
		} else if !sub.Shared {
			q.mu.Lock()
			busy := len(q.consumers) > 0
			q.mu.Unlock()
			if busy {
				b.mu.Unlock()
				return nil, fmt.Errorf("%w: %q", ErrSubscriptionInUse, name)
			}
		}
	}
	if q == nil {
		if err := s.authorize(perm, sub.Address); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		if sub.Durable {
			// Its binding could not be stored: the subscription would be
			// confirmed and then missing after a restart. Attaching to an
			// existing one writes nothing and stays possible, so
			// consumers can drain while the store is down.
			if err := b.storeUnavailable(); err != nil {
				b.mu.Unlock()
				return nil, err
			}
		}
		if err := b.roomLocked(false, true); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		info := QueueInfo{Name: name, Address: sub.Address, RoutingType: Multicast, Durable: sub.Durable,
			Filter: sub.Selector, ClientID: s.ClientID(), SubscriptionName: sub.Name, Shared: sub.Shared, NoLocal: sub.NoLocal, NoDollar: sub.NoDollar}
		if sub.NoLocal {
			info.Owner = s.ownerID()
		}
		if sub.Durable && sub.Stored != nil {
			q = b.createQueueLocked(info, filter, sub.Stored)
			*created = true
		} else {
			q = b.createQueueLocked(info, filter)
		}
	}
	b.mu.Unlock()
	return s.attach(q, nil, opts, owns, []string{sub.Address})
}

func isPattern(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '#', '>':
			return true
		}
	}
	return false
}

// Unsubscribe deletes a durable subscription by name. It fails while the
// subscription has consumers.
func (s *Session) Unsubscribe(name string) error {
	qname := SubscriptionQueueName(s.ClientID(), name)
	q, ok := s.b.Queue(qname)
	if !ok || q.info.RoutingType != Multicast {
		return fmt.Errorf("%w: subscription %q", ErrNoSuchQueue, qname)
	}
	if err := s.authorize(PermDeleteDurableQueue, q.info.Address); err != nil {
		return err
	}
	q.mu.Lock()
	busy := len(q.consumers) > 0
	q.mu.Unlock()
	if busy {
		return fmt.Errorf("%w: %q", ErrSubscriptionInUse, qname)
	}
	if !s.b.deleteQueue(q, false) {
		return fmt.Errorf("%w: subscription %q", ErrNoSuchQueue, qname)
	}
	return nil
}

// CreateTemporaryQueue creates an anycast queue that is deleted when the
// session closes.
func (s *Session) CreateTemporaryQueue(name string) (*Queue, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := s.authorize(PermCreateNonDurableQueue, name); err != nil {
		return nil, err
	}
	b := s.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if b.queues[name] != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrQueueExists, name)
	}
	if err := b.roomLocked(b.addresses[name] == nil, true); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	b.ensureAddressLocked(name, Anycast, true)
	q := b.createQueueLocked(QueueInfo{Name: name, Address: name, RoutingType: Anycast, Temporary: true, Owner: s.ownerID()}, nil)
	b.mu.Unlock()
	s.mu.Lock()
	if s.temps == nil {
		s.temps = new([]*Queue)
	}
	*s.temps = append(*s.temps, q)
	s.mu.Unlock()
	return q, nil
}

// Close closes the session's consumers (their unsettled deliveries return to
// their queues) and deletes its temporary queues.
func (s *Session) Close() { s.close() }

// CloseFor closes the session on the core's (or an operator's) initiative:
// its consumers close without their own OnClose, then SessionOptions.OnClose
// is told the reason so the adapter can end the connection natively.
// Adapters use it for a session takeover (ErrTakenOver) as well.
func (s *Session) CloseFor(reason error) {
	if s.close() && s.opts.OnClose != nil {
		s.opts.OnClose(reason)
	}
}

// close reports whether this call closed the session.
func (s *Session) close() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	s.b.sessionsMu.Lock()
	delete(s.b.sessions, s.id)
	s.b.sessionsMu.Unlock()
	consumers := make([]*Consumer, 0, len(s.consumers))
	for c := range s.consumers {
		consumers = append(consumers, c)
	}
	var temps []*Queue
	if s.temps != nil {
		temps = *s.temps
	}
	s.temps = nil
	s.mu.Unlock()
	for _, c := range consumers {
		c.Close()
	}
	for _, q := range temps {
		s.b.deleteQueue(q, false)
	}
	return true
}

// DeleteQueue deletes a queue by name with its messages (deleteDurableQueue or
// deleteNonDurableQueue on its address). It fails while the queue has
// consumers, and with ErrNoSuchQueue when the queue is gone, even if it went
// between the lookup and the deletion.
func (s *Session) DeleteQueue(name string) error {
	q, err := s.deletable(name)
	if err != nil {
		return err
	}
	q.mu.Lock()
	busy := len(q.consumers) > 0
	q.mu.Unlock()
	if busy {
		return fmt.Errorf("%w: %q", ErrSubscriptionInUse, name)
	}
	if !s.b.deleteQueue(q, false) {
		return fmt.Errorf("%w: %q", ErrNoSuchQueue, name)
	}
	return nil
}

// MayDeleteQueue reports whether DeleteQueue would be authorized, ignoring
// the queue's consumers: an adapter that must detach its own consumer before
// deleting asks first, so a refusal leaves its state untouched. A refusal is
// a *PermissionError, audit-logged by the authorize hook like any other.
func (s *Session) MayDeleteQueue(name string) error {
	_, err := s.deletable(name)
	return err
}

func (s *Session) deletable(name string) (*Queue, error) {
	q, ok := s.b.Queue(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchQueue, name)
	}
	perm := PermDeleteNonDurableQueue
	if q.info.Durable {
		perm = PermDeleteDurableQueue
	}
	if err := s.authorize(perm, q.info.Address); err != nil {
		return nil, err
	}
	return q, nil
}
