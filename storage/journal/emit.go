package journal

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/junctionmq/junction/storage"
)

// emit hands the live state to r: bindings, messages, then references in the
// order they were added. Message and binding bytes are read back from the
// segments (the index keeps only their place). A binding's bytes are copied
// into an arena r may keep; a message's are the mapped segment itself, valid
// during the call only (storage.Recovery): every recovery decodes or copies
// them, and a copy here was a second copy of every message, and its garbage.
func (j *Journal) emit(ctx context.Context, r storage.Recovery, rp *replayer) error {
	x := rp.x
	type bloc struct {
		kind     storage.BindingKind
		key      string
		off, len uint32
	}
	binds := map[uint32][]bloc{}
	for k, e := range x.binds {
		binds[e.seq] = append(binds[e.seq], bloc{k.kind, k.key, e.off, e.len})
	}
	if h, ok := r.(storage.RecoveryHint); ok {
		h.Expect(x.msgs.len())
	}
	// The references are listed and sorted on another goroutine while the
	// bindings and messages go out (nothing changes the index during
	// emit): off the critical path when a second core is free.
	sorted := make(chan []rout, 1)
	go func() {
		refs := make([]rout, 0, x.refs.len())
		x.refs.all(func(k refKey, e *refEntry) {
			refs = append(refs, rout{order: e.order, k: k, sched: e.sched, dc: e.dc})
		})
		radixSort(refs, func(r *rout) uint64 { return r.order })
		sorted <- refs
	}()
	defer func() {
		// On an early return, wait for the sorter: nothing may read the
		// index once emit has returned.
		if sorted != nil {
			<-sorted
		}
	}()
	// Messages go out in the order they were written (segment, then
	// offset): each segment is read front to back, and a recovery sees
	// them in the order of their references (see storage.Recovery).
	msgs := make([]mloc, 0, x.msgs.len())
	x.msgs.all(func(id uint64, e *msgEntry) {
		msgs = append(msgs, mloc{pos: uint64(e.seq)<<32 | uint64(e.off), id: id, len: e.len})
	})
	radixSort(msgs, func(m *mloc) uint64 { return m.pos })
	var a arena
	read := func(seq uint32) ([]byte, error) {
		data, ok := rp.maps[seq]
		if !ok {
			return nil, fmt.Errorf("journal: index refers to unmapped segment %d", seq)
		}
		return data, nil
	}
	view := func(data []byte, off, n uint32) ([]byte, error) {
		if uint64(off)+uint64(n) > uint64(len(data)) {
			return nil, fmt.Errorf("journal: segment changed during recovery")
		}
		return data[off : off+n : off+n], nil
	}
	for _, s := range x.segs.all() {
		list := binds[s.seq]
		if len(list) == 0 {
			continue
		}
		data, err := read(s.seq)
		if err != nil {
			return err
		}
		for _, b := range list {
			v, err := view(data, b.off, b.len)
			if err != nil {
				return err
			}
			if err := r.Binding(b.kind, b.key, a.copy(v)); err != nil {
				return fmt.Errorf("journal: recovering binding %q: %w", b.key, err)
			}
		}
		dontNeed(data)
	}
	err := func() error {
		for i := 0; i < len(msgs); {
			if err := ctx.Err(); err != nil {
				return err
			}
			seq := uint32(msgs[i].pos >> 32)
			data, err := read(seq)
			if err != nil {
				return err
			}
			for ; i < len(msgs) && uint32(msgs[i].pos>>32) == seq; i++ {
				m := &msgs[i]
				v, err := view(data, uint32(m.pos), m.len)
				if err != nil {
					return err
				}
				// v is the mapped segment itself: valid during the call only.
				if err := r.Message(m.id, v); err != nil {
					return fmt.Errorf("journal: recovering message %d: %w", m.id, err)
				}
			}
			// One segment resident at a time (see replayer.segment).
			dontNeed(data)
		}
		return nil
	}()
	msgs = nil
	if err != nil {
		return err
	}
	refs := <-sorted
	sorted = nil
	for i := range refs {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rf := &refs[i]
		if err := r.Ref(rf.k.q, rf.k.m, rf.dc, rf.sched); err != nil {
			return fmt.Errorf("journal: recovering reference %d/%d: %w", rf.k.q, rf.k.m, err)
		}
	}
	if err := x.emitPaged(r); err != nil {
		return err
	}
	j.stats.recBindings = len(x.binds)
	j.stats.recMessages = x.msgs.len()
	j.stats.recRefs = x.refs.len()
	return nil
}

// arena hands out copies carved from shared chunks: one allocation per
// chunk instead of one per message. A chunk lives as long as any copy in it,
// so chunks stay small; big values get their own allocation.
type arena struct {
	chunk []byte
}

const (
	arenaChunk = 256 << 10
	arenaLarge = 16 << 10
)

func (a *arena) copy(b []byte) []byte {
	if len(b) >= arenaLarge {
		return append([]byte(nil), b...)
	}
	if len(a.chunk) < len(b) {
		a.chunk = make([]byte, arenaChunk)
	}
	out := a.chunk[:len(b):len(b)]
	copy(out, b)
	a.chunk = a.chunk[len(b):]
	return out
}

// rout is a reference as emitted.
type rout struct {
	order uint64
	k     refKey
	sched int64
	dc    uint32
}

// mloc is where a live message is: pos is its segment's sequence << 32 |
// its offset.
type mloc struct {
	pos uint64
	id  uint64
	len uint32
}

// radixSort sorts xs by key: a least-significant-digit radix sort, 16 bits
// a pass, skipping the passes whose digit is the same throughout (the top
// bits of a sequence number, usually). A comparison sort of a million
// references coming out of a map in random order took ten times longer.
func radixSort[T any](xs []T, key func(*T) uint64) {
	if len(xs) < 256 {
		slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(key(&a), key(&b)) })
		return
	}
	tmp := make([]T, len(xs))
	src, dst := xs, tmp
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for i := range src {
			count[(key(&src[i])>>shift)&0xFFFF]++
		}
		if count[(key(&src[0])>>shift)&0xFFFF] == len(src) {
			continue
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i := range src {
			d := (key(&src[i]) >> shift) & 0xFFFF
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &xs[0] {
		copy(xs, src)
	}
}
