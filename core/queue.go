package core

import (
	"container/heap"
	"slices"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/core/selector"
	"github.com/junctionmq/junction/internal/lockorder"
	"github.com/junctionmq/junction/storage"
)

const levels = 10 // priorities 0-9

// ref is one message held by one queue. The message is shared; the ref carries
// what is per queue: position, delivery count, schedule and in-flight state.
type ref struct {
	msg           *Message
	pos           int64 // position in levels[priority], -1 when not there
	deliveryCount uint32
	scheduledAt   int64 // unix ms; >0 while waiting in the schedule heap
	heapIdx       int   // index in the schedule heap, -1 when not there

	// In flight: delivered to consumer and not yet settled.
	consumer   *Consumer
	tag        uint64
	prev, next *ref
	tx         *Tx       // set when acked inside a transaction not yet completed
	excluded   *Consumer // modified(undeliverable-here): never back to this consumer
	expiring   bool      // queued for expiry by a scan
	moving     bool      // on its way to a dead-letter or expiry address (see move.go)
	// orig is the shared message when msg is this ref's annotated clone
	// (modified outcome); the reference counts are the original's.
	orig    *Message
	readyAt uint64 // queue version when the ref was last made ready
}

// QueueInfo describes a queue for adapters and operators.
type QueueInfo struct {
	ID          uint64
	Name        string
	Address     string // may be a wildcard pattern for a subscription
	RoutingType RoutingType
	Durable     bool
	Temporary   bool
	AutoCreated bool
	Filter      string
	// Subscription identity (multicast queues).
	ClientID         string
	SubscriptionName string
	Shared           bool
	NoLocal          bool
	// Owner identifies the session (its client id, or a per-session name) a
	// no-local subscription belongs to.
	Owner string `json:",omitempty"`
	// NoDollar keeps messages to addresses starting with '$' out of a
	// wildcard subscription whose pattern starts with a wildcard (MQTT's
	// rule for $SYS-style topics).
	NoDollar bool `json:",omitempty"`
}

// QueueStats are counters for operators.
type QueueStats struct {
	Messages     int // ready + scheduled + in flight
	Ready        int
	Scheduled    int
	InFlight     int
	Consumers    int
	Enqueued     uint64
	Acked        uint64
	Expired      uint64
	DeadLettered uint64
	Dropped      uint64 // refused by the queue's limits (SetLimits)
	Delivered    uint64 // deliveries to consumers, redeliveries included
	// Oldest is the timestamp (unix ms) of the oldest message ready or in
	// flight; 0 when the queue holds none.
	Oldest int64
	// Paged are the messages (counted in Messages too) that the queue
	// keeps in the store only, address-full-policy PAGE, and PagedBytes
	// their stored size; Paging is whether it has any.
	Paged      int64
	PagedBytes int64
	Paging     bool
}

