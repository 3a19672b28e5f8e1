package wire

import (
	"errors"
	"fmt"
)

// Categories of decoding failures; a *DecodeError wraps exactly one, so the
// server can test with errors.Is.
var (
	// ErrBadMagic: a WireFormatInfo whose magic is not "ActiveMQ".
	ErrBadMagic = errors.New("bad magic")
	// ErrUnknownType: a data structure type id with no marshaller in the
	// negotiated version (or a nested object of a type the field cannot hold).
	ErrUnknownType = errors.New("unknown data structure type")
	// ErrNotCommand: a top-level frame holding a data structure that is not a
	// command (an id, a destination, a journal record).
	ErrNotCommand = errors.New("data structure is not a command")
	// ErrTruncated: the frame ends inside a field.
	ErrTruncated = errors.New("truncated command")
	// ErrTrailing: bytes are left in the frame after the command.
	ErrTrailing = errors.New("trailing bytes after command")
	// ErrFrameTooLarge: the size prefix exceeds Format.MaxFrameSize, or is
	// negative.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrCacheIndex: a marshalling cache index outside the negotiated cache,
	// or a reference to a slot never filled.
	ErrCacheIndex = errors.New("bad marshalling cache index")
	// ErrLength: a length or count that is negative or larger than the bytes
	// left in the frame.
	ErrLength = errors.New("bad length")
	// ErrPrimitive: a primitive map, list or stream with a bad type tag.
	ErrPrimitive = errors.New("bad primitive value")
	// ErrNesting: objects or primitive maps nested deeper than allowed.
	ErrNesting = errors.New("nesting too deep")
	// ErrUTF: a string that is not valid (modified) UTF-8.
	ErrUTF = errors.New("malformed string")
	// ErrInflate: a compressed body that does not inflate or inflates past
	// the limit.
	ErrInflate = errors.New("bad compressed body")
	// ErrEncode: a value this package cannot marshal (a string too long for
	// its field, a nil where a type is required, ...).
	ErrEncode = errors.New("cannot encode")
)

// DecodeError reports a command that could not be decoded. The frame was
// consumed whole (frames are size-prefixed), so the stream stays in step: the
// server may answer with an ExceptionResponse to CommandID when
// ResponseRequired is set (HaveBase tells whether those two fields were
// read), or with a ConnectionError and close.
type DecodeError struct {
	Type             byte // the frame's data structure type; 0 if not read
	HaveBase         bool
	CommandID        int32
	ResponseRequired bool
	Msg              string
	Err              error // one of the Err* categories
	// Fatal is set when the stream position is lost (the size prefix itself
	// was bad, or the connection's reader failed): the connection must close.
	Fatal bool
}

func (e *DecodeError) Error() string {
	if e.Type != 0 {
		return fmt.Sprintf("openwire: %s: %s", TypeName(e.Type), e.Msg)
	}
	return "openwire: " + e.Msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// errf builds the error that unwinds a decode; the frame-level code adds the
// type and base command fields.
func errf(cat error, format string, args ...any) error {
	return &DecodeError{Err: cat, Msg: fmt.Sprintf(format, args...)}
}

// clip keeps peer-controlled text short before it goes into an error message
// that travels back to the peer.
func clip(s string) string {
	const keep = 64
	if len(s) > keep {
		return s[:keep] + "..."
	}
	return s
}
