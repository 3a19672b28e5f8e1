package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/junctionmq/junction/storage"
)

// recoverer rebuilds the broker from the store.
type recoverer struct {
	b *Broker
	// msgs are the recovered messages in the order the store reported
	// them, ids their ids (apart, so a search reads 8 bytes an entry).
	msgs []*recovered
	ids  []uint64
	// next is where the next reference's message is looked for first:
	// stores report messages in the order of their references, so a
	// reference's message is usually the one after the last one found.
	next int
	// ascending holds while ids came in increasing order (a binary search
	// finds what next misses); index maps id to position otherwise, made
	// on the first miss.
	ascending bool
	index     map[uint64]int
	stats     RecoveryStats
	orphans   []storage.Op
	dups      []recoveredDup
	// placeholders hold messages whose queue binding was lost.
	placeholders []*Queue
	// paged are the queues with a paged tail, to start reading once loaded.
	paged []*Queue
	// now is the clock at the start: one reading for every reference.
	now int64
	// addr is the address of the last message referenced: messages of a
	// queue share one, so most references skip the broker's map and lock.
	addr *address
	// lastAddr is the last message's address: the next one shares its
	// bytes when it names the same.
	lastAddr string
	// names are the property names decoded so far (see names).
	names names
	// q is the queue of the last reference, qID its id.
	q   *Queue
	qID uint64
}

// recovered is a recovered message and its first reference, allocated
// together: one allocation instead of two for the usual message stored on
// one queue. The reference's memory lives as long as the message's.
//
// No other field: with a 304-byte Message it is 416 bytes, a size class of
// the allocator (the two apart take 320 + 112); a byte more takes 448
// (TestRecoveredSize allows 16 bytes over the two apart).
type recovered struct {
	m Message
	r ref // in use once r.msg is set
}

// Expect implements storage.RecoveryHint.
func (r *recoverer) Expect(messages int) {
	if len(r.msgs) == 0 && messages > 0 {
		r.msgs = make([]*recovered, 0, messages)
		r.ids = make([]uint64, 0, messages)
	}
}

// find returns the position of message id in r.msgs.
func (r *recoverer) find(id uint64) (int, bool) {
	// The last one found (a message on several queues), then the next.
	for i := max(r.next-1, 0); i < min(r.next+1, len(r.ids)); i++ {
		if r.ids[i] == id {
			r.next = i + 1
			return i, true
		}
	}
	var i int
	var ok bool
	if r.ascending {
		i, ok = slices.BinarySearch(r.ids, id)
	} else {
		if r.index == nil {
			r.index = make(map[uint64]int, len(r.ids))
			for i, id := range r.ids {
				r.index[id] = i
			}
		}
		i, ok = r.index[id]
	}
	if ok {
		r.next = i + 1
	}
	return i, ok
}

func (b *Broker) recover(ctx context.Context) (RecoveryStats, error) {
	start := time.Now()
	r := &recoverer{b: b, ascending: true, now: b.nowMs()}
	if err := b.store.Load(ctx, r); err != nil {
		return r.stats, fmt.Errorf("recovering the store: %w", err)
	}
	// A store may report itself unavailable until loaded.
	b.storeChanged()
	var maxID uint64
	for i, rm := range r.msgs {
		id := r.ids[i]
		maxID = max(maxID, id)
		if rm.m.durableRefs.Load() == 0 {
			// Stored but referenced by no queue: a leftover of an interrupted delete.
			r.orphans = append(r.orphans, storage.Op{Kind: storage.OpDeleteMessage, MsgID: id})
		}
	}
	if maxID >= b.nextMsgID.Load() {
		b.nextMsgID.Store(maxID + 1)
	}
	for _, q := range r.placeholders {
		data, _ := json.Marshal(q.info)
		r.orphans = append(r.orphans, storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: q.info.Name, Data: data})
	}
	r.orphans = append(r.orphans, b.restoreDups(r.dups)...)
	if len(r.orphans) > 0 {
		b.applyAsync(r.orphans)
	}
	r.stats.Messages = len(r.msgs)
	r.stats.Duration = time.Since(start)
	for _, q := range r.paged {
		// Reads the first batch back, so consumers find it in memory.
		q.mu.Lock()
		q.unlock()
	}
	return r.stats, nil
}

