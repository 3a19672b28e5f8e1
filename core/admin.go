package core

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/junctionmq/junction/storage"
)

// What operators need beyond what adapters use: listing and creating
// addresses and queues outside any client session, purging a queue, and the
// open sessions with who opened them. The management API is built on these;
// they stay protocol-agnostic (a session's protocol is a label the adapter
// gives, nothing more).

// Addresses lists every address, sorted by name.
func (b *Broker) Addresses() []AddressInfo {
	b.mu.RLock()
	out := make([]AddressInfo, 0, len(b.addresses))
	for _, a := range b.addresses {
		out = append(out, AddressInfo{Name: a.name, Anycast: a.anycast, Multicast: a.multicast, AutoCreated: a.autoCreated, Size: a.size.Load()})
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateQueue creates a queue on an operator's behalf: info.Name and
// info.Address are required, the address is created (not auto-created, so
// it is kept) with the queue's routing type when missing. A multicast queue
// is a subscription of its address; info.Filter is a selector. It refuses
// an existing name with ErrQueueExists and the caps with ErrResourceLimit.
func (b *Broker) CreateQueue(info QueueInfo) (*Queue, error) {
	if err := validName(info.Name); err != nil {
		return nil, err
	}
	if err := validName(info.Address); err != nil {
		return nil, err
	}
	if info.RoutingType != Anycast && info.RoutingType != Multicast {
		return nil, fmt.Errorf("%w: a queue is anycast or multicast", ErrRoutingType)
	}
	if info.RoutingType == Anycast && info.Address != info.Name {
		// Anycast routing finds a queue by the address's name (routesLocked).
		return nil, fmt.Errorf("%w: an anycast queue's name is its address's (%q)", ErrRoutingType, info.Address)
	}
	sel, err := parseSelector(info.Filter)
	if err != nil {
		return nil, err
	}
	info.ID, info.Temporary, info.AutoCreated = 0, false, false
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ok := b.queues[info.Name]; ok {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrQueueExists, info.Name)
	}
	a := b.addresses[info.Address]
	if err := b.roomLocked(a == nil, true); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if a == nil || (info.RoutingType == Anycast && !a.anycast) || (info.RoutingType == Multicast && !a.multicast) {
		a = b.ensureAddressLocked(info.Address, info.RoutingType, false)
		a.autoCreated = false
		data, _ := jsonAddress(a)
		b.storeBindingLocked(storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingAddress, Key: a.name, Data: data})
	}
	q := b.createQueueLocked(info, sel)
	b.mu.Unlock()
	b.flushBindings()
	return q, nil
}

// DeleteAddress deletes an address. One with queues bound to it (its
// anycast queue, subscriptions whose address is exactly this name) is
// refused unless force, which deletes them with their messages first.
func (b *Broker) DeleteAddress(name string, force bool) error {
	b.mu.RLock()
	_, ok := b.addresses[name]
	var bound []*Queue
	for _, q := range b.queues {
		if q.info.Address == name {
			bound = append(bound, q)
		}
	}
	b.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchAddress, name)
	}
	if len(bound) > 0 && !force {
		return fmt.Errorf("%w: %q has %d queue(s)", ErrAddressInUse, name, len(bound))
	}
	for _, q := range bound {
		b.deleteQueue(q, false)
	}
	b.mu.Lock()
	a := b.addresses[name]
	if a == nil {
		b.mu.Unlock()
		return nil
	}
	if a.adm.waiting() {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q has sends waiting for space", ErrAddressInUse, name)
	}
	if _, ok := b.queues[name]; ok {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q gained a queue meanwhile", ErrAddressInUse, name)
	}
	delete(b.addresses, name)
	b.routeGen.Add(1)
	if !a.autoCreated {
		b.storeBindingLocked(storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingAddress, Key: name})
	}
	b.mu.Unlock()
	b.flushBindings()
	if h := b.hooks.AddressDestroyed; h != nil {
		h(name)
	}
	return nil
}

// Purge removes the queue's ready and scheduled messages, as if acked;
// messages in flight to consumers, and those on their way to a dead-letter
// or expiry address, stay. It returns how many went.
func (q *Queue) Purge() int {
	// The paged tail's drop is ordered against paging sends (pageOrder).
	ordered := q.b.paging.Load()
	if ordered {
		q.b.pageOrder.lock()
	}
	q.mu.Lock()
	if q.deleted {
		q.mu.Unlock()
		if ordered {
			q.b.pageOrder.unlock()
		}
		return 0
	}
	n := 0
	for lvl := range q.nonEmptyLevels() {
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil && !r.expiring && !r.moving {
				q.removeReady(r)
				q.acked.Add(1)
				q.finishLocked(r, true)
				n++
			}
		}
	}
	for i := 0; i < q.sched.Len(); {
		r := q.sched[i]
		if r.moving {
			i++
			continue
		}
		heap.Remove(&q.sched, i)
		r.scheduledAt = 0
		q.acked.Add(1)
		q.finishLocked(r, true)
		n++
	}
	// The paged tail goes too: it is ready, only not in memory.
	if paged := q.dropPagedLocked(); paged > 0 {
		q.acked.Add(uint64(paged))
		n += int(paged)
	}
	if ordered {
		q.b.pageOrder.unlock()
	}
	q.compactLevels()
	q.unlock()
	return n
}

// oldestLocked returns the timestamp (unix ms) of the oldest message the
// queue holds ready or in flight, 0 when none: the head of each priority
// level and of each consumer's in-flight list, so at most a few dozen looks.
func (q *Queue) oldestLocked() int64 {
	var oldest int64
	see := func(r *ref) {
		if t := r.msg.Timestamp; t > 0 && (oldest == 0 || t < oldest) {
			oldest = t
		}
	}
	for lvl := range q.nonEmptyLevels() {
		if q.nonEmpty&(1<<lvl) == 0 {
			continue
		}
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil {
				see(r)
				break
			}
		}
	}
	for _, c := range q.consumers {
		if c.head != nil {
			see(c.head)
		}
	}
	return oldest
}

// SessionInfo describes an open session (a client connection) for operators.
type SessionInfo struct {
	ID         uint64
	Protocol   string
	ClientID   string
	User       string
	RemoteAddr string
	Since      time.Time
	Consumers  int
	// MessagesIn counts the sends the session asked for; MessagesOut the
	// deliveries its consumers received.
	MessagesIn, MessagesOut uint64
}

// Sessions lists the open sessions, by id. Sessions the broker or an
// adapter opens for its own work (no Protocol) are included; callers that
// want client connections filter on Protocol.
func (b *Broker) Sessions() []SessionInfo {
	ss := b.openSessions()
	out := make([]SessionInfo, 0, len(ss))
	for _, s := range ss {
		s.mu.Lock()
		info := SessionInfo{ID: s.id, Protocol: s.opts.Protocol, ClientID: s.opts.ClientID, User: s.opts.User,
			RemoteAddr: s.opts.RemoteAddr, Since: time.UnixMilli(s.since), Consumers: len(s.consumers)}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			continue
		}
		info.MessagesIn, info.MessagesOut = s.sent.Load(), s.delivered.Load()
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// jsonAddress is the stored form of an address (as CreateAddress writes it).
func jsonAddress(a *address) ([]byte, error) {
	return json.Marshal(AddressInfo{Name: a.name, Anycast: a.anycast, Multicast: a.multicast})
}
