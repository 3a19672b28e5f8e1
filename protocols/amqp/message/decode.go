package message

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/body"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// Protocol is the WireForm.Protocol of an AMQP bare message.
const Protocol = "amqp"

// Annotation names this package reads and writes (Qpid JMS's and
// Artemis's names).
const (
	AnnDeliveryTime  = "x-opt-delivery-time"  // timestamp (or long): deliver at
	AnnDeliveryDelay = "x-opt-delivery-delay" // long ms: deliver after
	AnnJMSMsgType    = "x-opt-jms-msg-type"   // byte: the JMS message type (JMSMsgType*)
	AnnJMSDest       = "x-opt-jms-dest"       // byte: the type of `to` (JMSDest*)
	AnnJMSReplyTo    = "x-opt-jms-reply-to"   // byte: the type of `reply-to` (JMSDest*)
)

// Core annotations that keep what has no core field and no simple prop
// kind, so it survives the loss of the wire form (dead-letter and expiry
// copies, modified outcomes) and a restart. They are AMQP's own (the
// "amqp." prefix): no other protocol shows them.
const (
	// AnnEncodedPrefix + KEY holds, as Bytes, the AMQP encoding (as the
	// producer sent it) of message annotation KEY whose value is a list, a
	// map, an array or a described value. A NULL value under this name
	// means "none" (a modified outcome replaced it with a simple value).
	AnnEncodedPrefix = "amqp.encoded:"
	// AnnContentEncoding holds properties.content-encoding (Symbol).
	AnnContentEncoding = "amqp.content-encoding"
	// AnnReplyToGroupID holds properties.reply-to-group-id (String).
	AnnReplyToGroupID = "amqp.reply-to-group-id"
	// AnnFooter holds the footer section's map as encoded (Bytes).
	AnnFooter = "amqp.footer"
)

// Values of x-opt-jms-msg-type.
const (
	JMSMsgTypeMessage = 0
	JMSMsgTypeObject  = 1
	JMSMsgTypeMap     = 2
	JMSMsgTypeBytes   = 3
	JMSMsgTypeStream  = 4
	JMSMsgTypeText    = 5
)

// Values of x-opt-jms-dest and x-opt-jms-reply-to.
const (
	JMSDestQueue     = 0
	JMSDestTopic     = 1
	JMSDestTempQueue = 2
	JMSDestTempTopic = 3
)

// ContentTypeJavaObject marks a serialised Java object in a data section.
const ContentTypeJavaObject = "application/x-java-serialized-object"

// Header is the header section (OASIS AMQP 1.0 part 3, 3.2.1).
type Header struct {
	Durable       bool
	Priority      uint8 // default 4
	TTL           uint32
	HasTTL        bool
	FirstAcquirer bool
	DeliveryCount uint32
}

// Info is what a payload holds beyond the core message: the parts the
// server reads itself. Binaries inside DeliveryAnnotations and Footer
// alias the payload; UserID is a copy.
type Info struct {
	HasHeader           bool
	Header              Header
	DeliveryAnnotations codec.Map // hop by hop: never passed on
	To                  string    // properties.to, as sent (anonymous relay routes by it)
	HasUserID           bool
	UserID              []byte // properties.user-id: the server checks it is the authenticated user
	Footer              codec.Map
}

