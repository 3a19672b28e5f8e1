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
func TestTakeoverOfQuietConnection(t *testing.T) {
	s := startBroker(t, nil)
	old, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "quiet-device", false)
	time.Sleep(quietFor)
	start := time.Now()
	nc, ack := connectRaw(t, s.Addr("mqtt"), packet.Version5, "quiet-device", false)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("takeover CONNACK %v", ack.ReasonCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("takeover of a quiet connection took %v", d)
	}
	old.expectDisconnect(packet.SessionTakenOver)
	// The new connection works, quiet or not.
	time.Sleep(quietFor)
	nc.ping() // fails the test without a PINGRESP
}

// TestQuietConnectionKeepAlive: a parked connection with a keep-alive is
// still closed when the client goes silent for 1.5 times it [MQTT-3.1.2-24].
func TestQuietConnectionKeepAlive(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
	c.mustConnect(&packet.Connect{Version: packet.Version311, CleanStart: true, KeepAlive: 1, ClientID: "sleepy"})
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Fatalf("closed after %v, want about 1.5 s", d)
	}
}
