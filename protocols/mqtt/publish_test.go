package mqtt_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestQoSFlows: QoS 0, 1 and 2 in both directions with real clients of each
// version, the publisher and the subscriber on different versions too.
func TestQoSFlows(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	v31 := dial3(t, addr, "flow-31", func(o *mqtt3.ClientOptions) { o.SetProtocolVersion(3) })
	v311 := dial3(t, addr, "flow-311", nil)
	v5, _ := dial5(t, addr, &paho.Connect{ClientID: "flow-5", CleanStart: true})

	type side struct {
		name string
		sub  func(filter string, qos byte)
		pub  func(topic string, qos byte, payload string)
		recv func() (topic, payload string, qos byte)
	}
	sides := []side{
		{"3.1", v31.sub, func(tp string, q byte, p string) { v31.pub(tp, q, false, p) }, func() (string, string, byte) {
			m := v31.recv()
			return m.topic, m.payload, m.qos
		}},
		{"3.1.1", v311.sub, func(tp string, q byte, p string) { v311.pub(tp, q, false, p) }, func() (string, string, byte) {
			m := v311.recv()
			return m.topic, m.payload, m.qos
		}},
		{"5.0", func(f string, q byte) { v5.sub(paho.SubscribeOptions{Topic: f, QoS: q}) },
			func(tp string, q byte, p string) { v5.pub(&paho.Publish{Topic: tp, QoS: q, Payload: []byte(p)}) },
			func() (string, string, byte) {
				m := v5.recv()
				return m.Topic, string(m.Payload), m.QoS
			}},
	}
	for _, sub := range sides {
		for qos := range byte(3) {
			sub.sub(fmt.Sprintf("flow/%s/%d", sub.name, qos), qos)
		}
	}
	for _, from := range sides {
		for _, to := range sides {
			for qos := range byte(3) {
				topic := fmt.Sprintf("flow/%s/%d", to.name, qos)
				payload := fmt.Sprintf("%s->%s@%d", from.name, to.name, qos)
				from.pub(topic, qos, payload)
				gotTopic, gotPayload, gotQoS := to.recv()
				if gotTopic != topic || gotPayload != payload || gotQoS != qos {
					t.Fatalf("%s: got %q on %s at QoS %d", payload, gotPayload, gotTopic, gotQoS)
				}
			}
		}
	}
}

// TestQoS2Exchange checks the QoS 2 packets on the wire in both directions
// [MQTT-4.3.3-1]..[MQTT-4.3.3-13], and that a PUBLISH resent before PUBREL
// is acknowledged again but not delivered twice [MQTT-4.3.3-10] (3.1.1
// [MQTT-4.3.3-2]).
func TestQoS2Exchange(t *testing.T) {
	s := startBroker(t, nil)
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			topic := fmt.Sprintf("q2/%d", ver)
			sub, _ := connectRaw(t, s.Addr("mqtt"), ver, fmt.Sprintf("q2-sub-%d", ver), true)
			sub.subscribe(1, packet.Subscription{Filter: topic, QoS: 2})
			pub, _ := connectRaw(t, s.Addr("mqtt"), ver, fmt.Sprintf("q2-pub-%d", ver), true)

			p := &packet.Publish{Topic: []byte(topic), QoS: 2, PacketID: 9, Payload: []byte("once")}
			pub.write(p)
			if rec := await[*packet.Pubrec](pub); rec.PacketID != 9 || rec.ReasonCode != packet.Success {
				t.Fatalf("PUBREC %+v", rec)
			}
			// The same packet again, DUP set, before PUBREL: PUBREC again.
			p.Dup = true
			pub.write(p)
			if rec := await[*packet.Pubrec](pub); rec.PacketID != 9 {
				t.Fatalf("second PUBREC %+v", rec)
			}
			pub.write(&packet.Pubrel{PacketID: 9})
			if comp := await[*packet.Pubcomp](pub); comp.PacketID != 9 || comp.ReasonCode != packet.Success {
				t.Fatalf("PUBCOMP %+v", comp)
			}
			// After PUBCOMP the id is free again: a new message with it is new.
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 2, PacketID: 9, Payload: []byte("reused id")})

			got := expectPublish(sub)
			if string(got.Payload) != "once" || got.QoS != 2 || got.Dup {
				t.Fatalf("got %q QoS %d DUP %v", got.Payload, got.QoS, got.Dup)
			}
			// Server to client: PUBLISH, PUBREC, PUBREL, PUBCOMP.
			sub.ack(got)
			if got := expectPublish(sub); string(got.Payload) != "reused id" {
				t.Fatalf("got %q, want the second message (the resend was delivered twice?)", got.Payload)
			}
			// PUBREL for an id not in flight: PUBCOMP (5.0: 0x92).
			pub.write(&packet.Pubrel{PacketID: 4242})
			comp := await[*packet.Pubcomp](pub)
			want := packet.Success
			if ver == packet.Version5 {
				want = packet.PacketIdentifierNotFound
			}
			if comp.PacketID != 4242 || comp.ReasonCode != want {
				t.Fatalf("PUBCOMP %+v, want code %v", comp, want)
			}
		})
	}
}

