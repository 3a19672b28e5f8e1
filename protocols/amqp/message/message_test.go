package message

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/body"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

var now = time.UnixMilli(1_700_000_000_000)

func ptr[T any](v T) *T { return &v }

func marshal(t *testing.T, m *amqp.Message) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unmarshal reads a payload with go-amqp: the oracle for what a client sees.
func unmarshal(t *testing.T, b []byte) *amqp.Message {
	t.Helper()
	var m amqp.Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatalf("go-amqp cannot read % x: %v", b, err)
	}
	return &m
}

// TestFromGoAMQP: every section and property a go-amqp client sends maps
// to the core field docs/AMQP.md names.
func TestFromGoAMQP(t *testing.T) {
	uuid := amqp.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	in := &amqp.Message{
		Header:              &amqp.MessageHeader{Durable: true, Priority: 7, TTL: 10 * time.Second, DeliveryCount: 3},
		DeliveryAnnotations: amqp.Annotations{"x-opt-hop": "1"},
		Annotations: amqp.Annotations{"x-opt-delivery-delay": int64(5000), "x-opt-jms-dest": int8(1),
			"x-opt-jms-reply-to": int8(0), "x-opt-custom": uint32(9)},
		Properties: &amqp.MessageProperties{MessageID: uuid, UserID: []byte("alice"), To: ptr("orders"),
			Subject: ptr("OrderType"), ReplyTo: ptr("replies"), CorrelationID: uint64(77),
			ContentType: ptr("text/plain"), CreationTime: ptr(time.UnixMilli(1_600_000_000_000)),
			GroupID: ptr("g"), GroupSequence: ptr(uint32(5))},
		ApplicationProperties: map[string]any{"i": int32(-4), "u8": uint8(200), "s": "str", "b": true, "d": float64(1.5), "t": time.UnixMilli(42)},
		Value:                 "hello",
		Footer:                amqp.Annotations{"x-hash": "h"},
	}
	payload := marshal(t, in)
	m, info, err := Decode(payload, now)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Durable || m.Priority != 7 || m.Expiration != now.UnixMilli()+10000 || m.ScheduledAt != now.UnixMilli()+5000 {
		t.Errorf("header/schedule: durable %v priority %d expiration %d scheduled %d", m.Durable, m.Priority, m.Expiration, m.ScheduledAt)
	}
	if !m.ClientMessageID.Equal(prop.UUIDValue(uuid)) || !m.CorrelationID.Equal(prop.Uint64Value(77)) {
		t.Errorf("ids %v %v", m.ClientMessageID, m.CorrelationID)
	}
	if m.JMSMessageID() != "ID:AMQP_UUID:01020304-0506-0708-090a-0b0c0d0e0f10" || m.JMSCorrelationID() != "ID:AMQP_ULONG:77" {
		t.Errorf("JMS ids %q %q", m.JMSMessageID(), m.JMSCorrelationID())
	}
	if info.To != "orders" || string(info.UserID) != "alice" || !info.HasHeader || info.Header.DeliveryCount != 3 {
		t.Errorf("info %+v", info)
	}
	if v, _ := info.DeliveryAnnotations.Get(codec.Symbol("x-opt-hop")); v != "1" {
		t.Errorf("delivery annotations %v", info.DeliveryAnnotations)
	}
	if m.Type != "OrderType" || m.ReplyTo != "replies" || m.ReplyToType != core.Anycast || m.RoutingType != core.Multicast ||
		m.ContentType != "text/plain" || m.Timestamp != 1_600_000_000_000 || m.GroupID != "g" || m.GroupSeq != 5 {
		t.Errorf("properties: %+v", m)
	}
	for name, want := range map[string]prop.Value{"i": prop.Int32Value(-4), "u8": prop.Uint8Value(200), "s": prop.StringValue("str"),
		"b": prop.BoolValue(true), "d": prop.Float64Value(1.5), "t": prop.TimestampValue(42)} {
		if got := m.Property(name); !got.Equal(want) {
			t.Errorf("property %s = %v, want %v", name, got, want)
		}
	}
	if got := m.Annotation("x-opt-custom"); !got.Equal(prop.Uint32Value(9)) {
		t.Errorf("annotation x-opt-custom = %v", got)
	}
	if m.BodyKind != core.BodyText || string(m.Body) != "hello" {
		t.Errorf("body %v %q", m.BodyKind, m.Body)
	}
	if m.Wire == nil || m.Wire.Protocol != Protocol {
		t.Fatal("no wire form")
	}

	// Back out: the bare message is the producer's bytes, the header and
	// annotations are this delivery's.
	out := AppendPayload(nil, m, Delivery{DeliveryCount: 2, Now: now.Add(4 * time.Second)})
	if !bytes.Contains(out, m.Wire.Data) {
		t.Fatal("bare message not passed on byte for byte")
	}
	back := unmarshal(t, out)
	if back.Header == nil || !back.Header.Durable || back.Header.Priority != 7 || back.Header.TTL != 6*time.Second ||
		back.Header.DeliveryCount != 1 || back.Header.FirstAcquirer {
		t.Errorf("header out %+v", back.Header)
	}
	if back.DeliveryAnnotations != nil {
		t.Errorf("delivery annotations passed on: %v", back.DeliveryAnnotations)
	}
	if back.Annotations["x-opt-custom"] != uint32(9) || back.Annotations["x-opt-delivery-delay"] != int64(5000) {
		t.Errorf("annotations out %v", back.Annotations)
	}
	if back.Value != "hello" || *back.Properties.Subject != "OrderType" || back.ApplicationProperties["u8"] != uint8(200) {
		t.Errorf("message out %+v", back)
	}
}