// Queue holds messages for consumers.
type Queue struct {
	b      *Broker
	info   QueueInfo
	filter *selector.Selector

	mu lockorder.Mutex[lockorder.QueueRank]
	// levels is made with the queue's first message: an empty queue is
	// most of its cost otherwise (640 bytes).
	levels    *[levels]refDeque
	ready     int
	sched     schedHeap
	timer     *time.Timer
	timerAt   int64
	consumers []*Consumer
	// rr and pins are int32 to share one word: an empty queue's size is
	// per queue (TestEmptyCost).
	rr      int32
	pins    int32 // sends between prepare and publish; a pinned queue is not auto-deleted
	version uint64
	groups  map[string]*Consumer
	// groupRefs counts the refs the queue holds per message group: a group
	// none of whose messages is left loses its owner, so groups does not
	// grow with every group id ever seen.
	groupRefs map[string]int32
	lvq       map[string]*ref
	lvKey     string
	total     int // every ref the queue holds
	inFlight  int
	expiring  int // refs with an expiration, for the reaper
	deleted   bool
	// ordered: the consumers' priorities differ or one is exclusive, so
	// dispatch follows their order (dispatchOrderedLocked) rather than plain
	// round-robin; exclusive: one of them is exclusive. Both sit in the
	// padding after deleted (TestEmptyCost).
	ordered, exclusive bool
	// nonEmpty has a bit per priority level holding refs; it sits in the
	// same padding (the paging pointer pg took its old place's word).
	nonEmpty uint16
	scratch  []*ref
	ops      []storage.Op
	// unstored are the acks among ops, kept until the store has them: a
	// failed write brings their messages back (restoreAcks). waiters are
	// called once ops are durable (SettleWait).
	unstored []ackedRef
	// rare holds what the queue collects under its lock only now and then
	// (dead-letter and expiry moves, SettleWait callbacks) behind one
	// pointer: 8 bytes on an empty queue instead of 48 (issue 16: an empty
	// queue costs about 1 KiB).
	rare     *queueRare
	resetGen uint64
	// pg is the queue's paged tail (paging.go), nil until it first pages.
	pg *pageState

	enqueued, acked, expired, deadLettered, delivered atomic.Uint64

	// Limits set by the adapter (MQTT's max queued messages and bytes),
	// and what the queue holds, readable without its lock by routing.
	limMsgs, limBytes   atomic.Int64 // 0: none
	heldMsgs, heldBytes atomic.Int64
	dropped             atomic.Uint64 // messages refused by the limits
	nConsumers          atomic.Int32  // len(consumers), for routing
	// limFlags holds limitHold and limitEvict: one word, as the queue is
	// kept in the 512-byte size class (TestEmptyCost).
	limFlags  atomic.Uint32
	fullSince int64 // unix ms the reaper first saw it full with consumers; only the reaper uses it
}

// SetLimits bounds the messages and bytes the queue holds (0: no bound).
// Beyond either the queue misses a message (counted in QueueStats.Dropped),
// except that with hold a producer's durable message waits, by producer
// flow control, while the queue has consumers: a slow reader then pushes
// back on its publishers, while an offline one cannot hold a topic's
// publishers for ever (Mosquitto's max_queued_messages drops in both
// cases).
func (q *Queue) SetLimits(messages int, bytes int64, hold bool) {
	q.limMsgs.Store(int64(max(messages, 0)))
	q.limBytes.Store(max(bytes, 0))
	q.setLimFlag(limitHold, hold)
}

// SetEvictOldest makes a full queue that would miss a message (SetLimits
// without hold, or no consumer) drop its oldest ready message instead and
// take the new one, counted in QueueStats.Dropped the same way. This is
// ActiveMQ's pending message limit for non-durable topic subscribers (its
// default eviction strategy drops the oldest): a subscriber that falls
// behind gets the latest messages. When every message is in flight, none
// can be evicted and the new one is missed.
func (q *Queue) SetEvictOldest(on bool) { q.setLimFlag(limitEvict, on) }

// Queue.limFlags bits.
const (
	limitHold  = 1 << iota // a full queue holds producers' durable sends
	limitEvict             // a full queue drops its oldest ready message
)

func (q *Queue) setLimFlag(flag uint32, on bool) {
	if on {
		q.limFlags.Or(flag)
	} else {
		q.limFlags.And(^uint32(flag))
	}
}

func (q *Queue) limFlag(flag uint32) bool { return q.limFlags.Load()&flag != 0 }

// evictOldest drops the oldest ready message of the lowest priority level,
// reporting whether there was one.
func (q *Queue) evictOldest() bool {
	q.mu.Lock()
	defer q.unlock()
	if q.ready == 0 || q.levels == nil || q.deleted {
		return false
	}
	for lvl := range q.levels {
		if q.nonEmpty&(1<<lvl) == 0 {
			continue
		}
		d := &q.levels[lvl]
		for pos := d.base; pos < d.end(); pos++ {
			if r := d.at(pos); r != nil {
				q.removeReady(r)
				q.finishLocked(r, true)
				q.dropped.Add(1)
				return true
			}
		}
	}
	return false
}

