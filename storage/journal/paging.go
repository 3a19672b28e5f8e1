package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/junctionmq/junction/storage"
)

// Paging (storage.Pager). A page-ref operation is written into the segments
// like any other, in the same batch record as the rest of its Apply, but the
// index keeps no entry per paged reference: per queue it keeps the list of
// segments holding the queue's unread page records (how many, their bytes)
// and one mark, the position at or before which every page record of the
// queue is paged in or dropped. The core pages in in the order ReadPaged
// reports, so the mark is all the per-reference state there is; the memory
// the journal spends on a paged queue grows with the segments it spans, not
// with its references.
//
// ReadPaged reads the segment files (pread, CRC checked) from the queue's
// mark. Page-in converts a page record in place: the message entry points at
// its data and the reference entry's base is its segment, so the body is
// written once. Page-drop moves the mark; counting the records it drops
// within the mark's segment reads that segment back (drops are rare: purges,
// deleted queues).
//
// Liveness. An unread page record is live (its segment is not freed) and a
// segment holding one is never compacted: its records keep their positions.
// A page-in or page-drop record kills page records, so its segment depends
// on theirs, as an ack depends on its add-ref (index.go): it must outlive
// them or replay would page them again. Once paged in, a record's message
// and reference parts are killed separately by ack and delete, and
// compaction copies them out as copy-message and copy-ref like any other.

// pageSeg is one segment's unread page records of one queue.
type pageSeg struct {
	seq   uint32
	tag   uint32
	first uint32 // offset of the first batch record holding one of them
	last  uint32 // offset of the last
	count int64
	ops   int64 // their encoded bytes (the segment's liveness)
	data  int64 // their message bytes (PagedRecovery)
}

// pageQueue is one queue's paged references.
type pageQueue struct {
	segs  []pageSeg // by sequence; segments whose records are all gone are trimmed
	mark  uint64    // every page record at or before mark is paged in or dropped
	last  uint64    // the newest page record's position
	count int64
	data  int64
	// Where the last ReadPaged stopped, for the next to go on from.
	hint readHint
	// ahead holds what ReadPaged reported and the core has not paged in
	// yet, by position: the page-in that follows finds its record here
	// instead of reading it back (a pread on the writer's path).
	ahead []pageHead
}

// pageHead is what page-in needs of a page record.
type pageHead struct {
	pos     uint64
	msgID   uint64
	sched   int64
	dc      uint32
	dataLen uint32
	dataOff uint32
}

// maxAhead bounds the page heads kept for all queues together (40 bytes
// each): a core that reads far ahead of its page-ins, or never pages in
// what it read, costs a pread per page-in past it, not memory.
const maxAhead = 1 << 16

// popAhead drops the heads at or before pos (at or before it: before when
// keep is set, so that the head of pos itself stays).
func (p *pageIndex) popAhead(pq *pageQueue, pos uint64, keep bool) {
	i := 0
	for i < len(pq.ahead) && (pq.ahead[i].pos < pos || (!keep && pq.ahead[i].pos == pos)) {
		i++
	}
	pq.ahead = pq.ahead[i:]
	p.ahead -= i
	if len(pq.ahead) == 0 {
		pq.ahead = nil
	}
}

// pageIndex is the index's paging state. mu guards queues, which ReadPaged
// reads; the writer (or replay) is the only one to change them.
type pageIndex struct {
	mu     sync.Mutex
	queues map[uint64]*pageQueue
	count  int64 // unread page records, all queues
	ahead  int   // page heads kept, all queues

	src    segSource // reads segments back: page-in and page-drop
	recOff uint32    // offset of the batch record being applied
	err    error     // a read that failed while applying: the writer fails
}

// segSource reads segment files by sequence number.
type segSource interface {
	readSeg(seq uint32, p []byte, off int64) (int, error)
	segSize(seq uint32) (int64, error)
}

func posOf(seq, off uint32) uint64 { return uint64(seq)<<32 | uint64(off) }

