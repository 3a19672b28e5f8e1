package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/junctionmq/junction/storage"
)

// recoverer rebuilds the broker from the store.
type recoverer struct {
	b        *Broker
	messages map[uint64]*Message
	stats    RecoveryStats
	orphans  []storage.Op
	dups     []recoveredDup
	// placeholders hold messages whose queue binding was lost.
	placeholders []*Queue
	// paged are the queues with a paged tail, to start reading once loaded.
	paged []*Queue
	// now is the clock at the start: one reading for every reference.
	now int64
	// addr is the address of the last message referenced: messages of a
	// queue share one, so most references skip the broker's map and lock.
	addr *address
}

// Expect implements storage.RecoveryHint.
func (r *recoverer) Expect(messages int) {
	if len(r.messages) == 0 && messages > 0 {
		r.messages = make(map[uint64]*Message, messages)
	}
}

func (b *Broker) recover(ctx context.Context) (RecoveryStats, error) {
	start := time.Now()
	r := &recoverer{b: b, messages: map[uint64]*Message{}, now: b.nowMs()}
	if err := b.store.Load(ctx, r); err != nil {
		return r.stats, fmt.Errorf("recovering the store: %w", err)
	}
	// A store may report itself unavailable until loaded.
	b.storeChanged()
	var maxID uint64
	for id, m := range r.messages {
		if id > maxID {
			maxID = id
		}
		if m.durableRefs.Load() == 0 {
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
	r.stats.Messages = len(r.messages)
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
	m, err := DecodeMessage(data)
	if err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	m.setStoreID(id) // a paged-in copy keeps its message's identity
	r.messages[id] = m
	return nil
}

func (r *recoverer) Ref(queueID, msgID uint64, deliveryCount uint32, scheduledAt int64) error {
	b := r.b
	b.mu.RLock()
	q := b.queueByID[queueID]
	b.mu.RUnlock()
	m := r.messages[msgID]
	if m == nil {
		// A reference to a missing message cannot be served; drop it so it
		// does not linger in the store.
		r.orphans = append(r.orphans, storage.Op{Kind: storage.OpAck, QueueID: queueID, MsgID: msgID})
		return nil
	}
	if q == nil {
		q = r.placeholder(queueID)
	}
	if m.refs.Add(1) == 1 {
		m.size = int32(m.Size())
		a := r.addr
		if a == nil || a.name != m.Address {
			b.mu.Lock()
			a = b.ensureAddressLocked(m.Address, RoutingAny, true)
			b.mu.Unlock()
			r.addr = a
		}
		a.size.Add(int64(m.size))
		b.globalSize.Add(int64(m.size) + messageOverhead)
		m.addr = a
	}
	m.durableRefs.Add(1)
	ref := &ref{msg: m, pos: -1, heapIdx: -1, deliveryCount: deliveryCount, scheduledAt: scheduledAt}
	if scheduledAt == 0 && m.ScheduledAt != 0 && deliveryCount == 0 {
		ref.scheduledAt = m.ScheduledAt
	}
	q.mu.Lock()
	q.enqueueLocked(ref, r.now)
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
