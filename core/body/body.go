// Package body holds the one encoding of structured message bodies: a JMS
// MapMessage body (core.BodyMap) is an AMQP 1.0 encoded map with string keys,
// a StreamMessage body (core.BodyStream) an AMQP 1.0 encoded list, both of
// the simple types core/prop knows.
//
// AMQP 1.0 was chosen because its adapter can send such a body as the
// amqp-value section Qpid JMS expects without converting it, OpenWire
// converts it to and from its own marshalling, and STOMP and MQTT pass it
// through as bytes. Encoders write the shortest form of each value (the
// encoding is canonical: equal bodies are equal bytes); decoders accept
// every form AMQP 1.0 allows for these types.
package body

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/junctionmq/junction/core/prop"
)

// AMQP 1.0 format codes (OASIS AMQP 1.0, part 1, section 1.6).
const (
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeUint0      = 0x43
	codeUlong0     = 0x44
	codeList0      = 0x45
	codeBoolean    = 0x56
	codeUbyte      = 0x50
	codeSmallUint  = 0x52
	codeSmallUlong = 0x53
	codeByte       = 0x51
	codeSmallInt   = 0x54
	codeSmallLong  = 0x55
	codeUshort     = 0x60
	codeShort      = 0x61
	codeUint       = 0x70
	codeInt        = 0x71
	codeFloat      = 0x72
	codeChar       = 0x73
	codeDecimal32  = 0x74
	codeUlong      = 0x80
	codeLong       = 0x81
	codeDouble     = 0x82
	codeTimestamp  = 0x83
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeStr8       = 0xa1
	codeSym8       = 0xa3
	codeVbin32     = 0xb0
	codeStr32      = 0xb1
	codeSym32      = 0xb3
	codeList8      = 0xc0
	codeMap8       = 0xc1
	codeList32     = 0xd0
	codeMap32      = 0xd1
)

// ErrUnsupported reports a valid AMQP value this package does not decode
// into a map or stream body: a nested list, map or array, or a described
// type. An adapter keeps such a body as core.BodyAMQPValue instead.
var ErrUnsupported = errors.New("body: AMQP value is not a map or list of simple values")

var errMalformed = errors.New("body: malformed AMQP encoding")

// AppendMap appends the encoding of a map body. Entries keep their order;
// the caller keeps keys unique (JMS map names are).
func AppendMap(dst []byte, entries []prop.Property) []byte {
	var items []byte
	for _, e := range entries {
		items = AppendValue(items, prop.StringValue(e.Name))
		items = AppendValue(items, e.Value)
	}
	return appendCompound(dst, codeMap8, codeMap32, 2*len(entries), items)
}

// AppendList appends the encoding of a stream body.
func AppendList(dst []byte, items []prop.Value) []byte {
	if len(items) == 0 {
		return append(dst, codeList0)
	}
	var enc []byte
	for _, v := range items {
		enc = AppendValue(enc, v)
	}
	return appendCompound(dst, codeList8, codeList32, len(items), enc)
}

func appendCompound(dst []byte, code8, code32 byte, count int, items []byte) []byte {
	if len(items)+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		return append(append(dst, code8, byte(len(items)+1), byte(count)), items...)
	}
	dst = append(dst, code32)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(items)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(count))
	return append(dst, items...)
}

