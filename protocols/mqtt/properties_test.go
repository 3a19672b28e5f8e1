package mqtt_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestUserPropertiesOrder: user properties reach subscribers unchanged and
// in order, repeated names included [MQTT-3.3.2-17] [MQTT-3.3.2-18].
func TestUserPropertiesOrder(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	sub, _ := dial5(t, addr, &paho.Connect{ClientID: "up-sub", CleanStart: true})
	sub.sub(paho.SubscribeOptions{Topic: "up/t", QoS: 1})
	pub, _ := dial5(t, addr, &paho.Connect{ClientID: "up-pub", CleanStart: true})
	want := paho.UserProperties{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}, {Key: "b", Value: "3"}, {Key: "ünï", Value: "çødé"}, {Key: "empty", Value: ""}}
	pub.pub(&paho.Publish{Topic: "up/t", QoS: 1, Payload: []byte("x"), Properties: &paho.PublishProperties{User: want}})
	m := sub.recv()
	if m.Properties == nil || !slices.Equal(m.Properties.User, want) {
		t.Fatalf("user properties %v, want %v", m.Properties, want)
	}
	// A 3.1.1 subscriber gets the message without them.
	c3 := dial3(t, addr, "up-3", nil)
	c3.sub("up/t", 1)
	pub.pub(&paho.Publish{Topic: "up/t", QoS: 1, Payload: []byte("to 3.1.1"), Properties: &paho.PublishProperties{User: want}})
	if m := c3.recv(); m.payload != "to 3.1.1" {
		t.Fatalf("got %+v", m)
	}
}

// TestPublishProperties5: Content Type, Response Topic, Correlation Data
// and Payload Format Indicator reach the subscriber unchanged
// [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-20]; absent ones stay absent.
func TestPublishProperties5(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c, _ := connectRaw(t, addr, packet.Version5, "props", true)
	c.subscribe(1, packet.Subscription{Filter: "props/#", QoS: 1})

	p := &packet.Publish{Topic: []byte("props/full"), QoS: 1, PacketID: 2, Payload: []byte(`{"t":21.5}`)}
	p.Properties.ContentType = "application/json; charset=utf-8"
	p.Properties.ResponseTopic = "props/reply/v1.2"
	p.Properties.CorrelationData = []byte{0, 1, 0xfe, 0xff, 'x'}
	p.Properties.PayloadFormat = 1
	p.Properties.Set(packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData, packet.PropPayloadFormat)
	c.publish(p)
	got := expectPublish(c)
	c.ack(got)
	pr := got.Properties
	if pr.ContentType != p.Properties.ContentType || pr.ResponseTopic != p.Properties.ResponseTopic ||
		!bytes.Equal(pr.CorrelationData, p.Properties.CorrelationData) || !pr.Has(packet.PropPayloadFormat) || pr.PayloadFormat != 1 {
		t.Fatalf("properties %+v, want those sent", pr)
	}

	c.publish(&packet.Publish{Topic: []byte("props/bare"), QoS: 1, PacketID: 3, Payload: []byte{0xff, 0}})
	got = expectPublish(c)
	for _, id := range []packet.PropID{packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData, packet.PropPayloadFormat, packet.PropMessageExpiry} {
		if got.Properties.Has(id) {
			t.Fatalf("%v present on a message published without it", id)
		}
	}
	if !bytes.Equal(got.Payload, []byte{0xff, 0}) {
		t.Fatalf("payload %x", got.Payload)
	}
	c.ack(got)

	// paho round trip, request/response style.
	responder, _ := dial5(t, addr, &paho.Connect{ClientID: "props-responder", CleanStart: true})
	responder.sub(paho.SubscribeOptions{Topic: "props/req", QoS: 1})
	requester, _ := dial5(t, addr, &paho.Connect{ClientID: "props-requester", CleanStart: true})
	requester.sub(paho.SubscribeOptions{Topic: "props/resp/+", QoS: 1})
	requester.pub(&paho.Publish{Topic: "props/req", QoS: 1, Payload: []byte("ping"),
		Properties: &paho.PublishProperties{ResponseTopic: "props/resp/1", CorrelationData: []byte("corr-1"), ContentType: "text/plain", PayloadFormat: ptr(byte(1))}})
	req := responder.recv()
	if req.Properties == nil || req.Properties.ResponseTopic != "props/resp/1" || string(req.Properties.CorrelationData) != "corr-1" ||
		req.Properties.ContentType != "text/plain" || req.Properties.PayloadFormat == nil || *req.Properties.PayloadFormat != 1 {
		t.Fatalf("request properties %+v", req.Properties)
	}
	responder.pub(&paho.Publish{Topic: req.Properties.ResponseTopic, QoS: 1, Payload: []byte("pong"),
		Properties: &paho.PublishProperties{CorrelationData: req.Properties.CorrelationData}})
	resp := requester.recv()
	if string(resp.Payload) != "pong" || resp.Properties == nil || string(resp.Properties.CorrelationData) != "corr-1" {
		t.Fatalf("response %q %+v", resp.Payload, resp.Properties)
	}
}

