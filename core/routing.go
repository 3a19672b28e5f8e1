package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	// full: BLOCK policy and no room (or others already waiting): the send
	// must wait in the address's admission line.
	full bool
	// page: PAGE policy and no room: the message's references to durable
	// queues go to the store only (paging.go).
	page bool
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
// message goes to. s may be nil for internal sends. The limit of an address
// in pass is not checked: the caller was admitted there.
func (b *Broker) resolve(s *Session, m *Message, pass ...*address) (resolved, error) {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return resolved{}, ErrClosed
	}
	a := b.addresses[m.Address]
	if a == nil && b.routesNowhereLocked(m) {
		b.mu.RUnlock()
		// Nothing is created for a message nobody can receive (a topic
		// without subscribers): a flood of one-off topics must cost
		// nothing. The permission auto-creating needed is still asked.
		if s != nil {
			if err := s.authorize(PermCreateAddress, m.Address); err != nil {
				return resolved{}, err
			}
		}
		return resolved{drop: true}, nil
	}
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
	if m.RoutingType != Anycast && len(rs.multi) > 0 && len(res.targets) == 0 && rs.plain {
		// Every subscription takes it: the route cache's slice, read-only
		// like rs.any above, saves an allocation per send.
		res.targets = rs.multi[:len(rs.multi):len(rs.multi)]
	} else if m.RoutingType != Anycast && len(rs.multi) > 0 {
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
	if d := a.dupsFor(false); d != nil {
		// Only look here: the id is recorded when the message is enqueued, so
		// a send refused below (address full, a failed commit) can be retried.
		if id := m.Property(PropDuplicateID); !id.IsNull() {
			if d.contains(id.Text()) {
				b.stats.duplicates.Add(1)
				res.drop, res.dup = true, true
				return res, nil
			}
		}
	}
	if !admitted(a, pass) && s != nil {
		b.queueLimits(s, m, &res)
		// Behind sends already waiting, whatever held them.
		res.full = res.full || a.adm.waiting()
	}
	if len(res.targets) == 0 {
		res.drop = true
		return res, nil
	}
	if m.Durable && s != nil && b.storePressure.Load() && !admitted(a, pass) {
		// The store is behind: a producer's durable send waits in the
		// address's line like a send to a full address (internal moves,
		// s == nil, do not: they free space). Nothing blocks the caller.
		res.full = true
		return res, nil
	}
	// The global budget binds producers only: an internal move (s == nil)
	// frees its source as it fills its target.
	global := s != nil && b.globalMax > 0
	if lim := a.settings.MaxSizeBytes; (lim >= 0 || global) && !admitted(a, pass) {
		need := int64(m.Size())
		fitsGlobal := !global || b.globalFits(need)
		policy := a.settings.FullPolicy
		if policy == FullPage && (!m.Durable || b.pager == nil) {
			// Only a durable message pages: a non-persistent one must not
			// come back after a restart, so it waits for room as with BLOCK.
			policy = FullBlock
		}
		switch policy {
		case FullPage:
			// Accepted however full: its references to durable queues
			// stay in the store (prepare), so it costs no memory.
			res.page = !a.fits(need) || !fitsGlobal
		case FullFail:
			if !a.fits(need) {
				return res, fmt.Errorf("%w: %q is over max-size-bytes %d", ErrAddressFull, a.name, lim)
			}
			if !fitsGlobal {
				return res, fmt.Errorf("%w: %q: the broker is over global-max-size %d", ErrAddressFull, a.name, b.globalMax)
			}
		case FullDrop:
			if !a.fits(need) || !fitsGlobal {
				res.drop = true
			}
		default:
			if lim >= 0 && need > lim {
				// It can never fit: holding it would hold the producer forever.
				return res, fmt.Errorf("%w: %q: a %d-byte message exceeds max-size-bytes %d", ErrAddressFull, a.name, need, lim)
			}
			if global && need+messageOverhead > b.globalMax {
				return res, fmt.Errorf("%w: a %d-byte message exceeds global-max-size %d", ErrAddressFull, need, b.globalMax)
			}
			// Join the line when there is one, even if this message
			// would fit: first come, first served, and a producer's
			// messages to an address stay in order.
			res.full = res.full || a.adm.waiting() || !a.fits(need) || !fitsGlobal
		}
	}
	return res, nil
}

// queueLimits applies the limits of full target queues (Queue.SetLimits):
// a producer's durable message to a full holding queue with consumers waits
// in the address's line; otherwise the full queue misses the message,
// counted.
func (b *Broker) queueLimits(s *Session, m *Message, res *resolved) {
	copied := false
	for i := 0; i < len(res.targets); i++ {
		q := res.targets[i]
		if !q.limited() || !q.full() {
			continue
		}
		if m.Durable && q.limFlag(limitHold) && q.nConsumers.Load() > 0 {
			res.full = true
			continue
		}
		if q.limFlag(limitEvict) && q.evictOldest() {
			continue // room made for the new message
		}
		if !copied {
			// The slice may be the route cache's: never write into it.
			res.targets = append([]*Queue(nil), res.targets...)
			copied = true
		}
		q.dropped.Add(1)
		res.targets = append(res.targets[:i], res.targets[i+1:]...)
		i--
	}
}

