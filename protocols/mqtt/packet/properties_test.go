package packet

import (
	"bytes"
	"reflect"
	"testing"
)

// TestPropertyRoundTrip encodes every property identifier of spec 2.2.2.2,
// covering every property type, in a packet that allows it, and expects the
// hand-written bytes; then decodes them back.
func TestPropertyRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		ctx   Type // packet type, or ctxWill
		props Properties
		raw   []byte // Property Length and properties
	}{
		// Byte
		{"0x01 Payload Format Indicator (byte)", PUBLISH, Properties{Present: set(PropPayloadFormat), PayloadFormat: 1}, h(2, 0x01, 1)},
		{"0x17 Request Problem Information (byte)", CONNECT, Properties{Present: set(PropRequestProblemInfo), RequestProblemInfo: 0}, h(2, 0x17, 0)},
		{"0x19 Request Response Information (byte)", CONNECT, Properties{Present: set(PropRequestResponseInfo), RequestResponseInfo: 1}, h(2, 0x19, 1)},
		{"0x24 Maximum QoS (byte)", CONNACK, Properties{Present: set(PropMaximumQoS), MaximumQoS: 0}, h(2, 0x24, 0)},
		{"0x25 Retain Available (byte)", CONNACK, Properties{Present: set(PropRetainAvailable), RetainAvailable: 1}, h(2, 0x25, 1)},
		{"0x28 Wildcard Subscription Available (byte)", CONNACK, Properties{Present: set(PropWildcardSubAvailable), WildcardSubAvailable: 0}, h(2, 0x28, 0)},
		{"0x29 Subscription Identifier Available (byte)", CONNACK, Properties{Present: set(PropSubIDAvailable), SubIDAvailable: 1}, h(2, 0x29, 1)},
		{"0x2A Shared Subscription Available (byte)", CONNACK, Properties{Present: set(PropSharedSubAvailable), SharedSubAvailable: 0}, h(2, 0x2A, 0)},
		// Two Byte Integer
		{"0x13 Server Keep Alive (two-byte)", CONNACK, Properties{Present: set(PropServerKeepAlive), ServerKeepAlive: 0x1234}, h(3, 0x13, 0x12, 0x34)},
		{"0x21 Receive Maximum (two-byte)", CONNECT, Properties{Present: set(PropReceiveMaximum), ReceiveMaximum: 65535}, h(3, 0x21, 0xFF, 0xFF)},
		{"0x22 Topic Alias Maximum (two-byte)", CONNACK, Properties{Present: set(PropTopicAliasMaximum), TopicAliasMaximum: 0}, h(3, 0x22, 0, 0)},
		{"0x23 Topic Alias (two-byte)", PUBLISH, Properties{Present: set(PropTopicAlias), TopicAlias: 258}, h(3, 0x23, 0x01, 0x02)},
		// Four Byte Integer
		{"0x02 Message Expiry Interval (four-byte)", ctxWill, Properties{Present: set(PropMessageExpiry), MessageExpiry: 0x01020304}, h(5, 0x02, 1, 2, 3, 4)},
		{"0x11 Session Expiry Interval (four-byte)", DISCONNECT, Properties{Present: set(PropSessionExpiry), SessionExpiry: 0xFFFFFFFF}, h(5, 0x11, 0xFF, 0xFF, 0xFF, 0xFF)},
		{"0x18 Will Delay Interval (four-byte)", ctxWill, Properties{Present: set(PropWillDelay), WillDelay: 0}, h(5, 0x18, 0, 0, 0, 0)},
		{"0x27 Maximum Packet Size (four-byte)", CONNECT, Properties{Present: set(PropMaximumPacketSize), MaximumPacketSize: 1 << 20}, h(5, 0x27, 0, 0x10, 0, 0)},
		// Variable Byte Integer
		{"0x0B Subscription Identifier (varint, 1 byte)", SUBSCRIBE, Properties{SubscriptionIDs: []uint32{127}}, h(2, 0x0B, 0x7F)},
		{"0x0B Subscription Identifier (varint, 4 bytes, max)", PUBLISH, Properties{SubscriptionIDs: []uint32{268_435_455}}, h(5, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F)},
		{"0x0B Subscription Identifier repeated in PUBLISH", PUBLISH, Properties{SubscriptionIDs: []uint32{1, 16384}}, h(6, 0x0B, 1, 0x0B, 0x80, 0x80, 0x01)},
		// UTF-8 Encoded String
		{"0x03 Content Type (string)", PUBLISH, Properties{Present: set(PropContentType), ContentType: "text/plain; charset=ü"}, h(25, 0x03, 0, 22, "text/plain; charset=ü")},
		{"0x08 Response Topic (string)", ctxWill, Properties{Present: set(PropResponseTopic), ResponseTopic: "reply/to"}, h(11, 0x08, 0, 8, "reply/to")},
		{"0x12 Assigned Client Identifier (string)", CONNACK, Properties{Present: set(PropAssignedClientID), AssignedClientID: "auto-1"}, h(9, 0x12, 0, 6, "auto-1")},
		{"0x15 Authentication Method (string)", AUTH, Properties{Present: set(PropAuthMethod), AuthMethod: "SCRAM-SHA-1"}, h(14, 0x15, 0, 11, "SCRAM-SHA-1")},
		{"0x1A Response Information (string)", CONNACK, Properties{Present: set(PropResponseInfo), ResponseInfo: "r/"}, h(5, 0x1A, 0, 2, "r/")},
		{"0x1C Server Reference (string)", DISCONNECT, Properties{Present: set(PropServerReference), ServerReference: "other:1883"}, h(13, 0x1C, 0, 10, "other:1883")},
		{"0x1F Reason String (string)", SUBACK, Properties{Present: set(PropReasonString), ReasonString: ""}, h(3, 0x1F, 0, 0)},
		// Binary Data
		{"0x09 Correlation Data (binary)", PUBLISH, Properties{Present: set(PropCorrelationData), CorrelationData: []byte{0, 0xFF, 0}}, h(6, 0x09, 0, 3, 0, 0xFF, 0)},
		{"0x16 Authentication Data (binary) with its Method", CONNECT, Properties{Present: set(PropAuthMethod, PropAuthData), AuthMethod: "m", AuthData: []byte{7}}, h(8, 0x15, 0, 1, "m", 0x16, 0, 1, 7)},
		// UTF-8 String Pair
		{"0x26 User Property (string pair), order kept", UNSUBSCRIBE, Properties{User: []UserProperty{{"b", "1"}, {"a", "2"}, {"b", "3"}}}, h(21, 0x26, 0, 1, "b", 0, 1, "1", 0x26, 0, 1, "a", 0, 1, "2", 0x26, 0, 1, "b", 0, 1, "3")},
		{"0x26 User Property with empty strings", AUTH, Properties{User: []UserProperty{{"", ""}}}, h(5, 0x26, 0, 0, 0, 0)},
		// Property Length of two bytes
		{"two-byte Property Length", PUBACK, Properties{Present: set(PropReasonString), ReasonString: string(bytes.Repeat([]byte("r"), 200))}, h(0xCB, 0x01, 0x1F, 0, 200, bytes.Repeat([]byte("r"), 200))},
		{"no properties", PINGREQ, Properties{}, h(0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := c.props.size(c.ctx)
			if err != nil {
				t.Fatalf("size: %v", err)
			}
			got := c.props.appendTo(nil, c.ctx, n)
			if !bytes.Equal(got, c.raw) {
				t.Fatalf("encoded\n % x\nwant\n % x", got, c.raw)
			}
			var p Properties
			cur := cursor{b: c.raw}
			if err := p.decode(&cur, c.ctx); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !cur.empty() {
				t.Fatalf("decode left %d bytes", len(cur.b))
			}
			if !reflect.DeepEqual(p, c.props) {
				t.Fatalf("decoded\n %#v\nwant\n %#v", p, c.props)
			}
		})
	}
}

