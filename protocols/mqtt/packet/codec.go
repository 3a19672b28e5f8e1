package packet

import (
	"encoding/binary"
	"unicode/utf8"
)

// Protocol levels, as carried in CONNECT.
const (
	Version31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	Version311 byte = 4 // MQTT 3.1.1, protocol name "MQTT"
	Version5   byte = 5 // MQTT 5.0, protocol name "MQTT"
)

const (
	// MaxRemainingLength is the largest Remaining Length a fixed header can
	// encode (four bytes of variable byte integer).
	MaxRemainingLength = 268_435_455
	// MaxPacketSize is the largest whole packet: a 5-byte fixed header plus
	// MaxRemainingLength.
	MaxPacketSize = 5 + MaxRemainingLength
	// MaxVarint is the largest value of a Variable Byte Integer, e.g. a
	// Subscription Identifier.
	MaxVarint = MaxRemainingLength
)

func validVersion(v byte) bool { return v == Version31 || v == Version311 || v == Version5 }

func errVersion(v byte) *Error {
	return errCode(UnsupportedProtocolVersion, "unsupported protocol version "+itoa(int(v)))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// decodeVarint reads a Variable Byte Integer (spec 1.5.5) from the start of b.
// It returns the value and its length, ErrIncomplete when b ends inside it,
// or a Malformed Packet error when it runs past four bytes or is not in its
// shortest form [MQTT-1.5.5-1].
func decodeVarint(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrIncomplete
		}
		c := b[i]
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, malformed("variable byte integer not in its shortest form [MQTT-1.5.5-1]")
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, malformed("variable byte integer longer than 4 bytes")
}

func varintLen(v int) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	default:
		return 4
	}
}

func appendVarint(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendStr appends a two-byte length prefix and s. Callers check the length
// beforehand (see strLen).
func appendStr[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

// grow makes room for n more bytes with at most one allocation.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	nb := make([]byte, len(dst), len(dst)+n+len(dst)/4)
	copy(nb, dst)
	return nb
}

// Byte classes for one branch-free pass over a string: OR-ing the class of
// every byte tells whether it holds U+0000, a wildcard or non-ASCII bytes.
const (
	clsNul  = 1 << iota // 0x00
	clsWild             // '+' or '#'
	clsHigh             // >= 0x80: part of a multi-byte sequence
)

var byteClass = func() (t [256]uint8) {
	t[0] = clsNul
	t['+'], t['#'] = clsWild, clsWild
	for i := utf8.RuneSelf; i < 256; i++ {
		t[i] = clsHigh
	}
	return t
}()

func classify[T string | []byte](b T) uint8 {
	var acc uint8
	for i := 0; i < len(b); i++ {
		acc |= byteClass[b[i]]
	}
	return acc
}

// classifyBytes is classify eight bytes at a time, for the PUBLISH topic on
// the hot path. Each test is the exact "word has a zero byte" bit trick:
// (w - 0x01..) &^ w & 0x80.. is non-zero iff some byte of w is zero.
func classifyBytes(b []byte) uint8 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	var high, nul, wild uint64
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		high |= w
		nul |= (w - lo) &^ w
		plus, hash := w^('+'*lo), w^('#'*lo)
		wild |= (plus-lo)&^plus | (hash-lo)&^hash
		b = b[8:]
	}
	acc := classify(b)
	if high&hi != 0 {
		acc |= clsHigh
	}
	if nul&hi != 0 {
		acc |= clsNul
	}
	if wild&hi != 0 {
		acc |= clsWild
	}
	return acc
}

// validUTF8 implements [MQTT-1.5.4-1] (well-formed UTF-8, no surrogates,
// which utf8.Valid already rejects) and [MQTT-1.5.4-2] (no U+0000, whose
// only well-formed encoding is a 0x00 byte). cls is classify(b).
func validUTF8Class(b []byte, cls uint8) bool {
	return cls&clsNul == 0 && (cls&clsHigh == 0 || utf8.Valid(b))
}

func validUTF8(b []byte) bool { return validUTF8Class(b, classifyBytes(b)) }

func validUTF8String(s string) bool {
	cls := classify(s)
	return cls&clsNul == 0 && (cls&clsHigh == 0 || utf8.ValidString(s))
}

// cursor walks a packet body. Every read checks the bytes left first, so a
// length field can never make the decoder read or allocate past the packet.
type cursor struct {
	b []byte
}

func (c *cursor) empty() bool { return len(c.b) == 0 }

func (c *cursor) u8(what string) (byte, error) {
	if len(c.b) < 1 {
		return 0, malformed(what + ": packet too short")
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v, nil
}

func (c *cursor) u16(what string) (uint16, error) {
	if len(c.b) < 2 {
		return 0, malformed(what + ": packet too short")
	}
	v := binary.BigEndian.Uint16(c.b)
	c.b = c.b[2:]
	return v, nil
}

func (c *cursor) u32(what string) (uint32, error) {
	if len(c.b) < 4 {
		return 0, malformed(what + ": packet too short")
	}
	v := binary.BigEndian.Uint32(c.b)
	c.b = c.b[4:]
	return v, nil
}

func (c *cursor) vbi(what string) (uint32, error) {
	v, n, err := decodeVarint(c.b)
	if err != nil {
		if err == ErrIncomplete {
			return 0, malformed(what + ": packet too short")
		}
		e := *err.(*Error)
		e.Msg = what + ": " + e.Msg
		return 0, &e
	}
	c.b = c.b[n:]
	return v, nil
}

// binary reads Binary Data (spec 1.5.6): a two-byte length and that many
// bytes. The result aliases the body; an empty value is returned as nil.
func (c *cursor) bin(what string) ([]byte, error) {
	if len(c.b) < 2 {
		return nil, malformed(what + ": packet too short")
	}
	n := int(binary.BigEndian.Uint16(c.b))
	if len(c.b)-2 < n {
		return nil, malformed(what + ": length exceeds packet")
	}
	v := c.b[2 : 2+n : 2+n]
	c.b = c.b[2+n:]
	if n == 0 {
		return nil, nil
	}
	return v, nil
}

// utf8 reads a UTF-8 Encoded String (spec 1.5.4) without copying it.
func (c *cursor) utf8b(what string) ([]byte, error) {
	v, err := c.bin(what)
	if err != nil {
		return nil, err
	}
	if !validUTF8(v) {
		return nil, malformed(what + ": invalid UTF-8 or U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]")
	}
	return v, nil
}

// string reads a UTF-8 Encoded String and copies it.
func (c *cursor) str(what string) (string, error) {
	v, err := c.utf8b(what)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// strLen is the encoded size of a UTF-8 string or binary field, or an error
// when it does not fit a two-byte length.
func strLen[T string | []byte](s T, what string) (int, error) {
	if len(s) > 0xffff {
		return 0, malformed("encode: " + what + " longer than 65535 bytes")
	}
	return 2 + len(s), nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