func admitted(a *address, pass []*address) bool {
	for _, x := range pass {
		if x == a {
			return true
		}
	}
	return false
}

// routesNowhereLocked reports whether a message to an address that does not
// exist would be auto-created as multicast and reach no subscription.
// Caller holds b.mu.
func (b *Broker) routesNowhereLocked(m *Message) bool {
	rt := m.RoutingType
	if rt == Anycast {
		return false
	}
	set := b.settings.peek(m.Address)
	if !set.AutoCreateAddresses || (rt == RoutingAny && set.DefaultRoutingType != Multicast) {
		return false
	}
	found := false
	b.bindings.Match(m.Address, func(*Queue) { found = true })
	return !found
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
		case a == nil || (!a.anycast && !a.multicast):
			// No address, or one recovered for its duplicate ids only.
			rt = set.DefaultRoutingType
		case a.anycast && !a.multicast:
			rt = Anycast
		default:
			return nil
		}
	}
	if err := b.roomLocked(a == nil, rt == Anycast && b.queues[m.Address] == nil); err != nil {
		return err
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

// route sends m and calls done (may be nil) once it is durable and in its
// queues. A send that must wait for space is held (see admission.go) and
// route returns nil at once; p, when not nil, counts it.
func (b *Broker) route(ctx context.Context, s *Session, m *Message, done func(error), p *Producer) error {
	if err := b.validate(m); err != nil {
		return err
	}
	if m.Durable {
		if err := b.storeUnavailable(); err != nil {
			return err
		}
	}
	return b.routeAdmitted(ctx, s, m, done, p, nil)
}

// routeAdmitted is route past validation; pass is the address whose
// admission line the send has just left, or nil.
func (b *Broker) routeAdmitted(ctx context.Context, s *Session, m *Message, done func(error), p *Producer, pass *address) error {
	for attempt := 0; ; attempt++ {
		res, err := b.resolve(s, m, pass)
		if err != nil {
			return err
		}
		if res.full {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%w: %q: %w", ErrAddressFull, res.a.name, err)
			}
			b.holdSend(ctx, s, m, done, p, res.a, int64(m.Size()))
			return nil
		}
		var ops []storage.Op
		gate := b.pageGate(m.Durable)
		pm, ok := b.prepare(m, res, &ops)
		if !ok && attempt < 3 {
			gate.open()
			continue // a target queue was deleted under us: resolve again
		}
		// A stored message becomes visible only once the store has it: a
		// send the store failed is never delivered (and no ack can reach
		// the store ahead of the message it settles).
		if len(ops) > 0 {
			gate.apply(b, ops, true, func(err error) {
				if err != nil {
					b.storeWriteFailed(err)
					b.withdraw(pm)
				}
				// Before the message is visible, so that the hook sees
				// the send before any delivery of it.
				if h := b.hooks.AfterSend; h != nil && s != nil {
					h(s, m, pm.queues(), storeErr(err))
				}
				if err == nil {
					b.publish(pm)
				}
				if done != nil {
					done(storeErr(err))
				}
			})
			return nil
		}
		gate.open()
		// Nothing to store: confirm once the message is in its queues, so a
		// client told "done" finds it there.
		if h := b.hooks.AfterSend; h != nil && s != nil {
			h(s, m, pm.queues(), nil)
		}
		b.publish(pm)
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
	targets []*Queue // the queues that hold it in memory, pinned
	paged   []*Queue // the queues that took it paged (counted in their tails)
	gens    []uint64 // each paged queue's tail generation when it took it
	now     int64
	dups    *dupCache // where dupID was recorded, to forget it if the store fails
	dupID   string
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
	var dupID, evicted string
	var dups *dupCache
	if id := m.Property(PropDuplicateID); !id.IsNull() && id.Text() != "" {
		if dups = res.a.dupsFor(true); dups != nil {
			var dup bool
			dupID = id.Text()
			if dup, evicted = dups.seen(dupID); dup {
				// A concurrent send (or an earlier one in the same
				// transaction) with this id got here first.
				b.stats.duplicates.Add(1)
				return prepared{}, true
			}
		}
	}
	// targets stays res.targets (read-only, possibly the route cache's)
	// until a deleted subscription has to be left out, or a queue takes
	// the message paged: copying it for every send cost an allocation on
	// the hot path for a case that is rare.
	targets, copied := res.targets, false
	var paged []*Queue
	var gens []uint64
	canPage := m.Durable && b.pager != nil
	for i, q := range res.targets {
		q.mu.Lock()
		deleted := q.deleted
		pageIt := false
		if !deleted {
			if canPage && q.info.Durable && (res.page || q.pagedLocked()) {
				// Past the budget, or behind references already paged:
				// the queue's order is the store's until its tail drains.
				pageIt = true
				gens = append(gens, q.pageOutLocked())
			} else {
				q.pins++
			}
		}
		q.mu.Unlock()
		if !deleted && !pageIt {
			if copied {
				targets = append(targets, q)
			}
			continue
		}
		if !copied {
			targets, copied = append(make([]*Queue, 0, len(res.targets)-1), res.targets[:i]...), true
		}
		if pageIt {
			paged = append(paged, q)
			continue
		}
		if q.info.RoutingType == Anycast {
			b.unpin(targets, paged)
			if dupID != "" {
				dups.forget(dupID)
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
	if len(targets) == 0 && len(paged) == 0 {
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
	if len(targets) > 0 {
		// A message every queue took paged is held by none in memory.
		res.a.size.Add(int64(m.size))
		b.globalSize.Add(int64(m.size) + messageOverhead)
	}
	if durable > 0 || len(paged) > 0 {
		data := EncodeMessage(make([]byte, 0, m.Size()), m)
		if durable > 0 {
			*ops = append(*ops, storage.Op{Kind: storage.OpAddMessage, MsgID: m.ID, Data: data})
			for _, q := range targets {
				if q.info.Durable {
					*ops = append(*ops, storage.Op{Kind: storage.OpAddRef, QueueID: q.info.ID, MsgID: m.ID, ScheduledAt: m.ScheduledAt})
				}
			}
		}
		*ops = b.pageOps(*ops, m, paged, data, durable > 0)
		if dupID != "" {
			// The id survives a restart exactly when its message does.
			dups.stored(dupID)
			*ops = dupOps(*ops, res.a.name, dupID, evicted, m.ID)
		}
	} else if evicted != "" {
		b.applyAsync([]storage.Op{{Kind: storage.OpDeleteBinding, Binding: storage.BindingDuplicateID, Key: dupKey(res.a.name, evicted)}})
	}
	b.stats.routed.Add(1)
	return prepared{m: m, targets: targets, paged: paged, gens: gens, now: now, dups: dups, dupID: dupID}, true
}

// storeErr makes a store's error ErrStoreUnavailable for adapters, which map
// it to their protocol's "not stored".
func storeErr(err error) error {
	if err != nil && !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, storage.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return err
}

// withdraw undoes prepare for a message the store failed to write: it
// never becomes visible, its queues are unpinned, its address's space
// comes back, and its duplicate id is forgotten so that the producer's
// retry is not dropped as a duplicate.
func (b *Broker) withdraw(p prepared) {
	if p.m == nil {
		return
	}
	for _, q := range p.targets {
		q.mu.Lock()
		q.pins--
		q.unlock()
	}
	b.unpage(p)
	if p.dupID != "" {
		p.dups.forget(p.dupID)
	}
	b.stats.routed.Add(^uint64(0))
	if len(p.targets) > 0 {
		b.released(p.m)
	}
}

// publish makes a prepared message visible on its queues and dispatches it.
// A queue deleted meanwhile (it was pinned, so only an explicit delete) drops
// its reference, in the store too.
func (b *Broker) publish(p prepared) {
	b.pagedStored(p)
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

// createQueueLocked registers a queue and stores its binding. Caller holds
// b.mu for writing.
func (b *Broker) createQueueLocked(info QueueInfo, filter *selector.Selector, stored ...func(error)) *Queue {
	q := b.registerQueueLocked(info, filter)
	info = q.info
	if info.Durable && !info.Temporary {
		data, _ := json.Marshal(info)
		b.storeBindingLocked(storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: info.Name, Data: data}, stored...)
		return q
	}
	for _, fn := range stored {
		fn(nil)
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
	if h := b.hooks.QueueCreated; h != nil {
		h(q.info)
	}
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
	if ifUnused && (len(q.consumers) > 0 || q.total > 0 || q.pins > 0 || q.pagedLocked()) {
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
	for lvl := range q.nonEmptyLevels() {
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
	q.nConsumers.Store(0)
	q.ready, q.inFlight = 0, 0
	q.dropPagedLocked()
	if q.info.Durable && !q.info.Temporary {
		q.ops = append(q.ops, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingQueue, Key: q.info.Name})
	}
	q.unlock()
	for _, c := range consumers {
		c.detached(ErrQueueDeleted)
	}
	if h := b.hooks.QueueDestroyed; h != nil {
		h(q.info)
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
	case q.info.AutoCreated && q.info.RoutingType == Anycast && empty && !c.keepQueue && b.settings.Resolve(q.info.Address).AutoDeleteQueues:
		b.deleteQueue(q, true)
	}
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
	b.apply([]storage.Op{{Kind: storage.OpPutBinding, Binding: kind, Key: key, Data: data}}, true, done)
}

// DeleteRecord removes a stored adapter record.
func (b *Broker) DeleteRecord(kind storage.BindingKind, key string, done func(error)) {
	b.mu.Lock()
	delete(b.records[kind], key)
	b.mu.Unlock()
	if done == nil {
		done = func(error) {}
	}
	b.apply([]storage.Op{{Kind: storage.OpDeleteBinding, Binding: kind, Key: key}}, true, done)
}
