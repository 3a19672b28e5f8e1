package journal

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/junctionmq/junction/storage"
)

// opVectors are operations with their exact encodings, shared by the
// encoder and decoder tests.
var opVectors = []struct {
	name string
	op   storage.Op
	enc  []byte
}{
	{"add-message", storage.Op{Kind: storage.OpAddMessage, MsgID: 0x0102030405060708, Data: []byte("hi")},
		[]byte{1, 8, 7, 6, 5, 4, 3, 2, 1, 2, 'h', 'i'}},
	{"add-message empty", storage.Op{Kind: storage.OpAddMessage, MsgID: 1},
		[]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"delete-message", storage.Op{Kind: storage.OpDeleteMessage, MsgID: 7},
		[]byte{2, 7, 0, 0, 0, 0, 0, 0, 0}},
	{"add-ref", storage.Op{Kind: storage.OpAddRef, QueueID: 3, MsgID: 4, DeliveryCount: 5, ScheduledAt: -1},
		[]byte{3, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255}},
	{"ack", storage.Op{Kind: storage.OpAck, QueueID: 3, MsgID: 4},
		[]byte{4, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}},
	{"update-ref", storage.Op{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: 2, DeliveryCount: 1, ScheduledAt: 256},
		[]byte{5, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
	{"put-binding", storage.Op{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: "ab", Data: []byte("xyz")},
		[]byte{6, 2, 2, 'a', 'b', 3, 'x', 'y', 'z'}},
	{"delete-binding", storage.Op{Kind: storage.OpDeleteBinding, Binding: storage.BindingMeta, Key: "k"},
		[]byte{7, 5, 1, 'k'}},
	{"page-ref", storage.Op{Kind: storage.OpPageRef, QueueID: 3, MsgID: 4, DeliveryCount: 5, ScheduledAt: 256, Data: []byte("hi")},
		[]byte{8, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}},
	{"page-ref empty", storage.Op{Kind: storage.OpPageRef, QueueID: 1, MsgID: 2},
		[]byte{8, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"page-in", storage.Op{Kind: storage.OpPageIn, QueueID: 3, MsgID: 4, Pos: 0x0000000200000040},
		[]byte{9, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 2, 0, 0, 0}},
	{"page-drop", storage.Op{Kind: storage.OpPageDrop, QueueID: 3, Pos: 0x0000000100000020},
		[]byte{10, 3, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 1, 0, 0, 0}},
}

func TestOpEncoding(t *testing.T) {
	for _, v := range opVectors {
		t.Run(v.name, func(t *testing.T) {
			enc := appendOp(nil, &v.op)
			if !bytes.Equal(enc, v.enc) {
				t.Fatalf("encoded % x, want % x", enc, v.enc)
			}
			if n, err := opSize(&v.op); err != nil || n != len(enc) {
				t.Fatalf("opSize %d, %v; encoded %d", n, err, len(enc))
			}
			var d dop
			n, err := decodeOp(enc, &d)
			if err != nil || n != len(enc) {
				t.Fatalf("decode: %d, %v", n, err)
			}
			var want dop
			opToDop(&v.op, &want)
			if d.kind != want.kind || d.msgID != want.msgID || d.queueID != want.queueID || d.dc != want.dc ||
				d.sched != want.sched || d.pos != want.pos || !bytes.Equal(d.data, want.data) || d.keyString() != want.keyString() ||
				(len(d.data) > 0 && d.dataOff != want.dataOff) {
				t.Fatalf("decoded %+v, want %+v", d, want)
			}
			if (v.op.Kind == storage.OpPutBinding || v.op.Kind == storage.OpDeleteBinding) && d.binding != v.op.Binding {
				t.Fatalf("binding %d", d.binding)
			}
			// Every strict prefix is malformed, never a panic.
			for i := range enc {
				if _, err := decodeOp(enc[:i], &d); err == nil {
					t.Fatalf("prefix of %d bytes decoded", i)
				}
			}
		})
	}
}

func TestCopyOpEncoding(t *testing.T) {
	var d dop
	b := appendCopyRef(nil, 1, 2, 3, 4, 0xAABB)
	if n, err := decodeOp(b, &d); err != nil || n != copyRefOpSize || d.order != 0xAABB || d.kind != kindCopyRef || d.dc != 3 || d.sched != 4 {
		t.Fatalf("copy-ref: %d %v %+v", n, err, d)
	}
	b = appendCopyMessage(nil, 9, []byte("data"))
	if n, err := decodeOp(b, &d); err != nil || n != msgOpSize(4) || d.msgID != 9 || string(d.data) != "data" {
		t.Fatalf("copy-message: %d %v %+v", n, err, d)
	}
	b = appendCopyBinding(nil, kindRetained, []byte("k"), []byte("v"))
	if n, err := decodeOp(b, &d); err != nil || n != bindingOpSize(1, 1) || string(d.key) != "k" || string(d.data) != "v" {
		t.Fatalf("copy-binding: %d %v %+v", n, err, d)
	}
}

func TestRecordFraming(t *testing.T) {
	const tag = 0x11223344
	key := recKeyOf(tag, 7)
	payloads := [][]byte{{}, []byte("x"), []byte("seven77"), []byte("eight888"), bytes.Repeat([]byte{0xFF}, 1000)}
	for _, p := range payloads {
		buf := make([]byte, 2048)
		copy(buf[recHeaderSize:], p)
		size := putRecordHeader(buf, recBatch, key, len(p))
		if size%recAlign != 0 || size < recHeaderSize+len(p) {
			t.Fatalf("size %d for %d bytes", size, len(p))
		}
		rc, st := readRecord(buf, 0, key)
		if st != recOK || rc.size != size || rc.typ != recBatch || !bytes.Equal(rc.payload, p) {
			t.Fatalf("read back %v %+v", st, rc)
		}
		if _, st := readRecord(buf, 0, recKeyOf(tag+1, 7)); st != recForeign {
			t.Fatalf("other tag: %v", st)
		}
		// The same tag in a later incarnation (another sequence number):
		// an old record of a reused file is never read as a new one.
		if _, st := readRecord(buf, 0, recKeyOf(tag, 8)); st != recBad {
			t.Fatalf("other sequence: %v", st)
		}
		for i := 0; i < recHeaderSize+len(p); i++ {
			b := append([]byte(nil), buf...)
			b[i] ^= 0x10
			if _, st := readRecord(b, 0, key); st == recOK {
				t.Fatalf("flip at %d of a %d-byte record went unnoticed", i, len(p))
			}
		}
		if _, st := readRecord(buf[:size-1], 0, key); st != recBad {
			t.Fatalf("truncated: %v", st)
		}
	}
	if _, st := readRecord(make([]byte, 64), 8, key); st != recZero {
		t.Fatalf("zeros: %v", st)
	}
	if _, st := readRecord(make([]byte, 64), 60, key); st != recBad {
		t.Fatalf("short: %v", st)
	}
	huge := make([]byte, 64)
	binary.LittleEndian.PutUint32(huge[4:], math.MaxUint32)
	binary.LittleEndian.PutUint32(huge[8:], tag)
	if _, st := readRecord(huge, 0, key); st != recBad {
		t.Fatalf("huge length: %v", st)
	}
}

func TestSegmentHeader(t *testing.T) {
	b := make([]byte, segHeaderSize)
	encodeSegHeader(b, segHeader{version: formatVersion, tag: 5, seq: 9})
	h, err := decodeSegHeader(b)
	if err != nil || h.tag != 5 || h.seq != 9 || h.version != formatVersion {
		t.Fatalf("%+v %v", h, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 4
		if _, err := decodeSegHeader(c); err == nil {
			t.Fatalf("flip at %d went unnoticed", i)
		}
	}
	encodeSegHeader(b, segHeader{version: formatVersion + 1, tag: 5, seq: 9})
	if _, err := decodeSegHeader(b); err != errSegVersion {
		t.Fatalf("newer: %v", err)
	}
}

func TestSegNames(t *testing.T) {
	cases := []struct {
		name string
		seq  uint32
		ok   bool
	}{
		{segName(1), 1, true},
		{segName(0xFFFFFFFF), 0xFFFFFFFF, true},
		{"0000000000000000.seg", 0, false},
		{"00000000000000001.seg", 0, false},
		{"000000000000000g.seg", 0, false},
		{"0000000100000000.seg", 0, false},
		{"free-0000000000000001.seg", 0, false},
		{strings.Repeat("0", 16), 0, false},
	}
	for _, c := range cases {
		seq, ok := parseSegName(c.name)
		if seq != c.seq || ok != c.ok {
			t.Errorf("%s: %d %v", c.name, seq, ok)
		}
	}
}
