package packet

// Connect is a CONNECT packet (spec 3.1). Its protocol level decides the
// version of the rest of the connection.
type Connect struct {
	// Version is the protocol level: Version31 ("MQIsdp"), Version311 or
	// Version5 ("MQTT"). Decode sets it as soon as it is read, so after an
	// UnsupportedProtocolVersion error it tells the server which CONNACK
	// format to answer with.
	Version     byte
	CleanStart  bool // Clean Session in 3.1 and 3.1.1
	KeepAlive   uint16
	ClientID    string
	HasUsername bool
	Username    string
	HasPassword bool
	Password    []byte // aliases the decoded body
	Will        *Will  // nil when the Will Flag is 0
	// Properties (5.0): Session Expiry Interval, Receive Maximum, Maximum
	// Packet Size, Topic Alias Maximum, Request Response Information,
	// Request Problem Information, User Property, Authentication Method,
	// Authentication Data.
	Properties Properties
}

// Will is the Will Message of a CONNECT.
type Will struct {
	QoS    byte
	Retain bool
	Topic  string
	// Payload aliases the decoded body.
	Payload []byte
	// Properties (5.0): Will Delay Interval, Payload Format Indicator,
	// Message Expiry Interval, Content Type, Response Topic, Correlation
	// Data, User Property.
	Properties Properties
}

func (*Connect) Type() Type { return CONNECT }

const (
	connUsername   = 0x80
	connPassword   = 0x40
	connWillRetain = 0x20
	connWillQoS    = 0x18
	connWill       = 0x04
	connClean      = 0x02
	connReserved   = 0x01
)

// Decode decodes a CONNECT body. The version argument is ignored: CONNECT
// carries its own protocol level. A protocol name or level this package does
// not speak yields an UnsupportedProtocolVersion error (3.1.1 servers answer
// it with return code 0x01 [MQTT-3.1.2-2]).
func (p *Connect) Decode(flags byte, body []byte, _ byte) error {
	*p = Connect{Properties: p.Properties}
	p.Properties.reset()
	if err := checkFlags(CONNECT, flags, 0); err != nil {
		return err
	}
	c := cursor{b: body}
	name, err := c.utf8b("protocol name")
	if err != nil {
		return err
	}
	level, err := c.u8("protocol level")
	if err != nil {
		return err
	}
	p.Version = level
	switch {
	case string(name) == "MQTT" && (level == Version311 || level == Version5):
	case string(name) == "MQIsdp" && level == Version31:
	case string(name) != "MQTT" && string(name) != "MQIsdp":
		return errCode(UnsupportedProtocolVersion, "unknown protocol name [MQTT-3.1.2-1]")
	default:
		return errCode(UnsupportedProtocolVersion, "unsupported protocol level "+itoa(int(level))+" [MQTT-3.1.2-2]")
	}
	cf, err := c.u8("connect flags")
	if err != nil {
		return err
	}
	if cf&connReserved != 0 {
		return malformed("CONNECT reserved flag set [MQTT-3.1.2-3]")
	}
	will := cf&connWill != 0
	willQoS := (cf & connWillQoS) >> 3
	if !will && cf&(connWillQoS|connWillRetain) != 0 {
		return malformed("Will QoS or Will Retain set without the Will Flag [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]")
	}
	if willQoS == 3 {
		return malformed("Will QoS 3 [MQTT-3.1.2-14]")
	}
	if level < Version5 && cf&connPassword != 0 && cf&connUsername == 0 {
		return malformed("Password Flag without User Name Flag (3.1.1: [MQTT-3.1.2-22])")
	}
	p.CleanStart = cf&connClean != 0
	if p.KeepAlive, err = c.u16("keep alive"); err != nil {
		return err
	}
	if level == Version5 {
		if err := p.Properties.decode(&c, CONNECT); err != nil {
			return err
		}
	} else {
		p.Properties.reset()
	}
	// Payload order: Client Identifier, Will Properties, Will Topic, Will
	// Payload, User Name, Password [MQTT-3.1.3-1].
	if p.ClientID, err = c.str("client identifier"); err != nil { // [MQTT-3.1.3-3] [MQTT-3.1.3-4]
		return err
	}
	if will {
		w := &Will{QoS: willQoS, Retain: cf&connWillRetain != 0}
		if level == Version5 {
			if err := w.Properties.decode(&c, ctxWill); err != nil {
				return err
			}
		}
		if w.Topic, err = c.str("will topic"); err != nil { // [MQTT-3.1.3-9]
			return err
		}
		if !ValidTopicName(w.Topic) {
			return errCode(TopicNameInvalid, "will topic is not a valid Topic Name")
		}
		if w.Payload, err = c.bin("will payload"); err != nil {
			return err
		}
		p.Will = w
	}
	if cf&connUsername != 0 {
		p.HasUsername = true
		if p.Username, err = c.str("user name"); err != nil { // [MQTT-3.1.3-10]
			return err
		}
	}
	if cf&connPassword != 0 {
		p.HasPassword = true
		if p.Password, err = c.bin("password"); err != nil {
			return err
		}
	}
	if !c.empty() {
		return malformed("CONNECT: remaining length longer than its content")
	}
	return nil
}