// TestMessageExpiry: the Message Expiry Interval is sent as what remains
// [MQTT-3.3.2-6], and a message that expired while its subscriber was away
// is not delivered [MQTT-3.3.2-5].
func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	live, _ := connectRaw(t, addr, packet.Version5, "exp-live", true)
	live.subscribe(1, packet.Subscription{Filter: "exp/#", QoS: 1})
	away, _ := connectRaw(t, addr, packet.Version5, "exp-away", false)
	away.subscribe(1, packet.Subscription{Filter: "exp/#", QoS: 1})
	away.write(&packet.Disconnect{})
	away.expectClosed()

	pub, _ := connectRaw(t, addr, packet.Version5, "exp-pub", true)
	publish := func(id uint16, payload string, expiry uint32) {
		p := &packet.Publish{Topic: []byte("exp/t"), QoS: 1, PacketID: id, Payload: []byte(payload)}
		if expiry > 0 {
			p.Properties.MessageExpiry = expiry
			p.Properties.Set(packet.PropMessageExpiry)
		}
		pub.publish(p)
	}
	retained := &packet.Publish{Topic: []byte("exp/retained"), QoS: 1, PacketID: 9, Retain: true, Payload: []byte("stale")}
	retained.Properties.MessageExpiry = 1
	retained.Properties.Set(packet.PropMessageExpiry)
	pub.publish(retained)
	live.ack(expectPublish(live))
	publish(1, "short", 1)
	publish(2, "long", 30)
	publish(3, "forever", 0)

	for _, want := range []string{"short", "long", "forever"} {
		p := expectPublish(live)
		if string(p.Payload) != want {
			t.Fatalf("live got %q, want %q", p.Payload, want)
		}
		switch want {
		case "short":
			if p.Properties.MessageExpiry != 1 {
				t.Fatalf("live expiry %d, want 1", p.Properties.MessageExpiry)
			}
		case "long":
			if e := p.Properties.MessageExpiry; e < 29 || e > 30 {
				t.Fatalf("live expiry %d, want 29-30", e)
			}
		case "forever":
			if p.Properties.Has(packet.PropMessageExpiry) {
				t.Fatal("expiry on a message published without one")
			}
		}
		live.ack(p)
	}

	// The short message expires a second after it was published; the
	// broker's reaper (every second) counts it on the offline session's
	// queue. Catches the mutation "the reaper skips queues without
	// consumers" (the expired message would be resent on reconnect). Waiting for that count, not for a fixed time, holds on a loaded
	// machine where publishing alone can take most of a second.
	awayQueue, ok := s.Core.Queue("mqtt:exp-away:exp/#")
	if !ok {
		t.Fatal("the offline session's subscription queue is missing")
	}
	// Two expire there: the short message and the retained one (exp/#
	// matches exp/retained), both published with a 1 s expiry.
	eventually(t, "the short messages to expire", func() bool { return awayQueue.Stats().Expired == 2 })
	away, _ = connectRaw(t, addr, packet.Version5, "exp-away", false)
	p := expectPublish(away)
	if string(p.Payload) != "long" {
		t.Fatalf("got %q, want the expired message skipped", p.Payload)
	}
	if e := p.Properties.MessageExpiry; e < 1 || e > 29 {
		t.Fatalf("remaining expiry %d, want less than 30 [MQTT-3.3.2-6]", e)
	}
	away.ack(p)
	if p := expectPublish(away); string(p.Payload) != "forever" {
		t.Fatalf("got %q", p.Payload)
	}
	// An expired retained message is not sent to new subscribers either.
	late, _ := connectRaw(t, addr, packet.Version5, "exp-late", true)
	late.subscribe(1, packet.Subscription{Filter: "exp/retained", QoS: 1})
	pub.publish(&packet.Publish{Topic: []byte("exp/retained"), QoS: 1, PacketID: 10, Payload: []byte("marker")})
	if p := expectPublish(late); string(p.Payload) != "marker" {
		t.Fatalf("got the expired retained message %q", p.Payload)
	}
}

