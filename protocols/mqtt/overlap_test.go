package mqtt_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/memory"
)

// upToMarker returns the PUBLISHes a raw client receives before the one
// carrying marker, acknowledging each unless keep is set.
func upToMarker(c *raw, marker string, ack bool) []*packet.Publish {
	c.t.Helper()
	var got []*packet.Publish
	for {
		p := expectPublish(c)
		if string(p.Payload) == marker {
			c.ack(p)
			return got
		}
		got = append(got, p)
		if ack {
			c.ack(p)
		}
	}
}

// subscribeWithID subscribes to one filter with a subscription identifier.
func subscribeWithID(c *raw, pid uint16, id uint32, s packet.Subscription) {
	c.t.Helper()
	p := &packet.Subscribe{PacketID: pid, Subscriptions: []packet.Subscription{s}}
	if id > 0 {
		p.Properties.SubscriptionIDs = []uint32{id}
	}
	c.write(p)
	if ack := await[*packet.Suback](c); ack.ReasonCodes[0].IsError() {
		c.t.Fatalf("SUBACK %v", ack.ReasonCodes)
	}
}

// TestOverlappingSubscriptionsOneCopy: a message matching several
// subscriptions of one session is delivered once, at the highest QoS they
// granted (never above the publish's), with every matching subscription's
// identifier [MQTT-3.3.4-2] [MQTT-3.3.4-5].
func TestOverlappingSubscriptionsOneCopy(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version5, "ov-pub", true)
	for _, tc := range []struct{ exact, wild, pubQoS, want byte }{
		{0, 0, 2, 0}, {0, 1, 2, 1}, {1, 0, 2, 1}, {1, 2, 2, 2}, {2, 0, 2, 2}, {2, 1, 1, 1}, {0, 2, 0, 0},
	} {
		t.Run(fmt.Sprintf("exact QoS %d wild QoS %d publish QoS %d", tc.exact, tc.wild, tc.pubQoS), func(t *testing.T) {
			id := fmt.Sprintf("ov-%d%d%d", tc.exact, tc.wild, tc.pubQoS)
			topic := "ov/" + id
			c, _ := connectRaw(t, addr, packet.Version5, id, true)
			subscribeWithID(c, 1, 11, packet.Subscription{Filter: topic, QoS: tc.exact})
			subscribeWithID(c, 2, 22, packet.Subscription{Filter: "ov/#", QoS: tc.wild})
			subscribeWithID(c, 3, 33, packet.Subscription{Filter: "+/" + id, QoS: tc.wild})
			subscribeWithID(c, 4, 0, packet.Subscription{Filter: id + "/marker"})
			for i := range 3 {
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: tc.pubQoS, PacketID: uint16(i + 1), Payload: fmt.Append(nil, i)})
			}
			pub.publish(&packet.Publish{Topic: []byte(id + "/marker"), Payload: []byte("marker")})
			got := upToMarker(c, "marker", true)
			if len(got) != 3 {
				t.Fatalf("received %d PUBLISHes for 3 messages", len(got))
			}
			for i, p := range got {
				ids := slices.Clone(p.Properties.SubscriptionIDs)
				slices.Sort(ids)
				if string(p.Payload) != fmt.Sprint(i) || p.QoS != tc.want || !slices.Equal(ids, []uint32{11, 22, 33}) {
					t.Fatalf("PUBLISH %d: %q QoS %d identifiers %v, want QoS %d [11 22 33]", i, p.Payload, p.QoS, ids, tc.want)
				}
			}
			// Nothing comes later through the other subscriptions.
			if extra := c.ping(); len(extra) != 0 {
				t.Fatalf("after the marker: %s", describe(extra))
			}
		})
	}

	// 3.1.1 has no identifiers, and paho.mqtt.golang hands one PUBLISH to
	// the handler of every matching filter, so it cannot count copies; a
	// raw client and mosquitto_sub can.
	t.Run("3.1.1", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version311, "ov-311", true)
		c.subscribe(1, packet.Subscription{Filter: "ov3/a", QoS: 0}, packet.Subscription{Filter: "ov3/#", QoS: 1},
			packet.Subscription{Filter: "ov3/+", QoS: 2})
		pub.publish(&packet.Publish{Topic: []byte("ov3/a"), QoS: 1, PacketID: 9, Payload: []byte("one")})
		pub.publish(&packet.Publish{Topic: []byte("ov3/a/marker"), QoS: 1, PacketID: 10, Payload: []byte("marker")})
		got := upToMarker(c, "marker", true)
		if len(got) != 1 || string(got[0].Payload) != "one" || got[0].QoS != 1 {
			t.Fatalf("got %s, want one PUBLISH at QoS 1", describe(publishes(got)))
		}
	})

	// The example: mosquitto_sub -t 'x/*/y' -t 'x/>' -t 'x/#' gets
	// x/*/y once, and x/q/y (matching only x/#) once.
	t.Run("mosquitto_sub", func(t *testing.T) {
		subBin := requireTool(t, "/usr/bin/mosquitto_sub")
		host, port, _ := net.SplitHostPort(addr)
		for _, v := range []string{"mqttv311", "mqttv5"} {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			id := "ov-mosq-" + v
			cmd := exec.CommandContext(ctx, subBin, "-h", host, "-p", port, "-V", v, "-q", "1", "-i", id,
				"-t", "x/*/y", "-t", "x/>", "-t", "x/#", "-C", "2", "-F", "%t %p")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "mosquitto_sub subscribed", func() bool {
				_, ok := s.Core.Queue("mqtt:" + id + ":x/#")
				return ok
			})
			pub.publish(&packet.Publish{Topic: []byte("x/*/y"), QoS: 1, PacketID: 11, Payload: []byte("star")})
			pub.publish(&packet.Publish{Topic: []byte("x/q/y"), QoS: 1, PacketID: 12, Payload: []byte("plain")})
			if err := cmd.Wait(); err != nil {
				t.Fatalf("mosquitto_sub %s: %v: %q", v, err, out.String())
			}
			if want := "x/*/y star\nx/q/y plain"; strings.TrimSpace(out.String()) != want {
				t.Fatalf("mosquitto_sub %s printed %q, want %q", v, out.String(), want)
			}
		}
	})
}

