package codec

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// MaxDepth bounds how deeply values may nest (lists in maps in described
// values ...): deeper input is a decode error rather than a deep recursion.
const MaxDepth = 32

// maxZeroWidthElems bounds the count of an array whose elements take no
// bytes (null, true, false, uint0, ulong0, list0): a 9-byte array32 could
// otherwise claim four billion of them.
const maxZeroWidthElems = 1024

// Decoder reads AMQP values from a byte slice. Byte slices it returns
// ([]byte binaries, Raw) alias the input; strings and symbols are copies.
// The zero Decoder is empty; NewDecoder makes one over b.
type Decoder struct {
	b     []byte
	depth int
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// Len returns the number of bytes left.
func (d *Decoder) Len() int { return len(d.b) }

// Rest returns the bytes left, without consuming them.
func (d *Decoder) Rest() []byte { return d.b }

// PeekNull reports whether the next value is null (or there is none).
func (d *Decoder) PeekNull() bool { return len(d.b) == 0 || d.b[0] == codeNull }

// PeekDescribed reports whether the next value is a described value.
func (d *Decoder) PeekDescribed() bool { return len(d.b) > 0 && d.b[0] == codeDescribed }

func (d *Decoder) sub(b []byte) Decoder { return Decoder{b: b, depth: d.depth + 1} }

// prim reads one primitive value (not described) and returns its format
// code and its bytes after the constructor: the fixed-width content, the
// content of a variable-width value without its size, or for lists, maps
// and arrays the count and elements (or the array's constructor and
// elements) without the size.
func (d *Decoder) prim() (code byte, data []byte, err error) {
	if len(d.b) == 0 {
		return 0, nil, decodeErr("value expected, no bytes left")
	}
	code = d.b[0]
	if !validCode[code] {
		if code == codeDescribed {
			return 0, nil, decodeErr("described value where a primitive value was expected")
		}
		return 0, nil, decodeErr("unknown format code 0x%02x", code)
	}
	rest := d.b[1:]
	data, n, err := body(code, rest)
	if err != nil {
		return 0, nil, err
	}
	d.b = rest[n:]
	return code, data, nil
}

// ReadPrimitive consumes one primitive (not described) value and returns
// its format code and content without copying: the bytes of a binary,
// string or symbol, the big-endian bytes of a number. For lists, maps and
// arrays the content is their count and elements, unchecked: use ReadValue
// or ReadList for those.
func (d *Decoder) ReadPrimitive() (code byte, content []byte, err error) {
	return d.prim()
}

// body finds the bytes of a value of format code in b (which follows the
// constructor) and the number of bytes of b the value takes.
func body(code byte, b []byte) (data []byte, n int, err error) {
	if code < 0xa0 {
		w := fixedWidth(code)
		if w > len(b) {
			return nil, 0, decodeErr("0x%02x needs %d bytes, %d left", code, w, len(b))
		}
		return b[:w:w], w, nil
	}
	var size uint64
	hdr := 1
	if code&0x10 == 0 { // 0xa0, 0xc0, 0xe0: one-byte size
		if len(b) < 1 {
			return nil, 0, decodeErr("0x%02x: size missing", code)
		}
		size = uint64(b[0])
	} else {
		hdr = 4
		if len(b) < 4 {
			return nil, 0, decodeErr("0x%02x: size missing", code)
		}
		size = uint64(binary.BigEndian.Uint32(b))
	}
	if size > uint64(len(b)-hdr) {
		return nil, 0, decodeErr("0x%02x: size %d exceeds the %d bytes left", code, size, len(b)-hdr)
	}
	end := hdr + int(size)
	return b[hdr:end:end], end, nil
}

// compound splits the data of a list, map or array into its count and the
// bytes of its elements, checking the count against those bytes.
func compound(code byte, data []byte) (count int, items []byte, err error) {
	switch code {
	case codeList0:
		return 0, nil, nil
	case codeList8, codeMap8, codeArray8:
		if len(data) < 1 {
			return 0, nil, decodeErr("0x%02x: count missing", code)
		}
		count, items = int(data[0]), data[1:]
	case codeList32, codeMap32, codeArray32:
		if len(data) < 4 {
			return 0, nil, decodeErr("0x%02x: count missing", code)
		}
		c := binary.BigEndian.Uint32(data)
		if uint64(c) > uint64(len(data)) {
			return 0, nil, decodeErr("0x%02x: count %d exceeds the %d bytes left", code, c, len(data)-4)
		}
		count, items = int(c), data[4:]
	default:
		return 0, nil, decodeErr("0x%02x is not a list, map or array", code)
	}
	if code&0xe0 != 0xe0 && count > len(items) {
		// Every list or map element takes at least one byte.
		return 0, nil, decodeErr("0x%02x: count %d exceeds the %d bytes left", code, count, len(items))
	}
	if (code == codeMap8 || code == codeMap32) && count%2 != 0 {
		return 0, nil, decodeErr("map with an odd number of elements (%d)", count)
	}
	return count, items, nil
}

// Skip consumes the next value.
func (d *Decoder) Skip() error {
	_, err := d.ReadRaw()
	return err
}

// ReadRaw consumes the next value and returns its whole encoding,
// descriptors included, as a sub-slice of the input.
func (d *Decoder) ReadRaw() ([]byte, error) {
	start := d.b
	if err := d.skip(d.depth); err != nil {
		return nil, err
	}
	n := len(start) - len(d.b)
	return start[:n:n], nil
}

func (d *Decoder) skip(depth int) error {
	if !d.PeekDescribed() {
		_, _, err := d.prim()
		return err
	}
	if depth >= MaxDepth {
		return decodeErr("values nested deeper than %d", MaxDepth)
	}
	d.b = d.b[1:]
	if err := d.skip(depth + 1); err != nil {
		return err
	}
	return d.skip(depth + 1)
}

// ReadDescriptor consumes the constructor and descriptor of a described
// value and returns the descriptor: its numeric code when it is a ulong
// or a symbolic name this package knows (sym holds the name then), else
// ok is false and desc holds the descriptor value. The described value
// follows in d.
func (d *Decoder) ReadDescriptor() (code uint64, desc any, err error) {
	if !d.PeekDescribed() {
		return 0, nil, decodeErr("described value expected")
	}
	d.b = d.b[1:]
	if d.PeekDescribed() {
		return 0, nil, decodeErr("described descriptor")
	}
	c, data, err := d.prim()
	if err != nil {
		return 0, nil, err
	}
	switch c {
	case codeUlong0, codeSmallUlong, codeUlong:
		u, _ := asUnsigned(c, data)
		return u, u, nil
	case codeSym8, codeSym32:
		s := Symbol(data)
		code := symbolicDescriptors[s]
		return code, s, nil
	}
	v, err := primValue(d, c, data)
	return 0, v, err
}

// asUnsigned reads any unsigned integer encoding.
func asUnsigned(code byte, data []byte) (uint64, bool) {
	switch code {
	case codeUint0, codeUlong0:
		return 0, true
	case codeUbyte, codeSmallUint, codeSmallUlong:
		return uint64(data[0]), true
	case codeUshort:
		return uint64(binary.BigEndian.Uint16(data)), true
	case codeUint:
		return uint64(binary.BigEndian.Uint32(data)), true
	case codeUlong:
		return binary.BigEndian.Uint64(data), true
	}
	return 0, false
}

// ReadValue consumes the next value and returns it as the Go value listed
// in types.go.
func (d *Decoder) ReadValue() (any, error) {
	if d.PeekDescribed() {
		if d.depth >= MaxDepth {
			return nil, decodeErr("values nested deeper than %d", MaxDepth)
		}
		d.b = d.b[1:]
		d.depth++
		desc, err := d.ReadValue()
		if err != nil {
			d.depth--
			return nil, err
		}
		v, err := d.ReadValue()
		d.depth--
		if err != nil {
			return nil, err
		}
		return Described{Descriptor: desc, Value: v}, nil
	}
	code, data, err := d.prim()
	if err != nil {
		return nil, err
	}
	return primValue(d, code, data)
}

// primValue converts the data of one primitive value; d gives the depth
// for lists, maps and arrays.
func primValue(d *Decoder, code byte, data []byte) (any, error) {
	switch code {
	case codeNull:
		return nil, nil
	case codeTrue:
		return true, nil
	case codeFalse:
		return false, nil
	case codeBoolean:
		switch data[0] {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return nil, decodeErr("boolean 0x%02x", data[0])
	case codeUbyte:
		return data[0], nil
	case codeUshort:
		return binary.BigEndian.Uint16(data), nil
	case codeUint0, codeSmallUint, codeUint:
		u, _ := asUnsigned(code, data)
		return uint32(u), nil
	case codeUlong0, codeSmallUlong, codeUlong:
		u, _ := asUnsigned(code, data)
		return u, nil
	case codeByte:
		return int8(data[0]), nil
	case codeShort:
		return int16(binary.BigEndian.Uint16(data)), nil
	case codeSmallInt:
		return int32(int8(data[0])), nil
	case codeInt:
		return int32(binary.BigEndian.Uint32(data)), nil
	case codeSmallLong:
		return int64(int8(data[0])), nil
	case codeLong:
		return int64(binary.BigEndian.Uint64(data)), nil
	case codeFloat:
		return math.Float32frombits(binary.BigEndian.Uint32(data)), nil
	case codeDouble:
		return math.Float64frombits(binary.BigEndian.Uint64(data)), nil
	case codeDecimal32:
		return Decimal32(data), nil
	case codeDecimal64:
		return Decimal64(data), nil
	case codeDecimal128:
		return Decimal128(data), nil
	case codeChar:
		r := binary.BigEndian.Uint32(data)
		if r > utf8.MaxRune {
			return nil, decodeErr("char 0x%x is not a code point", r)
		}
		return Char(r), nil
	case codeTimestamp:
		return Timestamp(binary.BigEndian.Uint64(data)), nil
	case codeUUID:
		return UUID(data), nil
	case codeVbin8, codeVbin32:
		return data, nil
	case codeStr8, codeStr32:
		if !utf8.Valid(data) {
			return nil, decodeErr("string is not valid UTF-8")
		}
		return string(data), nil
	case codeSym8, codeSym32:
		return Symbol(data), nil
	case codeList0, codeList8, codeList32:
		count, items, err := compound(code, data)
		if err != nil {
			return nil, err
		}
		if d.depth >= MaxDepth {
			return nil, decodeErr("values nested deeper than %d", MaxDepth)
		}
		sub := d.sub(items)
		l := make(List, count)
		for i := range l {
			if l[i], err = sub.ReadValue(); err != nil {
				return nil, err
			}
		}
		return l, sub.end()
	case codeMap8, codeMap32:
		count, items, err := compound(code, data)
		if err != nil {
			return nil, err
		}
		if d.depth >= MaxDepth {
			return nil, decodeErr("values nested deeper than %d", MaxDepth)
		}
		sub := d.sub(items)
		m := make(Map, count/2)
		for i := range m {
			if m[i].Key, err = sub.ReadValue(); err != nil {
				return nil, err
			}
			if m[i].Value, err = sub.ReadValue(); err != nil {
				return nil, err
			}
		}
		return m, sub.end()
	case codeArray8, codeArray32:
		if d.depth >= MaxDepth {
			return nil, decodeErr("values nested deeper than %d", MaxDepth)
		}
		return d.array(code, data)
	}
	return nil, decodeErr("unknown format code 0x%02x", code)
}

func (d *Decoder) end() error {
	if len(d.b) != 0 {
		return decodeErr("%d bytes after the last element", len(d.b))
	}
	return nil
}

// arrayHead reads an array's count and element constructor; sub is left
// on the first element.
func (d *Decoder) arrayHead(code byte, data []byte) (count int, desc any, elem byte, sub Decoder, err error) {
	count, items, err := compound(code, data)
	if err != nil {
		return 0, nil, 0, sub, err
	}
	sub = d.sub(items)
	if sub.PeekDescribed() {
		sub.b = sub.b[1:]
		if sub.PeekDescribed() {
			return 0, nil, 0, sub, decodeErr("array with a described descriptor")
		}
		if desc, err = sub.ReadValue(); err != nil {
			return 0, nil, 0, sub, err
		}
	}
	if len(sub.b) == 0 {
		return 0, nil, 0, sub, decodeErr("array without an element constructor")
	}
	elem = sub.b[0]
	if !validCode[elem] || elem == codeDescribed {
		return 0, nil, 0, sub, decodeErr("array of unknown format code 0x%02x", elem)
	}
	sub.b = sub.b[1:]
	if w := fixedWidth(elem); elem < 0xa0 && w == 0 {
		if count > maxZeroWidthElems {
			return 0, nil, 0, sub, decodeErr("array of %d empty elements", count)
		}
	} else if count > len(sub.b) {
		return 0, nil, 0, sub, decodeErr("array count %d exceeds the %d bytes left", count, len(sub.b))
	}
	return count, desc, elem, sub, nil
}

// elem reads one array element of format code elem.
func (d *Decoder) elem(elem byte) (byte, []byte, error) {
	data, n, err := body(elem, d.b)
	if err != nil {
		return 0, nil, err
	}
	d.b = d.b[n:]
	return elem, data, nil
}

func (d *Decoder) array(code byte, data []byte) (Array, error) {
	count, desc, elem, sub, err := d.arrayHead(code, data)
	if err != nil {
		return nil, err
	}
	a := make(Array, count)
	for i := range a {
		c, data, err := sub.elem(elem)
		if err != nil {
			return nil, err
		}
		v, err := primValue(&sub, c, data)
		if err != nil {
			return nil, err
		}
		if desc != nil {
			v = Described{Descriptor: desc, Value: v}
		}
		a[i] = v
	}
	return a, sub.end()
}

// ReadMap consumes a map (or null, giving nil) and returns its entries.
func (d *Decoder) ReadMap() (Map, error) {
	if d.PeekNull() {
		return nil, d.skipNull()
	}
	v, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	m, ok := v.(Map)
	if !ok {
		return nil, decodeErr("map expected, got %T", v)
	}
	return m, nil
}

func (d *Decoder) skipNull() error {
	if len(d.b) == 0 {
		return decodeErr("value expected, no bytes left")
	}
	d.b = d.b[1:]
	return nil
}

// ReadList consumes a list and returns a reader over its fields: the way
// to read composite types (performatives, sections, terminus). A null is
// read as an empty list.
func (d *Decoder) ReadList() (FieldReader, error) {
	if d.PeekNull() {
		return FieldReader{}, d.skipNull()
	}
	code, data, err := d.prim()
	if err != nil {
		return FieldReader{}, err
	}
	if code != codeList0 && code != codeList8 && code != codeList32 {
		return FieldReader{}, decodeErr("list expected, got format code 0x%02x", code)
	}
	if d.depth >= MaxDepth {
		return FieldReader{}, decodeErr("values nested deeper than %d", MaxDepth)
	}
	count, items, err := compound(code, data)
	if err != nil {
		return FieldReader{}, err
	}
	return FieldReader{d: d.sub(items), left: count}, nil
}
