package packet

// Subscription is one Topic Filter of a SUBSCRIBE with its options. The
// NoLocal, RetainAsPublished and RetainHandling options are 5.0 only.
type Subscription struct {
	Filter            string
	QoS               byte // maximum QoS requested: 0, 1 or 2
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte // 0 send retained, 1 only for a new subscription, 2 never
}

// Subscribe is a SUBSCRIBE packet (spec 3.8). Topic Filters are checked for
// UTF-8 only: a server answers a filter that fails ValidTopicFilter with a
// SUBACK failure code (0x8F in 5.0), not by closing the connection.
type Subscribe struct {
	PacketID      uint16
	Properties    Properties // Subscription Identifier (at most one), User Property
	Subscriptions []Subscription
}

func (*Subscribe) Type() Type { return SUBSCRIBE }

func (p *Subscribe) Decode(flags byte, body []byte, version byte) error {
	c, id, err := beginWithID(SUBSCRIBE, flags, body, version, "[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])")
	if err != nil {
		return err
	}
	p.PacketID = id
	if version == Version5 {
		if err := p.Properties.decode(&c, SUBSCRIBE); err != nil {
			return err
		}
	} else {
		p.Properties.reset()
	}
	p.Subscriptions = p.Subscriptions[:0]
	for !c.empty() {
		f, err := c.str("topic filter") // [MQTT-3.8.3-1]
		if err != nil {
			return err
		}
		o, err := c.u8("subscription options")
		if err != nil {
			return err
		}
		s := Subscription{Filter: f, QoS: o & 0x03}
		if s.QoS == 3 {
			return malformed("subscription with QoS 3 [MQTT-3.8.3-5] (3.1.1: [MQTT-3-8.3-4])")
		}
		if version == Version5 {
			if o&0xc0 != 0 {
				return malformed("subscription options reserved bits set [MQTT-3.8.3-5]")
			}
			s.NoLocal = o&0x04 != 0
			s.RetainAsPublished = o&0x08 != 0
			s.RetainHandling = (o >> 4) & 0x03
			if s.RetainHandling == 3 {
				return protocolErr("Retain Handling 3 [3.8.3.1]")
			}
			if s.NoLocal && IsShared(f) {
				return protocolErr("No Local on a Shared Subscription [MQTT-3.8.3-4]")
			}
		} else if o&0xfc != 0 {
			return malformed("SUBSCRIBE requested QoS reserved bits set (3.1.1: [MQTT-3-8.3-4])")
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if len(p.Subscriptions) == 0 {
		return protocolErr("SUBSCRIBE without a topic filter [MQTT-3.8.3-2] (3.1.1: [MQTT-3.8.3-3])")
	}
	return nil
}

func (p *Subscribe) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.PacketID == 0 {
		return 0, 0, protocolErr("encode: SUBSCRIBE needs a packet identifier")
	}
	if len(p.Subscriptions) == 0 {
		return 0, 0, protocolErr("encode: SUBSCRIBE needs a topic filter")
	}
	n := 2
	if version == Version5 {
		if props, err = p.Properties.size(SUBSCRIBE); err != nil {
			return 0, 0, err
		}
		n += varintLen(props) + props
	}
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		if s.QoS > 2 || s.RetainHandling > 2 {
			return 0, 0, malformed("encode: subscription QoS or Retain Handling out of range")
		}
		l, err := strLen(s.Filter, "topic filter")
		if err != nil {
			return 0, 0, err
		}
		n += l + 1
	}
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Subscribe) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst. The 5.0 subscription options are
// not encoded for 3.1 and 3.1.1.
func (p *Subscribe) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+n)
	dst = appendUint16(appendHeader(dst, byte(SUBSCRIBE)<<4|0x02, n), p.PacketID)
	if version == Version5 {
		dst = p.Properties.appendTo(dst, SUBSCRIBE, props)
	}
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		o := s.QoS
		if version == Version5 {
			if s.NoLocal {
				o |= 0x04
			}
			if s.RetainAsPublished {
				o |= 0x08
			}
			o |= s.RetainHandling << 4
		}
		dst = append(appendStr(dst, s.Filter), o)
	}
	return dst, nil
}

// Suback is a SUBACK packet (spec 3.9): one reason code (3.1.1: return code)
// per Topic Filter of the SUBSCRIBE, in order.
type Suback struct {
	PacketID    uint16
	Properties  Properties // Reason String, User Property
	ReasonCodes []ReasonCode
}

func (*Suback) Type() Type { return SUBACK }

var (
	// 3.1.1: [MQTT-3.9.3-2]; 5.0 table 3-8 [MQTT-3.9.3-2].
	subackCodesV4 = codeSet(GrantedQoS0, GrantedQoS1, GrantedQoS2, SubackFailure)
	subackCodesV5 = codeSet(GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported)
	// 5.0 table 3-9 [MQTT-3.11.3-2].
	unsubackCodes = codeSet(Success, NoSubscriptionExisted, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse)
)

func (p *Suback) Decode(flags byte, body []byte, version byte) error {
	c, id, err := beginWithID(SUBACK, flags, body, version, "[MQTT-2.2.1-6]")
	if err != nil {
		return err
	}
	p.PacketID = id
	allowed := &subackCodesV4
	if version == Version5 {
		allowed = &subackCodesV5
		if err := p.Properties.decode(&c, SUBACK); err != nil {
			return err
		}
	} else {
		p.Properties.reset()
	}
	if c.empty() {
		return protocolErr("SUBACK without a reason code [MQTT-3.8.4-6]")
	}
	p.ReasonCodes = p.ReasonCodes[:0]
	for _, rc := range c.b {
		if !allowed.has(ReasonCode(rc)) {
			return protocolErr("SUBACK reason code " + ReasonCode(rc).String() + " not allowed [MQTT-3.9.3-2]")
		}
		p.ReasonCodes = append(p.ReasonCodes, ReasonCode(rc))
	}
	return nil
}

