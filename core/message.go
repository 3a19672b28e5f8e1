package core

import (
	"encoding/hex"
	"strconv"
	"strings"
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

// BodyKind tells consumers how to read Body. Values are stored: never
// renumber one, only append. docs/MESSAGES.md defines each kind's encoding.
type BodyKind uint8

const (
	// BodyBytes is opaque bytes (JMS BytesMessage, AMQP data section, MQTT
	// payload without a payload format indicator).
	BodyBytes BodyKind = iota
	// BodyText is UTF-8 text (JMS TextMessage, AMQP string value).
	BodyText
	// BodyMap is a JMS MapMessage: an AMQP 1.0 encoded map with string keys.
	BodyMap
	// BodyStream is a JMS StreamMessage: an AMQP 1.0 encoded list.
	BodyStream
	// BodyObject is a serialised object (JMS ObjectMessage): opaque bytes
	// the broker never deserialises.
	BodyObject
	// BodyAMQPValue is one AMQP 1.0 encoded value (an amqp-value section's
	// content) of a type no other kind describes.
	BodyAMQPValue
	// BodyAMQPSequence is the AMQP 1.0 encoded lists of one or more
	// amqp-sequence sections, one after another.
	BodyAMQPSequence
)

// Valid reports whether k is a body kind this version knows.
func (k BodyKind) Valid() bool { return k <= BodyAMQPSequence }

// WireForm is a message as its producer's protocol encoded it, kept so that
// a consumer on the same protocol can be sent the same bytes. Which part of
// the encoding Data holds is the adapter's to define (for AMQP the bare
// message: properties, application properties, body); it must be part of
// the message that the broker does not change on the way: see Message.Wire.
type WireForm struct {
	Protocol string // the adapter's name: "amqp", "openwire"
	Data     []byte
}

// Property names the core itself sets or reads. The _AMQ_ names are Artemis',
// which JMS tooling already knows. They are application properties, not
// annotations, because Artemis shows them to JMS clients as properties and
// tools that read a dead-letter queue expect them there.
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
	ID          uint64
	Address     string
	RoutingType RoutingType // the routing the sender asked for; RoutingAny = either
	Durable     bool
	Priority    uint8 // 0-9, 4 is the JMS default
	// BodyKind says how to read Body (declared here, away from Body, so the
	// small fields share one word: the struct's size is per message).
	BodyKind    BodyKind
	GroupSeq    int32
	Timestamp   int64 // unix ms, set by the broker when the sender gave none
	Expiration  int64 // unix ms; 0 = never
	ScheduledAt int64 // unix ms; 0 = now
	GroupID     string
	// ClientMessageID is the id the producing client gave the message (AMQP
	// message-id, OpenWire MessageId): NULL, or a String, Uint64, UUID or
	// Bytes value. ID stays the broker's own id, which acks refer to.
	ClientMessageID prop.Value
	// CorrelationID is NULL, or a String, Uint64, UUID or Bytes value (MQTT
	// 5 correlation data that is not UTF-8 is Bytes).
	CorrelationID prop.Value
	ReplyTo       string // address name, in core form
	Type          string
	ContentType   string
	UserID        string // the authenticated sender; set by the broker, never by clients
	// Properties are the application's properties: what JMS calls message
	// properties, AMQP application-properties, MQTT 5 user properties and
	// STOMP's other headers. Every adapter shows them to its clients.
	Properties []prop.Property
	// Annotations are broker and protocol annotations (AMQP message
	// annotations, an adapter's internal markers such as MQTT's retain flag):
	// kept apart from Properties so they never reach another protocol's
	// client as application headers, and invisible to selectors. An adapter
	// names its own with a prefix of its protocol ("mqtt.", "x-opt-").
	Annotations []prop.Property
	Body        []byte
	// Wire, when not nil, is the producer's own encoding of the message. The
	// core drops it whenever it changes what the encoding covers: Clone,
	// SetProperty and DeleteProperty return or leave a message without it.
	// Annotations are not covered, so SetAnnotation keeps it.
	Wire *WireForm

	// addr is the address whose size the message counts against. Queues
	// release it under their lock, where looking the address up (under the
	// broker lock) would invert the broker-then-queue lock order.
	addr *address
	// refs counts the queues holding the message; durableRefs those that stored it.
	refs        atomic.Int32
	durableRefs atomic.Int32
	size        int32
	ReplyToType RoutingType // how ReplyTo routes (here to fill the last word)
	// storeID, when not 0, is the id the store keeps this copy under, where
	// it is not ID: a message paged to several queues is one record per
	// queue in the store, each under an id of its own, while every copy
	// keeps the message's one identity, ID (paging.go, pageOps).
	storeID uint64
	// pagedPos is the store's position of the paged reference this copy
	// was paged in from (0: it was not paged): a browser that read the
	// queue's tail from the store knows it by it (browse.go). With storeID,
	// 16 bytes that keep the struct in its size class (320).
	pagedPos uint64
}

// key is the id the store holds this message under.
func (m *Message) key() uint64 {
	if m.storeID != 0 {
		return m.storeID
	}
	return m.ID
}

// DefaultPriority is the JMS default priority.
const DefaultPriority = 4

// NewMessage returns a message with the default priority.
func NewMessage(address string, body []byte) *Message {
	return &Message{Address: address, Priority: DefaultPriority, Body: body}
}