// TestDeliveryQoSIsMinimum: a message is delivered at the lower of its
// publish QoS and the subscription's QoS [MQTT-3.8.4-8] (3.1.1
// [MQTT-3.8.4-6]).
func TestDeliveryQoSIsMinimum(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version311, "minq-pub", true)
	for subQoS := range byte(3) {
		c, _ := connectRaw(t, addr, packet.Version5, fmt.Sprint("minq-", subQoS), true)
		topic := fmt.Sprint("minq/", subQoS)
		if codes := c.subscribe(1, packet.Subscription{Filter: topic, QoS: subQoS}); codes[0] != packet.ReasonCode(subQoS) {
			t.Fatalf("granted %v, want QoS %d", codes[0], subQoS)
		}
		for pubQoS := range byte(3) {
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: pubQoS, PacketID: uint16(1 + pubQoS), Payload: []byte{pubQoS}})
			p := expectPublish(c)
			if want := min(subQoS, pubQoS); p.QoS != want || p.Payload[0] != pubQoS {
				t.Fatalf("published at %d, subscribed at %d: delivered at %d, want %d", pubQoS, subQoS, p.QoS, want)
			}
			if p.QoS == 0 && p.PacketID != 0 {
				t.Fatal("QoS 0 PUBLISH with a packet id [MQTT-2.2.1-2]")
			}
			c.ack(p)
		}
	}
}

// TestOrderedDelivery: messages from one publisher on one topic arrive in
// the order sent, at every QoS [MQTT-4.6.0-5] (3.1.1 [MQTT-4.6.0-5]),
// and the server acknowledges a client's QoS 1 and 2 PUBLISHes in the order
// received [MQTT-4.6.0-2] [MQTT-4.6.0-3].
func TestOrderedDelivery(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	const n = 300
	for qos := range byte(3) {
		t.Run(fmt.Sprint("QoS ", qos), func(t *testing.T) {
			topic := fmt.Sprint("order/", qos)
			sub := dial3(t, addr, fmt.Sprint("order-sub-", qos), nil)
			sub.sub(topic, qos)
			pub := dial3(t, addr, fmt.Sprint("order-pub-", qos), nil)
			toks := make([]mqtt3.Token, n)
			for i := range n {
				toks[i] = pub.c.Publish(topic, qos, false, strconv.Itoa(i))
			}
			for i, tok := range toks {
				wait(t, fmt.Sprint("publish ", i), tok)
			}
			for i := range n {
				if m := sub.recv(); m.payload != strconv.Itoa(i) {
					t.Fatalf("message %d is %q", i, m.payload)
				}
			}
		})
	}

	t.Run("acknowledgements in order", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version5, "order-acks", true)
		var batch []byte
		for i := range 200 {
			qos := byte(1 + i%2)
			b, err := (&packet.Publish{Topic: []byte("order/acks"), QoS: qos, PacketID: uint16(100 + i), Payload: []byte("x")}).Append(nil, packet.Version5)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, b...)
		}
		c.writeBytes(batch)
		for i := range 200 {
			p := c.next()
			var id uint16
			switch a := p.(type) {
			case *packet.Puback:
				id = a.PacketID
			case *packet.Pubrec:
				id = a.PacketID
			default:
				t.Fatalf("got %v", p.Type())
			}
			if id != uint16(100+i) {
				t.Fatalf("acknowledgement %d is for packet %d, want %d", i, id, 100+i)
			}
		}
	})
}

