package packet

import "bytes"

// This file is the one table of byte vectors shared by the encoder and the
// decoder tests (codec_test.go) and seeding the fuzz target. Every vector was
// written by hand from the MQTT 3.1.1 and 5.0 specifications (docs.oasis-open.org),
// not produced by the encoder: a wrong encoder cannot make its own expectation.

// h concatenates bytes (ints 0-255), strings and byte slices, so vectors can
// be written field by field.
func h(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			if v < 0 || v > 255 {
				panic("h: byte out of range")
			}
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic("h: unsupported part")
		}
	}
	return b
}

func set(ids ...PropID) PropSet {
	var s PropSet
	s.Add(ids...)
	return s
}

type vector struct {
	name string
	vs   []byte // protocol versions the vector applies to
	raw  []byte // the whole packet
	pkt  Packet // decoded form; nil for a vector that must fail
	// decodeOnly marks a valid but non-canonical encoding: it decodes to pkt,
	// but pkt encodes to another vector's bytes.
	decodeOnly bool
	code       ReasonCode // for a failing vector: the reason code of the error
}

var (
	v3   = []byte{Version31}
	v4   = []byte{Version311}
	v5   = []byte{Version5}
	v34  = []byte{Version31, Version311}
	v345 = []byte{Version31, Version311, Version5}
)

var payload200 = bytes.Repeat([]byte{0xAB}, 200)