// full reports whether the queue is at or over one of its limits.
func (q *Queue) full() bool {
	if n := q.limMsgs.Load(); n > 0 && q.heldMsgs.Load() >= n {
		return true
	}
	if n := q.limBytes.Load(); n > 0 && q.heldBytes.Load() >= n {
		return true
	}
	return false
}

// limited reports whether the queue has a limit.
func (q *Queue) limited() bool { return q.limMsgs.Load() > 0 || q.limBytes.Load() > 0 }

func newQueue(b *Broker, info QueueInfo, filter *selector.Selector) *Queue {
	q := &Queue{b: b, info: info, filter: filter, version: 1}
	if s := b.settings.Resolve(info.Address); s.LastValueKey != "" {
		q.lvKey = s.LastValueKey
		q.lvq = map[string]*ref{}
	}
	return q
}

// level returns one priority level, making the levels on first use.
func (q *Queue) level(lvl int) *refDeque {
	if q.levels == nil {
		q.levels = new([levels]refDeque)
	}
	return &q.levels[lvl]
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.info.Name }

// Info returns the queue's description.
func (q *Queue) Info() QueueInfo { return q.info }

// Stats returns the queue's counters.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	paged, pagedBytes := q.pagedStatsLocked()
	return QueueStats{
		Messages: q.total + int(paged), Ready: q.ready, Scheduled: q.sched.Len(), InFlight: q.inFlight,
		Consumers: len(q.consumers), Enqueued: q.enqueued.Load(), Acked: q.acked.Load(),
		Expired: q.expired.Load(), DeadLettered: q.deadLettered.Load(), Dropped: q.dropped.Load(),
		Delivered: q.delivered.Load(), Oldest: q.oldestLocked(),
		Paged: paged, PagedBytes: pagedBytes, Paging: paged > 0,
	}
}

// settings returns the address settings governing this queue. Subscriptions
// are governed by the address the message was sent to, queues by their own.
func (q *Queue) settingsFor(m *Message) *Settings {
	if q.info.RoutingType == Multicast && m != nil {
		return q.b.settings.Resolve(m.Address)
	}
	return q.b.settings.Resolve(q.info.Address)
}

// queueRare is what Queue.rare points to.
type queueRare struct {
	moves   []move
	waiters []func(error)
}

// rareLocked returns q.rare, made on first use. Caller holds q.mu.
func (q *Queue) rareLocked() *queueRare {
	if q.rare == nil {
		q.rare = &queueRare{}
	}
	return q.rare
}

// unlock releases the lock, then writes the store operations and routes the
// messages that left the queue while it was held. Every public entry point
// locks q.mu and leaves through unlock, so no store call or cross-queue routing
// ever happens under a queue lock.
func (q *Queue) unlock() {
	ops, acks := q.ops, q.unstored
	q.ops, q.unstored = nil, nil
	var moves []move
	var waiters []func(error)
	if r := q.rare; r != nil {
		moves, waiters = r.moves, r.waiters
		q.rare = nil
	}
	startPager := q.pg != nil && q.needPageLocked()
	if startPager {
		q.pg.reading = true
	}
	q.mu.Unlock()
	if startPager {
		q.startPageIn()
	}
	switch {
	case len(ops) == 0:
		for _, w := range waiters {
			w(nil)
		}
	case len(acks) == 0 && len(waiters) == 0:
		q.b.applyAsync(ops)
	default:
		// A waiter asked for a confirmation: the batch is synced for it.
		q.b.apply(ops, len(waiters) > 0, func(err error) {
			if err != nil {
				q.b.storeWriteFailed(err)
				q.restoreAcks(acks)
			}
			for _, w := range waiters {
				w(err)
			}
		})
	}
	if len(moves) > 0 {
		q.b.moveAll(moves)
	}
}

// ackedRef is an acknowledged message whose ack the store does not have yet.
type ackedRef struct {
	m  *Message
	dc uint32
}

// restoreDelay is how long a message whose ack could not be stored waits
// before it is delivered again: a store that fails every write would
// otherwise have consumers receive and ack it in a loop.
const restoreDelay = time.Second