// Decode reads the payload of a transfer (all its frames joined) into a
// new core.Message, with now as the arrival time for ttl and
// x-opt-delivery-delay (a zero now: the clock, read only when the message
// has either). The server sets Address (from the link's target
// or Info.To) and UserID. Errors are *codec.Error (amqp:decode-error for
// malformed or misplaced sections).
func Decode(payload []byte, now time.Time) (*core.Message, Info, error) {
	var info Info
	// The message and its wire form in one allocation: almost every
	// message has a bare message to keep.
	mw := &messageWire{m: core.Message{Priority: core.DefaultPriority}}
	m := &mw.m
	d := codec.NewDecoder(payload)
	last := -1 // the rank of the last section: sections come in spec order
	clk := clock{now: now}
	var bareStart, bareEnd = -1, -1
	var bodyCode uint64
	var bodies [][]byte // raw encodings of the body sections' values
	var bodyAt []int    // their offsets in payload
	var ttl int64 = -1
	var annotations codec.Map
	var annotationsRaw, footer []byte
	for d.Len() > 0 {
		start := len(payload) - d.Len()
		code, desc, err := d.ReadDescriptor()
		if err != nil {
			return nil, info, err
		}
		rank := sectionRank(code)
		if rank < 0 {
			return nil, info, codec.Errorf(codec.CondDecodeError, "section with descriptor %v", desc)
		}
		if rank < last || (rank == last && rank != rankBody) {
			return nil, info, codec.Errorf(codec.CondDecodeError, "section 0x%x out of order", code)
		}
		if rank == rankBody && bodyCode != 0 && code != bodyCode {
			return nil, info, codec.Errorf(codec.CondDecodeError, "body sections of different kinds (0x%x and 0x%x)", bodyCode, code)
		}
		if code == codec.DescAMQPValue && bodyCode == codec.DescAMQPValue {
			return nil, info, codec.Errorf(codec.CondDecodeError, "more than one amqp-value section")
		}
		last = rank
		if rank >= rankProperties && rank <= rankBody && bareStart < 0 {
			bareStart = start
		}
		switch code {
		case codec.DescHeader:
			f, err := d.ReadList()
			if err != nil {
				return nil, info, err
			}
			info.HasHeader = true
			h := &info.Header
			h.Durable = f.Bool(false)
			h.Priority = f.Ubyte(4)
			h.TTL, h.HasTTL = f.OptUint()
			h.FirstAcquirer = f.Bool(false)
			h.DeliveryCount = f.Uint(0)
			if err := f.Err(); err != nil {
				return nil, info, err
			}
			m.Durable = h.Durable
			m.Priority = min(h.Priority, 9)
			if h.HasTTL {
				ttl = int64(h.TTL)
			}
		case codec.DescDeliveryAnnotations, codec.DescMessageAnnotations, codec.DescFooter:
			raw, err := d.ReadRaw()
			if err != nil {
				return nil, info, err
			}
			sub := codec.NewDecoder(raw)
			am, err := sub.ReadMap()
			if err != nil {
				return nil, info, err
			}
			switch code {
			case codec.DescDeliveryAnnotations:
				info.DeliveryAnnotations = am
			case codec.DescMessageAnnotations:
				annotations, annotationsRaw = am, raw
			default:
				info.Footer = am
				if am != nil {
					footer = raw
				}
			}
		case codec.DescProperties:
			if err := readProperties(&d, m, &info); err != nil {
				return nil, info, err
			}
		case codec.DescApplicationProperties:
			raw, err := d.ReadRaw()
			if err != nil {
				return nil, info, err
			}
			if len(raw) == 1 && raw[0] == 0x40 {
				break
			}
			props, err := body.DecodeMap(raw)
			if err != nil {
				return nil, info, codec.Errorf(codec.CondDecodeError, "application-properties: %v", err)
			}
			for _, p := range props {
				// Keys are strings; a symbol key (some clients send them)
				// must still be text.
				if !utf8.ValidString(p.Name) {
					return nil, info, codec.Errorf(codec.CondDecodeError, "application-properties key is not UTF-8")
				}
			}
			m.Properties = props
		case codec.DescData, codec.DescAMQPSequence, codec.DescAMQPValue:
			bodyAt = append(bodyAt, len(payload)-d.Len())
			raw, err := d.ReadRaw()
			if err != nil {
				return nil, info, err
			}
			if err := checkBody(code, raw); err != nil {
				return nil, info, err
			}
			bodyCode = code
			bodies = append(bodies, raw)
		}
		if rank >= rankProperties && rank <= rankBody {
			bareEnd = len(payload) - d.Len()
		}
	}
	if bodyCode == 0 && bareStart >= 0 {
		// A bare message has a body (part 3, 3.2): none is an empty data
		// section to the broker, but the producer's bytes are kept as sent.
		bodyCode = codec.DescData
	}
	if err := applyAnnotations(m, annotations, annotationsRaw, &clk); err != nil {
		return nil, info, err
	}
	if footer != nil {
		m.Annotations = append(m.Annotations, prop.Property{Name: AnnFooter, Value: prop.BytesValue(append([]byte(nil), footer...))})
	}
	switch {
	case m.Expiration != 0:
		// absolute-expiry-time wins over the ttl, as in Artemis.
	case ttl > 0:
		m.Expiration = clk.ms() + ttl
	}
	if bareStart >= 0 {
		mw.w = core.WireForm{Protocol: Protocol, Data: append([]byte(nil), payload[bareStart:bareEnd]...)}
		m.Wire = &mw.w
		// The body is taken from the kept copy: it is shared, not copied
		// again.
		for i, b := range bodies {
			pos := bodyAt[i] - bareStart
			bodies[i] = m.Wire.Data[pos : pos+len(b) : pos+len(b)]
		}
	}
	if err := setBody(m, bodyCode, bodies); err != nil {
		return nil, info, err
	}
	if info.HasUserID {
		info.UserID = append([]byte(nil), info.UserID...)
	}
	return m, info, nil
}

