package security_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3"
	stompframe "github.com/go-stomp/stomp/v3/frame"

	"github.com/junctionmq/junction/core"
)

// TestSTOMPAuthentication: a refused login is one ERROR frame followed by
// the close, with the same message for an unknown user as for a wrong
// password so that user names cannot be probed; the audit log names the
// attempt but never a password.
func TestSTOMPAuthentication(t *testing.T) {
	e := start(t, setup{yaml: issueSecurity})
	addr := e.s.Addr("stomp")
	const badCreds = "bad user name or password"

	tests := []struct {
		name    string
		headers []string
		want    string // ERROR message
		reason  string // audit reason
	}{
		{"wrong password", []string{"login", "bob", "passcode", "guess-1"}, badCreds, `reason="wrong password"`},
		{"unknown user", []string{"login", "mallory", "passcode", bobPW}, badCreds, `reason="unknown user"`},
		{"user without passcode", []string{"login", "bob"}, badCreds, `reason="no password"`},
		{"anonymous", nil, "anonymous access is not allowed: log in with a user name and password", `reason="anonymous login not allowed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := rawDial(t, addr)
			f := c.connect(tc.headers...)
			if f.cmd != "ERROR" {
				t.Fatalf("got %v, want ERROR", f)
			}
			if msg, _ := f.get("message"); msg != tc.want {
				t.Fatalf("ERROR message %q, want %q", msg, tc.want)
			}
			if _, ok := f.get("user-id"); ok {
				t.Fatalf("refusal carries a user-id: %v", f)
			}
			c.expectClosed()
			e.expectAudit(t, `msg="authentication failed"`, tc.reason)
		})
	}

	t.Run("no second CONNECT on a connection", func(t *testing.T) {
		c := rawDial(t, addr)
		c.login("bob", bobPW)
		c.write("CONNECT", "", "accept-version", "1.2", "host", "localhost", "login", "alice", "passcode", alicePW)
		c.expectDenied("", "already connected")
	})

	t.Run("go-stomp sees the refusal", func(t *testing.T) {
		_, err := stompDial(t, addr, stomp.ConnOpt.Login("alice", "guess-2"))
		var se stomp.Error
		if !errors.As(err, &se) || se.Message != badCreds {
			t.Fatalf("go-stomp connect with a wrong password: %v, want an ERROR %q", err, badCreds)
		}
	})

	t.Run("right password", func(t *testing.T) {
		var user string
		c := stompLogin(t, addr, "bob", bobPW, stomp.ConnOpt.ResponseHeaders(func(h *stompframe.Header) { user = h.Get("user-id") }))
		if user != "bob" {
			t.Fatalf("CONNECTED user-id %q, want bob", user)
		}
		if err := c.Disconnect(); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
	})

	if log := e.log.String(); strings.Contains(log, "guess-1") || strings.Contains(log, "guess-2") || strings.Contains(log, bobPW) {
		t.Fatalf("a password reached the broker log:\n%s", log)
	}
}

// authzBroker starts the issue's broker with the addresses bob works on
// created by the operator: bob holds no createAddress, so he can only use
// addresses that exist (the core asks createAddress whenever a send,
// consume or subscription would auto-create one, as Artemis does).
func authzBroker(t *testing.T) *env {
	t.Helper()
	e := start(t, setup{yaml: issueSecurity})
	for _, a := range []struct {
		name string
		rt   core.RoutingType
	}{{"orders.x", core.Anycast}, {"orders.t", core.Multicast}, {"orders.b", core.Anycast}} {
		if err := e.s.Core.CreateAddress(a.name, a.rt); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestSTOMPAllowed: an admin may use any address, a clerk the orders ones,
// with go-stomp.
func TestSTOMPAllowed(t *testing.T) {
	e := authzBroker(t)
	addr := e.s.Addr("stomp")

	t.Run("admin anywhere", func(t *testing.T) {
		alice := stompLogin(t, addr, "alice", alicePW)
		sub, err := alice.Subscribe("/queue/payments.a", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.Send("/queue/payments.a", "text/plain", []byte("pay"), stomp.SendOpt.Receipt); err != nil {
			t.Fatalf("alice SEND /queue/payments.a: %v", err)
		}
		if m := recvStomp(t, sub); string(m.Body) != "pay" {
			t.Fatalf("got %q", m.Body)
		}
	})

	t.Run("clerk on orders queue", func(t *testing.T) {
		bob := stompLogin(t, addr, "bob", bobPW)
		if err := bob.Send("/queue/orders.x", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt); err != nil {
			t.Fatalf("bob SEND /queue/orders.x: %v", err)
		}
		sub, err := bob.Subscribe("/queue/orders.x", stomp.AckClientIndividual)
		if err != nil {
			t.Fatal(err)
		}
		m := recvStomp(t, sub)
		if string(m.Body) != "order 1" {
			t.Fatalf("got %q", m.Body)
		}
		if err := bob.Ack(m); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("clerk on orders topic, non-durable", func(t *testing.T) {
		bob := stompLogin(t, addr, "bob", bobPW)
		sub, err := bob.Subscribe("/topic/orders.t", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		// The broker handles a connection's frames in order: the
		// subscription is in place when the SEND is routed.
		if err := bob.Send("/topic/orders.t", "text/plain", []byte("fan-out"), stomp.SendOpt.Receipt); err != nil {
			t.Fatalf("bob SEND /topic/orders.t: %v", err)
		}
		if m := recvStomp(t, sub); string(m.Body) != "fan-out" {
			t.Fatalf("got %q", m.Body)
		}
	})

	t.Run("admin browses", func(t *testing.T) {
		alice := stompLogin(t, addr, "alice", alicePW)
		if err := alice.Send("/queue/payments.b", "text/plain", []byte("keep"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		e.awaitMessages(t, "payments.b", 1)
		c := rawDial(t, addr)
		c.login("alice", alicePW)
		c.write("SUBSCRIBE", "", "id", "b", "destination", "/queue/payments.b", "browser", "true")
		if m := c.expect("MESSAGE"); m.body != "keep" {
			t.Fatalf("browsed %v", m)
		}
		if end := c.expect("MESSAGE"); slices.Index(end.all("browser"), "end") < 0 {
			t.Fatalf("want browser:end, got %v", end)
		}
		if q, ok := e.s.Core.Queue("payments.b"); !ok || q.Stats().Messages != 1 {
			t.Fatalf("browsing consumed the message")
		}
	})
}

// TestSTOMPDenied: each refused action is an ERROR frame naming the
// permission and the address, then the close; the action has no effect
// and an audit line is written.
func TestSTOMPDenied(t *testing.T) {
	e := authzBroker(t)
	addr := e.s.Addr("stomp")
	// Something to browse.
	alice := stompLogin(t, addr, "alice", alicePW)
	if err := alice.Send("/queue/orders.b", "text/plain", []byte("secret"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	e.awaitMessages(t, "orders.b", 1)
	// alice's durable subscription, with a message waiting in it.
	aliceApp := rawDial(t, addr)
	aliceApp.login("alice", alicePW, "client-id", "alice-app")
	aliceApp.write("SUBSCRIBE", "", "id", "d", "destination", "/topic/payments.t", "durable-subscription-name", "d", "receipt", "sub")
	aliceApp.expect("RECEIPT")
	aliceApp.write("DISCONNECT", "", "receipt", "bye")
	aliceApp.expect("RECEIPT")
	if err := alice.Send("/topic/payments.t", "text/plain", []byte("for alice"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	e.awaitMessages(t, "alice-app.d", 1)

	tests := []struct {
		name     string
		user     string   // default bob
		connect  []string // extra CONNECT headers
		pre      []string // a frame (command, headers) sent first, answered by a RECEIPT
		cmd      string
		headers  []string
		perm     string
		address  string
		noEffect func() bool
	}{
		{name: "send", cmd: "SEND", headers: []string{"destination", "/queue/payments.x"}, perm: "send", address: "payments.x",
			noEffect: func() bool { _, ok := e.s.Core.Address("payments.x"); return !ok }},
		{name: "send creating an orders address", cmd: "SEND", headers: []string{"destination", "/queue/orders.new"}, perm: "createAddress", address: "orders.new",
			noEffect: func() bool { _, ok := e.s.Core.Address("orders.new"); return !ok }},
		{name: "consume", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/queue/payments.x"}, perm: "consume", address: "payments.x",
			noEffect: func() bool { _, ok := e.s.Core.Queue("payments.x"); return !ok }},
		{name: "consume wildcard topic", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/topic/#"}, perm: "consume", address: "#"},
		{name: "consume wildcard topic, ActiveMQ spelling", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/topic/>"}, perm: "consume", address: ">"},
		{name: "consume wildcard reaching beyond orders", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/topic/*.t"}, perm: "consume", address: "*.t"},
		{name: "durable subscription", connect: []string{"client-id", "bob-app"}, cmd: "SUBSCRIBE",
			headers: []string{"id", "1", "destination", "/topic/orders.t", "durable-subscription-name", "d1"}, perm: "createDurableQueue", address: "orders.t",
			noEffect: func() bool { _, ok := e.s.Core.Queue("bob-app.d1"); return !ok }},
		{name: "browse", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/queue/orders.b", "browser", "true"}, perm: "browse", address: "orders.b",
			noEffect: func() bool { q, ok := e.s.Core.Queue("orders.b"); return ok && q.Stats().Messages == 1 }},
		{name: "send in a transaction", pre: []string{"BEGIN", "transaction", "t1"}, cmd: "SEND",
			headers: []string{"destination", "/queue/payments.x", "transaction", "t1"}, perm: "send", address: "payments.x",
			noEffect: func() bool { _, ok := e.s.Core.Address("payments.x"); return !ok }},
		{name: "temporary queue", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/temp-queue/replies"}, perm: "createNonDurableQueue", address: "temp."},
		// Claiming alice's client id does not give bob her subscriptions.
		{name: "durable unsubscribe", connect: []string{"client-id", "alice-app"}, cmd: "UNSUBSCRIBE",
			headers: []string{"id", "none", "durable-subscription-name", "d"}, perm: "deleteDurableQueue", address: "payments.t",
			noEffect: func() bool { _, ok := e.s.Core.Queue("alice-app.d"); return ok }},
		{name: "reattach to someone else's durable subscription", connect: []string{"client-id", "alice-app"}, cmd: "SUBSCRIBE",
			headers: []string{"id", "1", "destination", "/topic/payments.t", "durable-subscription-name", "d"}, perm: "consume", address: "payments.t",
			noEffect: func() bool { q, ok := e.s.Core.Queue("alice-app.d"); return ok && q.Stats().Messages == 1 }},
		// Re-subscribing a durable subscription to another topic replaces
		// it (JMS): that deletes the old one, which takes deleteDurableQueue
		// on its address.
		{name: "replace someone else's durable subscription", connect: []string{"client-id", "alice-app"}, cmd: "SUBSCRIBE",
			headers: []string{"id", "1", "destination", "/topic/orders.t", "durable-subscription-name", "d"}, perm: "deleteDurableQueue", address: "payments.t",
			noEffect: func() bool {
				q, ok := e.s.Core.Queue("alice-app.d")
				return ok && q.Info().Address == "payments.t" && q.Stats().Messages == 1
			}},
		// The most specific pattern decides alone: "orders.#" grants no
		// createAddress, browse or createDurableQueue, so not even an admin
		// has them there although "#" gives them to admin elsewhere.
		{name: "admin creating an orders address", user: "alice", cmd: "SEND", headers: []string{"destination", "/queue/orders.new2"}, perm: "createAddress", address: "orders.new2"},
		{name: "admin browsing orders", user: "alice", cmd: "SUBSCRIBE", headers: []string{"id", "1", "destination", "/queue/orders.b", "browser", "true"}, perm: "browse", address: "orders.b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, pw := "bob", bobPW
			if tc.user == "alice" {
				user, pw = "alice", alicePW
			}
			c := rawDial(t, addr)
			c.login(user, pw, tc.connect...)
			if tc.pre != nil {
				c.write(tc.pre[0], "", append(tc.pre[1:], "receipt", "pre")...)
				c.expect("RECEIPT")
			}
			body := ""
			if tc.cmd == "SEND" {
				body = "forbidden"
			}
			c.write(tc.cmd, body, append(tc.headers, "receipt", "r-"+tc.perm)...)
			want := "user '" + user + "' lacks permission '" + tc.perm + "' on address '" + tc.address
			if !strings.HasSuffix(tc.address, ".") { // else a prefix: the rest is generated
				want += "'"
			}
			f := c.expectDenied("r-"+tc.perm, want)
			if !strings.Contains(f.body, want) {
				t.Fatalf("ERROR body %q does not explain the denial", f.body)
			}
			e.expectAudit(t, `msg="authorization denied"`, "user="+user, "action="+tc.perm, "address="+tc.address)
			if tc.noEffect != nil && !tc.noEffect() {
				t.Fatalf("the denied %s had an effect", tc.perm)
			}
		})
	}

	t.Run("go-stomp sees the denial", func(t *testing.T) {
		bob := stompLogin(t, addr, "bob", bobPW)
		err := bob.Send("/queue/payments.y", "text/plain", []byte("no"), stomp.SendOpt.Receipt)
		var se stomp.Error
		if !errors.As(err, &se) || !strings.Contains(se.Message, "lacks permission 'send' on address 'payments.y'") {
			t.Fatalf("go-stomp SEND to payments.y: %v, want the denial", err)
		}
	})
}

// TestSTOMPValidatedUser: the JMSXUserID a consumer sees is the sender's
// login, whatever the SEND frame claimed.
func TestSTOMPValidatedUser(t *testing.T) {
	e := authzBroker(t)
	addr := e.s.Addr("stomp")
	consumer := rawDial(t, addr)
	consumer.login("alice", alicePW)
	consumer.write("SUBSCRIBE", "", "id", "s", "destination", "/queue/orders.x", "receipt", "subscribed")
	consumer.expect("RECEIPT")

	bob := stompLogin(t, addr, "bob", bobPW)
	if err := bob.Send("/queue/orders.x", "text/plain", []byte("forged"), stomp.SendOpt.Header("JMSXUserID", "alice"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	// A raw SEND can repeat the header; neither copy may survive.
	raw := rawDial(t, addr)
	raw.login("bob", bobPW)
	raw.write("SEND", "forged twice", "destination", "/queue/orders.x", "JMSXUserID", "admin", "JMSXUserID", "root", "receipt", "sent")
	raw.expect("RECEIPT")

	// The order of the two is not checked: the RECEIPT of a non-persistent
	// SEND can overtake its enqueue.
	var bodies []string
	for range 2 {
		m := consumer.expect("MESSAGE")
		bodies = append(bodies, m.body)
		if got := m.all("JMSXUserID"); !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("MESSAGE %q: JMSXUserID %q, want exactly [bob]", m.body, got)
		}
	}
	if slices.Sort(bodies); !slices.Equal(bodies, []string{"forged", "forged twice"}) {
		t.Fatalf("got messages %q", bodies)
	}
}

// TestSTOMPConsumeChecksTheQueuesAddress: consuming a queue by name is
// authorized against the address the queue is bound to, not the queue's
// name. Otherwise a subscription queue named so that it falls under a
// pattern the consumer may use ("orders.audit", a durable subscription to
// payments.t) would hand its messages to anyone allowed on "orders.#".
func TestSTOMPConsumeChecksTheQueuesAddress(t *testing.T) {
	e := authzBroker(t)
	addr := e.s.Addr("stomp")
	alice := rawDial(t, addr)
	alice.login("alice", alicePW)
	// Without a client id the durable subscription's queue is named after
	// the subscription alone.
	alice.write("SUBSCRIBE", "", "id", "d", "destination", "/topic/payments.t", "durable-subscription-name", "orders.audit", "receipt", "sub")
	alice.expect("RECEIPT")
	alice.write("UNSUBSCRIBE", "", "id", "d", "receipt", "unsub") // detaches, keeps the durable subscription
	alice.expect("RECEIPT")
	alice.write("SEND", "payment 1", "destination", "/topic/payments.t", "receipt", "sent")
	alice.expect("RECEIPT")
	e.awaitMessages(t, "orders.audit", 1)
	q, _ := e.s.Core.Queue("orders.audit")
	if a := q.Info().Address; a != "payments.t" {
		t.Fatalf("setup: subscription queue orders.audit is on %q, want payments.t", a)
	}

	bob := rawDial(t, addr)
	bob.login("bob", bobPW)
	bob.write("SUBSCRIBE", "", "id", "steal", "destination", "/queue/orders.audit", "receipt", "r")
	f, err := bob.read()
	if err != nil {
		t.Fatal(err)
	}
	if f.cmd != "ERROR" {
		t.Fatalf("bob consuming alice's payments.t subscription by its queue name: got %v, want ERROR", f)
	}
	if msg, _ := f.get("message"); !strings.Contains(msg, "lacks permission 'consume' on address 'payments.t'") {
		t.Fatalf("ERROR %q, want the consume denial on payments.t", msg)
	}
	if st := q.Stats(); st.Messages != 1 || st.InFlight != 0 {
		t.Fatalf("alice's subscription queue after the attempt: %+v", st)
	}
}

// TestSTOMPDurableSubscriptionLifecycle: with deleteDurableQueue granted, a
// user may replace (re-subscribe to another topic) and delete her durable
// subscription; the checks above only stop those who lack it.
func TestSTOMPDurableSubscriptionLifecycle(t *testing.T) {
	e := start(t, setup{yaml: `security:
  users-file: users.yaml
  permissions:
    "#": {send: [admin], consume: [admin], createAddress: [admin], createDurableQueue: [admin], deleteDurableQueue: [admin]}
`})
	c := rawDial(t, e.s.Addr("stomp"))
	c.login("alice", alicePW, "client-id", "app")
	for i, topic := range []string{"a.t", "b.t"} {
		id := strconv.Itoa(i)
		c.write("SUBSCRIBE", "", "id", id, "destination", "/topic/"+topic, "durable-subscription-name", "d", "receipt", "sub"+id)
		c.expect("RECEIPT")
		c.write("UNSUBSCRIBE", "", "id", id, "receipt", "detach"+id)
		c.expect("RECEIPT")
		if q, ok := e.s.Core.Queue("app.d"); !ok || q.Info().Address != topic {
			t.Fatalf("after subscribing to %s: subscription queue %v", topic, ok)
		}
	}
	c.write("UNSUBSCRIBE", "", "id", "x", "durable-subscription-name", "d", "receipt", "deleted")
	c.expect("RECEIPT")
	if _, ok := e.s.Core.Queue("app.d"); ok {
		t.Fatal("the durable subscription survived its deletion")
	}
}