// restoreAcks brings back messages whose acks the store failed to write:
// the store still holds them, so they would come back after a restart, and
// until then they are delivered again (their delivery counts kept) rather
// than missing. Called with no lock held.
func (q *Queue) restoreAcks(acks []ackedRef) {
	if len(acks) == 0 {
		return
	}
	now := q.b.nowMs()
	q.mu.Lock()
	if q.deleted {
		q.mu.Unlock()
		return
	}
	for _, a := range acks {
		m := a.m
		if m.refs.Add(1) == 1 && m.addr != nil {
			m.addr.size.Add(int64(m.Size()))
		}
		m.durableRefs.Add(1)
		q.enqueueLocked(&ref{msg: m, pos: -1, heapIdx: -1, deliveryCount: a.dc, scheduledAt: now + restoreDelay.Milliseconds()}, now)
	}
	q.dispatchLocked()
	q.unlock()
}

// enqueueLocked adds a new ref (from a send, a recovery or a release).
func (q *Queue) enqueueLocked(r *ref, now int64) {
	q.total++
	q.heldMsgs.Add(1)
	q.heldBytes.Add(int64(r.msg.size))
	if g := r.msg.GroupID; g != "" {
		if q.groupRefs == nil {
			q.groupRefs = map[string]int32{}
		}
		q.groupRefs[g]++
	}
	if r.msg.Expiration != 0 {
		q.expiring++
	}
	if r.scheduledAt > now {
		q.schedule(r)
		return
	}
	r.scheduledAt = 0
	q.makeReady(r, false)
}

// makeReady puts r where consumers can find it. front is for refs coming back
// (released, redelivered): they go to the head of their priority, as in Artemis.
func (q *Queue) makeReady(r *ref, front bool) {
	if q.lvq != nil {
		if key := r.msg.Property(q.lvKey); !key.IsNull() {
			k := key.Text()
			if old := q.lvq[k]; old != nil && old != r && old.pos >= 0 {
				if front {
					// r comes back after a newer value arrived: the newer one stands.
					q.acked.Add(1)
					q.finishLocked(r, true)
					return
				}
				// A newer value replaces the older one that nobody has taken yet.
				q.removeReady(old)
				q.acked.Add(1)
				q.finishLocked(old, true)
			}
			q.lvq[k] = r
		}
	}
	lvl := r.msg.Priority
	d := q.level(int(lvl))
	if front {
		d.pushFront(r)
	} else {
		d.pushBack(r)
	}
	q.nonEmpty |= 1 << lvl
	q.ready++
	q.version++
	r.readyAt = q.version
}

func (q *Queue) removeReady(r *ref) {
	lvl := r.msg.Priority
	d := &q.levels[lvl]
	d.remove(r)
	if d.live == 0 {
		q.nonEmpty &^= 1 << lvl
	}
	q.ready--
	if q.lvq != nil {
		if key := r.msg.Property(q.lvKey); !key.IsNull() {
			if q.lvq[key.Text()] == r {
				delete(q.lvq, key.Text())
			}
		}
	}
}

// finishLocked drops a ref for good (acked, expired, dead-lettered, replaced).
func (q *Queue) finishLocked(r *ref, store bool) {
	q.total--
	wasFull := q.limited() && q.full()
	q.heldMsgs.Add(-1)
	q.heldBytes.Add(-int64(r.account().size))
	if wasFull && !q.full() {
		// Sends held for this queue's room may go.
		q.b.wakeLines()
	}
	if g := r.msg.GroupID; g != "" {
		q.groupDoneLocked(g)
	}
	if r.msg.Expiration != 0 {
		q.expiring--
	}
	m := r.account()
	if store && q.info.Durable && m.Durable {
		q.ops = append(q.ops, storage.Op{Kind: storage.OpAck, QueueID: q.info.ID, MsgID: m.key()})
		if m.durableRefs.Add(-1) == 0 {
			q.ops = append(q.ops, storage.Op{Kind: storage.OpDeleteMessage, MsgID: m.key()})
		}
	}
	if m.refs.Add(-1) == 0 {
		q.b.released(m)
	}
}

