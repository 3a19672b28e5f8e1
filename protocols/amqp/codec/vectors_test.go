package codec

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// cat concatenates byte slices, strings and single bytes: the hand-written
// vectors below are spelled with it, independently of the encoder.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		default:
			panic("cat")
		}
	}
	return b
}

// l8 is a list8 or map8 (code) of count elements: size = bytes + 1.
func l8(code byte, count int, items ...any) []byte {
	b := cat(items...)
	return cat(code, len(b)+1, count, b)
}

func u32(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// valueVectors holds AMQP values and their encodings (part 1, section 1.6).
// Canonical vectors are what the encoder writes; the others are forms only
// the decoder meets.
var valueVectors = []struct {
	name      string
	v         any
	enc       []byte
	canonical bool
}{
	{"null", nil, cat(0x40), true},
	{"true", true, cat(0x41), true},
	{"false", false, cat(0x42), true},
	{"boolean 1", true, cat(0x56, 0x01), false},
	{"boolean 0", false, cat(0x56, 0x00), false},
	{"ubyte", uint8(0xff), cat(0x50, 0xff), true},
	{"ushort", uint16(0x1234), cat(0x60, 0x12, 0x34), true},
	{"uint0", uint32(0), cat(0x43), true},
	{"smalluint", uint32(7), cat(0x52, 0x07), true},
	{"uint", uint32(0x10000), cat(0x70, 0x00, 0x01, 0x00, 0x00), true},
	{"uint small in full form", uint32(5), cat(0x70, 0, 0, 0, 5), false},
	{"ulong0", uint64(0), cat(0x44), true},
	{"smallulong", uint64(255), cat(0x53, 0xff), true},
	{"ulong", uint64(0x0102030405060708), cat(0x80, 1, 2, 3, 4, 5, 6, 7, 8), true},
	{"ulong small in full form", uint64(1), cat(0x80, 0, 0, 0, 0, 0, 0, 0, 1), false},
	{"byte", int8(-128), cat(0x51, 0x80), true},
	{"short", int16(-2), cat(0x61, 0xff, 0xfe), true},
	{"smallint", int32(-1), cat(0x54, 0xff), true},
	{"int", int32(256), cat(0x71, 0, 0, 1, 0), true},
	{"int small in full form", int32(-1), cat(0x71, 0xff, 0xff, 0xff, 0xff), false},
	{"smalllong", int64(127), cat(0x55, 0x7f), true},
	{"long", int64(-129), cat(0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), true},
	{"float", float32(1), cat(0x72, 0x3f, 0x80, 0, 0), true},
	{"double", float64(-2), cat(0x82, 0xc0, 0, 0, 0, 0, 0, 0, 0), true},
	{"decimal32", Decimal32{0x22, 0x50, 0, 0x01}, cat(0x74, 0x22, 0x50, 0, 0x01), true},
	{"decimal64", Decimal64{0x22, 0x38, 0, 0, 0, 0, 0, 0x01}, cat(0x84, 0x22, 0x38, 0, 0, 0, 0, 0, 0x01), true},
	{"decimal128", Decimal128{0x22, 0x08, 15: 0x01}, cat(0x94, 0x22, 0x08, make([]byte, 13), 0x01), true},
	{"char", Char(0x1f600), cat(0x73, 0, 0x01, 0xf6, 0x00), true},
	{"timestamp", Timestamp(1311704463521), cat(0x83, 0, 0, 0x01, 0x31, 0x67, 0xad, 0xb8, 0xa1), true},
	{"uuid", UUID{0: 0xf8, 15: 0x01}, cat(0x98, 0xf8, make([]byte, 14), 0x01), true},
	{"vbin8", []byte{1, 2, 3}, cat(0xa0, 3, 1, 2, 3), true},
	{"vbin8 empty", []byte{}, cat(0xa0, 0), true},
	{"vbin32", bytes.Repeat([]byte{7}, 256), cat(0xb0, u32(256), bytes.Repeat([]byte{7}, 256)), true},
	{"vbin32 short", []byte{0xff}, cat(0xb0, 0, 0, 0, 1, 0xff), false},
	{"str8", "hé", cat(0xa1, 3, "hé"), true},
	{"str32", strings.Repeat("x", 300), cat(0xb1, u32(300), strings.Repeat("x", 300)), true},
	{"str32 short", "a", cat(0xb1, 0, 0, 0, 1, "a"), false},
	{"sym8", Symbol("amqp:accepted:list"), cat(0xa3, 18, "amqp:accepted:list"), true},
	{"sym32", Symbol(strings.Repeat("s", 256)), cat(0xb3, u32(256), strings.Repeat("s", 256)), true},
	{"sym32 short", Symbol("s"), cat(0xb3, 0, 0, 0, 1, "s"), false},
	{"list0", List{}, cat(0x45), true},
	{"list8", List{true, uint32(1)}, cat(0xc0, 4, 2, 0x41, 0x52, 1), true},
	{"list32", List{true, false}, cat(0xd0, 0, 0, 0, 6, 0, 0, 0, 2, 0x41, 0x42), false},
	{"list32 long", List{strings.Repeat("y", 260)}, cat(0xd0, u32(4+5+260), u32(1), 0xb1, u32(260), strings.Repeat("y", 260)), true},
	{"list8 empty", List{}, cat(0xc0, 1, 0), false},
	{"nested list", List{List{}, Map{}}, cat(0xc0, 5, 2, 0x45, 0xc1, 1, 0), true},
	{"map8", Map{{Symbol("k"), true}, {"s", int32(1)}}, cat(0xc1, 10, 4, 0xa3, 1, "k", 0x41, 0xa1, 1, "s", 0x54, 1), true},
	{"map32", Map{{Symbol("k"), nil}}, cat(0xd1, 0, 0, 0, 8, 0, 0, 0, 2, 0xa3, 1, "k", 0x40), false},
	{"array8 of uint", Array{uint32(1), uint32(2)}, cat(0xe0, 10, 2, 0x70, 0, 0, 0, 1, 0, 0, 0, 2), true},
	{"array8 of smalluint", Array{uint32(1), uint32(2)}, cat(0xe0, 4, 2, 0x52, 1, 2), false},
	{"array8 of sym8", Array{Symbol("a"), Symbol("bc")}, cat(0xe0, 7, 2, 0xa3, 1, "a", 2, "bc"), false},
	{"array of symbols", []Symbol{"a", "bc"}, cat(0xe0, 7, 2, 0xa3, 1, "a", 2, "bc"), true},
	{"array of str32", Array{"a", "b"}, cat(0xe0, 12, 2, 0xb1, 0, 0, 0, 1, "a", 0, 0, 0, 1, "b"), true},
	{"array32 of booleans", Array{true, false}, cat(0xf0, 0, 0, 0, 7, 0, 0, 0, 2, 0x56, 1, 0), false},
	{"array of booleans", Array{true, false}, cat(0xe0, 4, 2, 0x56, 1, 0), true},
	{"array of nulls", Array{nil, nil, nil}, cat(0xe0, 2, 3, 0x40), true},
	{"empty array", Array{}, cat(0xe0, 2, 0, 0x40), true},
	{"array of lists", Array{List{}, List{true}}, cat(0xe0, 19, 2, 0xd0, u32(4), u32(0), u32(5), u32(1), 0x41), true},
	{"array of described", Array{Described{uint64(1), "a"}, Described{uint64(1), "b"}},
		cat(0xe0, 15, 2, 0x00, 0x53, 1, 0xb1, u32(1), "a", u32(1), "b"), true},
	{"array of ulong", Array{uint64(1)}, cat(0xe0, 10, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 1), true},
	{"array of int", Array{int32(-1)}, cat(0xe0, 6, 1, 0x71, 0xff, 0xff, 0xff, 0xff), true},
	{"array of long", Array{int64(2)}, cat(0xe0, 10, 1, 0x81, 0, 0, 0, 0, 0, 0, 0, 2), true},
	{"array of binary", Array{[]byte{1}}, cat(0xe0, 7, 1, 0xb0, 0, 0, 0, 1, 1), true},
	{"array of sym32", Array{Symbol("a")}, cat(0xe0, 7, 1, 0xb3, 0, 0, 0, 1, "a"), true},
	{"array of maps", Array{Map{}}, cat(0xe0, 10, 1, 0xd1, u32(4), u32(0)), true},
	{"array of arrays", Array{Array{uint32(1)}}, cat(0xe0, 15, 1, 0xf0, u32(9), u32(1), 0x70, u32(1)), true},
	{"array of ubyte", Array{uint8(1), uint8(2)}, cat(0xe0, 4, 2, 0x50, 1, 2), true},
	{"array of timestamps", Array{Timestamp(1)}, cat(0xe0, 10, 1, 0x83, 0, 0, 0, 0, 0, 0, 0, 1), true},
	{"described ulong", Described{uint64(0x75), []byte("x")}, cat(0x00, 0x53, 0x75, 0xa0, 1, "x"), true},
	{"described symbol", Described{Symbol("foo"), nil}, cat(0x00, 0xa3, 3, "foo", 0x40), true},
	{"described descriptor", Described{Described{uint64(1), nil}, true}, cat(0x00, 0x00, 0x53, 1, 0x40, 0x41), true},
}

func TestValueVectors(t *testing.T) {
	for _, tc := range valueVectors {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.enc)
			got, err := d.ReadValue()
			if err != nil {
				t.Fatalf("decode % x: %v", tc.enc, err)
			}
			if d.Len() != 0 {
				t.Fatalf("%d bytes left", d.Len())
			}
			want := tc.v
			if syms, ok := want.([]Symbol); ok {
				// Decoded arrays are Arrays.
				a := Array{}
				for _, s := range syms {
					a = append(a, s)
				}
				want = a
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decode % x = %#v, want %#v", tc.enc, got, want)
			}
			// ReadRaw and Skip agree on the extent.
			d = NewDecoder(append(append([]byte(nil), tc.enc...), 0x40))
			raw, err := d.ReadRaw()
			if err != nil || !bytes.Equal(raw, tc.enc) {
				t.Fatalf("ReadRaw = % x, %v", raw, err)
			}
			if tc.canonical {
				if enc := AppendValue([]byte{0xee}, tc.v); !bytes.Equal(enc[1:], tc.enc) || enc[0] != 0xee {
					t.Fatalf("encode %#v = % x, want % x", tc.v, enc[1:], tc.enc)
				}
			} else if enc := AppendValue(nil, got); bytes.Equal(enc, tc.enc) {
				t.Fatalf("%s is listed as non-canonical but the encoder writes it", tc.name)
			}
		})
	}
}