// TestTopicAliasFromClient: a client may send a topic once with an alias
// and then the alias alone [MQTT-3.3.2-12]; alias 0 or above the server's
// maximum is a Topic Alias invalid error [MQTT-3.3.2-8] [MQTT-3.3.2-9]; an
// alias never set is a protocol error.
func TestTopicAliasFromClient(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	sub, _ := connectRaw(t, addr, packet.Version311, "alias-sub", true)
	sub.subscribe(1, packet.Subscription{Filter: "alias/#", QoS: 1})

	c, ack := connectRaw(t, addr, packet.Version5, "alias-pub", true)
	max := ack.Properties.TopicAliasMaximum
	if !ack.Properties.Has(packet.PropTopicAliasMaximum) || max == 0 {
		t.Fatal("CONNACK without Topic Alias Maximum")
	}
	aliased := func(id uint16, topic string, alias uint16, payload string) *packet.Publish {
		p := &packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: id, Payload: []byte(payload)}
		p.Properties.TopicAlias = alias
		p.Properties.Set(packet.PropTopicAlias)
		return p
	}
	c.publish(aliased(1, "alias/one", 1, "set"))
	c.publish(aliased(2, "", 1, "use"))
	c.publish(aliased(3, "alias/two", max, "set max"))
	c.publish(aliased(4, "", max, "use max"))
	c.publish(aliased(5, "alias/two", 1, "remap"))
	c.publish(aliased(6, "", 1, "use remapped"))
	for _, want := range []string{"alias/one set", "alias/one use", "alias/two set max", "alias/two use max", "alias/two remap", "alias/two use remapped"} {
		p := expectPublish(sub)
		if got := string(p.Topic) + " " + string(p.Payload); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		sub.ack(p)
	}

	for _, tc := range []struct {
		name string
		p    *packet.Publish
		code packet.ReasonCode
	}{
		// 0x94 is what the specification names for an alias above the
		// maximum; alias 0 is just as invalid (Mosquitto answers the same).
		{"alias 0", aliased(1, "alias/x", 0, "x"), packet.TopicAliasInvalid},
		{"alias above the maximum", aliased(1, "alias/x", max+1, "x"), packet.TopicAliasInvalid},
		{"alias never set", aliased(1, "", 3, "x"), packet.ProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connectRaw(t, addr, packet.Version5, "alias-bad", true)
			c.write(tc.p)
			c.expectDisconnect(tc.code)
		})
	}
}

