package openwire

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/body"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// The mapping between an OpenWire message and core.Message
// (docs/MESSAGES.md, docs/OPENWIRE.md):
//
//   - JMS headers are core fields: JMSMessageID is ClientMessageID (the
//     producer's "ID:<producer id>:<n>" string, which every protocol then
//     shows as it is), JMSCorrelationID a string CorrelationID, persistent
//     is Durable, JMSXGroupID/Seq are GroupID/GroupSeq, JMSXUserID is set by
//     the broker from the login.
//   - Properties are typed: the primitive map's kinds are prop kinds.
//   - Bodies: TextMessage is BodyText (UTF-8), BytesMessage BodyBytes, Map
//     and Stream messages core/body's AMQP encodings, ObjectMessage
//     BodyObject with the serialised bytes. A plain Message (no body) is
//     BodyBytes with no body and the annotation openwire.type.
//   - Going out, a foreign message's body kind decides: text (a STOMP
//     frame with a text/* content-type, an AMQP string) is a TextMessage,
//     bytes (MQTT payloads, other STOMP frames, AMQP data) a BytesMessage.

// Annotations the adapter keeps on messages it receives; no other adapter
// shows them.
const (
	annType        = "openwire.type"        // the wire message type, for plain Messages
	annReplyToType = "openwire.replyToType" // the reply-to's destination type
)

// Scheduled delivery properties (ActiveMQ's delay, Artemis' time).
const (
	propScheduledDelay = "AMQ_SCHEDULED_DELAY"
	propScheduledAt    = "_AMQ_SCHED_DELIVERY"
)

// Decoding limits for bodies and properties.
const maxInflated = wire.DefaultMaxInflatedSize

// toCore builds a core message from a message a client sent to t.
func (c *conn) toCore(m *wire.Message, t target, p *producer) (*core.Message, error) {
	cm := &core.Message{
		Address: t.name, RoutingType: t.routing(), Durable: m.Persistent,
		Priority: core.DefaultPriority, Timestamp: m.Timestamp, Expiration: m.Expiration,
		GroupID: m.GroupID, GroupSeq: m.GroupSequence, Type: m.JMSType,
	}
	if m.Priority >= 0 && m.Priority <= 9 {
		cm.Priority = uint8(m.Priority)
	} else if m.Priority > 9 {
		cm.Priority = 9
	}
	if m.MessageID != nil {
		cm.ClientMessageID = prop.StringValue(p.messageIDString(m.MessageID))
	}
	if m.CorrelationID != "" {
		cm.CorrelationID = prop.StringValue(m.CorrelationID)
	}
	if m.ReplyTo != nil {
		rts, err := targets(m.ReplyTo)
		if err != nil {
			return nil, err
		}
		cm.ReplyTo, cm.ReplyToType = rts[0].name, rts[0].routing()
		cm.SetAnnotation(annReplyToType, prop.Int8Value(int8(rts[0].typ)))
	}
	if len(m.MarshalledProperties) > 0 {
		pm, err := wire.ParseMap(m.MarshalledProperties)
		if err != nil {
			return nil, jmsError("javax.jms.MessageFormatException", "message properties: "+err.Error())
		}
		for _, e := range pm {
			v, ok := toProp(e.Value)
			if !ok {
				return nil, jmsError("javax.jms.MessageFormatException", fmt.Sprintf("property %s: a %T is not a JMS property type", quote(e.Key), e.Value))
			}
			switch e.Key {
			case propScheduledDelay, propScheduledAt:
				// Scheduled delivery, as STOMP takes it: ActiveMQ's delay
				// in ms, or Artemis' absolute time.
				if !v.Kind.IsExact() || v.I < 0 {
					return nil, jmsError("javax.jms.MessageFormatException", e.Key+" must be a non-negative integer number of milliseconds")
				}
				if e.Key == propScheduledAt {
					cm.ScheduledAt = v.I
				} else if v.I > 0 {
					cm.ScheduledAt = time.Now().UnixMilli() + v.I
				}
				continue
			}
			cm.Properties = append(cm.Properties, prop.Property{Name: e.Key, Value: v})
		}
	}
	content, err := m.Body(maxInflated)
	if err != nil {
		return nil, jmsError("javax.jms.MessageFormatException", "compressed body: "+err.Error())
	}
	switch m.Type {
	case wire.TypeTextMessage:
		cm.BodyKind = core.BodyText
		if content != nil {
			text, _, err := wire.DecodeTextBytes(content)
			if err != nil {
				return nil, jmsError("javax.jms.MessageFormatException", "text body: "+err.Error())
			}
			cm.Body = text
		}
	case wire.TypeBytesMessage:
		cm.BodyKind, cm.Body = core.BodyBytes, content
	case wire.TypeObjectMessage:
		cm.BodyKind, cm.Body = core.BodyObject, content
		cm.ContentType = "application/x-java-serialized-object"
	case wire.TypeMapMessage:
		cm.BodyKind = core.BodyMap
		var entries []prop.Property
		if content != nil {
			pm, err := wire.ParseMap(content)
			if err != nil {
				return nil, jmsError("javax.jms.MessageFormatException", "map body: "+err.Error())
			}
			for _, e := range pm {
				v, ok := toProp(e.Value)
				if !ok {
					return nil, jmsError("javax.jms.MessageFormatException", fmt.Sprintf("map entry %s: nested values are not supported", quote(e.Key)))
				}
				entries = append(entries, prop.Property{Name: e.Key, Value: v})
			}
		}
		cm.Body = body.AppendMap(nil, entries)
	case wire.TypeStreamMessage:
		cm.BodyKind = core.BodyStream
		var items []prop.Value
		if content != nil {
			list, err := wire.ParseStream(content)
			if err != nil {
				return nil, jmsError("javax.jms.MessageFormatException", "stream body: "+err.Error())
			}
			for i, x := range list {
				v, ok := toProp(x)
				if !ok {
					return nil, jmsError("javax.jms.MessageFormatException", fmt.Sprintf("stream item %d: nested values are not supported", i))
				}
				items = append(items, v)
			}
		}
		cm.Body = body.AppendList(nil, items)
	case wire.TypeMessage:
		cm.BodyKind = core.BodyBytes
		cm.SetAnnotation(annType, prop.Int8Value(int8(wire.TypeMessage)))
	default:
		return nil, jmsError("javax.jms.MessageFormatException", "message type "+wire.TypeName(m.Type)+" is not supported")
	}
	return cm, nil
}

