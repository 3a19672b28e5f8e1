package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	packets3 "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/protocols/transport"
	"github.com/junctionmq/junction/storage/memory"
)

// startMQTT runs an MQTT server built directly from mqtt.Options (for the
// options the broker configuration does not expose) and returns its address.
func startMQTT(t *testing.T, opts mqtt.Options) string {
	t.Helper()
	addr, _ := startMQTTWith(t, opts, core.Config{})
	return addr
}

// startMQTTWith is startMQTT on a core configured by cfg, which it returns.
func startMQTTWith(t *testing.T, opts mqtt.Options, cfg core.Config) (string, *core.Broker) {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("JUNCTION_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Store, cfg.Logger = memory.New(), log
	cb, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts.Broker, opts.Logger = cb, log
	m := mqtt.NewServer(opts)
	ln, err := transport.ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := transport.NewServer(log)
	served := make(chan error, 1)
	go func() { served <- ts.Serve("mqtt", ln, m) }()
	t.Cleanup(func() {
		m.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = ts.Shutdown(ctx)
		<-served
		_ = cb.Close()
	})
	return ln.Addr().String(), cb
}

// connectBytes encodes a CONNECT and lets the test rewrite its protocol name
// and level: the codec refuses to encode what it does not speak.
func connectBytes(t *testing.T, ver byte, name string, level byte) []byte {
	t.Helper()
	b, err := (&packet.Connect{Version: ver, ClientID: "lvl", CleanStart: true, KeepAlive: 30}).Append(nil, ver)
	if err != nil {
		t.Fatal(err)
	}
	// Fixed header (2 bytes for a small packet), then the protocol name as
	// a UTF-8 string and the level.
	oldName := 4
	if ver == packet.Version31 {
		oldName = 6
	}
	body := append([]byte{0, byte(len(name))}, name...)
	body = append(body, level)
	body = append(body, b[2+2+oldName+1:]...)
	out := []byte{b[0], byte(len(body))}
	return append(out, body...)
}

// TestConnectProtocolLevel: a level the server does not speak is refused
// with return code 0x01 (3.1.1 [MQTT-3.1.2-2]) or reason code 0x84 (5.0
// [MQTT-3.1.2-2]) and the connection is closed.
func TestConnectProtocolLevel(t *testing.T) {
	s := startBroker(t, nil)
	for _, tc := range []struct {
		name     string
		raw      []byte
		readAs   byte // how the CONNACK is encoded
		wantCode packet.ReasonCode
	}{
		{"level 6 (future)", connectBytes(t, packet.Version311, "MQTT", 6), packet.Version311, packet.ConnRefusedProtocolVersion},
		{"level 2", connectBytes(t, packet.Version311, "MQTT", 2), packet.Version311, packet.ConnRefusedProtocolVersion},
		{"level 3 with name MQTT", connectBytes(t, packet.Version311, "MQTT", 3), packet.Version311, packet.ConnRefusedProtocolVersion},
		{"level 4 with name MQIsdp", connectBytes(t, packet.Version311, "MQIsdp", 4), packet.Version311, packet.ConnRefusedProtocolVersion},
		{"level 5 with name MQIsdp", connectBytes(t, packet.Version5, "MQIsdp", 5), packet.Version5, packet.UnsupportedProtocolVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s.Addr("mqtt"), tc.readAs)
			c.writeBytes(tc.raw)
			got := c.expectClosed()
			if len(got) != 1 {
				t.Fatalf("got %s, want one CONNACK then close", describe(got))
			}
			ack, ok := got[0].(*packet.Connack)
			if !ok || ack.ReasonCode != tc.wantCode || ack.SessionPresent {
				t.Fatalf("got %s, want CONNACK %#x", describe(got), byte(tc.wantCode))
			}
		})
	}

	// The levels the server speaks are accepted.
	for _, ver := range []byte{packet.Version31, packet.Version311, packet.Version5} {
		c := dialRaw(t, s.Addr("mqtt"), ver)
		c.mustConnect(&packet.Connect{ClientID: "v" + string('0'+ver), CleanStart: true, KeepAlive: 30})
	}
}

