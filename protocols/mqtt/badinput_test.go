package mqtt_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// bystander is a client connected throughout the bad-input tests: after
// each case it must still publish and receive.
type bystander struct {
	c   *raw
	pub *raw
	n   int
}

func newBystander(t *testing.T, addr string) *bystander {
	b := &bystander{}
	b.c, _ = connectRaw(t, addr, packet.Version5, "bystander", true)
	b.c.subscribe(1, packet.Subscription{Filter: "bystander/#", QoS: 2})
	b.pub, _ = connectRaw(t, addr, packet.Version311, "bystander-pub", true)
	return b
}

func (b *bystander) check(t *testing.T) {
	t.Helper()
	b.n++
	payload := fmt.Sprint("still here ", b.n)
	b.pub.publish(&packet.Publish{Topic: []byte("bystander/t"), QoS: 2, PacketID: uint16(b.n), Payload: []byte(payload)})
	p := expectPublish(b.c)
	if string(p.Payload) != payload {
		t.Fatalf("bystander got %q, want %q", p.Payload, payload)
	}
	b.c.ack(p)
}

// encode encodes a packet for a version, failing the test on error.
func encode(t *testing.T, p packet.Packet, ver byte) []byte {
	t.Helper()
	b, err := p.Append(nil, ver)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endOfStream marks a case whose input is followed by the end of the
// stream (the server sees a truncated packet).
const endOfStream packet.ReasonCode = 0xff

// TestBadInput: malformed and forbidden input ends the offending connection
// as the specification says (5.0: DISCONNECT with the reason code first
// [MQTT-4.13.1-1]; 3.1.1: close [MQTT-4.8.0-1]) and nothing else: another
// client carries on.
func TestBadInput(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	by := newBystander(t, addr)

	publish := func(ver byte, flags byte, topic []byte, id bool) []byte {
		body := append([]byte{byte(len(topic) >> 8), byte(len(topic))}, topic...)
		if id {
			body = append(body, 0, 1)
		}
		if ver == packet.Version5 {
			body = append(body, 0) // no properties
		}
		body = append(body, "payload"...)
		return append(appendVarint([]byte{0x30 | flags}, len(body)), body...)
	}

	for _, tc := range []struct {
		name string
		ver  byte
		// input returns the bytes sent after CONNECT.
		input func(ver byte) []byte
		code  packet.ReasonCode // the 5.0 DISCONNECT reason code
	}{
		{"malformed remaining length [MQTT-1.5.5-1]", 0, func(byte) []byte {
			return []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}
		}, packet.MalformedPacket},
		{"stream ends inside a packet", 0, func(byte) []byte {
			return []byte{0x82, 0x05, 0x00, 0x01, 0x00}
		}, endOfStream},
		{"packet over the maximum size [MQTT-3.2.2-15]", 0, func(byte) []byte {
			return appendVarint([]byte{0x30}, 128<<20) // over the default max-message-size
		}, packet.PacketTooLarge},
		{"invalid UTF-8 topic [MQTT-1.5.4-1]", 0, func(v byte) []byte {
			return publish(v, 0, []byte{'a', 0xc3, 0x28}, false)
		}, packet.MalformedPacket},
		{"U+0000 in a topic [MQTT-1.5.4-2]", 0, func(v byte) []byte {
			return publish(v, 0, []byte{'a', 0, 'b'}, false)
		}, packet.MalformedPacket},
		{"wildcard + in a PUBLISH topic [MQTT-3.3.2-2]", 0, func(v byte) []byte {
			return publish(v, 0, []byte("a/+/b"), false)
		}, packet.TopicNameInvalid},
		{"wildcard # in a PUBLISH topic [MQTT-3.3.2-2]", 0, func(v byte) []byte {
			return publish(v, 2, []byte("a/#"), true)
		}, packet.TopicNameInvalid},
		{"empty topic without alias [MQTT-4.7.3-1]", 0, func(v byte) []byte {
			return publish(v, 0, nil, false)
		}, 0},
		{"QoS 3 [MQTT-3.3.1-4]", 0, func(v byte) []byte {
			return publish(v, 6, []byte("a"), true)
		}, packet.MalformedPacket},
		{"DUP at QoS 0 [MQTT-3.3.1-2]", 0, func(v byte) []byte {
			return publish(v, 8, []byte("a"), false)
		}, packet.MalformedPacket},
		{"packet id 0 at QoS 1 [MQTT-2.2.1-3]", 0, func(v byte) []byte {
			b := publish(v, 2, []byte("a"), true)
			b[2+2+1], b[2+2+1+1] = 0, 0
			return b
		}, packet.ProtocolError},
		{"reserved flags of SUBSCRIBE [MQTT-3.8.1-1]", 0, func(v byte) []byte {
			b := encode(t, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}}, v)
			b[0] = 0x80
			return b
		}, packet.MalformedPacket},
		{"reserved flags of PUBREL [MQTT-3.6.1-1]", 0, func(v byte) []byte {
			b := encode(t, &packet.Pubrel{PacketID: 1}, v)
			b[0] = 0x60
			return b
		}, packet.MalformedPacket},
		{"reserved flags of PINGREQ [MQTT-2.1.3-1]", 0, func(byte) []byte { return []byte{0xc1, 0} }, packet.MalformedPacket},
		{"reserved subscription option bits [MQTT-3.8.3-5]", packet.Version5, func(v byte) []byte {
			b := encode(t, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}}, v)
			b[len(b)-1] |= 0xc0
			return b
		}, packet.MalformedPacket},
		{"requested QoS 3 (3.1.1 [MQTT-3-8.3-4], sic)", packet.Version311, func(v byte) []byte {
			b := encode(t, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}}, v)
			b[len(b)-1] = 3
			return b
		}, 0},
		{"reserved packet type 0 (section 2.1.2)", 0, func(byte) []byte { return []byte{0x00, 0x00} }, packet.MalformedPacket},
		{"second CONNECT [MQTT-3.1.0-2]", 0, func(v byte) []byte {
			return encode(t, &packet.Connect{Version: v, ClientID: "again", CleanStart: true}, v)
		}, packet.ProtocolError},
		{"SUBSCRIBE with no filters [MQTT-3.8.3-2]", 0, func(v byte) []byte {
			if v == packet.Version5 {
				return []byte{0x82, 0x03, 0x00, 0x01, 0x00}
			}
			return []byte{0x82, 0x02, 0x00, 0x01}
		}, packet.ProtocolError},
		{"UNSUBSCRIBE with no filters [MQTT-3.10.3-2]", 0, func(v byte) []byte {
			if v == packet.Version5 {
				return []byte{0xa2, 0x03, 0x00, 0x01, 0x00}
			}
			return []byte{0xa2, 0x02, 0x00, 0x01}
		}, packet.ProtocolError},
		{"server-only packet CONNACK", 0, func(v byte) []byte {
			return encode(t, &packet.Connack{}, v)
		}, packet.ProtocolError},
		{"AUTH in 3.1.1", packet.Version311, func(byte) []byte { return []byte{0xf0, 0x00} }, 0},
		{"property not allowed in PUBLISH (2.2.2.2)", packet.Version5, func(byte) []byte {
			// Property 0x11 (Session Expiry) is not allowed in PUBLISH.
			return []byte{0x30, 0x0a, 0x00, 0x01, 'a', 0x05, 0x11, 0, 0, 0, 1, 'x'}
		}, packet.MalformedPacket},
		{"receive maximum exceeded [MQTT-3.3.4-9]", packet.Version5, func(v byte) []byte {
			// QoS 2 publishes stay in flight until PUBREL; the server's
			// receive maximum is 1024.
			var b []byte
			for i := range 1025 {
				b = append(b, encode(t, &packet.Publish{Topic: []byte("rm"), QoS: 2, PacketID: uint16(1 + i)}, v)...)
			}
			return b
		}, packet.ReceiveMaximumExceeded},
	} {
		versions := []byte{packet.Version311, packet.Version5}
		if tc.ver != 0 {
			versions = []byte{tc.ver}
		}
		for _, ver := range versions {
			t.Run(fmt.Sprintf("%s v%d", tc.name, ver), func(t *testing.T) {
				c, _ := connectRaw(t, addr, ver, "bad", true)
				c.writeBytes(tc.input(ver))
				if tc.code == endOfStream {
					if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
						t.Fatal(err)
					}
				}
				got := c.expectClosed()
				var last packet.Packet
				for _, p := range got {
					switch p.(type) {
					case *packet.Pubrec, *packet.Puback:
						continue // acknowledgements of what was fine
					}
					if last != nil {
						t.Fatalf("got %s before the close", describe(got))
					}
					last = p
				}
				switch {
				case ver != packet.Version5 || tc.code == 0 || tc.code == endOfStream:
					if last != nil {
						if d, ok := last.(*packet.Disconnect); !ok || ver != packet.Version5 || !d.ReasonCode.IsError() {
							t.Fatalf("got %s before the close", describe(got))
						}
					}
				default:
					d, ok := last.(*packet.Disconnect)
					if !ok || d.ReasonCode != tc.code {
						t.Fatalf("got %s before the close, want DISCONNECT %v", describe(got), tc.code)
					}
				}
				by.check(t)
			})
		}
	}

	t.Run("CONNECT with reserved flag [MQTT-3.1.2-3]", func(t *testing.T) {
		for _, ver := range []byte{packet.Version311, packet.Version5} {
			c := dialRaw(t, addr, ver)
			b := encode(t, &packet.Connect{Version: ver, ClientID: "rsv", CleanStart: true}, ver)
			b[2+6+1] |= 0x01 // connect flags follow the name (6) and level (1)
			c.writeBytes(b)
			got := c.expectClosed()
			if len(got) > 1 || (len(got) == 1 && !got[0].(*packet.Connack).ReasonCode.IsError()) {
				t.Fatalf("v%d: got %s", ver, describe(got))
			}
		}
		by.check(t)
	})

	t.Run("CONNECT will QoS 3 [MQTT-3.1.2-14]", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version311)
		b := encode(t, &packet.Connect{Version: packet.Version311, ClientID: "wq3", CleanStart: true, Will: &packet.Will{Topic: "w", Payload: []byte("x")}}, packet.Version311)
		b[2+6+1] |= 0x18
		c.writeBytes(b)
		if got := c.expectClosed(); len(got) != 0 {
			t.Fatalf("got %s", describe(got))
		}
		by.check(t)
	})

	t.Run("QoS 2 packet id reused while in flight [MQTT-4.3.3-10]", func(t *testing.T) {
		// Reusing the id of an unreleased QoS 2 PUBLISH means a resend: it is
		// acknowledged again but not delivered twice.
		c, _ := connectRaw(t, addr, packet.Version5, "reuse", true)
		first := &packet.Publish{Topic: []byte("bystander/reuse"), QoS: 2, PacketID: 77, Payload: []byte("first")}
		c.write(first)
		await[*packet.Pubrec](c)
		c.write(&packet.Publish{Topic: []byte("bystander/reuse"), QoS: 2, PacketID: 77, Payload: []byte("reused")})
		if rec := await[*packet.Pubrec](c); rec.PacketID != 77 {
			t.Fatalf("PUBREC %+v", rec)
		}
		c.write(&packet.Pubrel{PacketID: 77})
		await[*packet.Pubcomp](c)
		p := expectPublish(by.c)
		if string(p.Payload) != "first" {
			t.Fatalf("got %q", p.Payload)
		}
		by.c.ack(p)
		// QoS 1 with an id still in flight at QoS 2: no crash, the
		// connection carries on.
		c.write(&packet.Publish{Topic: []byte("bystander/reuse"), QoS: 2, PacketID: 78, Payload: []byte("q2")})
		await[*packet.Pubrec](c)
		c.write(&packet.Publish{Topic: []byte("bystander/reuse"), QoS: 1, PacketID: 78, Payload: []byte("q1")})
		c.write(&packet.Pubrel{PacketID: 78})
		c.ping()
		by.c.ack(expectPublish(by.c))
		by.c.ack(expectPublish(by.c))
		by.check(t)
	})

	t.Run("random garbage never crashes the server", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 60 {
			ver := []byte{packet.Version311, packet.Version5}[i%2]
			c, _ := connectRaw(t, addr, ver, fmt.Sprint("garbage-", i), true)
			junk := make([]byte, 1+rng.IntN(64))
			for j := range junk {
				junk[j] = byte(rng.UintN(256))
			}
			c.writeBytes(junk)
			// The junk may announce more bytes than it has: end the
			// stream so the server sees the end either way.
			if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.expectClosed()
			// Garbage before CONNECT too.
			g := dialRaw(t, addr, ver)
			g.writeBytes(junk)
			g.nc.Close()
		}
		by.check(t)
	})
}
