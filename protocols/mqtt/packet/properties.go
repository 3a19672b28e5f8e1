package packet

import "math/bits"

// PropID is an MQTT 5.0 property identifier (spec 2.2.2.2).
type PropID byte

// Property identifiers.
const (
	PropPayloadFormat        PropID = 0x01 // byte; PUBLISH, Will
	PropMessageExpiry        PropID = 0x02 // four-byte int; PUBLISH, Will
	PropContentType          PropID = 0x03 // UTF-8; PUBLISH, Will
	PropResponseTopic        PropID = 0x08 // UTF-8; PUBLISH, Will
	PropCorrelationData      PropID = 0x09 // binary; PUBLISH, Will
	PropSubscriptionID       PropID = 0x0B // variable byte int; PUBLISH (repeatable), SUBSCRIBE
	PropSessionExpiry        PropID = 0x11 // four-byte int; CONNECT, CONNACK, DISCONNECT
	PropAssignedClientID     PropID = 0x12 // UTF-8; CONNACK
	PropServerKeepAlive      PropID = 0x13 // two-byte int; CONNACK
	PropAuthMethod           PropID = 0x15 // UTF-8; CONNECT, CONNACK, AUTH
	PropAuthData             PropID = 0x16 // binary; CONNECT, CONNACK, AUTH
	PropRequestProblemInfo   PropID = 0x17 // byte; CONNECT
	PropWillDelay            PropID = 0x18 // four-byte int; Will
	PropRequestResponseInfo  PropID = 0x19 // byte; CONNECT
	PropResponseInfo         PropID = 0x1A // UTF-8; CONNACK
	PropServerReference      PropID = 0x1C // UTF-8; CONNACK, DISCONNECT
	PropReasonString         PropID = 0x1F // UTF-8; CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH
	PropReceiveMaximum       PropID = 0x21 // two-byte int; CONNECT, CONNACK
	PropTopicAliasMaximum    PropID = 0x22 // two-byte int; CONNECT, CONNACK
	PropTopicAlias           PropID = 0x23 // two-byte int; PUBLISH
	PropMaximumQoS           PropID = 0x24 // byte; CONNACK
	PropRetainAvailable      PropID = 0x25 // byte; CONNACK
	PropUserProperty         PropID = 0x26 // UTF-8 pair; every packet with properties (repeatable)
	PropMaximumPacketSize    PropID = 0x27 // four-byte int; CONNECT, CONNACK
	PropWildcardSubAvailable PropID = 0x28 // byte; CONNACK
	PropSubIDAvailable       PropID = 0x29 // byte; CONNACK
	PropSharedSubAvailable   PropID = 0x2A // byte; CONNACK
)

// PropSet is a set of property identifiers: Properties.Present records which
// single-valued properties are present.
type PropSet uint64

// Has reports whether id is in the set.
func (s PropSet) Has(id PropID) bool { return id < 64 && s&(1<<id) != 0 }

// Add puts ids in the set.
func (s *PropSet) Add(ids ...PropID) {
	for _, id := range ids {
		if id < 64 {
			*s |= 1 << id
		}
	}
}

// Remove takes ids out of the set.
func (s *PropSet) Remove(ids ...PropID) {
	for _, id := range ids {
		if id < 64 {
			*s &^= 1 << id
		}
	}
}

