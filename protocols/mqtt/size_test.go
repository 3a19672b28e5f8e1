package mqtt_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// refuseWithin bounds how long a client waits to learn that its message is
// too large.
const refuseWithin = 2 * time.Second

// TestMaxMessageSizeV5: the configured max-message-size is the Maximum
// Packet Size announced in CONNACK, and a paho 5.0 client that publishes
// past it gets DISCONNECT 0x95 (Packet too large) at once, without the
// server reading the whole packet [MQTT-3.2.2-15]; another client on the
// same broker carries on.
func TestMaxMessageSizeV5(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MaxMessageSize = 64 << 10 })
	other, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "size-other", CleanStart: true})
	other.sub(paho.SubscribeOptions{Topic: "size/t", QoS: 1})

	big, ack := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "size-big", CleanStart: true})
	if ack.Properties == nil || ack.Properties.MaximumPacketSize == nil || *ack.Properties.MaximumPacketSize != 64<<10 {
		t.Fatalf("CONNACK Maximum Packet Size %v, want %d", ack.Properties, 64<<10)
	}
	start := time.Now()
	// paho keeps a refused QoS 1 publish waiting until its context ends, so
	// the DISCONNECT is what the client sees.
	ctx, cancel := context.WithCancel(ctxT(t))
	published := make(chan struct{})
	go func() {
		defer close(published)
		_, _ = big.Publish(ctx, &paho.Publish{Topic: "size/t", QoS: 1, Payload: make([]byte, 12<<20)})
	}()
	defer func() {
		cancel()
		<-published
	}()
	select {
	case d := <-big.Disconnects:
		if elapsed := time.Since(start); elapsed > refuseWithin {
			t.Errorf("the DISCONNECT took %v, want under %v", elapsed, refuseWithin)
		}
		if d.ReasonCode != byte(packet.PacketTooLarge) {
			t.Fatalf("DISCONNECT reason %#x, want 0x95 Packet too large", d.ReasonCode)
		}
		if d.Properties == nil || !strings.Contains(d.Properties.ReasonString, "exceeds the maximum packet size 65536") {
			t.Errorf("DISCONNECT reason string %+v", d.Properties)
		}
	case <-time.After(refuseWithin):
		t.Fatalf("no DISCONNECT within %v", refuseWithin)
	}

	// The first message the other client gets is this one: nothing of the
	// big one was routed.
	payload := bytes.Repeat([]byte("y"), 60<<10)
	other.pub(&paho.Publish{Topic: "size/t", QoS: 1, Payload: payload})
	if m := other.recv(); len(m.Payload) != len(payload) {
		t.Fatalf("got %d bytes, want %d", len(m.Payload), len(payload))
	}
}

// TestMaxMessageSize311: 3.1.1 has no way to say why, so a paho 3.1.1
// client publishing past max-message-size is disconnected, quickly; another
// client on the same broker carries on.
func TestMaxMessageSize311(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MaxMessageSize = 64 << 10 })
	other := dial3(t, s.Addr("mqtt"), "size3-other", nil)
	other.sub("size3/t", 1)

	big := dial3(t, s.Addr("mqtt"), "size3-big", nil)
	start := time.Now()
	tok := big.c.Publish("size3/t", 1, false, make([]byte, 12<<20))
	select {
	case <-big.lost:
	case <-time.After(refuseWithin):
		t.Fatalf("still connected %v after a 12 MB PUBLISH over a 64 KiB limit", refuseWithin)
	}
	if elapsed := time.Since(start); elapsed > refuseWithin {
		t.Errorf("the disconnect took %v, want under %v", elapsed, refuseWithin)
	}
	if tok.WaitTimeout(refuseWithin) && tok.Error() == nil {
		t.Error("the 12 MB PUBLISH was acknowledged")
	}

	other.pub("size3/t", 1, false, strings.Repeat("z", 60<<10))
	if m := other.recv(); len(m.payload) != 60<<10 {
		t.Fatalf("got %d bytes", len(m.payload))
	}
}
