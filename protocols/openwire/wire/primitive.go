package wire

import (
	"fmt"
	"math"
	"strings"
)

// Primitive values, as the ActiveMQ client's MarshallingSupport marshals them
// in message properties, MapMessage bodies, StreamMessage bodies and the
// WireFormatInfo options. The Go types are:
//
//	nil, bool, int8 (JMS byte), Char (JMS char), int16, int32, int64,
//	float32, float64, string, []byte, Map (nested map), []any (list)
//
// Nested maps and lists are legal in MapMessage bodies and properties set
// through the ActiveMQ API; a JMS property is always a scalar.
const (
	ptNull      byte = 0
	ptBool      byte = 1
	ptByte      byte = 2
	ptChar      byte = 3
	ptShort     byte = 4
	ptInt       byte = 5
	ptLong      byte = 6
	ptDouble    byte = 7
	ptFloat     byte = 8
	ptString    byte = 9
	ptBytes     byte = 10
	ptMap       byte = 11
	ptList      byte = 12
	ptBigString byte = 13
)

// Char is a JMS char: one UTF-16 code unit.
type Char uint16

// Entry is one key and value of a primitive map.
type Entry struct {
	Key   string
	Value any
}

// Map is a primitive map in wire order. Java's HashMap has no order, so any
// order is correct; keeping the wire's makes a decode/encode round trip
// byte-exact.
type Map []Entry

// Get returns the value of the first entry with key k.
func (m Map) Get(k string) (any, bool) {
	for _, e := range m {
		if e.Key == k {
			return e.Value, true
		}
	}
	return nil, false
}

// bigStringChars is where MarshallingSupport.marshalString switches to the
// int-length form (Short.MAX_VALUE/4 Java chars).
const bigStringChars = 0x7fff / 4

// AppendMap appends m in marshalPrimitiveMap form (int count, then key
// writeUTF and tagged value per entry). A nil Map is written as count -1,
// which the client reads as "no map".
//
// String values are written in standard UTF-8: the Java reader of a
// primitive map decodes them with hawtbuf's UTF8Buffer (standard UTF-8),
// although the Java writer uses writeUTF (modified UTF-8, where a character
// outside the BMP becomes two 3-byte surrogates that the Java reader then
// garbles). ParseMap accepts both forms.
func AppendMap(dst []byte, m Map) ([]byte, error) {
	return appendMap(dst, m, 0)
}

func appendMap(dst []byte, m Map, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errf(ErrNesting, "primitive map nested deeper than %d", maxDepth)
	}
	if m == nil {
		return putI32(dst, -1), nil
	}
	dst = putI32(dst, int32(len(m)))
	var err error
	for _, e := range m {
		if dst, err = putUTF(dst, e.Key); err != nil {
			return dst, err
		}
		if dst, err = appendPrimitive(dst, e.Value, depth, true); err != nil {
			return dst, fmt.Errorf("map key %q: %w", clip(e.Key), err)
		}
	}
	return dst, nil
}

// appendPrimitive appends one tagged value. inMap selects the string form:
// standard UTF-8 inside a primitive map or list (see AppendMap), modified
// UTF-8 in a StreamMessage body (read with DataInput.readUTF).
func appendPrimitive(dst []byte, v any, depth int, inMap bool) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, ptNull), nil
	case bool:
		return putBool(append(dst, ptBool), v), nil
	case int8:
		return append(dst, ptByte, byte(v)), nil
	case Char:
		return putU16(append(dst, ptChar), uint16(v)), nil
	case int16:
		return putU16(append(dst, ptShort), uint16(v)), nil
	case int32:
		return putI32(append(dst, ptInt), v), nil
	case int64:
		return putI64(append(dst, ptLong), v), nil
	case float32:
		return putF32(append(dst, ptFloat), v), nil
	case float64:
		return putF64(append(dst, ptDouble), v), nil
	case string:
		if inMap {
			v = strings.ToValidUTF8(v, "\uFFFD")
			if len(v) > math.MaxInt32 {
				return dst, errf(ErrEncode, "string too long")
			}
			if javaLen(v) < bigStringChars && len(v) <= 0xffff {
				dst = putU16(append(dst, ptString), uint16(len(v)))
			} else {
				dst = putI32(append(dst, ptBigString), int32(len(v)))
			}
			return append(dst, v...), nil
		}
		n, _ := modifiedUTF8Len(v)
		if n > math.MaxInt32 {
			return dst, errf(ErrEncode, "string too long")
		}
		if javaLen(v) < bigStringChars && n <= 0xffff {
			return putUTF(append(dst, ptString), v)
		}
		dst = putI32(append(dst, ptBigString), int32(n))
		return appendModifiedUTF8(dst, v), nil
	case []byte:
		if v == nil {
			return append(dst, ptNull), nil
		}
		dst = putI32(append(dst, ptBytes), int32(len(v)))
		return append(dst, v...), nil
	case Map:
		return appendMap(append(dst, ptMap), v, depth+1)
	case []any:
		if depth+1 > maxDepth {
			return dst, errf(ErrNesting, "primitive list nested deeper than %d", maxDepth)
		}
		dst = putI32(append(dst, ptList), int32(len(v)))
		var err error
		for _, e := range v {
			if dst, err = appendPrimitive(dst, e, depth+1, true); err != nil {
				return dst, err
			}
		}
		return dst, nil
	default:
		return dst, errf(ErrEncode, "%T is not an OpenWire primitive", v)
	}
}

