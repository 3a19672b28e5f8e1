package frame

import (
	"errors"
	"strconv"
)

// Categories of decoding failures. A ProtocolError wraps exactly one of them
// (or io.ErrUnexpectedEOF for a stream cut inside a frame), so callers can
// test with errors.Is for metrics while sending ProtocolError.Msg to the peer.
var (
	// ErrFrameTooLarge: the whole frame exceeds Limits.MaxFrameSize.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrBodyTooLarge: the body (or its declared content-length) exceeds
	// Limits.MaxBodySize.
	ErrBodyTooLarge = errors.New("frame body too large")
	// ErrHeaderTooLong: a command or header line exceeds Limits.MaxHeaderLength.
	ErrHeaderTooLong = errors.New("header line too long")
	// ErrTooManyHeaders: more than Limits.MaxHeaders headers.
	ErrTooManyHeaders = errors.New("too many headers")
	// ErrMalformed: the bytes are not a STOMP frame (bad command line, header
	// without ':', invalid escape, invalid UTF-8, bad content-length, body not
	// terminated by NUL, ...).
	ErrMalformed = errors.New("malformed frame")
)

// ProtocolError reports input that breaks the STOMP framing rules or the
// configured limits. The connection cannot continue after one: the stream
// position is lost. Msg is written for the peer and is meant to be sent as
// the message header of an ERROR frame before closing.
type ProtocolError struct {
	Msg string
	Err error // the category: one of the Err* variables or io.ErrUnexpectedEOF
}

func (e *ProtocolError) Error() string { return "stomp: " + e.Msg }

func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(cat error, msg string) *ProtocolError {
	return &ProtocolError{Msg: msg, Err: cat}
}

// truncate keeps peer-controlled text short before it is quoted in an error
// message that travels back in an ERROR frame header.
func truncate[T string | []byte](s T) string {
	const keep = 64
	if len(s) > keep {
		return string(s[:keep]) + "..."
	}
	return string(s)
}

func itoa(n int) string { return strconv.Itoa(n) }