// groupDoneLocked counts one ref of group g gone. With the last one the
// group's owner is forgotten: nothing of the group is in flight, so the next
// message may go to any consumer without breaking the group's order.
func (q *Queue) groupDoneLocked(g string) {
	n := q.groupRefs[g] - 1
	if n > 0 {
		q.groupRefs[g] = n
		return
	}
	delete(q.groupRefs, g)
	if o := q.groups[g]; o != nil {
		delete(q.groups, g)
		o.groups--
	}
}

// dispatchLocked hands ready messages to consumers with credit, round-robin.
func (q *Queue) dispatchLocked() {
	if q.ready == 0 || len(q.consumers) == 0 || q.deleted {
		return
	}
	// Reading the clock costs as much as the rest of a delivery; only
	// expiry checks need it.
	var now int64
	if q.expiring > 0 {
		now = q.b.nowMs()
	}
	if q.ordered {
		q.dispatchOrderedLocked(now)
		q.compactLevels()
		return
	}
	n := len(q.consumers)
	for idle := 0; q.ready > 0 && idle < n; {
		if int(q.rr) >= n {
			q.rr = 0
		}
		c := q.consumers[q.rr]
		q.rr++
		if c.credit <= 0 || c.seen == q.version {
			idle++
			continue
		}
		r := q.nextFor(c, now)
		q.expireScanned(now)
		if r == nil {
			c.seen = q.version
			idle++
			continue
		}
		q.deliverLocked(c, r)
		idle = 0
	}
	q.compactLevels()
}

// addConsumerLocked places c after every consumer of its priority or
// higher: q.consumers stays sorted by priority, and the first exclusive
// consumer in it is the exclusive owner (ActiveMQ: a newcomer takes the
// ownership only with a higher priority).
func (q *Queue) addConsumerLocked(c *Consumer) {
	i := len(q.consumers)
	for i > 0 && q.consumers[i-1].priority < c.priority {
		i--
	}
	q.consumers = slices.Insert(q.consumers, i, c)
	q.nConsumers.Store(int32(len(q.consumers)))
	q.orderChangedLocked()
}

// orderChangedLocked recomputes the dispatch mode after a consumer came or
// went.
func (q *Queue) orderChangedLocked() {
	q.exclusive, q.ordered = false, false
	for _, c := range q.consumers {
		if c.exclusive {
			q.exclusive = true
		}
	}
	if n := len(q.consumers); n > 0 {
		q.ordered = q.exclusive || q.consumers[0].priority != q.consumers[n-1].priority
	}
}

// dispatchOrderedLocked is dispatch for consumers of several priorities or
// with an exclusive one. With an exclusive owner only it receives. Otherwise
// each message goes to the first consumer, by tier of equal priority from
// the highest, that has credit and takes it; round-robin within a tier.
func (q *Queue) dispatchOrderedLocked(now int64) {
	if q.exclusive {
		var owner *Consumer
		for _, c := range q.consumers {
			if c.exclusive {
				owner = c
				break
			}
		}
		for owner != nil && q.ready > 0 && owner.credit > 0 && owner.seen != q.version {
			r := q.nextFor(owner, now)
			q.expireScanned(now)
			if r == nil {
				owner.seen = q.version
				return
			}
			q.deliverLocked(owner, r)
		}
		return
	}
	for q.ready > 0 && q.dispatchOneOrderedLocked(now) {
	}
}

// dispatchOneOrderedLocked delivers one message; false when no consumer
// could take one.
func (q *Queue) dispatchOneOrderedLocked(now int64) bool {
	cs := q.consumers
	for start := 0; start < len(cs); {
		end := start + 1
		for end < len(cs) && cs[end].priority == cs[start].priority {
			end++
		}
		m := end - start
		for k := range m {
			c := cs[start+(int(q.rr)+k)%m]
			if c.credit <= 0 || c.seen == q.version {
				continue
			}
			r := q.nextFor(c, now)
			q.expireScanned(now)
			if r == nil {
				c.seen = q.version
				continue
			}
			q.deliverLocked(c, r)
			q.rr = (q.rr + int32(k) + 1) & 0x3fffffff
			return true
		}
		start = end
	}
	return false
}

