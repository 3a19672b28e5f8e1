package message

import (
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
)

// A zero now reads the clock when a ttl, a delivery delay or an
// expiration needs it, and gives the same results as passing the time.
func TestZeroNowReadsTheClock(t *testing.T) {
	before := time.Now().UnixMilli()
	m, _, err := Decode(marshal(t, &amqp.Message{Header: &amqp.MessageHeader{TTL: time.Hour},
		Annotations: amqp.Annotations{AnnDeliveryDelay: int64(5000)}, Data: [][]byte{[]byte("x")}}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	if m.Expiration < before+3_600_000 || m.Expiration > after+3_600_000 {
		t.Fatalf("expiration %d, want now+1h in [%d, %d]", m.Expiration, before+3_600_000, after+3_600_000)
	}
	if m.ScheduledAt < before+5000 || m.ScheduledAt > after+5000 {
		t.Fatalf("scheduled at %d, want now+5s", m.ScheduledAt)
	}
	plain, _, err := Decode(marshal(t, &amqp.Message{Data: [][]byte{[]byte("x")}}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Expiration != 0 || plain.ScheduledAt != 0 {
		t.Fatalf("a message without ttl or delay got expiration %d, scheduled %d", plain.Expiration, plain.ScheduledAt)
	}

	out := core.NewMessage("q", []byte("x"))
	out.Expiration = time.Now().UnixMilli() + 60_000
	var back amqp.Message
	if err := back.UnmarshalBinary(AppendPayload(nil, out, Delivery{DeliveryCount: 1})); err != nil {
		t.Fatal(err)
	}
	if back.Header == nil || back.Header.TTL <= 55*time.Second || back.Header.TTL > 60*time.Second {
		t.Fatalf("remaining ttl %+v, want just under 60s", back.Header)
	}
}