func (p *Connect) version(v byte) byte {
	if p.Version != 0 {
		return p.Version
	}
	return v
}

type connectLens struct{ body, props, willProps int }

func (p *Connect) lengths(version byte) (l connectLens, err error) {
	if !validVersion(version) {
		return l, errVersion(version)
	}
	n := 2 + 4 + 1 + 1 + 2 // protocol name "MQTT", level, flags, keep alive
	if version == Version31 {
		n += 2 // "MQIsdp"
	}
	if version == Version5 {
		if l.props, err = p.Properties.size(CONNECT); err != nil {
			return l, err
		}
		n += varintLen(l.props) + l.props
	}
	s, err := strLen(p.ClientID, "client identifier")
	if err != nil {
		return l, err
	}
	n += s
	if w := p.Will; w != nil {
		if w.QoS > 2 {
			return l, malformed("encode: Will QoS greater than 2")
		}
		if version == Version5 {
			if l.willProps, err = w.Properties.size(ctxWill); err != nil {
				return l, err
			}
			n += varintLen(l.willProps) + l.willProps
		}
		t, err := strLen(w.Topic, "will topic")
		if err != nil {
			return l, err
		}
		b, err := strLen(w.Payload, "will payload")
		if err != nil {
			return l, err
		}
		n += t + b
	}
	if p.HasUsername {
		s, err := strLen(p.Username, "user name")
		if err != nil {
			return l, err
		}
		n += s
	}
	if p.HasPassword {
		if version < Version5 && !p.HasUsername {
			return l, malformed("encode: password without user name")
		}
		s, err := strLen(p.Password, "password")
		if err != nil {
			return l, err
		}
		n += s
	}
	l.body = n
	return l, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Connect) Size(version byte) int {
	l, err := p.lengths(p.version(version))
	if err != nil {
		return 0
	}
	return 1 + varintLen(l.body) + l.body
}

// Append appends the encoded packet to dst. It encodes p.Version, or version
// when p.Version is 0.
func (p *Connect) Append(dst []byte, version byte) ([]byte, error) {
	version = p.version(version)
	l, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+l.body)
	dst = appendHeader(dst, byte(CONNECT)<<4, l.body)
	if version == Version31 {
		dst = appendStr(dst, "MQIsdp")
	} else {
		dst = appendStr(dst, "MQTT")
	}
	var cf byte
	if p.CleanStart {
		cf |= connClean
	}
	if w := p.Will; w != nil {
		cf |= connWill | w.QoS<<3
		if w.Retain {
			cf |= connWillRetain
		}
	}
	if p.HasUsername {
		cf |= connUsername
	}
	if p.HasPassword {
		cf |= connPassword
	}
	dst = append(dst, version, cf)
	dst = appendUint16(dst, p.KeepAlive)
	if version == Version5 {
		dst = p.Properties.appendTo(dst, CONNECT, l.props)
	}
	dst = appendStr(dst, p.ClientID)
	if w := p.Will; w != nil {
		if version == Version5 {
			dst = w.Properties.appendTo(dst, ctxWill, l.willProps)
		}
		dst = appendStr(appendStr(dst, w.Topic), w.Payload)
	}
	if p.HasUsername {
		dst = appendStr(dst, p.Username)
	}
	if p.HasPassword {
		dst = appendStr(dst, p.Password)
	}
	return dst, nil
}

