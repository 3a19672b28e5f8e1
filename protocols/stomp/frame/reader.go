package frame

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// Default limits, used for any Limits field left at zero.
const (
	DefaultMaxBodySize     = 10 << 20
	DefaultMaxHeaders      = 1000
	DefaultMaxHeaderLength = 64 << 10
	// DefaultHeaderAllowance is what a zero MaxFrameSize allows on top of
	// MaxBodySize for the command and header lines.
	DefaultHeaderAllowance = 1 << 20
)

// Limits bound what a Reader accepts. Each one is checked before the data it
// guards is buffered, so a peer cannot make the reader hold more than about
// MaxFrameSize bytes. A field <= 0 takes its default.
type Limits struct {
	// MaxFrameSize bounds the whole frame: command line, header lines, body and
	// terminators. Default: MaxBodySize + DefaultHeaderAllowance.
	MaxFrameSize int
	// MaxHeaders bounds the number of header lines. Default 1000.
	MaxHeaders int
	// MaxHeaderLength bounds one command or header line as sent (escaped,
	// without its EOL). Default 64 KiB.
	MaxHeaderLength int
	// MaxBodySize bounds the body; a larger content-length is refused before
	// any of the body is read. Default 10 MiB.
	MaxBodySize int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodySize <= 0 {
		l.MaxBodySize = DefaultMaxBodySize
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderLength <= 0 {
		l.MaxHeaderLength = DefaultMaxHeaderLength
	}
	if l.MaxFrameSize <= 0 {
		l.MaxFrameSize = l.MaxBodySize + DefaultHeaderAllowance
	}
	return l
}

const (
	// minBufSize is the initial read buffer. Bodies with a content-length
	// larger than what is buffered are read straight into their own slice, so
	// the buffer only needs to hold header lines and small frames.
	minBufSize = 4 << 10
	// Scratch space grown past these by an unusual frame is released rather
	// than kept for the life of the connection.
	maxKeptScratch = 64 << 10
	maxKeptOffsets = 1 << 10
	// maxEmptyReads mirrors bufio: a reader that keeps returning 0, nil is broken.
	maxEmptyReads = 100
)

var errBufferFull = errors.New("buffer full")

// Byte classes that matter when scanning a header line.
const (
	clColon = 1 << iota
	clBackslash
	clHigh // non-ASCII: UTF-8 must be validated
)

var byteClass = func() (t [256]uint8) {
	t[':'] = clColon
	t['\\'] = clBackslash
	for c := 0x80; c < 0x100; c++ {
		t[c] = clHigh
	}
	return t
}()

// Reader decodes frames from a byte stream with its own bounded buffer.
// It is not safe for concurrent use.
type Reader struct {
	rd   io.Reader
	lim  Limits
	ver  Version
	buf  []byte
	r, w int   // buffered data is buf[r:w]
	rerr error // read error that arrived together with data, returned once the data is used
	err  error // sticky error: the stream position is lost

	// The header scratch, made by the first frame after Release: a pointer,
	// so that an idle connection's Reader is 48 bytes smaller.
	hdr *headerScratch

	// tiny receives the first bytes after the buffer ran empty: an idle
	// connection then holds no read buffer, only these bytes (see fill).
	tiny *[idleReadSize]byte
}

// headerScratch is where ReadFrame assembles a frame's headers.
type headerScratch struct {
	scratch []byte // unescaped header text of the frame being read
	offs    []int  // per header: end of key, end of value, in scratch
}

// idleReadSize is how much an idle connection reads before it takes a full
// buffer from the pool; most small frames fit in it whole.
const idleReadSize = 256

// bufPool holds the standard read buffers of connections that are not reading.
var bufPool = sync.Pool{New: func() any { b := make([]byte, minBufSize); return &b }}

// NewReader returns a Reader decoding STOMP 1.0 until SetVersion says otherwise.
func NewReader(rd io.Reader, lim Limits) *Reader {
	return &Reader{rd: rd, lim: lim.withDefaults()}
}

// Reset makes r read from rd as a fresh Reader would, keeping its limits and
// buffers; it lets a server pool Readers across connections.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.ver = V1_0
	r.r, r.w = 0, 0
	r.rerr, r.err = nil, nil
}

// SetVersion sets the version whose escaping rules apply to the next frames.
// Call it once CONNECT/CONNECTED has negotiated the version: those two frames
// are never escaped, so reading them at the default 1.0 is right.
func (r *Reader) SetVersion(v Version) { r.ver = v }