// badValues are malformed encodings: each must be a decode error, never a
// panic or a large allocation.
var badValues = []struct {
	name string
	enc  []byte
}{
	{"empty", nil},
	{"unknown code", cat(0x46)},
	{"reserved code", cat(0x57, 0)},
	{"truncated uint", cat(0x70, 0, 0)},
	{"truncated ulong", cat(0x80, 0)},
	{"truncated uuid", cat(0x98, 1, 2, 3)},
	{"boolean 2", cat(0x56, 2)},
	{"char beyond unicode", cat(0x73, 0, 0x11, 0, 0)},
	{"str8 size beyond", cat(0xa1, 5, "ab")},
	{"str32 size beyond", cat(0xb1, 0xff, 0xff, 0xff, 0xff, "ab")},
	{"str8 invalid utf-8", cat(0xa1, 2, 0xc3, 0x28)},
	{"vbin8 no size", cat(0xa0)},
	{"list8 count beyond bytes", cat(0xc0, 2, 5, 0x41)},
	{"list32 huge count", cat(0xd0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff)},
	{"list32 size beyond", cat(0xd0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x41)},
	{"list8 element overruns", cat(0xc0, 3, 1, 0xa1, 5)},
	{"list8 trailing bytes", cat(0xc0, 3, 1, 0x41, 0x41)},
	{"list8 no count", cat(0xc0, 0)},
	{"map8 odd count", cat(0xc1, 2, 1, 0x41)},
	{"array32 of a billion nulls", cat(0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40)},
	{"array8 count beyond bytes", cat(0xe0, 3, 9, 0x52, 1)},
	{"array without constructor", cat(0xe0, 1, 0)},
	{"array of unknown code", cat(0xe0, 2, 1, 0x46)},
	{"described without value", cat(0x00, 0x53, 0x75)},
	{"described without descriptor", cat(0x00)},
	{"nesting bomb", append(bytes.Repeat(cat(0xc0, 0, 1), 100), 0x40)},
	{"described bomb", append(bytes.Repeat(cat(0x00), 100), 0x40, 0x40)},
}

