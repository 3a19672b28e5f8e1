package packet

// Publish is a PUBLISH packet (spec 3.3).
type Publish struct {
	Dup      bool
	QoS      byte // 0, 1 or 2
	Retain   bool
	Topic    []byte // Topic Name; aliases the decoded body. Empty in 5.0 when a Topic Alias stands for it.
	PacketID uint16 // QoS 1 and 2 only
	// Properties (5.0): Payload Format Indicator, Message Expiry Interval,
	// Topic Alias, Response Topic, Correlation Data, User Property,
	// Subscription Identifier, Content Type.
	Properties Properties
	Payload    []byte // aliases the decoded body
}

func (*Publish) Type() Type { return PUBLISH }

// Decode decodes a PUBLISH body.
func (p *Publish) Decode(flags byte, body []byte, version byte) error {
	if !validVersion(version) {
		return errVersion(version)
	}
	p.Dup = flags&0x08 != 0
	p.QoS = (flags >> 1) & 0x03
	p.Retain = flags&0x01 != 0
	if p.QoS == 3 {
		return malformed("PUBLISH with QoS 3 [MQTT-3.3.1-4]")
	}
	if p.Dup && p.QoS == 0 {
		return malformed("PUBLISH with DUP set at QoS 0 [MQTT-3.3.1-2]")
	}
	c := cursor{b: body}
	topic, err := c.bin("topic name")
	if err != nil {
		return err
	}
	// One pass classifies the topic for both checks.
	cls := classifyBytes(topic)
	if !validUTF8Class(topic, cls) {
		return malformed("topic name: invalid UTF-8 or U+0000 [MQTT-3.3.2-1] [MQTT-1.5.4-1] [MQTT-1.5.4-2]")
	}
	if cls&clsWild != 0 {
		return errCode(TopicNameInvalid, "wildcard in PUBLISH topic name [MQTT-3.3.2-2]")
	}
	p.Topic = topic
	p.PacketID = 0
	if p.QoS > 0 {
		if p.PacketID, err = c.u16("packet identifier"); err != nil {
			return err
		}
		if p.PacketID == 0 {
			return protocolErr("PUBLISH at QoS>0 with packet identifier 0 [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])")
		}
	}
	if version == Version5 {
		if err := p.Properties.decode(&c, PUBLISH); err != nil {
			return err
		}
		if len(topic) == 0 && !p.Properties.Present.Has(PropTopicAlias) {
			return protocolErr("zero-length topic name without a Topic Alias [3.3.2.1]")
		}
	} else {
		p.Properties.reset()
		if len(topic) == 0 {
			return errCode(TopicNameInvalid, "zero-length topic name (3.1.1: [MQTT-4.7.3-1])")
		}
	}
	p.Payload = nilIfEmpty(c.b)
	return nil
}

func (p *Publish) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.QoS > 2 {
		return 0, 0, malformed("encode: PUBLISH QoS greater than 2")
	}
	if p.QoS > 0 && p.PacketID == 0 {
		return 0, 0, protocolErr("encode: PUBLISH at QoS>0 needs a packet identifier")
	}
	if p.Dup && p.QoS == 0 {
		return 0, 0, malformed("encode: PUBLISH with DUP at QoS 0")
	}
	n, err := strLen(p.Topic, "topic name")
	if err != nil {
		return 0, 0, err
	}
	if p.QoS > 0 {
		n += 2
	}
	if version == Version5 {
		if props, err = p.Properties.size(PUBLISH); err != nil {
			return 0, 0, err
		}
		n += varintLen(props) + props
	}
	n += len(p.Payload)
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Publish) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Publish) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	first := byte(PUBLISH)<<4 | p.QoS<<1
	if p.Dup {
		first |= 0x08
	}
	if p.Retain {
		first |= 0x01
	}
	dst = grow(dst, 5+n)
	dst = appendHeader(dst, first, n)
	dst = appendStr(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if version == Version5 {
		dst = p.Properties.appendTo(dst, PUBLISH, props)
	}
	return append(dst, p.Payload...), nil
}

// Puback is a PUBACK packet (spec 3.4). ReasonCode and Properties are 5.0 only.
type Puback struct {
	PacketID   uint16
	ReasonCode ReasonCode
	Properties Properties // Reason String, User Property
}

// Pubrec is a PUBREC packet (spec 3.5).
type Pubrec Puback

// Pubrel is a PUBREL packet (spec 3.6).
type Pubrel Puback