// AppendValue appends the AMQP encoding of one simple value. An untyped
// string is a string.
func AppendValue(dst []byte, v prop.Value) []byte {
	switch v.Kind {
	case prop.Bool:
		if v.I != 0 {
			return append(dst, codeTrue)
		}
		return append(dst, codeFalse)
	case prop.Int8:
		return append(dst, codeByte, byte(v.I))
	case prop.Int16:
		return binary.BigEndian.AppendUint16(append(dst, codeShort), uint16(v.I))
	case prop.Int32:
		if v.I >= math.MinInt8 && v.I <= math.MaxInt8 {
			return append(dst, codeSmallInt, byte(v.I))
		}
		return binary.BigEndian.AppendUint32(append(dst, codeInt), uint32(v.I))
	case prop.Int64:
		if v.I >= math.MinInt8 && v.I <= math.MaxInt8 {
			return append(dst, codeSmallLong, byte(v.I))
		}
		return binary.BigEndian.AppendUint64(append(dst, codeLong), uint64(v.I))
	case prop.Float32:
		return binary.BigEndian.AppendUint32(append(dst, codeFloat), math.Float32bits(float32(v.Float())))
	case prop.Float64:
		return binary.BigEndian.AppendUint64(append(dst, codeDouble), uint64(v.I))
	case prop.String:
		return appendVariable(dst, codeStr8, codeStr32, v.S)
	case prop.Bytes:
		return appendVariable(dst, codeVbin8, codeVbin32, v.S)
	case prop.Char:
		return binary.BigEndian.AppendUint32(append(dst, codeChar), uint32(v.I))
	case prop.Uint8:
		return append(dst, codeUbyte, byte(v.I))
	case prop.Uint16:
		return binary.BigEndian.AppendUint16(append(dst, codeUshort), uint16(v.I))
	case prop.Uint32:
		switch {
		case v.I == 0:
			return append(dst, codeUint0)
		case v.I <= math.MaxUint8:
			return append(dst, codeSmallUint, byte(v.I))
		}
		return binary.BigEndian.AppendUint32(append(dst, codeUint), uint32(v.I))
	case prop.Uint64:
		switch u := v.Uint(); {
		case u == 0:
			return append(dst, codeUlong0)
		case u <= math.MaxUint8:
			return append(dst, codeSmallUlong, byte(u))
		}
		return binary.BigEndian.AppendUint64(append(dst, codeUlong), v.Uint())
	case prop.UUID:
		return append(append(dst, codeUUID), v.S...)
	case prop.Symbol:
		return appendVariable(dst, codeSym8, codeSym32, v.S)
	case prop.Timestamp:
		return binary.BigEndian.AppendUint64(append(dst, codeTimestamp), uint64(v.I))
	case prop.Decimal32:
		return append(append(dst, codeDecimal32), v.S...)
	case prop.Decimal64:
		return append(append(dst, codeDecimal64), v.S...)
	case prop.Decimal128:
		return append(append(dst, codeDecimal128), v.S...)
	}
	return append(dst, codeNull)
}

func appendVariable(dst []byte, code8, code32 byte, s string) []byte {
	if len(s) <= math.MaxUint8 {
		return append(append(dst, code8, byte(len(s))), s...)
	}
	dst = binary.BigEndian.AppendUint32(append(dst, code32), uint32(len(s)))
	return append(dst, s...)
}

// DecodeMap decodes a map body. Keys must be strings (or symbols, which
// some AMQP clients send); values simple types.
func DecodeMap(b []byte) ([]prop.Property, error) {
	d := decoder{b: b}
	count, items, err := d.compound(codeMap8, codeMap32)
	if err != nil {
		return nil, err
	}
	if count%2 != 0 {
		return nil, errMalformed
	}
	var out []prop.Property
	for i := 0; i < count; i += 2 {
		k, err := items.value()
		if err != nil {
			return nil, err
		}
		if k.Kind != prop.String && k.Kind != prop.Symbol {
			return nil, fmt.Errorf("%w: map key of type %v", ErrUnsupported, k.Kind)
		}
		v, err := items.value()
		if err != nil {
			return nil, err
		}
		out = append(out, prop.Property{Name: k.S, Value: v})
	}
	return out, items.end()
}

// DecodeList decodes a stream body.
func DecodeList(b []byte) ([]prop.Value, error) {
	d := decoder{b: b}
	if len(b) == 1 && b[0] == codeList0 {
		return nil, nil
	}
	count, items, err := d.compound(codeList8, codeList32)
	if err != nil {
		return nil, err
	}
	var out []prop.Value
	for range count {
		v, err := items.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, items.end()
}

type decoder struct{ b []byte }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b) {
		return nil, errMalformed
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) end() error {
	if len(d.b) != 0 {
		return errMalformed
	}
	return nil
}

// compound reads the header of a list or map that must make up all of d,
// and returns its element count and a decoder over its elements.
func (d *decoder) compound(code8, code32 byte) (int, *decoder, error) {
	c, err := d.take(1)
	if err != nil {
		return 0, nil, err
	}
	var size, count int
	switch c[0] {
	case code8:
		h, err := d.take(2)
		if err != nil {
			return 0, nil, err
		}
		size, count = int(h[0])-1, int(h[1])
	case code32:
		h, err := d.take(8)
		if err != nil {
			return 0, nil, err
		}
		size, count = int(binary.BigEndian.Uint32(h))-4, int(binary.BigEndian.Uint32(h[4:]))
	default:
		return 0, nil, fmt.Errorf("%w: format code 0x%02x", ErrUnsupported, c[0])
	}
	items, err := d.take(size)
	if err != nil {
		return 0, nil, err
	}
	if d.end() != nil || count > len(items) {
		// Every element takes at least one byte.
		return 0, nil, errMalformed
	}
	return count, &decoder{b: items}, nil
}

