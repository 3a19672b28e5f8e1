package amqp

import (
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
)

// decodeMessage reads a complete transfer payload into a core message
// (the message package copies what it keeps: msg may alias the read
// buffer).
func decodeMessage(msg []byte) (*core.Message, message.Info, error) {
	return message.Decode(msg, time.Now())
}

// encodeMessage appends the payload of one delivery of m.
func encodeMessage(dst []byte, m *core.Message, deliveryCount uint32) []byte {
	return message.AppendPayload(dst, m, message.Delivery{DeliveryCount: deliveryCount, Now: time.Now()})
}

// propValue converts the simple AMQP values a modified outcome's
// message-annotations may carry; ok is false for the compound ones,
// which a core annotation cannot hold.
func propValue(v any) (prop.Value, bool) {
	switch v := v.(type) {
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
	case float64:
		return prop.Float64Value(v), true
	case codec.Timestamp:
		return prop.TimestampValue(int64(v)), true
	case string:
		return prop.StringValue(v), true
	case codec.Symbol:
		return prop.SymbolValue(string(v)), true
	case []byte:
		return prop.BytesValue(append([]byte(nil), v...)), true
	}
	return prop.Value{}, false
}