// Version returns the version set by SetVersion.
func (r *Reader) Version() Version { return r.ver }

// Buffered returns the number of bytes already read from the stream and not
// yet decoded. A server can flush its pending writes when it reaches 0.
func (r *Reader) Buffered() int { return r.w - r.r }

// Read returns the next frame in a newly allocated Frame, skipping
// heart-beats. A server that watches heart-beats uses ReadFrame instead.
func (r *Reader) Read() (*Frame, error) {
	f := new(Frame)
	for {
		hb, err := r.ReadFrame(f)
		if err != nil {
			return nil, err
		}
		if !hb {
			return f, nil
		}
	}
}

// ReadFrame decodes the next frame into f, or reports heart-beats.
//
// Filling a caller-provided Frame lets a connection reuse one Frame and its
// Headers array, so a typical frame costs two allocations: one string holding
// all header keys and values, and the body. The Headers backing array is
// overwritten by the next call; Body and the header strings are never reused
// and may be kept.
//
// When the stream holds only EOLs before the next frame, they are consumed and
// ReadFrame returns heartbeat == true without blocking for more, leaving f
// untouched: every heart-beat is seen as soon as it arrives. EOLs directly
// followed by a frame in the same read are not reported; the frame itself shows
// the peer is alive. EOLs buffered right after a frame's NUL are consumed with
// the frame.
//
// At a frame boundary the error is io.EOF for a clean end of stream, or the
// underlying read error (wrapped), and the Reader can be used again. Any error
// inside a frame is final and returned by every later call; for bad input it is
// a *ProtocolError. After an error the contents of f are unspecified.
func (r *Reader) ReadFrame(f *Frame) (heartbeat bool, err error) {
	if r.err != nil {
		return false, r.err
	}
	hb, err := r.skipEOLs()
	if err != nil {
		return false, err
	}
	if hb {
		return true, nil
	}
	if err := r.readFrame(f); err != nil {
		r.err = err
		return false, err
	}
	return false, nil
}

// skipEOLs consumes heart-beat EOLs. It returns heartbeat once at least one
// was consumed and no more data is buffered, and false once a frame's first
// byte is buffered.
func (r *Reader) skipEOLs() (heartbeat bool, err error) {
	skipped := false
	for {
		partialCR := false
	scan:
		for r.r < r.w {
			switch r.buf[r.r] {
			case '\n':
				r.r++
				skipped = true
			case '\r':
				if r.r+1 == r.w {
					partialCR = true
					break scan
				}
				if r.buf[r.r+1] != '\n' {
					return false, nil // not an EOL: the command parser rejects it
				}
				r.r += 2
				skipped = true
			default:
				return false, nil
			}
		}
		if skipped {
			return true, nil
		}
		if err := r.fill(minBufSize); err != nil {
			if partialCR {
				r.err = r.midFrameErr(err)
				return false, r.err
			}
			if err == io.EOF {
				return false, io.EOF
			}
			return false, fmt.Errorf("stomp: read: %w", err)
		}
	}
}

// midFrameErr turns an error of the underlying reader met inside a frame into
// the error reported to the caller.
func (r *Reader) midFrameErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return protoErr(io.ErrUnexpectedEOF, "connection closed in the middle of a frame")
	}
	return fmt.Errorf("stomp: read: %w", err)
}

