package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/junctionmq/junction/storage"
)

// On-disk format, versions 1 and 2. All integers are little-endian. Version 2
// adds the page operations (page-ref, page-in, page-drop); a segment's header
// says 2 only once it holds one (the writer rewrites the header before the
// first), so a journal that never paged stays readable by a broker that
// knows version 1 only, and one that did is refused by it with
// ErrNewerVersion rather than misread as damage.
//
// A data folder holds a format file (formatFileName), a lock file, segment
// files named by their sequence number in hex ("%016x.seg") and pooled free
// segments ("free-*.seg") waiting to be reused.
//
// A segment starts with a 32-byte header:
//
//	[0:8]   segMagic
//	[8:12]  format version
//	[12:16] tag: random, non-zero, different from the tag the file had before
//	[16:24] sequence number
//	[24:28] reserved, zero
//	[28:32] CRC32C of [0:28]
//
// Records follow, each starting at an 8-byte aligned offset so that the
// first word of a header (CRC and length) never straddles a sector:
//
//	[0:4]   CRC32C of [4:16+len], seeded with the CRC32C of the segment's
//	        sequence number (u32)
//	[4:8]   payload length
//	[8:12]  the segment's tag
//	[12]    record type
//	[13:16] reserved, zero
//	[16:]   payload, then zero padding to the next multiple of 8
//
// The tag and the sequence number tie each record to one incarnation of its
// file: when a freed segment is reused, its old records carry another tag
// and were checksummed from another sequence number, so they are never read
// as new ones; and because the tag is random, bytes a client managed to place
// inside a message cannot pose as a record either.
//
// One write() carries exactly one record, followed by a 16-byte zero header
// that marks the end of the data. After a crash the data therefore ends either
// at a zero header (clean) or at a record that fails its checks (a torn
// write); anything else is damage.
//
// A batch record's payload is a sequence of operations, each a kind byte then
// its fields:
//
//	add-message, copy-message: id u64, len uvarint, data
//	delete-message:            id u64
//	add-ref, update-ref:       queue u64, msg u64, delivery count u32, scheduled-at i64
//	copy-ref:                  as add-ref, then the reference's order key u64
//	ack:                       queue u64, msg u64
//	page-ref:                  queue u64, msg u64, delivery count u32, scheduled-at i64, len uvarint, data
//	page-in:                   queue u64, msg u64, position u64
//	page-drop:                 queue u64, position u64
//	put-binding, copy-binding: binding kind u8, key len uvarint, key, data len uvarint, data
//	delete-binding:            binding kind u8, key len uvarint, key
//
// The copy kinds are written by compaction and replay exactly like the kinds
// they copy. A reference's order key is the segment sequence (high 32 bits)
// and the byte offset of its add-ref operation (low 32 bits): every add-ref has
// a distinct one, and sorting by it yields the order the references were added
// even after compaction moved some of them.
//
// A paged reference's position is the segment sequence (high 32 bits) and
// the byte offset of its page-ref operation (low 32 bits), like an order
// key; page-in and page-drop name one (see paging.go). Page records are
// never copied by compaction while unread, so a position stays valid as
// long as its record is.
//
// A seal record (payload: the next segment's sequence number, u64) ends every
// segment but the newest; a segment without one is either the newest or damaged.

const (
	// formatVersion is the newest format this code reads; baseVersion the
	// one it writes into the format file and into segments without page
	// operations; pagingVersion the one of segments with them.
	formatVersion  = 2
	baseVersion    = 1
	pagingVersion  = 2
	formatFileName = "JOURNAL"
	formatMagic    = "junction journal"
	lockFileName   = "LOCK"

	segHeaderSize = 32
	recHeaderSize = 16
	recAlign      = 8
	// sealSize is the space a seal record needs; it is kept free at the end of
	// every segment so that a segment can always be sealed.
	sealSize = recHeaderSize + 8
	// endMarkerSize zero bytes follow every record written, so that the end
	// of the data is recognisable after a crash.
	endMarkerSize = recHeaderSize

	// maxSegmentSize keeps every byte offset in 32 bits (order keys, index).
	maxSegmentSize = 1 << 31
	// MinSegmentSize is the smallest Options.SegmentSize accepted.
	MinSegmentSize = 4096
	// DefaultSegmentSize is the segment size used when Options.SegmentSize is 0.
	DefaultSegmentSize = 32 << 20
	// MaxApplySize bounds the encoded size of one Apply's operations.
	MaxApplySize = maxSegmentSize - segHeaderSize - recHeaderSize - sealSize - endMarkerSize - 4096
)

