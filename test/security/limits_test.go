package security_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
)

// TestMaxConnections: a user's connections over every protocol count
// against one limit (users-file max-connections, else
// max-connections-per-user); the next login is refused in each protocol's
// own way and holds no slot, and closing a connection frees its slot.
func TestMaxConnections(t *testing.T) {
	tests := []struct {
		name       string
		perUser    int // max-connections-per-user
		bobMax     int // bob's max-connections in the users file
		bobLimit   int // expected, 0 = unlimited
		aliceLimit int
	}{
		{name: "users file max-connections", bobMax: 2, bobLimit: 2},
		{name: "max-connections-per-user", perUser: 2, bobLimit: 2, aliceLimit: 2},
		{name: "users file unlimited overrides the global limit", perUser: 1, bobMax: -1, aliceLimit: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := issueSecurity
			if tc.perUser != 0 {
				yaml += fmt.Sprintf("  max-connections-per-user: %d\n", tc.perUser)
			}
			users := defaultUsers()
			users[1].maxConn = tc.bobMax
			e := start(t, setup{yaml: yaml, users: users})
			checkLimit(t, e, "bob", bobPW, tc.bobLimit)
			checkLimit(t, e, "alice", alicePW, tc.aliceLimit)
		})
	}
}

func checkLimit(t *testing.T, e *env, user, password string, limit int) {
	t.Helper()
	stompAddr, mqttAddr := e.s.Addr("stomp"), e.s.Addr("mqtt")
	n := limit
	if limit == 0 {
		n = 3 // unlimited: more than any limit in the table
	}
	var first *stomp.Conn
	for i := range n {
		if i%2 == 0 {
			c := stompLogin(t, stompAddr, user, password)
			if i == 0 {
				first = c
			}
		} else {
			login5(t, mqttAddr, fmt.Sprintf("%s-%d", user, i), user, password)
		}
	}
	if got := e.s.Security.Connections(user); got != n {
		t.Fatalf("%s holds %d connections, want %d", user, got, n)
	}
	if limit == 0 {
		return
	}

	c := rawDial(t, stompAddr)
	f := c.connect("login", user, "passcode", password)
	if msg, _ := f.get("message"); f.cmd != "ERROR" || msg != "too many connections for this user" {
		t.Fatalf("STOMP login over the limit: %v", f)
	}
	c.expectClosed()
	if _, ack, err := dial5(t, mqttAddr, creds5(user+"-over-5", user, password)); err == nil || ack == nil || ack.ReasonCode != 0x97 {
		t.Fatalf("MQTT 5.0 login over the limit: CONNACK %+v (%v), want 0x97 quota exceeded", ack, err)
	}
	if _, code, err := connect3(t, opts3("tcp://"+mqttAddr, user+"-over-3").SetUsername(user).SetPassword(password)); err == nil || code != 0x03 {
		t.Fatalf("MQTT 3.1.1 login over the limit: CONNACK %#x (%v), want 0x03 server unavailable", code, err)
	}
	e.expectAudit(t, `msg="connection refused"`, "user="+user, `reason="too many connections"`)
	if got := e.s.Security.Connections(user); got != limit {
		t.Fatalf("after the refusals %s holds %d connections, want %d", user, got, limit)
	}

	// A DISCONNECT's RECEIPT comes after the slot is free: the client may
	// reconnect at once.
	if err := first.Disconnect(); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if got := e.s.Security.Connections(user); got != limit-1 {
		t.Fatalf("after a DISCONNECT with receipt %s holds %d connections, want %d", user, got, limit-1)
	}
	stompLogin(t, stompAddr, user, password)
}

// TestRefusedConnectionsHoldNoSlot: a connection refused after its login
// succeeded (a will it may not publish, a bad STOMP header) gives its
// connection slot back.
func TestRefusedConnectionsHoldNoSlot(t *testing.T) {
	users := defaultUsers()
	users[1].maxConn = 1
	e := start(t, setup{yaml: issueSecurity, users: users})
	stompAddr, mqttAddr := e.s.Addr("stomp"), e.s.Addr("mqtt")

	// The slot of a connection refused with an ERROR frame is given back
	// when the connection is cleaned up, which the client cannot observe:
	// each step waits for it.
	released := func() {
		t.Helper()
		eventually(t, "bob's slot to be released", func() bool { return e.s.Security.Connections("bob") == 0 })
	}
	c := rawDial(t, stompAddr)
	c.write("CONNECT", "", "accept-version", "1.2", "host", "localhost", "login", "bob", "passcode", bobPW, "heart-beat", "soon,later")
	if f := c.expect("ERROR"); !strings.Contains(f.body, "heart-beat") {
		t.Fatalf("STOMP CONNECT with a bad heart-beat: %v", f)
	}
	c.expectClosed()
	released()
	cp := creds5("bob-will-5", "bob", bobPW)
	cp.WillMessage = &paho.WillMessage{Topic: "payments/x", Payload: []byte("bye")}
	if _, ack, err := dial5(t, mqttAddr, cp); err == nil || ack == nil || ack.ReasonCode != 0x87 {
		t.Fatalf("MQTT 5.0 will on payments/x: %+v (%v), want 0x87", ack, err)
	}
	released()
	o := opts3("tcp://"+mqttAddr, "bob-will-3").SetUsername("bob").SetPassword(bobPW).SetWill("payments/x", "bye", 0, false)
	if _, code, err := connect3(t, o); err == nil || code != 0x05 {
		t.Fatalf("MQTT 3.1.1 will on payments/x: %#x (%v), want 0x05", code, err)
	}
	released()
	login5(t, mqttAddr, "bob-ok", "bob", bobPW)
}