// messageIDString renders a MessageId as the client's toString does.
func messageIDString(id *wire.MessageID) string {
	if id.TextView != "" {
		return id.TextView
	}
	var b strings.Builder
	if p := id.ProducerID; p != nil {
		b.WriteString(p.ConnectionID)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(p.SessionID, 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(p.Value, 10))
	}
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(id.ProducerSequenceID, 10))
	return b.String()
}

// messageIDString is messageIDString with the "<producer id>:" prefix
// the producer's messages share built once (p may be nil).
func (p *producer) messageIDString(id *wire.MessageID) string {
	if p == nil || id.TextView != "" || id.ProducerID == nil || *id.ProducerID != p.id {
		return messageIDString(id)
	}
	if p.midPrefix == "" {
		p.midPrefix = messageIDString(&wire.MessageID{ProducerID: &p.id})
		p.midPrefix = p.midPrefix[:len(p.midPrefix)-1] // without the sequence's "0"
	}
	b := make([]byte, 0, len(p.midPrefix)+20)
	b = append(b, p.midPrefix...)
	return string(strconv.AppendInt(b, id.ProducerSequenceID, 10))
}

// parseMessageID reads "<connection id>:<session>:<producer>:<seq>" back
// into a MessageId, as the client's MessageId(String) does. It accepts
// only the canonical decimal form, so that messageIDString gives s back.
func parseMessageID(s string) (*wire.MessageID, bool) {
	rest, seq, ok := lastNumber(s)
	if !ok {
		return nil, false
	}
	rest, val, ok := lastNumber(rest)
	if !ok {
		return nil, false
	}
	conn, sess, ok := lastNumber(rest)
	if !ok {
		return nil, false
	}
	return &wire.MessageID{ProducerID: &wire.ProducerID{ConnectionID: conn, SessionID: sess, Value: val}, ProducerSequenceID: seq}, true
}

// lastNumber splits "<rest>:<n>" where n is a canonical decimal int64 (no
// sign but '-', no leading zero).
func lastNumber(s string) (rest string, n int64, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, false
	}
	d := s[i+1:]
	digits := strings.TrimPrefix(d, "-")
	if digits == "" || (digits[0] == '0' && len(digits) > 1) || (digits == "0" && len(d) > 1) {
		return "", 0, false
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil || d[0] == '+' {
		return "", 0, false
	}
	return s[:i], n, true
}

