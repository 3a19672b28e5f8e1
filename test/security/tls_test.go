package security_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/go-stomp/stomp/v3"
	stompframe "github.com/go-stomp/stomp/v3/frame"

	"github.com/junctionmq/junction/core"
)

// tlsBroker starts the issue's broker with TLS (client-auth: request) and
// cert-users mapping CN=device-7 to bob, and creates orders.x for bob.
func tlsBroker(t *testing.T) *env {
	t.Helper()
	e := start(t, setup{yaml: issueSecurity + certUsers + tlsSection, tls: true})
	for _, rt := range []core.RoutingType{core.Anycast, core.Multicast} {
		if err := e.s.Core.CreateAddress("orders.x", rt); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestTLSClientCertificateSTOMP: a verified client certificate listed in
// cert-users logs in as its user without a password; bob's permissions
// apply to it as to a password login.
func TestTLSClientCertificateSTOMP(t *testing.T) {
	e := tlsBroker(t)
	addr := e.s.Addr("stomp-tls")

	t.Run("certificate login", func(t *testing.T) {
		nc, err := dialTLS(addr, e.pki.clientTLS(&e.pki.client))
		if err != nil {
			t.Fatal(err)
		}
		var user string
		bob, err := stompOver(t, nc, stomp.ConnOpt.ResponseHeaders(func(h *stompframe.Header) { user = h.Get("user-id") }))
		if err != nil {
			t.Fatalf("go-stomp over TLS with a client certificate: %v", err)
		}
		if user != "bob" {
			t.Fatalf("CONNECTED user-id %q, want bob", user)
		}
		sub, err := bob.Subscribe("/queue/orders.x", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.Send("/queue/orders.x", "text/plain", []byte("by cert"), stomp.SendOpt.Header(core.PropUserID, "alice"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		m := recvStomp(t, sub)
		if got := m.Header.GetAll(core.PropUserID); string(m.Body) != "by cert" || !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("got %q with %s %q, want bob", m.Body, core.PropUserID, got)
		}
		err = bob.Send("/queue/payments.x", "text/plain", []byte("no"), stomp.SendOpt.Receipt)
		var se stomp.Error
		if !errors.As(err, &se) || !strings.Contains(se.Message, "user 'bob' lacks permission 'send' on address 'payments.x'") {
			t.Fatalf("certificate user sending to payments.x: %v, want the denial", err)
		}
	})

	tests := []struct {
		name    string
		cert    *tls.Certificate
		headers []string
		want    string // CONNECTED user-id, or the ERROR message
		ok      bool
	}{
		{name: "no certificate, no password", want: "anonymous access is not allowed"},
		{name: "no certificate, password", headers: []string{"login", "bob", "passcode", bobPW}, want: "bob", ok: true},
		{name: "no certificate, wrong password", headers: []string{"login", "bob", "passcode", "guess"}, want: "bad user name or password"},
		// The certificate vouches for bob: the password is not looked at.
		{name: "certificate and its user's name", cert: &e.pki.client, headers: []string{"login", "bob", "passcode", "not-bobs"}, want: "bob", ok: true},
		// Naming another user means a password login as that user: the
		// certificate does not vouch for alice.
		{name: "certificate naming another user", cert: &e.pki.client, headers: []string{"login", "alice", "passcode", "guess"}, want: "bad user name or password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := dialTLS(addr, e.pki.clientTLS(tc.cert))
			if err != nil {
				t.Fatal(err)
			}
			c := rawOver(t, nc)
			f := c.connect(tc.headers...)
			if tc.ok {
				if u, _ := f.get("user-id"); f.cmd != "CONNECTED" || u != tc.want {
					t.Fatalf("got %v, want CONNECTED as %s", f, tc.want)
				}
				return
			}
			if msg, _ := f.get("message"); f.cmd != "ERROR" || !strings.Contains(msg, tc.want) {
				t.Fatalf("got %v, want ERROR %q", f, tc.want)
			}
			c.expectClosed()
		})
	}

	t.Run("certificate from another CA", func(t *testing.T) {
		cfg := e.pki.clientTLS(nil)
		// Go's client leaves out a certificate whose issuer the server
		// does not list; make it present the rogue one anyway, as an
		// attacker would.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &e.pki.rogue, nil }
		// Under TLS 1.3 the client's handshake ends before the server has
		// checked its certificate: the refusal shows at the first read.
		nc, err := dialTLS(addr, cfg)
		if err != nil {
			if !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("handshake error %v, want a TLS certificate alert", err)
			}
			return
		}
		c := rawOver(t, nc)
		c.write("CONNECT", "", "accept-version", "1.2", "host", "localhost")
		f, err := c.read()
		if err == nil {
			t.Fatalf("a certificate from an unknown CA got %v", f)
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("read error %v, want a TLS certificate alert", err)
		}
	})
}

// TestTLSClientCertificateMQTT: the same certificate logs in over MQTT
// (paho 3.1.1 and 5.0) with no user name.
func TestTLSClientCertificateMQTT(t *testing.T) {
	e := tlsBroker(t)
	addr := e.s.Addr("mqtt-tls")

	t.Run("3.1.1 certificate login", func(t *testing.T) {
		o := opts3("tls://"+addr, "device-7-v3").SetTLSConfig(e.pki.clientTLS(&e.pki.client))
		c, code, err := connect3(t, o)
		if err != nil {
			t.Fatalf("CONNACK %#x: %v", code, err)
		}
		msgs := make(chan mqtt3.Message, 1)
		if code := sub3(t, c, "orders/x", 1, msgs); code != 1 {
			t.Fatalf("SUBACK %#x", code)
		}
		if err := wait3(t, "PUBLISH", c.Publish("orders/x", 1, false, "tls")); err != nil {
			t.Fatal(err)
		}
		if m := recv3(t, msgs); string(m.Payload()) != "tls" {
			t.Fatalf("got %q", m.Payload())
		}
		// bob's limits hold for the certificate login too.
		if code := sub3(t, c, "payments/x", 1, msgs); code != 0x80 {
			t.Fatalf("SUBACK for payments/x %#x, want 0x80", code)
		}
	})

	t.Run("5.0 certificate login", func(t *testing.T) {
		alice := login5(t, e.s.Addr("mqtt"), "alice-5", "alice", alicePW)
		if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}}); err != nil || sa.Reasons[0] != 1 {
			t.Fatalf("SUBSCRIBE: %+v %v", sa, err)
		}
		nc, err := dialTLS(addr, e.pki.clientTLS(&e.pki.client))
		if err != nil {
			t.Fatal(err)
		}
		dev, ack, err := connect5(t, nc, creds5("device-7-v5", "", ""))
		if err != nil {
			t.Fatalf("CONNACK %+v: %v", ack, err)
		}
		if _, err := dev.Publish(ctxT(t), &paho.Publish{Topic: "orders/x", QoS: 1, Payload: []byte("tls5")}); err != nil {
			t.Fatal(err)
		}
		m := alice.recv(t)
		if got := userProps(m, core.PropUserID); string(m.Payload) != "tls5" || !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("got %q from %q, want from bob", m.Payload, got)
		}
	})

	t.Run("no certificate, no user name", func(t *testing.T) {
		_, code, err := connect3(t, opts3("tls://"+addr, "nobody-3").SetTLSConfig(e.pki.clientTLS(nil)))
		if err == nil || code != 0x05 {
			t.Fatalf("3.1.1 CONNACK %#x (%v), want 0x05", code, err)
		}
		nc, err := dialTLS(addr, e.pki.clientTLS(nil))
		if err != nil {
			t.Fatal(err)
		}
		_, ack, err := connect5(t, nc, creds5("nobody-5", "", ""))
		if err == nil || ack == nil || ack.ReasonCode != 0x87 {
			t.Fatalf("5.0 CONNACK %+v (%v), want 0x87", ack, err)
		}
	})
}