// javaLen is the length of s in UTF-16 code units (Java's String.length).
func javaLen(s string) int {
	n := 0
	for _, c := range s {
		if c > 0xffff {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// ParseMap decodes a marshalled primitive map (message properties, a
// MapMessage body, WireFormatInfo options). Count -1 yields a nil Map.
func ParseMap(b []byte) (Map, error) {
	r := &reader{b: b}
	m, err := readMap(r, 0)
	if err != nil {
		return nil, err
	}
	if r.left() != 0 {
		return nil, errf(ErrTrailing, "%d bytes after the primitive map", r.left())
	}
	return m, nil
}

// ParseStream decodes a StreamMessage body: tagged values to the end.
func ParseStream(b []byte) ([]any, error) {
	r := &reader{b: b}
	var out []any
	for r.left() > 0 {
		v, err := readPrimitive(r, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// AppendStream appends values as a StreamMessage body.
func AppendStream(dst []byte, vs []any) ([]byte, error) {
	var err error
	for _, v := range vs {
		if dst, err = appendPrimitive(dst, v, 0, false); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func readMap(r *reader, depth int) (Map, error) {
	if depth > maxDepth {
		return nil, errf(ErrNesting, "primitive map nested deeper than %d", maxDepth)
	}
	n, err := r.i32()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	// Each entry takes at least 3 bytes (empty key + tag).
	if int64(n)*3 > int64(r.left()) {
		return nil, errf(ErrLength, "primitive map of %d entries in %d bytes", n, r.left())
	}
	m := make(Map, 0, n)
	for range n {
		k, err := r.utf()
		if err != nil {
			return nil, err
		}
		v, err := readPrimitive(r, depth)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", clip(k), err)
		}
		m = append(m, Entry{k, v})
	}
	return m, nil
}

// ReadPrimitive-style decoding of one tagged value.
func readPrimitive(r *reader, depth int) (any, error) {
	t, err := r.u8()
	if err != nil {
		return nil, err
	}
	switch t {
	case ptNull:
		return nil, nil
	case ptBool:
		return r.bool()
	case ptByte:
		b, err := r.u8()
		return int8(b), err
	case ptChar:
		v, err := r.u16()
		return Char(v), err
	case ptShort:
		v, err := r.u16()
		return int16(v), err
	case ptInt:
		return r.i32()
	case ptLong:
		return r.i64()
	case ptFloat:
		v, err := r.i32()
		return math.Float32frombits(uint32(v)), err
	case ptDouble:
		v, err := r.i64()
		return math.Float64frombits(uint64(v)), err
	case ptString:
		return r.utf()
	case ptBigString:
		n, err := r.i32()
		if err != nil {
			return nil, err
		}
		return r.utfN(int(n))
	case ptBytes:
		n, err := r.i32()
		if err != nil {
			return nil, err
		}
		return r.bytes(int(n))
	case ptMap:
		m, err := readMap(r, depth+1)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, nil
		}
		return m, nil
	case ptList:
		if depth+1 > maxDepth {
			return nil, errf(ErrNesting, "primitive list nested deeper than %d", maxDepth)
		}
		n, err := r.i32()
		if err != nil {
			return nil, err
		}
		if n < 0 || int64(n) > int64(r.left()) {
			return nil, errf(ErrLength, "primitive list of %d values in %d bytes", n, r.left())
		}
		l := make([]any, 0, n)
		for range n {
			v, err := readPrimitive(r, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	default:
		return nil, errf(ErrPrimitive, "unknown primitive type tag %d", t)
	}
}