const (
	rankHeader = iota
	rankDeliveryAnnotations
	rankMessageAnnotations
	rankProperties
	rankApplicationProperties
	rankBody
	rankFooter
)

func sectionRank(code uint64) int {
	switch code {
	case codec.DescHeader:
		return rankHeader
	case codec.DescDeliveryAnnotations:
		return rankDeliveryAnnotations
	case codec.DescMessageAnnotations:
		return rankMessageAnnotations
	case codec.DescProperties:
		return rankProperties
	case codec.DescApplicationProperties:
		return rankApplicationProperties
	case codec.DescData, codec.DescAMQPSequence, codec.DescAMQPValue:
		return rankBody
	case codec.DescFooter:
		return rankFooter
	}
	return -1
}

// checkBody checks the type a body section holds.
func checkBody(code uint64, raw []byte) error {
	d := codec.NewDecoder(raw)
	switch code {
	case codec.DescData:
		if raw[0] != 0xa0 && raw[0] != 0xb0 {
			return codec.Errorf(codec.CondDecodeError, "data section holds format code 0x%02x, not binary", raw[0])
		}
		return nil // ReadRaw checked its extent; a binary has nothing inside
	case codec.DescAMQPSequence:
		if _, err := d.ReadList(); err != nil || raw[0] == 0x40 {
			return codec.Errorf(codec.CondDecodeError, "amqp-sequence section does not hold a list")
		}
	case codec.DescAMQPValue:
		if raw[0] == 0xa1 || raw[0] == 0xb1 {
			if _, s, _ := d.ReadPrimitive(); !utf8.Valid(s) {
				return codec.Errorf(codec.CondDecodeError, "amqp-value string is not UTF-8")
			}
			return nil
		}
	}
	// Every other value is validated whole: a body the broker accepts is
	// one every consumer can decode.
	d = codec.NewDecoder(raw)
	if _, err := d.ReadValue(); err != nil {
		return err
	}
	return nil
}

// content returns the bytes of a binary or string value, without a copy.
func content(raw []byte) []byte {
	d := codec.NewDecoder(raw)
	_, b, _ := d.ReadPrimitive()
	return b
}

func readProperties(d *codec.Decoder, m *core.Message, info *Info) error {
	f, err := d.ReadList()
	if err != nil {
		return err
	}
	m.ClientMessageID = readID(&f)
	if !f.IsNull() {
		info.HasUserID = true
	}
	info.UserID = f.Binary()
	info.To = f.Str()
	m.Type = f.Str() // subject ↔ JMSType
	m.ReplyTo, m.ReplyToType = ParseAddress(f.Str())
	m.CorrelationID = readID(&f)
	m.ContentType = string(f.Symbol())
	if ce := f.Symbol(); ce != "" {
		m.Annotations = append(m.Annotations, prop.Property{Name: AnnContentEncoding, Value: prop.SymbolValue(string(ce))})
	}
	if t, ok := f.Timestamp(); ok {
		m.Expiration = int64(t)
	}
	if t, ok := f.Timestamp(); ok {
		m.Timestamp = int64(t)
	}
	m.GroupID = f.Str()
	if seq, ok := f.OptUint(); ok {
		// group-sequence is a uint; JMSXGroupSeq an int.
		m.GroupSeq = int32(seq)
	}
	if g := f.Str(); g != "" {
		m.Annotations = append(m.Annotations, prop.Property{Name: AnnReplyToGroupID, Value: prop.StringValue(g)})
	}
	return f.Err()
}

// readID reads a message-id or correlation-id field: ulong, uuid, binary
// or string.
func readID(f *codec.FieldReader) prop.Value {
	v := f.Value()
	switch v := v.(type) {
	case nil:
		return prop.Value{}
	case uint64:
		return prop.Uint64Value(v)
	case codec.UUID:
		return prop.UUIDValue(v)
	case []byte:
		return prop.BytesValue(append([]byte(nil), v...))
	case string:
		return prop.StringValue(v)
	}
	return prop.Value{}
}

