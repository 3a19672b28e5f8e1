package core

import (
	"bytes"
	"math"
	"testing"

	"github.com/junctionmq/junction/core/prop"
)

func fullMessage() *Message {
	m := &Message{
		ID: 1<<40 + 7, Address: "orders.eu", RoutingType: Multicast, Durable: true, Priority: 9,
		Timestamp: 1_700_000_000_123, Expiration: 1_700_000_100_000, ScheduledAt: 1_700_000_050_000,
		GroupID: "g1", GroupSeq: -3, CorrelationID: prop.BytesValue([]byte("corr\x00\xffbin")), ReplyTo: "replies",
		ClientMessageID: prop.UUIDValue([16]byte{0xde, 0xad, 15: 1}),
		ReplyToType:     Anycast, Type: "order", ContentType: "application/json", UserID: "alice",
		BodyKind: BodyMap, Body: []byte{0, 1, 2, 0xff},
		Annotations: []prop.Property{{Name: "x-opt-seq", Value: prop.Uint64Value(math.MaxUint64)}, {Name: "mqtt.retain", Value: prop.BoolValue(true)}},
		Wire:        &WireForm{Protocol: "amqp", Data: []byte{0x00, 0x53, 0x75, 0xa0, 0x00}},
	}
	m.Properties = []prop.Property{
		{Name: "null", Value: prop.NullValue()},
		{Name: "true", Value: prop.BoolValue(true)},
		{Name: "false", Value: prop.BoolValue(false)},
		{Name: "i8", Value: prop.Int8Value(-128)},
		{Name: "i16", Value: prop.Int16Value(32767)},
		{Name: "i32", Value: prop.Int32Value(math.MinInt32)},
		{Name: "i64", Value: prop.Int64Value(math.MaxInt64)},
		{Name: "f32", Value: prop.Float32Value(1.5)},
		{Name: "f64", Value: prop.Float64Value(-math.Pi)},
		{Name: "nan", Value: prop.Float64Value(math.NaN())},
		{Name: "inf", Value: prop.Float64Value(math.Inf(-1))},
		{Name: "str", Value: prop.StringValue("héllo")},
		{Name: "empty", Value: prop.StringValue("")},
		{Name: "untyped", Value: prop.UntypedValue("25")},
		{Name: "bytes", Value: prop.BytesValue([]byte{9, 8, 7})},
		{Name: "char", Value: prop.CharValue('é')},
		{Name: "str", Value: prop.StringValue("repeated name")}, // MQTT 5 user properties may repeat
		{Name: "u8", Value: prop.Uint8Value(255)},
		{Name: "u16", Value: prop.Uint16Value(65535)},
		{Name: "u32", Value: prop.Uint32Value(math.MaxUint32)},
		{Name: "u64", Value: prop.Uint64Value(math.MaxUint64)},
		{Name: "uuid", Value: prop.UUIDValue([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})},
		{Name: "sym", Value: prop.SymbolValue("amqp:symbol")},
		{Name: "ts", Value: prop.TimestampValue(-1_000)},
		{Name: "d32", Value: must(prop.DecimalValue([]byte{1, 2, 3, 4}))},
		{Name: "d64", Value: must(prop.DecimalValue([]byte{1, 2, 3, 4, 5, 6, 7, 8}))},
		{Name: "d128", Value: must(prop.DecimalValue(make([]byte, 16)))},
	}
	return m
}

func must(v prop.Value, ok bool) prop.Value {
	if !ok {
		panic("bad test value")
	}
	return v
}

// sameMessage compares every stored field of two messages.
func sameMessage(t *testing.T, got, want *Message) {
	t.Helper()
	type hdr struct {
		ID                                   uint64
		Address                              string
		RoutingType, ReplyToType             RoutingType
		Durable                              bool
		Priority                             uint8
		Timestamp, Expiration, ScheduledAt   int64
		GroupID, ReplyTo, Type, CType        string
		GroupSeq                             int32
		UserID                               string
		BodyKind                             BodyKind
		ClientMessageID, CorrelationID, Wire string
	}
	h := func(m *Message) hdr {
		wire := "none"
		if m.Wire != nil {
			wire = m.Wire.Protocol + ":" + string(m.Wire.Data)
		}
		return hdr{m.ID, m.Address, m.RoutingType, m.ReplyToType, m.Durable, m.Priority, m.Timestamp, m.Expiration,
			m.ScheduledAt, m.GroupID, m.ReplyTo, m.Type, m.ContentType, m.GroupSeq, m.UserID, m.BodyKind,
			m.ClientMessageID.Kind.String() + ":" + m.ClientMessageID.Text(), m.CorrelationID.Kind.String() + ":" + m.CorrelationID.Text(), wire}
	}
	if h(got) != h(want) {
		t.Errorf("headers:\n got %+v\nwant %+v", h(got), h(want))
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Errorf("body %x, want %x", got.Body, want.Body)
	}
	sameProps(t, "property", got.Properties, want.Properties)
	sameProps(t, "annotation", got.Annotations, want.Annotations)
}