// TestRetained covers retained messages: delivered on subscribe with RETAIN
// set, replaced by a newer one, cleared by an empty payload; live
// subscribers get RETAIN 0 (3.1.1 [MQTT-3.3.1-5]..[MQTT-3.3.1-12], 5.0
// [MQTT-3.3.1-5]..[MQTT-3.3.1-12]).
func TestRetained(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version311, "ret-pub", true)
	live, _ := connectRaw(t, addr, packet.Version311, "ret-live", true)
	live.subscribe(1, packet.Subscription{Filter: "ret/#", QoS: 1})

	pub.publish(&packet.Publish{Topic: []byte("ret/a"), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("a1")})
	pub.publish(&packet.Publish{Topic: []byte("ret/a"), QoS: 1, PacketID: 2, Retain: true, Payload: []byte("a2")})
	pub.publish(&packet.Publish{Topic: []byte("ret/b/c"), QoS: 0, Retain: true, Payload: []byte("bc")})
	pub.publish(&packet.Publish{Topic: []byte("ret/x"), QoS: 2, PacketID: 3, Retain: true, Payload: []byte("x")})
	pub.publish(&packet.Publish{Topic: []byte("other/z"), QoS: 1, PacketID: 4, Retain: true, Payload: []byte("z")})

	// A live subscriber gets RETAIN 0 [MQTT-3.3.1-9] (3.1.1).
	for _, want := range []string{"a1", "a2", "bc", "x"} {
		p := expectPublish(live)
		if string(p.Payload) != want || p.Retain {
			t.Fatalf("live subscriber got %q retain %v, want %q retain false", p.Payload, p.Retain, want)
		}
		live.ack(p)
	}

	t.Run("delivered on subscribe", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version311, "ret-new", true)
		c.subscribe(1, packet.Subscription{Filter: "ret/#", QoS: 2})
		got := map[string]string{}
		for range 3 {
			p := expectPublish(c)
			if !p.Retain {
				t.Fatalf("%q delivered on subscribe without RETAIN", p.Payload)
			}
			got[string(p.Topic)] = fmt.Sprintf("%s@%d", p.Payload, p.QoS)
			c.ack(p)
		}
		want := map[string]string{"ret/a": "a2@1", "ret/b/c": "bc@0", "ret/x": "x@2"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("retained on subscribe: %v, want %v (latest only, at the message's QoS)", got, want)
		}
		// Nothing else: the next message is a live one.
		pub.publish(&packet.Publish{Topic: []byte("ret/live"), QoS: 1, PacketID: 5, Payload: []byte("live")})
		if p := expectPublish(c); string(p.Payload) != "live" || p.Retain {
			t.Fatalf("got %q retain %v", p.Payload, p.Retain)
		}
		live.ack(expectPublish(live))
	})

	t.Run("QoS of a retained message is capped by the subscription", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version5, "ret-q0", true)
		c.subscribe(1, packet.Subscription{Filter: "ret/x", QoS: 0})
		if p := expectPublish(c); p.QoS != 0 || !p.Retain || string(p.Payload) != "x" {
			t.Fatalf("got %q QoS %d retain %v", p.Payload, p.QoS, p.Retain)
		}
	})

	t.Run("an empty payload clears it [MQTT-3.3.1-6] (3.1.1 [MQTT-3.3.1-10])", func(t *testing.T) {
		pub.publish(&packet.Publish{Topic: []byte("ret/a"), QoS: 1, PacketID: 6, Retain: true})
		// The empty retained message itself reaches live subscribers.
		if p := expectPublish(live); string(p.Topic) != "ret/a" || len(p.Payload) != 0 {
			t.Fatalf("live subscriber got %q on %s dup %v id %d qos %d", p.Payload, p.Topic, p.Dup, p.PacketID, p.QoS)
		} else {
			live.ack(p)
		}
		c, _ := connectRaw(t, addr, packet.Version311, "ret-cleared", true)
		c.subscribe(1, packet.Subscription{Filter: "ret/a", QoS: 1})
		pub.publish(&packet.Publish{Topic: []byte("ret/a"), QoS: 1, PacketID: 7, Payload: []byte("marker")})
		if p := expectPublish(c); string(p.Payload) != "marker" {
			t.Fatalf("got %q (retain %v) after the retained message was cleared", p.Payload, p.Retain)
		}
	})

	t.Run("$ topics are not matched by a leading wildcard [MQTT-4.7.2-1]", func(t *testing.T) {
		pub.publish(&packet.Publish{Topic: []byte("$SYS/r"), QoS: 1, PacketID: 8, Retain: true, Payload: []byte("sys")})
		pub.publish(&packet.Publish{Topic: []byte("plain/r"), QoS: 1, PacketID: 9, Retain: true, Payload: []byte("plain")})
		c, _ := connectRaw(t, addr, packet.Version311, "ret-dollar", true)
		c.subscribe(1, packet.Subscription{Filter: "+/r", QoS: 1})
		if p := expectPublish(c); string(p.Payload) != "plain" {
			t.Fatalf("+/r got retained %q", p.Payload)
		}
		c.subscribe(2, packet.Subscription{Filter: "$SYS/+", QoS: 1})
		if p := expectPublish(c); string(p.Payload) != "sys" {
			t.Fatalf("$SYS/+ got retained %q", p.Payload)
		}
	})

	t.Run("re-subscribing changes the QoS [MQTT-3.8.4-3]", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version311, "ret-resub", true)
		c.subscribe(1, packet.Subscription{Filter: "resub/t", QoS: 0})
		pub.publish(&packet.Publish{Topic: []byte("resub/t"), QoS: 1, PacketID: 10, Payload: []byte("at 0")})
		if p := expectPublish(c); p.QoS != 0 {
			t.Fatalf("QoS %d, want 0", p.QoS)
		}
		if codes := c.subscribe(2, packet.Subscription{Filter: "resub/t", QoS: 1}); codes[0] != packet.GrantedQoS1 {
			t.Fatalf("SUBACK %v", codes)
		}
		pub.publish(&packet.Publish{Topic: []byte("resub/t"), QoS: 1, PacketID: 11, Payload: []byte("at 1")})
		if p := expectPublish(c); p.QoS != 1 || string(p.Payload) != "at 1" {
			t.Fatalf("got %q QoS %d, want QoS 1 (and no duplicate)", p.Payload, p.QoS)
		}
	})

	t.Run("paho 3.1.1 sees the retained flag", func(t *testing.T) {
		c := dial3(t, addr, "ret-paho", nil)
		c.sub("ret/b/+", 1)
		if m := c.recv(); m.payload != "bc" || !m.retained {
			t.Fatalf("got %+v", m)
		}
	})
}