func (r *Reader) readFrame(f *Frame) error {
	lim := &r.lim
	line, err := r.readLine()
	if err != nil {
		return r.midFrameErr(err)
	}
	size := len(line) + 1
	cmd, err := parseCommand(line)
	if err != nil {
		return err
	}
	escaped := r.ver >= V1_1 && cmd != CmdConnect && cmd != CmdStomp && cmd != CmdConnected
	strictUTF8 := r.ver >= V1_1

	sc := r.hdr
	if sc == nil {
		sc = new(headerScratch)
		r.hdr = sc
	}
	sc.scratch = sc.scratch[:0]
	sc.offs = sc.offs[:0]
	for {
		line, err := r.readLine()
		if err != nil {
			return r.midFrameErr(err)
		}
		size += len(line) + 1
		if size > lim.MaxFrameSize {
			return protoErr(ErrFrameTooLarge, "frame headers exceed the maximum frame size of "+itoa(lim.MaxFrameSize)+" bytes")
		}
		if len(line) == 0 {
			break
		}
		if len(sc.offs)/2 >= lim.MaxHeaders {
			return protoErr(ErrTooManyHeaders, "frame has more than "+itoa(lim.MaxHeaders)+" headers")
		}
		// One pass finds the separator and whether the slow paths (escapes,
		// UTF-8 validation) are needed at all; most header lines are short ASCII.
		colon := -1
		var seen uint8
		for i, c := range line {
			if k := byteClass[c]; k != 0 {
				if k == clColon && colon < 0 {
					colon = i
				}
				seen |= k
			}
		}
		if colon < 0 {
			return protoErr(ErrMalformed, fmt.Sprintf("header line without ':': %q", truncate(line)))
		}
		if colon == 0 {
			return protoErr(ErrMalformed, fmt.Sprintf("header line with an empty name: %q", truncate(line)))
		}
		if strictUTF8 && seen&clHigh != 0 && !utf8.Valid(line) {
			return protoErr(ErrMalformed, fmt.Sprintf("header is not valid UTF-8: %q", truncate(line)))
		}
		// scratch holds key ':' value per header; offs records where each key
		// and value ends.
		if escaped && seen&clBackslash != 0 {
			key := line[:colon]
			if sc.scratch, err = unescape(sc.scratch, key, key, r.ver); err != nil {
				return err
			}
			keyEnd := len(sc.scratch)
			sc.scratch = append(sc.scratch, ':')
			if sc.scratch, err = unescape(sc.scratch, line[colon+1:], key, r.ver); err != nil {
				return err
			}
			sc.offs = append(sc.offs, keyEnd, len(sc.scratch))
		} else {
			keyEnd := len(sc.scratch) + colon
			sc.scratch = append(sc.scratch, line...)
			sc.offs = append(sc.offs, keyEnd, len(sc.scratch))
		}
	}

	// One string for all keys and values: the headers cost one allocation
	// however many there are.
	block := string(sc.scratch)
	old := len(f.Headers)
	hs := f.Headers[:0]
	start := 0
	contentLength := -1
	for i := 0; i < len(sc.offs); i += 2 {
		h := Header{Key: block[start:sc.offs[i]], Value: block[sc.offs[i]+1 : sc.offs[i+1]]}
		start = sc.offs[i+1]
		if contentLength < 0 && h.Key == HdrContentLength {
			if contentLength, err = r.parseContentLength(h.Value, size); err != nil {
				return err
			}
		}
		hs = append(hs, h)
	}
	if old > len(hs) {
		clear(hs[len(hs):old]) // let the previous frame's strings go
	}
	if cap(sc.scratch) > maxKeptScratch {
		sc.scratch = nil
	}
	if cap(sc.offs) > maxKeptOffsets {
		sc.offs = nil
	}

	var body []byte
	if contentLength >= 0 {
		body, err = r.readBodyN(contentLength)
	} else {
		body, err = r.readBodyNUL(size)
	}
	if err != nil {
		return err
	}
	r.skipBufferedEOLs()

	f.Command = cmd
	f.Headers = hs
	f.Body = body
	return nil
}

// parseContentLength checks the declared length against the limits before
// any of the body is read.
func (r *Reader) parseContentLength(s string, size int) (int, error) {
	if s == "" {
		return 0, protoErr(ErrMalformed, "empty content-length header")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, protoErr(ErrMalformed, fmt.Sprintf("invalid content-length %q: not a non-negative integer", truncate(s)))
		}
		if n = n*10 + int(c-'0'); n > r.lim.MaxBodySize {
			return 0, protoErr(ErrBodyTooLarge, fmt.Sprintf("message too large: %s bytes, limit %d", truncate(s), r.lim.MaxBodySize))
		}
	}
	if size+n+1 > r.lim.MaxFrameSize {
		return 0, protoErr(ErrFrameTooLarge, fmt.Sprintf("content-length %d makes the frame exceed the maximum frame size of %d bytes", n, r.lim.MaxFrameSize))
	}
	return n, nil
}

