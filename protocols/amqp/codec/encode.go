package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encoders append to dst and return the extended slice, like strconv's
// Append functions. Each writes the shortest encoding of its value.

// AppendNull appends a null.
func AppendNull(dst []byte) []byte { return append(dst, codeNull) }

// AppendBool appends a boolean (true or false, one byte).
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, codeTrue)
	}
	return append(dst, codeFalse)
}

// AppendUbyte appends a ubyte.
func AppendUbyte(dst []byte, u uint8) []byte { return append(dst, codeUbyte, u) }

// AppendUshort appends a ushort.
func AppendUshort(dst []byte, u uint16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, codeUshort), u)
}

// AppendUint appends a uint (uint0, smalluint or uint).
func AppendUint(dst []byte, u uint32) []byte {
	switch {
	case u == 0:
		return append(dst, codeUint0)
	case u <= math.MaxUint8:
		return append(dst, codeSmallUint, byte(u))
	}
	return binary.BigEndian.AppendUint32(append(dst, codeUint), u)
}

// AppendUlong appends a ulong (ulong0, smallulong or ulong).
func AppendUlong(dst []byte, u uint64) []byte {
	switch {
	case u == 0:
		return append(dst, codeUlong0)
	case u <= math.MaxUint8:
		return append(dst, codeSmallUlong, byte(u))
	}
	return binary.BigEndian.AppendUint64(append(dst, codeUlong), u)
}

// AppendByte appends a byte (signed).
func AppendByte(dst []byte, i int8) []byte { return append(dst, codeByte, byte(i)) }

// AppendShort appends a short.
func AppendShort(dst []byte, i int16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, codeShort), uint16(i))
}

// AppendInt appends an int (smallint or int).
func AppendInt(dst []byte, i int32) []byte {
	if i >= math.MinInt8 && i <= math.MaxInt8 {
		return append(dst, codeSmallInt, byte(i))
	}
	return binary.BigEndian.AppendUint32(append(dst, codeInt), uint32(i))
}

// AppendLong appends a long (smalllong or long).
func AppendLong(dst []byte, i int64) []byte {
	if i >= math.MinInt8 && i <= math.MaxInt8 {
		return append(dst, codeSmallLong, byte(i))
	}
	return binary.BigEndian.AppendUint64(append(dst, codeLong), uint64(i))
}

// AppendFloat appends a float.
func AppendFloat(dst []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, codeFloat), math.Float32bits(f))
}

// AppendDouble appends a double.
func AppendDouble(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, codeDouble), math.Float64bits(f))
}

// AppendChar appends a char.
func AppendChar(dst []byte, c Char) []byte {
	return binary.BigEndian.AppendUint32(append(dst, codeChar), uint32(c))
}

// AppendTimestamp appends a timestamp.
func AppendTimestamp(dst []byte, t Timestamp) []byte {
	return binary.BigEndian.AppendUint64(append(dst, codeTimestamp), uint64(t))
}

// AppendUUID appends a uuid.
func AppendUUID(dst []byte, u UUID) []byte { return append(append(dst, codeUUID), u[:]...) }

// AppendBinary appends a binary (vbin8 or vbin32); nil is a null.
func AppendBinary(dst []byte, b []byte) []byte {
	if b == nil {
		return AppendNull(dst)
	}
	return appendVariable(dst, codeVbin8, codeVbin32, b)
}

// AppendString appends a string (str8 or str32).
func AppendString(dst []byte, s string) []byte {
	return appendVariable(dst, codeStr8, codeStr32, s)
}

// AppendSymbol appends a symbol (sym8 or sym32).
func AppendSymbol(dst []byte, s Symbol) []byte {
	return appendVariable(dst, codeSym8, codeSym32, s)
}

func appendVariable[T string | Symbol | []byte](dst []byte, code8, code32 byte, s T) []byte {
	if len(s) <= math.MaxUint8 {
		return append(append(dst, code8, byte(len(s))), s...)
	}
	dst = binary.BigEndian.AppendUint32(append(dst, code32), uint32(len(s)))
	return append(dst, s...)
}

// AppendSymbols appends a multiple symbol field: null when empty, else an
// array of symbols (a single symbol is also legal, but every client reads
// an array).
func AppendSymbols(dst []byte, syms []Symbol) []byte {
	if len(syms) == 0 {
		return AppendNull(dst)
	}
	return appendSymbolArray(dst, syms)
}

func appendSymbolArray(dst []byte, syms []Symbol) []byte {
	long := false
	n := 0
	for _, s := range syms {
		if len(s) > math.MaxUint8 {
			long = true
		}
		n += 1 + len(s)
	}
	elem := byte(codeSym8)
	if long {
		elem, n = codeSym32, n+3*len(syms)
	}
	dst = appendArrayHead(dst, len(syms), n+1)
	dst = append(dst, elem)
	for _, s := range syms {
		if long {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		} else {
			dst = append(dst, byte(len(s)))
		}
		dst = append(dst, s...)
	}
	return dst
}