// TestWireRoundTrip: AMQP → AMQP keeps the bare message as sent, whatever
// encodings the producer chose, for every body kind.
func TestWireRoundTrip(t *testing.T) {
	for name, in := range map[string]*amqp.Message{
		"data":          {Data: [][]byte{[]byte("a"), []byte("bc")}},
		"binary value":  {Value: []byte{1, 2}},
		"map value":     {Value: map[string]any{"k": int64(1), "n": nil}},
		"nested map":    {Value: map[string]any{"k": []any{int64(1)}}},
		"list value":    {Value: []any{"a", int32(2)}},
		"int value":     {Value: int64(12)},
		"sequence":      {Sequence: [][]any{{"a", int64(1)}}},
		"sequences":     {Sequence: [][]any{{"a"}, {int64(1)}}},
		"null value":    {Value: amqp.Null{}},
		"properties":    {Properties: &amqp.MessageProperties{MessageID: []byte{0xca, 0xfe}, CorrelationID: "c"}, Data: [][]byte{{}}},
		"only app-prop": {ApplicationProperties: map[string]any{"a": "b"}},
	} {
		t.Run(name, func(t *testing.T) {
			payload := marshal(t, in)
			m, _, err := Decode(payload, now)
			if err != nil {
				t.Fatal(err)
			}
			out := AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now})
			if !bytes.HasSuffix(out, m.Wire.Data) || !bytes.HasSuffix(payload, m.Wire.Data) {
				t.Fatalf("bare message changed:\n in % x\nout % x", payload, out)
			}
			back := unmarshal(t, out)
			if !reflect.DeepEqual(back.Data, in.Data) || !reflect.DeepEqual(back.Sequence, in.Sequence) {
				t.Errorf("body out %+v", back)
			}
			// The same message without its wire form (as after SetProperty)
			// is encoded from the fields and reads the same.
			m.Wire = nil
			again := unmarshal(t, AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now}))
			if name == "data" {
				if !reflect.DeepEqual(again.Data, [][]byte{[]byte("abc")}) {
					t.Errorf("data from fields %q", again.Data)
				}
				return
			}
			switch name {
			case "null value", "binary value":
				// An empty or binary body is a BytesMessage: a data section.
				if name == "binary value" && !reflect.DeepEqual(again.Data, [][]byte{{1, 2}}) {
					t.Errorf("binary from fields %q", again.Data)
				}
				return
			case "sequence":
				// A single sequence of simple values is a stream: an amqp-value list.
				if !reflect.DeepEqual(again.Value, in.Sequence[0]) {
					t.Errorf("stream from fields %#v", again.Value)
				}
				return
			}
			if !reflect.DeepEqual(again.Value, back.Value) || !reflect.DeepEqual(again.Sequence, back.Sequence) {
				t.Errorf("from fields: value %#v seq %#v, want %#v %#v", again.Value, again.Sequence, back.Value, back.Sequence)
			}
		})
	}
}

