package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// ---- decoding ----

// Decoder decodes the frames one peer sends. It holds that direction's
// unmarshalling cache, so it belongs to the connection's reader goroutine.
// Cached objects are shared between the commands that name them: treat every
// decoded command as read-only.
type Decoder struct {
	f     Format
	cache []cacheSlot
	buf   bytes.Buffer
	// slow turns the fast path (fast.go) off, for the tests that compare
	// the two.
	slow bool
}

type cacheSlot struct {
	v   DataStructure
	set bool
}

// NewDecoder returns a decoder for format f (InitialFormat before the
// handshake).
func NewDecoder(f Format) *Decoder {
	d := &Decoder{}
	d.SetFormat(f)
	return d
}

// SetFormat switches to a negotiated format and empties the cache.
func (d *Decoder) SetFormat(f Format) {
	d.f = f
	d.cache = nil
	if n := f.cacheSlots(); n > 0 {
		d.cache = make([]cacheSlot, n)
	}
}

// Format returns the decoder's format.
func (d *Decoder) Format() Format { return d.f }

// ReadCommand reads one size-prefixed frame from r and decodes it. A
// *DecodeError with Fatal unset leaves r at the next frame; any other error
// (io.EOF, a failed read, a bad size prefix) ends the stream.
func (d *Decoder) ReadCommand(r io.Reader) (Command, error) {
	if br, ok := r.(*bufio.Reader); ok {
		return d.readBuffered(br)
	}
	frame, err := d.ReadFrame(r)
	if err != nil {
		return nil, err
	}
	return d.Decode(frame)
}

// readBuffered is ReadCommand on a buffered reader: a frame that fits in
// br's buffer is decoded where it lies (decoding copies out everything it
// keeps), without copying it into d.buf first; a larger one takes ReadFrame.
func (d *Decoder) readBuffered(br *bufio.Reader) (Command, error) {
	hdr, err := br.Peek(4)
	if err != nil {
		if len(hdr) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		_, _ = br.Discard(len(hdr))
		return nil, err
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr)))
	if size <= 0 || size > d.f.maxFrame() || 4+size > int64(br.Size()) {
		// ReadFrame reports a bad size, and reads a large frame as it comes.
		return d.ReadCommand(struct{ io.Reader }{br})
	}
	frame, err := br.Peek(int(4 + size))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		_, _ = br.Discard(len(frame))
		return nil, err
	}
	c, err := d.Decode(frame[4:])
	_, _ = br.Discard(len(frame))
	return c, err
}