// TestTopicAliasToClient: the server uses topic aliases only when the client
// allows them, never above its Topic Alias Maximum [MQTT-3.3.2-10]
// [MQTT-3.3.2-11], and a client receiving an alias can resolve it.
func TestTopicAliasToClient(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version311, "alias-to-pub", true)
	for _, max := range []uint16{0, 2} {
		t.Run(fmt.Sprint("maximum ", max), func(t *testing.T) {
			c := dialRaw(t, addr, packet.Version5)
			cp := &packet.Connect{ClientID: fmt.Sprint("alias-to-", max), CleanStart: true, KeepAlive: 30}
			if max > 0 {
				cp.Properties.TopicAliasMaximum = max
				cp.Properties.Set(packet.PropTopicAliasMaximum)
			}
			c.mustConnect(cp)
			c.subscribe(1, packet.Subscription{Filter: "at/#", QoS: 1})
			topics := []string{"at/a", "at/b", "at/c", "at/a", "at/b", "at/c", "at/a"}
			for i, topic := range topics {
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: uint16(1 + i), Payload: []byte(topic)})
			}
			aliases := map[uint16]string{}
			usedAlias := false
			for _, want := range topics {
				p := expectPublish(c)
				topic := string(p.Topic)
				if p.Properties.Has(packet.PropTopicAlias) {
					a := p.Properties.TopicAlias
					usedAlias = true
					if max == 0 || a == 0 || a > max {
						t.Fatalf("alias %d with a client maximum of %d", a, max)
					}
					if topic != "" {
						aliases[a] = topic
					} else if topic = aliases[a]; topic == "" {
						t.Fatalf("alias %d used before it was set", a)
					}
				}
				if topic != want || string(p.Payload) != want {
					t.Fatalf("got %q on %q, want %q", p.Payload, topic, want)
				}
				c.ack(p)
			}
			if max > 0 && !usedAlias {
				t.Fatal("no alias used although the client allows them")
			}
		})
	}
}

// TestMaximumPacketSize: a packet over the server's maximum ends the
// connection with 0x95 [MQTT-3.2.2-15]; a message over the client's
// maximum is not sent to it [MQTT-3.1.2-25], and does not hold up the ones
// after it.
func TestMaximumPacketSize(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")

	t.Run("over the server's maximum", func(t *testing.T) {
		c, ack := connectRaw(t, addr, packet.Version5, "mps-big", true)
		max := ack.Properties.MaximumPacketSize
		if max == 0 {
			t.Fatal("CONNACK without Maximum Packet Size")
		}
		// Only the fixed header is needed: the server refuses from the
		// Remaining Length, before reading the body.
		c.writeBytes(appendVarint([]byte{0x30}, int(max)))
		c.expectDisconnect(packet.PacketTooLarge)
	})

	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprint("over the client's maximum, QoS ", qos), func(t *testing.T) {
			c := dialRaw(t, addr, packet.Version5)
			cp := &packet.Connect{ClientID: fmt.Sprint("mps-small-", qos), CleanStart: true, KeepAlive: 30}
			cp.Properties.MaximumPacketSize = 200
			cp.Properties.TopicAliasMaximum = 10
			cp.Properties.Set(packet.PropMaximumPacketSize, packet.PropTopicAliasMaximum)
			c.mustConnect(cp)
			topic := fmt.Sprint("mps/", qos)
			c.subscribe(1, packet.Subscription{Filter: topic, QoS: qos})
			pub, _ := connectRaw(t, addr, packet.Version311, fmt.Sprint("mps-pub-", qos), true)
			big := strings.Repeat("x", 300)
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: qos, PacketID: 1, Payload: []byte(big)})
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: qos, PacketID: 2, Payload: []byte("small")})
			p := expectPublish(c)
			if string(p.Payload) != "small" {
				t.Fatalf("got %d bytes, want only the small message", len(p.Payload))
			}
			// The first message to reach the client must name its topic:
			// an alias assigned to the dropped message was never sent.
			if string(p.Topic) != topic {
				t.Fatalf("topic %q alias %d: the alias was never set", p.Topic, p.Properties.TopicAlias)
			}
			c.ack(p)
		})
	}

	t.Run("many oversized QoS 0 messages do not stall the subscription", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version5)
		cp := &packet.Connect{ClientID: "mps-many", CleanStart: true, KeepAlive: 30}
		cp.Properties.MaximumPacketSize = 64
		cp.Properties.Set(packet.PropMaximumPacketSize)
		c.mustConnect(cp)
		c.subscribe(1, packet.Subscription{Filter: "mps/many"})
		pub, _ := connectRaw(t, addr, packet.Version311, "mps-many-pub", true)
		big := make([]byte, 100)
		var batch []byte
		// Many times the subscription's 100 credits, and under its
		// max-queued-messages (1000): beyond that the queue lawfully drops
		// QoS 0 messages, and on a loaded machine "after" was one of them.
		// Its byte bound (256 KiB, counted on core.Message.Size: 128 +
		// address + body, 236 bytes here) holds 1,110 of them, so 900
		// stay under both.
		for range 900 {
			batch, _ = (&packet.Publish{Topic: []byte("mps/many"), Payload: big}).Append(batch, packet.Version311)
		}
		pub.writeBytes(batch)
		pub.publish(&packet.Publish{Topic: []byte("mps/many"), QoS: 1, PacketID: 1, Payload: []byte("after")})
		if p := expectPublish(c); string(p.Payload) != "after" {
			t.Fatalf("got %d bytes", len(p.Payload))
		}
	})
}

