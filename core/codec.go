package core

import (
	"encoding/binary"
	"errors"

	"github.com/junctionmq/junction/core/prop"
)

// The stored message format. Strings and byte slices are a uvarint length and
// the bytes; a value is u8 kind, u8 untyped and the kind's content (nothing
// for NULL; 8 bytes little-endian for floats; a string for String and
// Symbol; bytes for Bytes, UUID and decimals; a uvarint for Uint64; a varint
// for every other kind); props are a uvarint count and {string name, value}*.
//
// Version 2 (written since the AMQP message model):
//
//	u8 2, uvarint id, string address, u8 routing, u8 flags, u8 priority,
//	varint timestamp, varint expiration, varint scheduledAt, string group,
//	varint groupSeq, value clientMessageID, value correlationID,
//	string replyTo, u8 replyToType, string type, string contentType,
//	string userID, props properties, props annotations, u8 bodyKind,
//	bytes body, u8 hasWire, [string wireProtocol, bytes wireData]
//
// Version 1 (read, never written): as version 2 up to groupSeq, then string
// correlationID, string replyTo, u8 replyToType, string type, string
// contentType, string userID, props properties (kinds Null to Char only),
// u8 bodyKind, bytes body. It had no annotations: the MQTT adapter's markers
// were properties named _MQTT_*, which decoding moves to annotations.
//
// Decoders must accept every version ever written: journals outlive
// upgrades (test/compat keeps a version 1 journal).
const codecVersion = 2

const codecVersion1 = 1

// v1MQTTMarkers maps the MQTT adapter's version 1 marker properties to the
// annotations that replaced them (protocols/mqtt uses the same names).
var v1MQTTMarkers = map[string]string{"_MQTT_QOS": "mqtt.qos", "_MQTT_RETAIN": "mqtt.retain"}

var errCorruptMessage = errors.New("corrupt stored message")

// EncodeMessage appends the stored form of m to dst.
func EncodeMessage(dst []byte, m *Message) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, m.ID)
	dst = appendString(dst, m.Address)
	var flags byte
	if m.Durable {
		flags |= 1
	}
	dst = append(dst, byte(m.RoutingType), flags, m.Priority)
	dst = binary.AppendVarint(dst, m.Timestamp)
	dst = binary.AppendVarint(dst, m.Expiration)
	dst = binary.AppendVarint(dst, m.ScheduledAt)
	dst = appendString(dst, m.GroupID)
	dst = binary.AppendVarint(dst, int64(m.GroupSeq))
	dst = appendValue(dst, m.ClientMessageID)
	dst = appendValue(dst, m.CorrelationID)
	dst = appendString(dst, m.ReplyTo)
	dst = append(dst, byte(m.ReplyToType))
	dst = appendString(dst, m.Type)
	dst = appendString(dst, m.ContentType)
	dst = appendString(dst, m.UserID)
	dst = appendProps(dst, m.Properties)
	dst = appendProps(dst, m.Annotations)
	dst = append(dst, byte(m.BodyKind))
	dst = appendBytes(dst, m.Body)
	if m.Wire == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = appendString(dst, m.Wire.Protocol)
	return appendBytes(dst, m.Wire.Data)
}

func appendProps(dst []byte, ps []prop.Property) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ps)))
	for _, p := range ps {
		dst = appendString(dst, p.Name)
		dst = appendValue(dst, p.Value)
	}
	return dst
}

