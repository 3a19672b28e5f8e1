package security_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
)

// Revocation: the broker re-checks open connections whenever its users-file
// watcher (a 2 s poll) loads a change, so each test below waits for the
// client-visible end, bounded by waitFor.

// awaitSubscriptionError waits for go-stomp to hand the subscription the
// broker's ERROR frame.
func awaitSubscriptionError(t *testing.T, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				t.Fatal("subscription channel closed without an ERROR")
			}
			if m.Err != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("no ERROR on subscription %s within %v", sub.Id(), waitFor)
		}
	}
}

// TestDemotedUserLosesSTOMPSubscription: bob, a clerk consuming orders.new,
// is made a guest in the users file. His subscription ends with an ERROR
// naming it and the permission; alice's subscription carries on.
func TestDemotedUserLosesSTOMPSubscription(t *testing.T) {
	e := start(t, setup{yaml: issueSecurity})
	if err := e.s.Core.CreateAddress("orders.new", core.Anycast); err != nil {
		t.Fatal(err)
	}
	addr := e.s.Addr("stomp")
	bob := stompLogin(t, addr, "bob", bobPW)
	bobSub, err := bob.Subscribe("/queue/orders.new", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	alice := stompLogin(t, addr, "alice", alicePW)
	aliceSub, err := alice.Subscribe("/queue/audit", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Send("/queue/orders.new", "text/plain", []byte("before"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := recvStomp(t, bobSub)
	if string(m.Body) != "before" {
		t.Fatalf("bob got %q", m.Body)
	}
	if err := bob.Ack(m); err != nil {
		t.Fatal(err)
	}

	writeUsers(t, e.users, []user{
		{name: "alice", password: alicePW, roles: []string{"admin"}},
		{name: "bob", password: bobPW, roles: []string{"guest"}},
	})
	em := awaitSubscriptionError(t, bobSub)
	msg := em.Header.Get("message")
	for _, want := range []string{"subscription " + bobSub.Id(), "permission revoked", "user 'bob' lacks permission 'consume' on address 'orders.new'"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("ERROR message %q lacks %q", msg, want)
		}
	}
	if got := em.Header.Get("subscription"); got != bobSub.Id() {
		t.Fatalf("ERROR subscription header %q, want %q", got, bobSub.Id())
	}
	if n := len(consumersOf(e, "bob")); n != 0 {
		t.Fatalf("bob still has %d consumers", n)
	}
	// alice was not touched.
	if err := alice.Send("/queue/audit", "text/plain", []byte("still here"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := recvStomp(t, aliceSub); string(m.Body) != "still here" {
		t.Fatalf("alice got %q", m.Body)
	}
}

func consumersOf(e *env, user string) []core.ConsumerInfo {
	var out []core.ConsumerInfo
	for _, c := range e.s.Core.Consumers() {
		if c.User == user {
			out = append(out, c)
		}
	}
	return out
}

// TestRemovedUserLosesConnections: bob is removed from the users file; his
// STOMP connection gets an ERROR and is closed, his MQTT 5.0 connection a
// DISCONNECT with reason 0x87 (not authorized), his MQTT 3.1.1 connection is
// closed.
func TestRemovedUserLosesConnections(t *testing.T) {
	e := mqttBroker(t)
	raw := rawDial(t, e.s.Addr("stomp"))
	raw.login("bob", bobPW)
	p5 := login5(t, e.s.Addr("mqtt"), "bob-5", "bob", bobPW)
	if _, err := p5.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	lost3 := make(chan error, 1)
	o := opts3("tcp://"+e.s.Addr("mqtt"), "bob-3").SetUsername("bob").SetPassword(bobPW).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) { lost3 <- err })
	if _, code, err := connect3(t, o); err != nil {
		t.Fatalf("3.1.1 login: %d %v", code, err)
	}

	writeUsers(t, e.users, []user{{name: "alice", password: alicePW, roles: []string{"admin"}}})

	f := raw.expect("ERROR")
	if msg, _ := f.get("message"); !strings.Contains(msg, "permission revoked") || !strings.Contains(msg, "user removed") {
		t.Fatalf("STOMP ERROR message %q", msg)
	}
	raw.expectClosed()
	select {
	case d := <-p5.Disconnects:
		if d.ReasonCode != 0x87 {
			t.Fatalf("MQTT 5.0 DISCONNECT reason %#x, want 0x87", d.ReasonCode)
		}
	case <-time.After(waitFor):
		t.Fatal("no DISCONNECT for the MQTT 5.0 client")
	}
	select {
	case <-lost3:
	case <-time.After(waitFor):
		t.Fatal("the MQTT 3.1.1 connection was not closed")
	}
	if n := len(consumersOf(e, "bob")); n != 0 {
		t.Fatalf("bob still has %d consumers", n)
	}
}

// TestAdminCloseAndQueueDeleted: an operator closes an MQTT 5.0 client's
// consumer (DISCONNECT 0x98, administrative action) and deletes the queue a
// STOMP subscription reads (ERROR naming the subscription).
func TestAdminCloseAndQueueDeleted(t *testing.T) {
	e := mqttBroker(t)
	p5 := login5(t, e.s.Addr("mqtt"), "alice-5", "alice", alicePW)
	if _, err := p5.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	var id uint64
	for _, c := range e.s.Core.Consumers() {
		if c.ClientID == "alice-5" {
			id = c.ID
		}
	}
	if id == 0 {
		t.Fatalf("no consumer for alice-5 in %+v", e.s.Core.Consumers())
	}
	if err := e.s.Core.CloseConsumer(id, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-p5.Disconnects:
		if d.ReasonCode != 0x98 {
			t.Fatalf("MQTT 5.0 DISCONNECT reason %#x, want 0x98", d.ReasonCode)
		}
	case <-time.After(waitFor):
		t.Fatal("no DISCONNECT for the MQTT 5.0 client")
	}

	alice := stompLogin(t, e.s.Addr("stomp"), "alice", alicePW)
	sub, err := alice.Subscribe("/queue/work", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Send("/queue/work", "text/plain", []byte("x"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	recvStomp(t, sub)
	if err := e.s.Core.DeleteQueue("work"); err != nil {
		t.Fatal(err)
	}
	em := awaitSubscriptionError(t, sub)
	if msg := em.Header.Get("message"); !strings.Contains(msg, "queue deleted") || !strings.Contains(msg, "subscription "+sub.Id()) {
		t.Fatalf("ERROR message %q", msg)
	}
}
