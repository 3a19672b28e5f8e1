// Package prop holds the typed value model shared by message properties and the
// selector language. It is a leaf package so that the selector evaluator, the
// core and the storage codecs can agree on one representation without importing
// each other.
package prop

import (
	"math"
	"strconv"
)

// Kind is the JMS type of a value. The zero Kind is Null, so a missing property
// reads as NULL without any extra bookkeeping.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Int8
	Int16
	Int32
	Int64
	Float32
	Float64
	String
	Bytes
	Char
)

var kindNames = [...]string{"null", "bool", "int8", "int16", "int32", "int64", "float32", "float64", "string", "bytes", "char"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsExact reports whether the kind is an exact (integer) numeric type.
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
type Value struct {
	Kind    Kind
	Untyped bool
	I       int64   // Bool (0/1), Int8..Int64, Char
	F       float64 // Float32, Float64
	S       string  // String
	B       []byte  // Bytes
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
func Int8Value(i int8) Value       { return Value{Kind: Int8, I: int64(i)} }
func Int16Value(i int16) Value     { return Value{Kind: Int16, I: int64(i)} }
func Int32Value(i int32) Value     { return Value{Kind: Int32, I: int64(i)} }
func Int64Value(i int64) Value     { return Value{Kind: Int64, I: i} }
func Float32Value(f float32) Value { return Value{Kind: Float32, F: float64(f)} }
func Float64Value(f float64) Value { return Value{Kind: Float64, F: f} }
func StringValue(s string) Value   { return Value{Kind: String, S: s} }
func BytesValue(b []byte) Value    { return Value{Kind: Bytes, B: b} }
func CharValue(r rune) Value       { return Value{Kind: Char, I: int64(r)} }

// UntypedValue is a string from a protocol that cannot carry types.
func UntypedValue(s string) Value { return Value{Kind: String, Untyped: true, S: s} }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == Null }

// Bool returns the boolean content (false for non-bool kinds).
func (v Value) Bool() bool { return v.Kind == Bool && v.I != 0 }

// AsFloat returns the value as float64 for any numeric kind.
func (v Value) AsFloat() float64 {
	if v.Kind.IsApprox() {
		return v.F
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
		return strconv.FormatFloat(v.F, 'g', -1, 32)
	case Float64:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case String:
		return v.S
	case Bytes:
		return string(v.B)
	case Char:
		return string(rune(v.I))
	}
	return ""
}

// Equal reports whether two values have the same kind and content.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case Float32, Float64:
		return v.F == o.F || (math.IsNaN(v.F) && math.IsNaN(o.F))
	case String:
		return v.S == o.S
	case Bytes:
		return string(v.B) == string(o.B)
	default:
		return v.I == o.I
	}
}

// Size is an estimate of the value's memory and wire footprint, used for
// address size accounting.
func (v Value) Size() int {
	return 16 + len(v.S) + len(v.B)
}

// Property is one named value. Messages keep properties in a slice, in the order
// they arrived: MQTT 5 user properties are ordered and may repeat a name.
type Property struct {
	Name  string
	Value Value
}