func TestBadValues(t *testing.T) {
	for _, tc := range badValues {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.enc)
			if v, err := d.ReadValue(); err == nil {
				t.Fatalf("ReadValue(% x) = %#v, want an error", tc.enc, v)
			} else if e, ok := err.(*Error); !ok || e.Condition != CondDecodeError {
				t.Fatalf("error %v is not amqp:decode-error", err)
			}
		})
	}
}

// TestNestingLimit: MaxDepth levels decode, one more does not.
func TestNestingLimit(t *testing.T) {
	nest := func(n int) []byte {
		b := []byte{0x45}
		for range n {
			b = cat(0xd0, u32(len(b)+4), u32(1), b)
		}
		return b
	}
	d := NewDecoder(nest(MaxDepth - 1))
	if _, err := d.ReadValue(); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	d = NewDecoder(nest(MaxDepth + 1))
	if _, err := d.ReadValue(); err == nil {
		t.Fatalf("depth %d decoded", MaxDepth+1)
	}
}

func TestUUIDString(t *testing.T) {
	u := UUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	if s := u.String(); s != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatalf("UUID.String() = %q", s)
	}
}

// TestCompositeEncoders: ListEncoder and MapEncoder pick list8/map8 while
// the size and count fit a byte and the 32-bit forms beyond.
func TestCompositeEncoders(t *testing.T) {
	long := strings.Repeat("c", 300)
	got := (&Open{ContainerID: long, MaxFrameSize: 0xffffffff, ChannelMax: 0xffff}).AppendTo(nil)
	want := cat(desc(0x10), 0xd0, u32(4+5+300), u32(1), 0xb1, u32(300), long)
	if !bytes.Equal(got, want) {
		t.Fatalf("long open: % x", got[:20])
	}
	dst, me := BeginMap(nil)
	if got := me.End(dst); !bytes.Equal(got, cat(0xc1, 1, 0)) {
		t.Fatalf("empty map % x", got)
	}
	dst, me = BeginMap([]byte{0xee})
	dst = AppendSymbol(dst, "k")
	dst = AppendString(dst, long)
	me.Entry()
	if got := me.End(dst); !bytes.Equal(got, cat(0xee, 0xd1, u32(4+3+5+300), u32(2), sym8("k"), 0xb1, u32(300), long)) {
		t.Fatalf("long map % x", got[:20])
	}
	dst, l := BeginList(nil)
	dst = AppendNull(dst)
	l.Field(dst)
	if got := l.End(dst); !bytes.Equal(got, cat(0x45)) {
		t.Fatalf("list of a null: % x", got)
	}
}