// TestRetainOptions5: 5.0 Retain As Published [MQTT-3.3.1-12]
// [MQTT-3.3.1-13] and Retain Handling 0, 1, 2 [MQTT-3.3.1-9]
// [MQTT-3.3.1-10] [MQTT-3.3.1-11].
func TestRetainOptions5(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version5, "ro-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("ro/t"), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("stored")})

	t.Run("retain as published", func(t *testing.T) {
		rap, _ := connectRaw(t, addr, packet.Version5, "ro-rap", true)
		rap.subscribe(1, packet.Subscription{Filter: "ro/rap", QoS: 1, RetainAsPublished: true})
		plain, _ := connectRaw(t, addr, packet.Version5, "ro-plain", true)
		plain.subscribe(1, packet.Subscription{Filter: "ro/rap", QoS: 1})
		pub.publish(&packet.Publish{Topic: []byte("ro/rap"), QoS: 1, PacketID: 2, Retain: true, Payload: []byte("r")})
		pub.publish(&packet.Publish{Topic: []byte("ro/rap"), QoS: 1, PacketID: 3, Payload: []byte("n")})
		for _, tc := range []struct {
			c    *raw
			want []bool
		}{{rap, []bool{true, false}}, {plain, []bool{false, false}}} {
			for _, want := range tc.want {
				p := expectPublish(tc.c)
				if p.Retain != want {
					t.Fatalf("%q: RETAIN %v, want %v", p.Payload, p.Retain, want)
				}
				tc.c.ack(p)
			}
		}
		// Delete the retained message so it does not leak into other cases.
		pub.publish(&packet.Publish{Topic: []byte("ro/rap"), QoS: 1, PacketID: 4, Retain: true})
	})

	for _, tc := range []struct {
		rh                     byte
		onFirst, onResubscribe bool
	}{{0, true, true}, {1, true, false}, {2, false, false}} {
		t.Run(fmt.Sprintf("retain handling %d", tc.rh), func(t *testing.T) {
			c, _ := connectRaw(t, addr, packet.Version5, fmt.Sprint("ro-rh", tc.rh), true)
			c.subscribe(10, packet.Subscription{Filter: "ro/marker"})
			for i, want := range []bool{tc.onFirst, tc.onResubscribe} {
				c.subscribe(uint16(1+i), packet.Subscription{Filter: "ro/t", QoS: 1, RetainHandling: tc.rh})
				pub.publish(&packet.Publish{Topic: []byte("ro/marker"), Payload: []byte("marker")})
				p := expectPublish(c)
				got := string(p.Payload) == "stored"
				if got != want {
					t.Fatalf("subscription %d: retained message sent %v, want %v", i+1, got, want)
				}
				if got {
					if !p.Retain {
						t.Fatal("retained message without RETAIN")
					}
					c.ack(p)
					if p := expectPublish(c); string(p.Payload) != "marker" {
						t.Fatalf("got %q, want the marker", p.Payload)
					}
				}
			}
		})
	}
}