func (x *index) pageRef(cur *segState, d *dop, opOff uint32, size int) {
	p := &x.pages
	p.mu.Lock()
	pq := p.queues[d.queueID]
	if pq == nil {
		pq = &pageQueue{}
		p.queues[d.queueID] = pq
	}
	if n := len(pq.segs); n == 0 || pq.segs[n-1].seq != cur.seq {
		pq.segs = append(pq.segs, pageSeg{seq: cur.seq, tag: cur.tag, first: p.recOff})
	}
	ps := &pq.segs[len(pq.segs)-1]
	ps.last = p.recOff
	pq.last = posOf(cur.seq, opOff)
	ps.count++
	ps.ops += int64(size)
	ps.data += int64(len(d.data))
	pq.count++
	pq.data += int64(len(d.data))
	p.count++
	p.mu.Unlock()
	cur.paged++
	x.live(cur, size)
}

// findSeg returns the index of seq in pq.segs, or -1.
func (pq *pageQueue) findSeg(seq uint32) int {
	i, ok := slices.BinarySearchFunc(pq.segs, seq, func(s pageSeg, seq uint32) int { return int(int64(s.seq) - int64(seq)) })
	if !ok {
		return -1
	}
	return i
}

// trim drops the leading segments without unread records, and the queue
// once it has none.
func (p *pageIndex) trim(q uint64, pq *pageQueue) {
	i := 0
	for i < len(pq.segs) && pq.segs[i].count <= 0 {
		i++
	}
	pq.segs = pq.segs[i:]
	if pq.count <= 0 && len(pq.segs) == 0 {
		p.ahead -= len(pq.ahead)
		delete(p.queues, q)
	}
}

func (x *index) pageIn(cur *segState, d *dop) {
	p := &x.pages
	seq, off := uint32(d.pos>>32), uint32(d.pos)
	p.mu.Lock()
	pq := p.queues[d.queueID]
	if pq == nil || d.pos <= pq.mark || pq.findSeg(seq) < 0 {
		// Paged in or dropped already, or its segment is gone with it.
		p.mu.Unlock()
		return
	}
	var h pageHdr
	ok := false
	p.popAhead(pq, d.pos, true)
	if len(pq.ahead) > 0 && pq.ahead[0].pos == d.pos {
		a := pq.ahead[0]
		h = pageHdr{queueID: d.queueID, msgID: a.msgID, dc: a.dc, sched: a.sched, dataLen: uint64(a.dataLen), dataOff: int(a.dataOff)}
		ok = true
		p.popAhead(pq, d.pos, false)
	}
	p.mu.Unlock()

	if !ok && p.src != nil {
		var b [pageHdrSize + binary.MaxVarintLen64]byte
		n, err := p.src.readSeg(seq, b[:], int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			p.err = fmt.Errorf("reading the page record at %d/%d: %w", seq, off, err)
			return
		}
		h, ok = decodePageHdr(b[:n])
	}
	seg := x.segs.get(seq)
	if !ok || h.queueID != d.queueID || h.msgID != d.msgID || seg == nil || int64(off)+int64(h.size()) > seg.size {
		// Not the record the position names: a page-in the core did not
		// take from ReadPaged. Leave the paged reference where it is.
		return
	}
	size := h.size()

	p.mu.Lock()
	i := pq.findSeg(seq)
	ps := &pq.segs[i]
	ps.count--
	ps.ops -= int64(size)
	ps.data -= int64(h.dataLen)
	pq.count--
	pq.data -= int64(h.dataLen)
	p.count--
	pq.mark = d.pos
	p.trim(d.queueID, pq)
	p.mu.Unlock()

	seg.paged--
	// One live record becomes two, a message and a reference, accounted
	// at the sizes that ack and delete will kill.
	delta := int64(msgOpSize(int(h.dataLen)) + refOpSize - size)
	seg.liveOps++
	seg.liveBytes += delta
	x.liveBytes += delta
	cur.addDep(seq)
	e, existed := x.msgs.upsert(d.msgID)
	if existed {
		x.kill(e.seq, msgOpSize(int(e.len)), cur)
	}
	*e = msgEntry{seq: seq, off: off + uint32(h.dataOff), len: uint32(h.dataLen)}
	r, existed := x.refs.upsert(refKey{d.queueID, d.msgID})
	if existed {
		x.killRef(r, cur)
	}
	*r = refEntry{order: d.pos, sched: h.sched, dc: h.dc, base: seq}
}

