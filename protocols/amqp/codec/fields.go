package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// FieldReader reads the fields of a list in order: a composite type's
// fields. Fields past the end of the list read as null (the encoder elided
// them). The first error sticks: every later read returns the zero value,
// and Err reports it, so a composite is decoded field after field and
// checked once.
type FieldReader struct {
	d     Decoder
	left  int
	index int
	err   error
}

// Err returns the first error met.
func (f *FieldReader) Err() error { return f.err }

// Remaining returns the number of fields not read yet.
func (f *FieldReader) Remaining() int { return f.left }

func (f *FieldReader) fail(err *Error) {
	if f.err == nil {
		f.err = err
	}
	f.left = 0
}

// IsNull reports whether the next field is null or absent.
func (f *FieldReader) IsNull() bool {
	return f.err != nil || f.left == 0 || f.d.PeekNull()
}

// Require fails with amqp:invalid-field when the next field is null or
// absent: a mandatory field.
func (f *FieldReader) Require(name string) bool {
	if f.err != nil {
		return false
	}
	if f.IsNull() {
		f.fail(Errorf(CondInvalidField, "mandatory field %s (field %d) is null", name, f.index))
		return false
	}
	return true
}

// Skip passes over the next field.
func (f *FieldReader) Skip() {
	f.Raw()
}

// Raw returns the encoding of the next field (nil when null or absent).
func (f *FieldReader) Raw() []byte {
	if f.IsNull() {
		f.advanceNull()
		return nil
	}
	f.index++
	f.left--
	b, err := f.d.ReadRaw()
	if err != nil {
		f.fail(err.(*Error))
	}
	return b
}

// advanceNull passes over a null or absent field.
func (f *FieldReader) advanceNull() {
	if f.err != nil || f.left == 0 {
		return
	}
	if len(f.d.b) == 0 {
		f.fail(decodeErr("list of %d fields ends after %d", f.index+f.left, f.index))
		return
	}
	f.index++
	f.left--
	f.d.b = f.d.b[1:]
}

// prim reads the next field as a primitive; ok is false when it is null,
// absent, or an error happened.
func (f *FieldReader) prim() (code byte, data []byte, ok bool) {
	if f.IsNull() {
		f.advanceNull()
		return 0, nil, false
	}
	f.index++
	f.left--
	code, data, err := f.d.prim()
	if err != nil {
		f.fail(err.(*Error))
		return 0, nil, false
	}
	return code, data, true
}

func (f *FieldReader) wrongType(want string, code byte) {
	f.fail(decodeErr("field %d: %s expected, got format code 0x%02x", f.index-1, want, code))
}

// unsigned reads an unsigned integer of at most max; any unsigned encoding
// is accepted as long as the value fits.
func (f *FieldReader) unsigned(max uint64, want string) (uint64, bool) {
	code, data, ok := f.prim()
	if !ok {
		return 0, false
	}
	u, isUnsigned := asUnsigned(code, data)
	if !isUnsigned {
		f.wrongType(want, code)
		return 0, false
	}
	if u > max {
		f.fail(decodeErr("field %d: %d does not fit a %s", f.index-1, u, want))
		return 0, false
	}
	return u, true
}

// Bool reads a boolean field; def when null.
func (f *FieldReader) Bool(def bool) bool {
	code, data, ok := f.prim()
	if !ok {
		return def
	}
	switch code {
	case codeTrue:
		return true
	case codeFalse:
		return false
	case codeBoolean:
		if data[0] <= 1 {
			return data[0] == 1
		}
		f.fail(decodeErr("field %d: boolean 0x%02x", f.index-1, data[0]))
		return def
	}
	f.wrongType("boolean", code)
	return def
}

// Ubyte reads a ubyte field; def when null.
func (f *FieldReader) Ubyte(def uint8) uint8 {
	u, ok := f.unsigned(0xff, "ubyte")
	if !ok {
		return def
	}
	return uint8(u)
}

// Ushort reads a ushort field; def when null.
func (f *FieldReader) Ushort(def uint16) uint16 {
	u, ok := f.unsigned(0xffff, "ushort")
	if !ok {
		return def
	}
	return uint16(u)
}

// Uint reads a uint field; def when null.
func (f *FieldReader) Uint(def uint32) uint32 {
	u, ok := f.unsigned(0xffffffff, "uint")
	if !ok {
		return def
	}
	return uint32(u)
}

