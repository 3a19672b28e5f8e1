package packet

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// readerBufSize is the buffer every Reader starts with and returns to: it
	// holds many small packets, so one Read usually fetches several.
	readerBufSize = 4 << 10
	// readerKeepSize is the largest buffer a Reader keeps after a big
	// packet; anything larger is dropped once the packet is consumed so a
	// burst of large packets does not pin memory on an idle connection.
	readerKeepSize = 64 << 10
)

// Reader reads whole MQTT packets from a stream into a buffer it reuses.
// It is not safe for concurrent use.
type Reader struct {
	r     io.Reader
	max   int
	buf   []byte // len(buf) == cap(buf); data is buf[start:end]
	start int
	end   int
	err   error // sticky read error, reported once buffered data runs out

	// tiny receives the first bytes after the buffer ran empty: an idle
	// connection then holds no read buffer, only these bytes (see fill).
	tiny *[idleReadSize]byte
}

// idleReadSize is how much an idle connection reads before it takes a full
// buffer from the pool; most small packets fit in it whole.
const idleReadSize = 256

// bufPool holds the standard read buffers of connections that are not reading.
var bufPool = sync.Pool{New: func() any { b := make([]byte, readerBufSize); return &b }}

// NewReader returns a Reader that refuses packets larger than maxPacketSize
// bytes in total (fixed header included), the Maximum Packet Size a 5.0
// server announces in CONNACK. maxPacketSize <= 0 means the protocol limit.
func NewReader(r io.Reader, maxPacketSize int) *Reader {
	if maxPacketSize <= 0 || maxPacketSize > MaxPacketSize {
		maxPacketSize = MaxPacketSize
	}
	return &Reader{r: r, max: maxPacketSize}
}

// Buffered returns the number of bytes already read from the stream but not
// yet returned as packets. A server can flush its writes when it reaches 0,
// coalescing the replies to a pipelined batch.
func (r *Reader) Buffered() int { return r.end - r.start }

// Complete reports whether the next ReadPacket returns without reading: a
// whole packet, or a fixed header it refuses, is buffered. A server that
// holds work back until its input runs dry asks this rather than Buffered:
// the start of a packet whose rest is still on its way is not more input.
func (r *Reader) Complete() bool {
	fh, hl, err := ParseFixedHeader(r.buf[r.start:r.end])
	if err != nil {
		return err != ErrIncomplete
	}
	return r.end-r.start >= hl+fh.Remaining || hl+fh.Remaining > r.max
}

// ReadPacket reads the next whole packet and returns its fixed header and
// body. The body aliases the Reader's buffer and is valid only until the
// next call. A packet larger than the maximum is refused from its fixed
// header with a Packet too large *Error, before its body is read; a bad
// fixed header yields a Malformed Packet *Error. At a clean end of stream
// (no partial packet) it returns io.EOF; a stream ending inside a packet
// yields io.ErrUnexpectedEOF. After any error the Reader must not be used.
func (r *Reader) ReadPacket() (FixedHeader, []byte, error) {
	r.reclaim()
	var (
		fh  FixedHeader
		hl  int
		err error
	)
	for {
		fh, hl, err = ParseFixedHeader(r.buf[r.start:r.end])
		if err == nil {
			break
		}
		if err != ErrIncomplete {
			return FixedHeader{}, nil, err
		}
		if err := r.fill(); err != nil {
			return FixedHeader{}, nil, err
		}
	}
	total := hl + fh.Remaining
	if total > r.max {
		return FixedHeader{}, nil, errCode(PacketTooLarge,
			fmt.Sprintf("%v of %d bytes exceeds the maximum packet size %d", fh.Type, total, r.max))
	}
	if r.start+total > len(r.buf) {
		if total > len(r.buf) {
			// One allocation sized to the packet, rounded up so the
			// read-ahead behind it has room.
			nb := make([]byte, (total+readerBufSize-1)/readerBufSize*readerBufSize)
			r.end = copy(nb, r.buf[r.start:r.end])
			r.start = 0
			r.buf = nb
		} else {
			r.compact()
		}
	}
	for r.end-r.start < total {
		if err := r.fill(); err != nil {
			return FixedHeader{}, nil, err
		}
	}
	body := r.buf[r.start+hl : r.start+total : r.start+total]
	r.start += total
	return fh, body, nil
}

// reclaim rewinds an empty buffer and drops an oversized one once the big
// packet it held has been consumed.
func (r *Reader) reclaim() {
	n := r.end - r.start
	if n == 0 {
		// Nothing buffered: hand the buffer back so an idle connection holds
		// none (the previous packet's body, which aliased it, is done with).
		if len(r.buf) == readerBufSize {
			b := r.buf
			bufPool.Put(&b)
		}
		r.buf, r.start, r.end = nil, 0, 0
		return
	}
	if len(r.buf) > readerKeepSize && n <= readerBufSize {
		nb := *bufPool.Get().(*[]byte)
		copy(nb, r.buf[r.start:r.end])
		r.buf, r.start, r.end = nb, 0, n
	}
}

func (r *Reader) compact() {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
}

// fill reads at least one more byte into the buffer, which has free space.
func (r *Reader) fill() error {
	if r.buf == nil {
		return r.fillIdle()
	}
	if r.end == len(r.buf) {
		r.compact()
	}
	partial := r.end > r.start
	for range 100 {
		if r.err != nil {
			return r.readErr(partial)
		}
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("mqtt: read packet: %w", io.ErrNoProgress)
}

// Release gives back the memory an idle reader holds: its buffer, when
// nothing is buffered, and its small array. A server calls it when it parks a
// quiet connection without a reading goroutine.
func (r *Reader) Release() {
	if r.end == r.start {
		r.reclaim()
	}
	r.tiny = nil
}

// WaitIdle blocks until the peer sends something when nothing is buffered,
// holding no read buffer meanwhile; it returns at once when data is
// buffered. A server calls it at the top of its read loop so an idle
// connection waits with a shallow stack. A read error here (a deadline,
// say) leaves the Reader usable.
func (r *Reader) WaitIdle() error {
	if r.end > r.start {
		return nil
	}
	if r.err != nil {
		return r.readErr(false)
	}
	r.reclaim()
	if r.tiny == nil {
		r.tiny = new([idleReadSize]byte)
	}
	for range 100 {
		n, err := r.r.Read(r.tiny[:])
		if n > 0 {
			r.buf = *bufPool.Get().(*[]byte)
			r.start, r.end = 0, copy(r.buf, r.tiny[:n])
			if err != nil {
				r.err = err
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("mqtt: read packet: %w", io.ErrNoProgress)
}

// fillIdle reads into the small array while no buffer is held, then takes
// a buffer from the pool for what follows.
func (r *Reader) fillIdle() error {
	if r.tiny == nil {
		r.tiny = new([idleReadSize]byte)
	}
	for range 100 {
		if r.err != nil {
			return r.readErr(false)
		}
		n, err := r.r.Read(r.tiny[:])
		if err != nil {
			r.err = err
		}
		if n > 0 {
			r.buf = *bufPool.Get().(*[]byte)
			r.start, r.end = 0, copy(r.buf, r.tiny[:n])
			return nil
		}
	}
	return fmt.Errorf("mqtt: read packet: %w", io.ErrNoProgress)
}

func (r *Reader) readErr(partial bool) error {
	if errors.Is(r.err, io.EOF) {
		if partial {
			return io.ErrUnexpectedEOF
		}
		return io.EOF
	}
	return fmt.Errorf("mqtt: read packet: %w", r.err)
}