// appendArrayHead writes an array constructor, size and count for count
// elements taking n bytes with their element constructor.
func appendArrayHead(dst []byte, count, n int) []byte {
	if n+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		return append(dst, codeArray8, byte(n+1), byte(count))
	}
	dst = append(dst, codeArray32)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n+4))
	return binary.BigEndian.AppendUint32(dst, uint32(count))
}

// AppendDescriptor appends the constructor of a described value with a
// numeric descriptor; the described value follows.
func AppendDescriptor(dst []byte, code uint64) []byte {
	return AppendUlong(append(dst, codeDescribed), code)
}

// ListEncoder writes a list of fields with trailing nulls elided and the
// shortest list constructor. Begin reserves a list32 header; each field is
// appended to the returned slice and reported with Field; End drops the
// trailing nulls and shrinks the header.
type ListEncoder struct {
	start, prev, keepLen, n, keepN int
}

// BeginList starts a list at the end of dst.
func BeginList(dst []byte) ([]byte, ListEncoder) {
	start := len(dst)
	dst = append(dst, codeList32, 0, 0, 0, 0, 0, 0, 0, 0)
	return dst, ListEncoder{start: start, prev: len(dst), keepLen: len(dst)}
}

// Field records that one field was appended to dst.
func (l *ListEncoder) Field(dst []byte) {
	l.n++
	if !(len(dst) == l.prev+1 && dst[l.prev] == codeNull) {
		l.keepLen, l.keepN = len(dst), l.n
	}
	l.prev = len(dst)
}

// End finishes the list and returns dst.
func (l *ListEncoder) End(dst []byte) []byte {
	dst = dst[:l.keepLen]
	items := l.keepLen - (l.start + 9)
	switch {
	case l.keepN == 0:
		return append(dst[:l.start], codeList0)
	case items+1 <= math.MaxUint8 && l.keepN <= math.MaxUint8:
		h := dst[l.start:]
		h[0], h[1], h[2] = codeList8, byte(items+1), byte(l.keepN)
		copy(h[3:], h[9:])
		return dst[:len(dst)-6]
	}
	binary.BigEndian.PutUint32(dst[l.start+1:], uint32(items+4))
	binary.BigEndian.PutUint32(dst[l.start+5:], uint32(l.keepN))
	return dst
}

// MapEncoder writes a map whose entries are appended one by one (keys and
// values by any Append function): BeginMap reserves a map32 header, Entry
// counts one key and value, End fills in the header, shrunk to a map8
// when it fits.
type MapEncoder struct {
	start, n int
}

// BeginMap starts a map at the end of dst.
func BeginMap(dst []byte) ([]byte, MapEncoder) {
	start := len(dst)
	return append(dst, codeMap32, 0, 0, 0, 0, 0, 0, 0, 0), MapEncoder{start: start}
}

// Entry records that one key and its value were appended.
func (m *MapEncoder) Entry() { m.n++ }

// Len returns the number of entries so far.
func (m *MapEncoder) Len() int { return m.n }

// End finishes the map and returns dst.
func (m *MapEncoder) End(dst []byte) []byte {
	return shrinkCompound(dst, m.start, codeMap8, 2*m.n)
}

// AppendMap appends a map (null when m is nil).
func AppendMap(dst []byte, m Map) []byte {
	if m == nil {
		return AppendNull(dst)
	}
	dst, me := BeginMap(dst)
	for _, e := range m {
		dst = AppendValue(dst, e.Key)
		dst = AppendValue(dst, e.Value)
		me.Entry()
	}
	return me.End(dst)
}

// shrinkCompound fills in the 9-byte header reserved at start and moves
// the items down when a one-byte size and count suffice.
func shrinkCompound(dst []byte, start int, code8 byte, count int) []byte {
	items := len(dst) - (start + 9)
	if items+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		h := dst[start:]
		h[0], h[1], h[2] = code8, byte(items+1), byte(count)
		copy(h[3:], h[9:])
		return dst[:len(dst)-6]
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(items+4))
	binary.BigEndian.PutUint32(dst[start+5:], uint32(count))
	return dst
}

// AppendList appends a list of values (list0 when empty).
func AppendList(dst []byte, l List) []byte {
	if len(l) == 0 {
		return append(dst, codeList0)
	}
	start := len(dst)
	dst = append(dst, codeList32, 0, 0, 0, 0, 0, 0, 0, 0)
	for _, v := range l {
		dst = AppendValue(dst, v)
	}
	return shrinkCompound(dst, start, codeList8, len(l))
}

