package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/core/selector"
	"github.com/junctionmq/junction/storage"
)

func stringValue(s string) prop.Value { return prop.StringValue(s) }
func int64Value(i int64) prop.Value   { return prop.Int64Value(i) }

// resolved is where one message is going, decided before anything is enqueued
// so a transaction can fail as a whole.
type resolved struct {
	a       *address
	targets []*Queue
	drop    bool // DROP policy, duplicate, or routed nowhere
	dup     bool
}

// validate checks a message before routing.
func (b *Broker) validate(m *Message) error {
	if m.Priority > 9 {
		return fmt.Errorf("%w: %d", ErrInvalidPriority, m.Priority)
	}
	if sz := m.Size(); sz > b.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, sz, b.cfg.MaxMessageSize)
	}
	return validName(m.Address)
}

// resolve finds (creating per the address settings) the address and queues a
// message goes to. s may be nil for internal sends.
func (b *Broker) resolve(ctx context.Context, s *Session, m *Message) (resolved, error) {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return resolved{}, ErrClosed
	}
	a := b.addresses[m.Address]
	if a == nil || !b.hasRoutingLocked(a, m.RoutingType) {
		b.mu.RUnlock()
		if err := b.autoCreate(s, m); err != nil {
			return resolved{}, err
		}
		b.mu.RLock()
		a = b.addresses[m.Address]
		if a == nil {
			b.mu.RUnlock()
			return resolved{}, fmt.Errorf("%w: %q", ErrNoSuchAddress, m.Address)
		}
	}
	rs := b.routesLocked(a)
	b.mu.RUnlock()

	var res resolved
	res.a = a
	if m.RoutingType != Multicast {
		// Shared with the route cache, read-only: the capped length makes
		// an append below copy instead of writing into the cache.
		res.targets = rs.any[:len(rs.any):len(rs.any)]
	}
	if m.RoutingType != Anycast && len(rs.multi) > 0 {
		// One allocation for the whole fan-out rather than one per doubling.
		res.targets = append(make([]*Queue, 0, len(res.targets)+len(rs.multi)), res.targets...)
		for _, q := range rs.multi {
			if q.filter != nil && !q.filter.Matches(m) {
				continue
			}
			if q.info.NoLocal && s != nil && q.info.Owner == s.ownerID() {
				continue
			}
			if q.info.NoDollar && strings.HasPrefix(m.Address, "$") {
				continue
			}
			res.targets = append(res.targets, q)
		}
	}
	if a.dups != nil {
		// Only look here: the id is recorded when the message is enqueued, so
		// a send refused below (address full, a failed commit) can be retried.
		if id := m.Property(PropDuplicateID); !id.IsNull() {
			if a.dups.contains(id.Text()) {
				b.stats.duplicates.Add(1)
				res.drop, res.dup = true, true
				return res, nil
			}
		}
	}
	if len(res.targets) == 0 {
		res.drop = true
		return res, nil
	}
	if lim := a.settings.MaxSizeBytes; lim >= 0 {
		need := int64(m.Size())
		for a.size.Load()+need > lim {
			switch a.settings.FullPolicy {
			case FullFail:
				return res, fmt.Errorf("%w: %q is over max-size-bytes %d", ErrAddressFull, a.name, lim)
			case FullDrop:
				res.drop = true
				return res, nil
			}
			if need > lim {
				// It can never fit: blocking would hold the producer forever.
				return res, fmt.Errorf("%w: %q: a %d-byte message exceeds max-size-bytes %d", ErrAddressFull, a.name, need, lim)
			}
			if err := a.waitForSpace(ctx, need); err != nil {
				return res, fmt.Errorf("%w: %q blocked: %w", ErrAddressFull, a.name, err)
			}
		}
	}
	return res, nil
}

func (b *Broker) hasRoutingLocked(a *address, rt RoutingType) bool {
	switch rt {
	case Anycast:
		q := b.queues[a.name]
		return a.anycast && q != nil && q.info.RoutingType == Anycast
	case Multicast:
		return a.multicast
	}
	if a.anycast && !a.multicast {
		// An anycast-only address routes only to its queue, which may have
		// been auto-deleted: autoCreate brings it back.
		return b.hasRoutingLocked(a, Anycast)
	}
	return a.anycast || a.multicast
}