// ReadFrame reads one size-prefixed frame and returns its bytes after the
// prefix (type byte first). The buffer is reused by the next call. It grows
// as bytes arrive, so a peer announcing a large frame must send it before
// this allocates for it.
func (d *Decoder) ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr[:])))
	if size <= 0 || size > d.f.maxFrame() {
		return nil, &DecodeError{Err: ErrFrameTooLarge, Fatal: true,
			Msg: fmt.Sprintf("frame size %d outside 1..%d", size, d.f.maxFrame())}
	}
	d.buf.Reset()
	if d.buf.Cap() > 1<<20 && size < 1<<16 {
		// Do not keep a large buffer alive for small frames.
		d.buf = bytes.Buffer{}
	}
	n, err := io.CopyN(&d.buf, r, size)
	if err != nil {
		if err == io.EOF && n < size {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return d.buf.Bytes(), nil
}

// Decode decodes one frame's bytes (without the size prefix). Only Command
// types are accepted at top level.
func (d *Decoder) Decode(frame []byte) (Command, error) {
	if !d.slow && len(frame) > 0 && d.f.Version >= fastMinVersion && fastTypes[frame[0]] {
		if c, ok := d.decodeFast(frame); ok {
			return c, nil
		}
	}
	ds := &decodeState{f: d.f, cache: d.cache, r: reader{b: frame}, tight: d.f.Tight}
	ds.budget = allocBudget(len(frame))
	t, err := ds.r.u8()
	if err != nil {
		return nil, &DecodeError{Err: ErrTruncated, Msg: "empty frame"}
	}
	v, err := ds.top(t)
	if err == nil && ds.r.left() != 0 {
		err = errf(ErrTrailing, "%d bytes left after the command", ds.r.left())
	}
	if err != nil {
		de := &DecodeError{}
		if !errors.As(err, &de) {
			de = &DecodeError{Err: ErrTruncated, Msg: err.Error()}
		} else if de.Msg != err.Error() {
			// Keep the context added by wrapping (field names), without
			// the inner error's own prefix.
			de = &DecodeError{Err: de.Err, Msg: strings.ReplaceAll(err.Error(), "openwire: ", ""), Fatal: de.Fatal}
		}
		de.Type = t
		de.HaveBase, de.CommandID, de.ResponseRequired = ds.haveBase, ds.cmdID, ds.respReq
		return nil, de
	}
	if t == TypeWireFormatInfo {
		if w := v.(*WireFormatInfo); w.Magic != Magic {
			return nil, &DecodeError{Type: t, Err: ErrBadMagic, Fatal: true,
				Msg: fmt.Sprintf("bad magic %q", clip(string(w.Magic[:])))}
		}
	}
	c, ok := v.(Command)
	if !ok || !plans[t].command && t != TypeWireFormatInfo {
		return nil, &DecodeError{Type: t, Err: ErrNotCommand, Msg: TypeName(t) + " is not a command"}
	}
	return c, nil
}

type decodeState struct {
	f     Format
	cache []cacheSlot
	r     reader
	tight bool
	// the tight encoding's boolean stream
	bits     []byte
	bitPos   int
	depth    int
	top0     bool
	haveBase bool
	cmdID    int32
	respReq  bool
	// Go memory the decoded structs and slices may take: every object
	// costs at least a byte or a bit of input, but a struct is far larger
	// than its null-filled encoding, so the amplification is capped.
	alloc, budget int
}

// allocBudget is what a frame of n bytes may decode into: generous for real
// commands (a message is a few times its encoding), far below what a frame
// of nested, all-null objects would otherwise take.
func allocBudget(n int) int { return 32*n + 64<<10 }

func (s *decodeState) charge(n int) error {
	s.alloc += n
	if s.budget > 0 && s.alloc > s.budget {
		return errf(ErrLength, "frame decodes into more than %d bytes of structures", s.budget)
	}
	return nil
}

func (s *decodeState) top(t byte) (DataStructure, error) {
	if s.tight {
		if err := s.readBits(); err != nil {
			return nil, err
		}
	}
	s.top0 = true
	return s.object(t)
}

// readBits reads the boolean stream that opens a tight frame.
func (s *decodeState) readBits() error {
	b, err := s.r.u8()
	if err != nil {
		return err
	}
	n := int(b)
	switch b {
	case 0xc0:
		b2, err := s.r.u8()
		if err != nil {
			return err
		}
		n = int(b2)
	case 0x80:
		v, err := s.r.u16()
		if err != nil {
			return err
		}
		n = int(int16(v))
	}
	if n < 0 || n > s.r.left() {
		return errf(ErrLength, "boolean stream of %d bytes, %d left", n, s.r.left())
	}
	s.bits = s.r.b[s.r.off : s.r.off+n]
	s.r.off += n
	return nil
}

func (s *decodeState) bitsLeft() int { return len(s.bits)*8 - s.bitPos }

// flag reads a boolean: a bit of the boolean stream in tight encoding, a
// byte in loose.
func (s *decodeState) flag() (bool, error) {
	if !s.tight {
		return s.r.bool()
	}
	if s.bitPos >= len(s.bits)*8 {
		return false, errf(ErrTruncated, "boolean stream exhausted")
	}
	v := s.bits[s.bitPos/8]>>(s.bitPos%8)&1 != 0
	s.bitPos++
	return v, nil
}

func (s *decodeState) object(t byte) (DataStructure, error) {
	p := plans[t]
	if p == nil || s.f.Version < p.since {
		return nil, errf(ErrUnknownType, "unknown data structure type %d (%s) in version %d", t, TypeName(t), s.f.Version)
	}
	if s.depth > maxDepth {
		return nil, errf(ErrNesting, "objects nested deeper than %d", maxDepth)
	}
	if err := s.charge(int(p.goType.Size())); err != nil {
		return nil, err
	}
	s.depth++
	defer func() { s.depth-- }()
	top := s.top0
	s.top0 = false
	pv := reflect.New(p.goType)
	v := pv.Elem()
	if p.init != nil {
		p.init(v, t)
	}
	for i := range p.fields {
		f := &p.fields[i]
		if !f.in(s.f.Version) {
			continue
		}
		if err := s.field(v.FieldByIndex(f.idx), f); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", p.name, f.name, err)
		}
		if top && f.baseEnd {
			s.haveBase = true
			s.cmdID = int32(v.FieldByIndex(p.fields[i-1].idx).Int())
			s.respReq = v.FieldByIndex(f.idx).Bool()
		}
	}
	return pv.Interface().(DataStructure), nil
}

