package mqtt_test

import (
	"testing"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestDeliveryNotHeldByPartialPacket: a reader writes to the subscribers its
// publishes reached once its input runs dry. The start of a packet whose rest
// is still on its way is not input it can handle: a PUBLISH followed by half
// of another in one segment is delivered at once, not when the other half
// comes (which, from a client that writes in bursts, may be much later).
func TestDeliveryNotHeldByPartialPacket(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	sub, _ := connectRaw(t, addr, packet.Version311, "partial-sub", true)
	sub.subscribe(1, packet.Subscription{Filter: "partial/#", QoS: 0})
	pub, _ := connectRaw(t, addr, packet.Version311, "partial-pub", true)

	first, err := (&packet.Publish{Topic: []byte("partial/a"), Payload: []byte("whole")}).Append(nil, packet.Version311)
	if err != nil {
		t.Fatal(err)
	}
	second, err := (&packet.Publish{Topic: []byte("partial/b"), Payload: []byte("split in two")}).Append(nil, packet.Version311)
	if err != nil {
		t.Fatal(err)
	}
	half := len(second) / 2
	pub.writeBytes(append(first, second[:half]...))
	if p := expectPublish(sub); string(p.Payload) != "whole" {
		t.Fatalf("got %q", p.Payload)
	}
	pub.writeBytes(second[half:])
	if p := expectPublish(sub); string(p.Payload) != "split in two" {
		t.Fatalf("got %q", p.Payload)
	}
}
