package core

import (
	"strconv"
	"sync/atomic"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/core/selector"
)

// RoutingType says how an address hands out messages.
type RoutingType uint8

const (
	// RoutingAny is only valid on a Message: route by whatever the address offers.
	RoutingAny RoutingType = iota
	// Anycast: each message to one consumer of one queue (JMS queue).
	Anycast
	// Multicast: a copy to every subscription queue (JMS topic).
	Multicast
)

func (r RoutingType) String() string {
	switch r {
	case Anycast:
		return "ANYCAST"
	case Multicast:
		return "MULTICAST"
	}
	return "ANY"
}

// ParseRoutingType reads ANYCAST or MULTICAST (case-insensitive).
func ParseRoutingType(s string) (RoutingType, bool) {
	switch s {
	case "ANYCAST", "anycast", "Anycast":
		return Anycast, true
	case "MULTICAST", "multicast", "Multicast":
		return Multicast, true
	}
	return RoutingAny, false
}

// BodyKind tells consumers how to read Body. An Object body is opaque bytes: the
// broker never deserialises it.
type BodyKind uint8

const (
	BodyBytes BodyKind = iota
	BodyText
	BodyMap
	BodyStream
	BodyObject
)

// Property names the core itself sets or reads. The _AMQ_ names are Artemis',
// which JMS tooling already knows.
const (
	PropDuplicateID     = "_AMQ_DUPL_ID"
	PropOrigAddress     = "_AMQ_ORIG_ADDRESS"
	PropOrigQueue       = "_AMQ_ORIG_QUEUE"
	PropOrigRoutingType = "_AMQ_ORIG_ROUTING_TYPE"
	PropOrigMessageID   = "_AMQ_ORIG_MESSAGE_ID"
	PropDLQReason       = "_AMQ_DLQ_REASON"
	PropExpiredAt       = "_AMQ_ACTUAL_EXPIRY"
	PropLastValue       = "_AMQ_LVQ_NAME"
	PropUserID          = "JMSXUserID"
)

// Message is one message as the core holds it. After it is sent it is shared,
// read-only, by every queue that holds it: adapters must not modify a delivered
// message; use Clone to derive a new one.
type Message struct {
	ID            uint64
	Address       string
	RoutingType   RoutingType // the routing the sender asked for; RoutingAny = either
	Durable       bool
	Priority      uint8 // 0-9, 4 is the JMS default
	Timestamp     int64 // unix ms, set by the broker when the sender gave none
	Expiration    int64 // unix ms; 0 = never
	ScheduledAt   int64 // unix ms; 0 = now
	GroupID       string
	GroupSeq      int32
	CorrelationID string // may hold binary data (MQTT 5 correlation data)
	ReplyTo       string // address name, in core form
	ReplyToType   RoutingType
	Type          string
	ContentType   string
	UserID        string // the authenticated sender; set by the broker, never by clients
	Properties    []prop.Property
	// Annotations are broker and protocol annotations (AMQP message and
	// delivery annotations, an adapter's internal markers): kept apart from the
	// application's Properties so they never reach another protocol's client as
	// application headers.
	Annotations []prop.Property
	BodyKind    BodyKind
	Body        []byte

	// refs counts the queues holding the message; durableRefs those that stored it.
	refs        atomic.Int32
	durableRefs atomic.Int32
	size        int32
	// addr is the address whose size the message counts against. Queues
	// release it under their lock, where looking the address up (under the
	// broker lock) would invert the broker-then-queue lock order.
	addr *address
}

// DefaultPriority is the JMS default priority.
const DefaultPriority = 4

// NewMessage returns a message with the default priority.
func NewMessage(address string, body []byte) *Message {
	return &Message{Address: address, Priority: DefaultPriority, Body: body}
}

// Property returns the first property with the given name, or NULL.
func (m *Message) Property(name string) prop.Value {
	for i := range m.Properties {
		if m.Properties[i].Name == name {
			return m.Properties[i].Value
		}
	}
	return prop.Value{}
}

// SetProperty replaces the first property with this name, or appends one.
func (m *Message) SetProperty(name string, v prop.Value) {
	for i := range m.Properties {
		if m.Properties[i].Name == name {
			m.Properties[i].Value = v
			return
		}
	}
	m.Properties = append(m.Properties, prop.Property{Name: name, Value: v})
}

