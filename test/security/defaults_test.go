package security_test

import (
	"context"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
)

// TestSecureDefaults: configuring a users file is enough to shut anonymous
// clients out; with no security section the broker is open, and says so.
func TestSecureDefaults(t *testing.T) {
	t.Run("users file, anonymous unset", func(t *testing.T) {
		e := start(t, setup{yaml: "security:\n  users-file: users.yaml\n"})
		if e.s.Security.AnonymousAllowed() {
			t.Fatal("anonymous allowed with a users file")
		}
		c := rawDial(t, e.s.Addr("stomp"))
		if f := c.connect(); f.cmd != "ERROR" || !strings.Contains(f.body, "anonymous access is not allowed") {
			t.Fatalf("anonymous STOMP: got %v", f)
		}
		c.expectClosed()
		if _, code, err := connect3(t, opts3("tcp://"+e.s.Addr("mqtt"), "anon-3")); err == nil || code != 0x05 {
			t.Fatalf("anonymous MQTT 3.1.1: CONNACK %#x (%v), want 0x05", code, err)
		}
		if _, ack, err := dial5(t, e.s.Addr("mqtt"), creds5("anon-5", "", "")); err == nil || ack == nil || ack.ReasonCode != 0x87 {
			t.Fatalf("anonymous MQTT 5.0: CONNACK %+v (%v), want 0x87", ack, err)
		}
		// Without permissions a logged-in user may do everything.
		bob := rawDial(t, e.s.Addr("stomp"))
		bob.login("bob", bobPW)
		bob.write("SEND", "hi", "destination", "/queue/anything", "receipt", "ok")
		bob.expect("RECEIPT")
	})

	t.Run("no security section", func(t *testing.T) {
		e := start(t, setup{})
		if !e.s.Security.AnonymousAllowed() {
			t.Fatal("anonymous refused without any security configuration")
		}
		if !strings.Contains(e.log.String(), "anonymous access is allowed") {
			t.Fatal("no warning that the broker is open")
		}
		addr := e.s.Addr("stomp")
		consumer := rawDial(t, addr)
		if f := consumer.connect(); f.cmd != "CONNECTED" {
			t.Fatalf("anonymous STOMP: %v", f)
		}
		consumer.write("SUBSCRIBE", "", "id", "s", "destination", "/queue/open", "receipt", "sub")
		consumer.expect("RECEIPT")
		// Credentials are not checked (there is nobody to check them
		// against), and they give no identity.
		sender := rawDial(t, addr)
		f := sender.connect("login", "root", "passcode", "whatever")
		if u, has := f.get("user-id"); f.cmd != "CONNECTED" || has {
			t.Fatalf("STOMP with made-up credentials: %v (user-id %q)", f, u)
		}
		sender.write("SEND", "claimed", "destination", "/queue/open", "JMSXUserID", "root")
		if m := consumer.expect("MESSAGE"); len(m.all("JMSXUserID")) != 0 {
			t.Fatalf("an anonymous sender's claimed JMSXUserID got through: %v", m)
		}
		login3(t, "tcp://"+e.s.Addr("mqtt"), "anon-3", "", "")
		login5(t, e.s.Addr("mqtt"), "anon-5", "root", "whatever")
	})

	t.Run("anonymous allowed with its own role", func(t *testing.T) {
		e := start(t, setup{yaml: `security:
  users-file: users.yaml
  anonymous: true
  anonymous-role: visitor
  permissions:
    "public.#": {send: [visitor], consume: [visitor], createAddress: [visitor], createNonDurableQueue: [visitor]}
    "#": {send: [admin], consume: [admin], createAddress: [admin]}
`})
		addr := e.s.Addr("stomp")
		c := rawDial(t, addr)
		if f := c.connect(); f.cmd != "CONNECTED" {
			t.Fatalf("anonymous STOMP: %v", f)
		}
		c.write("SUBSCRIBE", "", "id", "s", "destination", "/queue/public.x", "receipt", "sub")
		c.expect("RECEIPT")
		c.write("SEND", "hello", "destination", "/queue/public.x", "JMSXUserID", "alice")
		if m := c.expect("MESSAGE"); m.body != "hello" || len(m.all("JMSXUserID")) != 0 {
			t.Fatalf("got %v, want hello without JMSXUserID", m)
		}
		c.write("SEND", "no", "destination", "/queue/orders.x", "receipt", "r")
		c.expectDenied("r", "anonymous user lacks permission 'send' on address 'orders.x'")
		e.expectAudit(t, "anonymous=true", "action=send", "address=orders.x")

		anon := login5(t, e.s.Addr("mqtt"), "visitor-5", "", "")
		if r, err := anon.Publish(ctxT(t), &paho.Publish{Topic: "public/y", QoS: 1, Payload: []byte("ok")}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("anonymous publish to public/y: %+v %v", r, err)
		}
		if r, _ := anon.Publish(ctxT(t), &paho.Publish{Topic: "orders/y", QoS: 1, Payload: []byte("no")}); r == nil || r.ReasonCode != 0x87 {
			t.Fatalf("anonymous publish to orders/y: %+v, want 0x87", r)
		}
	})
}

// TestWebSocketAuthentication: logins over the WebSocket listener are
// checked like those over TCP.
func TestWebSocketAuthentication(t *testing.T) {
	e := start(t, setup{yaml: issueSecurity})
	url := "ws://" + e.s.Addr("ws") + "/"
	dial := func(t *testing.T, subprotocol string) *websocket.Conn {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{subprotocol}})
		if err != nil {
			t.Fatalf("WebSocket dial: %v", err)
		}
		return ws
	}
	netConn := func(t *testing.T, ws *websocket.Conn, typ websocket.MessageType) *rawStomp {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return rawOver(t, websocket.NetConn(ctx, ws, typ))
	}

	for _, tc := range []struct {
		name, password, want string
	}{{"wrong password", "guess", "ERROR"}, {"right password", bobPW, "CONNECTED"}} {
		t.Run("STOMP "+tc.name, func(t *testing.T) {
			c := netConn(t, dial(t, "v12.stomp"), websocket.MessageText)
			f := c.connect("login", "bob", "passcode", tc.password)
			if f.cmd != tc.want {
				t.Fatalf("got %v, want %s", f, tc.want)
			}
			if f.cmd == "ERROR" {
				c.expectClosed()
			}
		})
		t.Run("MQTT "+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			nc := websocket.NetConn(ctx, dial(t, "mqtt"), websocket.MessageBinary)
			_, ack, err := connect5(t, nc, creds5("ws-"+tc.password, "bob", tc.password))
			if tc.want == "ERROR" {
				if err == nil || ack == nil || ack.ReasonCode != 0x86 {
					t.Fatalf("CONNACK %+v (%v), want 0x86", ack, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CONNACK %+v: %v", ack, err)
			}
		})
	}
}
