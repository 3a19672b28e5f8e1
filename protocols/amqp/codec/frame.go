package codec

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Frame types (part 2, section 2.3).
const (
	FrameAMQP uint8 = 0
	FrameSASL uint8 = 1
)

// FrameHeaderSize is the size of the fixed frame header.
const FrameHeaderSize = 8

// MinMaxFrameSize is the smallest max-frame-size a peer may announce:
// every peer accepts frames of this size before open is exchanged.
const MinMaxFrameSize = 512

// Protocol ids of the 8-byte protocol header "AMQP" id major minor revision.
const (
	ProtoAMQP uint8 = 0
	ProtoTLS  uint8 = 2
	ProtoSASL uint8 = 3
)

// ProtocolHeaderSize is the size of a protocol header.
const ProtocolHeaderSize = 8

// ProtocolHeader returns the protocol header for AMQP 1.0.0 with the
// given protocol id.
func ProtocolHeader(id uint8) [ProtocolHeaderSize]byte {
	return [ProtocolHeaderSize]byte{'A', 'M', 'Q', 'P', id, 1, 0, 0}
}

// ParseProtocolHeader checks the 8 bytes of a protocol header and returns
// its protocol id; the version must be 1.0.0. On error the caller answers
// with the header it supports and closes the socket, as the spec says.
func ParseProtocolHeader(b []byte) (id uint8, err error) {
	if len(b) < ProtocolHeaderSize || string(b[:4]) != "AMQP" {
		return 0, decodeErr("not an AMQP protocol header")
	}
	if b[5] != 1 || b[6] != 0 || b[7] != 0 {
		return b[4], decodeErr("AMQP version %d.%d.%d is not 1.0.0", b[5], b[6], b[7])
	}
	return b[4], nil
}

// FrameHeader is the fixed header of a frame.
type FrameHeader struct {
	Size       uint32 // the whole frame, header included
	DataOffset uint8  // in 4-byte words, at least 2
	Type       uint8  // FrameAMQP or FrameSASL
	Channel    uint16 // the channel (AMQP) or ignored (SASL)
}

// ParseFrameHeader decodes and checks a frame header: the size at least
// the data offset, which is at least 2 words, and the size within
// maxFrameSize (0: no limit). Errors are amqp:connection:framing-error,
// after which the connection is closed.
func ParseFrameHeader(b []byte, maxFrameSize uint32) (FrameHeader, error) {
	if len(b) < FrameHeaderSize {
		return FrameHeader{}, Errorf(CondFramingError, "frame header of %d bytes", len(b))
	}
	h := FrameHeader{
		Size:       binary.BigEndian.Uint32(b),
		DataOffset: b[4],
		Type:       b[5],
		Channel:    binary.BigEndian.Uint16(b[6:]),
	}
	switch {
	case h.DataOffset < 2:
		return h, Errorf(CondFramingError, "data offset %d is below 2", h.DataOffset)
	case h.Size < uint32(h.DataOffset)*4:
		return h, Errorf(CondFramingError, "frame size %d is below its data offset %d", h.Size, uint32(h.DataOffset)*4)
	case maxFrameSize != 0 && h.Size > maxFrameSize:
		return h, Errorf(CondFramingError, "frame of %d bytes exceeds the max-frame-size %d", h.Size, maxFrameSize)
	case h.Type != FrameAMQP && h.Type != FrameSASL:
		return h, Errorf(CondFramingError, "unknown frame type %d", h.Type)
	}
	return h, nil
}

// SplitFrame finds the first frame in b: its header, its body (after the
// extended header, aliasing b) and the bytes it takes. n is 0, and err nil,
// when b does not hold a whole frame yet. An empty body is an empty frame
// (a heartbeat).
func SplitFrame(b []byte, maxFrameSize uint32) (h FrameHeader, frameBody []byte, n int, err error) {
	if len(b) < FrameHeaderSize {
		return h, nil, 0, nil
	}
	if h, err = ParseFrameHeader(b, maxFrameSize); err != nil {
		return h, nil, 0, err
	}
	if uint64(len(b)) < uint64(h.Size) {
		return h, nil, 0, nil
	}
	n = int(h.Size)
	return h, b[int(h.DataOffset)*4 : n : n], n, nil
}