func (s *decodeState) field(v reflect.Value, f *field) error {
	switch f.kind {
	case kBool:
		b, err := s.flag()
		v.SetBool(b)
		return err
	case kByte:
		b, err := s.r.u8()
		v.SetInt(int64(int8(b)))
		return err
	case kInt:
		n, err := s.r.i32()
		v.SetInt(int64(n))
		return err
	case kLong:
		n, err := s.long()
		v.SetInt(n)
		return err
	case kString:
		str, err := s.string()
		v.SetString(str)
		return err
	case kBytes:
		b, err := s.byteArray()
		if b != nil {
			v.SetBytes(b)
		}
		return err
	case kMagic:
		b, err := s.r.bytes(8)
		if err == nil {
			reflect.Copy(v, reflect.ValueOf(b))
		}
		return err
	case kNested:
		o, err := s.nested()
		if err != nil {
			return err
		}
		return assign(v, o)
	case kCached:
		o, err := s.cached()
		if err != nil {
			return err
		}
		// Checked with the cache off too: a cached field holds the same
		// kinds of values either way.
		if o != nil && !cacheable[o.DataType()] {
			return errf(ErrUnknownType, "%s cannot be a cached object", TypeName(o.DataType()))
		}
		return assign(v, o)
	case kThrowable:
		t, err := s.throwable(0)
		if t != nil {
			v.Set(reflect.ValueOf(t))
		}
		return err
	case kArray:
		return s.array(v)
	}
	return errf(ErrUnknownType, "field kind %d", f.kind)
}

// assign stores a decoded object in a field, refusing a type the field
// cannot hold (a ConnectionId where a destination belongs): no wire type ever
// selects behaviour the field's declaration does not allow.
func assign(v reflect.Value, o DataStructure) error {
	if o == nil {
		return nil
	}
	ov := reflect.ValueOf(o)
	if !ov.Type().AssignableTo(v.Type()) {
		return errf(ErrUnknownType, "%s cannot hold %s", v.Type(), TypeName(o.DataType()))
	}
	v.Set(ov)
	return nil
}

func (s *decodeState) long() (int64, error) {
	if !s.tight {
		return s.r.i64()
	}
	hi, err := s.flag()
	if err != nil {
		return 0, err
	}
	lo, err := s.flag()
	if err != nil {
		return 0, err
	}
	switch {
	case hi && lo:
		return s.r.i64()
	case hi:
		n, err := s.r.i32()
		return int64(uint32(n)), err
	case lo:
		n, err := s.r.u16()
		return int64(n), err
	}
	return 0, nil
}

func (s *decodeState) string() (string, error) {
	present, err := s.flag()
	if err != nil || !present {
		return "", err
	}
	if !s.tight {
		return s.r.utf()
	}
	ascii, err := s.flag()
	if err != nil {
		return "", err
	}
	if ascii {
		n, err := s.r.u16()
		if err != nil {
			return "", err
		}
		if int16(n) < 0 {
			return "", errf(ErrLength, "negative string length %d", int16(n))
		}
		return s.r.latin1(int(n))
	}
	return s.r.utf()
}

func (s *decodeState) byteArray() ([]byte, error) {
	present, err := s.flag()
	if err != nil || !present {
		return nil, err
	}
	n, err := s.r.i32()
	if err != nil {
		return nil, err
	}
	return s.r.bytes(int(n))
}

