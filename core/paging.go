package core

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/storage"
)

// Paging (address-full-policy PAGE): a queue larger than memory.
//
// Past its address's max-size-bytes, or with the broker over global-max-size,
// a durable message's references to durable queues are written as
// storage.OpPageRef and the core keeps nothing of them: the message lives in
// the store alone. Once a queue has such a paged tail, every newer reference
// of that queue goes to the tail too, so the queue's order is the store's
// until the tail is drained. As consumers drain what is in memory, a
// page-in goroutine (one per queue at most, pageReaders across the broker)
// reads the tail back in order with Pager.ReadPaged, off the queue lock,
// turns each reference into an ordinary message and reference
// (OpPageIn) and appends it, so that selectors, expiry, scheduling,
// redelivery and priorities apply to it like to any other.

const (
	// pageLowWater: a paging queue reads its tail back while fewer refs
	// than this are ready or scheduled in memory. Reading starts well
	// before memory runs dry, so consumers find messages while the next
	// batch is read (the drain is pipelined), and stops soon after: what
	// a paging queue holds in memory stays about pageLowWater+pageBatch
	// messages, whatever its backlog.
	pageLowWater = 4096
	// pageMaxBytes also stops the reading once the queue holds that many
	// bytes in memory (large messages).
	pageMaxBytes = 32 << 20
	// pageBatch is how many references one ReadPaged call reads.
	pageBatch = 1024
	// pageReaders bounds the page-in reads running at once, broker-wide.
	pageReaders = 4
	// pageLookAhead: for a consumer whose selector matches none of the
	// ready messages, a paging queue reads on until it holds this many
	// times its low-water mark (then the consumer waits for others to
	// drain the queue, as in Artemis).
	pageLookAhead = 16
	// pageLowOverBudget replaces pageLowWater while the broker is over
	// global-max-size, so that many paging queues together stay near it.
	pageLowOverBudget = 256
	// pageRetry is how long a queue whose read failed waits to read again.
	pageRetry = time.Second
)

// pageState is a queue's paged tail; made by the first paged reference
// (an empty queue carries only the nil pointer).
type pageState struct {
	count int64        // references the store holds paged for the queue, not yet paged in
	bytes atomic.Int64 // their stored message data, as counted for stats
	after uint64       // the store's position of the last one paged in (0: none)
	gen   uint64       // bumped when the tail is dropped: a read under way is discarded
	// logged: "paging started" was logged and "stopped" was not yet;
	// loggedAt is when the last of them was (paging.go: logStart).
	logged   bool
	loggedAt time.Time
	// reading: a page-in goroutine runs for the queue. idle: the last read
	// found nothing to page in (references counted but not yet durable):
	// no read is started again until one is stored (pagedStored).
	reading, idle bool
	// moving: the page-in goroutine is applying a batch's OpPageIn, so
	// the store's paged range may already start past after, which moves
	// only when the batch is appended. A browser that read the store
	// meanwhile cannot tell what it missed: it waits (waiting counts it)
	// on moved, whose L is the queue's lock, and reads again (browse.go).
	moving  bool
	waiting int
	moved   sync.Cond
}

// pageLogQuiet: a queue whose consumers keep pace at its budget pages and
// drains its tail over and over; after a "stopped" line the next start is
// logged only this much later (and then its stop too).
const pageLogQuiet = 10 * time.Second

// logStart logs that the queue started paging. Caller holds q.mu.
func (pg *pageState) logStart(q *Queue) {
	if pg.logged || time.Since(pg.loggedAt) < pageLogQuiet {
		return
	}
	pg.logged, pg.loggedAt = true, time.Now()
	q.b.log.Info("queue paging started: new messages stay in the store until consumers drain it", "queue", q.info.Name, "address", q.info.Address)
}

// logStop logs that the queue stopped paging, if its start was logged.
// Caller holds q.mu.
func (pg *pageState) logStop(q *Queue, why string) {
	if !pg.logged {
		return
	}
	pg.logged, pg.loggedAt = false, time.Now()
	q.b.log.Info("queue paging stopped: "+why, "queue", q.info.Name, "address", q.info.Address)
}

// pagedLocked reports whether the queue has a paged tail. Caller holds q.mu.
func (q *Queue) pagedLocked() bool { return q.pg != nil && q.pg.count > 0 }