// AppendValue appends any value of the Go types listed in types.go. A Go
// type outside that list is a programming error and panics.
func AppendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return AppendNull(dst)
	case bool:
		return AppendBool(dst, v)
	case uint8:
		return AppendUbyte(dst, v)
	case uint16:
		return AppendUshort(dst, v)
	case uint32:
		return AppendUint(dst, v)
	case uint64:
		return AppendUlong(dst, v)
	case int8:
		return AppendByte(dst, v)
	case int16:
		return AppendShort(dst, v)
	case int32:
		return AppendInt(dst, v)
	case int64:
		return AppendLong(dst, v)
	case float32:
		return AppendFloat(dst, v)
	case float64:
		return AppendDouble(dst, v)
	case Decimal32:
		return append(append(dst, codeDecimal32), v[:]...)
	case Decimal64:
		return append(append(dst, codeDecimal64), v[:]...)
	case Decimal128:
		return append(append(dst, codeDecimal128), v[:]...)
	case Char:
		return AppendChar(dst, v)
	case Timestamp:
		return AppendTimestamp(dst, v)
	case UUID:
		return AppendUUID(dst, v)
	case []byte:
		return appendVariable(dst, codeVbin8, codeVbin32, v)
	case string:
		return AppendString(dst, v)
	case Symbol:
		return AppendSymbol(dst, v)
	case []Symbol:
		return appendSymbolArray(dst, v)
	case List:
		return AppendList(dst, v)
	case Map:
		return AppendMap(dst, v)
	case Array:
		return appendArray(dst, v)
	case Described:
		dst = append(dst, codeDescribed)
		dst = AppendValue(dst, v.Descriptor)
		return AppendValue(dst, v.Value)
	case Encoder:
		return v.AppendTo(dst)
	}
	panic(fmt.Sprintf("codec: AppendValue of unsupported type %T", v))
}

// Encoder is a value that encodes itself: the composite types of this
// package (Source, Target, Error, delivery states ...) implement it, so
// they can be put in a List or Map given to AppendValue.
type Encoder interface {
	AppendTo(dst []byte) []byte
}

// appendArray writes an array with the constructor of its first element:
// each element is encoded on its own and must start with that same
// constructor, which is then dropped. Elements are written with their
// 32-bit form (str32, list32 ...) when variable width, so that every
// element shares one constructor whatever its size.
func appendArray(dst []byte, a Array) []byte {
	start := len(dst)
	dst = append(dst, codeArray32, 0, 0, 0, 0, 0, 0, 0, 0)
	if len(a) == 0 {
		dst = append(dst, codeNull)
		return shrinkCompound(dst, start, codeArray8, 0)
	}
	first := a[0]
	var desc any
	if d, ok := first.(Described); ok {
		desc = d.Descriptor
		dst = append(dst, codeDescribed)
		dst = AppendValue(dst, desc)
		first = d.Value
	}
	var scratch []byte
	scratch = appendWide(scratch[:0], first)
	ctor := scratch[0]
	dst = append(dst, ctor)
	for _, v := range a {
		if desc != nil {
			d, ok := v.(Described)
			if !ok {
				panic("codec: array mixes described and plain elements")
			}
			v = d.Value
		}
		scratch = appendWide(scratch[:0], v)
		if scratch[0] != ctor {
			panic(fmt.Sprintf("codec: array elements of different types (0x%02x and 0x%02x)", ctor, scratch[0]))
		}
		dst = append(dst, scratch[1:]...)
	}
	return shrinkCompound(dst, start, codeArray8, len(a))
}

// appendWide encodes v for an array: fixed-width numbers in their full
// width and variable-width values in their 32-bit form, so that all the
// elements of one Go type share a constructor.
func appendWide(dst []byte, v any) []byte {
	switch v := v.(type) {
	case bool:
		if v {
			return append(dst, codeBoolean, 1)
		}
		return append(dst, codeBoolean, 0)
	case uint32:
		return binary.BigEndian.AppendUint32(append(dst, codeUint), v)
	case uint64:
		return binary.BigEndian.AppendUint64(append(dst, codeUlong), v)
	case int32:
		return binary.BigEndian.AppendUint32(append(dst, codeInt), uint32(v))
	case int64:
		return binary.BigEndian.AppendUint64(append(dst, codeLong), uint64(v))
	case []byte:
		return append(binary.BigEndian.AppendUint32(append(dst, codeVbin32), uint32(len(v))), v...)
	case string:
		return append(binary.BigEndian.AppendUint32(append(dst, codeStr32), uint32(len(v))), v...)
	case Symbol:
		return append(binary.BigEndian.AppendUint32(append(dst, codeSym32), uint32(len(v))), v...)
	case List:
		start := len(dst)
		dst = AppendList(dst, v)
		return widenCompound(dst, start, codeList32, len(v))
	case Map:
		start := len(dst)
		dst = AppendMap(dst, v)
		return widenCompound(dst, start, codeMap32, 2*len(v))
	case Array:
		start := len(dst)
		dst = appendArray(dst, v)
		return widenCompound(dst, start, codeArray32, len(v))
	}
	return AppendValue(dst, v)
}

// widenCompound rewrites the list, map or array at start in its 32-bit form.
func widenCompound(dst []byte, start int, code32 byte, count int) []byte {
	var items []byte
	switch dst[start] {
	case codeList0:
		items = nil
	case codeList8, codeMap8, codeArray8:
		items = append([]byte(nil), dst[start+3:]...)
	default:
		return dst
	}
	dst = append(dst[:start], code32)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(items)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(count))
	return append(dst, items...)
}
