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
// segments (the index keeps only their place), copied into arenas that r may
// keep: the journal never writes to them again.
func (j *Journal) emit(ctx context.Context, r storage.Recovery, rp *replayer) error {
	x := rp.x
	type bloc struct {
		kind     storage.BindingKind
		key      string
		off, len uint32
	}
	type mloc struct {
		id       uint64
		off, len uint32
	}
	binds := map[uint32][]bloc{}
	for k, e := range x.binds {
		binds[e.seq] = append(binds[e.seq], bloc{k.kind, k.key, e.off, e.len})
	}
	if h, ok := r.(storage.RecoveryHint); ok {
		h.Expect(x.msgs.len())
	}
	msgs := map[uint32][]mloc{}
	x.msgs.all(func(id uint64, e *msgEntry) {
		msgs[e.seq] = append(msgs[e.seq], mloc{id, e.off, e.len})
	})
	var a arena
	read := func(seq uint32) ([]byte, error) {
		data, ok := rp.maps[seq]
		if !ok {
			return nil, fmt.Errorf("journal: index refers to unmapped segment %d", seq)
		}
		return data, nil
	}
	slice := func(data []byte, off, n uint32) ([]byte, error) {
		if uint64(off)+uint64(n) > uint64(len(data)) {
			return nil, fmt.Errorf("journal: segment changed during recovery")
		}
		return a.copy(data[off : off+n]), nil
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
			v, err := slice(data, b.off, b.len)
			if err != nil {
				return err
			}
			if err := r.Binding(b.kind, b.key, v); err != nil {
				return fmt.Errorf("journal: recovering binding %q: %w", b.key, err)
			}
		}
		dontNeed(data)
	}
	for _, s := range x.segs.all() {
		list := msgs[s.seq]
		if len(list) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := read(s.seq)
		if err != nil {
			return err
		}
		for _, m := range list {
			v, err := slice(data, m.off, m.len)
			if err != nil {
				return err
			}
			if err := r.Message(m.id, v); err != nil {
				return fmt.Errorf("journal: recovering message %d: %w", m.id, err)
			}
		}
		msgs[s.seq] = nil
		// One segment resident at a time (see replayer.segment).
		dontNeed(data)
	}

	refs := make([]rout, 0, x.refs.len())
	x.refs.all(func(k refKey, e *refEntry) {
		refs = append(refs, rout{order: e.order, k: k, sched: e.sched, dc: e.dc})
	})
	sortRefs(refs)
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

// sortRefs sorts by order key: a least-significant-digit radix sort, 16
// bits a pass, skipping the passes whose digit is the same throughout (the
// top bits of the sequence number, usually). A comparison sort of a million
// references coming out of a map in random order took ten times longer.
func sortRefs(refs []rout) {
	if len(refs) < 256 {
		slices.SortFunc(refs, func(a, b rout) int { return cmp.Compare(a.order, b.order) })
		return
	}
	tmp := make([]rout, len(refs))
	src, dst := refs, tmp
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for i := range src {
			count[(src[i].order>>shift)&0xFFFF]++
		}
		if count[(src[0].order>>shift)&0xFFFF] == len(src) {
			continue
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i := range src {
			d := (src[i].order >> shift) & 0xFFFF
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &refs[0] {
		copy(refs, src)
	}
}