// UserProperty is one User Property name/value pair.
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5.0 properties of one packet (or of a CONNECT's
// Will). A single-valued property is present, and is encoded, when its
// identifier is in Present; the field alone is not enough, since absent and
// zero differ (an absent Session Expiry Interval in DISCONNECT keeps the
// CONNECT's value, an absent Receive Maximum means 65535). The repeatable
// User Property and Subscription Identifier are present when their slices
// are non-empty. Encoders skip any property not allowed in the packet being
// encoded. CorrelationData and AuthData alias the decoded body.
type Properties struct {
	Present PropSet

	PayloadFormat        byte     // 0x01: 0 bytes, 1 UTF-8
	MessageExpiry        uint32   // 0x02: seconds
	ContentType          string   // 0x03
	ResponseTopic        string   // 0x08
	CorrelationData      []byte   // 0x09, aliases the body
	SubscriptionIDs      []uint32 // 0x0B: 1..268435455; several in PUBLISH, one in SUBSCRIBE
	SessionExpiry        uint32   // 0x11: seconds
	AssignedClientID     string   // 0x12
	ServerKeepAlive      uint16   // 0x13: seconds
	AuthMethod           string   // 0x15
	AuthData             []byte   // 0x16, aliases the body
	RequestProblemInfo   byte     // 0x17: 0 or 1
	WillDelay            uint32   // 0x18: seconds
	RequestResponseInfo  byte     // 0x19: 0 or 1
	ResponseInfo         string   // 0x1A
	ServerReference      string   // 0x1C
	ReasonString         string   // 0x1F
	ReceiveMaximum       uint16   // 0x21: 1..65535
	TopicAliasMaximum    uint16   // 0x22
	TopicAlias           uint16   // 0x23: 1..65535
	MaximumQoS           byte     // 0x24: 0 or 1
	RetainAvailable      byte     // 0x25: 0 or 1
	User                 []UserProperty
	MaximumPacketSize    uint32 // 0x27: 1..
	WildcardSubAvailable byte   // 0x28: 0 or 1
	SubIDAvailable       byte   // 0x29: 0 or 1
	SharedSubAvailable   byte   // 0x2A: 0 or 1
}

// Has reports whether the property is present.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUserProperty:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return p.Present.Has(id)
}

// Set marks single-valued properties as present; set their fields too.
func (p *Properties) Set(ids ...PropID) { p.Present.Add(ids...) }

