package wire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
)

// Message bodies as the ActiveMQ client stores them in Message.Content:
//
//	TextMessage    int32 byte count (-1: null text) + modified UTF-8
//	               (MarshallingSupport.writeUTF8)
//	MapMessage     a primitive map (AppendMap / ParseMap)
//	StreamMessage  tagged primitives back to back (AppendStream / ParseStream)
//	BytesMessage   the bytes
//	ObjectMessage  a Java serialization stream: opaque bytes, never parsed
//
// With useCompression the client deflates the content (zlib format, Java's
// Deflater defaults) and sets Compressed; a BytesMessage additionally puts
// the uncompressed length as an int32 before the zlib stream.

// minimumMessageSize is ActiveMQ's Message.DEFAULT_MINIMUM_MESSAGE_SIZE.
const minimumMessageSize = 1024

// Size is ActiveMQ's Message.getSize(): what a producer counts against its
// window (ProducerInfo.WindowSize) and what a ProducerAck returns.
func (m *Message) Size() int {
	return minimumMessageSize + len(m.MarshalledProperties) + len(m.Content)
}

// Inflate inflates a zlib stream, refusing output past limit bytes
// (limit <= 0: DefaultMaxInflatedSize).
func Inflate(b []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxInflatedSize
	}
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, &DecodeError{Err: ErrInflate, Msg: "compressed body: " + err.Error()}
	}
	defer zr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, &DecodeError{Err: ErrInflate, Msg: "compressed body: " + err.Error()}
	}
	if n > int64(limit) {
		return nil, &DecodeError{Err: ErrInflate, Msg: fmt.Sprintf("compressed body inflates past %d bytes", limit)}
	}
	return out.Bytes(), nil
}

// Deflate compresses b as the Java client's DeflaterOutputStream does.
func Deflate(b []byte) []byte {
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	_, _ = zw.Write(b) // writes to a bytes.Buffer cannot fail
	_ = zw.Close()
	return out.Bytes()
}

// Body returns the message content uncompressed (Content itself when not
// Compressed), bounded by limit (<= 0: DefaultMaxInflatedSize).
func (m *Message) Body(limit int) ([]byte, error) {
	if !m.Compressed || m.Content == nil {
		return m.Content, nil
	}
	if limit <= 0 {
		limit = DefaultMaxInflatedSize
	}
	if m.Type != TypeBytesMessage {
		return Inflate(m.Content, limit)
	}
	if len(m.Content) < 4 {
		return nil, &DecodeError{Err: ErrInflate, Msg: "compressed bytes body shorter than its length prefix"}
	}
	n := int32(binary.BigEndian.Uint32(m.Content))
	if n < 0 || int(n) > limit {
		return nil, &DecodeError{Err: ErrInflate, Msg: fmt.Sprintf("compressed bytes body announces %d bytes (limit %d)", n, limit)}
	}
	// The Java client deflates the whole buffer behind the body, capacity
	// included, and inflates only the announced length: read exactly that.
	zr, err := zlib.NewReader(bytes.NewReader(m.Content[4:]))
	if err != nil {
		return nil, &DecodeError{Err: ErrInflate, Msg: "compressed bytes body: " + err.Error()}
	}
	defer zr.Close()
	out := make([]byte, n)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, &DecodeError{Err: ErrInflate, Msg: fmt.Sprintf("compressed bytes body shorter than the announced %d bytes: %v", n, err)}
	}
	return out, nil
}

// SetBody stores uncompressed content, compressing it as the client's
// useCompression does when compress is set.
func (m *Message) SetBody(b []byte, compress bool) {
	m.Compressed = compress && b != nil
	if !m.Compressed {
		m.Content = b
		return
	}
	z := Deflate(b)
	if m.Type == TypeBytesMessage {
		z = append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(z)), uint32(len(b))), z...)
	}
	m.Content = z
}

// DecodeText decodes an uncompressed TextMessage body. A null text (length
// -1, or no content) is "" with null set.
func DecodeText(content []byte) (text string, null bool, err error) {
	if content == nil {
		return "", true, nil
	}
	r := &reader{b: content}
	n, err := r.i32()
	if err != nil {
		return "", false, err
	}
	if n == -1 {
		return "", true, nil
	}
	s, err := r.utfN(int(n))
	if err != nil {
		return "", false, err
	}
	if r.left() != 0 {
		return "", false, errf(ErrTrailing, "%d bytes after the text", r.left())
	}
	return s, false, nil
}

// AppendText appends s as a TextMessage body.
func AppendText(dst []byte, s string) []byte {
	n, _ := modifiedUTF8Len(s)
	if n > math.MaxInt32 {
		n = math.MaxInt32 // unreachable: no Go string is that long in practice
	}
	dst = slices.Grow(dst, 4+n) // one allocation for a nil dst, not two
	dst = putI32(dst, int32(n))
	return appendModifiedUTF8(dst, s)
}

// AppendTextBytes is AppendText for text held as UTF-8 bytes (a core
// message body): ASCII text, the common case, is copied as it is, without
// the string conversion AppendText would need.
func AppendTextBytes(dst, text []byte) []byte {
	if !isASCIIBytes(text) || len(text) > math.MaxInt32 {
		return AppendText(dst, string(text))
	}
	dst = slices.Grow(dst, 4+len(text))
	dst = putI32(dst, int32(len(text)))
	return append(dst, text...)
}

// DecodeTextBytes is DecodeText returning the text as UTF-8 bytes. ASCII
// text, the common case, is returned as a slice of content (no copy), so it
// shares content's memory: the caller must not modify content while it
// holds the result.
func DecodeTextBytes(content []byte) (text []byte, null bool, err error) {
	if len(content) >= 4 {
		n := int32(binary.BigEndian.Uint32(content))
		if t := content[4:]; int(n) == len(t) && isASCIIBytes(t) {
			return t, false, nil
		}
	}
	s, null, err := DecodeText(content)
	if err != nil || null {
		return nil, null, err
	}
	return []byte(s), false, nil
}

// Text returns a TextMessage's text, inflating a compressed body.
func (m *Message) Text(limit int) (string, error) {
	b, err := m.Body(limit)
	if err != nil {
		return "", err
	}
	s, _, err := DecodeText(b)
	return s, err
}

// SetText stores s as the body.
func (m *Message) SetText(s string, compress bool) {
	m.SetBody(AppendText(nil, s), compress)
}
