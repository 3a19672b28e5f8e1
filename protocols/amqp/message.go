package amqp

import (
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
)

// TEMPORARY until the message package lands.
func decodeMessage(b []byte) (*core.Message, error) {
	return &core.Message{Body: append([]byte(nil), b...)}, nil
}

func encodeMessage(dst []byte, m *core.Message, deliveryCount uint32) []byte {
	return append(dst, m.Body...)
}

func propValue(v any) (prop.Value, bool) { return prop.Value{}, false }