// compactLevels compacts levels whose tombstones outnumber their refs.
func (q *Queue) compactLevels() {
	if q.levels == nil {
		return
	}
	for i := range q.levels {
		q.levels[i].maybeCompact()
	}
}

// nonEmptyLevels returns how many levels to walk: none before the first
// message.
func (q *Queue) nonEmptyLevels() int {
	if q.levels == nil {
		return 0
	}
	return levels
}

type verdict uint8

const (
	skip verdict = iota
	take
)

func (q *Queue) accept(c *Consumer, r *ref, now int64) verdict {
	m := r.msg
	if m.Expiration != 0 && now >= m.Expiration {
		if !r.expiring {
			r.expiring = true
			q.scratch = append(q.scratch, r)
		}
		return skip
	}
	if r.excluded == c {
		return skip
	}
	if m.GroupID != "" {
		if o := q.groups[m.GroupID]; o != nil && o != c {
			return skip
		}
	}
	if c.sel != nil && !c.sel.Matches(r) {
		return skip
	}
	return take
}

// nextFor finds the first ref c may take, highest priority first. Each consumer
// remembers, per level, the positions it has already examined and skipped, so
// a selective consumer on a deep queue does not rescan what it rejected.
func (q *Queue) nextFor(c *Consumer, now int64) *ref {
	for lvl := levels - 1; lvl >= 0; lvl-- {
		if q.nonEmpty&(1<<lvl) == 0 {
			continue
		}
		d := &q.levels[lvl]
		st := &c.scan[lvl]
		if !st.valid || st.epoch != d.epoch || st.reset != q.scanReset() {
			*st = scanState{hi: d.base, seen: q.version, epoch: d.epoch, reset: q.scanReset(), valid: true}
		}
		if st.hi < d.base {
			st.hi = d.base
		}
		// Refs pushed to the front since the last look (released,
		// redelivered) precede every ref examined before. They are found by
		// when they became ready, not by position: once the front has been
		// consumed past a position, a push to the front reuses it.
		for p := d.base; p < d.end(); p++ {
			r := d.at(p)
			if r == nil {
				continue
			}
			if r.readyAt <= st.seen {
				break
			}
			if q.accept(c, r, now) == take {
				return r
			}
		}
		st.seen = q.version
		for p := st.hi; p < d.end(); p++ {
			if r := d.at(p); r != nil && q.accept(c, r, now) == take {
				st.hi = p
				return r
			}
		}
		st.hi = d.end()
	}
	return nil
}

// scanReset is a counter folded into each consumer's scan state: bumping it
// (groups rebalanced) makes every consumer rescan from the front.
func (q *Queue) scanReset() uint64 { return q.resetGen }

// expireScanned removes refs found expired during a scan.
func (q *Queue) expireScanned(now int64) {
	for _, r := range q.scratch {
		if r.pos >= 0 {
			q.removeReady(r)
			q.expireRef(r, now)
		}
	}
	clear(q.scratch)
	q.scratch = q.scratch[:0]
}

// expireRef ends a ref whose message expired, which the caller has taken
// out of the ready levels or the schedule.
func (q *Queue) expireRef(r *ref, now int64) {
	s := q.settingsFor(r.msg)
	if s.ExpiryAddress != "" && s.ExpiryAddress != r.msg.Address {
		q.startMoveLocked(r, move{target: s.ExpiryAddress, reason: "expired", expiry: true})
		return
	}
	q.expired.Add(1)
	q.b.stats.expired.Add(1)
	if h := q.b.hooks.Expired; h != nil {
		h(q, r.msg, nil)
	}
	q.finishLocked(r, true)
}