func (s *decodeState) nested() (DataStructure, error) {
	present, err := s.flag()
	if err != nil || !present {
		return nil, err
	}
	t, err := s.r.u8()
	if err != nil {
		return nil, err
	}
	if s.tight && plans[t] != nil && plans[t].marshalAware {
		cachedForm, err := s.flag()
		if err != nil {
			return nil, err
		}
		if cachedForm {
			// The Java writer never sets it; the Java reader would parse a
			// second frame header here. Refuse rather than guess.
			return nil, errf(ErrUnknownType, "%s with the marshalled-form flag set", TypeName(t))
		}
	}
	return s.object(t)
}

// cacheable lists the types a cached field may hold: the ids, destinations
// and transaction ids the Java writer caches. Refusing anything larger keeps
// cache entries small: a cache entry is shared by every later reference, so a
// large one (a message holding references to other entries...) would let a
// few bytes of input stand for an exponentially large object graph.
var cacheable = [256]bool{
	TypeConnectionID: true, TypeSessionID: true, TypeProducerID: true, TypeConsumerID: true,
	TypeBrokerID: true, TypeQueue: true, TypeTopic: true, TypeTempQueue: true, TypeTempTopic: true,
	TypeLocalTransactionID: true, TypeXATransactionID: true,
}

func (s *decodeState) cached() (DataStructure, error) {
	if s.cache == nil {
		return s.nested()
	}
	isNew, err := s.flag()
	if err != nil {
		return nil, err
	}
	u, err := s.r.u16()
	if err != nil {
		return nil, err
	}
	idx := int(int16(u))
	if isNew {
		o, err := s.nested()
		if err != nil {
			return nil, err
		}
		// -1: the Java writer's cache was full, the object is not cached.
		if idx != -1 {
			if idx < 0 || idx >= len(s.cache) {
				return nil, errf(ErrCacheIndex, "cache index %d outside 0..%d", idx, len(s.cache)-1)
			}
			s.cache[idx] = cacheSlot{v: o, set: true}
		}
		return o, nil
	}
	if idx < 0 || idx >= len(s.cache) {
		return nil, errf(ErrCacheIndex, "cache index %d outside 0..%d", idx, len(s.cache)-1)
	}
	if !s.cache[idx].set {
		return nil, errf(ErrCacheIndex, "cache index %d refers to an empty slot", idx)
	}
	return s.cache[idx].v, nil
}

// throwable decodes an exception as plain strings.
func (s *decodeState) throwable(depth int) (*Throwable, error) {
	present, err := s.flag()
	if err != nil || !present {
		return nil, err
	}
	if depth > maxDepth {
		return nil, errf(ErrNesting, "exception causes nested deeper than %d", maxDepth)
	}
	t := &Throwable{}
	if t.Class, err = s.string(); err != nil {
		return nil, err
	}
	if t.Message, err = s.string(); err != nil {
		return nil, err
	}
	if !s.f.StackTrace {
		return t, nil
	}
	u, err := s.r.u16()
	if err != nil {
		return nil, err
	}
	n := int(int16(u))
	// Each frame holds at least its 4-byte line number.
	if n < 0 || n*4 > s.r.left() {
		return nil, errf(ErrLength, "stack trace of %d frames in %d bytes", n, s.r.left())
	}
	if err := s.charge(n * int(reflect.TypeFor[StackFrame]().Size())); err != nil {
		return nil, err
	}
	if n > 0 {
		t.Stack = make([]StackFrame, n)
	}
	for i := range t.Stack {
		fr := &t.Stack[i]
		if fr.Class, err = s.string(); err != nil {
			return nil, err
		}
		if fr.Method, err = s.string(); err != nil {
			return nil, err
		}
		if fr.File, err = s.string(); err != nil {
			return nil, err
		}
		if fr.Line, err = s.r.i32(); err != nil {
			return nil, err
		}
	}
	if t.Cause, err = s.throwable(depth + 1); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *decodeState) array(v reflect.Value) error {
	present, err := s.flag()
	if err != nil || !present {
		return err
	}
	u, err := s.r.u16()
	if err != nil {
		return err
	}
	n := int(int16(u))
	// Every element takes at least a presence flag: a byte (loose) or a bit
	// (tight).
	room := s.r.left()
	if s.tight {
		room = s.bitsLeft()
	}
	if n < 0 || n > room {
		return errf(ErrLength, "array of %d elements with room for %d", n, room)
	}
	if err := s.charge(n * int(v.Type().Elem().Size())); err != nil {
		return err
	}
	sl := reflect.MakeSlice(v.Type(), n, n)
	for i := range n {
		o, err := s.nested()
		if err != nil {
			return err
		}
		if err := assign(sl.Index(i), o); err != nil {
			return err
		}
	}
	v.Set(sl)
	return nil
}