// pageOutLocked counts one reference that is being paged and returns the
// tail's generation, which tells unpage whether a purge has since counted
// it out. Caller holds q.mu.
func (q *Queue) pageOutLocked() uint64 {
	if q.pg == nil {
		q.pg = &pageState{}
	}
	if q.pg.count == 0 {
		q.pg.logStart(q)
	}
	q.pg.count++
	return q.pg.gen
}

// pageOps appends one OpPageRef per queue in paged, all with data, the
// encoded message. The first reuses the message's id when no queue stored
// it as an ordinary message (an anycast queue, the common case); every
// other copy is stored under an id of its own, as the contract wants one
// per stored record. data holds the message's own id, which every copy
// takes back when it is read (setStoreID): a message keeps one identity
// (JMSMessageID, STOMP message-id, the key MQTT folds overlapping
// subscriptions' copies by) in all its queues, paged or not.
func (b *Broker) pageOps(ops []storage.Op, m *Message, paged []*Queue, data []byte, stored bool) []storage.Op {
	for i, q := range paged {
		id := m.ID
		if stored || i > 0 {
			id = b.nextMsgID.Add(1)
		}
		ops = append(ops, storage.Op{Kind: storage.OpPageRef, QueueID: q.info.ID, MsgID: id, ScheduledAt: m.ScheduledAt, Data: data})
		q.pg.bytes.Add(int64(len(data)))
	}
	return ops
}

// unpin undoes the pins and paging counts of a prepare that gave up.
func (b *Broker) unpin(targets, paged []*Queue) {
	for _, q := range targets {
		q.mu.Lock()
		q.pins--
		q.mu.Unlock()
	}
	for _, q := range paged {
		q.mu.Lock()
		q.pg.count--
		q.unlock()
	}
}

// unpage uncounts the paged references of a send the store did not take.
// A queue purged since its prepare has counted them out already (and as
// purged: that count is taken back).
func (b *Broker) unpage(p prepared) {
	if len(p.paged) == 0 {
		return
	}
	n := int64(len(EncodeMessage(nil, p.m)))
	for i, q := range p.paged {
		q.mu.Lock()
		if q.pg.gen != p.gens[i] {
			q.acked.Add(^uint64(0))
			q.unlock()
			continue
		}
		q.pg.count--
		q.pg.bytes.Add(-n)
		q.unlock()
	}
}

// pagedStored tells the queues that took p paged that its references are
// in the store: a page-in waiting for them may read them.
func (b *Broker) pagedStored(p prepared) {
	for _, q := range p.paged {
		q.enqueued.Add(1)
		q.mu.Lock()
		q.pg.idle = false
		if q.deleted {
			// Deleted while the send was being stored: its drop may have
			// reached the store first, so the reference is dropped again.
			q.ops = append(q.ops, storage.Op{Kind: storage.OpPageDrop, QueueID: q.info.ID, Pos: math.MaxUint64})
		}
		q.unlock()
	}
}

// needPageLocked reports whether the queue should read its tail back now.
// Caller holds q.mu.
func (q *Queue) needPageLocked() bool {
	pg := q.pg
	// Without consumers nothing needs to be in memory: a queue nobody
	// reads keeps its tail in the store (its expired messages too, until
	// they are read back).
	if pg == nil || pg.count == 0 || pg.reading || pg.idle || q.deleted || len(q.consumers) == 0 || q.heldBytes.Load() >= pageMaxBytes {
		return false
	}
	held, low := q.ready, q.b.cfg.pageLow
	if b := q.b; b.globalMax > 0 && b.globalSize.Load() > b.globalMax {
		// Over the broker's budget (many paging queues, or other
		// addresses full): read back only what keeps consumers going.
		low = min(low, pageLowOverBudget)
	}
	// Scheduled references read back wait in memory for their time, and
	// do not feed consumers: a tail that starts with thousands scheduled
	// for tomorrow must not hold back the ready ones behind them. They
	// count against the read-ahead's outer bound (and pageMaxBytes) only.
	if q.sched.Len() >= low*pageLookAhead {
		return false
	}
	return held < low || (held < low*pageLookAhead && q.starvingLocked())
}

// starvingLocked reports whether a consumer with credit found nothing it
// takes among the ready messages (a selector that matches none of them):
// it may match some of the paged ones, which are read further ahead for
// it. Caller holds q.mu.
func (q *Queue) starvingLocked() bool {
	for _, c := range q.consumers {
		if c.credit > 0 && c.seen == q.version {
			return true
		}
	}
	return false
}

