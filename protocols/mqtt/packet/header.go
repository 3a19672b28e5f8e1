package packet

// Type is an MQTT control packet type (the high nibble of the first byte).
type Type byte

// Control packet types (spec 2.1.2).
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15 // MQTT 5.0 only
)

var typeNames = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "type " + itoa(int(t))
}

// FixedHeader is the first 2-5 bytes of every packet.
type FixedHeader struct {
	Type      Type
	Flags     byte // low nibble of the first byte
	Remaining int  // Remaining Length: bytes of the packet after the fixed header
}

// Size is the length of the whole packet the header introduces.
func (h FixedHeader) Size() int { return 1 + varintLen(h.Remaining) + h.Remaining }

// ParseFixedHeader parses the fixed header at the start of b and returns it
// with its length. It returns ErrIncomplete when b ends inside the header and
// a Malformed Packet error for packet type 0 or a Remaining Length that runs
// past four bytes or is not in its shortest form [MQTT-1.5.5-1]. Flag bits
// are checked by the decoders, which know the protocol version.
func ParseFixedHeader(b []byte) (FixedHeader, int, error) {
	if len(b) < 2 {
		return FixedHeader{}, 0, ErrIncomplete
	}
	t := Type(b[0] >> 4)
	if t == 0 {
		return FixedHeader{}, 0, malformed("reserved packet type 0")
	}
	// Fast path: most packets are shorter than 128 bytes.
	if b[1] < 0x80 {
		return FixedHeader{Type: t, Flags: b[0] & 0x0f, Remaining: int(b[1])}, 2, nil
	}
	rem, n, err := decodeVarint(b[1:])
	if err != nil {
		if err != ErrIncomplete {
			e := *err.(*Error)
			e.Msg = "remaining length: " + e.Msg
			return FixedHeader{}, 0, &e
		}
		return FixedHeader{}, 0, err
	}
	return FixedHeader{Type: t, Flags: b[0] & 0x0f, Remaining: int(rem)}, 1 + n, nil
}

// checkFlags enforces the fixed header flag bits of spec table 2-2
// [MQTT-2.1.3-1] (3.1.1: [MQTT-2.2.2-1]) for every type but PUBLISH, whose
// flags carry DUP, QoS and RETAIN.
func checkFlags(t Type, flags, version byte) error {
	want := byte(0)
	switch t {
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		want = 0x02
		// MQTT 3.1 sent these at QoS 1 with the DUP bit set on a re-send,
		// so a 3.1 client may legitimately set bit 3.
		if version == Version31 {
			flags &^= 0x08
		}
	}
	if flags != want {
		switch t {
		case PUBREL:
			return malformed("PUBREL flags must be 0010 [MQTT-3.6.1-1]")
		case SUBSCRIBE:
			return malformed("SUBSCRIBE flags must be 0010 [MQTT-3.8.1-1]")
		case UNSUBSCRIBE:
			return malformed("UNSUBSCRIBE flags must be 0010 [MQTT-3.10.1-1]")
		default:
			return malformed(t.String() + " flags must be 0000 [MQTT-2.1.3-1]")
		}
	}
	return nil
}

func appendHeader(dst []byte, first byte, remaining int) []byte {
	return appendVarint(append(dst, first), uint32(remaining))
}

func checkRemaining(n int) error {
	if n > MaxRemainingLength {
		return errCode(PacketTooLarge, "encode: remaining length "+itoa(n)+" exceeds 268435455")
	}
	return nil
}

// beginWithID starts decoding the body of a packet of type t that opens
// with a packet identifier (PUBACK to PUBCOMP, SUBSCRIBE to UNSUBACK): it
// checks the version and the fixed header's flags, and reads the identifier,
// which must not be 0 (rule: the spec's rule for the packet's sender).
func beginWithID(t Type, flags byte, body []byte, version byte, rule string) (cursor, uint16, error) {
	if !validVersion(version) {
		return cursor{}, 0, errVersion(version)
	}
	if err := checkFlags(t, flags, version); err != nil {
		return cursor{}, 0, err
	}
	c := cursor{b: body}
	id, err := c.u16("packet identifier")
	if err != nil {
		return cursor{}, 0, err
	}
	if id == 0 {
		return cursor{}, 0, protocolErr(t.String() + " with packet identifier 0 " + rule)
	}
	return c, id, nil
}
