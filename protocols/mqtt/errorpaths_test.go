package mqtt_test

import (
	"testing"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestPubrecErrors: the receiving side of a QoS 2 delivery answering
// PUBREC. An error reason code (5.0) ends the exchange [MQTT-4.3.3-4]: no
// PUBREL, the message is the client's (not redelivered), and its
// receive-maximum slot is free for the next message. A PUBREC for a packet
// id not in flight gets PUBREL 0x92 (5.0) or 0x00 (3.1.1). Catches the
// mutations "an error PUBREC is handled as a success" (a PUBREL arrives
// before the next PUBLISH) and "an error PUBREC keeps its slot" (the next
// message never comes).
func TestPubrecErrors(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")

	t.Run("refused with a reason code", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version5)
		cp := &packet.Connect{ClientID: "pubrec-refuser", CleanStart: false, KeepAlive: 30}
		cp.Properties.ReceiveMaximum = 1
		cp.Properties.SessionExpiry = 3600
		cp.Properties.Set(packet.PropReceiveMaximum)
		cp.Properties.Set(packet.PropSessionExpiry)
		c.mustConnect(cp)
		c.subscribe(1, packet.Subscription{Filter: "rec/t", QoS: 2})
		pub, _ := connectRaw(t, addr, packet.Version311, "pubrec-pub", true)
		pub.publish(&packet.Publish{Topic: []byte("rec/t"), QoS: 2, PacketID: 1, Payload: []byte("refused")})
		pub.publish(&packet.Publish{Topic: []byte("rec/t"), QoS: 2, PacketID: 2, Payload: []byte("next")})

		first := expectPublish(c)
		if string(first.Payload) != "refused" {
			t.Fatalf("got %q first", first.Payload)
		}
		c.write(&packet.Pubrec{PacketID: first.PacketID, ReasonCode: packet.UnspecifiedError})
		// Receive Maximum 1: the next PUBLISH comes only once the refused
		// one's slot is free, and nothing (no PUBREL) comes before it.
		next := expectPublish(c)
		if string(next.Payload) != "next" {
			t.Fatalf("got %q after the refusal, want the next message", next.Payload)
		}
		c.ack(next)
		q, ok := s.Core.Queue("mqtt:pubrec-refuser:rec/t")
		if !ok {
			t.Fatal("subscription queue missing")
		}
		// The PUBCOMP is handled after this goroutine wrote it.
		eventually(t, "both messages settled", func() bool { return q.Stats().Acked >= 2 })
		if st := q.Stats(); st.Messages != 0 || st.Acked != 2 {
			t.Fatalf("queue after the refusal and the ack: %+v; the refused message must not come back", st)
		}
		// Nor after a reconnect.
		c.write(&packet.Disconnect{})
		c.expectClosed()
		c, ack := connectRaw(t, addr, packet.Version5, "pubrec-refuser", false)
		if !ack.SessionPresent {
			t.Fatal("session lost")
		}
		if got := c.ping(); len(got) != 0 {
			t.Fatalf("after reconnecting got %s", describe(got))
		}
	})

	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run("unknown packet id v"+string('0'+ver), func(t *testing.T) {
			c, _ := connectRaw(t, addr, ver, "pubrec-unknown-"+string('0'+ver), true)
			c.write(&packet.Pubrec{PacketID: 4242})
			rel := expect[*packet.Pubrel](c)
			want := packet.Success
			if ver == packet.Version5 {
				want = packet.PacketIdentifierNotFound
			}
			if rel.PacketID != 4242 || rel.ReasonCode != want {
				t.Fatalf("PUBREL %+v, want id 4242 code %v", rel, want)
			}
		})
	}
}

// TestClientPublishWithSubscriptionIdentifier: a client's PUBLISH must not
// carry a Subscription Identifier [MQTT-3.3.4-6]: DISCONNECT 0x82 (protocol
// error), the connection closes, and the message is not routed. Catches the
// mutation "the check is gone" (the message would be delivered).
func TestClientPublishWithSubscriptionIdentifier(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	sub, _ := connectRaw(t, addr, packet.Version5, "subid-sub", true)
	sub.subscribe(1, packet.Subscription{Filter: "subid/#", QoS: 1})

	c, _ := connectRaw(t, addr, packet.Version5, "subid-pub", true)
	p := &packet.Publish{Topic: []byte("subid/t"), QoS: 1, PacketID: 1, Payload: []byte("forged")}
	p.Properties.SubscriptionIDs = []uint32{7}
	p.Properties.Set(packet.PropSubscriptionID)
	c.write(p)
	c.expectDisconnect(packet.ProtocolError)

	other, _ := connectRaw(t, addr, packet.Version5, "subid-other", true)
	other.publish(&packet.Publish{Topic: []byte("subid/t"), QoS: 1, PacketID: 1, Payload: []byte("marker")})
	if got := expectPublish(sub); string(got.Payload) != "marker" {
		t.Fatalf("subscriber got %q: the refused PUBLISH was routed", got.Payload)
	}
}
