package message

import (
	"strconv"
	"strings"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/body"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// Delivery is what a payload says about one delivery of a message.
type Delivery struct {
	DeliveryCount uint32    // core.Delivery.DeliveryCount: 1 on the first delivery
	Now           time.Time // for the remaining ttl (zero: the clock, read only for a message with an expiration)
}

// AppendPayload appends the payload of a transfer delivering m: a header
// (durable, priority, remaining ttl, first-acquirer, delivery-count =
// deliveries before this one), message annotations (m's x- annotations,
// and for a message from another protocol the JMS ones a JMS client needs
// to rebuild its type), then the bare message: the producer's own bytes
// when it came over AMQP, else encoded from m's fields.
func AppendPayload(dst []byte, m *core.Message, d Delivery) []byte {
	dst = appendHeader(dst, m, d)
	wire := m.Wire != nil && m.Wire.Protocol == Protocol
	dst = appendAnnotations(dst, m, !wire)
	if wire {
		dst = append(dst, m.Wire.Data...)
	} else {
		dst = AppendBare(dst, m)
	}
	if f := m.Annotation(AnnFooter); f.Kind == prop.Bytes {
		if b := bytesOf(f); len(b) > 0 {
			dst = codec.AppendDescriptor(dst, codec.DescFooter)
			dst = append(dst, b...)
		}
	}
	return dst
}

func appendHeader(dst []byte, m *core.Message, d Delivery) []byte {
	start := len(dst)
	dst = codec.AppendDescriptor(dst, codec.DescHeader)
	dst, l := codec.BeginList(dst)
	if m.Durable {
		dst = codec.AppendBool(dst, true)
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	if m.Priority == core.DefaultPriority {
		dst = codec.AppendNull(dst)
	} else {
		dst = codec.AppendUbyte(dst, m.Priority)
	}
	l.Field(dst)
	if m.Expiration > 0 {
		clk := clock{now: d.Now}
		left := m.Expiration - clk.ms()
		dst = codec.AppendUint(dst, uint32(min(max(left, 1), 1<<32-1)))
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	if d.DeliveryCount <= 1 {
		// first-acquirer: no earlier delivery of this message was
		// acquired, as far as the broker knows.
		dst = codec.AppendBool(dst, true)
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	if d.DeliveryCount > 1 {
		dst = codec.AppendUint(dst, d.DeliveryCount-1)
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	dst = l.End(dst)
	if dst[len(dst)-1] == 0x45 && len(dst)-start == 4 {
		// All defaults: no header section at all.
		return dst[:start]
	}
	return dst
}

// appendAnnotations writes the message-annotations section: m's
// annotations named x-... (the AMQP ones; other adapters' annotations are
// theirs), and with jms the x-opt-jms-* ones derived from the fields when
// m has none.
func appendAnnotations(dst []byte, m *core.Message, jms bool) []byte {
	start := len(dst)
	dst = codec.AppendDescriptor(dst, codec.DescMessageAnnotations)
	dst, me := codec.BeginMap(dst)
	encoded := false // any AnnEncodedPrefix annotation
	for _, a := range m.Annotations {
		if name, ok := strings.CutPrefix(a.Name, AnnEncodedPrefix); ok {
			encoded = true
			if !strings.HasPrefix(name, "x-") || a.Value.Kind != prop.Bytes {
				continue
			}
			// The producer's own encoding of a list, map, array or
			// described value.
			if b := bytesOf(a.Value); len(b) > 0 {
				dst = codec.AppendSymbol(dst, codec.Symbol(name))
				dst = append(dst, b...)
				me.Entry()
			}
		}
	}
	for _, a := range m.Annotations {
		if !strings.HasPrefix(a.Name, "x-") {
			continue
		}
		if encoded && m.Annotation(AnnEncodedPrefix+a.Name).Kind == prop.Bytes {
			// The encoded value stands for this name (AnnEncodedPrefix).
			continue
		}
		dst = codec.AppendSymbol(dst, codec.Symbol(a.Name))
		dst = body.AppendValue(dst, a.Value)
		me.Entry()
	}
	if jms {
		if m.Annotation(AnnJMSMsgType).IsNull() {
			dst = codec.AppendSymbol(dst, AnnJMSMsgType)
			dst = codec.AppendByte(dst, jmsMsgType(m.BodyKind))
			me.Entry()
		}
		if t, ok := jmsDest(m.RoutingType); ok && m.Annotation(AnnJMSDest).IsNull() {
			dst = codec.AppendSymbol(dst, AnnJMSDest)
			dst = codec.AppendByte(dst, t)
			me.Entry()
		}
		if t, ok := jmsDest(m.ReplyToType); ok && m.ReplyTo != "" && m.Annotation(AnnJMSReplyTo).IsNull() {
			dst = codec.AppendSymbol(dst, AnnJMSReplyTo)
			dst = codec.AppendByte(dst, t)
			me.Entry()
		}
	}
	if me.Len() == 0 {
		return dst[:start]
	}
	return me.End(dst)
}

func jmsMsgType(k core.BodyKind) int8 {
	switch k {
	case core.BodyText:
		return JMSMsgTypeText
	case core.BodyMap:
		return JMSMsgTypeMap
	case core.BodyStream:
		return JMSMsgTypeStream
	case core.BodyObject:
		return JMSMsgTypeObject
	case core.BodyBytes:
		return JMSMsgTypeBytes
	}
	return JMSMsgTypeMessage
}

func jmsDest(r core.RoutingType) (int8, bool) {
	switch r {
	case core.Anycast:
		return JMSDestQueue, true
	case core.Multicast:
		return JMSDestTopic, true
	}
	return 0, false
}

// AppendBare appends the bare message encoded from m's fields:
// properties, application-properties and the body.
func AppendBare(dst []byte, m *core.Message) []byte {
	dst = appendProperties(dst, m)
	if props := uniqueProperties(m.Properties); len(props) > 0 {
		dst = codec.AppendDescriptor(dst, codec.DescApplicationProperties)
		dst = body.AppendMap(dst, props)
	}
	return appendBody(dst, m)
}

func appendProperties(dst []byte, m *core.Message) []byte {
	dst = codec.AppendDescriptor(dst, codec.DescProperties)
	dst, l := codec.BeginList(dst)
	if m.ClientMessageID.IsNull() {
		// A JMS client needs an id: the broker's, as JMSMessageID shows it.
		dst = codec.AppendString(dst, "ID:"+strconv.FormatUint(m.ID, 10))
	} else {
		dst = body.AppendValue(dst, m.ClientMessageID)
	}
	l.Field(dst)
	if m.UserID != "" {
		dst = codec.AppendBinary(dst, []byte(m.UserID))
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	dst = optString(dst, m.Address)
	l.Field(dst)
	dst = optString(dst, m.Type)
	l.Field(dst)
	dst = optString(dst, m.ReplyTo)
	l.Field(dst)
	dst = body.AppendValue(dst, m.CorrelationID)
	l.Field(dst)
	contentType := m.ContentType
	if contentType == "" && m.BodyKind == core.BodyObject {
		contentType = ContentTypeJavaObject
	}
	if contentType != "" {
		dst = codec.AppendSymbol(dst, codec.Symbol(contentType))
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	if ce := m.Annotation(AnnContentEncoding); ce.Kind == prop.Symbol || ce.Kind == prop.String {
		dst = codec.AppendSymbol(dst, codec.Symbol(ce.S))
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	dst = optTimestamp(dst, m.Expiration)
	l.Field(dst)
	dst = optTimestamp(dst, m.Timestamp)
	l.Field(dst)
	dst = optString(dst, m.GroupID)
	l.Field(dst)
	if m.GroupSeq != 0 {
		dst = codec.AppendUint(dst, uint32(m.GroupSeq))
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	if g := m.Annotation(AnnReplyToGroupID); g.Kind == prop.String {
		dst = codec.AppendString(dst, g.S)
	} else {
		dst = codec.AppendNull(dst)
	}
	l.Field(dst)
	return l.End(dst)
}

func optString(dst []byte, s string) []byte {
	if s == "" {
		return codec.AppendNull(dst)
	}
	return codec.AppendString(dst, s)
}

func optTimestamp(dst []byte, ms int64) []byte {
	if ms == 0 {
		return codec.AppendNull(dst)
	}
	return codec.AppendTimestamp(dst, codec.Timestamp(ms))
}

// uniqueProperties drops repeated names (MQTT 5 user properties may
// repeat; an AMQP map may not): the first value wins, as Property reads.
func uniqueProperties(props []prop.Property) []prop.Property {
	for i := 1; i < len(props); i++ {
		for j := range i {
			if props[j].Name == props[i].Name {
				return dedupe(props)
			}
		}
	}
	return props
}

func dedupe(props []prop.Property) []prop.Property {
	out := make([]prop.Property, 0, len(props))
	seen := make(map[string]bool, len(props))
	for _, p := range props {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	return out
}

func appendBody(dst []byte, m *core.Message) []byte {
	switch m.BodyKind {
	case core.BodyText:
		dst = codec.AppendDescriptor(dst, codec.DescAMQPValue)
		return codec.AppendString(dst, string(m.Body))
	case core.BodyMap, core.BodyStream, core.BodyAMQPValue:
		// The body is already the AMQP encoding of the value.
		dst = codec.AppendDescriptor(dst, codec.DescAMQPValue)
		if len(m.Body) == 0 {
			return codec.AppendNull(dst)
		}
		return append(dst, m.Body...)
	case core.BodyAMQPSequence:
		d := codec.NewDecoder(m.Body)
		for d.Len() > 0 {
			raw, err := d.ReadRaw()
			if err != nil {
				// Stored bodies were checked on the way in; a damaged one
				// goes out as the bytes it is.
				return codec.AppendBinary(codec.AppendDescriptor(dst, codec.DescData), d.Rest())
			}
			dst = append(codec.AppendDescriptor(dst, codec.DescAMQPSequence), raw...)
		}
		return dst
	}
	dst = codec.AppendDescriptor(dst, codec.DescData)
	b := m.Body
	if b == nil {
		b = []byte{}
	}
	return codec.AppendBinary(dst, b)
}

// bytesOf returns the bytes of a Bytes value through its AMQP encoding (a
// binary), which reads the same whichever field prop.Value keeps them in
// (the field moves on main: v.Bytes() there). Only annotations that are
// not simple values take this path.
func bytesOf(v prop.Value) []byte {
	enc := body.AppendValue(nil, v)
	d := codec.NewDecoder(enc)
	code, content, err := d.ReadPrimitive()
	if err != nil || (code != 0xa0 && code != 0xb0) {
		return nil
	}
	return content
}