// TestTLSOldVersionsRefused: the TLS listeners speak TLS 1.2 and later only.
func TestTLSOldVersionsRefused(t *testing.T) {
	e := tlsBroker(t)
	for _, name := range []string{"stomp-tls", "mqtt-tls", "wss"} {
		t.Run(name, func(t *testing.T) {
			cfg := e.pki.clientTLS(&e.pki.client)
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			nc, err := dialTLS(e.s.Addr(name), cfg)
			if err == nil {
				v := nc.ConnectionState().Version
				nc.Close()
				t.Fatalf("TLS handshake succeeded with version %#x", v)
			}
			if !strings.Contains(err.Error(), "protocol version") {
				t.Fatalf("handshake error %v, want a protocol version refusal", err)
			}
			// The same client is fine with TLS 1.2.
			cfg.MaxVersion = tls.VersionTLS12
			nc, err = dialTLS(e.s.Addr(name), cfg)
			if err != nil {
				t.Fatalf("TLS 1.2: %v", err)
			}
			nc.Close()
		})
	}
}

// TestTLSWebSocket: STOMP over wss logs in with the client certificate too.
func TestTLSWebSocket(t *testing.T) {
	e := tlsBroker(t)
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		cmd  string
	}{{"certificate", &e.pki.client, "CONNECTED"}, {"no certificate", nil, "ERROR"}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			dctx, dcancel := context.WithTimeout(ctx, waitFor)
			defer dcancel()
			ws, _, err := websocket.Dial(dctx, "wss://"+e.s.Addr("wss")+"/", &websocket.DialOptions{
				Subprotocols: []string{"v12.stomp"},
				HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: e.pki.clientTLS(tc.cert)}},
			})
			if err != nil {
				t.Fatalf("wss dial: %v", err)
			}
			c := rawOver(t, websocket.NetConn(ctx, ws, websocket.MessageText))
			f := c.connect()
			if f.cmd != tc.cmd {
				t.Fatalf("got %v, want %s", f, tc.cmd)
			}
			if u, _ := f.get("user-id"); f.cmd == "CONNECTED" && u != "bob" {
				t.Fatalf("CONNECTED user-id %q, want bob", u)
			}
		})
	}
}
