package core

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/junctionmq/junction/core/prop"
)

// The stored message format. Version 1:
//
//	u8 version, uvarint id, string address, u8 routing, u8 flags, u8 priority,
//	varint timestamp, varint expiration, varint scheduledAt, string group,
//	varint groupSeq, string correlation, string replyTo, u8 replyToType,
//	string type, string contentType, string userID, uvarint nprops,
//	{string name, u8 kind, u8 untyped, value}*, u8 bodyKind, bytes body
//
// Strings and byte slices are a uvarint length and the bytes.
const codecVersion = 1

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
	dst = appendString(dst, m.CorrelationID)
	dst = appendString(dst, m.ReplyTo)
	dst = append(dst, byte(m.ReplyToType))
	dst = appendString(dst, m.Type)
	dst = appendString(dst, m.ContentType)
	dst = appendString(dst, m.UserID)
	dst = binary.AppendUvarint(dst, uint64(len(m.Properties)))
	for _, p := range m.Properties {
		dst = appendString(dst, p.Name)
		var untyped byte
		if p.Value.Untyped {
			untyped = 1
		}
		dst = append(dst, byte(p.Value.Kind), untyped)
		switch p.Value.Kind {
		case prop.Null:
		case prop.Float32, prop.Float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Value.F))
		case prop.String:
			dst = appendString(dst, p.Value.S)
		case prop.Bytes:
			dst = appendString(dst, string(p.Value.B))
		default:
			dst = binary.AppendVarint(dst, p.Value.I)
		}
	}
	dst = append(dst, byte(m.BodyKind))
	dst = appendString(dst, string(m.Body))
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

type decoder struct {
	b   []byte
	err error
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

// DecodeMessage parses a stored message. The result does not alias data.
func DecodeMessage(data []byte) (*Message, error) {
	d := decoder{b: data}
	if d.byte1() != codecVersion {
		return nil, errCorruptMessage
	}
	m := &Message{}
	m.ID = d.uvarint()
	m.Address = d.str()
	m.RoutingType = RoutingType(d.byte1())
	flags := d.byte1()
	m.Durable = flags&1 != 0
	m.Priority = d.byte1()
	m.Timestamp = d.varint()
	m.Expiration = d.varint()
	m.ScheduledAt = d.varint()
	m.GroupID = d.str()
	m.GroupSeq = int32(d.varint())
	m.CorrelationID = d.str()
	m.ReplyTo = d.str()
	m.ReplyToType = RoutingType(d.byte1())
	m.Type = d.str()
	m.ContentType = d.str()
	m.UserID = d.str()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errCorruptMessage
	}
	if n > 0 {
		m.Properties = make([]prop.Property, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		p := prop.Property{Name: d.str()}
		p.Value.Kind = prop.Kind(d.byte1())
		p.Value.Untyped = d.byte1() == 1
		switch p.Value.Kind {
		case prop.Null:
		case prop.Float32, prop.Float64:
			if len(d.b) < 8 {
				d.err = errCorruptMessage
				break
			}
			p.Value.F = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
			d.b = d.b[8:]
		case prop.String:
			p.Value.S = d.str()
		case prop.Bytes:
			p.Value.B = append([]byte(nil), d.bytes()...)
		case prop.Bool, prop.Int8, prop.Int16, prop.Int32, prop.Int64, prop.Char:
			p.Value.I = d.varint()
		default:
			d.err = errCorruptMessage
		}
		m.Properties = append(m.Properties, p)
	}
	m.BodyKind = BodyKind(d.byte1())
	m.Body = append([]byte(nil), d.bytes()...)
	if d.err != nil {
		return nil, d.err
	}
	if m.Priority > 9 {
		return nil, errCorruptMessage
	}
	return m, nil
}
