package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/junctionmq/junction/storage"
)

// prepared is a segment ready to become active: on disk under its final
// name with a fresh header, its file open for writing.
type prepared struct {
	seg *segState
	f   *os.File
}

type prepResult struct {
	p   *prepared
	err error
}

// freeJob is a dead segment to free. Its level is 0 when everything it
// depends on is gone already, else one more than the highest level among
// its dependencies in the same batch: levels are freed in order, each made
// durable before the next goes.
type freeJob struct {
	seq   uint32
	name  string
	size  int64
	level int
}

type freeResult struct {
	freed, failed []uint32
	skipped       []uint32 // not attempted: a level below them failed
	pool          int
}

// compactJob lists the segments one compaction pass copies, oldest first.
type compactJob []compactSeg

type compactSeg struct {
	seq  uint32
	name string
	tag  uint32
	used int64
}

type compactResult struct {
	job    compactJob
	done   []uint32 // segments whose every record was offered
	failed uint32   // the segment that could not be read, 0 if none
	err    error
}

// backgroundLoop prepares segments and frees dead ones, off the writer's path.
func (j *Journal) backgroundLoop() {
	defer j.bgWG.Done()
	for {
		select {
		case <-j.stop:
			return
		case seq := <-j.prepReq:
			p, err := j.prepare(seq)
			j.prepRes <- prepResult{p: p, err: err}
		case jobs := <-j.freeReq:
			j.freedCh <- j.free(jobs)
		}
	}
}

// prepare makes segment seq: a pooled file with a new header, or a new file
// filled with zeros; either way it reaches its final name by a rename
// followed by a sync of the folder, so it never appears half made.
func (j *Journal) prepare(seq uint32) (*prepared, error) {
	if j.hooks != nil && j.hooks.before != nil {
		if _, err := j.hooks.before(ioStep{op: "prepare"}); err != nil {
			return nil, err
		}
	}
	name := segName(seq)
	path := filepath.Join(j.dir, name)
	for len(j.pool) > 0 {
		src := filepath.Join(j.dir, j.pool[len(j.pool)-1])
		j.pool = j.pool[:len(j.pool)-1]
		p, err := j.reuse(src, seq, path)
		if err == nil {
			return p, nil
		}
		j.log.Warn("journal: cannot reuse a pooled segment; removing it", "file", src, "error", err)
		os.Remove(src)
	}
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	p, err := j.finishPrepare(f, 0, seq, tmp, path, j.segSize)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return p, nil
}