// applyAnnotations keeps the message annotations as core annotations — a
// simple value by its name, any other as its encoding under
// AnnEncodedPrefix+name (raw is the section's map as sent) — and maps the
// scheduled delivery and JMS ones.
func applyAnnotations(m *core.Message, am codec.Map, raw []byte, clk *clock) error {
	var values [][]byte // raw encodings of am's values, read when one is not simple
	for i, e := range am {
		var name string
		switch k := e.Key.(type) {
		case codec.Symbol:
			name = string(k)
		default:
			// ulong keys are reserved for future spec use: nothing reads them.
			continue
		}
		switch name {
		case AnnDeliveryTime:
			if t, ok := asInt(e.Value); ok && t > 0 {
				m.ScheduledAt = t
			}
		case AnnDeliveryDelay:
			if d, ok := asInt(e.Value); ok && d > 0 && m.ScheduledAt == 0 {
				m.ScheduledAt = clk.ms() + d
			}
		case AnnJMSDest:
			if t, ok := asInt(e.Value); ok {
				m.RoutingType = destRouting(t)
			}
		case AnnJMSReplyTo:
			if t, ok := asInt(e.Value); ok && m.ReplyTo != "" {
				m.ReplyToType = destRouting(t)
			}
		}
		if v, ok := PropValue(e.Value); ok {
			m.Annotations = append(m.Annotations, prop.Property{Name: name, Value: v})
			continue
		}
		if values == nil {
			var err error
			if values, err = mapValues(raw, len(am)); err != nil {
				return err
			}
		}
		m.Annotations = append(m.Annotations, prop.Property{Name: AnnEncodedPrefix + name, Value: prop.BytesValue(append([]byte(nil), values[i]...))})
	}
	return nil
}

// mapValues returns the encodings of the values of the n entries of the
// encoded map raw (already decoded once, so well formed), in order.
func mapValues(raw []byte, n int) ([][]byte, error) {
	d := codec.NewDecoder(raw)
	code, data, err := d.ReadPrimitive()
	if err != nil {
		return nil, err
	}
	switch code {
	case 0xc1: // map8: count (1 byte), entries
		data = data[1:]
	case 0xd1: // map32: count (4 bytes), entries
		data = data[4:]
	default:
		return nil, codec.Errorf(codec.CondDecodeError, "message-annotations: map expected, format code 0x%02x", code)
	}
	values := make([][]byte, n)
	entries := codec.NewDecoder(data)
	for i := range values {
		if err := entries.Skip(); err != nil {
			return nil, err
		}
		if values[i], err = entries.ReadRaw(); err != nil {
			return nil, err
		}
	}
	return values, nil
}

func destRouting(t int64) core.RoutingType {
	switch t {
	case JMSDestQueue, JMSDestTempQueue:
		return core.Anycast
	case JMSDestTopic, JMSDestTempTopic:
		return core.Multicast
	}
	return core.RoutingAny
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v <= 1<<62 {
			return int64(v), true
		}
	case codec.Timestamp:
		return int64(v), true
	}
	return 0, false
}

// PropValue converts a simple AMQP value to a prop.Value; ok is false for
// lists, maps, arrays and described values, which prop cannot hold.
func PropValue(v any) (prop.Value, bool) {
	switch v := v.(type) {
	case nil:
		return prop.Value{}, true
	case bool:
		return prop.BoolValue(v), true
	case uint8:
		return prop.Uint8Value(v), true
	case uint16:
		return prop.Uint16Value(v), true
	case uint32:
		return prop.Uint32Value(v), true
	case uint64:
		return prop.Uint64Value(v), true
	case int8:
		return prop.Int8Value(v), true
	case int16:
		return prop.Int16Value(v), true
	case int32:
		return prop.Int32Value(v), true
	case int64:
		return prop.Int64Value(v), true
	case float32:
		return prop.Float32Value(v), true
	case float64:
		return prop.Float64Value(v), true
	case codec.Char:
		return prop.CharValue(rune(v)), true
	case codec.Timestamp:
		return prop.TimestampValue(int64(v)), true
	case codec.UUID:
		return prop.UUIDValue(v), true
	case []byte:
		return prop.BytesValue(append([]byte(nil), v...)), true
	case string:
		return prop.StringValue(v), true
	case codec.Symbol:
		return prop.SymbolValue(string(v)), true
	case codec.Decimal32:
		return decimal(v[:])
	case codec.Decimal64:
		return decimal(v[:])
	case codec.Decimal128:
		return decimal(v[:])
	}
	return prop.Value{}, false
}

