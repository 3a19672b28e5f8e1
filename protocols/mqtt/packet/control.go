package packet

// Pingreq is a PINGREQ packet (spec 3.12).
type Pingreq struct{}

// Pingresp is a PINGRESP packet (spec 3.13).
type Pingresp struct{}

func (*Pingreq) Type() Type  { return PINGREQ }
func (*Pingresp) Type() Type { return PINGRESP }

func (*Pingreq) Decode(flags byte, body []byte, version byte) error {
	return decodeEmpty(PINGREQ, flags, body, version)
}
func (*Pingresp) Decode(flags byte, body []byte, version byte) error {
	return decodeEmpty(PINGRESP, flags, body, version)
}

func decodeEmpty(t Type, flags byte, body []byte, version byte) error {
	if !validVersion(version) {
		return errVersion(version)
	}
	if err := checkFlags(t, flags, version); err != nil {
		return err
	}
	if len(body) != 0 {
		return malformed(t.String() + ": remaining length must be 0")
	}
	return nil
}

func (*Pingreq) Size(byte) int  { return 2 }
func (*Pingresp) Size(byte) int { return 2 }

func (*Pingreq) Append(dst []byte, version byte) ([]byte, error) {
	if !validVersion(version) {
		return dst, errVersion(version)
	}
	return append(dst, byte(PINGREQ)<<4, 0), nil
}

func (*Pingresp) Append(dst []byte, version byte) ([]byte, error) {
	if !validVersion(version) {
		return dst, errVersion(version)
	}
	return append(dst, byte(PINGRESP)<<4, 0), nil
}

// Disconnect is a DISCONNECT packet (spec 3.14). ReasonCode and Properties
// are 5.0 only; 3.1 and 3.1.1 DISCONNECT is empty and only a client sends it.
type Disconnect struct {
	ReasonCode ReasonCode
	// Properties (5.0): Session Expiry Interval (client only
	// [MQTT-3.14.2-2]), Reason String, User Property, Server Reference.
	Properties Properties
}

func (*Disconnect) Type() Type { return DISCONNECT }

// disconnectCodes is 5.0 table 3-10 [MQTT-3.14.2-1].
var disconnectCodes = codeSet(NormalDisconnection, DisconnectWithWillMessage, UnspecifiedError,
	MalformedPacket, ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
	ServerShuttingDown, KeepAliveTimeout, SessionTakenOver, TopicFilterInvalid, TopicNameInvalid,
	ReceiveMaximumExceeded, TopicAliasInvalid, PacketTooLarge, MessageRateTooHigh, QuotaExceeded,
	AdministrativeAction, PayloadFormatInvalid, RetainNotSupported, QoSNotSupported,
	UseAnotherServer, ServerMoved, SharedSubscriptionsNotSupported, ConnectionRateExceeded,
	MaximumConnectTime, SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported,
	BadAuthenticationMethod)

// authCodes is 5.0 table 3-11 [MQTT-3.15.2-1].
var authCodes = codeSet(Success, ContinueAuthentication, ReAuthenticate)

func (p *Disconnect) Decode(flags byte, body []byte, version byte) error {
	return decodeReasonProps(&p.ReasonCode, &p.Properties, DISCONNECT, flags, body, version, &disconnectCodes)
}

// Auth is an AUTH packet (spec 3.15), 5.0 only.
type Auth struct {
	ReasonCode ReasonCode
	// Properties: Authentication Method, Authentication Data, Reason
	// String, User Property.
	Properties Properties
}

func (*Auth) Type() Type { return AUTH }

func (p *Auth) Decode(flags byte, body []byte, version byte) error {
	if validVersion(version) && version != Version5 {
		return malformed("AUTH is reserved before MQTT 5.0")
	}
	return decodeReasonProps(&p.ReasonCode, &p.Properties, AUTH, flags, body, version, &authCodes)
}

// decodeReasonProps decodes the DISCONNECT and AUTH layout: an optional
// reason code (absent means 0x00) and optional properties (absent when the
// Remaining Length is below 2) [3.14.2.1] [3.15.2.1].
func decodeReasonProps(rc *ReasonCode, props *Properties, t Type, flags byte, body []byte, version byte, allowed *codes) error {
	if !validVersion(version) {
		return errVersion(version)
	}
	if err := checkFlags(t, flags, version); err != nil {
		return err
	}
	*rc = Success
	props.reset()
	if version != Version5 {
		if len(body) != 0 {
			return malformed(t.String() + ": remaining length must be 0")
		}
		return nil
	}
	c := cursor{b: body}
	if c.empty() {
		return nil
	}
	b, _ := c.u8("reason code")
	if !allowed.has(ReasonCode(b)) {
		return protocolErr(t.String() + " reason code " + ReasonCode(b).String() + " not allowed")
	}
	*rc = ReasonCode(b)
	if !c.empty() {
		if err := props.decode(&c, t); err != nil {
			return err
		}
	}
	if !c.empty() {
		return malformed(t.String() + ": remaining length longer than its content")
	}
	return nil
}

func reasonPropsLengths(rc ReasonCode, props *Properties, t Type, version byte) (body, plen int, err error) {
	if !validVersion(version) {
		return 0, 0, errVersion(version)
	}
	if version != Version5 {
		if t == AUTH {
			return 0, 0, malformed("encode: AUTH is reserved before MQTT 5.0")
		}
		return 0, 0, nil
	}
	if plen, err = props.size(t); err != nil {
		return 0, 0, err
	}
	switch {
	case plen > 0:
		n := 1 + varintLen(plen) + plen
		return n, plen, checkRemaining(n)
	case rc != Success:
		if t == AUTH {
			// The AUTH text allows omitting only both fields together.
			return 2, 0, nil
		}
		return 1, 0, nil
	}
	return 0, 0, nil
}

func appendReasonProps(dst []byte, rc ReasonCode, props *Properties, t Type, version byte) ([]byte, error) {
	n, plen, err := reasonPropsLengths(rc, props, t, version)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, 5+n)
	dst = appendHeader(dst, byte(t)<<4, n)
	if n > 0 {
		dst = append(dst, byte(rc))
	}
	if n > 1 {
		dst = props.appendTo(dst, t, plen)
	}
	return dst, nil
}

func reasonPropsSize(rc ReasonCode, props *Properties, t Type, version byte) int {
	n, _, err := reasonPropsLengths(rc, props, t, version)
	if err != nil {
		return 0
	}
	return 1 + varintLen(n) + n
}

// Append appends the encoded packet to dst.
func (p *Disconnect) Append(dst []byte, version byte) ([]byte, error) {
	return appendReasonProps(dst, p.ReasonCode, &p.Properties, DISCONNECT, version)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Disconnect) Size(version byte) int {
	return reasonPropsSize(p.ReasonCode, &p.Properties, DISCONNECT, version)
}

// Append appends the encoded packet to dst.
func (p *Auth) Append(dst []byte, version byte) ([]byte, error) {
	return appendReasonProps(dst, p.ReasonCode, &p.Properties, AUTH, version)
}

// Size returns the encoded length of the whole packet, or 0 if it cannot be
// encoded.
func (p *Auth) Size(version byte) int {
	return reasonPropsSize(p.ReasonCode, &p.Properties, AUTH, version)
}
