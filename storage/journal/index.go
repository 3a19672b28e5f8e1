package journal

import (
	"fmt"

	"github.com/junctionmq/junction/storage"
)

// The index is the live state of the journal: for every live message, reference
// and binding, where on disk its current records are. It holds no message
// bytes (compaction reads them back from the segment) and no pointers, so the
// garbage collector does not scan it.
//
// Reclaim rule. A record is live while it holds current state. A record that
// cancels or supersedes a record in an older segment (an ack, a delete, a
// newer put, a compaction copy) makes its own segment depend on that older
// segment: a segment is freed only when it holds no live record AND every
// segment it depends on is already gone from disk. A cancelling record thus
// stays on disk exactly as long as the record it cancels could be replayed,
// so recovery never resurrects anything; and a chain of supersessions is
// covered transitively.

type msgEntry struct {
	seq uint32 // segment holding the current add-message (or copy)
	off uint32 // offset of the data within that segment
	len uint32
}

type refKey struct{ q, m uint64 }

type refEntry struct {
	order    uint64 // position of the original add-ref: seq<<32 | offset
	sched    int64
	dc       uint32
	base     uint32 // segment holding the add-ref or copy-ref
	upd      uint32 // segment holding the latest update-ref, 0 if none
	baseCopy bool   // base is a copy-ref (larger)
}

type bindKey struct {
	kind storage.BindingKind
	key  string
}

type bindEntry struct {
	seq uint32
	off uint32 // offset of the data within the segment
	len uint32
}

// segState is what the journal knows about one segment file.
type segState struct {
	seq    uint32
	tag    uint32
	name   string
	size   int64 // file size
	used   int64 // end of the data: the write position of the active segment
	sealed bool

	liveBytes int64
	liveOps   int64
	deps      []uint32
	// paged counts the segment's unread page records (included in liveOps):
	// compaction leaves such a segment alone (paging.go).
	paged int64
	// version is the format of the segment's header: pagingVersion once it
	// may hold page operations.
	version uint32

	ops     [opStatSlots]int64 // operations by kind (see opStatSlot)
	records int64

	compacting bool
	freeing    bool
	noCompact  bool // compaction failed once; do not loop on it
	noFree     bool // freeing failed once; keep the file until restart
}

// opStatSlots counts operations by stored kind: the ten storage kinds and
// the three copy kinds.
const opStatSlots = 13

func opStatSlot(kind byte) int {
	switch kind {
	case kindCopyMessage:
		return 10
	case kindCopyRef:
		return 11
	case kindCopyBinding:
		return 12
	}
	if kind >= 1 && kind <= 10 {
		return int(kind) - 1
	}
	return 0
}

var opStatNames = [opStatSlots]string{
	"add-message", "delete-message", "add-ref", "ack", "update-ref", "put-binding", "delete-binding",
	"page-ref", "page-in", "page-drop",
	"copy-message", "copy-ref", "copy-binding",
}

func (s *segState) key() recKey { return recKeyOf(s.tag, s.seq) }

func (s *segState) addDep(seq uint32) {
	if seq == s.seq {
		return
	}
	for _, d := range s.deps {
		if d == seq {
			return
		}
	}
	s.deps = append(s.deps, seq)
}

// ratio is the fraction of the segment's data bytes that is live.
func (s *segState) ratio() float64 {
	data := s.used - segHeaderSize
	if data <= 0 {
		return 1
	}
	return float64(s.liveBytes) / float64(data)
}

// segTable finds segments by sequence number. Segments live in a window
// [first, first+len(list)); freed ones leave nil holes.
type segTable struct {
	first uint32
	list  []*segState
	n     int
}

func (t *segTable) get(seq uint32) *segState {
	i := int64(seq) - int64(t.first)
	if i < 0 || i >= int64(len(t.list)) {
		return nil
	}
	return t.list[i]
}

// add inserts s, whose sequence number must exceed every one present.
func (t *segTable) add(s *segState) {
	if t.n == 0 {
		t.first = s.seq
		t.list = t.list[:0]
	}
	for t.first+uint32(len(t.list)) < s.seq {
		t.list = append(t.list, nil)
	}
	t.list = append(t.list, s)
	t.n++
}

func (t *segTable) remove(seq uint32) {
	i := int64(seq) - int64(t.first)
	if i < 0 || i >= int64(len(t.list)) || t.list[i] == nil {
		return
	}
	t.list[i] = nil
	t.n--
	for len(t.list) > 0 && t.list[0] == nil {
		t.list = t.list[1:]
		t.first++
	}
	for len(t.list) > 0 && t.list[len(t.list)-1] == nil {
		t.list = t.list[:len(t.list)-1]
	}
}

func (t *segTable) len() int { return t.n }