// DeleteProperty removes every property with this name.
func (m *Message) DeleteProperty(name string) {
	out := m.Properties[:0]
	for _, p := range m.Properties {
		if p.Name != name {
			out = append(out, p)
		}
	}
	m.Properties = out
}

// MessageID renders the id the way protocols show it.
func (m *Message) MessageID() string { return "ID:" + strconv.FormatUint(m.ID, 10) }

// Size is the message's footprint for address size accounting.
func (m *Message) Size() int {
	if m.size != 0 {
		return int(m.size)
	}
	n := 128 + len(m.Address) + len(m.GroupID) + len(m.CorrelationID) + len(m.ReplyTo) +
		len(m.Type) + len(m.ContentType) + len(m.UserID) + len(m.Body)
	for i := range m.Properties {
		n += len(m.Properties[i].Name) + m.Properties[i].Value.Size()
	}
	return n
}

// Clone returns a deep-enough copy that may be modified and sent as a new
// message: properties are copied, the body is shared (bodies are never modified).
func (m *Message) Clone() *Message {
	c := &Message{
		Address: m.Address, RoutingType: m.RoutingType, Durable: m.Durable, Priority: m.Priority,
		Timestamp: m.Timestamp, Expiration: m.Expiration, ScheduledAt: m.ScheduledAt,
		GroupID: m.GroupID, GroupSeq: m.GroupSeq, CorrelationID: m.CorrelationID,
		ReplyTo: m.ReplyTo, ReplyToType: m.ReplyToType, Type: m.Type, ContentType: m.ContentType,
		UserID: m.UserID, BodyKind: m.BodyKind, Body: m.Body,
	}
	c.Properties = append([]prop.Property(nil), m.Properties...)
	if len(m.Annotations) > 0 {
		c.Annotations = append([]prop.Property(nil), m.Annotations...)
	}
	return c
}

// Header implements selector.Env.
func (m *Message) Header(h selector.Header) prop.Value {
	switch h {
	case selector.JMSPriority:
		return prop.Int32Value(int32(m.Priority))
	case selector.JMSType:
		if m.Type == "" {
			return prop.Value{}
		}
		return prop.StringValue(m.Type)
	case selector.JMSCorrelationID:
		if m.CorrelationID == "" {
			return prop.Value{}
		}
		return prop.StringValue(m.CorrelationID)
	case selector.JMSMessageID:
		return prop.StringValue(m.MessageID())
	case selector.JMSTimestamp:
		return prop.Int64Value(m.Timestamp)
	case selector.JMSDeliveryMode:
		if m.Durable {
			return prop.StringValue("PERSISTENT")
		}
		return prop.StringValue("NON_PERSISTENT")
	case selector.JMSExpiration:
		return prop.Int64Value(m.Expiration)
	case selector.JMSDestination:
		return prop.StringValue(m.Address)
	case selector.JMSReplyTo:
		if m.ReplyTo == "" {
			return prop.Value{}
		}
		return prop.StringValue(m.ReplyTo)
	case selector.JMSXGroupID:
		if m.GroupID == "" {
			return prop.Value{}
		}
		return prop.StringValue(m.GroupID)
	case selector.JMSXGroupSeq:
		if m.GroupID == "" {
			return prop.Value{}
		}
		return prop.Int32Value(m.GroupSeq)
	case selector.JMSXUserID:
		if m.UserID == "" {
			return prop.Value{}
		}
		return prop.StringValue(m.UserID)
	}
	return prop.Value{}
}

// Property lookup for selectors; Property above is the same method.
var _ selector.Env = (*Message)(nil)

// Delivery is one message handed to one consumer. It is passed by value to the
// consumer's handler; Tag identifies it for Ack, Nack, Release and Reject.
type Delivery struct {
	Tag           uint64
	Message       *Message
	DeliveryCount uint32 // 1 on the first delivery
	Consumer      *Consumer
}

// Redelivered reports whether the message was delivered before.
func (d Delivery) Redelivered() bool { return d.DeliveryCount > 1 }
