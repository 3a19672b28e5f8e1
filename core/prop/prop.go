// Package prop holds the typed value model shared by message properties and the
// selector language. It is a leaf package so that the selector evaluator, the
// core and the storage codecs can agree on one representation without importing
// each other.
package prop

import (
	"encoding/hex"
	"math"
	"strconv"
)

// Kind is the type of a value: the JMS property types, and the AMQP 1.0
// simple types JMS lacks. The zero Kind is Null, so a missing property reads
// as NULL without any extra bookkeeping.
//
// Kind values are stored (core/codec.go): never renumber one, only append.
type Kind uint8

const (
	Null    Kind = iota // 0
	Bool                // 1
	Int8                // 2: JMS byte, AMQP byte
	Int16               // 3: JMS short, AMQP short
	Int32               // 4: JMS int, AMQP int
	Int64               // 5: JMS long, AMQP long
	Float32             // 6
	Float64             // 7
	String              // 8
	Bytes               // 9: AMQP binary (JMS has no byte[] property)
	Char                // 10: JMS char, AMQP char (a Unicode code point)

	// AMQP 1.0 types without a JMS property type. Selectors see them through
	// JMS (docs/MESSAGES.md has the table).

	Uint8      // 11: AMQP ubyte, in I
	Uint16     // 12: AMQP ushort, in I
	Uint32     // 13: AMQP uint, in I
	Uint64     // 14: AMQP ulong, its bits in I
	UUID       // 15: AMQP uuid, 16 bytes in B
	Symbol     // 16: AMQP symbol (ASCII), in S
	Timestamp  // 17: AMQP timestamp, unix ms in I
	Decimal32  // 18: AMQP decimal32, IEEE 754 bytes (big-endian) in B
	Decimal64  // 19: AMQP decimal64, likewise
	Decimal128 // 20: AMQP decimal128, likewise

	numKinds
)

var kindNames = [numKinds]string{"null", "bool", "int8", "int16", "int32", "int64", "float32", "float64", "string", "bytes", "char",
	"uint8", "uint16", "uint32", "uint64", "uuid", "symbol", "timestamp", "decimal32", "decimal64", "decimal128"}

// Valid reports whether k is a kind this version knows.
func (k Kind) Valid() bool { return k < numKinds }

// IsUnsigned reports whether the kind is one of AMQP's unsigned integers.
func (k Kind) IsUnsigned() bool { return k >= Uint8 && k <= Uint64 }

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsExact reports whether the kind is an exact (integer) numeric type of JMS.
// The unsigned kinds are not: a selector sees them through JMS().
func (k Kind) IsExact() bool { return k >= Int8 && k <= Int64 }

// IsApprox reports whether the kind is an approximate (floating point) numeric type.
func (k Kind) IsApprox() bool { return k == Float32 || k == Float64 }

// IsNumeric reports whether the kind is any numeric type.
func (k Kind) IsNumeric() bool { return k >= Int8 && k <= Float64 }

// Value is a typed scalar. It is a plain struct rather than an interface so that
// reading a property or evaluating a selector never allocates.
//
// Untyped marks a string that arrived from a text-only protocol (STOMP headers):
// the selector evaluator lets such a value compare as a number when it parses as
// one, as ActiveMQ does, while a typed string keeps the strict JMS rules.
//
// It is 32 bytes: every message carries two (its client message id and
// correlation id) and one per property, so a float keeps its bits in I and
// the byte kinds keep their bytes in S (strings are immutable, so a value
// never aliases a buffer its producer reuses). It was 64 bytes with separate
// float and []byte fields, which cost the hot path about 10 %.
type Value struct {
	Kind    Kind
	Untyped bool
	// I holds Bool (0/1), Int8..Int64, Char, Uint8..Uint64, Timestamp, and
	// the IEEE 754 bits of Float32 and Float64 (as a float64): use Float.
	I int64
	// S holds String and Symbol, and the raw bytes of Bytes, UUID and
	// Decimal32..Decimal128: read them without a copy as S, or use Bytes.
	S string
}

// Constructors keep call sites short and make the kind explicit.

func NullValue() Value { return Value{} }
func BoolValue(b bool) Value {
	v := Value{Kind: Bool}
	if b {
		v.I = 1
	}
	return v
}
func Int8Value(i int8) Value   { return Value{Kind: Int8, I: int64(i)} }
func Int16Value(i int16) Value { return Value{Kind: Int16, I: int64(i)} }
func Int32Value(i int32) Value { return Value{Kind: Int32, I: int64(i)} }
func Int64Value(i int64) Value { return Value{Kind: Int64, I: i} }
func Float32Value(f float32) Value {
	return Value{Kind: Float32, I: int64(math.Float64bits(float64(f)))}
}
func Float64Value(f float64) Value { return Value{Kind: Float64, I: int64(math.Float64bits(f))} }
func StringValue(s string) Value   { return Value{Kind: String, S: s} }
func BytesValue(b []byte) Value    { return Value{Kind: Bytes, S: string(b)} }
func CharValue(r rune) Value       { return Value{Kind: Char, I: int64(r)} }

