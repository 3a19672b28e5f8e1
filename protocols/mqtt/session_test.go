package mqtt_test

import (
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/memory"
)

// TestPersistentSessionOffline: a persistent session keeps its
// subscriptions, and QoS 1 and 2 messages published while the client is away
// wait for it [MQTT-3.1.2-5] (3.1.1 [MQTT-3.1.2-4] [MQTT-3.1.2-5]).
func TestPersistentSessionOffline(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub := dial3(t, addr, "away-pub", nil)

	for _, ver := range []byte{packet.Version31, packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			id := fmt.Sprintf("away-%d", ver)
			topic := fmt.Sprintf("away/%d", ver)
			c, _ := connectRaw(t, addr, ver, id, false)
			c.subscribe(1, packet.Subscription{Filter: topic + "/#", QoS: 2})
			c.write(&packet.Disconnect{})
			c.expectClosed()

			for i := range 3 {
				pub.pub(topic+"/x", byte(1+i%2), false, fmt.Sprint("m", i))
			}

			c, ack := connectRaw(t, addr, ver, id, false)
			if ver != packet.Version31 && !ack.SessionPresent {
				t.Fatal("session present not set")
			}
			for i := range 3 {
				p := expectPublish(c)
				if string(p.Payload) != fmt.Sprint("m", i) || p.QoS != byte(1+i%2) || string(p.Topic) != topic+"/x" {
					t.Fatalf("message %d: %q QoS %d on %s", i, p.Payload, p.QoS, p.Topic)
				}
				c.ack(p)
			}
			// Acknowledged means gone: a third connection gets nothing old.
			c.write(&packet.Disconnect{})
			c.expectClosed()
			c, _ = connectRaw(t, addr, ver, id, false)
			pub.pub(topic+"/end", 1, false, "end")
			if p := expectPublish(c); string(p.Payload) != "end" {
				t.Fatalf("got %q again after it was acknowledged", p.Payload)
			}
		})
	}

	t.Run("paho 3.1.1", func(t *testing.T) {
		opts := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }
		c := dial3(t, addr, "away-paho3", opts)
		c.sub("away/paho3", 1)
		c.c.Disconnect(100)
		pub.pub("away/paho3", 1, false, "while away")
		c = dial3(t, addr, "away-paho3", opts)
		if m := c.recv(); m.payload != "while away" || m.qos != 1 {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("paho 5.0", func(t *testing.T) {
		cp := func() *paho.Connect {
			return &paho.Connect{ClientID: "away-paho5", Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(300))}}
		}
		c, _ := dial5(t, addr, cp())
		c.sub(paho.SubscribeOptions{Topic: "away/paho5", QoS: 1})
		if err := c.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		pub.pub("away/paho5", 1, false, "while away")
		c, ack := dial5(t, addr, cp())
		if !ack.SessionPresent {
			t.Fatal("session present not set")
		}
		if m := c.recv(); string(m.Payload) != "while away" || m.QoS != 1 {
			t.Fatalf("got %q QoS %d", m.Payload, m.QoS)
		}
	})
}

// TestPersistentSessionRestart: persistent sessions, their subscriptions,
// the QoS 1 messages waiting for them and retained messages survive a broker
// restart.
func TestPersistentSessionRestart(t *testing.T) {
	t.Run("memory store", func(t *testing.T) {
		store := memory.New()
		testRestart(t, func() *server.Server { return servertest.Start(t, servertest.Options{Store: store}) }, store.Reopen)
	})
	t.Run("journal", func(t *testing.T) {
		dir := t.TempDir()
		cfg := func(c *config.Config) { c.Store.Type, c.Data = "journal", dir }
		testRestart(t, func() *server.Server { return servertest.Start(t, servertest.Options{Config: cfg}) }, func() {})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		cfg := func(c *config.Config) { c.Store.Type, c.Store.URL = "postgres", url }
		testRestart(t, func() *server.Server { return servertest.Start(t, servertest.Options{Config: cfg}) }, func() {})
	})
}