// pagedIn is one reference read back, decoded off the queue lock.
type pagedIn struct {
	pos   uint64
	m     *Message
	a     *address
	dc    uint32
	at    int64
	bytes int
	bad   bool // undecodable: dropped
}

// startPageIn starts the queue's page-in goroutine (unlock set
// pg.reading), unless the broker is closing.
func (q *Queue) startPageIn() {
	b := q.b
	b.pageRunMu.Lock()
	if b.pageStop {
		b.pageRunMu.Unlock()
		q.mu.Lock()
		q.pg.reading = false
		q.mu.Unlock()
		return
	}
	b.pageRun.Add(1)
	b.pageRunMu.Unlock()
	go func() {
		defer b.pageRun.Done()
		q.pageIn()
	}()
}

// pageIn reads the queue's tail back while the queue needs it. It runs in
// its own goroutine, started by startPageIn with pg.reading set.
func (q *Queue) pageIn() {
	b := q.b
	select {
	case b.pageSem <- struct{}{}:
	case <-b.stop:
		q.mu.Lock()
		q.pg.reading = false
		q.mu.Unlock()
		return
	}
	defer func() { <-b.pageSem }()
	var batch []pagedIn
	addrs := map[string]*address{}
	for {
		q.mu.Lock()
		pg := q.pg
		pg.reading = false
		select {
		case <-b.stop:
			// Closing: Close waits for this goroutine, and the store
			// must see no page-in after it.
			q.mu.Unlock()
			return
		default:
		}
		if !q.needPageLocked() {
			q.mu.Unlock()
			return
		}
		pg.reading = true
		after, gen := pg.after, pg.gen
		n := int(min(int64(b.cfg.pageBatch), pg.count))
		q.mu.Unlock()

		batch = batch[:0]
		err := b.pager.ReadPaged(q.info.ID, after, n, func(p storage.PagedRef) error {
			in := pagedIn{pos: p.Pos, dc: p.DeliveryCount, at: p.ScheduledAt, bytes: len(p.Data)}
			m, err := DecodeMessage(p.Data)
			if err != nil {
				b.log.Error("paged message unreadable: dropped", "queue", q.info.Name, "message", p.MsgID, "err", err)
				in.bad = true
			} else {
				m.setStoreID(p.MsgID)
				m.size = int32(m.Size())
				a := addrs[m.Address]
				if a == nil {
					a = b.addressFor(m.Address)
					addrs[m.Address] = a
				}
				in.m, in.a = m, a
			}
			batch = append(batch, in)
			return nil
		})

		if err == nil && len(batch) > 0 {
			q.mu.Lock()
			pg.moving = true
			q.mu.Unlock()
			// The store pages them in before any ack of them can reach it:
			// acks are written by whoever settles, in another goroutine,
			// and must not overtake the page-in.
			err = b.applyWait(pageInOps(q.info.ID, batch))
		}
		q.mu.Lock()
		if pg.moving {
			// Whatever follows under this lock (append, discard, give
			// up) settles the store's range for a browser that waits.
			pg.moving = false
			if pg.waiting > 0 {
				pg.moved.Broadcast()
			}
		}
		if q.deleted || pg.gen != gen {
			// Dropped (purge, delete) while it was read: what the store
			// paged in meanwhile goes too.
			if err == nil {
				for _, in := range batch {
					if !in.bad {
						q.ops = append(q.ops, storage.Op{Kind: storage.OpAck, QueueID: q.info.ID, MsgID: in.m.key()},
							storage.Op{Kind: storage.OpDeleteMessage, MsgID: in.m.key()})
					}
				}
			}
			q.unlock()
			clear(batch)
			continue
		}
		if err != nil && errors.Is(err, storage.ErrClosed) {
			pg.reading = false
			q.mu.Unlock()
			return
		}
		if err != nil {
			b.log.Error("paging in failed: the queue's paged messages wait", "queue", q.info.Name, "err", err, "retry", pageRetry)
			pg.idle = true
			pg.reading = false
			q.mu.Unlock()
			time.AfterFunc(pageRetry, func() {
				q.mu.Lock()
				q.pg.idle = false
				q.unlock()
			})
			return
		}
		if len(batch) == 0 {
			// What is counted is not durable yet: its send's done
			// (pagedStored) starts the next read.
			pg.idle = true
			pg.reading = false
			q.unlock()
			return
		}
		q.appendPagedLocked(batch)
		q.dispatchLocked()
		q.unlock() // pg.reading keeps others from starting
		clear(batch)
	}
}