func appendValue(dst []byte, v prop.Value) []byte {
	var untyped byte
	if v.Untyped {
		untyped = 1
	}
	dst = append(dst, byte(v.Kind), untyped)
	switch v.Kind {
	case prop.Null:
	case prop.Float32, prop.Float64:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
	case prop.String, prop.Symbol:
		dst = appendString(dst, v.S)
	case prop.Bytes, prop.UUID, prop.Decimal32, prop.Decimal64, prop.Decimal128:
		dst = appendString(dst, v.S)
	case prop.Uint64:
		dst = binary.AppendUvarint(dst, v.Uint())
	default:
		dst = binary.AppendVarint(dst, v.I)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendBytes is appendString for a byte slice, without the copy a
// string conversion would make (a body is copied once, into dst).
func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

type decoder struct {
	b   []byte
	err error
	// names, when set, shares property names between messages.
	names names
}

// names shares the strings of property names between the messages one
// recovery decodes: a million messages with the same few properties hold
// the few names once, not a million copies. Bounded, so that a store full
// of distinct names costs no more than copies would.
type names map[string]string

const maxNames = 4096

func (n names) get(b []byte) string {
	if s, ok := n[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(n) < maxNames {
		n[s] = s
	}
	return s
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorruptMessage
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorruptMessage
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorruptMessage
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorruptMessage
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

// value reads a value; maxKind bounds the kinds the format version knew.
func (d *decoder) value(maxKind prop.Kind) prop.Value {
	var v prop.Value
	v.Kind = prop.Kind(d.byte1())
	v.Untyped = d.byte1() == 1
	if d.err != nil {
		return prop.Value{}
	}
	if v.Kind > maxKind {
		d.err = errCorruptMessage
		return prop.Value{}
	}
	switch v.Kind {
	case prop.Null:
	case prop.Float32, prop.Float64:
		if len(d.b) < 8 {
			d.err = errCorruptMessage
			break
		}
		v.I = int64(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
	case prop.String, prop.Symbol:
		v.S = d.str()
	case prop.Bytes:
		v.S = d.str()
	case prop.UUID, prop.Decimal32, prop.Decimal64, prop.Decimal128:
		b := d.bytes()
		if len(b) != fixedLen(v.Kind) {
			d.err = errCorruptMessage
			break
		}
		v.S = string(b)
	case prop.Uint64:
		v.I = int64(d.uvarint())
	default:
		v.I = d.varint()
	}
	return v
}

// fixedLen is the byte length of the fixed-size kinds kept in Value.S.
func fixedLen(k prop.Kind) int {
	switch k {
	case prop.Decimal32:
		return 4
	case prop.Decimal64:
		return 8
	}
	return 16 // UUID, Decimal128
}

func (d *decoder) props(maxKind prop.Kind) []prop.Property {
	n := d.uvarint()
	// Each property takes at least three bytes: no count can exceed what is left.
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorruptMessage
		return nil
	}
	if n == 0 {
		return nil
	}
	ps := make([]prop.Property, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var name string
		if d.names != nil {
			name = d.names.get(d.bytes())
		} else {
			name = d.str()
		}
		ps = append(ps, prop.Property{Name: name, Value: d.value(maxKind)})
	}
	return ps
}

// DecodeMessage parses a stored message of any version. The result does not
// alias data.
func DecodeMessage(data []byte) (*Message, error) {
	m := &Message{}
	if err := decodeMessageInto(m, data, "", nil); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeMessageInto is DecodeMessage into m, which the caller allocated
// (recovery allocates a message and its first reference together). When the
// stored address equals addr, m shares addr's bytes instead of a copy: the
// messages of one queue all name one address; property names come from ns
// when not nil.
func decodeMessageInto(m *Message, data []byte, addr string, ns names) error {
	d := decoder{b: data, names: ns}
	version := d.byte1()
	if version != codecVersion && version != codecVersion1 {
		return errCorruptMessage
	}
	m.ID = d.uvarint()
	if a := d.bytes(); string(a) == addr {
		m.Address = addr
	} else {
		m.Address = string(a)
	}
	m.RoutingType = RoutingType(d.byte1())
	flags := d.byte1()
	m.Durable = flags&1 != 0
	m.Priority = d.byte1()
	m.Timestamp = d.varint()
	m.Expiration = d.varint()
	m.ScheduledAt = d.varint()
	m.GroupID = d.str()
	m.GroupSeq = int32(d.varint())
	if version == codecVersion1 {
		if c := d.str(); c != "" {
			m.CorrelationID = prop.StringValue(c)
		}
	} else {
		m.ClientMessageID = d.value(prop.Decimal128)
		m.CorrelationID = d.value(prop.Decimal128)
	}
	m.ReplyTo = d.str()
	m.ReplyToType = RoutingType(d.byte1())
	m.Type = d.str()
	m.ContentType = d.str()
	m.UserID = d.str()
	if version == codecVersion1 {
		m.Properties = d.props(prop.Char)
		m.Properties, m.Annotations = splitV1Markers(m.Properties)
	} else {
		m.Properties = d.props(prop.Decimal128)
		m.Annotations = d.props(prop.Decimal128)
	}
	m.BodyKind = BodyKind(d.byte1())
	m.Body = append([]byte(nil), d.bytes()...)
	if version != codecVersion1 {
		switch d.byte1() {
		case 0:
		case 1:
			m.Wire = &WireForm{Protocol: d.str()}
			m.Wire.Data = append([]byte(nil), d.bytes()...)
		default:
			d.err = errCorruptMessage
		}
	}
	if d.err != nil {
		return d.err
	}
	if m.Priority > 9 || !m.BodyKind.Valid() || len(d.b) != 0 {
		return errCorruptMessage
	}
	return nil
}

// splitV1Markers moves version 1's MQTT marker properties to annotations.
func splitV1Markers(ps []prop.Property) (props, annotations []prop.Property) {
	for _, p := range ps {
		if name, ok := v1MQTTMarkers[p.Name]; ok {
			annotations = append(annotations, prop.Property{Name: name, Value: p.Value})
		} else {
			props = append(props, p)
		}
	}
	return props, annotations
}