func decimal(b []byte) (prop.Value, bool) {
	return prop.DecimalValue(append([]byte(nil), b...))
}

// textKeys reports whether every key is text: a JMS map's names are
// strings, and a symbol key (which body.DecodeMap accepts) must be too.
func textKeys(entries []prop.Property) bool {
	for _, e := range entries {
		if !utf8.ValidString(e.Name) {
			return false
		}
	}
	return true
}

// isText reports whether a content type is text: text/*, or a charset
// parameter (Qpid JMS's rule for data sections).
func isText(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "charset=")
}

// ParseAddress reads an AMQP address: "queue://name" and "topic://name"
// give the routing type (Qpid JMS's and ActiveMQ's prefixes), a plain
// name leaves it to the address (or to x-opt-jms-dest).
func ParseAddress(s string) (string, core.RoutingType) {
	switch {
	case strings.HasPrefix(s, "queue://"):
		return s[len("queue://"):], core.Anycast
	case strings.HasPrefix(s, "topic://"):
		return s[len("topic://"):], core.Multicast
	}
	return s, core.RoutingAny
}

// setBody sets BodyKind and Body from the body sections' raw values.
func setBody(m *core.Message, code uint64, bodies [][]byte) error {
	jmsType, hasJMSType := int64(-1), false
	if v := m.Annotation(AnnJMSMsgType); !v.IsNull() {
		jmsType, hasJMSType = v.I, true
	}
	switch code {
	case 0:
		m.BodyKind = core.BodyBytes
	case codec.DescData:
		var data []byte
		for i, raw := range bodies {
			b := content(raw)
			if i == 0 {
				data = b
			} else {
				// Several data sections are one byte sequence to JMS.
				data = append(append([]byte(nil), data...), b...)
			}
		}
		m.Body = data
		m.BodyKind = core.BodyBytes
		switch {
		case m.ContentType == ContentTypeJavaObject || (hasJMSType && jmsType == JMSMsgTypeObject):
			m.BodyKind = core.BodyObject
		case (isText(m.ContentType) || (hasJMSType && jmsType == JMSMsgTypeText)) && utf8.Valid(data):
			// Qpid JMS reads a data section with a text content type as a
			// TextMessage, and STOMP's text/* is BodyText too.
			m.BodyKind = core.BodyText
		}
	case codec.DescAMQPValue:
		raw := bodies[0]
		if raw[0] == 0xa1 || raw[0] == 0xb1 { // string, checked by checkBody
			m.BodyKind, m.Body = core.BodyText, content(raw)
			return nil
		}
		d := codec.NewDecoder(raw)
		v, _ := d.ReadValue()
		switch v := v.(type) {
		case nil:
			m.BodyKind = core.BodyBytes
		case []byte:
			m.BodyKind, m.Body = core.BodyBytes, v
			if hasJMSType && jmsType == JMSMsgTypeObject {
				m.BodyKind = core.BodyObject
			}
		case codec.Map:
			if entries, err := body.DecodeMap(raw); err == nil && textKeys(entries) {
				m.BodyKind, m.Body = core.BodyMap, body.AppendMap(nil, entries)
			} else {
				m.BodyKind, m.Body = core.BodyAMQPValue, raw
			}
		case codec.List:
			if items, err := body.DecodeList(raw); err == nil {
				m.BodyKind, m.Body = core.BodyStream, body.AppendList(nil, items)
			} else {
				m.BodyKind, m.Body = core.BodyAMQPValue, raw
			}
		default:
			m.BodyKind, m.Body = core.BodyAMQPValue, raw
		}
	case codec.DescAMQPSequence:
		if len(bodies) == 1 {
			if items, err := body.DecodeList(bodies[0]); err == nil {
				m.BodyKind, m.Body = core.BodyStream, body.AppendList(nil, items)
				return nil
			}
		}
		m.BodyKind = core.BodyAMQPSequence
		if len(bodies) == 1 {
			m.Body = bodies[0]
		} else {
			for _, b := range bodies {
				m.Body = append(m.Body, b...)
			}
		}
	}
	return nil
}

// clock is a time read at most once, and only if needed: most messages
// carry neither a ttl nor a delivery delay, and reading the clock for
// each costs more than decoding their header.
type clock struct{ now time.Time }

func (c *clock) ms() int64 {
	if c.now.IsZero() {
		c.now = time.Now()
	}
	return c.now.UnixMilli()
}

// messageWire is a decoded message with room for its wire form.
type messageWire struct {
	m core.Message
	w core.WireForm
}