func (x *index) pageDrop(cur *segState, d *dop) {
	p := &x.pages
	seq, off := uint32(d.pos>>32), uint32(d.pos)
	p.mu.Lock()
	pq := p.queues[d.queueID]
	if pq == nil || d.pos <= pq.mark {
		p.mu.Unlock()
		return
	}
	// The records of the position's own segment up to it are counted by
	// reading the segment back, from the mark when it lies there.
	var part pageSeg
	partial := false
	if i := pq.findSeg(seq); i >= 0 && p.src != nil {
		part = pq.segs[i]
		partial = true
	}
	lo := uint32(0)
	if uint32(pq.mark>>32) == seq {
		lo = uint32(pq.mark)
	}
	p.mu.Unlock()

	var n, ops, data int64
	if partial {
		var err error
		n, ops, data, err = countPages(p.src, d.queueID, part, lo, off)
		if err != nil {
			p.err = fmt.Errorf("counting the page records dropped in segment %d: %w", seq, err)
			return
		}
	}

	type killed struct {
		seq      uint32
		n, bytes int64
	}
	var kills []killed
	p.mu.Lock()
	for i := range pq.segs {
		ps := &pq.segs[i]
		if ps.seq > seq {
			break
		}
		kn, kops, kdata := ps.count, ps.ops, ps.data
		if ps.seq == seq {
			kn, kops, kdata = min(n, ps.count), min(ops, ps.ops), min(data, ps.data)
		}
		ps.count -= kn
		ps.ops -= kops
		ps.data -= kdata
		pq.count -= kn
		pq.data -= kdata
		p.count -= kn
		kills = append(kills, killed{ps.seq, kn, kops})
	}
	// A drop past the newest record (the core drops a whole tail at
	// MaxUint64) must not hide the records paged after it.
	pq.mark = min(d.pos, pq.last)
	p.popAhead(pq, d.pos, false)
	p.trim(d.queueID, pq)
	p.mu.Unlock()

	for _, k := range kills {
		if k.n == 0 {
			continue
		}
		s := cur
		if k.seq != cur.seq {
			s = x.segs.get(k.seq)
			cur.addDep(k.seq)
		}
		if s == nil {
			continue
		}
		s.paged -= k.n
		s.liveOps -= k.n
		s.liveBytes -= k.bytes
		x.liveBytes -= k.bytes
		if s.liveOps == 0 {
			x.reclaimable = true
		}
	}
}

// countPages counts q's page records in segment ps.seq whose operations lie
// after offset lo and at or before hi.
func countPages(src segSource, q uint64, ps pageSeg, lo, hi uint32) (n, ops, data int64, err error) {
	sc := newScanner(src, ps.seq, ps.tag, 256<<10)
	defer sc.release()
	var d dop
	for off := int64(ps.first); off <= int64(hi) && off <= int64(ps.last); {
		rc, st, err := sc.record(off)
		if err != nil {
			return 0, 0, 0, err
		}
		if st != recOK || rc.typ == recSeal {
			return 0, 0, 0, fmt.Errorf("%s at offset %d before position %d", st, off, hi)
		}
		if rc.typ == recBatch {
			payOff := off + recHeaderSize
			for pos := 0; pos < len(rc.payload); {
				k, err := decodeOp(rc.payload[pos:], &d)
				if err != nil {
					return 0, 0, 0, fmt.Errorf("batch at offset %d: %w", off, err)
				}
				opOff := uint32(payOff) + uint32(pos)
				if d.kind == byte(storage.OpPageRef) && d.queueID == q && opOff > lo && opOff <= hi {
					n++
					ops += int64(k)
					data += int64(len(d.data))
				}
				pos += k
			}
		}
		off += int64(rc.size)
	}
	return n, ops, data, nil
}

