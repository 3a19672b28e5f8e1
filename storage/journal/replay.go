package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

type replayMode uint8

const (
	modeLoad    replayMode = iota // stop at damage in the middle
	modeRepair                    // fix damage in the middle, loudly
	modeInspect                   // note damage and read on; never write
)

// replayer rebuilds the index from the segment files, in sequence order.
type replayer struct {
	dir   string
	mode  replayMode
	log   *slog.Logger
	files []segFile
	x     *index
	// reader reads segments back for the index's page-in and page-drop;
	// Load takes it over, else close closes it.
	reader *segReader
	// maps holds the segments mapped by sequence number, for emit; close
	// releases them.
	maps map[uint32][]byte

	// tail is the unsealed segment writing continues in; nil if every
	// segment is sealed.
	tail *segState
	// unused are the segments after the tail that never received a record:
	// prepared for a rollover that did not happen before the stop.
	unused []segFile
	// notes describe the damage found (and repaired, in repair mode).
	notes []string
	// truncatedAt is the tail offset where a torn write was cut, -1 if none.
	truncatedAt int64
	maxSeq      uint32
}

func newReplayer(dir string, mode replayMode, log *slog.Logger, files []segFile) *replayer {
	// The index starts small: presizing it from the folder's size, which
	// may hold mostly dead records and free space, could cost more than
	// growing it. run reserves as it goes, from what the segments read so
	// far held, and shrinks what it guessed too big at the end.
	r := &replayer{dir: dir, mode: mode, log: log, files: files, x: newIndex(0), reader: newSegReader(dir), maps: map[uint32][]byte{}, truncatedAt: -1}
	r.x.pages.src = r.reader
	return r
}

// close unmaps the segments.
func (r *replayer) close() {
	if r.reader != nil {
		r.reader.close()
	}
	for seq, b := range r.maps {
		unmap(b)
		delete(r.maps, seq)
	}
}

func (r *replayer) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *replayer) run(ctx context.Context) error {
	defer r.x.fit()
	sizes := make([]int64, len(r.files))
	var total, walked int64
	for i, f := range r.files {
		if st, err := os.Stat(filepath.Join(r.dir, f.name)); err == nil {
			sizes[i] = st.Size()
			total += sizes[i]
		}
	}
	for i := 0; i < len(r.files); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if walked > 0 {
			r.x.reserve(walked, total)
		}
		done, err := r.segment(i)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		walked += sizes[i]
	}
	return nil
}

// segment replays file i. It reports done when file i is the tail.
func (r *replayer) segment(i int) (bool, error) {
	sf := r.files[i]
	path := filepath.Join(r.dir, sf.name)
	r.maxSeq = max(r.maxSeq, sf.seq)
	data, err := mapFile(path)
	if err != nil {
		return false, fmt.Errorf("journal: reading %s: %w", path, err)
	}
	r.maps[sf.seq] = data
	h, herr := decodeSegHeader(data)
	if errors.Is(herr, errSegVersion) {
		return false, fmt.Errorf("%w: segment %s is format %d, this broker reads up to %d", ErrNewerVersion, path, h.version, formatVersion)
	}
	if herr == nil && h.seq != uint64(sf.seq) {
		herr = fmt.Errorf("header says sequence %d", h.seq)
	}
	if herr != nil {
		cerr := &CorruptError{File: path, Offset: 0, Reason: "segment header: " + herr.Error()}
		switch r.mode {
		case modeLoad:
			return false, cerr
		case modeInspect:
			r.note("%s: unreadable segment header (%v); skipped", sf.name, herr)
			return false, nil
		}
		r.log.Error("journal repair: moving a segment with a damaged header aside; its records are lost",
			"file", path, "error", herr)
		if err := os.Rename(path, path+damagedSuffix); err != nil {
			return false, fmt.Errorf("journal: repair: %w", err)
		}
		if err := syncDir(r.dir); err != nil {
			return false, fmt.Errorf("journal: repair: %w", err)
		}
		r.note("%s: damaged header, moved aside", sf.name)
		return false, nil
	}
	seg := &segState{seq: sf.seq, tag: h.tag, name: sf.name, size: int64(len(data)), version: h.version}
	r.x.segs.add(seg)

	off, st, err := r.walk(seg, data, segHeaderSize)
	if err != nil {
		return false, err
	}
	for st != recSealed {
		later, err := r.laterHasRecords(i)
		if err != nil {
			return false, err
		}
		// The first position after off where a sound record starts: a torn
		// write leaves none behind it (one write carries one record).
		q := scanValid(data, off+recHeaderSize, seg.key())
		if q == scanGaveUp {
			if r.mode == modeLoad {
				return false, &CorruptError{File: path, Offset: int64(off),
					Reason: fmt.Sprintf("%s, followed by too many record-like headers to tell a torn write from damage", st)}
			}
			q = -1
			later = true // seal here rather than read the rest as the tail
		}
		if q < 0 && !later {
			r.tail = seg
			seg.used = int64(off)
			r.unused = r.files[i+1:]
			if st != recZero {
				r.truncatedAt = int64(off)
				if r.mode == modeInspect {
					r.note("%s: torn write at offset %d (cut on the next start)", sf.name, off)
				} else {
					r.log.Warn("journal: torn write at the end of the journal; truncating it (its operations were never confirmed)",
						"file", path, "offset", off, "found", st.String())
				}
			}
			dontNeed(data)
			return true, nil
		}
		reason := fmt.Sprintf("%s, and valid records follow", st)
		if q < 0 {
			reason = fmt.Sprintf("%s before the end-of-segment seal, and later segments hold records", st)
		}
		cerr := &CorruptError{File: path, Offset: int64(off), Reason: reason}
		switch r.mode {
		case modeLoad:
			return false, cerr
		case modeInspect:
			r.note("%s: damage at offset %d: %s", sf.name, off, reason)
		case modeRepair:
			if err := r.repair(path, seg, data, off, q); err != nil {
				return false, err
			}
		}
		if q < 0 {
			st = recSealed
			if r.mode == modeRepair {
				off += sealSize
			}
			break
		}
		if off, st, err = r.walk(seg, data, q); err != nil {
			return false, err
		}
	}
	seg.sealed = true
	seg.used = int64(off)
	// Give the walked pages back: kept mapped, every segment would stay
	// resident until Load ends (a journal of 5 GB of paged messages, 5 GB
	// of RSS). emit faults back only the pages of live messages and
	// bindings, from the page cache.
	dontNeed(data)
	return false, nil
}