func Uint8Value(u uint8) Value      { return Value{Kind: Uint8, I: int64(u)} }
func Uint16Value(u uint16) Value    { return Value{Kind: Uint16, I: int64(u)} }
func Uint32Value(u uint32) Value    { return Value{Kind: Uint32, I: int64(u)} }
func Uint64Value(u uint64) Value    { return Value{Kind: Uint64, I: int64(u)} }
func SymbolValue(s string) Value    { return Value{Kind: Symbol, S: s} }
func TimestampValue(ms int64) Value { return Value{Kind: Timestamp, I: ms} }
func UUIDValue(u [16]byte) Value    { return Value{Kind: UUID, S: string(u[:])} }

// DecimalValue is an AMQP decimal32, decimal64 or decimal128, chosen by the
// length of b (4, 8 or 16 bytes of IEEE 754 decimal, big-endian); ok is false
// for any other length. The broker carries decimals without computing with them.
func DecimalValue(b []byte) (v Value, ok bool) {
	switch len(b) {
	case 4:
		return Value{Kind: Decimal32, S: string(b)}, true
	case 8:
		return Value{Kind: Decimal64, S: string(b)}, true
	case 16:
		return Value{Kind: Decimal128, S: string(b)}, true
	}
	return Value{}, false
}

// UntypedValue is a string from a protocol that cannot carry types.
func UntypedValue(s string) Value { return Value{Kind: String, Untyped: true, S: s} }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == Null }

// Bool returns the boolean content (false for non-bool kinds).
func (v Value) Bool() bool { return v.Kind == Bool && v.I != 0 }

// Uint returns the content of an unsigned kind.
func (v Value) Uint() uint64 { return uint64(v.I) }

// Float returns the content of a Float32 or Float64 value.
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.I)) }

// Bytes returns a copy of the content of a Bytes, UUID or Decimal value
// (nil for other kinds); v.S has the same bytes without the copy.
func (v Value) Bytes() []byte {
	switch v.Kind {
	case Bytes, UUID, Decimal32, Decimal64, Decimal128:
		return []byte(v.S)
	}
	return nil
}

// AsFloat returns the value as float64 for any numeric kind.
func (v Value) AsFloat() float64 {
	if v.Kind.IsApprox() {
		return v.Float()
	}
	return float64(v.I)
}

// Text renders the value as a string, the way text-only protocols carry it.
func (v Value) Text() string {
	switch v.Kind {
	case Null:
		return ""
	case Bool:
		if v.I != 0 {
			return "true"
		}
		return "false"
	case Int8, Int16, Int32, Int64:
		return strconv.FormatInt(v.I, 10)
	case Float32:
		return strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case String:
		return v.S
	case Bytes:
		return v.S
	case Char:
		return string(rune(v.I))
	case Uint8, Uint16, Uint32, Uint64:
		return strconv.FormatUint(uint64(v.I), 10)
	case UUID:
		return formatUUID(v.S)
	case Symbol:
		return v.S
	case Timestamp:
		return strconv.FormatInt(v.I, 10)
	case Decimal32, Decimal64, Decimal128:
		return "0x" + hex.EncodeToString([]byte(v.S))
	}
	return ""
}

// formatUUID renders 16 bytes in the canonical 8-4-4-4-12 form.
func formatUUID(b string) string {
	if len(b) != 16 {
		return hex.EncodeToString([]byte(b))
	}
	const digits = "0123456789abcdef"
	var buf [36]byte
	n := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[n] = '-'
			n++
		}
		buf[n], buf[n+1] = digits[b[i]>>4], digits[b[i]&0x0f]
		n += 2
	}
	return string(buf[:])
}

// JMS returns the value as a JMS client and a selector see it: the JMS
// kinds as they are, the AMQP-only kinds widened or converted as the table
// in docs/MESSAGES.md says. A ulong above the largest long becomes a double,
// which keeps its order against other numbers but not every digit. Decimals
// become Bytes, which a selector compares with nothing.
func (v Value) JMS() Value {
	switch v.Kind {
	case Uint8:
		return Value{Kind: Int16, I: v.I}
	case Uint16:
		return Value{Kind: Int32, I: v.I}
	case Uint32, Timestamp:
		return Value{Kind: Int64, I: v.I}
	case Uint64:
		if v.I >= 0 {
			return Value{Kind: Int64, I: v.I}
		}
		return Float64Value(float64(uint64(v.I)))
	case UUID:
		return Value{Kind: String, S: formatUUID(v.S)}
	case Symbol:
		return Value{Kind: String, S: v.S}
	case Decimal32, Decimal64, Decimal128:
		return Value{Kind: Bytes, S: v.S}
	}
	return v
}

// Equal reports whether two values have the same kind and content.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case Float32, Float64:
		f, g := v.Float(), o.Float()
		return f == g || (math.IsNaN(f) && math.IsNaN(g))
	case String, Symbol, Bytes, UUID, Decimal32, Decimal64, Decimal128:
		return v.S == o.S
	default:
		return v.I == o.I
	}
}

// Size is an estimate of the value's memory and wire footprint, used for
// address size accounting.
func (v Value) Size() int {
	return 16 + len(v.S)
}

// Property is one named value. Messages keep properties in a slice, in the order
// they arrived: MQTT 5 user properties are ordered and may repeat a name.
type Property struct {
	Name  string
	Value Value
}