// TestBodyKinds: what each AMQP body becomes in the core.
func TestBodyKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *amqp.Message
		kind core.BodyKind
		body []byte
	}{
		{"data", &amqp.Message{Data: [][]byte{[]byte("xy")}}, core.BodyBytes, []byte("xy")},
		{"object", &amqp.Message{Properties: &amqp.MessageProperties{ContentType: ptr(ContentTypeJavaObject)}, Data: [][]byte{{0xac, 0xed}}}, core.BodyObject, []byte{0xac, 0xed}},
		{"text", &amqp.Message{Value: "t"}, core.BodyText, []byte("t")},
		{"text data", &amqp.Message{Properties: &amqp.MessageProperties{ContentType: ptr("text/plain")}, Data: [][]byte{[]byte("t")}}, core.BodyText, []byte("t")},
		{"charset data", &amqp.Message{Properties: &amqp.MessageProperties{ContentType: ptr("application/json; charset=utf-8")}, Data: [][]byte{[]byte("{}")}}, core.BodyText, []byte("{}")},
		{"text data not UTF-8", &amqp.Message{Properties: &amqp.MessageProperties{ContentType: ptr("text/plain")}, Data: [][]byte{{0xff}}}, core.BodyBytes, []byte{0xff}},
		{"jms text data", &amqp.Message{Annotations: amqp.Annotations{"x-opt-jms-msg-type": int8(5)}, Data: [][]byte{[]byte("j")}}, core.BodyText, []byte("j")},
		{"map", &amqp.Message{Value: map[string]any{"k": int32(1)}}, core.BodyMap, body.AppendMap(nil, []prop.Property{{Name: "k", Value: prop.Int32Value(1)}})},
		{"list", &amqp.Message{Value: []any{int32(1)}}, core.BodyStream, body.AppendList(nil, []prop.Value{prop.Int32Value(1)})},
		{"sequence", &amqp.Message{Sequence: [][]any{{int32(1)}}}, core.BodyStream, body.AppendList(nil, []prop.Value{prop.Int32Value(1)})},
		{"value", &amqp.Message{Value: int64(1000)}, core.BodyAMQPValue, []byte{0x81, 0, 0, 0, 0, 0, 0, 0x03, 0xe8}},
		// go-amqp writes lists as list32: the body keeps what was sent.
		{"nested list", &amqp.Message{Value: []any{[]any{}}}, core.BodyAMQPValue, []byte{0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x45}},
		{"sequences", &amqp.Message{Sequence: [][]any{{true}, {false}}}, core.BodyAMQPSequence,
			[]byte{0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x41, 0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x42}},
	} {
		m, _, err := Decode(marshal(t, tc.in), now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.BodyKind != tc.kind || !bytes.Equal(m.Body, tc.body) {
			t.Errorf("%s: %v % x, want %v % x", tc.name, m.BodyKind, m.Body, tc.kind, tc.body)
		}
	}
}

