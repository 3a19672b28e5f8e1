package packet

// Packet is implemented by every packet struct of this package.
type Packet interface {
	// Type returns the control packet type.
	Type() Type
	// Decode decodes a packet body (the bytes after the fixed header) with
	// the fixed header's flag nibble, for the given protocol version
	// (ignored by CONNECT). The receiver is overwritten; see the package
	// documentation for which fields alias body.
	Decode(flags byte, body []byte, version byte) error
	// Append appends the whole encoded packet to dst.
	Append(dst []byte, version byte) ([]byte, error)
	// Size returns the encoded length of the whole packet, or 0 if it
	// cannot be encoded.
	Size(version byte) int
}

// New returns a new zero packet of type t, or nil for type 0.
func New(t Type) Packet {
	switch t {
	case CONNECT:
		return new(Connect)
	case CONNACK:
		return new(Connack)
	case PUBLISH:
		return new(Publish)
	case PUBACK:
		return new(Puback)
	case PUBREC:
		return new(Pubrec)
	case PUBREL:
		return new(Pubrel)
	case PUBCOMP:
		return new(Pubcomp)
	case SUBSCRIBE:
		return new(Subscribe)
	case SUBACK:
		return new(Suback)
	case UNSUBSCRIBE:
		return new(Unsubscribe)
	case UNSUBACK:
		return new(Unsuback)
	case PINGREQ:
		return new(Pingreq)
	case PINGRESP:
		return new(Pingresp)
	case DISCONNECT:
		return new(Disconnect)
	case AUTH:
		return new(Auth)
	}
	return nil
}

// Decode decodes the body of the packet introduced by fh into a new packet
// struct. A hot path that wants no allocation keeps one struct per type and
// calls its Decode method instead.
func Decode(fh FixedHeader, body []byte, version byte) (Packet, error) {
	if len(body) != fh.Remaining {
		return nil, malformed("body length does not match the remaining length")
	}
	p := New(fh.Type)
	if p == nil {
		return nil, malformed("reserved packet type 0")
	}
	if err := p.Decode(fh.Flags, body, version); err != nil {
		return nil, err
	}
	return p, nil
}

// DecodePacket decodes the whole packet at the start of b and returns it
// with its length. It returns ErrIncomplete when b is shorter than the packet.
func DecodePacket(b []byte, version byte) (Packet, int, error) {
	fh, n, err := ParseFixedHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-n < fh.Remaining {
		return nil, 0, ErrIncomplete
	}
	total := n + fh.Remaining
	p, err := Decode(fh, b[n:total:total], version)
	if err != nil {
		return nil, 0, err
	}
	return p, total, nil
}