var segMagic = [8]byte{'J', 'N', 'C', 'S', 'E', 'G', 0, 1}

// Record types.
const (
	recBatch = 1 // operations
	recSeal  = 2 // end of segment
	recPad   = 3 // written only by repair, over a damaged span
)

// Operation kinds as stored: the storage.OpKind values plus the kinds
// compaction writes.
const (
	kindCopyMessage = 0x81
	kindCopyRef     = 0x83
	kindCopyBinding = 0x86
)

const (
	refOpSize     = 1 + 8 + 8 + 4 + 8
	copyRefOpSize = refOpSize + 8
	ackOpSize     = 1 + 8 + 8
	delMsgOpSize  = 1 + 8
	// pageHdrSize is a page-ref's size before its data length and data.
	pageHdrSize    = 1 + 8 + 8 + 4 + 8
	pageInOpSize   = 1 + 8 + 8 + 8
	pageDropOpSize = 1 + 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func align(n int) int { return (n + recAlign - 1) &^ (recAlign - 1) }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// ErrInvalidOp is reported for an operation the journal cannot store.
var ErrInvalidOp = errors.New("journal: invalid operation")

// opSize returns the encoded size of op.
func opSize(op *storage.Op) (int, error) {
	switch op.Kind {
	case storage.OpAddMessage:
		return 1 + 8 + uvarintLen(uint64(len(op.Data))) + len(op.Data), nil
	case storage.OpDeleteMessage:
		return delMsgOpSize, nil
	case storage.OpAddRef, storage.OpUpdateRef:
		return refOpSize, nil
	case storage.OpAck:
		return ackOpSize, nil
	case storage.OpPutBinding:
		return 1 + 1 + uvarintLen(uint64(len(op.Key))) + len(op.Key) + uvarintLen(uint64(len(op.Data))) + len(op.Data), nil
	case storage.OpDeleteBinding:
		return 1 + 1 + uvarintLen(uint64(len(op.Key))) + len(op.Key), nil
	case storage.OpPageRef:
		return pageOpSize(len(op.Data)), nil
	case storage.OpPageIn:
		return pageInOpSize, nil
	case storage.OpPageDrop:
		return pageDropOpSize, nil
	}
	return 0, fmt.Errorf("%w: kind %d", ErrInvalidOp, op.Kind)
}

func pageOpSize(dataLen int) int { return pageHdrSize + uvarintLen(uint64(dataLen)) + dataLen }

func msgOpSize(dataLen int) int { return 1 + 8 + uvarintLen(uint64(dataLen)) + dataLen }

func bindingOpSize(keyLen, dataLen int) int {
	return 1 + 1 + uvarintLen(uint64(keyLen)) + keyLen + uvarintLen(uint64(dataLen)) + dataLen
}

// appendOp appends op's encoding to b.
func appendOp(b []byte, op *storage.Op) []byte {
	le := binary.LittleEndian
	b = append(b, byte(op.Kind))
	switch op.Kind {
	case storage.OpAddMessage:
		b = le.AppendUint64(b, op.MsgID)
		b = binary.AppendUvarint(b, uint64(len(op.Data)))
		b = append(b, op.Data...)
	case storage.OpDeleteMessage:
		b = le.AppendUint64(b, op.MsgID)
	case storage.OpAddRef, storage.OpUpdateRef:
		b = le.AppendUint64(b, op.QueueID)
		b = le.AppendUint64(b, op.MsgID)
		b = le.AppendUint32(b, op.DeliveryCount)
		b = le.AppendUint64(b, uint64(op.ScheduledAt))
	case storage.OpAck:
		b = le.AppendUint64(b, op.QueueID)
		b = le.AppendUint64(b, op.MsgID)
	case storage.OpPutBinding:
		b = append(b, byte(op.Binding))
		b = binary.AppendUvarint(b, uint64(len(op.Key)))
		b = append(b, op.Key...)
		b = binary.AppendUvarint(b, uint64(len(op.Data)))
		b = append(b, op.Data...)
	case storage.OpDeleteBinding:
		b = append(b, byte(op.Binding))
		b = binary.AppendUvarint(b, uint64(len(op.Key)))
		b = append(b, op.Key...)
	case storage.OpPageRef:
		b = le.AppendUint64(b, op.QueueID)
		b = le.AppendUint64(b, op.MsgID)
		b = le.AppendUint32(b, op.DeliveryCount)
		b = le.AppendUint64(b, uint64(op.ScheduledAt))
		b = binary.AppendUvarint(b, uint64(len(op.Data)))
		b = append(b, op.Data...)
	case storage.OpPageIn:
		b = le.AppendUint64(b, op.QueueID)
		b = le.AppendUint64(b, op.MsgID)
		b = le.AppendUint64(b, op.Pos)
	case storage.OpPageDrop:
		b = le.AppendUint64(b, op.QueueID)
		b = le.AppendUint64(b, op.Pos)
	}
	return b
}

func appendCopyMessage(b []byte, id uint64, data []byte) []byte {
	b = append(b, kindCopyMessage)
	b = binary.LittleEndian.AppendUint64(b, id)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func appendCopyRef(b []byte, q, m uint64, dc uint32, sched int64, order uint64) []byte {
	le := binary.LittleEndian
	b = append(b, kindCopyRef)
	b = le.AppendUint64(b, q)
	b = le.AppendUint64(b, m)
	b = le.AppendUint32(b, dc)
	b = le.AppendUint64(b, uint64(sched))
	return le.AppendUint64(b, order)
}

func appendCopyBinding(b []byte, kind storage.BindingKind, key, data []byte) []byte {
	b = append(b, kindCopyBinding, byte(kind))
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// dop is a decoded operation. Key and Data alias the decoded buffer.
type dop struct {
	kind    byte
	binding storage.BindingKind
	msgID   uint64
	queueID uint64
	dc      uint32
	sched   int64
	order   uint64 // copy-ref only
	pos     uint64 // page-in, page-drop
	key     []byte
	data    []byte
	dataOff int // offset of data within the encoded operation

	// The writer describes operations from storage.Op, whose key is a
	// string already: keyStr saves converting it back and forth.
	keyStr    string
	useKeyStr bool
}

func (d *dop) keyString() string {
	if d.useKeyStr {
		return d.keyStr
	}
	return string(d.key)
}

// uvarint is binary.Uvarint that also refuses non-minimal encodings, so
// that every operation has exactly one encoding.
func uvarint(p []byte) (uint64, int) {
	v, k := binary.Uvarint(p)
	if k > 1 && p[k-1] == 0 {
		return 0, 0
	}
	return v, k
}

// errBadOp is returned by decodeOp for malformed bytes.
var errBadOp = errors.New("malformed operation")

// decodeOp decodes the operation at the start of p into d and returns its
// encoded size. It never allocates.
func decodeOp(p []byte, d *dop) (int, error) {
	le := binary.LittleEndian
	if len(p) == 0 {
		return 0, errBadOp
	}
	d.kind = p[0]
	switch d.kind {
	case byte(storage.OpAddMessage), kindCopyMessage:
		if len(p) < 10 {
			return 0, errBadOp
		}
		d.msgID = le.Uint64(p[1:])
		n, k := uvarint(p[9:])
		if k <= 0 || n > uint64(len(p)-9-k) {
			return 0, errBadOp
		}
		start := 9 + k
		d.dataOff = start
		d.data = p[start : start+int(n) : start+int(n)]
		return start + int(n), nil
	case byte(storage.OpDeleteMessage):
		if len(p) < delMsgOpSize {
			return 0, errBadOp
		}
		d.msgID = le.Uint64(p[1:])
		return delMsgOpSize, nil
	case byte(storage.OpAddRef), byte(storage.OpUpdateRef), kindCopyRef:
		size := refOpSize
		if d.kind == kindCopyRef {
			size = copyRefOpSize
		}
		if len(p) < size {
			return 0, errBadOp
		}
		d.queueID = le.Uint64(p[1:])
		d.msgID = le.Uint64(p[9:])
		d.dc = le.Uint32(p[17:])
		d.sched = int64(le.Uint64(p[21:]))
		if d.kind == kindCopyRef {
			d.order = le.Uint64(p[29:])
		}
		return size, nil
	case byte(storage.OpAck):
		if len(p) < ackOpSize {
			return 0, errBadOp
		}
		d.queueID = le.Uint64(p[1:])
		d.msgID = le.Uint64(p[9:])
		return ackOpSize, nil
	case byte(storage.OpPageRef):
		h, ok := decodePageHdr(p)
		if !ok || h.dataLen > uint64(len(p)-h.dataOff) {
			return 0, errBadOp
		}
		d.queueID, d.msgID, d.dc, d.sched = h.queueID, h.msgID, h.dc, h.sched
		d.dataOff = h.dataOff
		end := h.dataOff + int(h.dataLen)
		d.data = p[h.dataOff:end:end]
		return end, nil
	case byte(storage.OpPageIn):
		if len(p) < pageInOpSize {
			return 0, errBadOp
		}
		d.queueID = le.Uint64(p[1:])
		d.msgID = le.Uint64(p[9:])
		d.pos = le.Uint64(p[17:])
		return pageInOpSize, nil
	case byte(storage.OpPageDrop):
		if len(p) < pageDropOpSize {
			return 0, errBadOp
		}
		d.queueID = le.Uint64(p[1:])
		d.pos = le.Uint64(p[9:])
		return pageDropOpSize, nil
	case byte(storage.OpPutBinding), kindCopyBinding, byte(storage.OpDeleteBinding):
		if len(p) < 3 {
			return 0, errBadOp
		}
		d.binding = storage.BindingKind(p[1])
		n, k := uvarint(p[2:])
		if k <= 0 || n > uint64(len(p)-2-k) {
			return 0, errBadOp
		}
		pos := 2 + k
		d.key = p[pos : pos+int(n) : pos+int(n)]
		pos += int(n)
		if d.kind == byte(storage.OpDeleteBinding) {
			return pos, nil
		}
		n, k = uvarint(p[pos:])
		if k <= 0 || n > uint64(len(p)-pos-k) {
			return 0, errBadOp
		}
		pos += k
		d.dataOff = pos
		d.data = p[pos : pos+int(n) : pos+int(n)]
		return pos + int(n), nil
	}
	return 0, errBadOp
}

// pageHdr is the head of a page-ref operation: everything but its data.
type pageHdr struct {
	queueID, msgID uint64
	dc             uint32
	sched          int64
	dataLen        uint64
	dataOff        int // offset of the data within the operation
}

// size is the operation's encoded size.
func (h *pageHdr) size() int { return h.dataOff + int(h.dataLen) }

// decodePageHdr decodes the head of the page-ref operation at the start of
// p, which need not hold its data. The length is not checked against p.
func decodePageHdr(p []byte) (pageHdr, bool) {
	le := binary.LittleEndian
	if len(p) < pageHdrSize+1 || p[0] != byte(storage.OpPageRef) {
		return pageHdr{}, false
	}
	h := pageHdr{queueID: le.Uint64(p[1:]), msgID: le.Uint64(p[9:]), dc: le.Uint32(p[17:]), sched: int64(le.Uint64(p[21:]))}
	n, k := uvarint(p[pageHdrSize:])
	if k <= 0 || n > maxSegmentSize {
		return pageHdr{}, false
	}
	h.dataLen, h.dataOff = n, pageHdrSize+k
	return h, true
}

// segHeader is a decoded segment header.
type segHeader struct {
	version uint32
	tag     uint32
	seq     uint64
}

func encodeSegHeader(b []byte, h segHeader) {
	le := binary.LittleEndian
	copy(b[0:8], segMagic[:])
	le.PutUint32(b[8:], h.version)
	le.PutUint32(b[12:], h.tag)
	le.PutUint64(b[16:], h.seq)
	le.PutUint32(b[24:], 0)
	le.PutUint32(b[28:], crc(b[:28]))
}

var (
	errSegMagic   = errors.New("bad segment magic")
	errSegHdrCRC  = errors.New("segment header checksum mismatch")
	errSegVersion = errors.New("segment format version is newer than this broker supports")
)

func decodeSegHeader(b []byte) (segHeader, error) {
	le := binary.LittleEndian
	if len(b) < segHeaderSize {
		return segHeader{}, errSegMagic
	}
	if [8]byte(b[0:8]) != segMagic {
		return segHeader{}, errSegMagic
	}
	if le.Uint32(b[28:]) != crc(b[:28]) {
		return segHeader{}, errSegHdrCRC
	}
	h := segHeader{version: le.Uint32(b[8:]), tag: le.Uint32(b[12:]), seq: le.Uint64(b[16:])}
	if h.version > formatVersion {
		return h, errSegVersion
	}
	if h.tag == 0 || le.Uint32(b[24:]) != 0 {
		return h, errSegHdrCRC
	}
	return h, nil
}

// recStatus classifies the bytes at a record position.
type recStatus uint8

const (
	recOK      recStatus = iota // a valid record
	recZero                     // a zero header: the end of the data
	recForeign                  // a header of another tag: stale bytes of an earlier use
	recBad                      // a header of this tag that fails its checks: torn or corrupt
)

// recKey identifies the records of one incarnation of a segment file: its
// random tag, which a record carries in its header, and a checksum seed
// derived from its sequence number, which every record checksum starts from.
// Old records in a reused file fail one or the other.
type recKey struct {
	tag  uint32
	seed uint32
}

func recKeyOf(tag, seq uint32) recKey {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], seq)
	return recKey{tag: tag, seed: crc(b[:])}
}

func (k recKey) sum(b []byte) uint32 { return crc32.Update(k.seed, castagnoli, b) }

// rec is a record found by readRecord.
type rec struct {
	typ     byte
	payload []byte
	size    int // bytes from the record start to the next record (aligned)
}

// readRecord examines the record at b[off:] for the segment incarnation k.
// It never panics and never allocates.
func readRecord(b []byte, off int, k recKey) (rec, recStatus) {
	le := binary.LittleEndian
	if off < 0 || off+recHeaderSize > len(b) {
		return rec{}, recBad
	}
	h := b[off : off+recHeaderSize]
	if le.Uint64(h[0:8]) == 0 && le.Uint64(h[8:16]) == 0 {
		return rec{}, recZero
	}
	if le.Uint32(h[8:12]) != k.tag {
		return rec{}, recForeign
	}
	n := le.Uint32(h[4:8])
	if uint64(n) > uint64(len(b)-off-recHeaderSize) {
		return rec{}, recBad
	}
	typ := h[12]
	if typ < recBatch || typ > recPad || h[13] != 0 || h[14] != 0 || h[15] != 0 {
		return rec{}, recBad
	}
	end := off + recHeaderSize + int(n)
	if le.Uint32(h[0:4]) != k.sum(b[off+4:end]) {
		return rec{}, recBad
	}
	if typ == recSeal && n != 8 {
		return rec{}, recBad
	}
	size := align(recHeaderSize + int(n))
	if off+size > len(b) {
		// Padding is not covered by the checksum, but a record always fits
		// its segment with its padding.
		return rec{}, recBad
	}
	return rec{typ: typ, payload: b[off+recHeaderSize : end], size: size}, recOK
}

// putRecordHeader fills the header of the record that occupies
// b[0:recHeaderSize+payloadLen] and zeroes its padding. b must have room for
// the padding.
func putRecordHeader(b []byte, typ byte, k recKey, payloadLen int) int {
	le := binary.LittleEndian
	le.PutUint32(b[4:], uint32(payloadLen))
	le.PutUint32(b[8:], k.tag)
	b[12], b[13], b[14], b[15] = typ, 0, 0, 0
	end := recHeaderSize + payloadLen
	le.PutUint32(b[0:], k.sum(b[4:end]))
	size := align(end)
	clear(b[end:size])
	return size
}

// checkOps verifies that a batch payload decodes completely.
func checkOps(p []byte) error {
	var d dop
	for len(p) > 0 {
		n, err := decodeOp(p, &d)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