// TestConnectFirstPacket: anything but CONNECT first closes the connection
// [MQTT-3.1.0-1].
func TestConnectFirstPacket(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
	c.write(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}})
	if got := c.expectClosed(); len(got) != 0 {
		t.Fatalf("got %s, want the connection closed", describe(got))
	}
}

// TestConnectClientID covers the client identifier rules.
func TestConnectClientID(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")

	t.Run("3.1.1 empty id with clean session is assigned [MQTT-3.1.3-6]", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version311)
		c.mustConnect(&packet.Connect{CleanStart: true, KeepAlive: 30})
		// The connection works: it can subscribe and receive.
		c.subscribe(1, packet.Subscription{Filter: "cid/empty", QoS: 1})
		c.publish(&packet.Publish{Topic: []byte("cid/empty"), QoS: 1, PacketID: 2, Payload: []byte("x")})
		if p := expectPublish(c); string(p.Payload) != "x" {
			t.Fatalf("payload %q", p.Payload)
		}
	})

	t.Run("3.1.1 empty id without clean session is refused with 0x02 [MQTT-3.1.3-8]", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version311)
		c.write(&packet.Connect{Version: packet.Version311, KeepAlive: 30})
		got := c.expectClosed()
		if len(got) != 1 || got[0].(*packet.Connack).ReasonCode != packet.ConnRefusedIdentifierRejected {
			t.Fatalf("got %s, want CONNACK 0x02 then close [MQTT-3.2.2-5]", describe(got))
		}
	})

	t.Run("3.1.1 paho with empty id and clean session", func(t *testing.T) {
		cl := dial3(t, addr, "", nil)
		cl.sub("cid/paho", 1)
		cl.pub("cid/paho", 1, false, "p")
		if m := cl.recv(); m.payload != "p" {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("5.0 empty id gets an Assigned Client Identifier [MQTT-3.2.2-16]", func(t *testing.T) {
		seen := map[string]bool{}
		for _, clean := range []bool{true, false, true} {
			c := dialRaw(t, addr, packet.Version5)
			ack := c.mustConnect(&packet.Connect{CleanStart: clean, KeepAlive: 30})
			id := ack.Properties.AssignedClientID
			if !ack.Properties.Has(packet.PropAssignedClientID) || id == "" {
				t.Fatalf("clean=%v: CONNACK without an Assigned Client Identifier: %+v", clean, ack.Properties)
			}
			if seen[id] {
				t.Fatalf("assigned client id %q given twice", id)
			}
			seen[id] = true
			if ack.SessionPresent {
				t.Fatal("a new assigned client id has no session")
			}
		}
	})

	t.Run("5.0 paho sees the assigned id", func(t *testing.T) {
		cl, ack := dial5(t, addr, &paho.Connect{CleanStart: true})
		if ack.Properties == nil || ack.Properties.AssignedClientID == "" || cl.ClientID() != ack.Properties.AssignedClientID {
			t.Fatalf("connack properties %+v, client id %q", ack.Properties, cl.ClientID())
		}
	})

	t.Run("5.0 given id is not echoed", func(t *testing.T) {
		c := dialRaw(t, addr, packet.Version5)
		ack := c.mustConnect(&packet.Connect{ClientID: "given", CleanStart: true, KeepAlive: 30})
		if ack.Properties.Has(packet.PropAssignedClientID) {
			t.Fatalf("assigned %q to a client that chose its id", ack.Properties.AssignedClientID)
		}
	})
}

// TestConnectAuthentication: with a users file, the user name and password
// are checked and anonymous clients are refused.
func TestConnectAuthentication(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ver            byte
		user, pass     string
		hasUser, hasPw bool
		want           packet.ReasonCode
	}{
		{"3.1.1 right password", packet.Version311, "alice", "secret", true, true, packet.ConnAccepted},
		{"3.1.1 wrong password 0x04 (3.1.1 table 3.1)", packet.Version311, "alice", "wrong", true, true, packet.ConnRefusedBadUserNameOrPassword},
		{"3.1.1 unknown user 0x04", packet.Version311, "mallory", "secret", true, true, packet.ConnRefusedBadUserNameOrPassword},
		{"3.1.1 user without password 0x04", packet.Version311, "alice", "", true, false, packet.ConnRefusedBadUserNameOrPassword},
		{"3.1.1 anonymous denied 0x05", packet.Version311, "", "", false, false, packet.ConnRefusedNotAuthorized},
		{"3.1 right password", packet.Version31, "alice", "secret", true, true, packet.ConnAccepted},
		{"3.1 wrong password 0x04", packet.Version31, "alice", "nope", true, true, packet.ConnRefusedBadUserNameOrPassword},
		{"3.1 anonymous denied 0x05", packet.Version31, "", "", false, false, packet.ConnRefusedNotAuthorized},
		{"5.0 right password", packet.Version5, "alice", "secret", true, true, packet.Success},
		{"5.0 wrong password 0x86", packet.Version5, "alice", "wrong", true, true, packet.BadUserNameOrPassword},
		{"5.0 unknown user 0x86", packet.Version5, "mallory", "x", true, true, packet.BadUserNameOrPassword},
		{"5.0 anonymous denied 0x87", packet.Version5, "", "", false, false, packet.NotAuthorized},
		{"5.0 password without user name is anonymous 0x87", packet.Version5, "", "secret", false, true, packet.NotAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One broker per case: failed logins from one address are
			// throttled after a few attempts.
			s := startBroker(t, withUsers(t, false, nil, "alice", "secret"))
			c := dialRaw(t, s.Addr("mqtt"), tc.ver)
			c.write(&packet.Connect{Version: tc.ver, ClientID: "auth", CleanStart: true, KeepAlive: 30,
				HasUsername: tc.hasUser, Username: tc.user, HasPassword: tc.hasPw, Password: []byte(tc.pass)})
			ack := expect[*packet.Connack](c)
			if ack.ReasonCode != tc.want {
				t.Fatalf("CONNACK %#x (%s), want %#x", byte(ack.ReasonCode), ack.Properties.ReasonString, byte(tc.want))
			}
			if tc.want != packet.Success {
				if ack.SessionPresent {
					t.Fatal("refusal with session present set [MQTT-3.2.2-6]")
				}
				if got := c.expectClosed(); len(got) != 0 {
					t.Fatalf("after the refusal got %s", describe(got))
				}
				return
			}
			// Accepted: the connection is usable.
			if before := c.ping(); len(before) != 0 {
				t.Fatalf("unexpected %s", describe(before))
			}
		})
	}

	t.Run("paho clients", func(t *testing.T) {
		s := startBroker(t, withUsers(t, false, nil, "alice", "secret"))
		addr := s.Addr("mqtt")
		_, err := tryDial3(t, addr, "p1", func(o *mqtt3.ClientOptions) { o.SetUsername("alice").SetPassword("bad") })
		if !errors.Is(err, packets3.ErrorRefusedBadUsernameOrPassword) {
			t.Fatalf("paho 3.1.1 with a wrong password: %v", err)
		}
		ok := dial3(t, addr, "p2", func(o *mqtt3.ClientOptions) { o.SetUsername("alice").SetPassword("secret") })
		ok.sub("auth/t", 1)
		ok.pub("auth/t", 1, false, "in")
		ok.recvOnly("in")

		_, ack, err := tryDial5(t, addr, &paho.Connect{ClientID: "p3", CleanStart: true, UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("bad")}, nil)
		if err == nil || ack == nil || ack.ReasonCode != byte(packet.BadUserNameOrPassword) {
			t.Fatalf("paho 5.0 with a wrong password: %v, %+v", err, ack)
		}
		dial5(t, addr, &paho.Connect{ClientID: "p4", CleanStart: true, UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("secret")})
	})
}