// sampleValue is a valid encoding of a value of the property's type.
func sampleValue(id PropID) []byte {
	switch propTable[id].kind {
	case kindByte:
		return h(1)
	case kindUint16:
		return h(0, 1)
	case kindUint32:
		return h(0, 0, 0, 1)
	case kindVarint:
		return h(1)
	case kindString:
		return h(0, 1, "a")
	case kindBinary:
		return h(0, 1, 1)
	case kindPair:
		return h(0, 1, "a", 0, 1, "b")
	}
	panic("unknown kind")
}

func decodeProps(ctx Type, props []byte) error {
	var p Properties
	c := cursor{b: append(appendVarint(nil, uint32(len(props))), props...)}
	return p.decode(&c, ctx)
}

// TestPropertyAllowedIn tries every identifier in every context: one not
// valid for the packet is a Malformed Packet [2.2.2.2], a second instance of
// a single-valued one a Protocol Error, and only User Property (anywhere)
// and Subscription Identifier (in PUBLISH) may repeat.
func TestPropertyAllowedIn(t *testing.T) {
	contexts := []Type{ctxWill, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
		SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH}
	allowed := map[PropID][]Type{
		PropPayloadFormat:        {PUBLISH, ctxWill},
		PropMessageExpiry:        {PUBLISH, ctxWill},
		PropContentType:          {PUBLISH, ctxWill},
		PropResponseTopic:        {PUBLISH, ctxWill},
		PropCorrelationData:      {PUBLISH, ctxWill},
		PropSubscriptionID:       {PUBLISH, SUBSCRIBE},
		PropSessionExpiry:        {CONNECT, CONNACK, DISCONNECT},
		PropAssignedClientID:     {CONNACK},
		PropServerKeepAlive:      {CONNACK},
		PropAuthMethod:           {CONNECT, CONNACK, AUTH},
		PropAuthData:             {CONNECT, CONNACK, AUTH},
		PropRequestProblemInfo:   {CONNECT},
		PropWillDelay:            {ctxWill},
		PropRequestResponseInfo:  {CONNECT},
		PropResponseInfo:         {CONNACK},
		PropServerReference:      {CONNACK, DISCONNECT},
		PropReasonString:         {CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH},
		PropReceiveMaximum:       {CONNECT, CONNACK},
		PropTopicAliasMaximum:    {CONNECT, CONNACK},
		PropTopicAlias:           {PUBLISH},
		PropMaximumQoS:           {CONNACK},
		PropRetainAvailable:      {CONNACK},
		PropUserProperty:         {CONNECT, CONNACK, PUBLISH, ctxWill, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH},
		PropMaximumPacketSize:    {CONNECT, CONNACK},
		PropWildcardSubAvailable: {CONNACK},
		PropSubIDAvailable:       {CONNACK},
		PropSharedSubAvailable:   {CONNACK},
	}
	if len(allowed) != 27 {
		t.Fatalf("the spec defines 27 properties, the test lists %d", len(allowed))
	}
	for id := 0; id < 256; id++ {
		pid := PropID(id)
		ok := allowed[pid]
		for _, ctx := range contexts {
			want := false
			for _, a := range ok {
				want = want || a == ctx
			}
			if AllowedIn(pid, ctx) != want {
				t.Errorf("AllowedIn(%v, %v) = %v", pid, ctxName(ctx), !want)
			}
			if id >= len(propTable) || propTable[id].kind == 0 {
				if err := decodeProps(ctx, h(id, 0)); CodeOf(err) != MalformedPacket {
					t.Errorf("unknown identifier 0x%02x in %v: %v, want Malformed Packet", id, ctxName(ctx), err)
				}
				continue
			}
			one := append([]byte{byte(id)}, sampleValue(pid)...)
			if pid == PropAuthData {
				one = append(h(0x15, 0, 1, "m"), one...) // Authentication Data needs its Method
			}
			err := decodeProps(ctx, one)
			switch {
			case want && err != nil:
				t.Errorf("%v in %v: %v", pid, ctxName(ctx), err)
			case !want && CodeOf(err) != MalformedPacket:
				t.Errorf("%v in %v: %v, want Malformed Packet", pid, ctxName(ctx), err)
			}
			if !want {
				continue
			}
			two := append(one, append([]byte{byte(id)}, sampleValue(pid)...)...)
			err = decodeProps(ctx, two)
			repeatable := pid == PropUserProperty || (pid == PropSubscriptionID && ctx == PUBLISH)
			switch {
			case repeatable && err != nil:
				t.Errorf("%v twice in %v: %v", pid, ctxName(ctx), err)
			case !repeatable && CodeOf(err) != ProtocolError:
				t.Errorf("%v twice in %v: %v, want Protocol Error", pid, ctxName(ctx), err)
			}
		}
	}
}

func TestPropertiesHas(t *testing.T) {
	p := Properties{User: []UserProperty{{"a", "b"}}}
	p.Set(PropTopicAlias)
	if !p.Has(PropUserProperty) || !p.Has(PropTopicAlias) || p.Has(PropSubscriptionID) || p.Has(PropContentType) {
		t.Fatalf("Has: %+v", p)
	}
	p.Present.Remove(PropTopicAlias)
	if p.Has(PropTopicAlias) {
		t.Fatal("Remove did not remove")
	}
	if PropTopicAlias.String() != "Topic Alias" || PropID(0x05).String() != "property 0x05" {
		t.Fatal(PropTopicAlias.String(), PropID(0x05).String())
	}
}