func (j *Journal) reuse(src string, seq uint32, path string) (*prepared, error) {
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.Size() != j.segSize {
		err = fmt.Errorf("size %d, want %d", st.Size(), j.segSize)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	var old [segHeaderSize]byte
	var oldTag uint32
	if _, err := f.ReadAt(old[:], 0); err == nil {
		if h, err := decodeSegHeader(old[:]); err == nil {
			oldTag = h.tag
		}
	}
	p, err := j.finishPrepare(f, oldTag, seq, src, path, j.segSize)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// finishPrepare zero-fills a new file (size 0 now), writes the header and an
// end marker, syncs, and renames from → to.
func (j *Journal) finishPrepare(f *os.File, oldTag uint32, seq uint32, from, to string, size int64) (*prepared, error) {
	if oldTag == 0 {
		if err := j.io(ioStep{op: "zerofill", path: from, n: int(size)}, func() error { return zeroFill(f, 0, size, j.stop) }); err != nil {
			return nil, err
		}
	}
	tag := newTag(oldTag)
	var hdr [segHeaderSize + endMarkerSize]byte
	encodeSegHeader(hdr[:], segHeader{version: baseVersion, tag: tag, seq: uint64(seq)})
	if err := j.writeAt(f, hdr[:], 0); err != nil {
		return nil, err
	}
	if err := j.io(ioStep{op: "sync", path: from}, func() error { return fdatasync(f) }); err != nil {
		return nil, err
	}
	if err := j.rename(from, to); err != nil {
		return nil, err
	}
	if err := j.syncDir(); err != nil {
		return nil, err
	}
	name := filepath.Base(to)
	return &prepared{seg: &segState{seq: seq, tag: tag, name: name, size: size, used: segHeaderSize, version: baseVersion}, f: f}, nil
}

// openPrepared takes up a segment found empty after the tail at Load.
func openPrepared(dir string, sf segFile) (*prepared, error) {
	f, err := os.OpenFile(filepath.Join(dir, sf.name), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	var hb [segHeaderSize + endMarkerSize]byte
	st, err := f.Stat()
	if err == nil {
		_, err = f.ReadAt(hb[:], 0)
	}
	var h segHeader
	if err == nil {
		h, err = decodeSegHeader(hb[:])
	}
	if err == nil && (h.seq != uint64(sf.seq) || st.Size() < MinSegmentSize) {
		err = errors.New("not a usable prepared segment")
	}
	if err == nil {
		// An end marker at the first record position: otherwise stale bytes
		// there would read as a torn write after the next crash.
		for _, b := range hb[segHeaderSize:] {
			if b != 0 {
				err = errors.New("prepared segment has data")
				break
			}
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &prepared{seg: &segState{seq: sf.seq, tag: h.tag, name: sf.name, size: st.Size(), used: segHeaderSize, version: h.version}, f: f}, nil
}

// free moves dead segments to the pool (or removes them) level by level,
// syncing the folder after each: a segment leaves the disk only once the
// segments it depends on have left it for good. A chain of dead segments
// thus goes in one pass, one folder sync per link.
func (j *Journal) free(jobs []freeJob) freeResult {
	var res freeResult
	top := 0
	for _, fj := range jobs {
		top = max(top, fj.level)
	}
	for level := 0; level <= top; level++ {
		var freed []uint32
		failed := false
		for _, fj := range jobs {
			if fj.level != level {
				continue
			}
			path := filepath.Join(j.dir, fj.name)
			var err error
			if fj.size == j.segSize && len(j.pool) < maxPool {
				pname := poolPrefix + fj.name
				if err = j.rename(path, filepath.Join(j.dir, pname)); err == nil {
					j.pool = append(j.pool, pname)
				}
			} else {
				err = j.remove(path)
			}
			if err != nil {
				j.log.Error("journal: cannot free a segment; keeping it", "file", path, "error", err)
				res.failed = append(res.failed, fj.seq)
				failed = true
				continue
			}
			freed = append(freed, fj.seq)
		}
		if len(freed) > 0 {
			if err := j.syncDir(); err != nil {
				j.log.Error("journal: cannot sync the folder after freeing segments; keeping them as if present", "error", err)
				res.failed = append(res.failed, freed...)
				freed = nil
				failed = true
			}
		}
		res.freed = append(res.freed, freed...)
		if failed {
			for _, fj := range jobs {
				if fj.level > level {
					res.skipped = append(res.skipped, fj.seq)
				}
			}
			break
		}
	}
	res.pool = len(j.pool)
	return res
}

// Compaction.

type itemKind uint8

const (
	itemMessage itemKind = iota + 1
	itemRef
	itemBinding
)

// copyItem is a record the compactor found in segment src; the writer copies
// it only if the index still places it there.
type copyItem struct {
	kind    itemKind
	src     uint32
	binding storage.BindingKind
	id      uint64 // message id
	q       uint64 // queue id (refs)
	srcOff  uint32 // data offset in the source segment (messages, bindings)
	key     []byte
	data    []byte
}

type copyChunk struct {
	items    []copyItem
	filtered bool // the writer has dropped the items that died
}

var errStopped = errors.New("journal: stopped")

func (j *Journal) compactLoop() {
	defer j.bgWG.Done()
	for {
		select {
		case <-j.stop:
			return
		case job := <-j.compReq:
			j.compRes <- j.compact(job)
		}
	}
}

// compact reads sealed segments and hands their records to the writer in
// chunks, waiting for each to be written before sending the next, so that
// producers' requests interleave and the queue stays short. The segments
// stay mapped until the end: chunks refer to their bytes.
func (j *Journal) compact(job compactJob) compactResult {
	res := compactResult{job: job}
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			unmap(m)
		}
	}()
	// Chunks are measured as if every record were live; the writer drops the
	// dead ones before it places a chunk, so most are far smaller.
	limit := compactChunk
	chunk := &copyChunk{}
	size := 0
	var pending []uint32 // segments fully read, their last items not yet written
	for _, cs := range job {
		if err := j.compactSegment(cs, &maps, func(it copyItem, isize int) error {
			if size > 0 && size+isize > limit {
				if err := j.submitChunk(chunk, size); err != nil {
					return err
				}
				res.done = append(res.done, pending...)
				pending = pending[:0]
				chunk = &copyChunk{}
				size = 0
			}
			chunk.items = append(chunk.items, it)
			size += isize
			return nil
		}); err != nil {
			if !errors.Is(err, errStopped) && !errors.Is(err, storage.ErrClosed) && !errors.Is(err, ErrFailed) && !errors.Is(err, ErrUnavailable) {
				res.failed = cs.seq
			}
			res.err = err
			return res
		}
		pending = append(pending, cs.seq)
	}
	if size > 0 {
		if err := j.submitChunk(chunk, size); err != nil {
			res.err = err
			return res
		}
	}
	res.done = append(res.done, pending...)
	return res
}

// compactSegment maps one segment and offers each of its records to add.
func (j *Journal) compactSegment(cs compactSeg, maps *[][]byte, add func(copyItem, int) error) error {
	path := filepath.Join(j.dir, cs.name)
	data, err := mapFile(path)
	if err != nil {
		return err
	}
	*maps = append(*maps, data)
	if int64(len(data)) < cs.used {
		return fmt.Errorf("%s: %d bytes, expected at least %d", path, len(data), cs.used)
	}
	data = data[:cs.used]
	h, err := decodeSegHeader(data)
	if err != nil || h.tag != cs.tag {
		return fmt.Errorf("%s: header changed under compaction", path)
	}
	var d dop
	k := recKeyOf(cs.tag, cs.seq)
	for off := segHeaderSize; ; {
		rc, st := readRecord(data, off, k)
		if st != recOK {
			return fmt.Errorf("%s: %s at offset %d", path, st, off)
		}
		if rc.typ == recSeal {
			return nil
		}
		if rc.typ == recBatch {
			payOff := off + recHeaderSize
			for pos := 0; pos < len(rc.payload); {
				n, err := decodeOp(rc.payload[pos:], &d)
				if err != nil {
					return fmt.Errorf("%s: batch at offset %d: %w", path, off, err)
				}
				if d.kind == byte(storage.OpPageRef) {
					// Compacted only once no page record in the segment is
					// unread: a paged-in one is a message and a reference.
					off := uint32(payOff + pos)
					pos += n
					m := copyItem{kind: itemMessage, src: cs.seq, id: d.msgID, srcOff: off + uint32(d.dataOff), data: d.data}
					if err := add(m, msgOpSize(len(d.data))); err != nil {
						return err
					}
					if err := add(copyItem{kind: itemRef, src: cs.seq, q: d.queueID, id: d.msgID}, copyRefOpSize); err != nil {
						return err
					}
					continue
				}
				it, isize := itemFor(&d, uint32(payOff+pos))
				pos += n
				if it.kind == 0 {
					continue
				}
				it.src = cs.seq
				if err := add(it, isize); err != nil {
					return err
				}
			}
		}
		off += rc.size
	}
}

// itemFor turns a decoded operation into a copy candidate with its worst-case
// copy size; cancelling operations yield none.
func itemFor(d *dop, opOff uint32) (copyItem, int) {
	switch d.kind {
	case byte(storage.OpAddMessage), kindCopyMessage:
		return copyItem{kind: itemMessage, id: d.msgID, srcOff: opOff + uint32(d.dataOff), data: d.data}, msgOpSize(len(d.data))
	case byte(storage.OpAddRef), byte(storage.OpUpdateRef), kindCopyRef:
		return copyItem{kind: itemRef, q: d.queueID, id: d.msgID}, copyRefOpSize
	case byte(storage.OpPutBinding), kindCopyBinding:
		return copyItem{kind: itemBinding, binding: d.binding, key: d.key, srcOff: opOff + uint32(d.dataOff), data: d.data},
			bindingOpSize(len(d.key), len(d.data))
	}
	return copyItem{}, 0
}

func (j *Journal) submitChunk(c *copyChunk, size int) error {
	j.enqueue(request{copy: c, size: size, done: func(err error) { j.compAck <- err }})
	select {
	case err := <-j.compAck:
		return err
	case <-j.stop:
		return errStopped
	}
}