// OptUint reads a uint field that has no default; ok is false when null.
func (f *FieldReader) OptUint() (v uint32, ok bool) {
	u, ok := f.unsigned(0xffffffff, "uint")
	return uint32(u), ok
}

// Ulong reads a ulong field; def when null.
func (f *FieldReader) Ulong(def uint64) uint64 {
	u, ok := f.unsigned(^uint64(0), "ulong")
	if !ok {
		return def
	}
	return u
}

// Timestamp reads a timestamp field; ok is false when null.
func (f *FieldReader) Timestamp() (Timestamp, bool) {
	code, data, ok := f.prim()
	if !ok {
		return 0, false
	}
	if code != codeTimestamp {
		f.wrongType("timestamp", code)
		return 0, false
	}
	return Timestamp(binary.BigEndian.Uint64(data)), true
}

// Str reads a string field; "" when null.
func (f *FieldReader) Str() string {
	code, data, ok := f.prim()
	if !ok {
		return ""
	}
	if code != codeStr8 && code != codeStr32 {
		f.wrongType("string", code)
		return ""
	}
	if !utf8.Valid(data) {
		f.fail(decodeErr("field %d: string is not valid UTF-8", f.index-1))
		return ""
	}
	return string(data)
}

// Symbol reads a symbol field; "" when null.
func (f *FieldReader) Symbol() Symbol {
	code, data, ok := f.prim()
	if !ok {
		return ""
	}
	if code != codeSym8 && code != codeSym32 {
		f.wrongType("symbol", code)
		return ""
	}
	return Symbol(data)
}

// Symbols reads a multiple symbol field: a single symbol or an array of
// them; nil when null.
func (f *FieldReader) Symbols() []Symbol {
	code, data, ok := f.prim()
	if !ok {
		return nil
	}
	switch code {
	case codeSym8, codeSym32:
		return []Symbol{Symbol(data)}
	case codeArray8, codeArray32:
		count, desc, elem, sub, err := f.d.arrayHead(code, data)
		if err != nil {
			f.fail(err.(*Error))
			return nil
		}
		if desc != nil || (elem != codeSym8 && elem != codeSym32) {
			f.fail(decodeErr("field %d: array of symbols expected, got 0x%02x", f.index-1, elem))
			return nil
		}
		out := make([]Symbol, count)
		for i := range out {
			_, data, err := sub.elem(elem)
			if err != nil {
				f.fail(err.(*Error))
				return nil
			}
			out[i] = Symbol(data)
		}
		if err := sub.end(); err != nil {
			f.fail(err.(*Error))
			return nil
		}
		return out
	}
	f.wrongType("symbol or array of symbols", code)
	return nil
}

// Binary reads a binary field, aliasing the input; nil when null.
func (f *FieldReader) Binary() []byte {
	code, data, ok := f.prim()
	if !ok {
		return nil
	}
	if code != codeVbin8 && code != codeVbin32 {
		f.wrongType("binary", code)
		return nil
	}
	return data
}

// Value reads a field of any type (see types.go); nil when null.
func (f *FieldReader) Value() any {
	if f.IsNull() {
		f.advanceNull()
		return nil
	}
	f.index++
	f.left--
	v, err := f.d.ReadValue()
	if err != nil {
		f.fail(err.(*Error))
		return nil
	}
	return v
}

// Map reads a map field (fields, annotations, filter-set); nil when null.
func (f *FieldReader) Map() Map {
	v := f.Value()
	if v == nil || f.err != nil {
		return nil
	}
	m, ok := v.(Map)
	if !ok {
		f.fail(decodeErr("field %d: map expected, got %T", f.index-1, v))
		return nil
	}
	return m
}

// Described reads a described field: its descriptor code (see
// ReadDescriptor) and a decoder left on the described value. ok is false
// when the field is null or an error happened.
func (f *FieldReader) Described() (code uint64, desc any, d Decoder, ok bool) {
	if f.IsNull() {
		f.advanceNull()
		return 0, nil, Decoder{}, false
	}
	f.index++
	f.left--
	raw, err := f.d.ReadRaw()
	if err != nil {
		f.fail(err.(*Error))
		return 0, nil, Decoder{}, false
	}
	d = f.d.sub(raw)
	code, desc, err = d.ReadDescriptor()
	if err != nil {
		f.fail(Errorf(CondDecodeError, "field %d: %s", f.index-1, err.(*Error).Description))
		return 0, nil, Decoder{}, false
	}
	return code, desc, d, true
}