// TestFromOtherProtocols: messages without a wire form (STOMP, MQTT) are
// encoded from their fields, with the JMS annotations a JMS client needs.
func TestFromOtherProtocols(t *testing.T) {
	mapBody := body.AppendMap(nil, []prop.Property{{Name: "a", Value: prop.Int64Value(1)}})
	for _, tc := range []struct {
		name  string
		m     *core.Message
		check func(t *testing.T, a *amqp.Message)
	}{
		{"text", &core.Message{ID: 5, Address: "q", RoutingType: core.Anycast, Priority: 4, BodyKind: core.BodyText, Body: []byte("hi"),
			Properties:    []prop.Property{{Name: "h", Value: prop.UntypedValue("v")}, {Name: "h", Value: prop.UntypedValue("w")}},
			CorrelationID: prop.StringValue("corr"), ReplyTo: "r", ReplyToType: core.Multicast, Type: "T", ContentType: "text/plain"},
			func(t *testing.T, a *amqp.Message) {
				if a.Value != "hi" || a.Properties.MessageID != "ID:5" || *a.Properties.To != "q" || a.Properties.CorrelationID != "corr" ||
					*a.Properties.ReplyTo != "r" || *a.Properties.Subject != "T" || *a.Properties.ContentType != "text/plain" {
					t.Errorf("%+v %+v", a, a.Properties)
				}
				if a.ApplicationProperties["h"] != "v" || len(a.ApplicationProperties) != 1 {
					t.Errorf("application properties %v", a.ApplicationProperties)
				}
				if a.Annotations["x-opt-jms-msg-type"] != int8(JMSMsgTypeText) || a.Annotations["x-opt-jms-dest"] != int8(JMSDestQueue) ||
					a.Annotations["x-opt-jms-reply-to"] != int8(JMSDestTopic) {
					t.Errorf("annotations %v", a.Annotations)
				}
				if a.Header == nil || a.Header.Durable || a.Header.Priority != 4 || !a.Header.FirstAcquirer {
					t.Errorf("header %+v", a.Header)
				}
			}},
		{"bytes", &core.Message{ID: 6, Priority: 9, Durable: true, Expiration: now.UnixMilli() + 1000, Timestamp: 1234,
			BodyKind: core.BodyBytes, Body: []byte{0, 1}, ClientMessageID: prop.Uint64Value(99), CorrelationID: prop.BytesValue([]byte{7}),
			Annotations: []prop.Property{{Name: "mqtt.qos", Value: prop.Uint8Value(1)}}},
			func(t *testing.T, a *amqp.Message) {
				if !reflect.DeepEqual(a.Data, [][]byte{{0, 1}}) || a.Properties.MessageID != uint64(99) ||
					!reflect.DeepEqual(a.Properties.CorrelationID, []byte{7}) || a.Properties.CreationTime.UnixMilli() != 1234 ||
					a.Properties.AbsoluteExpiryTime.UnixMilli() != now.UnixMilli()+1000 {
					t.Errorf("%+v %+v", a, a.Properties)
				}
				if a.Header.Priority != 9 || !a.Header.Durable || a.Header.TTL != time.Second {
					t.Errorf("header %+v", a.Header)
				}
				if _, ok := a.Annotations["mqtt.qos"]; ok {
					t.Errorf("another protocol's annotation passed on: %v", a.Annotations)
				}
			}},
		{"map", &core.Message{Priority: 4, BodyKind: core.BodyMap, Body: mapBody},
			func(t *testing.T, a *amqp.Message) {
				if !reflect.DeepEqual(a.Value, map[string]any{"a": int64(1)}) || a.Annotations["x-opt-jms-msg-type"] != int8(JMSMsgTypeMap) {
					t.Errorf("%#v %v", a.Value, a.Annotations)
				}
			}},
		{"stream", &core.Message{Priority: 4, BodyKind: core.BodyStream, Body: body.AppendList(nil, []prop.Value{prop.StringValue("s")})},
			func(t *testing.T, a *amqp.Message) {
				if !reflect.DeepEqual(a.Value, []any{"s"}) || a.Annotations["x-opt-jms-msg-type"] != int8(JMSMsgTypeStream) {
					t.Errorf("%#v %v", a.Value, a.Annotations)
				}
			}},
		{"object", &core.Message{Priority: 4, BodyKind: core.BodyObject, Body: []byte{0xac, 0xed}},
			func(t *testing.T, a *amqp.Message) {
				if *a.Properties.ContentType != ContentTypeJavaObject || a.Annotations["x-opt-jms-msg-type"] != int8(JMSMsgTypeObject) {
					t.Errorf("%+v %v", a.Properties, a.Annotations)
				}
			}},
		{"uuid id", &core.Message{Priority: 4, ClientMessageID: prop.UUIDValue([16]byte{15: 1}), GroupID: "g", GroupSeq: 3},
			func(t *testing.T, a *amqp.Message) {
				if a.Properties.MessageID != (amqp.UUID{15: 1}) || *a.Properties.GroupID != "g" || *a.Properties.GroupSequence != 3 {
					t.Errorf("%+v", a.Properties)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := AppendPayload(nil, tc.m, Delivery{DeliveryCount: 1, Now: now})
			tc.check(t, unmarshal(t, out))
			// And the payload reads back into the same core fields.
			back, _, err := Decode(out, now)
			if err != nil {
				t.Fatal(err)
			}
			if back.BodyKind != tc.m.BodyKind || !bytes.Equal(back.Body, tc.m.Body) && len(tc.m.Body) > 0 {
				t.Errorf("body back %v % x", back.BodyKind, back.Body)
			}
		})
	}
}

func TestScheduledDeliveryTime(t *testing.T) {
	at := time.UnixMilli(1_800_000_000_000)
	m, _, err := Decode(marshal(t, &amqp.Message{Annotations: amqp.Annotations{"x-opt-delivery-time": at}, Value: "x"}), now)
	if err != nil || m.ScheduledAt != at.UnixMilli() {
		t.Fatalf("scheduled %d, %v", m.ScheduledAt, err)
	}
	m, _, err = Decode(marshal(t, &amqp.Message{Annotations: amqp.Annotations{"x-opt-delivery-time": at.UnixMilli()}, Value: "x"}), now)
	if err != nil || m.ScheduledAt != at.UnixMilli() {
		t.Fatalf("scheduled (long) %d, %v", m.ScheduledAt, err)
	}
	// absolute-expiry-time wins over ttl.
	m, _, err = Decode(marshal(t, &amqp.Message{Header: &amqp.MessageHeader{TTL: time.Hour},
		Properties: &amqp.MessageProperties{AbsoluteExpiryTime: ptr(time.UnixMilli(1_700_000_050_000))}, Value: "x"}), now)
	if err != nil || m.Expiration != 1_700_000_050_000 {
		t.Fatalf("expiration %d, %v", m.Expiration, err)
	}
}

func sec(code byte, v ...byte) []byte { return append([]byte{0x00, 0x53, code}, v...) }

var badPayloads = []struct {
	name    string
	payload []byte
}{
	{"unknown section", sec(0x79, 0x45)},
	{"not described", []byte{0xa1, 1, 'x'}},
	{"header after properties", append(sec(0x73, 0x45), sec(0x70, 0x45)...)},
	{"two headers", append(sec(0x70, 0x45), sec(0x70, 0x45)...)},
	{"data holding a string", sec(0x75, 0xa1, 1, 'x')},
	{"two amqp-values", append(sec(0x77, 0x40), sec(0x77, 0x40)...)},
	{"data then value", append(sec(0x75, 0xa0, 0), sec(0x77, 0x40)...)},
	{"sequence holding a string", sec(0x76, 0xa1, 1, 'x')},
	{"application-properties list", sec(0x74, 0x45)},
	{"application-properties nested", sec(0x74, 0xc1, 5, 2, 0xa1, 1, 'k', 0x45)},
	{"annotations not a map", sec(0x72, 0x45)},
	{"header priority string", sec(0x70, 0xc0, 5, 2, 0x40, 0xa1, 1, 'x')},
	{"truncated value", sec(0x77, 0xa1, 9, 'x')},
	{"section after footer", append(sec(0x78, 0xc1, 1, 0), sec(0x77, 0x40)...)},
}

func TestBadPayloads(t *testing.T) {
	for _, tc := range badPayloads {
		if m, _, err := Decode(tc.payload, now); err == nil {
			t.Errorf("%s: decoded %+v", tc.name, m)
		} else if e, ok := err.(*codec.Error); !ok || e.Condition != codec.CondDecodeError {
			t.Errorf("%s: %v is not amqp:decode-error", tc.name, err)
		}
	}
}

func FuzzMessage(f *testing.F) {
	for _, tc := range badPayloads {
		f.Add(tc.payload)
	}
	for _, m := range []*amqp.Message{
		{Value: "x", Properties: &amqp.MessageProperties{MessageID: "id"}, ApplicationProperties: map[string]any{"a": int32(1)}},
		{Header: &amqp.MessageHeader{Durable: true}, Annotations: amqp.Annotations{"x-opt-delivery-delay": int64(1)}, Data: [][]byte{{1}}},
		{Sequence: [][]any{{"a"}, {uint64(1)}}, Footer: amqp.Annotations{"f": "g"}},
		{Value: map[string]any{"k": []any{true}}},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// The message a go-amqp client sent in the codec's oracle test.
	files, _ := filepath.Glob(filepath.Join("..", "codec", "testdata", "captured", "*.bin"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if p, payload, err := codec.DecodePerformative(b); err == nil {
			if _, ok := p.(*codec.Transfer); ok {
				f.Add(append([]byte(nil), payload...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := Decode(b, now)
		if err != nil {
			if _, ok := err.(*codec.Error); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		out := AppendPayload(nil, m, Delivery{DeliveryCount: 2, Now: now})
		m2, _, err := Decode(out, now)
		if err != nil {
			t.Fatalf("re-decode of % x: %v", out, err)
		}
		if m.Wire != nil && !bytes.Equal(m.Wire.Data, m2.Wire.Data) {
			t.Fatal("bare message changed")
		}
		if m2.BodyKind != m.BodyKind || !bytes.Equal(m2.Body, m.Body) {
			t.Fatalf("body %v % x became %v % x", m.BodyKind, m.Body, m2.BodyKind, m2.Body)
		}
		// Encoded from the fields, it decodes too.
		m.Wire = nil
		if _, _, err := Decode(AppendPayload(nil, m, Delivery{Now: now}), now); err != nil {
			t.Fatalf("from fields: %v", err)
		}
	})
}

// TestQpidJMSMessage: what Qpid JMS sends for a MapMessage to a topic with
// a temporary queue as JMSReplyTo maps to the core as a JMS client expects.
func TestQpidJMSMessage(t *testing.T) {
	m, _, err := Decode(marshal(t, &amqp.Message{
		Header: &amqp.MessageHeader{Durable: true, Priority: 4},
		Annotations: amqp.Annotations{"x-opt-jms-msg-type": int8(JMSMsgTypeMap), "x-opt-jms-dest": int8(JMSDestTopic),
			"x-opt-jms-reply-to": int8(JMSDestTempQueue)},
		Properties: &amqp.MessageProperties{MessageID: "ID:host-1:1:1:1-1", To: ptr("news"), ReplyTo: ptr("tmp-q-1"),
			CreationTime: ptr(time.UnixMilli(1_650_000_000_000))},
		Value: map[string]any{"price": float64(9.5), "name": "x"},
	}), now)
	if err != nil {
		t.Fatal(err)
	}
	if m.RoutingType != core.Multicast || m.ReplyTo != "tmp-q-1" || m.ReplyToType != core.Anycast {
		t.Errorf("routing %v reply-to %q %v", m.RoutingType, m.ReplyTo, m.ReplyToType)
	}
	if m.JMSMessageID() != "ID:host-1:1:1:1-1" || m.Timestamp != 1_650_000_000_000 || !m.Durable {
		t.Errorf("JMS headers: %q %d %v", m.JMSMessageID(), m.Timestamp, m.Durable)
	}
	if m.BodyKind != core.BodyMap {
		t.Fatalf("body kind %v", m.BodyKind)
	}
	entries, err := body.DecodeMap(m.Body)
	if err != nil || len(entries) != 2 {
		t.Fatalf("map body %v, %v", entries, err)
	}
	// The same message for a consumer of another protocol's making: the JMS
	// annotations it already carries are not written twice.
	m.Wire = nil
	out := AppendPayload(nil, m, Delivery{DeliveryCount: 1, Now: now})
	back := unmarshal(t, out)
	if len(back.Annotations) != 3 || back.Annotations["x-opt-jms-msg-type"] != int8(JMSMsgTypeMap) {
		t.Errorf("annotations out %v", back.Annotations)
	}
}