func (r *recoverer) Binding(kind storage.BindingKind, key string, data []byte) error {
	b := r.b
	switch kind {
	case storage.BindingQueue:
		var info QueueInfo
		if err := json.Unmarshal(data, &info); err != nil {
			return fmt.Errorf("queue binding %q: %w", key, err)
		}
		filter, err := parseSelector(info.Filter)
		if err != nil {
			return fmt.Errorf("queue binding %q: %w", key, err)
		}
		b.mu.Lock()
		rt := info.RoutingType
		if !isPattern(info.Address) || rt == Anycast {
			b.ensureAddressLocked(info.Address, rt, info.AutoCreated)
		}
		b.registerQueueLocked(info, filter)
		b.mu.Unlock()
		r.stats.Queues++
	case storage.BindingAddress:
		var a AddressInfo
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("address binding %q: %w", key, err)
		}
		b.mu.Lock()
		if a.Anycast {
			b.ensureAddressLocked(a.Name, Anycast, false)
		}
		if a.Multicast {
			b.ensureAddressLocked(a.Name, Multicast, false)
		}
		b.mu.Unlock()
	case storage.BindingDuplicateID:
		addr, id, ok := parseDupKey(key)
		if !ok || len(data) != 8 {
			return fmt.Errorf("duplicate id record %q: malformed", key)
		}
		// Applied once everything is loaded, when the addresses exist.
		r.dups = append(r.dups, recoveredDup{addr: addr, id: id, seq: binary.BigEndian.Uint64(data)})
	default:
		b.mu.Lock()
		if b.records[kind] == nil {
			b.records[kind] = map[string][]byte{}
		}
		b.records[kind][key] = append([]byte(nil), data...)
		b.mu.Unlock()
	}
	return nil
}

func (r *recoverer) Message(id uint64, data []byte) error {
	rm := &recovered{}
	if r.names == nil {
		r.names = names{}
	}
	if err := decodeMessageInto(&rm.m, data, r.lastAddr, r.names); err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	rm.m.setStoreID(id) // a paged-in copy keeps its message's identity
	if n := len(r.ids); n > 0 && r.ids[n-1] >= id {
		r.ascending = false
	}
	if r.index != nil {
		r.index[id] = len(r.ids)
	}
	r.msgs = append(r.msgs, rm)
	r.ids = append(r.ids, id)
	r.lastAddr = rm.m.Address
	return nil
}

// setAddr makes name's address the current one.
func (r *recoverer) setAddr(name string) {
	b := r.b
	b.mu.Lock()
	r.addr = b.ensureAddressLocked(name, RoutingAny, true)
	b.mu.Unlock()
}

func (r *recoverer) Ref(queueID, msgID uint64, deliveryCount uint32, scheduledAt int64) error {
	b := r.b
	i, ok := r.find(msgID)
	if !ok {
		// A reference to a missing message cannot be served; drop it so it
		// does not linger in the store.
		r.orphans = append(r.orphans, storage.Op{Kind: storage.OpAck, QueueID: queueID, MsgID: msgID})
		return nil
	}
	q := r.q
	if q == nil || r.qID != queueID {
		b.mu.RLock()
		q = b.queueByID[queueID]
		b.mu.RUnlock()
		if q == nil {
			q = r.placeholder(queueID)
		}
		r.q, r.qID = q, queueID
	}
	rm := r.msgs[i]
	m := &rm.m
	if m.refs.Add(1) == 1 {
		m.size = int32(m.Size())
		if a := r.addr; a == nil || a.name != m.Address {
			r.setAddr(m.Address)
		}
		a := r.addr
		a.size.Add(int64(m.size))
		b.globalSize.Add(int64(m.size) + messageOverhead)
		m.addr = a
	}
	m.durableRefs.Add(1)
	rf := &rm.r
	if rf.msg != nil {
		rf = &ref{}
	}
	*rf = ref{msg: m, pos: -1, heapIdx: -1, deliveryCount: deliveryCount, scheduledAt: scheduledAt}
	if scheduledAt == 0 && m.ScheduledAt != 0 && deliveryCount == 0 {
		rf.scheduledAt = m.ScheduledAt
	}
	q.mu.Lock()
	q.enqueueLocked(rf, r.now)
	q.mu.Unlock()
	r.stats.Refs++
	return nil
}

// placeholder makes a queue for references whose queue binding is gone (a
// repaired journal lost it) while its messages are here: they are kept in
// a queue an operator can drain rather than deleted.
func (r *recoverer) placeholder(queueID uint64) *Queue {
	b := r.b
	name := "junction.recovered." + strconv.FormatUint(queueID, 10)
	b.mu.Lock()
	b.ensureAddressLocked(name, Anycast, false)
	q := b.queueByID[queueID]
	if q == nil {
		q = b.registerQueueLocked(QueueInfo{ID: queueID, Name: name, Address: name, RoutingType: Anycast, Durable: true}, nil)
		r.placeholders = append(r.placeholders, q)
		b.log.Warn("messages of an unknown queue recovered into a new queue", "queue", name)
	}
	b.mu.Unlock()
	return q
}