// appendPagedLocked makes references read back ordinary ones, in order.
// Caller holds q.mu.
func (q *Queue) appendPagedLocked(batch []pagedIn) {
	b, pg := q.b, q.pg
	now := b.nowMs()
	for _, in := range batch {
		pg.after = in.pos
		pg.count--
		pg.bytes.Add(-int64(in.bytes))
		if in.bad {
			continue
		}
		m := in.m
		m.pagedPos = in.pos
		m.refs.Store(1)
		m.durableRefs.Store(1)
		m.addr = in.a
		in.a.size.Add(int64(m.size))
		b.globalSize.Add(int64(m.size) + messageOverhead)
		r := &ref{msg: m, pos: -1, heapIdx: -1, deliveryCount: in.dc, scheduledAt: in.at}
		if r.scheduledAt == 0 && m.ScheduledAt != 0 && in.dc == 0 {
			r.scheduledAt = m.ScheduledAt
		}
		q.enqueueLocked(r, now)
		if m.Expiration != 0 && now >= m.Expiration && r.pos >= 0 {
			// Expired while paged: the expiry path, as the reaper would.
			r.expiring = true
			q.scratch = append(q.scratch, r)
		}
	}
	if pg.count < 0 {
		pg.count = 0
	}
	q.expireScanned(now)
	if pg.count == 0 {
		pg.logStop(q, "its paged messages are all back in memory")
	}
}

// addressFor returns the address a paged message counts against, making
// it as recovery does when it went away meanwhile.
func (b *Broker) addressFor(name string) *address {
	b.mu.RLock()
	a := b.addresses[name]
	b.mu.RUnlock()
	if a != nil {
		return a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ensureAddressLocked(name, RoutingAny, true)
}

// dropPagedLocked drops the queue's whole paged tail (purge, delete),
// returning how many references went. The drop is applied here, under the
// queue's lock (and for a purge the page order, see pageOrder), not with
// the queue's other operations at unlock: a send paging into the queue
// right after must reach the store after it. Caller holds q.mu.
func (q *Queue) dropPagedLocked() int64 {
	pg := q.pg
	if pg == nil || pg.count == 0 {
		return 0
	}
	n := pg.count
	// Every position is at or before MaxUint64: the store drops all the
	// queue's references not paged in.
	b := q.b
	b.store.Apply([]storage.Op{{Kind: storage.OpPageDrop, QueueID: q.info.ID, Pos: math.MaxUint64}}, false, func(err error) {
		if err != nil {
			b.storeWriteFailed(err)
		}
	})
	pg.count = 0
	pg.bytes.Store(0)
	pg.gen++
	pg.idle = false
	pg.logStop(q, "its paged messages were dropped")
	return n
}

// pagedStats returns the paged count and bytes. Caller holds q.mu.
func (q *Queue) pagedStatsLocked() (int64, int64) {
	if q.pg == nil {
		return 0, 0
	}
	return q.pg.count, q.pg.bytes.Load()
}

// Paging reports whether the queue has a paged tail.
func (q *Queue) Paging() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pagedLocked()
}

// Paged implements storage.PagedRecovery: a queue comes back with its
// paged tail counted, read back as consumers need it once the broker runs.
func (r *recoverer) Paged(queueID uint64, count, bytes int64) error {
	b := r.b
	b.mu.RLock()
	q := b.queueByID[queueID]
	b.mu.RUnlock()
	if q == nil {
		q = r.placeholder(queueID)
	}
	b.paging.Store(true)
	q.mu.Lock()
	if q.pg == nil {
		q.pg = &pageState{}
	}
	q.pg.logStart(q)
	q.pg.count += count
	q.pg.bytes.Add(bytes)
	q.mu.Unlock()
	r.paged = append(r.paged, q)
	r.stats.Paged += count
	return nil
}

// setStoreID records that the store holds m, decoded from data that
// carries its identity, under id: the message's own id when they differ
// (a paged copy; pageOps). Data without an id takes the store's.
func (m *Message) setStoreID(id uint64) {
	switch m.ID {
	case 0:
		m.ID = id
	case id:
	default:
		m.storeID = id
	}
}

