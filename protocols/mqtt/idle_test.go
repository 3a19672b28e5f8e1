package mqtt_test

import (
	"testing"
	"time"

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