// recSealed extends recStatus for walk: the segment ended with its seal.
const recSealed recStatus = 100

func (s recStatus) String() string {
	switch s {
	case recZero:
		return "end of data"
	case recForeign:
		return "stale bytes of an earlier use of the file"
	case recBad:
		return "a record failing its checksum or bounds"
	case recSealed:
		return "seal"
	}
	return "valid record"
}

// walk replays records from off until a seal or the first position that is
// not a valid record. It returns the offset after the seal, or of the
// position that stopped it, with its status.
func (r *replayer) walk(seg *segState, data []byte, off int) (int, recStatus, error) {
	k := seg.key()
	for {
		rc, st := readRecord(data, off, k)
		if st != recOK {
			return off, st, nil
		}
		switch rc.typ {
		case recBatch:
			if checkOps(rc.payload) != nil {
				// A checksum that holds over bytes that do not decode: treat
				// it as damage rather than apply half of it.
				return off, recBad, nil
			}
			if err := r.x.applyBatch(seg, rc.payload, off+recHeaderSize); err != nil {
				return off, recBad, nil
			}
			if err := r.x.pages.err; err != nil {
				return off, recBad, fmt.Errorf("journal: replaying %s: %w", seg.name, err)
			}
		case recSeal:
			seg.records++
			return off + rc.size, recSealed, nil
		case recPad:
			seg.records++
		}
		off += rc.size
	}
}

// scanGaveUp is what scanValid returns when the bytes hold too many
// record-like headers to check them all in linear time.
const scanGaveUp = -2

// scanValid returns the first 8-aligned offset at or after from where a
// valid record of tag starts, or -1. Headers that carry the tag are rare
// outside real records (the tag is random), so checksumming each candidate
// is cheap; a budget keeps crafted input from making it quadratic.
func scanValid(data []byte, from int, k recKey) int {
	budget := 4*len(data) + 1<<20
	for q := align(from); q+recHeaderSize <= len(data); q += recAlign {
		if binary.LittleEndian.Uint32(data[q+8:]) != k.tag {
			continue
		}
		budget -= int(min(binary.LittleEndian.Uint32(data[q+4:]), uint32(len(data))))
		if budget < 0 {
			return scanGaveUp
		}
		if _, st := readRecord(data, q, k); st == recOK {
			return q
		}
	}
	return -1
}

// laterHasRecords reports whether any file after i holds a record (or
// cannot be read, which counts as holding one: it is not an unused segment).
func (r *replayer) laterHasRecords(i int) (bool, error) {
	for _, sf := range r.files[i+1:] {
		has, err := firstRecordValid(filepath.Join(r.dir, sf.name))
		if err != nil || has {
			return true, nil
		}
	}
	return false, nil
}

// firstRecordValid reports whether the segment at path starts with a valid
// record. A header that does not decode is an error.
func firstRecordValid(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var hb [segHeaderSize + recHeaderSize]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil {
		return false, err
	}
	h, err := decodeSegHeader(hb[:])
	if err != nil {
		return false, err
	}
	n := binary.LittleEndian.Uint32(hb[segHeaderSize+4:])
	if binary.LittleEndian.Uint32(hb[segHeaderSize+8:]) != h.tag || n > maxSegmentSize {
		return false, nil
	}
	rb := make([]byte, align(recHeaderSize+int(n)))
	if _, err := f.ReadAt(rb, segHeaderSize); err != nil {
		return false, nil
	}
	_, st := readRecord(rb, 0, recKeyOf(h.tag, uint32(h.seq)))
	return st == recOK, nil
}

// repair overwrites the damage at off: with a padding record up to q, the
// next valid record, or with a seal when none follows in the segment.
func (r *replayer) repair(path string, seg *segState, data []byte, off, q int) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("journal: repair: %w", err)
	}
	defer f.Close()
	var b []byte
	if q >= 0 {
		// q >= off+recHeaderSize: scanValid starts there.
		b = make([]byte, q-off)
		putRecordHeader(b, recPad, seg.key(), q-off-recHeaderSize)
		r.log.Error("journal repair: skipping damaged records; the operations they held are lost",
			"file", path, "offset", off, "bytes", q-off)
		r.note("%s: skipped %d damaged bytes at offset %d", seg.name, q-off, off)
	} else {
		b = make([]byte, sealSize)
		binary.LittleEndian.PutUint64(b[recHeaderSize:], uint64(seg.seq)+1)
		putRecordHeader(b, recSeal, seg.key(), 8)
		r.log.Error("journal repair: sealing a damaged segment; the operations after the damage are lost",
			"file", path, "offset", off)
		r.note("%s: sealed at damaged offset %d", seg.name, off)
	}
	if off+len(b) > len(data) {
		return fmt.Errorf("journal: repair: %s too short to seal at offset %d", path, off)
	}
	if _, err := f.WriteAt(b, int64(off)); err != nil {
		return fmt.Errorf("journal: repair: %w", err)
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("journal: repair: %w", err)
	}
	// data maps the file shared: it sees the write.
	return nil
}