// scanner reads the records of one segment through a buffer, chunk by chunk.
type scanner struct {
	src   segSource
	seq   uint32
	key   recKey
	chunk int
	buf   []byte
	at    int64 // file offset of buf[0]
	n     int   // valid bytes in buf
	size  int64 // the file's size, -1 until known
}

var scanBufs = sync.Pool{New: func() any { return new([]byte) }}

func newScanner(src segSource, seq, tag uint32, chunk int) *scanner {
	bp := scanBufs.Get().(*[]byte)
	return &scanner{src: src, seq: seq, key: recKeyOf(tag, seq), chunk: chunk, buf: (*bp)[:0], size: -1}
}

func (s *scanner) release() {
	b := s.buf[:0]
	if cap(b) <= 8<<20 {
		scanBufs.Put(&b)
	}
	s.buf = nil
}

// fill makes buf hold the file from off, at least need bytes of it if the
// file has them.
func (s *scanner) fill(off int64, need int) error {
	if off >= s.at && off+int64(need) <= s.at+int64(s.n) {
		return nil
	}
	if s.size < 0 {
		sz, err := s.src.segSize(s.seq)
		if err != nil {
			return err
		}
		s.size = sz
	}
	want := max(need, s.chunk)
	if rest := s.size - off; int64(want) > rest {
		want = int(max(rest, 0))
	}
	if want < need {
		need = want // the file ends first: the record check reports it
	}
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	n, err := s.src.readSeg(s.seq, s.buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	s.at, s.n = off, n
	return nil
}

// record examines the record at file offset off.
func (s *scanner) record(off int64) (rec, recStatus, error) {
	if err := s.fill(off, recHeaderSize); err != nil {
		return rec{}, recBad, err
	}
	rel := int(off - s.at)
	if rel+recHeaderSize <= s.n {
		l := binary.LittleEndian.Uint32(s.buf[rel+4:])
		if binary.LittleEndian.Uint32(s.buf[rel+8:]) == s.key.tag && int64(l) < s.size {
			if err := s.fill(off, align(recHeaderSize+int(l))); err != nil {
				return rec{}, recBad, err
			}
			rel = int(off - s.at)
		}
	}
	rc, st := readRecord(s.buf[:s.n], rel, s.key)
	return rc, st, nil
}

// segReader opens segment files for reading, once each, for ReadPaged and for
// the writer's page-in and page-drop.
type segReader struct {
	dir    string
	mu     sync.Mutex
	files  map[uint32]*os.File
	closed bool
}

func newSegReader(dir string) *segReader { return &segReader{dir: dir, files: map[uint32]*os.File{}} }

func (f *segReader) file(seq uint32) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, storage.ErrClosed
	}
	if fl, ok := f.files[seq]; ok {
		return fl, nil
	}
	fl, err := os.Open(filepath.Join(f.dir, segName(seq)))
	if err != nil {
		return nil, err
	}
	f.files[seq] = fl
	return fl, nil
}

func (f *segReader) readSeg(seq uint32, p []byte, off int64) (int, error) {
	fl, err := f.file(seq)
	if err != nil {
		return 0, err
	}
	return fl.ReadAt(p, off)
}