// readBodyN reads a body of exactly n bytes and its NUL terminator.
func (r *Reader) readBodyN(n int) ([]byte, error) {
	var body []byte
	if n > 0 {
		body = make([]byte, n)
		k := copy(body, r.buf[r.r:r.w])
		r.r += k
		// A rest that fits in the buffer goes through it, so one read also
		// brings in the frames that follow.
		for k < n && n-k < len(r.buf) {
			if err := r.fill(len(r.buf)); err != nil {
				return nil, r.midFrameErr(err)
			}
			c := copy(body[k:], r.buf[r.r:r.w])
			r.r += c
			k += c
		}
		if k < n {
			// A larger rest goes straight from the stream into the body: it
			// is never copied through the buffer.
			if r.rerr != nil {
				return nil, r.midFrameErr(r.rerr)
			}
			if _, err := io.ReadFull(r.rd, body[k:]); err != nil {
				return nil, r.midFrameErr(err)
			}
		}
	}
	if r.r == r.w {
		if err := r.fill(minBufSize); err != nil {
			return nil, r.midFrameErr(err)
		}
	}
	if r.buf[r.r] != 0 {
		return nil, protoErr(ErrMalformed, "frame body is not terminated by NUL after content-length "+itoa(n)+" bytes")
	}
	r.r++
	return body, nil
}

// readBodyNUL reads a body up to the first NUL. size is the frame size so far.
func (r *Reader) readBodyNUL(size int) ([]byte, error) {
	var body []byte
	for {
		data := r.buf[r.r:r.w]
		n := bytes.IndexByte(data, 0)
		if n < 0 {
			n = len(data)
		}
		if len(body)+n > r.lim.MaxBodySize {
			return nil, protoErr(ErrBodyTooLarge, "message too large: more than "+itoa(r.lim.MaxBodySize)+" bytes, limit "+itoa(r.lim.MaxBodySize))
		}
		if size+len(body)+n+1 > r.lim.MaxFrameSize {
			return nil, protoErr(ErrFrameTooLarge, "frame exceeds the maximum frame size of "+itoa(r.lim.MaxFrameSize)+" bytes")
		}
		body = append(body, data[:n]...)
		if n < len(data) {
			r.r += n + 1
			return body, nil
		}
		r.r = r.w
		if err := r.fill(minBufSize); err != nil {
			return nil, r.midFrameErr(err)
		}
	}
}

// skipBufferedEOLs drops EOLs that trail a frame, without blocking.
func (r *Reader) skipBufferedEOLs() {
	for r.r < r.w {
		switch {
		case r.buf[r.r] == '\n':
			r.r++
		case r.buf[r.r] == '\r' && r.r+1 < r.w && r.buf[r.r+1] == '\n':
			r.r += 2
		default:
			return
		}
	}
}

// readLine returns the next line without its EOL (LF or CR LF). The slice
// aliases the buffer and is valid until the next fill. A line longer than
// MaxHeaderLength is refused as soon as that many bytes have arrived without
// an LF.
func (r *Reader) readLine() ([]byte, error) {
	maxLen := r.lim.MaxHeaderLength
	scanned := 0
	for {
		if i := bytes.IndexByte(r.buf[r.r+scanned:r.w], '\n'); i >= 0 {
			end := r.r + scanned + i
			line := r.buf[r.r:end]
			r.r = end + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > maxLen {
				return nil, r.lineTooLong()
			}
			return line, nil
		}
		scanned = r.w - r.r
		// maxLen bytes of content plus CR LF must contain the LF.
		if scanned >= maxLen+2 {
			return nil, r.lineTooLong()
		}
		if err := r.fill(max(maxLen+2, minBufSize)); err != nil {
			if err == errBufferFull {
				return nil, r.lineTooLong()
			}
			return nil, err
		}
	}
}

func (r *Reader) lineTooLong() error {
	return protoErr(ErrHeaderTooLong, "command or header line exceeds the maximum of "+itoa(r.lim.MaxHeaderLength)+" bytes")
}

