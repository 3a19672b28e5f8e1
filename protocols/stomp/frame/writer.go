package frame

import (
	"bytes"
	"strconv"
)

// escMode is how header text is written for one frame.
type escMode uint8

const (
	// escNone: STOMP 1.0, and CONNECT/STOMP/CONNECTED in every version. There
	// is no escape, so bytes that would break the framing are replaced: CR and
	// LF by a space, ':' in a header name by '_'.
	escNone escMode = iota
	// esc11: \\ \n \c; CR has no escape in 1.1 and becomes a space.
	esc11
	// esc12: \\ \n \c \r.
	esc12
)

func modeFor(v Version, command string) escMode {
	if v < V1_1 || command == CmdConnect || command == CmdStomp || command == CmdConnected {
		return escNone
	}
	if v == V1_1 {
		return esc11
	}
	return esc12
}

// needsWork marks bytes that may have to be escaped or replaced; text without
// them is copied as is.
var needsWork = [256]bool{'\\': true, '\n': true, '\r': true, ':': true}

func appendText[T string | []byte](dst []byte, s T, mode escMode, isKey bool) []byte {
	i := 0
	for i < len(s) && !needsWork[s[i]] {
		i++
	}
	if i == len(s) {
		return append(dst, s...)
	}
	dst = append(dst, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if mode != escNone {
				dst = append(dst, '\\', '\\')
				continue
			}
		case '\n':
			if mode != escNone {
				dst = append(dst, '\\', 'n')
				continue
			}
			c = ' '
		case '\r':
			if mode == esc12 {
				dst = append(dst, '\\', 'r')
				continue
			}
			c = ' '
		case ':':
			if mode != escNone {
				dst = append(dst, '\\', 'c')
				continue
			}
			if isKey {
				c = '_'
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// Encoder appends one frame to a byte slice without building a Frame, for
// hot paths such as MESSAGE delivery. Use it as a local value; it does not
// allocate beyond growing the destination slice:
//
//	var e frame.Encoder
//	e.Begin(buf, frame.V1_2, frame.CmdMessage)
//	e.Header(frame.HdrSubscription, sub)
//	e.HeaderUint(frame.HdrMessageID, id)
//	e.Header(frame.HdrDestination, dest)
//	buf = e.Body(body)
//
// Header text is escaped as the version requires; where the version has no
// escape (1.0, CONNECT, STOMP and CONNECTED frames) CR and LF are replaced by a
// space and ':' in a name by '_', so no header can inject another one.
type Encoder struct {
	buf  []byte
	mode escMode
}

// Begin starts a frame for command, appended to dst, encoded for version v.
func (e *Encoder) Begin(dst []byte, v Version, command string) {
	e.mode = modeFor(v, command)
	e.buf = appendText(dst, command, escNone, false)
	e.buf = append(e.buf, '\n')
}

// Header appends a header. A content-length header is ignored: Body writes
// the real one.
func (e *Encoder) Header(key, value string) {
	if key == HdrContentLength {
		return
	}
	e.buf = appendText(e.buf, key, e.mode, true)
	e.buf = append(e.buf, ':')
	e.buf = appendText(e.buf, value, e.mode, false)
	e.buf = append(e.buf, '\n')
}

// HeaderBytes is Header for a value held as bytes.
func (e *Encoder) HeaderBytes(key string, value []byte) {
	if key == HdrContentLength {
		return
	}
	e.buf = appendText(e.buf, key, e.mode, true)
	e.buf = append(e.buf, ':')
	e.buf = appendText(e.buf, value, e.mode, false)
	e.buf = append(e.buf, '\n')
}

// HeaderInt appends a header with a decimal value.
func (e *Encoder) HeaderInt(key string, n int64) {
	if key == HdrContentLength {
		return
	}
	e.buf = appendText(e.buf, key, e.mode, true)
	e.buf = append(e.buf, ':')
	e.buf = strconv.AppendInt(e.buf, n, 10)
	e.buf = append(e.buf, '\n')
}

// HeaderUint appends a header with a decimal value.
func (e *Encoder) HeaderUint(key string, n uint64) {
	if key == HdrContentLength {
		return
	}
	e.buf = appendText(e.buf, key, e.mode, true)
	e.buf = append(e.buf, ':')
	e.buf = strconv.AppendUint(e.buf, n, 10)
	e.buf = append(e.buf, '\n')
}

// Body ends the frame with body and returns the completed slice. A non-empty
// body always gets a content-length header: it is what lets a body carry NULs,
// and it spares the peer a byte-by-byte scan for the terminator.
func (e *Encoder) Body(body []byte) []byte {
	return e.finish(body, len(body) > 0)
}

// BodyWithoutLength ends the frame without a content-length header unless the
// body contains a NUL, which only content-length can carry. Some brokers read
// an absent content-length as "text message"; this lets a client keep that
// meaning.
func (e *Encoder) BodyWithoutLength(body []byte) []byte {
	return e.finish(body, bytes.IndexByte(body, 0) >= 0)
}

func (e *Encoder) finish(body []byte, withLength bool) []byte {
	b := e.buf
	if withLength {
		b = append(b, HdrContentLength+":"...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, body...)
	b = append(b, 0)
	e.buf = nil // the Encoder must not keep aliasing the caller's slice
	return b
}

// AppendFrame appends f encoded for version v to dst.
//
// content-length is always computed, never copied: a non-empty body always
// gets one, and a frame that carries a content-length header (whatever its
// value) gets the true length even for an empty body. Escaping follows v
// except for CONNECT, STOMP and CONNECTED frames, which are never escaped
// (see Encoder). Lines end with LF, valid in every version.
func AppendFrame(dst []byte, f *Frame, v Version) []byte {
	var e Encoder
	e.Begin(dst, v, f.Command)
	hasLength := false
	for i := range f.Headers {
		h := &f.Headers[i]
		if h.Key == HdrContentLength {
			hasLength = true
			continue
		}
		e.Header(h.Key, h.Value)
	}
	return e.finish(f.Body, hasLength || len(f.Body) > 0)
}
