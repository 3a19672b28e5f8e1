package crash

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/internal/testkit"
)

// startMQTTBroker starts the broker with an MQTT listener too and returns it
// with that listener's address.
func startMQTTBroker(t *testing.T, data string) (*brokerProc, string) {
	t.Helper()
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return startBroker(t, data, "", "--mqtt", addr), addr
}

func dialPaho5(t *testing.T, addr string, cp *paho.Connect) (*testkit.Paho5, *paho.Connack) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c, ack, err := testkit.ConnectPaho5(t, nc, cp, ioTimeout, nil)
	if err != nil {
		t.Fatalf("paho 5.0 connect as %q: %v (connack %+v)", cp.ClientID, err, ack)
	}
	return c, ack
}

// TestMQTTSubscriptionSurvivesKill: once a 5.0 client with a persistent
// session has its SUBACKs, the broker is killed (SIGKILL, no shutdown); the
// restarted broker has the session and every subscription, and delivers to
// them. A SIGKILL keeps what reached the journal's files, so this checks the
// session's stored form end to end (record, queues, recovery) rather than
// the SUBACK's timing, which protocols/mqtt TestSubackWaitsForSessionRecord
// checks by holding the write back.
func TestMQTTSubscriptionSurvivesKill(t *testing.T) {
	const filters = 50
	data := dataDir(t)
	b, addr := startMQTTBroker(t, data)
	sub, _ := dialPaho5(t, addr, &paho.Connect{ClientID: "kept-5", CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Pipelined, one filter a SUBSCRIBE: the kill follows the last SUBACK.
	acks := make(chan error, filters)
	for i := range filters {
		go func() {
			ack, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: fmt.Sprintf("kept/%d", i), QoS: 1}}})
			if err == nil && ack.Reasons[0] != 1 {
				err = fmt.Errorf("SUBACK reason %#x, want granted QoS 1", ack.Reasons[0])
			}
			acks <- err
		}()
	}
	for range filters {
		if err := <-acks; err != nil {
			t.Fatalf("SUBSCRIBE: %v", err)
		}
	}
	if err := b.kill(); err != nil {
		t.Fatal(err)
	}

	_, addr = startMQTTBroker(t, data)
	sub, ack := dialPaho5(t, addr, &paho.Connect{ClientID: "kept-5", CleanStart: false,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}})
	if !ack.SessionPresent {
		t.Fatal("the persistent session is gone after the kill")
	}
	pub, _ := dialPaho5(t, addr, &paho.Connect{ClientID: "kept-pub", CleanStart: true})
	for i := range filters {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("kept/%d", i), QoS: 1, Payload: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
	}
	got := map[string]bool{}
	for len(got) < filters {
		select {
		case m := <-sub.Msgs:
			got[string(m.Payload)] = true
		case <-time.After(ioTimeout):
			t.Fatalf("%d of %d subscriptions delivered after the restart: the others were granted and lost", len(got), filters)
		}
	}
}

func ptr[T any](v T) *T { return &v }