// fromCore builds the message dispatched to a consumer. seq becomes the
// MessageId's broker sequence id: the client echoes it in acks (so the
// server finds the delivery again) and as the last delivered sequence id
// when a consumer closes.
func (s *Server) fromCore(m *core.Message, dest *wire.Destination, deliveryCount uint32, seq int64) (*wire.Message, error) {
	wm := &wire.Message{
		Destination: dest, Persistent: m.Durable, Priority: int8(m.Priority),
		Timestamp: m.Timestamp, Expiration: m.Expiration, GroupID: m.GroupID, GroupSequence: m.GroupSeq,
		JMSType: m.Type, UserID: m.UserID, ReplyTo: replyTarget(m),
	}
	if deliveryCount > 1 {
		wm.RedeliveryCounter = int32(deliveryCount - 1)
	}
	wm.MessageID = s.messageID(m)
	wm.MessageID.BrokerSequenceID = seq
	wm.ProducerID = wm.MessageID.ProducerID
	if !m.CorrelationID.IsNull() {
		wm.CorrelationID = m.JMSCorrelationID()
	}
	if len(m.Properties) > 0 {
		pm := make(wire.Map, 0, len(m.Properties))
		for _, p := range m.Properties {
			if v, ok := fromProp(p.Value); ok {
				pm = append(pm, wire.Entry{Key: p.Name, Value: v})
			}
		}
		raw, err := wire.AppendMap(nil, pm)
		if err != nil {
			return nil, fmt.Errorf("properties: %w", err)
		}
		wm.MarshalledProperties = raw
	}
	switch kind := outKind(m); kind {
	case wire.TypeTextMessage:
		wm.Type = kind
		wm.Content = wire.AppendTextBytes(nil, m.Body)
	case wire.TypeMapMessage:
		entries, err := body.DecodeMap(m.Body)
		if err != nil {
			return nil, fmt.Errorf("map body: %w", err)
		}
		pm := make(wire.Map, 0, len(entries))
		for _, e := range entries {
			if v, ok := fromProp(e.Value); ok {
				pm = append(pm, wire.Entry{Key: e.Name, Value: v})
			}
		}
		raw, err := wire.AppendMap(nil, pm)
		if err != nil {
			return nil, fmt.Errorf("map body: %w", err)
		}
		wm.Type, wm.Content = kind, raw
	case wire.TypeStreamMessage:
		items, err := body.DecodeList(m.Body)
		if err != nil {
			return nil, fmt.Errorf("stream body: %w", err)
		}
		vs := make([]any, 0, len(items))
		for _, it := range items {
			if v, ok := fromProp(it); ok {
				vs = append(vs, v)
			} else {
				vs = append(vs, nil)
			}
		}
		raw, err := wire.AppendStream(nil, vs)
		if err != nil {
			return nil, fmt.Errorf("stream body: %w", err)
		}
		wm.Type, wm.Content = kind, raw
	case wire.TypeMessage:
		wm.Type = kind
	default:
		wm.Type, wm.Content = kind, m.Body
		if wm.Content == nil {
			wm.Content = []byte{}
		}
	}
	return wm, nil
}

// outKind is the JMS message type a core message is delivered as.
func outKind(m *core.Message) byte {
	switch m.BodyKind {
	case core.BodyText:
		return wire.TypeTextMessage
	case core.BodyMap:
		return wire.TypeMapMessage
	case core.BodyStream:
		return wire.TypeStreamMessage
	case core.BodyObject:
		return wire.TypeObjectMessage
	case core.BodyBytes:
		if v := m.Annotation(annType); v.Kind != 0 {
			return byte(v.I)
		}
	}
	return wire.TypeBytesMessage
}

// messageID is the MessageId a consumer sees: the producer's own for a
// message an OpenWire client sent, else one under the broker's producer id
// whose text is the message's JMSMessageID.
func (s *Server) messageID(m *core.Message) *wire.MessageID {
	if v := m.ClientMessageID; v.Kind == prop.String && strings.HasPrefix(v.S, "ID:") {
		if id, ok := parseMessageID(v.S); ok {
			return id
		}
	}
	return &wire.MessageID{
		TextView:           m.JMSMessageID(),
		ProducerID:         &wire.ProducerID{ConnectionID: s.brokerID, SessionID: 0, Value: 0},
		ProducerSequenceID: int64(m.ID),
	}
}

// toProp maps a primitive value to a property value; ok is false for the
// nested maps and lists JMS properties cannot hold.
func toProp(v any) (prop.Value, bool) {
	switch x := v.(type) {
	case nil:
		return prop.Value{}, true
	case bool:
		return prop.BoolValue(x), true
	case int8:
		return prop.Int8Value(x), true
	case wire.Char:
		return prop.CharValue(rune(x)), true
	case int16:
		return prop.Int16Value(x), true
	case int32:
		return prop.Int32Value(x), true
	case int64:
		return prop.Int64Value(x), true
	case float32:
		return prop.Float32Value(x), true
	case float64:
		return prop.Float64Value(x), true
	case string:
		return prop.StringValue(x), true
	case []byte:
		return prop.BytesValue(x), true
	}
	return prop.Value{}, false
}

// fromProp maps a property value to a primitive value, through its JMS
// type for the AMQP kinds JMS lacks; ok is false for a NULL (an absent
// property) and for values JMS has no type for.
func fromProp(v prop.Value) (any, bool) {
	switch v.Kind {
	case prop.Null:
		return nil, false
	case prop.Bool:
		return v.Bool(), true
	case prop.Int8:
		return int8(v.I), true
	case prop.Int16:
		return int16(v.I), true
	case prop.Int32:
		return int32(v.I), true
	case prop.Int64:
		return v.I, true
	case prop.Float32:
		return float32(v.AsFloat()), true
	case prop.Float64:
		return v.AsFloat(), true
	case prop.String, prop.Symbol:
		return v.S, true
	case prop.Char:
		if v.I >= 0 && v.I <= math.MaxUint16 {
			return wire.Char(v.I), true
		}
		return string(rune(v.I)), true
	case prop.Bytes:
		return []byte(v.Text()), true
	case prop.Uint8:
		return int16(v.I), true
	case prop.Uint16:
		return int32(v.I), true
	case prop.Uint32, prop.Timestamp:
		return v.I, true
	case prop.Uint64:
		if v.I >= 0 {
			return v.I, true
		}
		return float64(v.Uint()), true
	case prop.UUID:
		return v.Text(), true
	}
	return nil, false
}