func (q *Queue) deliverLocked(c *Consumer, r *ref) {
	q.removeReady(r)
	r.deliveryCount++
	if g := r.msg.GroupID; g != "" && q.groups[g] == nil {
		if q.groups == nil {
			q.groups = map[string]*Consumer{}
		}
		q.groups[g] = c
		c.groups++
	}
	c.credit--
	if c.pull != nil {
		c.pullDeliveredLocked()
	}
	c.nextTag++
	q.delivered.Add(1)
	if c.s != nil {
		c.s.delivered.Add(1)
	}
	d := Delivery{Tag: c.nextTag, Message: r.msg, DeliveryCount: r.deliveryCount, Consumer: c}
	hooks := &q.b.hooks
	if h := hooks.BeforeDeliver; h != nil {
		h(q, d)
	}
	if c.autoAck {
		q.acked.Add(1)
		if h := hooks.Acknowledged; h != nil {
			h(q, r.msg, c)
		}
		q.finishLocked(r, true)
	} else {
		r.consumer, r.tag = c, c.nextTag
		c.pushInFlight(r)
		q.inFlight++
	}
	c.handler(d)
	if h := hooks.AfterDeliver; h != nil {
		h(q, d)
	}
}

// schedule parks r until its scheduled time.
func (q *Queue) schedule(r *ref) {
	heap.Push(&q.sched, r)
	if q.timer == nil || r.scheduledAt < q.timerAt || q.timerAt == 0 {
		q.armTimer(r.scheduledAt)
	}
}

func (q *Queue) armTimer(at int64) {
	d := time.Duration(at-q.b.nowMs()) * time.Millisecond
	if d < 0 {
		d = 0
	}
	q.timerAt = at
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.fireTimer)
	} else {
		q.timer.Reset(d)
	}
}

func (q *Queue) fireTimer() {
	q.mu.Lock()
	if q.deleted {
		q.mu.Unlock()
		return
	}
	now := q.b.nowMs()
	q.timerAt = 0
	for q.sched.Len() > 0 && q.sched[0].scheduledAt <= now {
		r := heap.Pop(&q.sched).(*ref)
		r.scheduledAt = 0
		q.makeReady(r, r.deliveryCount > 0)
	}
	if q.sched.Len() > 0 {
		q.armTimer(q.sched[0].scheduledAt)
	}
	q.dispatchLocked()
	q.unlock()
}

// reap removes expired ready and scheduled refs; called by the broker's reaper.
func (q *Queue) reap(now int64) {
	q.mu.Lock()
	if q.expiring == 0 || q.deleted {
		q.mu.Unlock()
		return
	}
	for lvl := range q.nonEmptyLevels() {
		d := &q.levels[lvl]
		for p := d.base; p < d.end(); p++ {
			if r := d.at(p); r != nil && r.msg.Expiration != 0 && now >= r.msg.Expiration && !r.expiring {
				r.expiring = true
				q.scratch = append(q.scratch, r)
			}
		}
	}
	q.expireScanned(now)
	for i := 0; i < q.sched.Len(); {
		r := q.sched[i]
		if r.msg.Expiration != 0 && now >= r.msg.Expiration {
			heap.Remove(&q.sched, i)
			q.expireRef(r, now)
			continue
		}
		i++
	}
	q.compactLevels()
	q.unlock()
}

// settleLocked ends an in-flight ref according to outcome.
func (q *Queue) settleLocked(c *Consumer, r *ref, o Outcome, now int64) {
	c.removeInFlight(r)
	q.inFlight--
	r.consumer = nil
	if c.window && !c.closed {
		c.credit++
	}
	switch o.Kind {
	case Accepted:
		q.acked.Add(1)
		if h := q.b.hooks.Acknowledged; h != nil {
			h(q, r.msg, c)
		}
		if m := r.account(); q.info.Durable && m.Durable {
			q.unstored = append(q.unstored, ackedRef{m: m, dc: r.deliveryCount})
		}
		q.finishLocked(r, true)
	case Released:
		q.releaseLocked(r)
	case Modified:
		if len(o.Annotations) > 0 {
			r.annotate(o.Annotations)
			q.storeAnnotatedLocked(r)
		}
		if o.UndeliverableHere {
			r.excluded = c
		}
		if o.DeliveryFailed {
			q.redeliverLocked(r, now, "delivery failed")
		} else {
			q.releaseLocked(r)
		}
	case Rejected:
		reason := o.Reason
		if reason == "" {
			reason = "rejected"
		}
		q.deadLetterLocked(r, reason, o.Condition)
	}
}

