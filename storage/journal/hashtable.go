package journal

import "math/bits"

// hashTable is an open-addressing hash table with linear probing and
// backward-shift deletion, for the index's two big maps. Against a Go map it
// finds a key with one cache miss instead of two and inserts or updates in
// the same probe (upsert), which halves the cost of replaying a journal of a
// million messages. Keys and values hold no pointers, so the collector never
// scans it. Keys are the broker's own ids, not chosen by clients.
type hashTable[K comparable, V any, H hasher[K]] struct {
	slots []htSlot[K, V]
	n     int
	shift uint // 64 - log2(len(slots))
	h     H
}

type hasher[K any] interface{ hash(K) uint64 }

type htSlot[K, V any] struct {
	key  K
	val  V
	full bool
}

const htMinSize = 64

func (t *hashTable[K, V, H]) init(hint int) {
	size := htMinSize
	for size*13/16 < hint {
		size *= 2
	}
	t.slots = make([]htSlot[K, V], size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
}

func (t *hashTable[K, V, H]) len() int { return t.n }

func (t *hashTable[K, V, H]) home(k K) int { return int(t.h.hash(k) >> t.shift) }

// find returns the value of k, or nil. The pointer is valid until the next
// upsert or remove.
func (t *hashTable[K, V, H]) find(k K) *V {
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.full {
			return nil
		}
		if s.key == k {
			return &s.val
		}
	}
}

// upsert returns the value of k, adding a zero one if k is absent; existed
// tells which. The pointer is valid until the next upsert or remove.
func (t *hashTable[K, V, H]) upsert(k K) (*V, bool) {
	if (t.n+1)*16 > len(t.slots)*13 {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.full {
			s.key, s.full = k, true
			t.n++
			return &s.val, false
		}
		if s.key == k {
			return &s.val, true
		}
	}
}

// remove deletes k, shifting back the entries that probed past it so that
// no tombstones are needed.
func (t *hashTable[K, V, H]) remove(k K) bool {
	mask := len(t.slots) - 1
	i := t.home(k)
	for {
		s := &t.slots[i]
		if !s.full {
			return false
		}
		if s.key == k {
			break
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		if !t.slots[j].full {
			break
		}
		h := t.home(t.slots[j].key)
		// The entry at j may move to i only if its home is not in (i, j].
		if i <= j && i < h && h <= j || i > j && (i < h || h <= j) {
			continue
		}
		t.slots[i] = t.slots[j]
		i = j
	}
	t.slots[i] = htSlot[K, V]{}
	t.n--
	return true
}

func (t *hashTable[K, V, H]) grow() { t.rehash(2 * len(t.slots) * 13 / 16) }

// reserve makes room for n entries in all, so that filling it to n moves
// each entry once instead of once per doubling.
func (t *hashTable[K, V, H]) reserve(n int) {
	if n*16 > len(t.slots)*13 {
		t.rehash(n)
	}
}

// fit shrinks a table less than a fifth full (a reserve guessed too big,
// or most entries were removed) to the size its entries need; growing
// leaves a table at least two fifths full.
func (t *hashTable[K, V, H]) fit() {
	if len(t.slots) > htMinSize && t.n*64 < len(t.slots)*13 {
		t.rehash(t.n)
	}
}

// rehash moves every entry into a new table sized for hint entries.
func (t *hashTable[K, V, H]) rehash(hint int) {
	old := t.slots
	t.init(max(hint, t.n))
	mask := len(t.slots) - 1
	for i := range old {
		if !old[i].full {
			continue
		}
		j := t.home(old[i].key)
		for t.slots[j].full {
			j = (j + 1) & mask
		}
		t.slots[j] = old[i]
		t.n++
	}
}

// all calls fn for every entry, in no particular order.
func (t *hashTable[K, V, H]) all(fn func(K, *V)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.full {
			fn(s.key, &s.val)
		}
	}
}

// Fibonacci hashing: the multiplication spreads consecutive ids evenly over
// the top bits, which index the table.
type u64Hasher struct{}

func (u64Hasher) hash(k uint64) uint64 { return k * 0x9E3779B97F4A7C15 }

type refHasher struct{}

func (refHasher) hash(k refKey) uint64 { return (k.m + k.q*0xBF58476D1CE4E5B9) * 0x9E3779B97F4A7C15 }

type msgTable = hashTable[uint64, msgEntry, u64Hasher]
type refTable = hashTable[refKey, refEntry, refHasher]
