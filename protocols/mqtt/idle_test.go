package mqtt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// quietFor is longer than the server's hand-off wait, so the first
// connection is parked (without a goroutine) when it is taken over. The wait
// is the scenario under test, not synchronisation.
const quietFor = 300 * time.Millisecond

// TestTakeoverOfQuietConnection [MQTT-3.1.4-3]: closing a parked connection
// must wake it, or the takeover waits for a connection that never finishes.
// Catches the mutation "wakeParked does nothing": the takeover then gives up
// after 10 s, and connectRaw's CONNACK wait (5 s) fails first. No timing of
// our own: a fixed bound would fail on a loaded machine.
func TestTakeoverOfQuietConnection(t *testing.T) {
	s := startBroker(t, nil)
	old, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "quiet-device", false)
	time.Sleep(quietFor)
	nc, ack := connectRaw(t, s.Addr("mqtt"), packet.Version5, "quiet-device", false)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("takeover CONNACK %v", ack.ReasonCode)
	}
	old.expectDisconnect(packet.SessionTakenOver)
	// The new connection works, quiet or not.
	time.Sleep(quietFor)
	nc.ping() // fails the test without a PINGRESP
}

// TestQuietConnectionKeepAlive: a parked connection with a keep-alive is
// still closed when the client goes silent for 1.5 times it [MQTT-3.1.2-24],
// and not sooner. The clock starts before the CONNECT is sent, so the lower
// bound holds however slow the machine; expectClosed bounds the wait (5 s).
// Catches the mutations "a parked connection ignores its peer deadline"
// (never closed) and "disconnect after 1x keep-alive".
func TestQuietConnectionKeepAlive(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
	start := time.Now()
	c.mustConnect(&packet.Connect{Version: packet.Version311, CleanStart: true, KeepAlive: 1, ClientID: "sleepy"})
	c.expectClosed()
	if d := time.Since(start); d < 1450*time.Millisecond {
		t.Fatalf("closed after %v, before 1.5 times the keep-alive", d)
	}
}

// perConnGoroutine names the functions a connection's goroutine runs in.
var perConnGoroutine = []string{"protocols/mqtt.(*conn)", "transport.(*Waiter)"}

// TestParkedConnectionsHoldNoGoroutine: connected devices that went quiet
// are parked without a goroutine each, and still answer when they speak.
func TestParkedConnectionsHoldNoGoroutine(t *testing.T) {
	s := startBroker(t, nil)
	const n = 20
	var clients []*raw
	for i := 0; i < n; i++ {
		c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, fmt.Sprintf("parked-%d", i), true)
		clients = append(clients, c)
	}
	eventually(t, "every quiet connection parked", func() bool {
		return testkit.GoroutinesIn(perConnGoroutine...) == 0
	})
	for _, c := range clients {
		c.ping() // fails the test without a PINGRESP
	}
}

// TestLazyInboundState: a connection that only connects (and pings) holds
// no inbound publish state and no producer; its first PUBLISH makes both.
func TestLazyInboundState(t *testing.T) {
	s := startBroker(t, nil)
	srv := s.Adapter("mqtt").(*mqtt.Server)
	c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, "lazy", true)
	c.ping()
	inbound, producer, found := mqtt.LazyState(srv, "lazy")
	if !found || inbound || producer {
		t.Fatalf("after CONNECT and PINGREQ: found %v, inbound state %v, producer %v; want neither made", found, inbound, producer)
	}
	c.publish(&packet.Publish{QoS: 1, PacketID: 1, Topic: []byte("lazy/t"), Payload: []byte("x")})
	inbound, producer, found = mqtt.LazyState(srv, "lazy")
	if !found || !inbound || !producer {
		t.Fatalf("after a QoS 1 PUBLISH: found %v, inbound state %v, producer %v; want both made", found, inbound, producer)
	}
}