func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// TestMessageTooLargeForBroker: max-message-size is the Maximum Packet Size
// the server announces, so a PUBLISH over it breaks [MQTT-3.2.2-15]: a 5.0
// client gets DISCONNECT 0x95 (Packet too large), a 3.1.1 one is closed, as
// soon as the fixed header is read; other connections carry on.
func TestMessageTooLargeForBroker(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MaxMessageSize = 1024 })
	addr := s.Addr("mqtt")
	c, ack := connectRaw(t, addr, packet.Version5, "mtl", true)
	if ack.Properties.MaximumPacketSize != 1024 {
		t.Fatalf("CONNACK Maximum Packet Size %d, want 1024", ack.Properties.MaximumPacketSize)
	}
	big := make([]byte, 4096)
	c.write(&packet.Publish{Topic: []byte("mtl/t"), QoS: 1, PacketID: 2, Payload: big})
	c.expectDisconnect(packet.PacketTooLarge)

	c3, _ := connectRaw(t, addr, packet.Version311, "mtl-3", true)
	c3.write(&packet.Publish{Topic: []byte("mtl/t"), QoS: 1, PacketID: 2, Payload: big})
	c3.expectDisconnect(0)

	ok, _ := connectRaw(t, addr, packet.Version5, "mtl-ok", true)
	ok.subscribe(1, packet.Subscription{Filter: "mtl/t", QoS: 1})
	ok.publish(&packet.Publish{Topic: []byte("mtl/t"), QoS: 1, PacketID: 4, Payload: []byte("fits")})
	if p := expectPublish(ok); string(p.Payload) != "fits" {
		t.Fatalf("got %d bytes", len(p.Payload))
	}
}