// Property returns the first property with the given name, or NULL.
func (m *Message) Property(name string) prop.Value { return lookup(m.Properties, name) }

// SetProperty replaces the first property with this name, or appends one.
// The message no longer matches its Wire encoding, which is dropped.
func (m *Message) SetProperty(name string, v prop.Value) {
	m.Wire = nil
	m.Properties = put(m.Properties, name, v)
}

// DeleteProperty removes every property with this name. If it removes
// one, the message no longer matches its Wire encoding, which is dropped.
func (m *Message) DeleteProperty(name string) {
	out := m.Properties[:0]
	for _, p := range m.Properties {
		if p.Name != name {
			out = append(out, p)
		}
	}
	if len(out) != len(m.Properties) {
		m.Wire = nil
	}
	clear(m.Properties[len(out):])
	m.Properties = out
}

// Annotation returns the first annotation with the given name, or NULL.
func (m *Message) Annotation(name string) prop.Value { return lookup(m.Annotations, name) }

// SetAnnotation replaces the first annotation with this name, or appends one.
func (m *Message) SetAnnotation(name string, v prop.Value) {
	m.Annotations = put(m.Annotations, name, v)
}

// lookup returns the value of the first entry named name, or NULL.
func lookup(list []prop.Property, name string) prop.Value {
	for i := range list {
		if list[i].Name == name {
			return list[i].Value
		}
	}
	return prop.Value{}
}

// put replaces the first entry named name, or appends one.
func put(list []prop.Property, name string, v prop.Value) []prop.Property {
	for i := range list {
		if list[i].Name == name {
			list[i].Value = v
			return list
		}
	}
	return append(list, prop.Property{Name: name, Value: v})
}

// MessageID renders the broker's id the way protocols show it.
func (m *Message) MessageID() string { return "ID:" + strconv.FormatUint(m.ID, 10) }

// JMSMessageID is the message's JMSMessageID: the client's id in the form
// the AMQP JMS mapping gives it (Qpid JMS shows the same), or the broker's id
// when the client gave none.
func (m *Message) JMSMessageID() string {
	switch v := m.ClientMessageID; v.Kind {
	case prop.Null:
		return m.MessageID()
	case prop.String:
		if strings.HasPrefix(v.S, "ID:") {
			return v.S
		}
		return "ID:AMQP_NO_PREFIX:" + v.S
	}
	return jmsTypedID(m.ClientMessageID)
}

// JMSCorrelationID is the message's JMSCorrelationID: a string correlation
// id as it is (JMS allows application-specific values), other kinds in the
// AMQP JMS mapping's prefixed form; "" when there is none.
func (m *Message) JMSCorrelationID() string {
	if m.CorrelationID.Kind == prop.String || m.CorrelationID.Kind == prop.Null {
		return m.CorrelationID.S
	}
	return jmsTypedID(m.CorrelationID)
}

func jmsTypedID(v prop.Value) string {
	switch v.Kind {
	case prop.Uint64:
		return "ID:AMQP_ULONG:" + strconv.FormatUint(v.Uint(), 10)
	case prop.UUID:
		return "ID:AMQP_UUID:" + v.Text()
	case prop.Bytes:
		return "ID:AMQP_BINARY:" + strings.ToUpper(hex.EncodeToString([]byte(v.S)))
	}
	return "ID:AMQP_STRING:" + v.Text()
}

// Size is the message's footprint for address size accounting.
func (m *Message) Size() int {
	if m.size != 0 {
		return int(m.size)
	}
	n := 128 + len(m.Address) + len(m.GroupID) + idSize(m.ClientMessageID) + idSize(m.CorrelationID) +
		len(m.ReplyTo) + len(m.Type) + len(m.ContentType) + len(m.UserID) + len(m.Body)
	for i := range m.Properties {
		n += len(m.Properties[i].Name) + m.Properties[i].Value.Size()
	}
	for i := range m.Annotations {
		n += len(m.Annotations[i].Name) + m.Annotations[i].Value.Size()
	}
	if m.Wire != nil {
		n += len(m.Wire.Protocol) + len(m.Wire.Data)
	}
	return n
}

// idSize counts an id like the strings beside it: nothing when absent.
func idSize(v prop.Value) int {
	if v.IsNull() {
		return 0
	}
	return v.Size()
}

// Clone returns a deep-enough copy that may be modified and sent as a new
// message: properties and annotations are copied, the body is shared (bodies
// are never modified). The copy has no Wire encoding: it is made to be
// changed (a dead-letter copy gets a new address and properties).
func (m *Message) Clone() *Message {
	c := &Message{
		Address: m.Address, RoutingType: m.RoutingType, Durable: m.Durable, Priority: m.Priority,
		Timestamp: m.Timestamp, Expiration: m.Expiration, ScheduledAt: m.ScheduledAt,
		GroupID: m.GroupID, GroupSeq: m.GroupSeq, ClientMessageID: m.ClientMessageID, CorrelationID: m.CorrelationID,
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
		if m.CorrelationID.IsNull() {
			return prop.Value{}
		}
		return prop.StringValue(m.JMSCorrelationID())
	case selector.JMSMessageID:
		return prop.StringValue(m.JMSMessageID())
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
