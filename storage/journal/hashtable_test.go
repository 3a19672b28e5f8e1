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