// testRestart runs the restart scenario: start starts a broker on the same
// store each time, reopen readies the store after a shutdown.
func testRestart(t *testing.T, start func() *server.Server, reopen func()) {
	s1 := start()
	addr := s1.Addr("mqtt")

	c3, _ := connectRaw(t, addr, packet.Version311, "restart-3", false)
	c3.subscribe(1, packet.Subscription{Filter: "restart/+/t", QoS: 1})
	c3.write(&packet.Disconnect{})
	c3.expectClosed()
	c5, _ := connectRaw(t, addr, packet.Version5, "restart-5", false)
	c5.subscribe(1, packet.Subscription{Filter: "restart/#", QoS: 2})
	c5.write(&packet.Disconnect{})
	c5.expectClosed()

	pub, _ := connectRaw(t, addr, packet.Version311, "restart-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("restart/a/t"), QoS: 1, PacketID: 1, Payload: []byte("q1")})
	pub.publish(&packet.Publish{Topic: []byte("restart/b/t"), QoS: 2, PacketID: 2, Payload: []byte("q2")})
	pub.publish(&packet.Publish{Topic: []byte("restart/kept"), QoS: 1, PacketID: 3, Retain: true, Payload: []byte("retained")})
	if err := s1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	reopen()

	s2 := start()
	addr = s2.Addr("mqtt")
	if st := mqttState(s2); st.Sessions != 2 || st.Retained != 1 {
		t.Fatalf("recovered %+v, want 2 sessions and 1 retained message", st)
	}

	c3, ack := connectRaw(t, addr, packet.Version311, "restart-3", false)
	if !ack.SessionPresent {
		t.Fatal("3.1.1 session not present after the restart")
	}
	for _, want := range []string{"q1", "q2"} {
		p := expectPublish(c3)
		if string(p.Payload) != want || p.QoS != 1 {
			t.Fatalf("3.1.1: got %q QoS %d, want %q QoS 1", p.Payload, p.QoS, want)
		}
		c3.ack(p)
	}

	c5, ack = connectRaw(t, addr, packet.Version5, "restart-5", false)
	if !ack.SessionPresent {
		t.Fatal("5.0 session not present after the restart")
	}
	got := map[string]byte{}
	for range 3 {
		p := expectPublish(c5)
		got[string(p.Payload)] = p.QoS
		c5.ack(p)
	}
	if want := map[string]byte{"q1": 1, "q2": 2, "retained": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("5.0 got %v, want %v", got, want)
	}

	// The retained message is still there for new subscribers.
	n, _ := connectRaw(t, addr, packet.Version311, "restart-new", true)
	n.subscribe(1, packet.Subscription{Filter: "restart/kept", QoS: 1})
	if p := expectPublish(n); string(p.Payload) != "retained" || !p.Retain {
		t.Fatalf("got %q retain %v", p.Payload, p.Retain)
	}
}

// TestResendUnacknowledged: on reconnect with a persistent session the
// server resends unacknowledged PUBLISHes with DUP set and their original
// packet identifiers, and PUBRELs of unfinished QoS 2 exchanges
// [MQTT-4.4.0-1] [MQTT-3.3.1-1] (3.1.1 [MQTT-4.4.0-1]).
func TestResendUnacknowledged(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version311, "dup-pub", true)

	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("QoS 1 v%d", ver), func(t *testing.T) {
			id := fmt.Sprintf("dup1-%d", ver)
			topic := fmt.Sprintf("dup1/%d", ver)
			c, _ := connectRaw(t, addr, ver, id, false)
			c.subscribe(1, packet.Subscription{Filter: topic, QoS: 1})
			// Burn a few packet ids so the resend's id is not 1 by chance.
			for i := range 3 {
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: 10, Payload: []byte(fmt.Sprint("warm", i))})
				c.ack(expectPublish(c))
			}
			// The PUBACKs are handled before the connection drops below: an
			// acknowledgement still unread then would rightly mean a resend.
			c.ping()
			var first []*packet.Publish
			for i := range 3 {
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: 11, Payload: fmt.Append(nil, "unacked ", i)})
				p := expectPublish(c)
				if p.Dup {
					t.Fatal("first delivery has DUP set [MQTT-3.3.1-3]")
				}
				first = append(first, p)
			}
			c.nc.Close() // no PUBACK, no DISCONNECT

			c, ack := connectRaw(t, addr, ver, id, false)
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			// Resent in the original order [MQTT-4.6.0-1].
			for _, f := range first {
				again := expectPublish(c)
				if string(again.Payload) != string(f.Payload) || !again.Dup || again.PacketID != f.PacketID || again.QoS != 1 {
					t.Fatalf("resend: %q DUP %v packet id %d QoS %d; want %q DUP true packet id %d QoS 1",
						again.Payload, again.Dup, again.PacketID, again.QoS, f.Payload, f.PacketID)
				}
				c.ack(again)
			}
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: 12, Payload: []byte("next")})
			if p := expectPublish(c); string(p.Payload) != "next" || p.Dup {
				t.Fatalf("after the resend: %q DUP %v", p.Payload, p.Dup)
			}
		})

		t.Run(fmt.Sprintf("QoS 2 v%d", ver), func(t *testing.T) {
			id := fmt.Sprintf("dup2-%d", ver)
			topic := fmt.Sprintf("dup2/%d", ver)
			c, _ := connectRaw(t, addr, ver, id, false)
			c.subscribe(1, packet.Subscription{Filter: topic, QoS: 2})

			// PUBLISH not acknowledged at all: resent with DUP.
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 2, PacketID: 20, Payload: []byte("no-pubrec")})
			first := expectPublish(c)
			c.nc.Close()
			c, _ = connectRaw(t, addr, ver, id, false)
			again := expectPublish(c)
			if !again.Dup || again.PacketID != first.PacketID || string(again.Payload) != "no-pubrec" {
				t.Fatalf("resend: %q DUP %v id %d, want DUP and id %d", again.Payload, again.Dup, again.PacketID, first.PacketID)
			}

			// PUBREC sent, PUBREL received, no PUBCOMP: the PUBREL is resent,
			// not the PUBLISH.
			c.write(&packet.Pubrec{PacketID: again.PacketID})
			rel := await[*packet.Pubrel](c)
			c.nc.Close()
			c, _ = connectRaw(t, addr, ver, id, false)
			rel2 := expect[*packet.Pubrel](c)
			if rel2.PacketID != rel.PacketID {
				t.Fatalf("PUBREL resent for %d, want %d", rel2.PacketID, rel.PacketID)
			}
			c.write(&packet.Pubcomp{PacketID: rel2.PacketID})
			pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 2, PacketID: 21, Payload: []byte("next")})
			p := expectPublish(c)
			if string(p.Payload) != "next" || p.Dup {
				t.Fatalf("after the exchange: %q DUP %v", p.Payload, p.Dup)
			}
			c.ack(p)
		})
	}
}