// pageInOps are the store operations that page a batch in: OpPageIn for
// each reference, OpPageDrop for one whose message does not decode.
func pageInOps(queueID uint64, batch []pagedIn) []storage.Op {
	ops := make([]storage.Op, 0, len(batch))
	for _, in := range batch {
		if in.bad {
			ops = append(ops, storage.Op{Kind: storage.OpPageDrop, QueueID: queueID, Pos: in.pos})
			continue
		}
		ops = append(ops, storage.Op{Kind: storage.OpPageIn, QueueID: queueID, MsgID: in.m.key(), Pos: in.pos})
	}
	return ops
}

// applyWait applies ops without sync and waits until the store has taken
// them: operations applied afterwards follow them. Call it with no lock held.
func (b *Broker) applyWait(ops []storage.Op) error {
	done := make(chan error, 1)
	b.apply(ops, false, func(err error) { done <- err })
	return <-done
}

// queues are every queue that took p: in memory and paged (hooks).
func (p prepared) queues() []*Queue {
	if len(p.paged) == 0 {
		return p.targets
	}
	return append(append(make([]*Queue, 0, len(p.targets)+len(p.paged)), p.targets...), p.paged...)
}

// A purge drops a queue's paged tail with one OpPageDrop at MaxUint64:
// every reference the store took before the drop goes, every one it takes
// after stays. The core's count must agree, so a paged send's OpPageRef and
// a purge's drop must reach the store in the order the queue counted them:
// a send counts its references (prepare, under the queue lock) before it
// calls Apply, and a purge that came in between, or whose drop is applied
// after the queue lock is released, would count one way and drop the other
// (a reference dropped yet counted, so the queue shows paged messages it
// will never find; or counted out yet kept, read back after the count ran
// out, or never). pageOrder makes "count and apply" one step for either
// side: a send that may page holds it shared from prepare to its Apply
// call, a purge holds it exclusively from its count to its drop's Apply.
//
// Readers are preferred: a reader never waits for a writer that only waits,
// so a send path that nests another (a refused dead-letter move running the
// queue's other moves) cannot deadlock against a purge, as sync.RWMutex
// would. A purge waits for a moment with no paging send between its prepare
// and its Apply call: microseconds each.
type pageOrder struct {
	mu      sync.Mutex
	cond    sync.Cond
	readers int
	writer  bool
}

func (o *pageOrder) rlock() {
	o.mu.Lock()
	if o.cond.L == nil {
		o.cond.L = &o.mu
	}
	for o.writer {
		o.cond.Wait()
	}
	o.readers++
	o.mu.Unlock()
}

func (o *pageOrder) runlock() {
	o.mu.Lock()
	o.readers--
	if o.readers == 0 && o.cond.L != nil {
		o.cond.Broadcast()
	}
	o.mu.Unlock()
}

func (o *pageOrder) lock() {
	o.mu.Lock()
	if o.cond.L == nil {
		o.cond.L = &o.mu
	}
	for o.writer || o.readers > 0 {
		o.cond.Wait()
	}
	o.writer = true
	o.mu.Unlock()
}

func (o *pageOrder) unlock() {
	o.mu.Lock()
	o.writer = false
	o.cond.Broadcast()
	o.mu.Unlock()
}

// pageGate is a send's hold on b.pageOrder (none when nothing can page).
type pageGate struct{ b *Broker }

// pageGate holds the broker's page order for a send that may page: call it
// before prepare, and end it with the gate's apply or open.
func (b *Broker) pageGate(durable bool) pageGate {
	if !durable || !b.paging.Load() {
		return pageGate{}
	}
	b.pageOrder.rlock()
	return pageGate{b}
}

// open lets the gate go without applying anything.
func (g pageGate) open() {
	if g.b != nil {
		g.b.pageOrder.runlock()
	}
}

// apply applies ops and lets the gate go once Apply has returned (the
// store has ordered them). A done the store calls from within Apply runs
// after that, outside the gate: it may send (moves), which takes the gate.
func (g pageGate) apply(b *Broker, ops []storage.Op, synced bool, done func(error)) {
	if g.b == nil {
		b.apply(ops, synced, done)
		return
	}
	var (
		mu     sync.Mutex
		inside = true
		early  bool
		result error
	)
	b.apply(ops, synced, func(err error) {
		mu.Lock()
		if inside {
			early, result = true, err
			mu.Unlock()
			return
		}
		mu.Unlock()
		done(err)
	})
	mu.Lock()
	inside = false
	mu.Unlock()
	b.pageOrder.runlock()
	if early {
		done(result)
	}
}