// autoCreate creates what a send needs, per auto-create-addresses and
// auto-create-queues.
func (b *Broker) autoCreate(s *Session, m *Message) error {
	set := b.settings.Resolve(m.Address)
	rt := m.RoutingType
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	a := b.addresses[m.Address]
	if rt == RoutingAny {
		switch {
		case a == nil:
			rt = set.DefaultRoutingType
		case a.anycast && !a.multicast:
			rt = Anycast
		default:
			return nil
		}
	}
	if a == nil || (rt == Anycast && !a.anycast) || (rt == Multicast && !a.multicast) {
		if !set.AutoCreateAddresses {
			return fmt.Errorf("%w: %q (auto-create-addresses is off)", ErrNoSuchAddress, m.Address)
		}
		if s != nil {
			if err := s.authorize(PermCreateAddress, m.Address); err != nil {
				return err
			}
		}
		b.ensureAddressLocked(m.Address, rt, a == nil)
	}
	if rt == Anycast && b.queues[m.Address] == nil {
		if !set.AutoCreateQueues {
			return fmt.Errorf("%w: %q (auto-create-queues is off)", ErrNoSuchQueue, m.Address)
		}
		b.createQueueLocked(QueueInfo{Name: m.Address, Address: m.Address, RoutingType: Anycast, Durable: true, AutoCreated: true}, nil)
	}
	return nil
}

// route sends m. When ops is nil the store write is issued here and done is
// called once it is durable; otherwise the operations are appended to *ops for
// the caller (a transaction) to write.
func (b *Broker) route(ctx context.Context, s *Session, m *Message, done func(error)) error {
	if err := b.validate(m); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		res, err := b.resolve(ctx, s, m)
		if err != nil {
			return err
		}
		var ops []storage.Op
		p, ok := b.prepare(m, res, &ops)
		if !ok && attempt < 3 {
			continue // a target queue was deleted under us: resolve again
		}
		// The store hears of the message before any consumer can see it, so
		// an ack can never reach the store ahead of the message it settles.
		if len(ops) > 0 {
			if done == nil {
				b.store.Apply(ops, true, func(error) {})
				b.publish(p)
				return nil
			}
			// Confirm when the message is durable and in its queues, whichever
			// comes last (a store may call back before publish returns).
			j := &confirm{n: 2, done: done}
			b.store.Apply(ops, true, j.one)
			b.publish(p)
			j.one(nil)
			return nil
		}
		// Nothing to store: confirm once the message is in its queues, so a
		// client told "done" finds it there.
		b.publish(p)
		if done != nil {
			done(nil)
		}
		return nil
	}
}

// prepared is a message ready to become visible: its target queues are
// pinned (a pinned queue is not auto-deleted) and its store operations built.
type prepared struct {
	m       *Message
	targets []*Queue
	now     int64
}