func sameProps(t *testing.T, what string, got, want []prop.Property) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %ss, want %d", len(got), what, len(want))
	}
	for i, p := range want {
		g := got[i]
		if g.Name != p.Name || !g.Value.Equal(p.Value) || g.Value.Untyped != p.Value.Untyped {
			t.Errorf("%s %d = %+v, want %+v", what, i, g, p)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    *Message
	}{
		{"every field and property kind", fullMessage()},
		{"empty", &Message{}},
		{"text body", &Message{ID: 1, Address: "a", Priority: 4, BodyKind: BodyText, Body: []byte("hello")}},
		{"negative times", &Message{ID: 2, Address: "a", Timestamp: -1, Expiration: math.MinInt64, ScheduledAt: math.MaxInt64}},
		{"typed ids", &Message{ID: 3, ClientMessageID: prop.Uint64Value(7), CorrelationID: prop.StringValue("c"), BodyKind: BodyAMQPSequence}},
		{"empty wire", &Message{ID: 4, Wire: &WireForm{}, BodyKind: BodyAMQPValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := EncodeMessage(nil, tt.m)
			got, err := DecodeMessage(data)
			if err != nil {
				t.Fatal(err)
			}
			sameMessage(t, got, tt.m)
			// The decoded message must not alias the input.
			for i := range data {
				data[i] = 0xAA
			}
			sameMessage(t, got, tt.m)
			// EncodeMessage appends.
			prefix := []byte("prefix")
			if out := EncodeMessage(prefix, tt.m); !bytes.HasPrefix(out, []byte("prefix")) {
				t.Error("EncodeMessage did not append to dst")
			}
		})
	}
}

func TestDecodeMessageRejectsCorruptInput(t *testing.T) {
	good := EncodeMessage(nil, fullMessage())
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{3}, good[1:]...)},
		{"version 0", append([]byte{0}, good[1:]...)},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"bad body kind", EncodeMessage(nil, &Message{BodyKind: BodyAMQPSequence + 1})},
		{"bad wire flag", append(EncodeMessage(nil, &Message{})[:len(EncodeMessage(nil, &Message{}))-1], 2)},
		{"short uuid", EncodeMessage(nil, &Message{ClientMessageID: prop.Value{Kind: prop.UUID, S: "\x01"}})},
		{"v1 with a kind it did not have", func() []byte {
			b := EncodeMessage(nil, &Message{})
			// A version 1 message: 16 header bytes (the v2 ids are two
			// bytes each, v1's correlation id one), a property count of 1,
			// a property "x" of kind uint8, then an empty body.
			v1 := []byte{codecVersion1}
			v1 = append(v1, b[1:11]...)
			v1 = append(v1, 0, 0, 0, 0, 0, 0)
			return append(v1, 1, 1, 'x', byte(prop.Uint8), 0, 5, 0, 0)
		}()},
		{"truncated header", good[:5]},
		{"truncated body", good[:len(good)-1]},
		{"bad priority", EncodeMessage(nil, &Message{Priority: 10})},
		{"bad property kind", func() []byte {
			m := &Message{Properties: []prop.Property{{Name: "x", Value: prop.Value{Kind: 99}}}}
			return EncodeMessage(nil, m)
		}()},
		{"huge property count", func() []byte {
			// Version, id, empty address, routing, flags, priority, three
			// times, group, seq, corr, replyTo, replyToType, type, ctype,
			// user, then a property count far beyond the data.
			b := []byte{codecVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			return append(b, 0xff, 0xff, 0xff, 0xff, 0x0f)
		}()},
		{"string length overflow", []byte{codecVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := DecodeMessage(tt.data); err == nil {
				t.Errorf("decoded %+v from corrupt input", m)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(EncodeMessage(nil, fullMessage()))
	f.Add(EncodeMessage(nil, &Message{}))
	f.Add(EncodeMessage(nil, NewMessage("a.b", []byte("body"))))
	f.Add([]byte{})
	f.Add([]byte{codecVersion})
	f.Add([]byte{codecVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	// testdata/fuzz/FuzzDecodeMessage holds version 1 messages written by
	// the code before version 2.
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a stable form.
		enc1 := EncodeMessage(nil, m)
		m2, err := DecodeMessage(enc1)
		if err != nil {
			t.Fatalf("re-decoding an encoded message: %v", err)
		}
		if enc2 := EncodeMessage(nil, m2); !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding not stable:\n%x\n%x", enc1, enc2)
		}
		// Recovery's decoding (shared address and names) reads the same.
		var m3 Message
		ns := names{"region": "region"}
		if err := decodeMessageInto(&m3, data, m.Address, ns); err != nil {
			t.Fatalf("recovery's decoding refused what DecodeMessage took: %v", err)
		}
		if enc3 := EncodeMessage(nil, &m3); !bytes.Equal(enc1, enc3) {
			t.Fatalf("recovery's decoding differs:\n%x\n%x", enc1, enc3)
		}
	})
}

func TestMessageProperties(t *testing.T) {
	m := NewMessage("a", nil)
	if m.Priority != DefaultPriority {
		t.Errorf("default priority %d", m.Priority)
	}
	m.SetProperty("x", prop.Int32Value(1))
	m.SetProperty("x", prop.Int32Value(2))
	m.Properties = append(m.Properties, prop.Property{Name: "x", Value: prop.Int32Value(3)})
	if got := m.Property("x"); got.I != 2 {
		t.Errorf("Property returns %v, want the first (2)", got)
	}
	m.DeleteProperty("x")
	if !m.Property("x").IsNull() || len(m.Properties) != 0 {
		t.Errorf("DeleteProperty left %v", m.Properties)
	}
	m.SetProperty("y", prop.StringValue("v"))
	c := m.Clone()
	c.SetProperty("y", prop.StringValue("changed"))
	if m.Property("y").Text() != "v" {
		t.Error("Clone shares properties with the original")
	}
}

func TestParseRoutingType(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want RoutingType
		ok   bool
	}{{"ANYCAST", Anycast, true}, {"multicast", Multicast, true}, {"Anycast", Anycast, true}, {"broadcast", RoutingAny, false}} {
		got, ok := ParseRoutingType(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRoutingType(%q) = %v, %v", tt.in, got, ok)
		}
	}
	if Anycast.String() != "ANYCAST" || Multicast.String() != "MULTICAST" || RoutingAny.String() != "ANY" {
		t.Error("RoutingType.String")
	}
}