// releaseLocked returns a delivery that did not count: the count goes back
// to what it was and the message to the head of its priority.
func (q *Queue) releaseLocked(r *ref) {
	if r.deliveryCount > 0 {
		r.deliveryCount--
	}
	q.makeReady(r, true)
}

// redeliverLocked returns a failed delivery, or dead-letters it once it has
// used up max-delivery-attempts.
func (q *Queue) redeliverLocked(r *ref, now int64, reason string) {
	s := q.settingsFor(r.msg)
	if s.MaxDeliveryAttempts > 0 && int(r.deliveryCount) >= s.MaxDeliveryAttempts {
		q.deadLetterLocked(r, "max-delivery-attempts "+itoa(s.MaxDeliveryAttempts)+" reached", "")
		return
	}
	q.scheduleLocked(r, now, s.RedeliveryDelayFor(r.deliveryCount))
}

// scheduleLocked puts a ref that is in no list back in the queue after
// delay, storing its delivery count and schedule.
func (q *Queue) scheduleLocked(r *ref, now int64, delay time.Duration) {
	if q.info.Durable && r.msg.Durable {
		var at int64
		if delay > 0 {
			at = now + delay.Milliseconds()
		}
		q.ops = append(q.ops, storage.Op{Kind: storage.OpUpdateRef, QueueID: q.info.ID, MsgID: r.account().key(), DeliveryCount: r.deliveryCount, ScheduledAt: at})
	}
	if delay > 0 {
		r.scheduledAt = now + delay.Milliseconds()
		q.schedule(r)
		return
	}
	q.makeReady(r, true)
}

// deadLetterLocked sends a ref, which the caller has taken out of every
// list, to the dead-letter address; without one the message is dropped.
func (q *Queue) deadLetterLocked(r *ref, reason, condition string) {
	s := q.settingsFor(r.msg)
	if s.DeadLetterAddress != "" && s.DeadLetterAddress != r.msg.Address {
		q.startMoveLocked(r, move{target: s.DeadLetterAddress, reason: reason, condition: condition})
		return
	}
	q.deadLettered.Add(1)
	q.b.stats.deadLettered.Add(1)
	q.b.log.Warn("message dropped: no dead-letter address", "queue", q.info.Name, "message", r.msg.ID, "reason", reason)
	if h := q.b.hooks.DeadLettered; h != nil {
		h(q, r.msg, nil, reason)
	}
	q.finishLocked(r, true)
}

// schedHeap orders scheduled refs by time, then arrival.
type schedHeap []*ref

func (h schedHeap) Len() int { return len(h) }
func (h schedHeap) Less(i, j int) bool {
	if h[i].scheduledAt != h[j].scheduledAt {
		return h[i].scheduledAt < h[j].scheduledAt
	}
	return h[i].msg.ID < h[j].msg.ID
}
func (h schedHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *schedHeap) Push(x any) {
	r := x.(*ref)
	r.heapIdx = len(*h)
	*h = append(*h, r)
}
func (h *schedHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.heapIdx = -1
	return r
}

// Header lets a consumer's selector see the delivery-dependent headers
// (JMSRedelivered, JMSXDeliveryCount) of this ref as it would be delivered.
func (r *ref) Header(h selector.Header) prop.Value {
	switch h {
	case selector.JMSXDeliveryCount:
		return prop.Int32Value(int32(r.deliveryCount + 1))
	case selector.JMSRedelivered:
		return prop.BoolValue(r.deliveryCount > 0)
	}
	return r.msg.Header(h)
}

// Property implements selector.Env.
func (r *ref) Property(name string) prop.Value { return r.msg.Property(name) }