func publishes(ps []*packet.Publish) []packet.Packet {
	out := make([]packet.Packet, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// TestOverlappingSubscriptionsRedelivery: the one copy of a message
// matching two subscriptions of a persistent session comes again (once)
// when the client dropped it unacknowledged, never again once acknowledged,
// and the same holds across broker restarts with the messages stored.
func TestOverlappingSubscriptionsRedelivery(t *testing.T) {
	store := memory.New()
	start := func() *server.Server { return servertest.Start(t, servertest.Options{Store: store}) }
	restart := func(s *server.Server) *server.Server {
		if err := s.Shutdown(); err != nil {
			t.Fatal(err)
		}
		store.Reopen()
		return start()
	}
	s := start()
	for _, qos := range []byte{1, 2} {
		id := fmt.Sprint("ovr-", qos)
		c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, id, false)
		c.subscribe(1, packet.Subscription{Filter: id + "/a", QoS: qos}, packet.Subscription{Filter: id + "/#", QoS: qos},
			packet.Subscription{Filter: "mark/" + id})
		c.write(&packet.Disconnect{})
		c.expectClosed()
	}
	publish := func(s *server.Server, payloads ...string) {
		pub, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, "ovr-pub", true)
		for _, qos := range []byte{1, 2} {
			for i, p := range payloads {
				pub.publish(&packet.Publish{Topic: fmt.Appendf(nil, "ovr-%d/a", qos), QoS: 2, PacketID: uint16(i + 1), Payload: []byte(p)})
			}
			pub.publish(&packet.Publish{Topic: fmt.Appendf(nil, "mark/ovr-%d", qos), QoS: 1, PacketID: 100, Payload: []byte("marker")})
		}
		pub.write(&packet.Disconnect{})
		pub.expectClosed()
	}
	// receive reconnects each session and returns what it got up to the
	// marker; ack says whether the client acknowledges them.
	receive := func(s *server.Server, qos byte, ack bool) []string {
		t.Helper()
		c, conn := connectRaw(t, s.Addr("mqtt"), packet.Version5, fmt.Sprint("ovr-", qos), false)
		if !conn.SessionPresent {
			t.Fatal("session not present")
		}
		// After a restart the subscriptions' queues are resumed in no
		// particular order, so the marker may come first; everything the
		// resume dispatched is written before the PINGRESP.
		ps := upToMarker(c, "marker", ack)
		for _, p := range c.ping() {
			if p, ok := p.(*packet.Publish); ok {
				ps = append(ps, p)
				if ack {
					c.ack(p)
				}
			}
		}
		var got []string
		for _, p := range ps {
			if p.QoS != qos {
				t.Fatalf("%q at QoS %d, want %d", p.Payload, p.QoS, qos)
			}
			got = append(got, string(p.Payload))
		}
		if ack {
			c.write(&packet.Disconnect{})
			c.expectClosed()
		} else {
			c.nc.Close()
			// The marker is subscribed at QoS 0: one published while the
			// broker still writes to this dropped connection is lost, as
			// QoS 0 may be. Publish the next only once it has noticed.
			eventually(t, "the broker to notice the dropped connection", func() bool { return mqttState(s).Connections == 0 })
		}
		return got
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}

	publish(s, "m1", "m2")
	s = restart(s)
	for _, qos := range []byte{1, 2} {
		// The marker is published again each time: a copy of it is
		// consumed by each receive.
		check("after a restart", receive(s, qos, false), "m1", "m2")
	}
	publish(s)
	for _, qos := range []byte{1, 2} {
		check("dropped unacknowledged", receive(s, qos, true), "m1", "m2")
	}
	publish(s, "m3")
	s = restart(s)
	for _, qos := range []byte{1, 2} {
		check("acknowledged, then restarted", receive(s, qos, true), "m3")
	}
	publish(s)
	s = restart(s)
	for _, qos := range []byte{1, 2} {
		check("all acknowledged", receive(s, qos, true))
	}
}