// TestDecoderAPI: the reading calls other packages use.
func TestDecoderAPI(t *testing.T) {
	d := NewDecoder(cat(0x40, l8(0xc1, 2, sym8("k"), 0x41), 0xa1, 2, "hi", 0x45, 0x45))
	if m, err := d.ReadMap(); err != nil || m != nil {
		t.Fatalf("ReadMap of null = %v, %v", m, err)
	}
	if m, err := d.ReadMap(); err != nil || len(m) != 1 {
		t.Fatalf("ReadMap = %v, %v", m, err)
	} else if v, ok := m.Get(Symbol("k")); !ok || v != true {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if code, b, err := d.ReadPrimitive(); err != nil || code != 0xa1 || string(b) != "hi" {
		t.Fatalf("ReadPrimitive = %x %q %v", code, b, err)
	}
	if err := d.Skip(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadMap(); err == nil {
		t.Fatal("ReadMap of a list")
	}
	d = NewDecoder(cat(0x45))
	if _, err := d.ReadMap(); err == nil {
		t.Fatal("ReadMap of list0")
	}
	d = NewDecoder(cat(0xa1, 1, "x"))
	if _, err := d.ReadList(); err == nil {
		t.Fatal("ReadList of a string")
	}
}

// TestFieldReaderTypes: each typed read refuses another type, and a
// boolean field accepts both of its encodings.
func TestFieldReaderTypes(t *testing.T) {
	fields := func(items ...any) FieldReader {
		d := NewDecoder(l8(0xc0, len(items), items...))
		f, err := d.ReadList()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := fields(cat(0x56, 1), cat(0x83, u32(0), u32(5)), cat(0xa3, 1, "s"), cat(0xa0, 1, 1))
	if f.Remaining() != 4 || !f.Bool(false) {
		t.Fatal("boolean 0x56 01")
	}
	if ts, ok := f.Timestamp(); !ok || ts != 5 {
		t.Fatalf("timestamp %d %v", ts, ok)
	}
	if f.Symbol() != "s" || string(f.Binary()) != "\x01" || f.Err() != nil {
		t.Fatalf("symbol, binary: %v", f.Err())
	}
	if ts, ok := f.Timestamp(); ok || ts != 0 {
		t.Fatal("absent timestamp read")
	}
	for name, read := range map[string]func(*FieldReader){
		"Bool":      func(f *FieldReader) { f.Bool(false) },
		"Timestamp": func(f *FieldReader) { f.Timestamp() },
		"Symbol":    func(f *FieldReader) { f.Symbol() },
		"Symbols":   func(f *FieldReader) { f.Symbols() },
		"Binary":    func(f *FieldReader) { f.Binary() },
		"Str":       func(f *FieldReader) { f.Str() },
		"Uint":      func(f *FieldReader) { f.Uint(0) },
		"Map":       func(f *FieldReader) { f.Map() },
	} {
		f := fields(cat(0x51, 1)) // a byte: the right type for none of them
		read(&f)
		if e, ok := f.Err().(*Error); !ok || e.Condition != CondDecodeError {
			t.Errorf("%s of a byte: %v", name, f.Err())
		}
	}
	f = fields(cat(0x41), cat(0x41))
	if raw := f.Raw(); !bytes.Equal(raw, []byte{0x41}) {
		t.Fatalf("Raw = % x", raw)
	}
}

func TestDecodeDeliveryState(t *testing.T) {
	for _, s := range []DeliveryState{&Accepted{}, &Released{}, &Rejected{Error: &Error{Condition: CondNotAllowed}},
		&Modified{UndeliverableHere: true}, &Received{SectionNumber: 1, SectionOffset: 2}, &Declared{TxnID: []byte{1}},
		&TransactionalState{TxnID: []byte{2}, Outcome: &Released{}}} {
		got, err := DecodeDeliveryState(s.AppendTo(nil))
		if err != nil || !reflect.DeepEqual(got, s) || got.Descriptor() != s.Descriptor() {
			t.Errorf("%T: %#v, %v", s, got, err)
		}
	}
	if _, err := DecodeDeliveryState(cat(desc(0x10), 0x45)); err == nil {
		t.Error("open decoded as a delivery state")
	}
	if (&Error{Condition: CondNotFound, Description: "q"}).Error() != "amqp:not-found: q" || (&Error{Condition: CondNotFound}).Error() != "amqp:not-found" {
		t.Error("Error()")
	}
}