// prepare readies m for its resolved targets and appends its store
// operations to ops. It reports false, changing nothing, when an anycast
// target was deleted since resolve: the caller resolves again.
func (b *Broker) prepare(m *Message, res resolved, ops *[]storage.Op) (prepared, bool) {
	b.stats.sent.Add(1)
	if res.drop {
		if !res.dup {
			b.stats.dropped.Add(1)
		}
		return prepared{}, true
	}
	var dupID string
	if res.a.dups != nil {
		if id := m.Property(PropDuplicateID); !id.IsNull() {
			dupID = id.Text()
			if res.a.dups.seen(dupID) {
				// A concurrent send (or an earlier one in the same
				// transaction) with this id got here first.
				b.stats.duplicates.Add(1)
				return prepared{}, true
			}
		}
	}
	targets := res.targets[:0:0]
	for _, q := range res.targets {
		q.mu.Lock()
		deleted := q.deleted
		if !deleted {
			q.pins++
		}
		q.mu.Unlock()
		if !deleted {
			targets = append(targets, q)
			continue
		}
		if q.info.RoutingType == Anycast {
			for _, p := range targets {
				p.mu.Lock()
				p.pins--
				p.mu.Unlock()
			}
			if dupID != "" {
				res.a.dups.forget(dupID)
			}
			return prepared{}, false
		}
		// A subscription that went away just misses the message.
	}
	now := b.nowMs()
	if m.Timestamp == 0 {
		m.Timestamp = now
	}
	set := res.a.settings
	if m.Expiration == 0 && set.MaxExpiryDelay > 0 {
		m.Expiration = now + set.MaxExpiryDelay.Milliseconds()
	} else if m.Expiration != 0 {
		if set.MinExpiryDelay > 0 && m.Expiration < now+set.MinExpiryDelay.Milliseconds() {
			m.Expiration = now + set.MinExpiryDelay.Milliseconds()
		}
		if set.MaxExpiryDelay > 0 && m.Expiration > now+set.MaxExpiryDelay.Milliseconds() {
			m.Expiration = now + set.MaxExpiryDelay.Milliseconds()
		}
	}
	if m.ID == 0 {
		m.ID = b.nextMsgID.Add(1)
	}
	m.size = int32(m.Size())
	m.addr = res.a
	if len(targets) == 0 {
		b.stats.dropped.Add(1)
		return prepared{}, true
	}
	durable := 0
	if m.Durable {
		for _, q := range targets {
			if q.info.Durable {
				durable++
			}
		}
	}
	m.refs.Store(int32(len(targets)))
	m.durableRefs.Store(int32(durable))
	res.a.size.Add(int64(m.size))
	if durable > 0 {
		*ops = append(*ops, storage.Op{Kind: storage.OpAddMessage, MsgID: m.ID, Data: EncodeMessage(nil, m)})
		for _, q := range targets {
			if q.info.Durable {
				*ops = append(*ops, storage.Op{Kind: storage.OpAddRef, QueueID: q.info.ID, MsgID: m.ID, ScheduledAt: m.ScheduledAt})
			}
		}
	}
	b.stats.routed.Add(1)
	return prepared{m: m, targets: targets, now: now}, true
}

