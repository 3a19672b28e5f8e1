package journal

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/junctionmq/junction/storage"
)

const fuzzTag = 0xC0FFEE01

var fuzzKey = recKeyOf(fuzzTag, 1)

// fuzzRecord frames payload as a record of the fuzz segment.
func fuzzRecord(typ byte, payload []byte) []byte {
	b := make([]byte, align(recHeaderSize+len(payload)))
	copy(b[recHeaderSize:], payload)
	putRecordHeader(b, typ, fuzzKey, len(payload))
	return b
}

// FuzzRecordDecode feeds arbitrary bytes to the record and operation
// decoders as the body of a segment: they must never panic, every record
// they accept must decode to operations that encode back to the same bytes,
// and replaying them into an index must hold.
func FuzzRecordDecode(f *testing.F) {
	var ops []byte
	for _, v := range opVectors {
		ops = append(ops, v.enc...)
		f.Add(fuzzRecord(recBatch, v.enc))
	}
	// Page records, then a page-in and a page-drop naming them: the first
	// record of the fuzz segment starts at segHeaderSize, its payload 16
	// bytes later.
	var paged []byte
	first := uint64(segHeaderSize + recHeaderSize)
	paged = appendOp(paged, &storage.Op{Kind: storage.OpPageRef, QueueID: 9, MsgID: 1, Data: []byte("one")})
	second := first + uint64(len(paged))
	paged = appendOp(paged, &storage.Op{Kind: storage.OpPageRef, QueueID: 9, MsgID: 2, Data: []byte("two")})
	paged = appendOp(paged, &storage.Op{Kind: storage.OpPageRef, QueueID: 9, MsgID: 3, Data: []byte("three")})
	paged = appendOp(paged, &storage.Op{Kind: storage.OpPageIn, QueueID: 9, MsgID: 1, Pos: 1<<32 | first})
	paged = appendOp(paged, &storage.Op{Kind: storage.OpPageDrop, QueueID: 9, Pos: 1<<32 | second})
	f.Add(fuzzRecord(recBatch, paged))
	ops = append(ops, paged...)
	ops = appendCopyRef(ops, 1, 2, 3, 4, 5)
	ops = appendCopyMessage(ops, 6, []byte("copied"))
	ops = appendCopyBinding(ops, kindRetained, []byte("t/1"), []byte("r"))
	all := fuzzRecord(recBatch, ops)
	f.Add(all)
	seal := make([]byte, 8)
	binary.LittleEndian.PutUint64(seal, 2)
	f.Add(append(append([]byte(nil), all...), fuzzRecord(recSeal, seal)...))
	f.Add(append(append([]byte(nil), all...), make([]byte, 32)...))
	f.Add(all[:len(all)-3])
	f.Add(fuzzRecord(recPad, make([]byte, 40)))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xFF}, 64))

	f.Fuzz(func(t *testing.T, body []byte) {
		// As a record payload with a valid checksum: exercises the
		// operation decoder on arbitrary bytes.
		decodeSegment(t, fuzzRecord(recBatch, body))
		// As raw segment content: exercises the record framing checks.
		decodeSegment(t, body)
	})
}

func decodeSegment(t *testing.T, body []byte) {
	{
		seg := make([]byte, segHeaderSize+len(body))
		encodeSegHeader(seg, segHeader{version: formatVersion, tag: fuzzTag, seq: 1})
		copy(seg[segHeaderSize:], body)
		x := newIndex(0)
		s := &segState{seq: 1, tag: fuzzTag, size: int64(len(seg))}
		x.segs.add(s)
		x.pages.src = memSource{1: seg}
		off := segHeaderSize
		for {
			rc, st := readRecord(seg, off, fuzzKey)
			if st != recOK {
				break
			}
			if rc.size < recHeaderSize || off+rc.size > len(seg) || rc.size%recAlign != 0 {
				t.Fatalf("record size %d at %d of %d", rc.size, off, len(seg))
			}
			if rc.typ == recBatch && checkOps(rc.payload) == nil {
				var re []byte
				var d dop
				for p := rc.payload; len(p) > 0; {
					n, err := decodeOp(p, &d)
					if err != nil || n <= 0 || n > len(p) {
						t.Fatalf("checked payload failed to decode: %d %v", n, err)
					}
					re = appendDop(re, &d)
					p = p[n:]
				}
				if !bytes.Equal(re, rc.payload) {
					t.Fatalf("re-encoded % x\nfrom       % x", re, rc.payload)
				}
				if err := x.applyBatch(s, rc.payload, off+recHeaderSize); err != nil {
					t.Fatal(err)
				}
			}
			off += rc.size
		}
		scanValid(seg, segHeaderSize, fuzzKey)
	}
}

// memSource serves segments from memory, for the index's page-in and
// page-drop, which read their page records back.
type memSource map[uint32][]byte

func (m memSource) readSeg(seq uint32, p []byte, off int64) (int, error) {
	b, ok := m[seq]
	if !ok {
		return 0, os.ErrNotExist
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memSource) segSize(seq uint32) (int64, error) {
	b, ok := m[seq]
	if !ok {
		return 0, os.ErrNotExist
	}
	return int64(len(b)), nil
}

// appendDop re-encodes a decoded operation.
func appendDop(b []byte, d *dop) []byte {
	switch d.kind {
	case kindCopyMessage:
		return appendCopyMessage(b, d.msgID, d.data)
	case kindCopyRef:
		return appendCopyRef(b, d.queueID, d.msgID, d.dc, d.sched, d.order)
	case kindCopyBinding:
		return appendCopyBinding(b, d.binding, d.key, d.data)
	}
	op := storage.Op{Kind: storage.OpKind(d.kind), Binding: d.binding, MsgID: d.msgID, QueueID: d.queueID,
		DeliveryCount: d.dc, ScheduledAt: d.sched, Key: string(d.key), Data: d.data, Pos: d.pos}
	return appendOp(b, &op)
}