// Pubcomp is a PUBCOMP packet (spec 3.7).
type Pubcomp Puback

func (*Puback) Type() Type  { return PUBACK }
func (*Pubrec) Type() Type  { return PUBREC }
func (*Pubrel) Type() Type  { return PUBREL }
func (*Pubcomp) Type() Type { return PUBCOMP }

// Reason codes each acknowledgement may carry (5.0 tables 3-4 to 3-7)
// [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1].
var (
	pubackCodes = codeSet(Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid)
	pubrelCodes = codeSet(Success, PacketIdentifierNotFound)
)

type codes [4]uint64

func codeSet(cs ...ReasonCode) (s codes) {
	for _, c := range cs {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *codes) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func (p *Puback) Decode(flags byte, body []byte, version byte) error {
	return decodeAck(p, PUBACK, flags, body, version, &pubackCodes)
}
func (p *Pubrec) Decode(flags byte, body []byte, version byte) error {
	return decodeAck((*Puback)(p), PUBREC, flags, body, version, &pubackCodes)
}
func (p *Pubrel) Decode(flags byte, body []byte, version byte) error {
	return decodeAck((*Puback)(p), PUBREL, flags, body, version, &pubrelCodes)
}
func (p *Pubcomp) Decode(flags byte, body []byte, version byte) error {
	return decodeAck((*Puback)(p), PUBCOMP, flags, body, version, &pubrelCodes)
}

func (p *Puback) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, p, PUBACK, version)
}
func (p *Pubrec) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, (*Puback)(p), PUBREC, version)
}
func (p *Pubrel) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, (*Puback)(p), PUBREL, version)
}
func (p *Pubcomp) Append(dst []byte, version byte) ([]byte, error) {
	return appendAck(dst, (*Puback)(p), PUBCOMP, version)
}

func (p *Puback) Size(version byte) int  { return ackSize(p, PUBACK, version) }
func (p *Pubrec) Size(version byte) int  { return ackSize((*Puback)(p), PUBREC, version) }
func (p *Pubrel) Size(version byte) int  { return ackSize((*Puback)(p), PUBREL, version) }
func (p *Pubcomp) Size(version byte) int { return ackSize((*Puback)(p), PUBCOMP, version) }

func decodeAck(p *Puback, t Type, flags byte, body []byte, version byte, allowed *codes) error {
	c, id, err := beginWithID(t, flags, body, version, "[MQTT-2.2.1-5]")
	if err != nil {
		return err
	}
	p.PacketID = id
	p.ReasonCode = Success
	p.Properties.reset()
	if version == Version5 && !c.empty() {
		// A Remaining Length of 2 means Success and no properties; of 3, a
		// reason code and no properties [3.4.2.2].
		rc, _ := c.u8("reason code")
		if !allowed.has(ReasonCode(rc)) {
			return protocolErr(t.String() + " reason code " + ReasonCode(rc).String() + " not allowed")
		}
		p.ReasonCode = ReasonCode(rc)
		if !c.empty() {
			if err := p.Properties.decode(&c, t); err != nil {
				return err
			}
		}
	}
	if !c.empty() {
		return malformed(t.String() + ": remaining length longer than its content")
	}
	return nil
}

func ackLengths(p *Puback, t Type, version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.PacketID == 0 {
		return 0, 0, protocolErr("encode: " + t.String() + " needs a packet identifier")
	}
	if version != Version5 {
		return 2, 0, nil
	}
	if props, err = p.Properties.size(t); err != nil {
		return 0, 0, err
	}
	switch {
	case props > 0:
		return 3 + varintLen(props) + props, props, nil
	case p.ReasonCode != Success:
		return 3, 0, nil
	}
	return 2, 0, nil
}

func ackSize(p *Puback, t Type, version byte) int {
	n, _, err := ackLengths(p, t, version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

func appendAck(dst []byte, p *Puback, t Type, version byte) ([]byte, error) {
	n, props, err := ackLengths(p, t, version)
	if err != nil {
		return dst, err
	}
	first := byte(t) << 4
	if t == PUBREL {
		first |= 0x02
	}
	dst = grow(dst, 5+n)
	dst = appendUint16(appendHeader(dst, first, n), p.PacketID)
	if n > 2 {
		dst = append(dst, byte(p.ReasonCode))
	}
	if props > 0 {
		dst = p.Properties.appendTo(dst, t, props)
	}
	return dst, nil
}