// TestConnectAnonymousAllowed: with anonymous access on, a client without
// credentials gets in and a wrong password is still refused.
func TestConnectAnonymousAllowed(t *testing.T) {
	s := startBroker(t, withUsers(t, true, nil, "alice", "secret"))
	c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
	c.mustConnect(&packet.Connect{ClientID: "anon", CleanStart: true, KeepAlive: 30})
	c2 := dialRaw(t, s.Addr("mqtt"), packet.Version311)
	ack := c2.connect(&packet.Connect{ClientID: "bad", CleanStart: true, KeepAlive: 30, HasUsername: true, Username: "alice", HasPassword: true, Password: []byte("x")})
	if ack.ReasonCode != packet.ConnRefusedBadUserNameOrPassword {
		t.Fatalf("CONNACK %#x, want 0x04", byte(ack.ReasonCode))
	}
}

// TestKeepAlive: a client silent for 1.5 times its keep-alive is
// disconnected [MQTT-3.1.2-24] (3.1.1 [MQTT-3.1.2-24]); one that pings in
// time stays connected; 5.0 is told why (0x8D).
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	s := startBroker(t, nil)
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run("silent v"+string('0'+ver), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, s.Addr("mqtt"), ver)
			// The server's clock starts when it reads the CONNECT, after
			// this: the disconnect cannot come sooner than 1.5 s from here,
			// however loaded the machine. How much later is up to the
			// scheduler; expectDisconnect bounds it. The lower bound catches
			// the mutation "disconnect after 1x keep-alive".
			start := time.Now()
			c.mustConnect(&packet.Connect{ClientID: "ka-" + string('0'+ver), CleanStart: true, KeepAlive: 1})
			c.expectDisconnect(packet.KeepAliveTimeout)
			if took := time.Since(start); took < 1450*time.Millisecond {
				t.Fatalf("disconnected after %v, before 1.5 times the keep-alive [MQTT-3.1.2-24]", took)
			}
		})
	}

	t.Run("pinging client stays", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
		c.mustConnect(&packet.Connect{ClientID: "ka-ping", CleanStart: true, KeepAlive: 1})
		// A silent connection opened after this one marks the moment the
		// keep-alive would have ended it; until then, ping well inside the
		// keep-alive (a pause of 200 ms leaves 1.3 s for a slow scheduler).
		silent := dialRaw(t, s.Addr("mqtt"), packet.Version311)
		silent.mustConnect(&packet.Connect{ClientID: "ka-ping-mark", CleanStart: true, KeepAlive: 1})
		marked := make(chan struct{})
		go func() {
			defer close(marked)
			_, _ = silent.read(waitFor) // EOF when the server cuts it off
		}()
		for pinging := true; pinging; {
			select {
			case <-marked:
				pinging = false
			case <-time.After(200 * time.Millisecond):
			}
			if got := c.ping(); len(got) != 0 {
				t.Fatalf("got %s", describe(got))
			}
		}
	})

	t.Run("keep-alive 0 disables the check", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr("mqtt"), packet.Version311)
		c.mustConnect(&packet.Connect{ClientID: "ka-0", CleanStart: true, KeepAlive: 0})
		// A connection with a 1 s keep-alive, opened after this one, is cut
		// off: by then a keep-alive check would have ended this one too.
		// Catches the mutation "keep-alive 0 treated as the smallest".
		marker := dialRaw(t, s.Addr("mqtt"), packet.Version5)
		marker.mustConnect(&packet.Connect{ClientID: "ka-0-mark", CleanStart: true, KeepAlive: 1})
		marker.expectDisconnect(packet.KeepAliveTimeout)
		if got := c.ping(); len(got) != 0 {
			t.Fatalf("got %s", describe(got))
		}
	})
}

