package prop

import (
	"math"
	"testing"
)

// The stored kinds' numbers must never change (core/codec.go writes them).
func TestKindNumbersStable(t *testing.T) {
	want := map[Kind]uint8{Null: 0, Bool: 1, Int8: 2, Int16: 3, Int32: 4, Int64: 5, Float32: 6, Float64: 7, String: 8,
		Bytes: 9, Char: 10, Uint8: 11, Uint16: 12, Uint32: 13, Uint64: 14, UUID: 15, Symbol: 16, Timestamp: 17,
		Decimal32: 18, Decimal64: 19, Decimal128: 20}
	for k, n := range want {
		if uint8(k) != n {
			t.Errorf("%v = %d, want %d", k, k, n)
		}
		if !k.Valid() || k.String() == "" {
			t.Errorf("%v not valid", k)
		}
	}
	if Kind(21).Valid() || Kind(21).String() != "kind(21)" {
		t.Error("kind 21 should not exist")
	}
}

// TestJMSMapping is the table of docs/MESSAGES.md.
func TestJMSMapping(t *testing.T) {
	uuid := UUIDValue([16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})
	tests := []struct {
		in   Value
		want Value
		text string
	}{
		{Uint8Value(255), Int16Value(255), "255"},
		{Uint16Value(65535), Int32Value(65535), "65535"},
		{Uint32Value(math.MaxUint32), Int64Value(math.MaxUint32), "4294967295"},
		{Uint64Value(math.MaxInt64), Int64Value(math.MaxInt64), "9223372036854775807"},
		{Uint64Value(math.MaxUint64), Float64Value(math.MaxUint64), "18446744073709551615"},
		{uuid, StringValue("12345678-9abc-def0-0123-456789abcdef"), "12345678-9abc-def0-0123-456789abcdef"},
		{SymbolValue("x-opt"), StringValue("x-opt"), "x-opt"},
		{TimestampValue(1_700_000_000_000), Int64Value(1_700_000_000_000), "1700000000000"},
		{Value{Kind: Decimal32, S: "\x22\x50\x00\x01"}, BytesValue([]byte{0x22, 0x50, 0, 1}), "0x22500001"},
		// JMS kinds are themselves.
		{Int32Value(-1), Int32Value(-1), "-1"},
		{UntypedValue("25"), UntypedValue("25"), "25"},
		{CharValue('é'), CharValue('é'), "é"},
	}
	for _, tt := range tests {
		got := tt.in.JMS()
		if !got.Equal(tt.want) || got.Untyped != tt.want.Untyped {
			t.Errorf("%v.JMS() = %+v, want %+v", tt.in.Kind, got, tt.want)
		}
		if got := tt.in.Text(); got != tt.text {
			t.Errorf("%v.Text() = %q, want %q", tt.in.Kind, got, tt.text)
		}
	}
}

func TestDecimalValue(t *testing.T) {
	for n, k := range map[int]Kind{4: Decimal32, 8: Decimal64, 16: Decimal128} {
		if v, ok := DecimalValue(make([]byte, n)); !ok || v.Kind != k {
			t.Errorf("DecimalValue(%d bytes) = %v, %v", n, v.Kind, ok)
		}
	}
	if _, ok := DecimalValue(make([]byte, 5)); ok {
		t.Error("DecimalValue took 5 bytes")
	}
}

func TestEqualNewKinds(t *testing.T) {
	if !UUIDValue([16]byte{1}).Equal(UUIDValue([16]byte{1})) || UUIDValue([16]byte{1}).Equal(UUIDValue([16]byte{2})) {
		t.Error("UUID equality")
	}
	if !SymbolValue("a").Equal(SymbolValue("a")) || SymbolValue("a").Equal(StringValue("a")) {
		t.Error("symbol equality")
	}
	if Uint64Value(1).Equal(Int64Value(1)) {
		t.Error("kinds differ, values must too")
	}
}