func (f *segReader) segSize(seq uint32) (int64, error) {
	fl, err := f.file(seq)
	if err != nil {
		return 0, err
	}
	st, err := fl.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// forget closes seq's file: the segment was freed.
func (f *segReader) forget(seq uint32) {
	f.mu.Lock()
	fl := f.files[seq]
	delete(f.files, seq)
	f.mu.Unlock()
	if fl != nil {
		fl.Close()
	}
}

func (f *segReader) close() {
	f.mu.Lock()
	files := f.files
	f.files = map[uint32]*os.File{}
	f.closed = true
	f.mu.Unlock()
	for _, fl := range files {
		fl.Close()
	}
}

var _ storage.Pager = (*Journal)(nil)

// ReadPaged implements storage.Pager. It reads the segment files without
// the writer: a page record is in its file before its Apply's done runs
// (done follows the write), which is all ReadPaged needs to see it. A read
// that goes on where the last one stopped (a sequential drain) resumes
// inside the record it stopped in, without reading and checking the whole
// record again.
func (j *Journal) ReadPaged(q uint64, after uint64, limit int, fn func(storage.PagedRef) error) error {
	if limit <= 0 {
		return nil
	}
	j.qmu.Lock()
	ph, x := j.phase, j.x
	j.qmu.Unlock()
	switch ph {
	case phaseRunning:
	case phaseClosed:
		return storage.ErrClosed
	default:
		return ErrNotLoaded
	}
	// Before the list: a segment sealed after this is read whole anyway.
	active := j.activeSeq.Load()
	p := &x.pages
	p.mu.Lock()
	pq := p.queues[q]
	if pq == nil {
		p.mu.Unlock()
		return nil
	}
	r := pagedRead{j: j, q: q, start: max(after, pq.mark), limit: limit, fn: fn}
	for _, ps := range pq.segs {
		if uint64(ps.seq) >= r.start>>32 {
			r.segs = append(r.segs, ps)
		}
	}
	h := pq.hint
	avg := int64(0)
	if pq.count > 0 {
		avg = pq.data / pq.count
	}
	p.mu.Unlock()

	// Read about twice what limit references take, within bounds: a
	// sequential drain then costs one or two reads per call.
	r.chunk = int(min(max(int64(limit)*(avg+pageHdrSize+16)*2, 64<<10), 1<<20))
	r.heads = make([]pageHead, 0, min(limit, 1024))
	err := r.run(active, h)
	if r.emitted > 0 {
		p.mu.Lock()
		if pq := p.queues[q]; pq != nil {
			// The latest read predicts the next best, even one that went
			// back (a reader starting over after a restart).
			pq.hint = r.hint
			p.keepAhead(pq, r.heads)
		}
		p.mu.Unlock()
	}
	return err
}

// readHint is where a read stopped: after the operation at pos, in the batch
// record at rec of pos's segment, whose payload ends at end; the next
// operation starts at next.
type readHint struct {
	pos            uint64
	rec, end, next uint32
}

// pagedRead is one ReadPaged call.
type pagedRead struct {
	j       *Journal
	q       uint64
	start   uint64
	limit   int
	fn      func(storage.PagedRef) error
	segs    []pageSeg
	chunk   int
	heads   []pageHead
	emitted int
	hint    readHint
	d       dop
}

var errEnough = errors.New("enough")

func (r *pagedRead) run(active uint32, h readHint) error {
	for _, ps := range r.segs {
		sc := newScanner(r.j.files, ps.seq, ps.tag, r.chunk)
		err := r.segment(sc, ps, active, h)
		sc.release()
		if err == errEnough {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// segment reads the page records of one segment.
func (r *pagedRead) segment(sc *scanner, ps pageSeg, active uint32, h readHint) error {
	from := int64(ps.first)
	if ps.seq == uint32(r.start>>32) && uint32(h.pos>>32) == ps.seq && h.pos <= r.start && h.rec >= ps.first {
		from = int64(h.rec)
		if h.pos == r.start && h.next <= h.end {
			// Resume where the last read stopped: the record was checked
			// then, and its bytes do not change while it holds unread
			// page records.
			err := sc.fill(int64(h.next), int(h.end-h.next))
			if err == nil && sc.at == int64(h.next) && sc.n >= int(h.end-h.next) {
				if err := r.ops(ps.seq, h.rec, h.end, sc.buf[:h.end-h.next], h.next); err != nil {
					return err
				}
				from = int64(align(int(h.end)))
			}
		}
	}
	// Records past the segment's last one of the queue are not read: the
	// list was taken after every page record whose done has run.
	for off := from; off <= int64(ps.last); {
		rc, st, err := sc.record(off)
		if err == nil && st != recOK {
			if ps.seq >= active {
				return nil // the end of the data written so far
			}
			err = fmt.Errorf("%s at offset %d", st, off)
		}
		if err != nil {
			if r.j.pagesGone(r.q, ps.seq) {
				return nil // paged in meanwhile, and freed
			}
			return fmt.Errorf("journal: reading the paged references of queue %d in segment %d: %w", r.q, ps.seq, err)
		}
		if rc.typ == recSeal {
			return nil
		}
		if rc.typ == recBatch {
			payOff := uint32(off) + recHeaderSize
			if err := r.ops(ps.seq, uint32(off), payOff+uint32(len(rc.payload)), rc.payload, payOff); err != nil {
				return err
			}
		}
		off += int64(rc.size)
	}
	return nil
}

// ops reports the page records of r.q among the operations in p, which
// start at offset at of a batch record (at rec, its payload ending at end).
func (r *pagedRead) ops(seq, rec, end uint32, p []byte, at uint32) error {
	d := &r.d
	for pos := 0; pos < len(p); {
		k, err := decodeOp(p[pos:], d)
		if err != nil {
			return fmt.Errorf("journal: segment %d, batch at offset %d: %w", seq, rec, err)
		}
		opOff := at + uint32(pos)
		pos += k
		ref := posOf(seq, opOff)
		if d.kind != byte(storage.OpPageRef) || d.queueID != r.q || ref <= r.start {
			continue
		}
		if err := r.fn(storage.PagedRef{Pos: ref, MsgID: d.msgID, DeliveryCount: d.dc, ScheduledAt: d.sched, Data: d.data}); err != nil {
			return err
		}
		r.emitted++
		r.hint = readHint{pos: ref, rec: rec, end: end, next: at + uint32(pos)}
		if len(r.heads) < cap(r.heads) {
			r.heads = append(r.heads, pageHead{pos: ref, msgID: d.msgID, sched: d.sched, dc: d.dc,
				dataLen: uint32(len(d.data)), dataOff: uint32(d.dataOff)})
		}
		if r.emitted == r.limit {
			return errEnough
		}
	}
	return nil
}

// keepAhead records the heads a read reported, replacing those it read again.
func (p *pageIndex) keepAhead(pq *pageQueue, heads []pageHead) {
	for len(heads) > 0 && heads[0].pos <= pq.mark {
		heads = heads[1:] // paged in while fn ran
	}
	if len(heads) == 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(pq.ahead, heads[0].pos, func(h pageHead, pos uint64) int {
		switch {
		case h.pos < pos:
			return -1
		case h.pos > pos:
			return 1
		}
		return 0
	})
	p.ahead -= len(pq.ahead) - i
	pq.ahead = pq.ahead[:i]
	if p.ahead+len(heads) > maxAhead {
		return
	}
	pq.ahead = append(pq.ahead, heads...)
	p.ahead += len(heads)
}

// pagesGone reports whether queue q has no unread page records left in
// segment seq.
func (j *Journal) pagesGone(q uint64, seq uint32) bool {
	p := &j.x.pages
	p.mu.Lock()
	defer p.mu.Unlock()
	pq := p.queues[q]
	return pq == nil || pq.findSeg(seq) < 0
}

// emitPaged reports the paged queues to r after the references (Load).
func (x *index) emitPaged(r storage.Recovery) error {
	p := &x.pages
	if len(p.queues) == 0 {
		return nil
	}
	pr, ok := r.(storage.PagedRecovery)
	if !ok {
		return fmt.Errorf("journal: %d paged references in %d queues, and the recovery does not take paged references (storage.PagedRecovery)", p.count, len(p.queues))
	}
	qs := make([]uint64, 0, len(p.queues))
	for q := range p.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		pq := p.queues[q]
		if err := pr.Paged(q, pq.count, pq.data); err != nil {
			return fmt.Errorf("journal: recovering the paged references of queue %d: %w", q, err)
		}
	}
	return nil
}
