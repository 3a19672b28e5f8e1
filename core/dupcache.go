package core

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync"

	"github.com/junctionmq/junction/storage"
)

// dupCache remembers the last max duplicate ids (_AMQ_DUPL_ID) sent to an
// address. It is made on an address's first message carrying an id, and
// grows with use up to max: an address that never sees one costs nothing.
//
// The id of a message that is stored is stored with it, as a
// BindingDuplicateID record in the message's own batch, so a duplicate sent
// across a restart is caught (Artemis persists its id cache too). The record
// of an id that leaves the window is deleted in a later batch.
type dupCache struct {
	mu   sync.Mutex
	max  int
	ring []dupEntry // grows to max, then wraps at next
	next int
	set  map[string]int // id → its index in ring
}

type dupEntry struct {
	id     string
	stored bool // a record of it is in the store
}

func newDupCache(max int) *dupCache { return &dupCache{max: max, set: map[string]int{}} }

// dupsFor returns the address's cache, making it when create is set and
// the address settings keep ids. Nil means no id has been seen.
func (a *address) dupsFor(create bool) *dupCache {
	if d := a.dups.Load(); d != nil || !create || a.settings.DuplicateIDCacheSize <= 0 {
		return d
	}
	a.dups.CompareAndSwap(nil, newDupCache(a.settings.DuplicateIDCacheSize))
	return a.dups.Load()
}

// contains reports whether id is in the window, without recording it.
func (d *dupCache) contains(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[id]
	return ok
}

// seen records id and reports whether it was already in the window. An id
// pushed out of the window whose record is in the store is returned, for
// the caller to delete.
func (d *dupCache) seen(id string) (dup bool, evicted string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return true, ""
	}
	evicted = d.putLocked(dupEntry{id: id})
	return false, evicted
}

func (d *dupCache) putLocked(e dupEntry) (evicted string) {
	if len(d.ring) < d.max {
		d.set[e.id] = len(d.ring)
		d.ring = append(d.ring, e)
		return ""
	}
	old := d.ring[d.next]
	if old.id != "" {
		delete(d.set, old.id)
		if old.stored {
			evicted = old.id
		}
	}
	d.ring[d.next] = e
	d.set[e.id] = d.next
	d.next = (d.next + 1) % d.max
	return evicted
}

// stored notes that id's record is written with its message.
func (d *dupCache) stored(id string) {
	d.mu.Lock()
	if i, ok := d.set[id]; ok {
		d.ring[i].stored = true
	}
	d.mu.Unlock()
}

// forget removes an id recorded for a send that was then not enqueued.
func (d *dupCache) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i, ok := d.set[id]; ok {
		delete(d.set, id)
		d.ring[i] = dupEntry{}
	}
}

// len returns how many ids the window holds.
func (d *dupCache) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.set)
}

// dupKey is the store key of an id's record: the address, length-prefixed
// since names may hold any byte, then the id.
func dupKey(addr, id string) string {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(addr)+len(id)), uint64(len(addr)))
	return string(append(append(b, addr...), id...))
}

func parseDupKey(key string) (addr, id string, ok bool) {
	n, w := binary.Uvarint([]byte(key[:min(len(key), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(key)-w) < n {
		return "", "", false
	}
	return key[w : w+int(n)], key[w+int(n):], true
}

// dupOps appends the store operations that record id for a stored message
// (seq orders the ids of an address at recovery) and delete the record of
// the id it pushed out.
func dupOps(ops []storage.Op, addr, id, evicted string, seq uint64) []storage.Op {
	ops = append(ops, storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingDuplicateID,
		Key: dupKey(addr, id), Data: binary.BigEndian.AppendUint64(nil, seq)})
	if evicted != "" {
		ops = append(ops, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingDuplicateID, Key: dupKey(addr, evicted)})
	}
	return ops
}

// recoveredDup is an id read back from the store.
type recoveredDup struct {
	addr, id string
	seq      uint64
}

// restoreDups refills the addresses' caches from the recovered ids, oldest
// first, and returns the deletes for ids that no longer fit (the cache was
// made smaller, or turned off, since they were stored).
func (b *Broker) restoreDups(dups []recoveredDup) []storage.Op {
	slices.SortFunc(dups, func(x, y recoveredDup) int {
		return cmp.Or(cmp.Compare(x.addr, y.addr), cmp.Compare(x.seq, y.seq))
	})
	var drop []storage.Op
	for len(dups) > 0 {
		n := 1
		for n < len(dups) && dups[n].addr == dups[0].addr {
			n++
		}
		group := dups[:n]
		dups = dups[n:]
		addr := group[0].addr
		keep := max(0, b.settings.Resolve(addr).DuplicateIDCacheSize)
		for _, x := range group[:max(0, len(group)-keep)] {
			drop = append(drop, storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingDuplicateID, Key: dupKey(x.addr, x.id)})
		}
		if keep == 0 {
			continue
		}
		b.mu.Lock()
		a := b.ensureAddressLocked(addr, RoutingAny, true)
		b.mu.Unlock()
		d := a.dupsFor(true)
		d.mu.Lock()
		for _, x := range group[max(0, len(group)-keep):] {
			d.putLocked(dupEntry{id: x.id, stored: true})
		}
		d.mu.Unlock()
	}
	return drop
}