// TestAuthorizationReasonCodes: a publish or subscribe the permissions deny
// gets a reason code (PUBACK/PUBREC 0x87, SUBACK 0x87 or 0x80) in 5.0
// (sections 3.4.2.1, 3.5.2.1, 3.9.3); 3.1.1 publishers are disconnected
// [MQTT-3.3.5-2]; allowed traffic carries on.
func TestAuthorizationReasonCodes(t *testing.T) {
	all := []string{"users"}
	perms := map[string]map[string][]string{
		"#": {"send": all, "consume": all, "createAddress": all, "createNonDurableQueue": all, "deleteNonDurableQueue": all,
			"createDurableQueue": all, "deleteDurableQueue": all},
		"secret.#": {"consume": all, "createAddress": all, "createNonDurableQueue": all, "deleteNonDurableQueue": all},
		"hidden.#": {"send": all, "createAddress": all},
	}
	s := startBroker(t, withUsers(t, false, perms, "alice", "pw"))
	addr := s.Addr("mqtt")
	login := func(ver byte, id string) *raw {
		c := dialRaw(t, addr, ver)
		c.mustConnect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, HasUsername: true, Username: "alice", HasPassword: true, Password: []byte("pw")})
		return c
	}

	c := login(packet.Version5, "acl-5")
	codes := c.subscribe(1, packet.Subscription{Filter: "secret/+", QoS: 1}, packet.Subscription{Filter: "hidden/x", QoS: 1}, packet.Subscription{Filter: "open/x", QoS: 1})
	if !slices.Equal(codes, []packet.ReasonCode{packet.GrantedQoS1, packet.NotAuthorized, packet.GrantedQoS1}) {
		t.Fatalf("SUBACK %v, want [1 0x87 1]", codes)
	}
	c.write(&packet.Publish{Topic: []byte("secret/x"), QoS: 1, PacketID: 2, Payload: []byte("no")})
	if ack := await[*packet.Puback](c); ack.PacketID != 2 || ack.ReasonCode != packet.NotAuthorized {
		t.Fatalf("PUBACK %+v, want 0x87", ack)
	}
	c.write(&packet.Publish{Topic: []byte("secret/x"), QoS: 2, PacketID: 3, Payload: []byte("no")})
	if rec := await[*packet.Pubrec](c); rec.PacketID != 3 || rec.ReasonCode != packet.NotAuthorized {
		t.Fatalf("PUBREC %+v, want 0x87", rec)
	}
	// The refused QoS 2 exchange is over: the id can be used again.
	c.publish(&packet.Publish{Topic: []byte("open/x"), QoS: 2, PacketID: 3, Payload: []byte("yes")})
	if p := expectPublish(c); string(p.Payload) != "yes" {
		t.Fatalf("got %q", p.Payload)
	}

	// QoS 0 has no acknowledgement: the 5.0 connection is ended with 0x87.
	c.write(&packet.Publish{Topic: []byte("secret/x"), Payload: []byte("no")})
	c.expectDisconnect(packet.NotAuthorized)

	c3 := login(packet.Version311, "acl-3")
	if codes := c3.subscribe(1, packet.Subscription{Filter: "hidden/x", QoS: 1}, packet.Subscription{Filter: "open/y", QoS: 1}); !slices.Equal(codes, []packet.ReasonCode{packet.SubackFailure, packet.GrantedQoS1}) {
		t.Fatalf("3.1.1 SUBACK %v, want [0x80 1]", codes)
	}
	c3.write(&packet.Publish{Topic: []byte("secret/x"), QoS: 1, PacketID: 2, Payload: []byte("no")})
	c3.expectDisconnect(0)

	// paho 5.0 sees the reason code.
	p5, _ := dial5(t, addr, &paho.Connect{ClientID: "acl-paho", CleanStart: true, UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("pw")})
	r, err := p5.Publish(ctxT(t), &paho.Publish{Topic: "secret/p", QoS: 1, Payload: []byte("no")})
	if err == nil && (r == nil || r.ReasonCode != byte(packet.NotAuthorized)) {
		t.Fatalf("paho publish: %+v", r)
	}
	if r != nil && r.ReasonCode != byte(packet.NotAuthorized) {
		t.Fatalf("paho publish: reason %#x", r.ReasonCode)
	}
	_ = core.PermSend
}

// TestReceiveMaximumToClient: the server has no more unacknowledged QoS 1
// and 2 PUBLISHes towards a 5.0 client than its Receive Maximum
// [MQTT-3.3.4-9]; each acknowledgement lets the next one go.
func TestReceiveMaximumToClient(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c := dialRaw(t, addr, packet.Version5)
	cp := &packet.Connect{ClientID: "rm-client", CleanStart: true, KeepAlive: 30}
	cp.Properties.ReceiveMaximum = 2
	cp.Properties.Set(packet.PropReceiveMaximum)
	c.mustConnect(cp)
	c.subscribe(1, packet.Subscription{Filter: "rm/q", QoS: 2}, packet.Subscription{Filter: "rm/marker"})
	pub, _ := connectRaw(t, addr, packet.Version311, "rm-pub", true)
	for i := range 5 {
		pub.publish(&packet.Publish{Topic: []byte("rm/q"), QoS: byte(1 + i%2), PacketID: uint16(1 + i), Payload: fmt.Append(nil, i)})
	}
	// QoS 0 messages are not limited: the marker overtakes the held ones.
	pub.publish(&packet.Publish{Topic: []byte("rm/marker"), Payload: []byte("marker")})
	var held []*packet.Publish
	for {
		p := expectPublish(c)
		if string(p.Payload) == "marker" {
			break
		}
		held = append(held, p)
	}
	if len(held) != 2 || string(held[0].Payload) != "0" || string(held[1].Payload) != "1" {
		t.Fatalf("%d messages in flight before any acknowledgement, want the first 2", len(held))
	}
	for i := 2; i < 5; i++ {
		c.ack(held[0])
		held = held[1:]
		p := expectPublish(c)
		if string(p.Payload) != fmt.Sprint(i) {
			t.Fatalf("got %q, want %d", p.Payload, i)
		}
		held = append(held, p)
	}
}
