package selector

import (
	"math"

	"github.com/junctionmq/junction/core/prop"
)

// testEnv resolves properties by a linear scan over a slice, as core.Message
// does, so benchmarks measure a realistic lookup.
type testEnv struct {
	headers [numHeaders]prop.Value
	props   []prop.Property
}

func (e *testEnv) Header(h Header) prop.Value {
	if int(h) < numHeaders {
		return e.headers[h]
	}
	return prop.Value{}
}

func (e *testEnv) Property(name string) prop.Value {
	for i := range e.props {
		if e.props[i].Name == name {
			return e.props[i].Value
		}
	}
	return prop.Value{}
}

// newTestEnv is the fixed environment the vectors are evaluated against.
func newTestEnv() *testEnv {
	e := &testEnv{}
	e.headers[JMSPriority] = prop.Int32Value(4)
	e.headers[JMSType] = prop.StringValue("car")
	e.headers[JMSMessageID] = prop.StringValue("ID:1")
	e.headers[JMSTimestamp] = prop.Int64Value(1700000000000)
	e.headers[JMSDeliveryMode] = prop.StringValue("PERSISTENT")
	e.headers[JMSExpiration] = prop.Int64Value(0)
	e.headers[JMSRedelivered] = prop.BoolValue(false)
	e.headers[JMSDestination] = prop.StringValue("orders")
	e.headers[JMSXGroupID] = prop.StringValue("g1")
	e.headers[JMSXGroupSeq] = prop.Int32Value(3)
	e.headers[JMSXDeliveryCount] = prop.Int32Value(1)
	e.headers[JMSXUserID] = prop.StringValue("alice")
	// JMSCorrelationID and JMSReplyTo are absent (NULL).
	e.props = []prop.Property{
		// typed numbers
		{Name: "b8", Value: prop.Int8Value(-5)},
		{Name: "s16", Value: prop.Int16Value(300)},
		{Name: "i32", Value: prop.Int32Value(25)},
		{Name: "i64", Value: prop.Int64Value(10000000000)},
		{Name: "f32", Value: prop.Float32Value(2.5)},
		{Name: "f64", Value: prop.Float64Value(3.75)},
		{Name: "big", Value: prop.Int64Value(math.MaxInt64)},
		{Name: "small", Value: prop.Int64Value(math.MinInt64)},
		{Name: "zero", Value: prop.Int32Value(0)},
		{Name: "fzero", Value: prop.Float64Value(0)},
		{Name: "nan", Value: prop.Float64Value(math.NaN())},
		// booleans
		{Name: "t", Value: prop.BoolValue(true)},
		{Name: "f", Value: prop.BoolValue(false)},
		// typed strings
		{Name: "color", Value: prop.StringValue("red")},
		{Name: "region", Value: prop.StringValue("eu")},
		{Name: "quote", Value: prop.StringValue("it's")},
		{Name: "empty", Value: prop.StringValue("")},
		{Name: "numstr", Value: prop.StringValue("25")},
		{Name: "truestr", Value: prop.StringValue("true")},
		{Name: "path", Value: prop.StringValue(`a%b_c\d`)},
		{Name: "uni", Value: prop.StringValue("héllo")},
		{Name: "seq", Value: prop.StringValue("abcabcabd")},
		// untyped strings, as STOMP delivers them
		{Name: "uw", Value: prop.UntypedValue("25")},
		{Name: "ufloat", Value: prop.UntypedValue("2.5")},
		{Name: "uneg", Value: prop.UntypedValue("-7")},
		{Name: "uexp", Value: prop.UntypedValue("1e2")},
		{Name: "ubig", Value: prop.UntypedValue("99999999999999999999")},
		{Name: "utext", Value: prop.UntypedValue("heavy")},
		{Name: "utrue", Value: prop.UntypedValue("TRUE")},
		{Name: "ufalse", Value: prop.UntypedValue("false")},
		{Name: "uspace", Value: prop.UntypedValue(" 25")},
		{Name: "uhex", Value: prop.UntypedValue("0x19")},
		{Name: "uempty", Value: prop.UntypedValue("")},
		// other kinds
		{Name: "ch", Value: prop.CharValue('x')},
		{Name: "uch", Value: prop.CharValue('é')},
		{Name: "raw", Value: prop.BytesValue([]byte("abc"))},
		// AMQP kinds
		{Name: "u8", Value: prop.Uint8Value(200)},
		{Name: "u16", Value: prop.Uint16Value(65535)},
		{Name: "u32", Value: prop.Uint32Value(math.MaxUint32)},
		{Name: "u64", Value: prop.Uint64Value(7)},
		{Name: "u64big", Value: prop.Uint64Value(math.MaxUint64)},
		{Name: "uuid", Value: prop.UUIDValue([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})},
		{Name: "sym", Value: prop.SymbolValue("amqp:x")},
		{Name: "ts", Value: prop.TimestampValue(1700000000000)},
		{Name: "dec", Value: prop.Value{Kind: prop.Decimal32, S: "\x22\x50\x00\x01"}},
		// properties named like the literals must never be read
		{Name: "TRUE", Value: prop.Int32Value(1)},
		{Name: "FALSE", Value: prop.BoolValue(true)},
		{Name: "NULL", Value: prop.StringValue("x")},
		{Name: "True", Value: prop.Value{}},
		// a property that shadows a header name must not be consulted
		{Name: "JMSPriority", Value: prop.Int32Value(9)},
		// for the benchmark
		{Name: "weight", Value: prop.UntypedValue("25")},
	}
	return e
}
