package mqtt_test

import (
	"testing"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestQoS1RedeliveryWithDefaults: what a user who configured nothing gets
// when a device keeps dropping its connection before acknowledging a QoS 1
// message. The default max-delivery-attempts is 10: the message is resent
// (with DUP) on each of the first nine reconnects, and after the tenth
// delivery fails it goes to the dead-letter address DLQ with its original
// address, never to be resent to the device. Catches the mutation "a
// delivery written to the client goes back uncounted when its consumer
// closes" (resent without DUP, and for ever) and a default of 0
// (unlimited).
func TestQoS1RedeliveryWithDefaults(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	sub, _ := connectRaw(t, addr, packet.Version311, "crashy-device", false)
	sub.subscribe(1, packet.Subscription{Filter: "dev/cmd", QoS: 1})
	pub, _ := connectRaw(t, addr, packet.Version311, "dev-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("dev/cmd"), QoS: 1, PacketID: 1, Payload: []byte("reboot")})
	pub.publish(&packet.Publish{Topic: []byte("dev/cmd"), QoS: 0, Payload: []byte("marker")})

	const attempts = 10 // core.DefaultSettings().MaxDeliveryAttempts
	if got := core.DefaultSettings().MaxDeliveryAttempts; got != attempts {
		t.Fatalf("default max-delivery-attempts is %d; this test describes %d", got, attempts)
	}
	for i := 1; i <= attempts; i++ {
		p := expectPublish(sub)
		if string(p.Payload) != "reboot" || p.Dup != (i > 1) {
			t.Fatalf("delivery %d: %q DUP %v", i, p.Payload, p.Dup)
		}
		if i == 1 {
			if m := expectPublish(sub); string(m.Payload) != "marker" {
				t.Fatalf("got %q after the first delivery, want the QoS 0 marker", m.Payload)
			}
		}
		// The device drops the connection without PUBACK; the next CONNECT
		// takes the session over.
		sub.nc.Close()
		var ack *packet.Connack
		sub, ack = connectRaw(t, addr, packet.Version311, "crashy-device", false)
		if !ack.SessionPresent {
			t.Fatalf("reconnect %d: session not present", i)
		}
	}
	// Everything the resumed session had to send comes before PINGRESP.
	if got := sub.ping(); len(got) != 0 {
		t.Fatalf("after %d failed deliveries the device still got %s", attempts, describe(got))
	}
	q, ok := s.Core.Queue("mqtt:crashy-device:dev/cmd")
	if !ok {
		t.Fatal("subscription queue gone")
	}
	// The tenth failed delivery started the move to DLQ when its consumer
	// closed; the move ends once the DLQ copy is stored, which the store
	// does on its own goroutine, maybe after the PINGRESP above (a flake of
	// the full test run read the queue in between: Messages 1, nothing
	// ready or in flight).
	eventually(t, "the dead-letter move", func() bool {
		st := q.Stats()
		return st.DeadLettered == 1 && st.Messages == 0
	})
	if st := q.Stats(); st.DeadLettered != 1 || st.Messages != 0 {
		t.Fatalf("subscription queue after %d failed deliveries: %+v", attempts, st)
	}
	var dead []*core.Message
	sess := s.Core.NewSession(core.SessionOptions{})
	defer sess.Close()
	if err := sess.Browse("DLQ", "", func(m *core.Message) bool { dead = append(dead, m); return true }); err != nil {
		t.Fatalf("browsing DLQ: %v", err)
	}
	if len(dead) != 1 || string(dead[0].Body) != "reboot" || dead[0].Property(core.PropOrigAddress).Text() != "dev.cmd" {
		t.Fatalf("DLQ holds %d messages, want the one QoS 1 message from dev.cmd: %+v", len(dead), dead)
	}
}