// ReadFrame reads one frame from r. The frame is read into *buf, grown to
// the frame's size when needed (never beyond maxFrameSize, checked before
// growing; 0: no limit); body aliases *buf until the next call. An empty
// body is an empty frame (a heartbeat). Errors: *Error with
// amqp:connection:framing-error for a bad header, else the reader's error
// (io.EOF before a frame starts, io.ErrUnexpectedEOF inside one).
func ReadFrame(r io.Reader, maxFrameSize uint32, buf *[]byte) (h FrameHeader, frameBody []byte, err error) {
	if cap(*buf) < FrameHeaderSize {
		*buf = make([]byte, 0, 512)
	}
	b := (*buf)[:FrameHeaderSize]
	if _, err = io.ReadFull(r, b); err != nil {
		return h, nil, err
	}
	if h, err = ParseFrameHeader(b, maxFrameSize); err != nil {
		return h, nil, err
	}
	if uint64(cap(*buf)) < uint64(h.Size) {
		nb := make([]byte, h.Size)
		copy(nb, b)
		*buf = nb[:0]
	}
	b = (*buf)[:h.Size]
	if _, err = io.ReadFull(r, b[FrameHeaderSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, b[int(h.DataOffset)*4:], nil
}

// AppendFrameHeader appends a frame header for a body of n bytes (no
// extended header).
func AppendFrameHeader(dst []byte, frameType uint8, channel uint16, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(FrameHeaderSize+n))
	dst = append(dst, 2, frameType)
	return binary.BigEndian.AppendUint16(dst, channel)
}

// AppendFrame appends a whole frame: header, performative and payload
// (a transfer's message bytes; nil for others). The frame type follows
// from the performative (SASL frames for the SASL types). A nil
// performative gives an empty frame, the heartbeat.
func AppendFrame(dst []byte, channel uint16, p Performative, payload []byte) []byte {
	start := len(dst)
	frameType := FrameAMQP
	if p != nil && isSASL(p.Descriptor()) {
		frameType = FrameSASL
	}
	dst = AppendFrameHeader(dst, frameType, channel, 0)
	if p != nil {
		dst = p.AppendTo(dst)
	}
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

func isSASL(code uint64) bool { return code >= DescSASLMechanisms && code <= DescSASLOutcome }

// Performative is a frame body: the nine AMQP performatives (*Open,
// *Begin, *Attach, *Flow, *Transfer, *Disposition, *Detach, *End, *Close)
// and the five SASL frames (*SASLMechanisms, *SASLInit, *SASLChallenge,
// *SASLResponse, *SASLOutcome).
type Performative interface {
	Descriptor() uint64
	// AppendTo appends the described list.
	AppendTo(dst []byte) []byte
}

// FrameType returns the frame type a performative travels in.
func FrameType(p Performative) uint8 {
	if isSASL(p.Descriptor()) {
		return FrameSASL
	}
	return FrameAMQP
}

// DecodePerformative decodes a frame body. For a transfer, payload is the
// rest of the body (the message bytes, aliasing body); any other
// performative followed by bytes is a decode error. A body whose
// descriptor is not a performative is amqp:decode-error too; the caller
// checks that the performative suits the frame type (FrameType).
func DecodePerformative(body []byte) (p Performative, payload []byte, err error) {
	return DecodePerformativeInto(body, nil)
}

// Scratch holds the performatives a connection receives for every
// message (transfer, disposition, flow), for DecodePerformativeInto to
// decode into instead of allocating one per frame.
type Scratch struct {
	transfer    Transfer
	disposition Disposition
	flow        Flow
}

// DecodePerformativeInto is DecodePerformative decoding a transfer,
// disposition or flow into s (when s is not nil): the result is valid
// until the next call with the same s. Other performatives are allocated
// as by DecodePerformative.
func DecodePerformativeInto(body []byte, s *Scratch) (p Performative, payload []byte, err error) {
	d := NewDecoder(body)
	code, desc, err := d.ReadDescriptor()
	if err != nil {
		return nil, nil, err
	}
	f, err := d.ReadList()
	if err != nil {
		return nil, nil, err
	}
	switch code {
	case DescOpen:
		p = decodeOpen(&f)
	case DescBegin:
		p = decodeBegin(&f)
	case DescAttach:
		p = decodeAttach(&f)
	case DescFlow:
		if s != nil {
			p = decodeFlowInto(&f, &s.flow)
		} else {
			p = decodeFlow(&f)
		}
	case DescTransfer:
		if s != nil {
			p = decodeTransferInto(&f, &s.transfer)
		} else {
			p = decodeTransfer(&f)
		}
	case DescDisposition:
		if s != nil {
			p = decodeDispositionInto(&f, &s.disposition)
		} else {
			p = decodeDisposition(&f)
		}
	case DescDetach:
		p = decodeDetach(&f)
	case DescEnd:
		p = &End{Error: decodeErrorField(&f)}
	case DescClose:
		p = &Close{Error: decodeErrorField(&f)}
	case DescSASLMechanisms:
		p = decodeSASLMechanisms(&f)
	case DescSASLInit:
		p = decodeSASLInit(&f)
	case DescSASLChallenge:
		p = &SASLChallenge{Challenge: requireBinary(&f, "challenge")}
	case DescSASLResponse:
		p = &SASLResponse{Response: requireBinary(&f, "response")}
	case DescSASLOutcome:
		p = decodeSASLOutcome(&f)
	default:
		return nil, nil, decodeErr("frame body with descriptor %v is not a performative", desc)
	}
	if err := f.Err(); err != nil {
		e := err.(*Error)
		return nil, nil, &Error{Condition: e.Condition, Description: performativeName(code) + ": " + e.Description}
	}
	if code != DescTransfer && d.Len() != 0 {
		return nil, nil, decodeErr("%s followed by %d bytes", performativeName(code), d.Len())
	}
	return p, d.Rest(), nil
}

func performativeName(code uint64) string {
	switch code {
	case DescOpen:
		return "open"
	case DescBegin:
		return "begin"
	case DescAttach:
		return "attach"
	case DescFlow:
		return "flow"
	case DescTransfer:
		return "transfer"
	case DescDisposition:
		return "disposition"
	case DescDetach:
		return "detach"
	case DescEnd:
		return "end"
	case DescClose:
		return "close"
	case DescSASLMechanisms:
		return "sasl-mechanisms"
	case DescSASLInit:
		return "sasl-init"
	case DescSASLChallenge:
		return "sasl-challenge"
	case DescSASLResponse:
		return "sasl-response"
	case DescSASLOutcome:
		return "sasl-outcome"
	}
	return fmt.Sprintf("0x%x", code)
}
