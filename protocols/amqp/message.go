package amqp

import (
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// decodeMessage reads a complete transfer payload into a core message
// (the message package copies what it keeps: msg may alias the read
// buffer).
func decodeMessage(msg []byte) (*core.Message, message.Info, error) {
	return message.Decode(msg, time.Time{}) // the clock is read only if a ttl needs it
}

// encodeMessage appends the payload of one delivery of m.
func encodeMessage(dst []byte, m *core.Message, deliveryCount uint32) []byte {
	return message.AppendPayload(dst, m, message.Delivery{DeliveryCount: deliveryCount})
}