// empty reports whether nothing would be encoded.
func (p *Properties) empty() bool {
	return p.Present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// reset clears p for decoding, keeping slice capacity for reuse.
func (p *Properties) reset() {
	user, ids := p.User[:0], p.SubscriptionIDs[:0]
	*p = Properties{User: user, SubscriptionIDs: ids}
}

type propKind byte

const (
	kindByte propKind = iota + 1
	kindUint16
	kindUint32
	kindVarint
	kindString
	kindBinary
	kindPair
)

// ctxWill is the bit for Will Properties in an allowed-in mask; the other
// bits are packet Types (1-15), so bit 0, the reserved type, is free for it.
const ctxWill Type = 0

func in(ts ...Type) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

type propInfo struct {
	kind    propKind
	allowed uint16 // bit t set: allowed in packet type t (bit 0: Will)
	name    string
}

// propTable is spec table 2-4 (2.2.2.2): each identifier's type and the
// packets it may appear in.
var propTable = [PropSharedSubAvailable + 1]propInfo{
	PropPayloadFormat:        {kindByte, in(PUBLISH, ctxWill), "Payload Format Indicator"},
	PropMessageExpiry:        {kindUint32, in(PUBLISH, ctxWill), "Message Expiry Interval"},
	PropContentType:          {kindString, in(PUBLISH, ctxWill), "Content Type"},
	PropResponseTopic:        {kindString, in(PUBLISH, ctxWill), "Response Topic"},
	PropCorrelationData:      {kindBinary, in(PUBLISH, ctxWill), "Correlation Data"},
	PropSubscriptionID:       {kindVarint, in(PUBLISH, SUBSCRIBE), "Subscription Identifier"},
	PropSessionExpiry:        {kindUint32, in(CONNECT, CONNACK, DISCONNECT), "Session Expiry Interval"},
	PropAssignedClientID:     {kindString, in(CONNACK), "Assigned Client Identifier"},
	PropServerKeepAlive:      {kindUint16, in(CONNACK), "Server Keep Alive"},
	PropAuthMethod:           {kindString, in(CONNECT, CONNACK, AUTH), "Authentication Method"},
	PropAuthData:             {kindBinary, in(CONNECT, CONNACK, AUTH), "Authentication Data"},
	PropRequestProblemInfo:   {kindByte, in(CONNECT), "Request Problem Information"},
	PropWillDelay:            {kindUint32, in(ctxWill), "Will Delay Interval"},
	PropRequestResponseInfo:  {kindByte, in(CONNECT), "Request Response Information"},
	PropResponseInfo:         {kindString, in(CONNACK), "Response Information"},
	PropServerReference:      {kindString, in(CONNACK, DISCONNECT), "Server Reference"},
	PropReasonString:         {kindString, in(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH), "Reason String"},
	PropReceiveMaximum:       {kindUint16, in(CONNECT, CONNACK), "Receive Maximum"},
	PropTopicAliasMaximum:    {kindUint16, in(CONNECT, CONNACK), "Topic Alias Maximum"},
	PropTopicAlias:           {kindUint16, in(PUBLISH), "Topic Alias"},
	PropMaximumQoS:           {kindByte, in(CONNACK), "Maximum QoS"},
	PropRetainAvailable:      {kindByte, in(CONNACK), "Retain Available"},
	PropUserProperty:         {kindPair, in(CONNECT, CONNACK, PUBLISH, ctxWill, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH), "User Property"},
	PropMaximumPacketSize:    {kindUint32, in(CONNECT, CONNACK), "Maximum Packet Size"},
	PropWildcardSubAvailable: {kindByte, in(CONNACK), "Wildcard Subscription Available"},
	PropSubIDAvailable:       {kindByte, in(CONNACK), "Subscription Identifier Available"},
	PropSharedSubAvailable:   {kindByte, in(CONNACK), "Shared Subscription Available"},
}

// String returns the spec name of the property.
func (id PropID) String() string {
	if int(id) < len(propTable) && propTable[id].kind != 0 {
		return propTable[id].name
	}
	return "property 0x" + string("0123456789abcdef"[id>>4]) + string("0123456789abcdef"[id&15])
}

// AllowedIn reports whether property id may appear in packet type t; t == 0
// asks about Will Properties.
func AllowedIn(id PropID, t Type) bool {
	return int(id) < len(propTable) && propTable[id].kind != 0 && propTable[id].allowed&(1<<t) != 0
}

// single-valued properties allowed per context, for masking Present on encode.
var presentMask [16]PropSet

func init() {
	for id, info := range propTable {
		if info.kind == 0 || info.kind == kindPair || PropID(id) == PropSubscriptionID {
			continue
		}
		for t := range 16 {
			if info.allowed&(1<<t) != 0 {
				presentMask[t] |= 1 << id
			}
		}
	}
}

// decode reads a Property Length and the properties that follow it, for
// packet type ctx (ctxWill for Will Properties). It implements spec 2.2.2.2:
// an identifier not valid for the packet is a Malformed Packet, a second
// instance of a single-valued property is a Protocol Error.
func (p *Properties) decode(c *cursor, ctx Type) error {
	n, err := c.vbi("property length")
	if err != nil {
		return err
	}
	if int(n) > len(c.b) {
		return malformed("property length exceeds packet")
	}
	pc := cursor{b: c.b[:n:n]}
	c.b = c.b[n:]
	p.reset()
	for !pc.empty() {
		b := pc.b[0]
		pc.b = pc.b[1:]
		// Identifiers are Variable Byte Integers; all defined ones are < 128,
		// so a continuation bit means an unknown (or non-minimal) identifier.
		id := PropID(b)
		if int(id) >= len(propTable) || propTable[id].kind == 0 {
			return malformed("unknown property identifier 0x" + hex2(b))
		}
		info := &propTable[id]
		if info.allowed&(1<<ctx) == 0 {
			return malformed(info.name + " not allowed in " + ctxName(ctx) + " [2.2.2.2]")
		}
		switch id {
		case PropUserProperty:
			k, err := pc.str(info.name + " name")
			if err != nil {
				return err
			}
			v, err := pc.str(info.name + " value")
			if err != nil {
				return err
			}
			p.User = append(p.User, UserProperty{Key: k, Value: v})
			continue
		case PropSubscriptionID:
			v, err := pc.vbi(info.name)
			if err != nil {
				return err
			}
			if v == 0 {
				return protocolErr("Subscription Identifier of 0")
			}
			if ctx != PUBLISH && len(p.SubscriptionIDs) > 0 {
				return protocolErr("Subscription Identifier more than once")
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
			continue
		}
		if p.Present.Has(id) {
			return protocolErr(info.name + " more than once")
		}
		p.Present |= 1 << id
		if err := p.decodeValue(&pc, id, info); err != nil {
			return err
		}
	}
	if p.Present.Has(PropAuthData) && !p.Present.Has(PropAuthMethod) {
		return protocolErr("Authentication Data without Authentication Method")
	}
	return nil
}

func (p *Properties) decodeValue(c *cursor, id PropID, info *propInfo) error {
	switch info.kind {
	case kindByte:
		v, err := c.u8(info.name)
		if err != nil {
			return err
		}
		// Every byte property is a 0/1 flag except Maximum QoS, which is
		// also 0 or 1 (a server supporting QoS 2 omits it).
		if v > 1 {
			return protocolErr(info.name + " value other than 0 or 1")
		}
		switch id {
		case PropPayloadFormat:
			p.PayloadFormat = v
		case PropRequestProblemInfo:
			p.RequestProblemInfo = v
		case PropRequestResponseInfo:
			p.RequestResponseInfo = v
		case PropMaximumQoS:
			p.MaximumQoS = v
		case PropRetainAvailable:
			p.RetainAvailable = v
		case PropWildcardSubAvailable:
			p.WildcardSubAvailable = v
		case PropSubIDAvailable:
			p.SubIDAvailable = v
		case PropSharedSubAvailable:
			p.SharedSubAvailable = v
		}
	case kindUint16:
		v, err := c.u16(info.name)
		if err != nil {
			return err
		}
		switch id {
		case PropServerKeepAlive:
			p.ServerKeepAlive = v
		case PropReceiveMaximum:
			if v == 0 {
				return protocolErr("Receive Maximum of 0")
			}
			p.ReceiveMaximum = v
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = v
		case PropTopicAlias:
			if v == 0 {
				// Topic Alias invalid, as for one above the maximum
				// (3.3.2.3.4), which is what Mosquitto answers too.
				return errCode(TopicAliasInvalid, "Topic Alias of 0 [MQTT-3.3.2-8]")
			}
			p.TopicAlias = v
		}
	case kindUint32:
		v, err := c.u32(info.name)
		if err != nil {
			return err
		}
		switch id {
		case PropMessageExpiry:
			p.MessageExpiry = v
		case PropSessionExpiry:
			p.SessionExpiry = v
		case PropWillDelay:
			p.WillDelay = v
		case PropMaximumPacketSize:
			if v == 0 {
				return protocolErr("Maximum Packet Size of 0")
			}
			p.MaximumPacketSize = v
		}
	case kindString:
		b, err := c.utf8b(info.name)
		if err != nil {
			return err
		}
		s := string(b)
		switch id {
		case PropContentType:
			p.ContentType = s
		case PropResponseTopic:
			if !ValidTopicName(s) {
				return protocolErr("Response Topic is not a valid Topic Name [MQTT-3.3.2-14]")
			}
			p.ResponseTopic = s
		case PropAssignedClientID:
			p.AssignedClientID = s
		case PropAuthMethod:
			p.AuthMethod = s
		case PropResponseInfo:
			p.ResponseInfo = s
		case PropServerReference:
			p.ServerReference = s
		case PropReasonString:
			p.ReasonString = s
		}
	case kindBinary:
		b, err := c.bin(info.name)
		if err != nil {
			return err
		}
		switch id {
		case PropCorrelationData:
			p.CorrelationData = b
		case PropAuthData:
			p.AuthData = b
		}
	}
	return nil
}

// size is the encoded length of the properties allowed in ctx, without the
// Property Length prefix.
func (p *Properties) size(ctx Type) (int, error) {
	if p.empty() {
		return 0, nil
	}
	n := 0
	allowed := uint16(1) << ctx
	for set := p.Present & presentMask[ctx]; set != 0; set &= set - 1 {
		id := PropID(bits.TrailingZeros64(uint64(set)))
		switch propTable[id].kind {
		case kindByte:
			n += 2
		case kindUint16:
			n += 3
		case kindUint32:
			n += 5
		default:
			l := len(p.stringValue(id))
			if id == PropCorrelationData || id == PropAuthData {
				l = len(p.binaryValue(id))
			}
			if l > 0xffff {
				return 0, malformed("encode: " + propTable[id].name + " longer than 65535 bytes")
			}
			n += 3 + l
		}
	}
	if propTable[PropSubscriptionID].allowed&allowed != 0 {
		for _, v := range p.SubscriptionIDs {
			if v == 0 || v > MaxVarint {
				return 0, malformed("encode: Subscription Identifier out of range")
			}
			n += 1 + varintLen(int(v))
		}
	}
	if propTable[PropUserProperty].allowed&allowed != 0 {
		for _, u := range p.User {
			if len(u.Key) > 0xffff || len(u.Value) > 0xffff {
				return 0, malformed("encode: User Property longer than 65535 bytes")
			}
			n += 5 + len(u.Key) + len(u.Value)
		}
	}
	if n > MaxVarint {
		return 0, errCode(PacketTooLarge, "encode: properties too long")
	}
	return n, nil
}

// stringValue returns the value of a UTF-8 string property.
func (p *Properties) stringValue(id PropID) string {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return ""
}

// binaryValue returns the value of a Binary Data property.
func (p *Properties) binaryValue(id PropID) []byte {
	switch id {
	case PropCorrelationData:
		return p.CorrelationData
	case PropAuthData:
		return p.AuthData
	}
	return nil
}

// appendOne appends one single-valued property.
func (p *Properties) appendOne(dst []byte, id PropID) []byte {
	dst = append(dst, byte(id))
	switch id {
	case PropPayloadFormat:
		return append(dst, p.PayloadFormat)
	case PropMessageExpiry:
		return appendUint32(dst, p.MessageExpiry)
	case PropSessionExpiry:
		return appendUint32(dst, p.SessionExpiry)
	case PropServerKeepAlive:
		return appendUint16(dst, p.ServerKeepAlive)
	case PropRequestProblemInfo:
		return append(dst, p.RequestProblemInfo)
	case PropWillDelay:
		return appendUint32(dst, p.WillDelay)
	case PropRequestResponseInfo:
		return append(dst, p.RequestResponseInfo)
	case PropReceiveMaximum:
		return appendUint16(dst, p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return appendUint16(dst, p.TopicAliasMaximum)
	case PropTopicAlias:
		return appendUint16(dst, p.TopicAlias)
	case PropMaximumQoS:
		return append(dst, p.MaximumQoS)
	case PropRetainAvailable:
		return append(dst, p.RetainAvailable)
	case PropMaximumPacketSize:
		return appendUint32(dst, p.MaximumPacketSize)
	case PropWildcardSubAvailable:
		return append(dst, p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return append(dst, p.SubIDAvailable)
	case PropSharedSubAvailable:
		return append(dst, p.SharedSubAvailable)
	case PropCorrelationData:
		return appendStr(dst, p.CorrelationData)
	case PropAuthData:
		return appendStr(dst, p.AuthData)
	}
	return appendStr(dst, p.stringValue(id))
}

// appendTo appends the Property Length n (from size) and the properties
// allowed in ctx, in ascending identifier order with every Subscription
// Identifier at 0x0B and every User Property, in order, at 0x26.
func (p *Properties) appendTo(dst []byte, ctx Type, n int) []byte {
	dst = appendVarint(dst, uint32(n))
	if n == 0 {
		return dst
	}
	allowed := uint16(1) << ctx
	set := p.Present & presentMask[ctx]
	for ; set != 0 && bits.TrailingZeros64(uint64(set)) < int(PropSubscriptionID); set &= set - 1 {
		dst = p.appendOne(dst, PropID(bits.TrailingZeros64(uint64(set))))
	}
	if propTable[PropSubscriptionID].allowed&allowed != 0 {
		for _, v := range p.SubscriptionIDs {
			dst = appendVarint(append(dst, byte(PropSubscriptionID)), v)
		}
	}
	for ; set != 0 && bits.TrailingZeros64(uint64(set)) < int(PropUserProperty); set &= set - 1 {
		dst = p.appendOne(dst, PropID(bits.TrailingZeros64(uint64(set))))
	}
	if propTable[PropUserProperty].allowed&allowed != 0 {
		for _, u := range p.User {
			dst = appendStr(appendStr(append(dst, byte(PropUserProperty)), u.Key), u.Value)
		}
	}
	for ; set != 0; set &= set - 1 {
		dst = p.appendOne(dst, PropID(bits.TrailingZeros64(uint64(set))))
	}
	return dst
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func ctxName(t Type) string {
	if t == ctxWill {
		return "Will Properties"
	}
	return t.String()
}