// fill reads more data into the buffer, moving the unread bytes to its front
// first and growing it up to limit bytes if it is full. It returns the pending
// or new read error only when no data arrived.
func (r *Reader) fill(limit int) error {
	if r.rerr != nil {
		err := r.rerr
		r.rerr = nil
		return err
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == 0 {
		return r.fillIdle()
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= limit {
			return errBufferFull
		}
		nb := make([]byte, min(max(2*len(r.buf), minBufSize), limit))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return errors.New("invalid count returned by the underlying reader")
		}
		r.w += n
		if err != nil {
			if n > 0 {
				r.rerr = err
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// Release gives back the memory an idle reader holds: its buffer, when
// nothing is buffered, and its small array. A server calls it when it parks a
// quiet connection without a reading goroutine.
func (r *Reader) Release() {
	if r.r == r.w && r.rerr == nil {
		if len(r.buf) == minBufSize {
			b := r.buf
			bufPool.Put(&b)
		}
		r.buf, r.r, r.w = nil, 0, 0
	}
	// The header scratch of the last frame (about 110 bytes after a
	// CONNECT) is rebuilt by the next frame; an idle connection keeps none.
	r.hdr = nil
	r.tiny = nil
}

// WaitIdle blocks until the peer sends something when nothing is buffered,
// holding no read buffer meanwhile. A server calls it at the top of its read
// loop so the goroutine of an idle connection waits with a shallow stack,
// which the runtime can shrink. It returns at once when data is buffered.
func (r *Reader) WaitIdle() error {
	if r.err != nil || r.rerr != nil || r.r < r.w {
		return nil
	}
	r.r, r.w = 0, 0
	return r.fillIdle()
}

// fillIdle reads into the small array when nothing is buffered, so that a
// connection waiting for its peer does not pin a read buffer; the buffer goes
// back to the pool and is taken again when data arrives.
func (r *Reader) fillIdle() error {
	if len(r.buf) == minBufSize {
		b := r.buf
		bufPool.Put(&b)
	}
	r.buf = nil
	var n int
	var err error
	if r.tiny == nil {
		r.tiny = new([idleReadSize]byte)
	}
	for range maxEmptyReads {
		n, err = r.rd.Read(r.tiny[:])
		if n < 0 || n > len(r.tiny) {
			return errors.New("invalid count returned by the underlying reader")
		}
		if n > 0 || err != nil {
			break
		}
	}
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	r.buf = *bufPool.Get().(*[]byte)
	r.w = copy(r.buf, r.tiny[:n])
	r.rerr = err
	return nil
}

// parseCommand validates a command line and interns known commands so they
// cost no allocation.
func parseCommand(line []byte) (string, error) {
	// Tolerate trailing blanks some 1.0 clients send; anything else outside
	// printable ASCII is not a command.
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return "", protoErr(ErrMalformed, "empty command line")
	}
	for _, c := range line {
		if c < 0x21 || c > 0x7e {
			return "", protoErr(ErrMalformed, fmt.Sprintf("invalid command line %q", truncate(line)))
		}
	}
	switch string(line) {
	case CmdSend:
		return CmdSend, nil
	case CmdAck:
		return CmdAck, nil
	case CmdNack:
		return CmdNack, nil
	case CmdMessage:
		return CmdMessage, nil
	case CmdSubscribe:
		return CmdSubscribe, nil
	case CmdUnsubscribe:
		return CmdUnsubscribe, nil
	case CmdBegin:
		return CmdBegin, nil
	case CmdCommit:
		return CmdCommit, nil
	case CmdAbort:
		return CmdAbort, nil
	case CmdReceipt:
		return CmdReceipt, nil
	case CmdConnect:
		return CmdConnect, nil
	case CmdStomp:
		return CmdStomp, nil
	case CmdConnected:
		return CmdConnected, nil
	case CmdDisconnect:
		return CmdDisconnect, nil
	case CmdError:
		return CmdError, nil
	}
	return string(line), nil
}

// unescape appends src to dst with STOMP 1.1/1.2 escapes decoded. key names
// the header in error messages.
func unescape(dst, src, key []byte, v Version) ([]byte, error) {
	for {
		i := bytes.IndexByte(src, '\\')
		if i < 0 {
			return append(dst, src...), nil
		}
		dst = append(dst, src[:i]...)
		if i+1 == len(src) {
			return nil, protoErr(ErrMalformed, fmt.Sprintf("incomplete escape sequence at the end of header %q", truncate(key)))
		}
		switch c := src[i+1]; c {
		case 'n':
			dst = append(dst, '\n')
		case 'c':
			dst = append(dst, ':')
		case '\\':
			dst = append(dst, '\\')
		case 'r':
			if v < V1_2 {
				return nil, protoErr(ErrMalformed, fmt.Sprintf(`undefined escape sequence \r in header %q (STOMP %s)`, truncate(key), v))
			}
			dst = append(dst, '\r')
		default:
			return nil, protoErr(ErrMalformed, fmt.Sprintf("undefined escape sequence %q in header %q", string(src[i:i+2]), truncate(key)))
		}
		src = src[i+2:]
	}
}