func (d *decoder) value() (prop.Value, error) {
	c, err := d.take(1)
	if err != nil {
		return prop.Value{}, err
	}
	code := c[0]
	fixed := func(n int) []byte {
		b, e := d.take(n)
		if e != nil {
			err = e
			return make([]byte, n)
		}
		return b
	}
	var v prop.Value
	switch code {
	case codeNull:
	case codeTrue:
		v = prop.BoolValue(true)
	case codeFalse:
		v = prop.BoolValue(false)
	case codeBoolean:
		b := fixed(1)[0]
		if b > 1 {
			return v, errMalformed
		}
		v = prop.BoolValue(b == 1)
	case codeUbyte:
		v = prop.Uint8Value(fixed(1)[0])
	case codeUshort:
		v = prop.Uint16Value(binary.BigEndian.Uint16(fixed(2)))
	case codeUint0:
		v = prop.Uint32Value(0)
	case codeSmallUint:
		v = prop.Uint32Value(uint32(fixed(1)[0]))
	case codeUint:
		v = prop.Uint32Value(binary.BigEndian.Uint32(fixed(4)))
	case codeUlong0:
		v = prop.Uint64Value(0)
	case codeSmallUlong:
		v = prop.Uint64Value(uint64(fixed(1)[0]))
	case codeUlong:
		v = prop.Uint64Value(binary.BigEndian.Uint64(fixed(8)))
	case codeByte:
		v = prop.Int8Value(int8(fixed(1)[0]))
	case codeShort:
		v = prop.Int16Value(int16(binary.BigEndian.Uint16(fixed(2))))
	case codeSmallInt:
		v = prop.Int32Value(int32(int8(fixed(1)[0])))
	case codeInt:
		v = prop.Int32Value(int32(binary.BigEndian.Uint32(fixed(4))))
	case codeSmallLong:
		v = prop.Int64Value(int64(int8(fixed(1)[0])))
	case codeLong:
		v = prop.Int64Value(int64(binary.BigEndian.Uint64(fixed(8))))
	case codeFloat:
		v = prop.Float32Value(math.Float32frombits(binary.BigEndian.Uint32(fixed(4))))
	case codeDouble:
		v = prop.Float64Value(math.Float64frombits(binary.BigEndian.Uint64(fixed(8))))
	case codeChar:
		r := binary.BigEndian.Uint32(fixed(4))
		if r > utf8.MaxRune {
			return v, errMalformed
		}
		v = prop.CharValue(rune(r))
	case codeTimestamp:
		v = prop.TimestampValue(int64(binary.BigEndian.Uint64(fixed(8))))
	case codeUUID:
		v = prop.Value{Kind: prop.UUID, S: string(fixed(16))}
	case codeDecimal32:
		v = prop.Value{Kind: prop.Decimal32, S: string(fixed(4))}
	case codeDecimal64:
		v = prop.Value{Kind: prop.Decimal64, S: string(fixed(8))}
	case codeDecimal128:
		v = prop.Value{Kind: prop.Decimal128, S: string(fixed(16))}
	case codeVbin8, codeVbin32, codeStr8, codeStr32, codeSym8, codeSym32:
		var n int
		if code&0xf0 == 0xa0 {
			n = int(fixed(1)[0])
		} else {
			n = int(binary.BigEndian.Uint32(fixed(4)))
		}
		if err != nil {
			return v, err
		}
		b, err := d.take(n)
		if err != nil {
			return v, err
		}
		switch code {
		case codeVbin8, codeVbin32:
			v = prop.BytesValue(append([]byte(nil), b...))
		case codeStr8, codeStr32:
			if !utf8.Valid(b) {
				return v, errMalformed
			}
			v = prop.StringValue(string(b))
		default:
			v = prop.SymbolValue(string(b))
		}
	default:
		return v, fmt.Errorf("%w: format code 0x%02x", ErrUnsupported, code)
	}
	return v, err
}