// all returns the segments in sequence order.
func (t *segTable) all() []*segState {
	out := make([]*segState, 0, t.n)
	for _, s := range t.list {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// index is the live state plus the segment table.
type index struct {
	segs  segTable
	msgs  msgTable
	refs  refTable
	binds map[bindKey]bindEntry

	liveBytes int64
	// reclaimable is set when some segment may have become freeable.
	reclaimable bool

	pages pageIndex // paging.go
}

func newIndex(hint int) *index {
	x := &index{binds: make(map[bindKey]bindEntry)}
	x.pages.queues = make(map[uint64]*pageQueue)
	x.msgs.init(hint)
	x.refs.init(hint)
	return x
}

// reserve sizes the message and reference tables for the entries the
// journal will hold if all its segments (total bytes) hold as many per
// byte as the walked bytes read so far did: a journal of a million
// messages then moves its entries a few times less than by doubling alone
// (growing was a sixth of a recovery's CPU). fit undoes a guess that later
// cancellations made too big.
func (x *index) reserve(walked, total int64) {
	// At most four times what is live so far: a guess from a first segment
	// followed by gigabytes of paged messages must not size a table for
	// them (it would be resident until fit).
	scale := func(n int) int { return int(min(float64(n)*float64(total)/float64(walked), float64(n)*4)) }
	x.msgs.reserve(scale(x.msgs.len()))
	x.refs.reserve(scale(x.refs.len()))
}

// fit shrinks the tables to their entries when far too big (see reserve).
func (x *index) fit() {
	x.msgs.fit()
	x.refs.fit()
}

// live adds a live record of size bytes to seg.
func (x *index) live(seg *segState, size int) {
	seg.liveBytes += int64(size)
	seg.liveOps++
	x.liveBytes += int64(size)
}

// kill retires a live record of size bytes in segment seq, superseded or
// cancelled by a record in cur.
func (x *index) kill(seq uint32, size int, cur *segState) {
	s := cur
	if seq != cur.seq {
		s = x.segs.get(seq)
		cur.addDep(seq)
	}
	if s == nil {
		return
	}
	s.liveBytes -= int64(size)
	s.liveOps--
	x.liveBytes -= int64(size)
	if s.liveOps == 0 {
		x.reclaimable = true
	}
}

func refBaseSize(e *refEntry) int {
	if e.baseCopy {
		return copyRefOpSize
	}
	return refOpSize
}

func (x *index) killRef(e *refEntry, cur *segState) {
	x.kill(e.base, refBaseSize(e), cur)
	if e.upd != 0 {
		x.kill(e.upd, refOpSize, cur)
	}
}

// applyOp applies one decoded operation found (or written) at byte offset
// opOff of segment cur; size is its encoded size.
func (x *index) applyOp(cur *segState, d *dop, opOff uint32, size int) {
	cur.ops[opStatSlot(d.kind)]++
	switch d.kind {
	case byte(storage.OpAddMessage), kindCopyMessage:
		e, existed := x.msgs.upsert(d.msgID)
		if existed {
			x.kill(e.seq, msgOpSize(int(e.len)), cur)
		}
		*e = msgEntry{seq: cur.seq, off: opOff + uint32(d.dataOff), len: uint32(len(d.data))}
		x.live(cur, size)
	case byte(storage.OpDeleteMessage):
		if e := x.msgs.find(d.msgID); e != nil {
			x.kill(e.seq, msgOpSize(int(e.len)), cur)
			x.msgs.remove(d.msgID)
		}
	case byte(storage.OpAddRef), kindCopyRef:
		e, existed := x.refs.upsert(refKey{d.queueID, d.msgID})
		if existed {
			x.killRef(e, cur)
		}
		*e = refEntry{order: uint64(cur.seq)<<32 | uint64(opOff), sched: d.sched, dc: d.dc, base: cur.seq}
		if d.kind == kindCopyRef {
			e.order = d.order
			e.baseCopy = true
		}
		x.live(cur, size)
	case byte(storage.OpAck):
		k := refKey{d.queueID, d.msgID}
		if e := x.refs.find(k); e != nil {
			x.killRef(e, cur)
			x.refs.remove(k)
		}
	case byte(storage.OpUpdateRef):
		if e := x.refs.find(refKey{d.queueID, d.msgID}); e != nil {
			if e.upd != 0 {
				x.kill(e.upd, refOpSize, cur)
			}
			e.upd, e.dc, e.sched = cur.seq, d.dc, d.sched
			x.live(cur, size)
		}
	case byte(storage.OpPutBinding), kindCopyBinding:
		bk := bindKey{d.binding, d.keyString()}
		if e, ok := x.binds[bk]; ok {
			x.kill(e.seq, bindingOpSize(len(bk.key), int(e.len)), cur)
		}
		x.binds[bk] = bindEntry{seq: cur.seq, off: opOff + uint32(d.dataOff), len: uint32(len(d.data))}
		x.live(cur, size)
	case byte(storage.OpDeleteBinding):
		bk := bindKey{d.binding, d.keyString()}
		if e, ok := x.binds[bk]; ok {
			x.kill(e.seq, bindingOpSize(len(bk.key), int(e.len)), cur)
			delete(x.binds, bk)
		}
	case byte(storage.OpPageRef):
		x.pageRef(cur, d, opOff, size)
	case byte(storage.OpPageIn):
		x.pageIn(cur, d)
	case byte(storage.OpPageDrop):
		x.pageDrop(cur, d)
	}
}

// applyBatch applies a batch payload that starts at byte offset payOff of
// segment cur. The payload must have been checked with checkOps, so that a
// malformed batch is rejected whole rather than half applied.
func (x *index) applyBatch(cur *segState, p []byte, payOff int) error {
	var d dop
	pos := 0
	x.pages.recOff = uint32(payOff - recHeaderSize)
	for pos < len(p) {
		n, err := decodeOp(p[pos:], &d)
		if err != nil {
			return fmt.Errorf("batch at offset %d: %w", payOff-recHeaderSize, err)
		}
		x.applyOp(cur, &d, uint32(payOff+pos), n)
		pos += n
	}
	cur.records++
	return nil
}