// ---- encoding ----

// Encoder encodes the frames sent to one peer. It holds that direction's
// marshalling cache, so use it from one goroutine (or under the writer's
// lock).
type Encoder struct {
	f     Format
	index map[string]int16 // cache key -> slot
	slots []string         // slot -> cache key ("" = empty)
	next  int
	// Scratch state reused by every Encode: the frame's data and boolean
	// stream, and the uncached loose encoding that keys the cache.
	es  encodeState
	key encodeState
	// slow turns the fast path (fast.go) off, for the tests that compare
	// the two.
	slow bool
}

// NewEncoder returns an encoder for format f.
func NewEncoder(f Format) *Encoder {
	e := &Encoder{}
	e.SetFormat(f)
	return e
}

// SetFormat switches to a negotiated format and empties the cache.
func (e *Encoder) SetFormat(f Format) {
	e.f = f
	e.key = encodeState{}
	e.index, e.slots, e.next = nil, nil, 0
	if n := f.cacheSlots(); n > 0 {
		e.index = make(map[string]int16, min(n, 1024))
		e.slots = make([]string, n)
	}
}

// Format returns the encoder's format.
func (e *Encoder) Format() Format { return e.f }

// Encode appends c as one size-prefixed frame to dst. On error dst is
// returned unchanged.
func (e *Encoder) Encode(dst []byte, c DataStructure) ([]byte, error) {
	if c == nil || reflect.ValueOf(c).IsNil() {
		return dst, errf(ErrEncode, "nil command")
	}
	es := &e.es
	*es = encodeState{e: e, tight: e.f.Tight, data: es.data[:0], bits: es.bits[:0]}
	var err error
	if !e.slow && e.f.Version >= fastMinVersion && fastEncodable(c) {
		err = es.fastObject(c)
	} else {
		err = es.object(c)
	}
	if err != nil {
		e.resetCache()
		return dst, err
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, c.DataType())
	if es.tight {
		nb := (es.nbits + 7) / 8
		if nb > 0x7fff {
			// The Java BooleanStream counts its bytes in a short.
			e.resetCache()
			return dst, errf(ErrEncode, "%s needs %d bytes of booleans, more than tight encoding holds", TypeName(c.DataType()), nb)
		}
		switch {
		case nb < 64:
			dst = append(dst, byte(nb))
		case nb < 256:
			dst = append(dst, 0xc0, byte(nb))
		default:
			dst = append(dst, 0x80)
			dst = putU16(dst, uint16(nb))
		}
		dst = append(dst, es.bits[:nb]...)
	}
	dst = append(dst, es.data...)
	size := len(dst) - start - 4
	if int64(size) > e.f.maxFrame() {
		e.resetCache()
		return dst[:start], errf(ErrEncode, "%s of %d bytes exceeds the frame size limit %d", TypeName(c.DataType()), size, e.f.maxFrame())
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst, nil
}

// resetCache forgets every cached object after a failed encode: the frame
// was never sent, so the peer's cache lacks what this one recorded. The peer
// keeps stale slots, which is harmless: they are overwritten before use.
func (e *Encoder) resetCache() {
	if e.index != nil {
		clear(e.index)
		clear(e.slots)
		e.next = 0
	}
}

type encodeState struct {
	e     *Encoder
	tight bool
	data  []byte
	bits  []byte
	nbits int
	depth int
}

func (s *encodeState) flag(b bool) {
	if !s.tight {
		s.data = putBool(s.data, b)
		return
	}
	if s.nbits%8 == 0 {
		s.bits = append(s.bits, 0)
	}
	if b {
		s.bits[s.nbits/8] |= 1 << (s.nbits % 8)
	}
	s.nbits++
}

func (s *encodeState) object(o DataStructure) error {
	t := o.DataType()
	p := plans[t]
	if p == nil || s.e.f.Version < p.since {
		return errf(ErrEncode, "%s has no marshaller in version %d", TypeName(t), s.e.f.Version)
	}
	if reflect.TypeOf(o).Elem() != p.goType {
		return errf(ErrEncode, "%T with type %s", o, TypeName(t))
	}
	if s.depth > maxDepth {
		return errf(ErrNesting, "objects nested deeper than %d", maxDepth)
	}
	s.depth++
	defer func() { s.depth-- }()
	v := reflect.ValueOf(o).Elem()
	for i := range p.fields {
		f := &p.fields[i]
		if !f.in(s.e.f.Version) {
			continue
		}
		if err := s.field(v.FieldByIndex(f.idx), f); err != nil {
			return fmt.Errorf("%s.%s: %w", p.name, f.name, err)
		}
	}
	return nil
}

func (s *encodeState) field(v reflect.Value, f *field) error {
	switch f.kind {
	case kBool:
		s.flag(v.Bool())
	case kByte:
		s.data = append(s.data, byte(v.Int()))
	case kInt:
		s.data = putI32(s.data, int32(v.Int()))
	case kLong:
		s.long(v.Int())
	case kString:
		return s.string(v.String())
	case kBytes:
		b := v.Bytes()
		s.flag(b != nil)
		if b != nil {
			s.data = putI32(s.data, int32(len(b)))
			s.data = append(s.data, b...)
		}
	case kMagic:
		for i := range 8 {
			s.data = append(s.data, byte(v.Index(i).Uint()))
		}
	case kNested:
		return s.nested(asDS(v))
	case kCached:
		return s.cached(asDS(v))
	case kThrowable:
		t, _ := v.Interface().(*Throwable)
		return s.throwable(t, 0)
	case kArray:
		if v.IsNil() {
			s.flag(false)
			return nil
		}
		if v.Len() > 0x7fff {
			return errf(ErrEncode, "array of %d elements", v.Len())
		}
		s.flag(true)
		s.data = putU16(s.data, uint16(v.Len()))
		for i := range v.Len() {
			if err := s.nested(asDS(v.Index(i))); err != nil {
				return err
			}
		}
	}
	return nil
}

// asDS returns the DataStructure in a pointer or interface field, nil for a
// nil pointer (typed or not).
func asDS(v reflect.Value) DataStructure {
	if v.IsNil() {
		return nil
	}
	if v.Kind() == reflect.Interface {
		v = v.Elem()
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return nil
		}
	}
	return v.Interface().(DataStructure)
}

