package message

import (
	"testing"

	amqp "github.com/Azure/go-amqp"
)

func benchPayload(b *testing.B) []byte {
	p, err := (&amqp.Message{
		Header:                &amqp.MessageHeader{Durable: true},
		Properties:            &amqp.MessageProperties{MessageID: "ID:abc-1", To: ptr("orders")},
		ApplicationProperties: map[string]any{"color": "red", "n": int64(1)},
		Data:                  [][]byte{make([]byte, 100)},
	}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkDecode: a producer's message into the core.
func BenchmarkDecode(b *testing.B) {
	p := benchPayload(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(p, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendPayload: a delivery of an AMQP message (its bare message
// resent as it came).
func BenchmarkAppendPayload(b *testing.B) {
	m, _, err := Decode(benchPayload(b), now)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPayload(buf[:0], m, Delivery{DeliveryCount: 1, Now: now})
	}
}
