package core

import (
	"encoding/hex"
	"math"
	"testing"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/core/selector"
)

// Messages encoded by the code before version 2 (11f23d2), from the
// fullMessage of that time and an MQTT QoS 2 retained publish.
const (
	v1Full = "01878080808020096f72646572732e6575020109f6a1abfef962c0bab7fef962a0adb1fef9620267310509636f727200ff62696e077265706c69657301056f72646572106170706c69636174696f6e2f6a736f6e05616c69636511046e756c6c000004747275650100020566616c73650100000269380200ff01036931360300feff03036933320400ffffffff0f036936340500feffffffffffffffff01036633320600000000000000f83f036636340700182d4454fb2109c0036e616e0700010000000000f87f03696e660700000000000000f0ff0373747208000668c3a96c6c6f05656d70747908000007756e7479706564080102323505627974657309000309080704636861720a00d2030373747208000d7265706561746564206e616d650204000102ff"
	v1MQTT = "012a0e636f6d7061742e6d7174742e713202010480a0abfef962000000000163000000000003095f4d5154545f514f530200040c5f4d5154545f52455441494e010002047573657208000175010374776f"
)

func TestDecodeVersion1(t *testing.T) {
	data, _ := hex.DecodeString(v1Full)
	got, err := DecodeMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	want := fullMessage()
	// Version 1 knew only string correlation ids, the JMS kinds, and had
	// no client message id, annotations or wire form.
	want.CorrelationID = prop.StringValue("corr\x00\xffbin")
	want.ClientMessageID = prop.Value{}
	want.Annotations, want.Wire = nil, nil
	want.Properties = want.Properties[:17]
	sameMessage(t, got, want)

	data, _ = hex.DecodeString(v1MQTT)
	got, err = DecodeMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	want = &Message{ID: 42, Address: "compat.mqtt.q2", RoutingType: Multicast, Durable: true, Priority: 4,
		Timestamp: 1_700_000_000_000, CorrelationID: prop.StringValue("c"), BodyKind: BodyText, Body: []byte("two"),
		Properties:  []prop.Property{{Name: "user", Value: prop.StringValue("u")}},
		Annotations: []prop.Property{{Name: "mqtt.qos", Value: prop.Int8Value(2)}, {Name: "mqtt.retain", Value: prop.BoolValue(true)}}}
	sameMessage(t, got, want)
	// Loaded messages are written back as version 2.
	if enc := EncodeMessage(nil, got); enc[0] != codecVersion {
		t.Errorf("re-encoded as version %d", enc[0])
	}
}

func TestWireDroppedOnChange(t *testing.T) {
	wire := func() *Message {
		m := NewMessage("a", []byte("x"))
		m.Properties = []prop.Property{{Name: "p", Value: prop.Int32Value(1)}}
		m.Wire = &WireForm{Protocol: "amqp", Data: []byte{1}}
		return m
	}
	tests := []struct {
		name   string
		change func(*Message) *Message
		kept   bool
	}{
		{"SetAnnotation", func(m *Message) *Message { m.SetAnnotation("x-opt-a", prop.Int32Value(1)); return m }, true},
		{"DeleteProperty of an absent name", func(m *Message) *Message { m.DeleteProperty("absent"); return m }, true},
		{"SetProperty", func(m *Message) *Message { m.SetProperty("q", prop.Int32Value(2)); return m }, false},
		{"DeleteProperty", func(m *Message) *Message { m.DeleteProperty("p"); return m }, false},
		{"Clone", func(m *Message) *Message { return m.Clone() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m := tt.change(wire()); (m.Wire != nil) != tt.kept {
				t.Errorf("wire kept = %v, want %v", m.Wire != nil, tt.kept)
			}
		})
	}
}

func TestAnnotationsApartFromProperties(t *testing.T) {
	m := NewMessage("a", nil)
	m.SetAnnotation("mqtt.retain", prop.BoolValue(true))
	m.SetAnnotation("mqtt.retain", prop.BoolValue(false))
	if len(m.Annotations) != 1 || m.Annotation("mqtt.retain").Bool() {
		t.Errorf("annotations %v", m.Annotations)
	}
	if !m.Property("mqtt.retain").IsNull() || len(m.Properties) != 0 {
		t.Error("an annotation is visible as a property")
	}
	// Selectors read properties only.
	m.SetAnnotation("retained", prop.BoolValue(true))
	if !selector.MustParse("retained IS NULL").Matches(m) {
		t.Error("a selector sees an annotation")
	}
	c := m.Clone()
	c.SetAnnotation("mqtt.retain", prop.BoolValue(true))
	if m.Annotation("mqtt.retain").Bool() {
		t.Error("Clone shares annotations with the original")
	}
}

func TestJMSIDs(t *testing.T) {
	tests := []struct {
		id, corr         prop.Value
		wantID, wantCorr string
	}{
		{prop.Value{}, prop.Value{}, "ID:7", ""},
		{prop.StringValue("ID:abc"), prop.StringValue("app-corr"), "ID:abc", "app-corr"},
		{prop.StringValue("abc"), prop.StringValue("ID:x"), "ID:AMQP_NO_PREFIX:abc", "ID:x"},
		{prop.Uint64Value(math.MaxUint64), prop.Uint64Value(5), "ID:AMQP_ULONG:18446744073709551615", "ID:AMQP_ULONG:5"},
		{prop.UUIDValue([16]byte{0x12, 0x34, 15: 0xff}), prop.BytesValue([]byte{0xab, 0x01}),
			"ID:AMQP_UUID:12340000-0000-0000-0000-0000000000ff", "ID:AMQP_BINARY:AB01"},
	}
	for _, tt := range tests {
		m := &Message{ID: 7, ClientMessageID: tt.id, CorrelationID: tt.corr}
		if got := m.JMSMessageID(); got != tt.wantID {
			t.Errorf("JMSMessageID of %v = %q, want %q", tt.id, got, tt.wantID)
		}
		if got := m.JMSCorrelationID(); got != tt.wantCorr {
			t.Errorf("JMSCorrelationID of %v = %q, want %q", tt.corr, got, tt.wantCorr)
		}
		// Selectors see the same strings.
		if got := m.Header(selector.JMSMessageID).Text(); got != tt.wantID {
			t.Errorf("selector JMSMessageID = %q, want %q", got, tt.wantID)
		}
		if got := m.Header(selector.JMSCorrelationID); got.Text() != tt.wantCorr || got.IsNull() != (tt.wantCorr == "") {
			t.Errorf("selector JMSCorrelationID = %v, want %q", got, tt.wantCorr)
		}
	}
	m := &Message{ID: 1, ClientMessageID: prop.Uint64Value(9), CorrelationID: prop.UUIDValue([16]byte{15: 1})}
	if !selector.MustParse("JMSMessageID = 'ID:AMQP_ULONG:9' AND JMSCorrelationID LIKE 'ID:AMQP_UUID:%01'").Matches(m) {
		t.Error("selector on typed ids does not match")
	}
}