// publish makes a prepared message visible on its queues and dispatches it.
// A queue deleted meanwhile (it was pinned, so only an explicit delete) drops
// its reference, in the store too.
func (b *Broker) publish(p prepared) {
	for _, q := range p.targets {
		q.mu.Lock()
		q.pins--
		r := &ref{msg: p.m, pos: -1, heapIdx: -1, scheduledAt: p.m.ScheduledAt}
		if q.deleted {
			q.finishLocked(r, true)
			q.unlock()
			continue
		}
		q.enqueueLocked(r, p.now)
		q.enqueued.Add(1)
		q.dispatchLocked()
		q.unlock()
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitForSpace blocks a producer until need more bytes fit under the
// address's limit.
func (a *address) waitForSpace(ctx context.Context, need int64) error {
	a.waiting.Add(1)
	defer a.waiting.Add(-1)
	for {
		a.spaceMu.Lock()
		if a.size.Load()+need <= a.settings.MaxSizeBytes {
			a.spaceMu.Unlock()
			return nil
		}
		if a.space == nil {
			a.space = make(chan struct{})
		}
		ch := a.space
		a.spaceMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// createQueueLocked registers a queue and stores its binding. Caller holds
// b.mu for writing.
func (b *Broker) createQueueLocked(info QueueInfo, filter *selector.Selector) *Queue {
	q := b.registerQueueLocked(info, filter)
	info = q.info
	if info.Durable && !info.Temporary {
		data, _ := json.Marshal(info)
		b.applyAsync([]storage.Op{{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: info.Name, Data: data}})
	}
	return q
}

// registerQueueLocked makes a queue known without storing it: recovery uses
// it, since the store must not be written while it replays its state. Caller
// holds b.mu for writing.
func (b *Broker) registerQueueLocked(info QueueInfo, filter *selector.Selector) *Queue {
	if info.ID == 0 {
		info.ID = b.nextQueueID.Add(1)
	} else if info.ID > b.nextQueueID.Load() {
		b.nextQueueID.Store(info.ID)
	}
	q := newQueue(b, info, filter)
	b.queues[info.Name] = q
	b.queueByID[info.ID] = q
	if info.RoutingType == Multicast {
		b.bindings.Add(info.Address, q)
	}
	b.routeGen.Add(1)
	return q
}

// deleteQueue removes a queue and drops its messages. With ifUnused it keeps a
// queue that gained consumers or messages since the caller looked.
func (b *Broker) deleteQueue(q *Queue, ifUnused bool) bool {
	b.mu.Lock()
	if b.queues[q.info.Name] != q {
		b.mu.Unlock()
		return false
	}
	q.mu.Lock()
	if ifUnused && (len(q.consumers) > 0 || q.total > 0 || q.pins > 0) {
		q.mu.Unlock()
		b.mu.Unlock()
		return false
	}
	q.deleted = true
	delete(b.queues, q.info.Name)
	delete(b.queueByID, q.info.ID)
	if q.info.RoutingType == Multicast {
		b.bindings.Remove(q.info.Address, q)
	}
	b.routeGen.Add(1)
	b.mu.Unlock()

	if q.timer != nil {
		q.timer.Stop()
	}
	for lvl := range q.levels {
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil {
				q.finishLocked(r, true)
			}
		}
		q.levels[lvl] = refDeque{}
	}
	for _, r := range q.sched {
		q.finishLocked(r, true)
	}
	q.sched = nil
	consumers := q.consumers
	for _, c := range consumers {
		for r := c.head; r != nil; r = r.next {
			q.finishLocked(r, true)
		}
		c.head, c.tail, c.inFlight = nil, nil, nil
		c.closed = true
		c.stopPullLocked()
	}
	q.consumers = nil
	q.ready, q.inFlight = 0, 0
	if q.info.Durable && !q.info.Temporary {
		q.ops = append(q.ops, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingQueue, Key: q.info.Name})
	}
	q.unlock()
	for _, c := range consumers {
		c.detached(ErrQueueDeleted)
	}
	return true
}

// consumerGone applies auto-delete rules once a consumer has closed.
func (b *Broker) consumerGone(q *Queue, c *Consumer, remaining int, empty bool) {
	if remaining > 0 {
		return
	}
	switch {
	case c.ownsQueue:
		b.deleteQueue(q, false)
	case q.info.AutoCreated && q.info.RoutingType == Anycast && empty && b.settings.Resolve(q.info.Address).AutoDeleteQueues:
		b.deleteQueue(q, true)
	}
}

// dupCache remembers the last n duplicate ids seen on an address.
type dupCache struct {
	mu   sync.Mutex
	ring []string
	next int
	set  map[string]struct{}
}

func newDupCache(n int) *dupCache {
	return &dupCache{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

// contains reports whether id is in the window, without recording it.
func (d *dupCache) contains(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[id]
	return ok
}

// forget removes an id recorded for a send that was then not enqueued. It
// scans the ring, which is fine on that rare path.
func (d *dupCache) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; !ok {
		return
	}
	delete(d.set, id)
	for i, x := range d.ring {
		if x == id {
			d.ring[i] = ""
			break
		}
	}
}

// seen records id and reports whether it was already in the window.
func (d *dupCache) seen(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return true
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = id
	d.set[id] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return false
}

// Records returns a copy of the stored records of one kind (MQTT sessions,
// retained messages) as recovered at start and updated since.
func (b *Broker) Records(kind storage.BindingKind) map[string][]byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[string][]byte, len(b.records[kind]))
	for k, v := range b.records[kind] {
		out[k] = v
	}
	return out
}

// PutRecord stores a record for an adapter; done is called once it is durable.
func (b *Broker) PutRecord(kind storage.BindingKind, key string, data []byte, done func(error)) {
	b.mu.Lock()
	if b.records[kind] == nil {
		b.records[kind] = map[string][]byte{}
	}
	b.records[kind][key] = data
	b.mu.Unlock()
	if done == nil {
		done = func(error) {}
	}
	b.store.Apply([]storage.Op{{Kind: storage.OpPutBinding, Binding: kind, Key: key, Data: data}}, true, done)
}

// DeleteRecord removes a stored adapter record.
func (b *Broker) DeleteRecord(kind storage.BindingKind, key string, done func(error)) {
	b.mu.Lock()
	delete(b.records[kind], key)
	b.mu.Unlock()
	if done == nil {
		done = func(error) {}
	}
	b.store.Apply([]storage.Op{{Kind: storage.OpDeleteBinding, Binding: kind, Key: key}}, true, done)
}

// len returns how many ids the window holds.
func (d *dupCache) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.set)
}

// confirm calls done once n completions have arrived, with the first error.
type confirm struct {
	mu   sync.Mutex
	n    int
	err  error
	done func(error)
}

func (c *confirm) one(err error) {
	c.mu.Lock()
	if err != nil && c.err == nil {
		c.err = err
	}
	c.n--
	fire, err := c.n == 0, c.err
	c.mu.Unlock()
	if fire {
		c.done(err)
	}
}
