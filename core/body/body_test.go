package body

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/junctionmq/junction/core/prop"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Byte vectors worked out by hand from the AMQP 1.0 specification, part 1.
func TestKnownEncodings(t *testing.T) {
	m := AppendMap(nil, []prop.Property{{Name: "a", Value: prop.Int32Value(1)}})
	if want := mustHex("c1 06 02 a1 01 61 54 01"); !bytes.Equal(m, want) {
		t.Errorf("map {a: 1} = % x, want % x", m, want)
	}
	l := AppendList(nil, []prop.Value{prop.BoolValue(true), prop.StringValue("x"), prop.Uint64Value(0), prop.Int64Value(300)})
	if want := mustHex("c0 0f 04 41 a1 01 78 44 81 00 00 00 00 00 00 01 2c"); !bytes.Equal(l, want) {
		t.Errorf("list = % x, want % x", l, want)
	}
	if got := AppendList(nil, nil); !bytes.Equal(got, []byte{codeList0}) {
		t.Errorf("empty list = % x", got)
	}
	if got := AppendMap(nil, nil); !bytes.Equal(got, mustHex("c1 01 00")) {
		t.Errorf("empty map = % x", got)
	}
}

func allKinds() []prop.Value {
	return []prop.Value{
		prop.NullValue(), prop.BoolValue(true), prop.BoolValue(false),
		prop.Int8Value(-128), prop.Int16Value(-300), prop.Int32Value(5), prop.Int32Value(math.MinInt32),
		prop.Int64Value(-1), prop.Int64Value(math.MaxInt64), prop.Float32Value(1.5), prop.Float64Value(-math.Pi),
		prop.StringValue(""), prop.StringValue(strings.Repeat("é", 200)), prop.BytesValue([]byte{0, 1, 0xff}),
		prop.BytesValue(make([]byte, 300)), prop.CharValue('€'),
		prop.Uint8Value(255), prop.Uint16Value(65535), prop.Uint32Value(0), prop.Uint32Value(7), prop.Uint32Value(math.MaxUint32),
		prop.Uint64Value(0), prop.Uint64Value(200), prop.Uint64Value(math.MaxUint64),
		prop.UUIDValue([16]byte{1, 15: 2}), prop.SymbolValue("sym"), prop.SymbolValue(strings.Repeat("s", 256)),
		prop.TimestampValue(1_700_000_000_000),
		{Kind: prop.Decimal32, S: "\x01\x02\x03\x04"}, {Kind: prop.Decimal64, S: string(make([]byte, 8))}, {Kind: prop.Decimal128, S: string(make([]byte, 16))},
	}
}

func TestRoundTrip(t *testing.T) {
	vals := allKinds()
	got, err := DecodeList(AppendList(nil, vals))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(vals) {
		t.Fatalf("%d values, want %d", len(got), len(vals))
	}
	for i := range vals {
		if !got[i].Equal(vals[i]) {
			t.Errorf("value %d = %+v, want %+v", i, got[i], vals[i])
		}
	}
	var entries []prop.Property
	for i, v := range vals {
		entries = append(entries, prop.Property{Name: strings.Repeat("k", i+1), Value: v})
	}
	enc := AppendMap(nil, entries)
	if enc[0] != codeMap32 {
		t.Errorf("a map this large should be map32, is 0x%02x", enc[0])
	}
	m, err := DecodeMap(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		if m[i].Name != entries[i].Name || !m[i].Value.Equal(entries[i].Value) {
			t.Errorf("entry %d = %+v, want %+v", i, m[i], entries[i])
		}
	}
}

// Decoders take every form AMQP allows, not only the ones encoders write.
func TestDecodeOtherForms(t *testing.T) {
	// map32 with a str32 key and a sym8 key; boolean 0x56; uint 0x70.
	enc := mustHex("d1 0000001f 00000004 b1 00000001 61 56 01 a3 01 62 70 00000005")
	enc[1+3] = byte(len(enc) - 5) // size counts from after the size field
	m, err := DecodeMap(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[0].Name != "a" || !m[0].Value.Bool() || m[1].Name != "b" || m[1].Value.Kind != prop.Uint32 || m[1].Value.I != 5 {
		t.Errorf("decoded %+v", m)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name        string
		data        string
		unsupported bool
	}{
		{"empty", "", false},
		{"not a list", "a1 01 61", true},
		{"nested list", "c0 04 01 c0 01 00", true},
		{"described value", "c0 04 01 00 53 01", true},
		{"array", "c0 05 01 e0 02 00 40", true},
		{"count beyond size", "c0 02 05 40", false},
		{"size beyond data", "c0 09 01 40", false},
		{"trailing bytes", "c0 02 01 40 40", false},
		{"truncated int", "c0 03 01 71 00", false},
		{"bad boolean", "c0 03 01 56 02", false},
		{"bad char", "c0 05 01 73 7f ff ff ff", false},
		{"invalid utf-8", "c0 04 01 a1 01 ff", false},
		{"zero size", "c0 00 00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeList(mustHex(tt.data))
			if err == nil {
				t.Fatal("decoded")
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Errorf("error %v: unsupported = %v, want %v", err, !tt.unsupported, tt.unsupported)
			}
		})
	}
	for _, data := range []string{"c1 03 01 40", "c1 04 02 54 01 40"} { // odd count; non-string key
		if _, err := DecodeMap(mustHex(data)); err == nil {
			t.Errorf("DecodeMap(%s) succeeded", data)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(AppendList(nil, allKinds()))
	f.Add(AppendMap(nil, []prop.Property{{Name: "a", Value: prop.Int32Value(1)}, {Name: "b", Value: prop.StringValue("x")}}))
	f.Add(mustHex("d1 0000001f 00000004 b1 00000001 61 56 01 a3 01 62 70 00000005"))
	f.Add([]byte{codeList0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := DecodeList(data); err == nil {
			enc := AppendList(nil, l)
			l2, err := DecodeList(enc)
			if err != nil || len(l2) != len(l) {
				t.Fatalf("re-decoding a list: %v", err)
			}
			if enc2 := AppendList(nil, l2); !bytes.Equal(enc, enc2) {
				t.Fatalf("list encoding not canonical:\n%x\n%x", enc, enc2)
			}
		}
		if m, err := DecodeMap(data); err == nil {
			enc := AppendMap(nil, m)
			m2, err := DecodeMap(enc)
			if err != nil || len(m2) != len(m) {
				t.Fatalf("re-decoding a map: %v", err)
			}
			if enc2 := AppendMap(nil, m2); !bytes.Equal(enc, enc2) {
				t.Fatalf("map encoding not canonical:\n%x\n%x", enc, enc2)
			}
		}
	})
}