// TestServerKeepAlive: a 5.0 client asking for more keep-alive than the
// server allows (or none) is told the Server Keep Alive in CONNACK and held
// to it [MQTT-3.2.2-21] [MQTT-3.2.2-22].
func TestServerKeepAlive(t *testing.T) {
	t.Parallel()
	addr := startMQTT(t, mqtt.Options{MaxKeepAlive: time.Second})
	for _, tc := range []struct {
		asked      uint16
		wantServer bool
	}{{0, true}, {60, true}, {1, false}} {
		t.Run(fmt.Sprint("asked ", tc.asked), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr, packet.Version5)
			ack := c.mustConnect(&packet.Connect{ClientID: fmt.Sprint("ska-", tc.asked), CleanStart: true, KeepAlive: tc.asked})
			if got := ack.Properties.Has(packet.PropServerKeepAlive); got != tc.wantServer {
				t.Fatalf("asked %ds: Server Keep Alive present %v, want %v", tc.asked, got, tc.wantServer)
			}
			if tc.wantServer && ack.Properties.ServerKeepAlive != 1 {
				t.Fatalf("asked %ds: Server Keep Alive %d, want 1", tc.asked, ack.Properties.ServerKeepAlive)
			}
			// expectDisconnect waits 5 s at most: the server holds the
			// client to its own 1 s (cut off after 1.5 s), not the 60 s or
			// none asked for.
			c.expectDisconnect(packet.KeepAliveTimeout)
		})
	}

	// paho adopts the server's keep-alive and pings in time.
	t.Run("paho", func(t *testing.T) {
		t.Parallel()
		cl, ack := dial5(t, addr, &paho.Connect{ClientID: "ska-paho", CleanStart: true, KeepAlive: 120})
		if ack.Properties == nil || ack.Properties.ServerKeepAlive == nil || *ack.Properties.ServerKeepAlive != 1 {
			t.Fatalf("CONNACK properties %+v", ack.Properties)
		}
		// A silent connection opened after paho's is cut off after 1.5 s:
		// by then paho must have pinged, or it would be cut off too.
		marker := dialRaw(t, addr, packet.Version5)
		marker.mustConnect(&packet.Connect{ClientID: "ska-paho-mark", CleanStart: true, KeepAlive: 60})
		marker.expectDisconnect(packet.KeepAliveTimeout)
		select {
		case d := <-cl.Disconnects:
			t.Fatalf("paho disconnected: %+v", d)
		case <-cl.Done():
			t.Fatal("paho connection ended")
		default:
		}
	})
}

