package journal

import (
	"math/rand/v2"
	"testing"
)

// collideHasher sends every key to a handful of homes, so that probing,
// wrap-around and backward-shift deletion are all exercised.
type collideHasher struct{}

func (collideHasher) hash(k uint64) uint64 { return (k % 5) << 61 }

func TestHashTableAgainstMap(t *testing.T) {
	t.Run("fibonacci", func(t *testing.T) { checkHashTable[u64Hasher](t, 1<<14) })
	t.Run("colliding", func(t *testing.T) { checkHashTable[collideHasher](t, 300) })
}

func checkHashTable[H hasher[uint64]](t *testing.T, keys uint64) {
	r := rand.New(rand.NewPCG(1, 2))
	var tbl hashTable[uint64, uint64, H]
	tbl.init(0)
	ref := map[uint64]uint64{}
	for i := range 200000 {
		k := r.Uint64N(keys)
		switch r.IntN(3) {
		case 0, 1:
			v, existed := tbl.upsert(k)
			if _, ok := ref[k]; ok != existed {
				t.Fatalf("step %d: upsert(%d) existed=%v, map says %v", i, k, existed, ok)
			}
			*v = uint64(i)
			ref[k] = uint64(i)
		case 2:
			// Now and then the replay's reserve and fit, which move
			// every entry.
			switch i % 1000 {
			case 3:
				tbl.reserve(tbl.len() * 3)
			case 7:
				tbl.fit()
			}
			_, ok := ref[k]
			if tbl.remove(k) != ok {
				t.Fatalf("step %d: remove(%d) disagrees", i, k)
			}
			delete(ref, k)
		}
		if tbl.len() != len(ref) {
			t.Fatalf("step %d: len %d, map %d", i, tbl.len(), len(ref))
		}
		if i%997 == 0 {
			for k, v := range ref {
				if p := tbl.find(k); p == nil || *p != v {
					t.Fatalf("step %d: find(%d) = %v, want %d", i, k, p, v)
				}
			}
			n := 0
			tbl.all(func(k uint64, v *uint64) {
				n++
				if ref[k] != *v {
					t.Fatalf("all: %d=%d, want %d", k, *v, ref[k])
				}
			})
			if n != len(ref) {
				t.Fatalf("all visited %d of %d", n, len(ref))
			}
		}
	}
}

// TestHashTableReserveFit checks the sizes: a reserve makes room without a
// grow, and fit shrinks only a table less than a fifth full.
func TestHashTableReserveFit(t *testing.T) {
	var tbl msgTable
	tbl.init(0)
	tbl.reserve(100000)
	size := len(tbl.slots)
	if size*13/16 < 100000 {
		t.Fatalf("reserve(100000) made %d slots", size)
	}
	for k := range uint64(100000) {
		tbl.upsert(k + 1)
	}
	if len(tbl.slots) != size {
		t.Fatalf("filling a reserved table grew it from %d to %d slots", size, len(tbl.slots))
	}
	tbl.fit()
	if len(tbl.slots) != size {
		t.Fatalf("fit shrank a full table from %d to %d slots", size, len(tbl.slots))
	}
	for k := range uint64(95000) {
		tbl.remove(k + 1)
	}
	tbl.fit()
	if len(tbl.slots) >= size/8 || tbl.len() != 5000 {
		t.Fatalf("fit left %d slots for %d entries", len(tbl.slots), tbl.len())
	}
	for k := uint64(95001); k <= 100000; k++ {
		if tbl.find(k) == nil {
			t.Fatalf("entry %d lost by fit", k)
		}
	}
}