// Connack is a CONNACK packet (spec 3.2). In 3.1 and 3.1.1 ReasonCode holds
// the return code (ConnAccepted .. ConnRefusedNotAuthorized) and Properties
// is not encoded; 3.1 has no Session Present flag.
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	// Properties (5.0): Session Expiry Interval, Receive Maximum, Maximum
	// QoS, Retain Available, Maximum Packet Size, Assigned Client
	// Identifier, Topic Alias Maximum, Reason String, User Property,
	// Wildcard/Subscription Identifier/Shared Subscription Available, Server
	// Keep Alive, Response Information, Server Reference, Authentication
	// Method, Authentication Data.
	Properties Properties
}

func (*Connack) Type() Type { return CONNACK }

// connackCodes is 5.0 table 3-1 [MQTT-3.2.2-8].
var connackCodes = codeSet(Success, UnspecifiedError, MalformedPacket, ProtocolError,
	ImplementationSpecificError, UnsupportedProtocolVersion, ClientIdentifierNotValid,
	BadUserNameOrPassword, NotAuthorized, ServerUnavailable, ServerBusy, Banned,
	BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, QuotaExceeded,
	PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
	ServerMoved, ConnectionRateExceeded)

func (p *Connack) Decode(flags byte, body []byte, version byte) error {
	if !validVersion(version) {
		return errVersion(version)
	}
	if err := checkFlags(CONNACK, flags, version); err != nil {
		return err
	}
	c := cursor{b: body}
	af, err := c.u8("connect acknowledge flags")
	if err != nil {
		return err
	}
	rc, err := c.u8("reason code")
	if err != nil {
		return err
	}
	p.ReasonCode = ReasonCode(rc)
	p.SessionPresent = false
	p.Properties.reset()
	switch version {
	case Version31:
		// The first byte is unused in 3.1.
		if rc > byte(ConnRefusedNotAuthorized) {
			return protocolErr("CONNACK return code " + itoa(int(rc)) + " is reserved")
		}
	case Version311:
		if af&0xfe != 0 {
			return malformed("CONNACK reserved flag bits set (3.1.1: [MQTT-3.2.2-1])")
		}
		p.SessionPresent = af&1 != 0
		if rc > byte(ConnRefusedNotAuthorized) {
			return protocolErr("CONNACK return code " + itoa(int(rc)) + " is reserved")
		}
		if p.SessionPresent && rc != 0 {
			return protocolErr("Session Present with a non-zero return code (3.1.1: [MQTT-3.2.2-4])")
		}
	case Version5:
		if af&0xfe != 0 {
			return malformed("CONNACK reserved flag bits set [MQTT-3.2.2-1]")
		}
		p.SessionPresent = af&1 != 0
		if !connackCodes.has(p.ReasonCode) {
			return protocolErr("CONNACK reason code " + p.ReasonCode.String() + " not allowed [MQTT-3.2.2-8]")
		}
		if p.SessionPresent && rc != 0 {
			return protocolErr("Session Present with a non-zero reason code [MQTT-3.2.2-6]")
		}
		if err := p.Properties.decode(&c, CONNACK); err != nil {
			return err
		}
	}
	if !c.empty() {
		return malformed("CONNACK: remaining length longer than its content")
	}
	return nil
}

func (p *Connack) lengths(version byte) (body, props int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if version != Version5 {
		return 2, 0, nil
	}
	if props, err = p.Properties.size(CONNACK); err != nil {
		return 0, 0, err
	}
	n := 2 + varintLen(props) + props
	return n, props, checkRemaining(n)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Connack) Size(version byte) int {
	n, _, err := p.lengths(version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Connack) Append(dst []byte, version byte) ([]byte, error) {
	n, props, err := p.lengths(version)
	if err != nil {
		return dst, err
	}
	var af byte
	if p.SessionPresent && version != Version31 {
		af = 1
	}
	dst = grow(dst, 5+n)
	dst = append(appendHeader(dst, byte(CONNACK)<<4, n), af, byte(p.ReasonCode))
	if version == Version5 {
		dst = p.Properties.appendTo(dst, CONNACK, props)
	}
	return dst, nil
}