// TestSessionTakeover: a second connection with the same client id closes
// the first [MQTT-3.1.4-3]; a 5.0 client is sent DISCONNECT 0x8E first.
func TestSessionTakeover(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")

	t.Run("3.1.1 paho", func(t *testing.T) {
		first := dial3(t, addr, "twin", func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) })
		first.sub("twin/t", 1)
		second, ack := connectRaw(t, addr, packet.Version311, "twin", false)
		if !ack.SessionPresent {
			t.Fatal("taking over a persistent session: session present not set [MQTT-3.2.2-2]")
		}
		select {
		case <-first.lost:
		case <-time.After(waitFor):
			t.Fatal("the first connection was not closed")
		}
		// The session, subscription included, now belongs to the second.
		second.publish(&packet.Publish{Topic: []byte("twin/t"), QoS: 1, PacketID: 1, Payload: []byte("after")})
		p := expectPublish(second)
		if string(p.Payload) != "after" {
			t.Fatalf("got %q", p.Payload)
		}
		second.ack(p)
	})

	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run("raw v"+string('0'+ver), func(t *testing.T) {
			id := "twin-raw-" + string('0'+ver)
			first, _ := connectRaw(t, addr, ver, id, true)
			second, ack := connectRaw(t, addr, ver, id, true)
			if ack.SessionPresent {
				t.Fatal("clean start reported a session present")
			}
			first.expectDisconnect(packet.SessionTakenOver)
			if got := second.ping(); len(got) != 0 {
				t.Fatalf("second connection got %s", describe(got))
			}
		})
	}

	t.Run("paho 5.0 sees 0x8E", func(t *testing.T) {
		first, _ := dial5(t, addr, &paho.Connect{ClientID: "twin5", CleanStart: true})
		dial5(t, addr, &paho.Connect{ClientID: "twin5", CleanStart: true})
		select {
		case d := <-first.Disconnects:
			if d.ReasonCode != byte(packet.SessionTakenOver) {
				t.Fatalf("DISCONNECT %#x, want 0x8E", d.ReasonCode)
			}
		case <-time.After(waitFor):
			t.Fatal("no DISCONNECT on the first connection")
		}
	})
}