func (p *Suback) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.PacketID == 0 {
		return 0, 0, protocolErr("encode: SUBACK needs a packet identifier")
	}
	if len(p.ReasonCodes) == 0 {
		return 0, 0, protocolErr("encode: SUBACK needs a reason code")
	}
	n := 2 + len(p.ReasonCodes)
	if version == Version5 {
		if props, err = p.Properties.size(SUBACK); err != nil {
			return 0, 0, err
		}
		n += varintLen(props) + props
	}
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Suback) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Suback) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+n)
	dst = appendUint16(appendHeader(dst, byte(SUBACK)<<4, n), p.PacketID)
	if version == Version5 {
		dst = p.Properties.appendTo(dst, SUBACK, props)
	}
	for _, rc := range p.ReasonCodes {
		dst = append(dst, byte(rc))
	}
	return dst, nil
}

// Unsubscribe is an UNSUBSCRIBE packet (spec 3.10).
type Unsubscribe struct {
	PacketID   uint16
	Properties Properties // User Property
	Filters    []string
}

func (*Unsubscribe) Type() Type { return UNSUBSCRIBE }

func (p *Unsubscribe) Decode(flags byte, body []byte, version byte) error {
	c, id, err := beginWithID(UNSUBSCRIBE, flags, body, version, "[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])")
	if err != nil {
		return err
	}
	p.PacketID = id
	if version == Version5 {
		if err := p.Properties.decode(&c, UNSUBSCRIBE); err != nil {
			return err
		}
	} else {
		p.Properties.reset()
	}
	p.Filters = p.Filters[:0]
	for !c.empty() {
		f, err := c.str("topic filter") // [MQTT-3.10.3-1]
		if err != nil {
			return err
		}
		p.Filters = append(p.Filters, f)
	}
	if len(p.Filters) == 0 {
		return protocolErr("UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]")
	}
	return nil
}

func (p *Unsubscribe) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.PacketID == 0 {
		return 0, 0, protocolErr("encode: UNSUBSCRIBE needs a packet identifier")
	}
	if len(p.Filters) == 0 {
		return 0, 0, protocolErr("encode: UNSUBSCRIBE needs a topic filter")
	}
	n := 2
	if version == Version5 {
		if props, err = p.Properties.size(UNSUBSCRIBE); err != nil {
			return 0, 0, err
		}
		n += varintLen(props) + props
	}
	for _, f := range p.Filters {
		l, err := strLen(f, "topic filter")
		if err != nil {
			return 0, 0, err
		}
		n += l
	}
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Unsubscribe) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Unsubscribe) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+n)
	dst = appendUint16(appendHeader(dst, byte(UNSUBSCRIBE)<<4|0x02, n), p.PacketID)
	if version == Version5 {
		dst = p.Properties.appendTo(dst, UNSUBSCRIBE, props)
	}
	for _, f := range p.Filters {
		dst = appendStr(dst, f)
	}
	return dst, nil
}

// Unsuback is an UNSUBACK packet (spec 3.11). 3.1 and 3.1.1 carry only the
// packet identifier; ReasonCodes (one per Topic Filter) and Properties are
// 5.0 only.
type Unsuback struct {
	PacketID    uint16
	Properties  Properties // Reason String, User Property
	ReasonCodes []ReasonCode
}

func (*Unsuback) Type() Type { return UNSUBACK }

func (p *Unsuback) Decode(flags byte, body []byte, version byte) error {
	c, id, err := beginWithID(UNSUBACK, flags, body, version, "[MQTT-2.2.1-6]")
	if err != nil {
		return err
	}
	p.PacketID = id
	p.ReasonCodes = p.ReasonCodes[:0]
	if version != Version5 {
		p.Properties.reset()
		if !c.empty() {
			return malformed("UNSUBACK: remaining length must be 2")
		}
		return nil
	}
	if err := p.Properties.decode(&c, UNSUBACK); err != nil {
		return err
	}
	if c.empty() {
		return protocolErr("UNSUBACK without a reason code [MQTT-3.11.3-1]")
	}
	for _, rc := range c.b {
		if !unsubackCodes.has(ReasonCode(rc)) {
			return protocolErr("UNSUBACK reason code " + ReasonCode(rc).String() + " not allowed [MQTT-3.11.3-2]")
		}
		p.ReasonCodes = append(p.ReasonCodes, ReasonCode(rc))
	}
	return nil
}

func (p *Unsuback) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if p.PacketID == 0 {
		return 0, 0, protocolErr("encode: UNSUBACK needs a packet identifier")
	}
	if version != Version5 {
		return 2, 0, nil
	}
	if len(p.ReasonCodes) == 0 {
		return 0, 0, protocolErr("encode: UNSUBACK needs a reason code")
	}
	if props, err = p.Properties.size(UNSUBACK); err != nil {
		return 0, 0, err
	}
	n := 2 + varintLen(props) + props + len(p.ReasonCodes)
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Unsuback) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Unsuback) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+n)
	dst = appendUint16(appendHeader(dst, byte(UNSUBACK)<<4, n), p.PacketID)
	if version == Version5 {
		dst = p.Properties.appendTo(dst, UNSUBACK, props)
		for _, rc := range p.ReasonCodes {
			dst = append(dst, byte(rc))
		}
	}
	return dst, nil
}