// TestOverlappingSubscriptionsUnderReceiveMaximum: with a receive maximum
// of 2 most copies wait for a slot; each message still arrives once, in
// order, and the held-back copies of the other subscriptions free their
// credit when the sent copy is acknowledged.
func TestOverlappingSubscriptionsUnderReceiveMaximum(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c := dialRaw(t, addr, packet.Version5)
	cp := &packet.Connect{ClientID: "ov-rm", CleanStart: true, KeepAlive: 30}
	cp.Properties.ReceiveMaximum = 2
	cp.Properties.Set(packet.PropReceiveMaximum)
	c.mustConnect(cp)
	c.subscribe(1, packet.Subscription{Filter: "rm/a", QoS: 1}, packet.Subscription{Filter: "rm/#", QoS: 2},
		packet.Subscription{Filter: "+/a", QoS: 1})
	pub, _ := connectRaw(t, addr, packet.Version5, "ov-rm-pub", true)
	const n = 200
	var batch []byte
	for i := range n {
		batch, _ = (&packet.Publish{Topic: []byte("rm/a"), QoS: 2, PacketID: uint16(i + 1), Payload: fmt.Append(nil, i)}).Append(batch, packet.Version5)
	}
	pub.writeBytes(batch)
	for i := range n {
		if rec := await[*packet.Pubrec](pub); rec.ReasonCode.IsError() {
			t.Fatalf("PUBREC %d: %v", i, rec.ReasonCode)
		}
	}
	for i := range n {
		p := expectPublish(c)
		if string(p.Payload) != fmt.Sprint(i) || p.QoS != 2 {
			t.Fatalf("PUBLISH %d: %q QoS %d", i, p.Payload, p.QoS)
		}
		c.ack(p)
	}
	// Whatever the last acknowledgements freed is written before the
	// PINGRESP: no copy comes through another subscription.
	if extra := publishesIn(c.ping()); len(extra) != 0 {
		t.Fatalf("%d more PUBLISHes after all %d messages, the first %q", len(extra), n, extra[0].Payload)
	}
	for _, q := range []string{"mqtt:ov-rm:rm/a", "mqtt:ov-rm:rm/#", "mqtt:ov-rm:+/a"} {
		qq, _ := s.Core.Queue(q)
		eventually(t, q+" empty", func() bool { return qq.Stats().Messages == 0 })
	}
}

func publishesIn(ps []packet.Packet) []*packet.Publish {
	var out []*packet.Publish
	for _, p := range ps {
		if p, ok := p.(*packet.Publish); ok {
			out = append(out, p)
		}
	}
	return out
}