func (s *encodeState) long(n int64) {
	if !s.tight {
		s.data = putI64(s.data, n)
		return
	}
	u := uint64(n)
	switch {
	case u == 0:
		s.flag(false)
		s.flag(false)
	case u&0xFFFFFFFFFFFF0000 == 0:
		s.flag(false)
		s.flag(true)
		s.data = putU16(s.data, uint16(u))
	case u&0xFFFFFFFF00000000 == 0:
		s.flag(true)
		s.flag(false)
		s.data = putI32(s.data, int32(uint32(u)))
	default:
		s.flag(true)
		s.flag(true)
		s.data = putI64(s.data, n)
	}
}

// string writes "" as null (see the package doc).
func (s *encodeState) string(str string) error {
	if str == "" {
		s.flag(false)
		return nil
	}
	s.flag(true)
	if isASCII(str) {
		// The common case, with the checks below for ASCII: one scan.
		if len(str) >= 0x7fff && s.tight {
			return errf(ErrEncode, "string of %d bytes is too long for tight encoding", len(str))
		}
		if len(str) > 0xffff {
			return errf(ErrEncode, "string of %d bytes is too long for writeUTF", len(str))
		}
		if s.tight {
			s.flag(true)
		}
		s.data = putU16(s.data, uint16(len(str)))
		s.data = append(s.data, str...)
		return nil
	}
	n, ascii := modifiedUTF8Len(str)
	if s.tight {
		// The Java tight reader reads the ASCII length as a signed short
		// and refuses strings of 32767 bytes or more.
		if n >= 0x7fff {
			return errf(ErrEncode, "string of %d bytes is too long for tight encoding", n)
		}
		s.flag(ascii)
		if ascii {
			s.data = putU16(s.data, uint16(len(str)))
			s.data = append(s.data, str...)
			return nil
		}
	}
	var err error
	s.data, err = putUTF(s.data, str)
	return err
}