// TestCleanSession3: 3.1.1 clean session semantics [MQTT-3.1.2-4]..[-6],
// session present [MQTT-3.2.2-1] [MQTT-3.2.2-2].
func TestCleanSession3(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c, ack := connectRaw(t, addr, packet.Version311, "cs", false)
	if ack.SessionPresent {
		t.Fatal("first connection: session present")
	}
	c.subscribe(1, packet.Subscription{Filter: "cs/t", QoS: 1})
	c.write(&packet.Disconnect{})
	c.expectClosed()

	c, ack = connectRaw(t, addr, packet.Version311, "cs", false)
	if !ack.SessionPresent {
		t.Fatal("reconnect with clean session 0: session present not set [MQTT-3.2.2-2]")
	}
	// The subscription survived: a publish comes back.
	c.publish(&packet.Publish{Topic: []byte("cs/t"), QoS: 1, PacketID: 7, Payload: []byte("kept")})
	p := expectPublish(c)
	c.ack(p)
	c.write(&packet.Disconnect{})
	c.expectClosed()

	// Clean session 1 discards it [MQTT-3.1.2-6] ...
	c, ack = connectRaw(t, addr, packet.Version311, "cs", true)
	if ack.SessionPresent {
		t.Fatal("clean session 1: session present must be 0 [MQTT-3.2.2-1]")
	}
	c.write(&packet.Disconnect{})
	c.expectClosed()
	// ... and a clean session's state ends with its connection [MQTT-3.1.2-6].
	c, ack = connectRaw(t, addr, packet.Version311, "cs", false)
	if ack.SessionPresent {
		t.Fatal("after a clean session, a new session must start")
	}
	c.publish(&packet.Publish{Topic: []byte("cs/t"), QoS: 1, PacketID: 8, Payload: []byte("gone")})
	c.subscribe(2, packet.Subscription{Filter: "cs/marker"})
	c.publish(&packet.Publish{Topic: []byte("cs/marker"), Payload: []byte("marker")})
	if p := expectPublish(c); string(p.Payload) != "marker" {
		t.Fatalf("old subscription still delivers: %q", p.Payload)
	}
	if got := mqttState(s).Sessions; got != 1 {
		t.Fatalf("%d sessions, want 1", got)
	}
}

// TestSessionExpiry5: 5.0 Clean Start and Session Expiry Interval
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.2-23].
func TestSessionExpiry5(t *testing.T) {
	t.Parallel()
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	connect := func(id string, clean bool, expiry uint32) (*raw, *packet.Connack) {
		c := dialRaw(t, addr, packet.Version5)
		p := &packet.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30}
		if expiry > 0 {
			p.Properties.SessionExpiry = expiry
			p.Properties.Set(packet.PropSessionExpiry)
		}
		return c, c.mustConnect(p)
	}
	bye := func(c *raw) {
		c.write(&packet.Disconnect{})
		c.expectClosed()
	}

	t.Run("expiry 0 ends the session with the connection", func(t *testing.T) {
		c, _ := connect("se0", false, 0)
		c.subscribe(1, packet.Subscription{Filter: "se/0", QoS: 1})
		bye(c)
		if _, ack := connect("se0", false, 0); ack.SessionPresent {
			t.Fatal("session present after a session with expiry 0 disconnected")
		}
	})

	t.Run("clean start 0 resumes within the expiry", func(t *testing.T) {
		c, _ := connect("se60", false, 60)
		c.subscribe(1, packet.Subscription{Filter: "se/60", QoS: 1})
		bye(c)
		c, ack := connect("se60", false, 60)
		if !ack.SessionPresent {
			t.Fatal("session not present [MQTT-3.1.2-5] [MQTT-3.2.2-3]")
		}
		bye(c)
		// Clean start 1 discards it [MQTT-3.1.2-4] [MQTT-3.2.2-2].
		c, ack = connect("se60", true, 60)
		if ack.SessionPresent {
			t.Fatal("clean start: session present")
		}
		bye(c)
	})

	t.Run("session gone after its expiry", func(t *testing.T) {
		before := mqttState(s).Sessions
		c, _ := connect("se1", false, 1)
		c.subscribe(1, packet.Subscription{Filter: "se/1", QoS: 1})
		bye(c)
		if got := mqttState(s).Sessions; got != before+1 {
			t.Fatalf("%d sessions after disconnecting, want %d", got, before+1)
		}
		eventually(t, "session expired", func() bool { return mqttState(s).Sessions == before })
		// The session leaves the map first, then its queues are deleted.
		eventually(t, "the expired session's subscription queue deleted", func() bool {
			_, ok := s.Core.Queue("mqtt:se1:se/1")
			return !ok
		})
		if _, ack := connect("se1", false, 1); ack.SessionPresent {
			t.Fatal("session present after its expiry")
		}
	})

	t.Run("DISCONNECT cannot set an expiry after CONNECT set 0 [MQTT-3.14.2-2]", func(t *testing.T) {
		c, _ := connect("se-bad", true, 0)
		d := &packet.Disconnect{}
		d.Properties.SessionExpiry = 30
		d.Properties.Set(packet.PropSessionExpiry)
		c.write(d)
		c.expectDisconnect(packet.ProtocolError)
	})

	t.Run("DISCONNECT can set expiry 0", func(t *testing.T) {
		c, _ := connect("se-zero", false, 60)
		d := &packet.Disconnect{}
		d.Properties.SessionExpiry = 0
		d.Properties.Set(packet.PropSessionExpiry)
		c.write(d)
		c.expectClosed()
		if _, ack := connect("se-zero", false, 60); ack.SessionPresent {
			t.Fatal("session kept although DISCONNECT set its expiry to 0")
		}
	})
}