// TestWill covers the Will Message: published when the connection ends
// without DISCONNECT [MQTT-3.1.2-8], not after a normal DISCONNECT
// [MQTT-3.1.2-10] (3.1.1 [MQTT-3.1.2-10]), with its QoS and retain flag,
// after the 5.0 Will Delay Interval unless the session resumes
// [MQTT-3.1.3-9], and on DISCONNECT 0x04 [MQTT-3.14.4-3].
func TestWill(t *testing.T) {
	t.Parallel()
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	watcher, _ := connectRaw(t, addr, packet.Version5, "will-watch", true)
	watcher.subscribe(1, packet.Subscription{Filter: "will/#", QoS: 2})
	marker := func(text string) {
		t.Helper()
		m, _ := connectRaw(t, addr, packet.Version311, "will-marker", true)
		m.publish(&packet.Publish{Topic: []byte("will/marker"), QoS: 1, PacketID: 1, Payload: []byte(text)})
	}
	next := func() *packet.Publish {
		t.Helper()
		p := expectPublish(watcher)
		watcher.ack(p)
		return p
	}
	connectWill := func(ver byte, id string, w *packet.Will, expiry uint32) *raw {
		c := dialRaw(t, addr, ver)
		p := &packet.Connect{ClientID: id, CleanStart: expiry == 0, KeepAlive: 30, Will: w}
		if expiry > 0 {
			p.Properties.SessionExpiry = expiry
			p.Properties.Set(packet.PropSessionExpiry)
		}
		c.mustConnect(p)
		return c
	}
	withDelay := func(w *packet.Will, d uint32) *packet.Will {
		w.Properties.WillDelay = d
		w.Properties.Set(packet.PropWillDelay)
		return w
	}

	for _, ver := range []byte{packet.Version31, packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("abnormal close v%d", ver), func(t *testing.T) {
			topic := fmt.Sprint("will/abrupt/", ver)
			c := connectWill(ver, fmt.Sprint("will-a-", ver), &packet.Will{Topic: topic, QoS: 1, Payload: []byte("gone")}, 0)
			c.nc.Close()
			if p := next(); string(p.Topic) != topic || string(p.Payload) != "gone" || p.QoS != 1 {
				t.Fatalf("got %q on %s QoS %d", p.Payload, p.Topic, p.QoS)
			}
		})
		t.Run(fmt.Sprintf("normal DISCONNECT v%d", ver), func(t *testing.T) {
			c := connectWill(ver, fmt.Sprint("will-n-", ver), &packet.Will{Topic: "will/normal", QoS: 1, Payload: []byte("must not")}, 0)
			c.write(&packet.Disconnect{})
			c.expectClosed()
			marker("after normal")
			if p := next(); string(p.Payload) != "after normal" {
				t.Fatalf("got %q on %s, want only the marker", p.Payload, p.Topic)
			}
		})
	}

	t.Run("protocol error publishes the will", func(t *testing.T) {
		c := connectWill(packet.Version311, "will-err", &packet.Will{Topic: "will/err", Payload: []byte("err")}, 0)
		c.writeBytes([]byte{0x32, 0x00}) // PUBLISH QoS 1 with no body: malformed
		c.expectClosed()
		if p := next(); string(p.Payload) != "err" {
			t.Fatalf("got %q", p.Payload)
		}
	})

	t.Run("keep-alive timeout publishes the will", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version311)
		c.mustConnect(&packet.Connect{ClientID: "will-ka", CleanStart: true, KeepAlive: 1, Will: &packet.Will{Topic: "will/ka", Payload: []byte("ka")}})
		if p := next(); string(p.Payload) != "ka" {
			t.Fatalf("got %q", p.Payload)
		}
	})

	t.Run("retained will", func(t *testing.T) {
		c := connectWill(packet.Version311, "will-r", &packet.Will{Topic: "will/retained", QoS: 1, Retain: true, Payload: []byte("last")}, 0)
		c.nc.Close()
		if p := next(); string(p.Payload) != "last" {
			t.Fatalf("got %q", p.Payload)
		}
		// The will is routed, then retained: wait for the second step.
		eventually(t, "will retained", func() bool { return mqttState(s).Retained == 1 })
		late, _ := connectRaw(t, addr, packet.Version311, "will-late", true)
		late.subscribe(1, packet.Subscription{Filter: "will/retained", QoS: 1})
		if p := expectPublish(late); string(p.Payload) != "last" || !p.Retain {
			t.Fatalf("got %q retain %v", p.Payload, p.Retain)
		}
	})

	t.Run("5.0 DISCONNECT 0x04 sends the will", func(t *testing.T) {
		c := connectWill(packet.Version5, "will-04", &packet.Will{Topic: "will/04", Payload: []byte("asked")}, 0)
		c.write(&packet.Disconnect{ReasonCode: packet.DisconnectWithWillMessage})
		c.expectClosed()
		if p := next(); string(p.Payload) != "asked" {
			t.Fatalf("got %q", p.Payload)
		}
	})

	t.Run("5.0 will properties", func(t *testing.T) {
		w := &packet.Will{Topic: "will/props", QoS: 1, Payload: []byte("{}")}
		w.Properties.ContentType = "application/json"
		w.Properties.PayloadFormat = 1
		w.Properties.ResponseTopic = "will/reply"
		w.Properties.CorrelationData = []byte{1, 2, 3}
		w.Properties.User = []packet.UserProperty{{Key: "k", Value: "v"}}
		w.Properties.Set(packet.PropContentType, packet.PropPayloadFormat, packet.PropResponseTopic, packet.PropCorrelationData)
		c := connectWill(packet.Version5, "will-props", w, 0)
		c.nc.Close()
		p := next()
		pr := p.Properties
		if pr.ContentType != "application/json" || pr.PayloadFormat != 1 || pr.ResponseTopic != "will/reply" ||
			string(pr.CorrelationData) != "\x01\x02\x03" || fmt.Sprint(pr.User) != "[{k v}]" {
			t.Fatalf("will properties %+v", pr)
		}
	})

	t.Run("5.0 will delay: reconnecting in time cancels it", func(t *testing.T) {
		c := connectWill(packet.Version5, "will-d", withDelay(&packet.Will{Topic: "will/delayed", Payload: []byte("cancelled")}, 1), 60)
		c.nc.Close()
		c2 := dialRaw(t, addr, packet.Version5)
		p := &packet.Connect{ClientID: "will-d", KeepAlive: 30}
		p.Properties.SessionExpiry = 60
		p.Properties.Set(packet.PropSessionExpiry)
		if ack := c2.mustConnect(p); !ack.SessionPresent {
			t.Fatal("session not present")
		}
		// A control client with the same delay that does not come back:
		// its will arrives after the first one's would have.
		ctl := connectWill(packet.Version5, "will-ctl", withDelay(&packet.Will{Topic: "will/delayed", Payload: []byte("control")}, 1), 60)
		start := time.Now()
		ctl.nc.Close()
		if p := next(); string(p.Payload) != "control" {
			t.Fatalf("got %q, want only the control will", p.Payload)
		}
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Fatalf("delayed will published after %v, want about 1s", took)
		}
	})

	t.Run("5.0 will delay longer than the session: sent when the session ends", func(t *testing.T) {
		c := connectWill(packet.Version5, "will-se", withDelay(&packet.Will{Topic: "will/session-end", Payload: []byte("ended")}, 3600), 1)
		start := time.Now()
		c.nc.Close()
		if p := next(); string(p.Payload) != "ended" {
			t.Fatalf("got %q", p.Payload)
		}
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Fatalf("will published after %v, before the session expired", took)
		}
	})

	t.Run("paho 3.1.1 will", func(t *testing.T) {
		c := dial3(t, addr, "will-paho", func(o *mqtt3.ClientOptions) { o.SetWill("will/paho", "bye", 1, false) })
		// paho has no way to drop the connection without DISCONNECT; a
		// session takeover closes it on the server's side.
		connectRaw(t, addr, packet.Version311, "will-paho", true)
		if p := next(); string(p.Payload) != "bye" {
			t.Fatalf("got %q", p.Payload)
		}
		_ = c
	})
}