func (s *encodeState) nested(o DataStructure) error {
	s.flag(o != nil)
	if o == nil {
		return nil
	}
	t := o.DataType()
	s.data = append(s.data, t)
	if s.tight && plans[t] != nil && plans[t].marshalAware {
		s.flag(false)
	}
	return s.object(o)
}

func (s *encodeState) cached(o DataStructure) error {
	e := s.e
	if o != nil && !cacheable[o.DataType()] {
		return errf(ErrEncode, "%s cannot be a cached object", TypeName(o.DataType()))
	}
	if e.index == nil {
		return s.nested(o)
	}
	kb, err := e.cacheKey(o, (*encodeState).object)
	if err != nil {
		return err
	}
	if e.cacheSlot(s, kb) {
		return nil
	}
	return s.nested(o)
}

// cacheSlot writes the cache reference for key kb: a hit writes its slot
// and reports true; a miss takes the next slot (evicting the key there),
// writes it flagged as new, and reports false — the caller then writes the
// object itself.
func (e *Encoder) cacheSlot(s *encodeState, kb []byte) (hit bool) {
	if idx, ok := e.index[string(kb)]; ok {
		s.flag(false)
		s.data = putU16(s.data, uint16(idx))
		return true
	}
	key := string(kb)
	slot := e.next
	e.next = (e.next + 1) % len(e.slots)
	if old := e.slots[slot]; old != "" {
		delete(e.index, old)
	}
	e.slots[slot] = key
	e.index[key] = int16(slot)
	s.flag(true)
	s.data = putU16(s.data, uint16(slot))
	return false
}

// cacheKey identifies a cached object by value, as the Java cache's
// equals/hashCode do: its type and uncached loose encoding. A nil object is
// cached too (the Java writer caches null), under its own key. The bytes are
// valid until the next call.
func (e *Encoder) cacheKey(o DataStructure, write func(*encodeState, DataStructure) error) ([]byte, error) {
	ks := &e.key
	if ks.e == nil {
		// The key encoder has no cache, so it never comes back here.
		ks.e = &Encoder{f: Format{Version: e.f.Version}}
	}
	ks.data = ks.data[:0]
	if o == nil {
		return append(ks.data, 0), nil
	}
	ks.data = append(ks.data, o.DataType())
	if err := write(ks, o); err != nil {
		return nil, err
	}
	return ks.data, nil
}

func (s *encodeState) throwable(t *Throwable, depth int) error {
	s.flag(t != nil)
	if t == nil {
		return nil
	}
	if depth > maxDepth {
		return errf(ErrNesting, "exception causes nested deeper than %d", maxDepth)
	}
	if err := s.string(t.Class); err != nil {
		return err
	}
	if err := s.string(t.Message); err != nil {
		return err
	}
	if !s.e.f.StackTrace {
		return nil
	}
	if len(t.Stack) > 0x7fff {
		return errf(ErrEncode, "stack trace of %d frames", len(t.Stack))
	}
	s.data = putU16(s.data, uint16(len(t.Stack)))
	for _, fr := range t.Stack {
		for _, str := range []string{fr.Class, fr.Method, fr.File} {
			if err := s.string(str); err != nil {
				return err
			}
		}
		s.data = putI32(s.data, fr.Line)
	}
	return s.throwable(t.Cause, depth+1)
}

// Append is Encode (the name the server uses).
func (e *Encoder) Append(dst []byte, c Command) ([]byte, error) { return e.Encode(dst, c) }

// Reader reads commands from a connection through a buffer.
type Reader struct {
	*Decoder
	br *bufio.Reader
}

// NewReader returns a Reader in format f (InitialFormat before the
// handshake; Decoder.SetFormat after it).
func NewReader(r io.Reader, f Format) *Reader {
	return &Reader{Decoder: NewDecoder(f), br: bufio.NewReaderSize(r, 64<<10)}
}

// ReadCommand reads and decodes the next frame (see Decoder.ReadCommand).
func (r *Reader) ReadCommand() (Command, error) { return r.Decoder.ReadCommand(r.br) }

// Buffered reports the bytes read from the connection and not yet decoded:
// 0 means the peer has nothing more in flight right now (flush writes).
func (r *Reader) Buffered() int { return r.br.Buffered() }