var vectors = []vector{
	// ---- fixed header --------------------------------------------------
	{name: "reserved type 0 [MQTT-2.1.3-1]", vs: v345, raw: h(0x00, 0x00), code: MalformedPacket},
	{name: "remaining length of five bytes [1.5.5]", vs: v345, raw: h(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F), code: MalformedPacket},
	{name: "remaining length not minimal [MQTT-1.5.5-1]", vs: v345, raw: h(0x30, 0x80, 0x00), code: MalformedPacket},

	// ---- CONNECT -------------------------------------------------------
	{name: "CONNECT 3.1.1 minimal", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, "abc"),
		pkt: &Connect{Version: 4, CleanStart: true, KeepAlive: 60, ClientID: "abc"}},
	{name: "CONNECT 3.1 MQIsdp", vs: v3,
		raw: h(0x10, 0x11, 0, 6, "MQIsdp", 3, 0x02, 0, 60, 0, 3, "abc"),
		pkt: &Connect{Version: 3, CleanStart: true, KeepAlive: 60, ClientID: "abc"}},
	{name: "CONNECT 3.1.1 will, user name, password", vs: v4,
		// flags: user 0x80 | password 0x40 | will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean 0x02
		raw: h(0x10, 0x1F, 0, 4, "MQTT", 4, 0xEE, 0, 10,
			0, 2, "c1", 0, 3, "w/t", 0, 3, "bye", 0, 1, "u", 0, 2, "pw"),
		pkt: &Connect{Version: 4, CleanStart: true, KeepAlive: 10, ClientID: "c1",
			Will:        &Will{QoS: 1, Retain: true, Topic: "w/t", Payload: []byte("bye")},
			HasUsername: true, Username: "u", HasPassword: true, Password: []byte("pw")}},
	{name: "CONNECT 3.1.1 empty user name and password", vs: v4,
		raw: h(0x10, 0x11, 0, 4, "MQTT", 4, 0xC0, 0, 0, 0, 1, "c", 0, 0, 0, 0),
		pkt: &Connect{Version: 4, ClientID: "c", HasUsername: true, HasPassword: true}},
	{name: "CONNECT 5.0 with properties", vs: v5,
		// properties: Session Expiry 120, Receive Maximum 20, User Property k=v
		raw: h(0x10, 0x1D, 0, 4, "MQTT", 5, 0x02, 0, 30,
			15, 0x11, 0, 0, 0, 120, 0x21, 0, 20, 0x26, 0, 1, "k", 0, 1, "v",
			0, 1, "c"),
		pkt: &Connect{Version: 5, CleanStart: true, KeepAlive: 30, ClientID: "c",
			Properties: Properties{Present: set(PropSessionExpiry, PropReceiveMaximum),
				SessionExpiry: 120, ReceiveMaximum: 20, User: []UserProperty{{"k", "v"}}}}},
	{name: "CONNECT 5.0 will properties, password without user name", vs: v5,
		// flags: password 0x40 | will QoS 2 0x10 | will 0x04; will properties:
		// Payload Format 1, Content Type "t", Will Delay 10
		raw: h(0x10, 0x21, 0, 4, "MQTT", 5, 0x54, 0, 0,
			0,
			0, 0,
			11, 0x01, 1, 0x03, 0, 1, "t", 0x18, 0, 0, 0, 10,
			0, 1, "w", 0, 0,
			0, 1, "p"),
		pkt: &Connect{Version: 5, HasPassword: true, Password: []byte("p"),
			Will: &Will{QoS: 2, Topic: "w", Properties: Properties{
				Present:       set(PropPayloadFormat, PropContentType, PropWillDelay),
				PayloadFormat: 1, ContentType: "t", WillDelay: 10}}}},
	{name: "CONNECT 5.0 enhanced authentication", vs: v5,
		raw: h(0x10, 0x17, 0, 4, "MQTT", 5, 0x00, 0, 0,
			9, 0x15, 0, 1, "m", 0x16, 0, 2, 0x01, 0x02,
			0, 1, "c"),
		pkt: &Connect{Version: 5, ClientID: "c", Properties: Properties{
			Present: set(PropAuthMethod, PropAuthData), AuthMethod: "m", AuthData: []byte{1, 2}}}},
	{name: "CONNECT reserved flag [MQTT-3.1.2-3]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x03, 0, 60, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT reserved flag [MQTT-3.1.2-3] 5.0", vs: v5,
		raw: h(0x10, 0x10, 0, 4, "MQTT", 5, 0x03, 0, 60, 0, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT header flags [MQTT-2.1.3-1]", vs: v4,
		raw: h(0x12, 0x0F, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT will QoS without will flag [MQTT-3.1.2-13]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x0A, 0, 60, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT will retain without will flag [MQTT-3.1.2-15]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x22, 0, 60, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT will QoS 3 [MQTT-3.1.2-14]", vs: v4,
		raw: h(0x10, 0x15, 0, 4, "MQTT", 4, 0x1E, 0, 60, 0, 3, "abc", 0, 1, "w", 0, 1, "x"), code: MalformedPacket},
	{name: "CONNECT password without user name 3.1.1 [MQTT-3.1.2-22]", vs: v4,
		raw: h(0x10, 0x12, 0, 4, "MQTT", 4, 0x42, 0, 60, 0, 3, "abc", 0, 1, "p"), code: MalformedPacket},
	{name: "CONNECT password without user name 3.1 [MQTT-3.1.2-22]", vs: v3,
		raw: h(0x10, 0x14, 0, 6, "MQIsdp", 3, 0x42, 0, 60, 0, 3, "abc", 0, 1, "p"), code: MalformedPacket},
	{name: "CONNECT protocol level 6 [MQTT-3.1.2-2]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 6, 0x02, 0, 60, 0, 3, "abc"), code: UnsupportedProtocolVersion},
	{name: "CONNECT MQTT at level 3 [MQTT-3.1.2-2]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 3, 0x02, 0, 60, 0, 3, "abc"), code: UnsupportedProtocolVersion},
	{name: "CONNECT unknown protocol name [MQTT-3.1.2-1]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTX", 4, 0x02, 0, 60, 0, 3, "abc"), code: UnsupportedProtocolVersion},
	{name: "CONNECT ill-formed UTF-8 client id [MQTT-1.5.4-1]", vs: v4,
		raw: h(0x10, 0x0E, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 2, 0xC3, 0x28), code: MalformedPacket},
	{name: "CONNECT UTF-16 surrogate in client id [MQTT-1.5.4-1]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, 0xED, 0xA0, 0x80), code: MalformedPacket},
	{name: "CONNECT U+0000 in client id [MQTT-1.5.4-2]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, "a", 0, "b"), code: MalformedPacket},
	{name: "CONNECT remaining length longer than content", vs: v4,
		raw: h(0x10, 0x10, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, "abc", 0), code: MalformedPacket},
	{name: "CONNECT client id longer than remaining length", vs: v4,
		raw: h(0x10, 0x0E, 0, 4, "MQTT", 4, 0x02, 0, 60, 0, 3, "ab"), code: MalformedPacket},
	{name: "CONNECT will flag but no will topic [MQTT-3.1.2-9]", vs: v4,
		raw: h(0x10, 0x0F, 0, 4, "MQTT", 4, 0x06, 0, 60, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT will topic with wildcard", vs: v4,
		raw: h(0x10, 0x15, 0, 4, "MQTT", 4, 0x06, 0, 60, 0, 3, "abc", 0, 1, "#", 0, 1, "x"), code: TopicNameInvalid},
	{name: "CONNECT 5.0 Topic Alias not allowed [2.2.2.2]", vs: v5,
		raw: h(0x10, 0x13, 0, 4, "MQTT", 5, 0x02, 0, 60, 3, 0x23, 0, 1, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT 5.0 Session Expiry twice", vs: v5,
		raw: h(0x10, 0x1A, 0, 4, "MQTT", 5, 0x02, 0, 60, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, 0, 3, "abc"), code: ProtocolError},
	{name: "CONNECT 5.0 Receive Maximum 0", vs: v5,
		raw: h(0x10, 0x13, 0, 4, "MQTT", 5, 0x02, 0, 60, 3, 0x21, 0, 0, 0, 3, "abc"), code: ProtocolError},
	{name: "CONNECT 5.0 Maximum Packet Size 0", vs: v5,
		raw: h(0x10, 0x15, 0, 4, "MQTT", 5, 0x02, 0, 60, 5, 0x27, 0, 0, 0, 0, 0, 3, "abc"), code: ProtocolError},
	{name: "CONNECT 5.0 Request Problem Information 2", vs: v5,
		raw: h(0x10, 0x12, 0, 4, "MQTT", 5, 0x02, 0, 60, 2, 0x17, 2, 0, 3, "abc"), code: ProtocolError},
	{name: "CONNECT 5.0 Authentication Data without Method", vs: v5,
		raw: h(0x10, 0x14, 0, 4, "MQTT", 5, 0x02, 0, 60, 4, 0x16, 0, 1, 9, 0, 3, "abc"), code: ProtocolError},
	{name: "CONNECT 5.0 Session Expiry in Will Properties [2.2.2.2]", vs: v5,
		raw: h(0x10, 0x1C, 0, 4, "MQTT", 5, 0x06, 0, 60, 0, 0, 3, "abc", 5, 0x11, 0, 0, 0, 1, 0, 1, "w", 0, 1, "x"), code: MalformedPacket},
	{name: "CONNECT 5.0 property length past the packet", vs: v5,
		raw: h(0x10, 0x10, 0, 4, "MQTT", 5, 0x02, 0, 60, 9, 0, 3, "abc"), code: MalformedPacket},
	{name: "CONNECT 5.0 unknown property 0x05", vs: v5,
		raw: h(0x10, 0x12, 0, 4, "MQTT", 5, 0x02, 0, 60, 2, 0x05, 0, 0, 3, "abc"), code: MalformedPacket},

	// ---- CONNACK -------------------------------------------------------
	{name: "CONNACK accepted", vs: v34, raw: h(0x20, 0x02, 0x00, 0x00), pkt: &Connack{}},
	{name: "CONNACK session present", vs: v4, raw: h(0x20, 0x02, 0x01, 0x00), pkt: &Connack{SessionPresent: true}},
	{name: "CONNACK not authorized", vs: v34, raw: h(0x20, 0x02, 0x00, 0x05), pkt: &Connack{ReasonCode: ConnRefusedNotAuthorized}},
	{name: "CONNACK 5.0 success", vs: v5, raw: h(0x20, 0x03, 0x00, 0x00, 0x00), pkt: &Connack{}},
	{name: "CONNACK 5.0 with properties", vs: v5,
		// Assigned Client Identifier "id", Receive Maximum 10, Topic Alias Maximum 5, Maximum QoS 1
		raw: h(0x20, 0x10, 0x01, 0x00, 13, 0x12, 0, 2, "id", 0x21, 0, 10, 0x22, 0, 5, 0x24, 1),
		pkt: &Connack{SessionPresent: true, Properties: Properties{
			Present:          set(PropAssignedClientID, PropReceiveMaximum, PropTopicAliasMaximum, PropMaximumQoS),
			AssignedClientID: "id", ReceiveMaximum: 10, TopicAliasMaximum: 5, MaximumQoS: 1}}},
	{name: "CONNACK 5.0 not authorized", vs: v5, raw: h(0x20, 0x03, 0x00, 0x87, 0x00), pkt: &Connack{ReasonCode: NotAuthorized}},
	{name: "CONNACK reserved acknowledge flags [MQTT-3.2.2-1]", vs: v4, raw: h(0x20, 0x02, 0x02, 0x00), code: MalformedPacket},
	{name: "CONNACK session present with refusal (3.1.1 [MQTT-3.2.2-4])", vs: v4, raw: h(0x20, 0x02, 0x01, 0x05), code: ProtocolError},
	{name: "CONNACK 5.0 session present with refusal [MQTT-3.2.2-6]", vs: v5, raw: h(0x20, 0x03, 0x01, 0x87, 0x00), code: ProtocolError},
	{name: "CONNACK reserved return code 6", vs: v4, raw: h(0x20, 0x02, 0x00, 0x06), code: ProtocolError},
	{name: "CONNACK 5.0 reason code 0x10 not allowed [MQTT-3.2.2-8]", vs: v5, raw: h(0x20, 0x03, 0x00, 0x10, 0x00), code: ProtocolError},
	{name: "CONNACK header flags [MQTT-2.1.3-1]", vs: v345, raw: h(0x21, 0x02, 0x00, 0x00), code: MalformedPacket},
	{name: "CONNACK remaining length 3", vs: v4, raw: h(0x20, 0x03, 0x00, 0x00, 0x00), code: MalformedPacket},
	{name: "CONNACK 5.0 without property length [MQTT-2.2.2-1]", vs: v5, raw: h(0x20, 0x02, 0x00, 0x00), code: MalformedPacket},
	{name: "CONNACK 5.0 Topic Alias not allowed [2.2.2.2]", vs: v5, raw: h(0x20, 0x06, 0x00, 0x00, 3, 0x23, 0, 1), code: MalformedPacket},

	// ---- PUBLISH -------------------------------------------------------
	{name: "PUBLISH QoS 0", vs: v34,
		raw: h(0x30, 0x0A, 0, 3, "a/b", "hello"),
		pkt: &Publish{Topic: []byte("a/b"), Payload: []byte("hello")}},
	{name: "PUBLISH QoS 1 DUP RETAIN", vs: v34,
		raw: h(0x3B, 0x0A, 0, 3, "a/b", 0, 7, "hey"),
		pkt: &Publish{Dup: true, QoS: 1, Retain: true, Topic: []byte("a/b"), PacketID: 7, Payload: []byte("hey")}},
	{name: "PUBLISH QoS 2 empty payload", vs: v34,
		raw: h(0x34, 0x07, 0, 3, "a/b", 0x01, 0x00),
		pkt: &Publish{QoS: 2, Topic: []byte("a/b"), PacketID: 256}},
	{name: "PUBLISH two-byte remaining length", vs: v34,
		raw: h(0x30, 0xCB, 0x01, 0, 1, "t", payload200),
		pkt: &Publish{Topic: []byte("t"), Payload: payload200}},
	{name: "PUBLISH 5.0 QoS 0", vs: v5,
		raw: h(0x30, 0x0B, 0, 3, "a/b", 0, "hello"),
		pkt: &Publish{Topic: []byte("a/b"), Payload: []byte("hello")}},
	{name: "PUBLISH 5.0 every PUBLISH property", vs: v5,
		raw: h(0x32, 0x31, 0, 1, "t", 0x12, 0x34,
			42,
			0x01, 1,
			0x02, 0, 0, 0, 60,
			0x03, 0, 1, "j",
			0x08, 0, 1, "r",
			0x09, 0, 2, 0xCA, 0xFE,
			0x0B, 5,
			0x0B, 0x80, 0x01,
			0x23, 0, 7,
			0x26, 0, 1, "k", 0, 1, "v",
			0x26, 0, 1, "k", 0, 1, "w",
			"x"),
		pkt: &Publish{QoS: 1, Topic: []byte("t"), PacketID: 0x1234, Payload: []byte("x"),
			Properties: Properties{
				Present:       set(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic, PropCorrelationData, PropTopicAlias),
				PayloadFormat: 1, MessageExpiry: 60, ContentType: "j", ResponseTopic: "r",
				CorrelationData: []byte{0xCA, 0xFE}, SubscriptionIDs: []uint32{5, 128}, TopicAlias: 7,
				User: []UserProperty{{"k", "v"}, {"k", "w"}}}}},
	{name: "PUBLISH 5.0 empty topic with Topic Alias", vs: v5,
		raw: h(0x30, 0x07, 0, 0, 3, 0x23, 0, 1, "p"),
		pkt: &Publish{Properties: Properties{Present: set(PropTopicAlias), TopicAlias: 1}, Payload: []byte("p")}},
	{name: "PUBLISH 5.0 properties in another order", vs: v5, decodeOnly: true,
		raw: h(0x30, 0x0C, 0, 1, "t", 8, 0x23, 0, 2, 0x02, 0, 0, 0, 9),
		pkt: &Publish{Topic: []byte("t"), Properties: Properties{Present: set(PropTopicAlias, PropMessageExpiry), TopicAlias: 2, MessageExpiry: 9}}},
	{name: "PUBLISH QoS 3 [MQTT-3.3.1-4]", vs: v345, raw: h(0x36, 0x07, 0, 3, "a/b", 0, 1), code: MalformedPacket},
	{name: "PUBLISH DUP at QoS 0 [MQTT-3.3.1-2]", vs: v345, raw: h(0x38, 0x05, 0, 3, "a/b"), code: MalformedPacket},
	{name: "PUBLISH + in topic name [MQTT-3.3.2-2]", vs: v34, raw: h(0x30, 0x05, 0, 3, "a/+"), code: TopicNameInvalid},
	{name: "PUBLISH # in topic name [MQTT-3.3.2-2]", vs: v5, raw: h(0x30, 0x06, 0, 3, "a/#", 0), code: TopicNameInvalid},
	{name: "PUBLISH QoS 1 packet id 0 [MQTT-2.2.1-3]", vs: v34, raw: h(0x32, 0x07, 0, 3, "a/b", 0, 0), code: ProtocolError},
	{name: "PUBLISH QoS 1 without packet id", vs: v34, raw: h(0x32, 0x05, 0, 3, "a/b"), code: MalformedPacket},
	{name: "PUBLISH overlong NUL in topic [MQTT-1.5.4-1]", vs: v34, raw: h(0x30, 0x04, 0, 2, 0xC0, 0x80), code: MalformedPacket},
	{name: "PUBLISH U+0000 in topic [MQTT-1.5.4-2]", vs: v34, raw: h(0x30, 0x05, 0, 3, "a", 0, "b"), code: MalformedPacket},
	{name: "PUBLISH topic length past the packet", vs: v34, raw: h(0x30, 0x03, 0, 5, "a"), code: MalformedPacket},
	{name: "PUBLISH empty topic (3.1.1 [MQTT-4.7.3-1])", vs: v34, raw: h(0x30, 0x02, 0, 0), code: TopicNameInvalid},
	{name: "PUBLISH 5.0 empty topic without Topic Alias", vs: v5, raw: h(0x30, 0x03, 0, 0, 0), code: ProtocolError},
	{name: "PUBLISH 5.0 Topic Alias 0 [MQTT-3.3.2-8]", vs: v5, raw: h(0x30, 0x07, 0, 1, "t", 3, 0x23, 0, 0), code: TopicAliasInvalid},
	{name: "PUBLISH 5.0 Session Expiry not allowed [2.2.2.2]", vs: v5, raw: h(0x30, 0x09, 0, 1, "t", 5, 0x11, 0, 0, 0, 1), code: MalformedPacket},
	{name: "PUBLISH 5.0 Payload Format twice", vs: v5, raw: h(0x30, 0x08, 0, 1, "t", 4, 0x01, 1, 0x01, 1), code: ProtocolError},
	{name: "PUBLISH 5.0 Payload Format 2", vs: v5, raw: h(0x30, 0x06, 0, 1, "t", 2, 0x01, 2), code: ProtocolError},
	{name: "PUBLISH 5.0 Subscription Identifier 0", vs: v5, raw: h(0x30, 0x06, 0, 1, "t", 2, 0x0B, 0), code: ProtocolError},
	{name: "PUBLISH 5.0 Subscription Identifier not minimal [MQTT-1.5.5-1]", vs: v5, raw: h(0x30, 0x07, 0, 1, "t", 3, 0x0B, 0x81, 0x00), code: MalformedPacket},
	{name: "PUBLISH 5.0 Response Topic with wildcard [MQTT-3.3.2-14]", vs: v5, raw: h(0x30, 0x09, 0, 1, "t", 5, 0x08, 0, 2, "a+"), code: ProtocolError},
	{name: "PUBLISH 5.0 property length past the packet", vs: v5, raw: h(0x30, 0x05, 0, 1, "t", 5, 0x01), code: MalformedPacket},
	{name: "PUBLISH 5.0 property value past its length", vs: v5, raw: h(0x30, 0x08, 0, 1, "t", 2, 0x02, 0, 0, 60), code: MalformedPacket},
	{name: "PUBLISH 5.0 unknown property 0x80", vs: v5, raw: h(0x30, 0x06, 0, 1, "t", 2, 0x80, 0x01), code: MalformedPacket},
	{name: "PUBLISH 5.0 invalid UTF-8 in User Property [MQTT-1.5.7-1]", vs: v5, raw: h(0x30, 0x0B, 0, 1, "t", 7, 0x26, 0, 1, "k", 0, 1, 0xFF), code: MalformedPacket},

	// ---- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------
	{name: "PUBACK", vs: v345, raw: h(0x40, 0x02, 0x00, 0x01), pkt: &Puback{PacketID: 1}},
	{name: "PUBREC", vs: v345, raw: h(0x50, 0x02, 0x00, 0x02), pkt: &Pubrec{PacketID: 2}},
	{name: "PUBREL", vs: v345, raw: h(0x62, 0x02, 0x00, 0x03), pkt: &Pubrel{PacketID: 3}},
	{name: "PUBCOMP", vs: v345, raw: h(0x70, 0x02, 0xFF, 0xFF), pkt: &Pubcomp{PacketID: 0xFFFF}},
	{name: "PUBREL 3.1 with DUP bit", vs: v3, decodeOnly: true, raw: h(0x6A, 0x02, 0x00, 0x03), pkt: &Pubrel{PacketID: 3}},
	{name: "PUBACK 5.0 reason code", vs: v5, raw: h(0x40, 0x03, 0x00, 0x01, 0x10), pkt: &Puback{PacketID: 1, ReasonCode: NoMatchingSubscribers}},
	{name: "PUBACK 5.0 reason string", vs: v5,
		raw: h(0x40, 0x08, 0x00, 0x01, 0x80, 4, 0x1F, 0, 1, "e"),
		pkt: &Puback{PacketID: 1, ReasonCode: UnspecifiedError, Properties: Properties{Present: set(PropReasonString), ReasonString: "e"}}},
	{name: "PUBACK 5.0 success with empty properties", vs: v5, decodeOnly: true, raw: h(0x40, 0x04, 0x00, 0x01, 0x00, 0x00), pkt: &Puback{PacketID: 1}},
	{name: "PUBREC 5.0 quota exceeded", vs: v5, raw: h(0x50, 0x03, 0x00, 0x06, 0x97), pkt: &Pubrec{PacketID: 6, ReasonCode: QuotaExceeded}},
	{name: "PUBREL 5.0 packet id not found", vs: v5, raw: h(0x62, 0x03, 0x00, 0x05, 0x92), pkt: &Pubrel{PacketID: 5, ReasonCode: PacketIdentifierNotFound}},
	{name: "PUBCOMP 5.0 user property", vs: v5,
		raw: h(0x70, 0x0C, 0x00, 0x05, 0x00, 8, 0x26, 0, 1, "a", 0, 2, "bc"),
		pkt: &Pubcomp{PacketID: 5, Properties: Properties{User: []UserProperty{{"a", "bc"}}}}},
	{name: "PUBREL flags 0000 [MQTT-3.6.1-1]", vs: v345, raw: h(0x60, 0x02, 0x00, 0x01), code: MalformedPacket},
	{name: "PUBREL DUP bit after 3.1 [MQTT-3.6.1-1]", vs: []byte{4, 5}, raw: h(0x6A, 0x02, 0x00, 0x01), code: MalformedPacket},
	{name: "PUBACK flags 0010 [MQTT-2.1.3-1]", vs: v345, raw: h(0x42, 0x02, 0x00, 0x01), code: MalformedPacket},
	{name: "PUBACK packet id 0", vs: v345, raw: h(0x40, 0x02, 0x00, 0x00), code: ProtocolError},
	{name: "PUBACK remaining length 1", vs: v345, raw: h(0x40, 0x01, 0x00), code: MalformedPacket},
	{name: "PUBACK 3.1.1 remaining length 3", vs: v34, raw: h(0x40, 0x03, 0x00, 0x01, 0x00), code: MalformedPacket},
	{name: "PUBACK 5.0 reason code 0x92 [MQTT-3.4.2-1]", vs: v5, raw: h(0x40, 0x03, 0x00, 0x01, 0x92), code: ProtocolError},
	{name: "PUBREL 5.0 reason code 0x10 [MQTT-3.6.2-1]", vs: v5, raw: h(0x62, 0x03, 0x00, 0x01, 0x10), code: ProtocolError},
	{name: "PUBACK 5.0 Content Type not allowed [2.2.2.2]", vs: v5, raw: h(0x40, 0x08, 0x00, 0x01, 0x00, 4, 0x03, 0, 1, "x"), code: MalformedPacket},
	{name: "PUBACK 5.0 trailing byte", vs: v5, raw: h(0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00), code: MalformedPacket},

	// ---- SUBSCRIBE -----------------------------------------------------
	{name: "SUBSCRIBE", vs: v34,
		raw: h(0x82, 0x0E, 0x00, 0x0A, 0, 3, "a/b", 0x01, 0, 3, "c/#", 0x02),
		pkt: &Subscribe{PacketID: 10, Subscriptions: []Subscription{{Filter: "a/b", QoS: 1}, {Filter: "c/#", QoS: 2}}}},
	{name: "SUBSCRIBE 3.1 with DUP bit", vs: v3, decodeOnly: true,
		raw: h(0x8A, 0x07, 0x00, 0x0A, 0, 2, "a/", 0x00),
		pkt: &Subscribe{PacketID: 10, Subscriptions: []Subscription{{Filter: "a/"}}}},
	{name: "SUBSCRIBE 5.0 options and Subscription Identifier", vs: v5,
		// a/+: QoS 1 | No Local 0x04 | Retain As Published 0x08 | Retain Handling 2 (0x20)
		// $share/g/x: QoS 0 | Retain Handling 1 (0x10)
		raw: h(0x82, 0x18, 0x00, 0x0B, 2, 0x0B, 7, 0, 3, "a/+", 0x2D, 0, 10, "$share/g/x", 0x10),
		pkt: &Subscribe{PacketID: 11, Properties: Properties{SubscriptionIDs: []uint32{7}},
			Subscriptions: []Subscription{
				{Filter: "a/+", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "$share/g/x", RetainHandling: 1}}}},
	{name: "SUBSCRIBE flags 0000 [MQTT-3.8.1-1]", vs: v345, raw: h(0x80, 0x07, 0x00, 0x0A, 0, 2, "a/", 0x00), code: MalformedPacket},
	{name: "SUBSCRIBE DUP bit after 3.1 [MQTT-3.8.1-1]", vs: v4, raw: h(0x8A, 0x07, 0x00, 0x0A, 0, 2, "a/", 0x00), code: MalformedPacket},
	{name: "SUBSCRIBE without topic filters (3.1.1 [MQTT-3.8.3-3])", vs: v34, raw: h(0x82, 0x02, 0x00, 0x0A), code: ProtocolError},
	{name: "SUBSCRIBE 5.0 without topic filters [MQTT-3.8.3-2]", vs: v5, raw: h(0x82, 0x03, 0x00, 0x0A, 0), code: ProtocolError},
	{name: "SUBSCRIBE packet id 0 [MQTT-2.2.1-3]", vs: v34, raw: h(0x82, 0x07, 0x00, 0x00, 0, 2, "a/", 0x00), code: ProtocolError},
	{name: "SUBSCRIBE reserved option bits (3.1.1 [MQTT-3-8.3-4])", vs: v34, raw: h(0x82, 0x07, 0x00, 0x0A, 0, 2, "a/", 0x04), code: MalformedPacket},
	{name: "SUBSCRIBE QoS 3 (3.1.1 [MQTT-3-8.3-4])", vs: v34, raw: h(0x82, 0x07, 0x00, 0x0A, 0, 2, "a/", 0x03), code: MalformedPacket},
	{name: "SUBSCRIBE 5.0 reserved option bits [MQTT-3.8.3-5]", vs: v5, raw: h(0x82, 0x08, 0x00, 0x0A, 0, 0, 2, "a/", 0x40), code: MalformedPacket},
	{name: "SUBSCRIBE 5.0 QoS 3 [MQTT-3.8.3-5]", vs: v5, raw: h(0x82, 0x08, 0x00, 0x0A, 0, 0, 2, "a/", 0x03), code: MalformedPacket},
	{name: "SUBSCRIBE 5.0 Retain Handling 3", vs: v5, raw: h(0x82, 0x08, 0x00, 0x0A, 0, 0, 2, "a/", 0x30), code: ProtocolError},
	{name: "SUBSCRIBE 5.0 No Local on a shared subscription [MQTT-3.8.3-4]", vs: v5, raw: h(0x82, 0x10, 0x00, 0x0A, 0, 0, 10, "$share/g/x", 0x04), code: ProtocolError},
	{name: "SUBSCRIBE 5.0 two Subscription Identifiers", vs: v5, raw: h(0x82, 0x0C, 0x00, 0x0A, 4, 0x0B, 1, 0x0B, 2, 0, 2, "a/", 0x00), code: ProtocolError},
	{name: "SUBSCRIBE 5.0 Subscription Identifier 0", vs: v5, raw: h(0x82, 0x0A, 0x00, 0x0A, 2, 0x0B, 0, 0, 2, "a/", 0x00), code: ProtocolError},
	{name: "SUBSCRIBE filter without options byte", vs: v34, raw: h(0x82, 0x06, 0x00, 0x0A, 0, 2, "a/"), code: MalformedPacket},
	{name: "SUBSCRIBE invalid UTF-8 filter [MQTT-3.8.3-1]", vs: v34, raw: h(0x82, 0x07, 0x00, 0x0A, 0, 2, 0xE2, 0x82, 0x00), code: MalformedPacket},

	// ---- SUBACK --------------------------------------------------------
	{name: "SUBACK", vs: v34, raw: h(0x90, 0x04, 0x00, 0x0A, 0x01, 0x80), pkt: &Suback{PacketID: 10, ReasonCodes: []ReasonCode{GrantedQoS1, SubackFailure}}},
	{name: "SUBACK 5.0", vs: v5, raw: h(0x90, 0x06, 0x00, 0x0B, 0, 0x02, 0x8F, 0xA2),
		pkt: &Suback{PacketID: 11, ReasonCodes: []ReasonCode{GrantedQoS2, TopicFilterInvalid, WildcardSubscriptionsNotSupported}}},
	{name: "SUBACK 3.1.1 code 0x8F [MQTT-3.9.3-2]", vs: v34, raw: h(0x90, 0x03, 0x00, 0x0A, 0x8F), code: ProtocolError},
	{name: "SUBACK 5.0 code 0x03 [MQTT-3.9.3-2]", vs: v5, raw: h(0x90, 0x04, 0x00, 0x0A, 0, 0x03), code: ProtocolError},
	{name: "SUBACK without codes", vs: v34, raw: h(0x90, 0x02, 0x00, 0x0A), code: ProtocolError},
	{name: "SUBACK header flags [MQTT-2.1.3-1]", vs: v345, raw: h(0x92, 0x03, 0x00, 0x0A, 0x00), code: MalformedPacket},

	// ---- UNSUBSCRIBE ---------------------------------------------------
	{name: "UNSUBSCRIBE", vs: v34, raw: h(0xA2, 0x0A, 0x00, 0x0C, 0, 3, "a/b", 0, 1, "#"),
		pkt: &Unsubscribe{PacketID: 12, Filters: []string{"a/b", "#"}}},
	{name: "UNSUBSCRIBE 5.0", vs: v5, raw: h(0xA2, 0x0B, 0x00, 0x0C, 0, 0, 3, "a/b", 0, 1, "#"),
		pkt: &Unsubscribe{PacketID: 12, Filters: []string{"a/b", "#"}}},
	{name: "UNSUBSCRIBE flags 0000 [MQTT-3.10.1-1]", vs: v345, raw: h(0xA0, 0x05, 0x00, 0x0C, 0, 1, "#"), code: MalformedPacket},
	{name: "UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]", vs: v34, raw: h(0xA2, 0x02, 0x00, 0x0C), code: ProtocolError},
	{name: "UNSUBSCRIBE packet id 0", vs: v34, raw: h(0xA2, 0x05, 0x00, 0x00, 0, 1, "#"), code: ProtocolError},
	{name: "UNSUBSCRIBE 5.0 Subscription Identifier not allowed [2.2.2.2]", vs: v5, raw: h(0xA2, 0x08, 0x00, 0x0C, 2, 0x0B, 1, 0, 1, "#"), code: MalformedPacket},

	// ---- UNSUBACK ------------------------------------------------------
	{name: "UNSUBACK", vs: v34, raw: h(0xB0, 0x02, 0x00, 0x0C), pkt: &Unsuback{PacketID: 12}},
	{name: "UNSUBACK 5.0", vs: v5, raw: h(0xB0, 0x05, 0x00, 0x0C, 0, 0x00, 0x11),
		pkt: &Unsuback{PacketID: 12, ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted}}},
	{name: "UNSUBACK 3.1.1 remaining length 3", vs: v34, raw: h(0xB0, 0x03, 0x00, 0x0C, 0x00), code: MalformedPacket},
	{name: "UNSUBACK 5.0 without codes", vs: v5, raw: h(0xB0, 0x03, 0x00, 0x0C, 0), code: ProtocolError},
	{name: "UNSUBACK 5.0 code 0x01 [MQTT-3.11.3-2]", vs: v5, raw: h(0xB0, 0x04, 0x00, 0x0C, 0, 0x01), code: ProtocolError},

	// ---- PINGREQ, PINGRESP ---------------------------------------------
	{name: "PINGREQ", vs: v345, raw: h(0xC0, 0x00), pkt: &Pingreq{}},
	{name: "PINGRESP", vs: v345, raw: h(0xD0, 0x00), pkt: &Pingresp{}},
	{name: "PINGREQ with a body", vs: v345, raw: h(0xC0, 0x01, 0x00), code: MalformedPacket},
	{name: "PINGRESP header flags [MQTT-2.1.3-1]", vs: v345, raw: h(0xD1, 0x00), code: MalformedPacket},

	// ---- DISCONNECT ----------------------------------------------------
	{name: "DISCONNECT", vs: v345, raw: h(0xE0, 0x00), pkt: &Disconnect{}},
	{name: "DISCONNECT 5.0 with Will Message", vs: v5, raw: h(0xE0, 0x01, 0x04), pkt: &Disconnect{ReasonCode: DisconnectWithWillMessage}},
	{name: "DISCONNECT 5.0 Session Expiry", vs: v5, raw: h(0xE0, 0x07, 0x00, 5, 0x11, 0, 0, 0, 60),
		pkt: &Disconnect{Properties: Properties{Present: set(PropSessionExpiry), SessionExpiry: 60}}},
	{name: "DISCONNECT 5.0 server moved", vs: v5, raw: h(0xE0, 0x06, 0x9D, 4, 0x1C, 0, 1, "s"),
		pkt: &Disconnect{ReasonCode: ServerMoved, Properties: Properties{Present: set(PropServerReference), ServerReference: "s"}}},
	{name: "DISCONNECT 5.0 explicit normal reason code", vs: v5, decodeOnly: true, raw: h(0xE0, 0x01, 0x00), pkt: &Disconnect{}},
	{name: "DISCONNECT 5.0 explicit empty properties", vs: v5, decodeOnly: true, raw: h(0xE0, 0x02, 0x00, 0x00), pkt: &Disconnect{}},
	{name: "DISCONNECT 3.1.1 with a body", vs: v34, raw: h(0xE0, 0x01, 0x00), code: MalformedPacket},
	{name: "DISCONNECT header flags [MQTT-3.14.1-1]", vs: v345, raw: h(0xE2, 0x00), code: MalformedPacket},
	{name: "DISCONNECT 5.0 reason code 0x01 [MQTT-3.14.2-1]", vs: v5, raw: h(0xE0, 0x01, 0x01), code: ProtocolError},
	{name: "DISCONNECT 5.0 Server Keep Alive not allowed [2.2.2.2]", vs: v5, raw: h(0xE0, 0x05, 0x00, 3, 0x13, 0, 1), code: MalformedPacket},

	// ---- AUTH ----------------------------------------------------------
	{name: "AUTH 5.0 success", vs: v5, raw: h(0xF0, 0x00), pkt: &Auth{}},
	{name: "AUTH 5.0 continue", vs: v5, raw: h(0xF0, 0x0B, 0x18, 9, 0x15, 0, 1, "m", 0x16, 0, 2, 0x01, 0x02),
		pkt: &Auth{ReasonCode: ContinueAuthentication, Properties: Properties{Present: set(PropAuthMethod, PropAuthData), AuthMethod: "m", AuthData: []byte{1, 2}}}},
	{name: "AUTH 5.0 re-authenticate", vs: v5, raw: h(0xF0, 0x02, 0x19, 0x00), pkt: &Auth{ReasonCode: ReAuthenticate}},
	{name: "AUTH 5.0 reason code only", vs: v5, decodeOnly: true, raw: h(0xF0, 0x01, 0x19), pkt: &Auth{ReasonCode: ReAuthenticate}},
	{name: "AUTH before 5.0", vs: v34, raw: h(0xF0, 0x00), code: MalformedPacket},
	{name: "AUTH header flags [MQTT-3.15.1-1]", vs: v5, raw: h(0xF1, 0x00), code: MalformedPacket},
	{name: "AUTH 5.0 reason code 0x01 [MQTT-3.15.2-1]", vs: v5, raw: h(0xF0, 0x02, 0x01, 0x00), code: ProtocolError},
	{name: "AUTH 5.0 Authentication Data without Method", vs: v5, raw: h(0xF0, 0x06, 0x18, 4, 0x16, 0, 1, 0x01), code: ProtocolError},
}