// TestAuthRefused: no enhanced authentication method exists, so CONNECT with
// one is refused with 0x8C, and an AUTH packet is a protocol error
// [MQTT-4.12.0-1] (section 4.12).
func TestAuthRefused(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s.Addr("mqtt"), packet.Version5)
	p := &packet.Connect{ClientID: "auth-m", CleanStart: true, KeepAlive: 30}
	p.Properties.AuthMethod = "SCRAM-SHA-256"
	p.Properties.Set(packet.PropAuthMethod)
	c.write(p)
	got := c.expectClosed()
	if len(got) != 1 || got[0].(*packet.Connack).ReasonCode != packet.BadAuthenticationMethod {
		t.Fatalf("got %s, want CONNACK 0x8C", describe(got))
	}

	c = dialRaw(t, s.Addr("mqtt"), packet.Version5)
	c.mustConnect(&packet.Connect{ClientID: "auth-p", CleanStart: true, KeepAlive: 30})
	a := &packet.Auth{ReasonCode: packet.ReAuthenticate}
	a.Properties.AuthMethod = "SCRAM-SHA-256"
	a.Properties.Set(packet.PropAuthMethod)
	c.write(a)
	c.expectDisconnect(packet.ProtocolError)
}

// TestMaxKeepAliveFromConfig: mqtt.max-keep-alive in the configuration
// reaches the adapter: a 5.0 client asking for more gets Server Keep Alive
// and is held to it; a 3.1.1 client asking for more is refused (return code
// 0x02, as Mosquitto does), one asking for less is accepted.
func TestMaxKeepAliveFromConfig(t *testing.T) {
	s := startBroker(t, func(c *config.Config) { c.MQTT.MaxKeepAlive = time.Second })
	addr := s.Addr("mqtt")

	cl, ack := dial5(t, addr, &paho.Connect{ClientID: "mka-paho", CleanStart: true, KeepAlive: 300})
	if ack.Properties == nil || ack.Properties.ServerKeepAlive == nil || *ack.Properties.ServerKeepAlive != 1 {
		t.Fatalf("CONNACK properties %+v, want Server Keep Alive 1", ack.Properties)
	}
	// paho adopts it: its PINGREQs keep the connection open past 1.5s.
	select {
	case d := <-cl.Disconnects:
		t.Fatalf("paho disconnected: %+v", d)
	case <-cl.Done():
		t.Fatal("paho connection ended")
	case <-time.After(2 * time.Second):
	}

	c := dialRaw(t, addr, packet.Version5)
	ack5 := c.mustConnect(&packet.Connect{ClientID: "mka-raw", CleanStart: true, KeepAlive: 60})
	if !ack5.Properties.Has(packet.PropServerKeepAlive) || ack5.Properties.ServerKeepAlive != 1 {
		t.Fatalf("raw 5.0 CONNACK: Server Keep Alive %d", ack5.Properties.ServerKeepAlive)
	}
	start := time.Now()
	c.expectDisconnect(packet.KeepAliveTimeout)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("disconnected after %v, want about 1.5s", took)
	}

	c3 := dialRaw(t, addr, packet.Version311)
	if ack := c3.connect(&packet.Connect{ClientID: "mka-3", CleanStart: true, KeepAlive: 60}); ack.ReasonCode != 0x02 {
		t.Fatalf("3.1.1 keep-alive 60s: CONNACK %#x, want 0x02", byte(ack.ReasonCode))
	}
	c3.expectClosed()
	c3 = dialRaw(t, addr, packet.Version311)
	c3.mustConnect(&packet.Connect{ClientID: "mka-3b", CleanStart: true, KeepAlive: 1})
}
