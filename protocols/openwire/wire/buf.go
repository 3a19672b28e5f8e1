package wire

import (
	"encoding/binary"
	"math"
	"unicode"
	"unicode/utf16"
)

// reader reads big-endian values from one frame held in memory. Every read
// checks the bytes left, so no length read from the wire can make it
// allocate more than the frame holds.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) need(n int) error {
	if n < 0 || n > r.left() {
		return errf(ErrTruncated, "need %d bytes at offset %d, %d left", n, r.off, r.left())
	}
	return nil
}

func (r *reader) u8() (byte, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) bool() (bool, error) {
	v, err := r.u8()
	return v != 0, err
}

func (r *reader) u16() (uint16, error) {
	if err := r.need(2); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

func (r *reader) i32() (int32, error) {
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return int32(v), nil
}

func (r *reader) i64() (int64, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v), nil
}

// bytes returns the next n bytes as a fresh copy (decoded commands outlive
// the frame buffer).
func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 {
		return nil, errf(ErrLength, "negative length %d", n)
	}
	if n > r.left() {
		return nil, errf(ErrLength, "length %d past the end of the frame (%d bytes left)", n, r.left())
	}
	out := make([]byte, n)
	copy(out, r.b[r.off:])
	r.off += n
	return out, nil
}

// utf reads a Java DataInput.readUTF string: an unsigned 16-bit byte count,
// then modified UTF-8.
func (r *reader) utf() (string, error) {
	n, err := r.u16()
	if err != nil {
		return "", err
	}
	return r.utfN(int(n))
}

func (r *reader) utfN(n int) (string, error) {
	if n < 0 || n > r.left() {
		return "", errf(ErrLength, "string length %d past the end of the frame (%d bytes left)", n, r.left())
	}
	s, err := decodeModifiedUTF8(r.b[r.off : r.off+n])
	r.off += n
	return s, err
}

// latin1 reads n bytes as one character each: the tight encoding's ASCII
// fast path (the Java writer only takes it for chars 1..127, and the Java
// reader widens each byte).
func (r *reader) latin1(n int) (string, error) {
	if n < 0 || n > r.left() {
		return "", errf(ErrLength, "string length %d past the end of the frame (%d bytes left)", n, r.left())
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), nil
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs), nil
}

// decodeModifiedUTF8 decodes Java's modified UTF-8: 1-3 byte sequences only,
// NUL as C0 80, characters outside the BMP as two encoded surrogates.
func decodeModifiedUTF8(b []byte) (string, error) {
	ascii := true
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), nil
	}
	u := make([]uint16, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			u = append(u, uint16(c))
			i++
		case c&0xe0 == 0xc0:
			if i+1 >= len(b) || b[i+1]&0xc0 != 0x80 {
				return "", errf(ErrUTF, "malformed 2-byte sequence at %d", i)
			}
			u = append(u, uint16(c&0x1f)<<6|uint16(b[i+1]&0x3f))
			i += 2
		case c&0xf0 == 0xe0:
			if i+2 >= len(b) || b[i+1]&0xc0 != 0x80 || b[i+2]&0xc0 != 0x80 {
				return "", errf(ErrUTF, "malformed 3-byte sequence at %d", i)
			}
			u = append(u, uint16(c&0x0f)<<12|uint16(b[i+1]&0x3f)<<6|uint16(b[i+2]&0x3f))
			i += 3
		case c&0xf8 == 0xf0:
			// Standard UTF-8 for a character outside the BMP: not what
			// Java's writeUTF produces, but what non-Java clients write and
			// what the Java reader of a big string accepts.
			if i+3 >= len(b) || b[i+1]&0xc0 != 0x80 || b[i+2]&0xc0 != 0x80 || b[i+3]&0xc0 != 0x80 {
				return "", errf(ErrUTF, "malformed 4-byte sequence at %d", i)
			}
			cp := rune(c&0x07)<<18 | rune(b[i+1]&0x3f)<<12 | rune(b[i+2]&0x3f)<<6 | rune(b[i+3]&0x3f)
			r1, r2 := utf16.EncodeRune(cp)
			if r1 == unicode.ReplacementChar {
				u = append(u, uint16(unicode.ReplacementChar))
			} else {
				u = append(u, uint16(r1), uint16(r2))
			}
			i += 4
		default:
			return "", errf(ErrUTF, "malformed byte 0x%02x at %d", c, i)
		}
	}
	// utf16.Decode turns unpaired surrogates into U+FFFD, as Go strings
	// cannot hold them.
	return string(utf16.Decode(u)), nil
}

// modifiedUTF8Len is the length of s in modified UTF-8, and whether every
// character is in 1..127 (the tight encoding's ASCII flag).
func modifiedUTF8Len(s string) (n int, ascii bool) {
	if isASCII(s) {
		return len(s), true
	}
	ascii = true
	for _, c := range s {
		switch {
		case c >= 1 && c <= 0x7f:
			n++
		case c == 0 || c <= 0x7ff:
			n += 2
			ascii = false
		case c <= 0xffff:
			n += 3
			ascii = false
		default:
			n += 6 // a surrogate pair, 3 bytes each
			ascii = false
		}
	}
	return n, ascii
}

// appendModifiedUTF8 appends s in modified UTF-8 (no length prefix). Invalid
// UTF-8 in s is written as U+FFFD, which is what ranging over it yields.
func appendModifiedUTF8(dst []byte, s string) []byte {
	if isASCII(s) {
		return append(dst, s...)
	}
	for _, c := range s {
		switch {
		case c >= 1 && c <= 0x7f:
			dst = append(dst, byte(c))
		case c == 0 || c <= 0x7ff:
			dst = append(dst, 0xc0|byte(c>>6)&0x1f, 0x80|byte(c)&0x3f)
		case c <= 0xffff:
			dst = append3(dst, c)
		default:
			// Outside the BMP: Java strings hold a surrogate pair, and
			// writeUTF encodes each half as a 3-byte sequence.
			r1, r2 := utf16.EncodeRune(c)
			dst = append3(append3(dst, r1), r2)
		}
	}
	return dst
}

// isASCII reports whether every byte of s is in 1..127, where modified UTF-8
// is the bytes themselves.
func isASCII(s string) bool {
	// Eight bytes at a time: a byte is 0 or >= 0x80 when (w - 0x01..) or w
	// itself has its high bit set where w did not (the classic zero-byte
	// test), checked together.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64([]byte(s[:8]))
		if (w|(w-lo))&hi != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// isASCIIBytes is isASCII for a byte slice.
func isASCIIBytes(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		if (w|(w-lo))&hi != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

func append3(dst []byte, c rune) []byte {
	return append(dst, 0xe0|byte(c>>12)&0x0f, 0x80|byte(c>>6)&0x3f, 0x80|byte(c)&0x3f)
}

// writer helpers: plain appends.

func putU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }
func putI32(dst []byte, v int32) []byte  { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func putI64(dst []byte, v int64) []byte  { return binary.BigEndian.AppendUint64(dst, uint64(v)) }
func putBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}
func putF32(dst []byte, v float32) []byte { return putI32(dst, int32(math.Float32bits(v))) }
func putF64(dst []byte, v float64) []byte { return putI64(dst, int64(math.Float64bits(v))) }

// putUTF appends a Java writeUTF string (u16 length + modified UTF-8).
func putUTF(dst []byte, s string) ([]byte, error) {
	n, _ := modifiedUTF8Len(s)
	if n > 0xffff {
		return dst, errf(ErrEncode, "string of %d bytes is too long for writeUTF", n)
	}
	dst = putU16(dst, uint16(n))
	return appendModifiedUTF8(dst, s), nil
}
