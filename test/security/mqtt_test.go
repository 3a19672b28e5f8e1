package security_test

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestMQTTAuthentication: refused logins get the CONNACK code of their
// protocol version, the same one for an unknown user as for a wrong
// password (and, in 5.0, the same reason string).
func TestMQTTAuthentication(t *testing.T) {
	tests := []struct {
		name           string
		user, password string
		noPassword     bool
		want3, want5   byte
	}{
		{name: "wrong password", user: "bob", password: "guess", want3: 0x04, want5: 0x86},
		{name: "unknown user", user: "mallory", password: bobPW, want3: 0x04, want5: 0x86},
		{name: "user name without password", user: "bob", noPassword: true, want3: 0x04, want5: 0x86},
		{name: "anonymous", want3: 0x05, want5: 0x87},
	}
	// One broker per version: each keeps its failed logins under the
	// throttling threshold.
	t.Run("3.1.1", func(t *testing.T) {
		e := start(t, setup{yaml: issueSecurity})
		url := "tcp://" + e.s.Addr("mqtt")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				o := opts3(url, "c-"+tc.user)
				if tc.user != "" {
					o.SetUsername(tc.user)
					if !tc.noPassword {
						o.SetPassword(tc.password)
					}
				}
				_, code, err := connect3(t, o)
				if err == nil || code != tc.want3 {
					t.Fatalf("CONNACK code %#x (err %v), want %#x", code, err, tc.want3)
				}
			})
		}
		login3(t, url, "bob-ok", "bob", bobPW)
	})
	t.Run("5.0", func(t *testing.T) {
		e := start(t, setup{yaml: issueSecurity})
		addr := e.s.Addr("mqtt")
		reasons := map[byte]string{}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cp := creds5("c5-"+tc.user, tc.user, tc.password)
				if tc.noPassword {
					cp.PasswordFlag, cp.Password = false, nil
				}
				_, ack, err := dial5(t, addr, cp)
				if err == nil || ack == nil || ack.ReasonCode != tc.want5 {
					t.Fatalf("CONNACK %+v (err %v), want reason %#x", ack, err, tc.want5)
				}
				reason := ""
				if ack.Properties != nil {
					reason = ack.Properties.ReasonString
				}
				if prev, ok := reasons[tc.want5]; ok && prev != reason {
					t.Fatalf("reason string %q differs from %q for the same code: it tells refusals apart", reason, prev)
				}
				reasons[tc.want5] = reason
			})
		}
		login5(t, addr, "bob-ok", "bob", bobPW)
		e.expectAudit(t, `msg="authentication failed"`, "user=mallory", `reason="unknown user"`)
	})
}

// mqttBroker starts the issue's broker with the multicast address orders.x
// (MQTT topic orders/x) created by the operator: bob has no createAddress.
func mqttBroker(t *testing.T) *env {
	t.Helper()
	e := start(t, setup{yaml: issueSecurity})
	if err := e.s.Core.CreateAddress("orders.x", core.Multicast); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestMQTT311Authorization: paho.mqtt.golang as bob.
func TestMQTT311Authorization(t *testing.T) {
	e := mqttBroker(t)
	url := "tcp://" + e.s.Addr("mqtt")

	t.Run("allowed publish and subscribe", func(t *testing.T) {
		bob := login3(t, url, "bob-3", "bob", bobPW)
		msgs := make(chan mqtt3.Message, 10)
		for _, f := range []string{"orders/x", "orders/#"} {
			if code := sub3(t, bob, f, 1, msgs); code != 1 {
				t.Fatalf("SUBACK for %s: %#x, want QoS 1", f, code)
			}
		}
		if err := wait3(t, "PUBLISH", bob.Publish("orders/x", 1, false, "order")); err != nil {
			t.Fatal(err)
		}
		for range 2 { // once per matching subscription
			if m := recv3(t, msgs); string(m.Payload()) != "order" || m.Topic() != "orders/x" {
				t.Fatalf("got %s %q", m.Topic(), m.Payload())
			}
		}
	})

	t.Run("denied subscriptions", func(t *testing.T) {
		bob := login3(t, url, "bob-3s", "bob", bobPW)
		msgs := make(chan mqtt3.Message, 10)
		for _, f := range []string{"payments/x", "#", "+/x", "orders/new", "$share/g/payments/x", "$SYS/#"} {
			if code := sub3(t, bob, f, 1, msgs); code != 0x80 {
				t.Fatalf("SUBACK for %s: %#x, want 0x80", f, code)
			}
		}
		// A refused subscription leaves the connection usable.
		if code := sub3(t, bob, "orders/x", 0, msgs); code != 0 {
			t.Fatalf("SUBACK for orders/x after the refusals: %#x", code)
		}
		e.expectAudit(t, "user=bob", "action=consume", "address=payments.x")
		e.expectAudit(t, "user=bob", "action=createAddress", "address=orders.new")
	})

	t.Run("denied durable subscription", func(t *testing.T) {
		// A persistent session's subscriptions are durable queues.
		o := opts3(url, "bob-3d").SetUsername("bob").SetPassword(bobPW).SetCleanSession(false)
		bob, code, err := connect3(t, o)
		if err != nil {
			t.Fatalf("connect: %#x %v", code, err)
		}
		if code := sub3(t, bob, "orders/x", 1, make(chan mqtt3.Message, 1)); code != 0x80 {
			t.Fatalf("SUBACK %#x, want 0x80", code)
		}
		e.expectAudit(t, "user=bob", "action=createDurableQueue", "address=orders.x")
	})

	t.Run("denied publish closes the connection", func(t *testing.T) {
		lost := make(chan error, 1)
		o := opts3(url, "bob-3p").SetUsername("bob").SetPassword(bobPW).
			SetConnectionLostHandler(func(_ mqtt3.Client, err error) { lost <- err })
		bob, _, err := connect3(t, o)
		if err != nil {
			t.Fatal(err)
		}
		tok := bob.Publish("payments/x", 1, false, "no")
		select {
		case <-lost:
		case <-tok.Done():
			if tok.Error() == nil {
				t.Fatal("3.1.1 publish to payments/x was acknowledged")
			}
		case <-time.After(waitFor):
			t.Fatalf("3.1.1 connection not closed %v after a refused publish", waitFor)
		}
		if _, ok := e.s.Core.Address("payments.x"); ok {
			t.Fatal("the refused publish created payments.x")
		}
		e.expectAudit(t, "user=bob", "action=send", "address=payments.x")
	})
}

// TestMQTT5Authorization: paho.golang as bob; 5.0 says no with reason codes
// and keeps the connection.
func TestMQTT5Authorization(t *testing.T) {
	e := mqttBroker(t)
	addr := e.s.Addr("mqtt")

	t.Run("subscriptions", func(t *testing.T) {
		bob := login5(t, addr, "bob-5s", "bob", bobPW)
		ack, err := bob.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
			{Topic: "orders/x", QoS: 1}, {Topic: "payments/x", QoS: 1}, {Topic: "#", QoS: 0}, {Topic: "orders/+", QoS: 1}, {Topic: "$share/g/payments/x", QoS: 1},
		}})
		if err != nil && ack == nil {
			t.Fatal(err)
		}
		if want := []byte{1, 0x87, 0x87, 1, 0x87}; !slices.Equal(ack.Reasons, want) {
			t.Fatalf("SUBACK %#x, want %#x", ack.Reasons, want)
		}
	})

	t.Run("will on a forbidden topic", func(t *testing.T) {
		cp := creds5("bob-5w", "bob", bobPW)
		cp.WillMessage = &paho.WillMessage{Topic: "payments/x", QoS: 1, Payload: []byte("bye")}
		if _, ack, err := dial5(t, addr, cp); err == nil || ack == nil || ack.ReasonCode != 0x87 {
			t.Fatalf("CONNACK %+v (%v), want 0x87", ack, err)
		}
		o := opts3("tcp://"+addr, "bob-3w").SetUsername("bob").SetPassword(bobPW).SetWill("payments/x", "bye", 1, false)
		if _, code, err := connect3(t, o); err == nil || code != 0x05 {
			t.Fatalf("3.1.1 CONNACK %#x (%v), want 0x05", code, err)
		}
		e.expectAudit(t, "user=bob", "action=send", "address=payments.x")
	})

	t.Run("durable subscription", func(t *testing.T) {
		cp := creds5("bob-5d", "bob", bobPW)
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}
		bob, ack, err := dial5(t, addr, cp)
		if err != nil {
			t.Fatalf("connect: %v %+v", err, ack)
		}
		sa, err := bob.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}})
		if sa == nil {
			t.Fatal(err)
		}
		if !slices.Equal(sa.Reasons, []byte{0x87}) {
			t.Fatalf("SUBACK %#x, want 0x87", sa.Reasons)
		}
	})

	t.Run("publish", func(t *testing.T) {
		bob := login5(t, addr, "bob-5p", "bob", bobPW)
		for _, qos := range []byte{1, 2} {
			r, err := bob.Publish(ctxT(t), &paho.Publish{Topic: "payments/x", QoS: qos, Payload: []byte("no")})
			if r == nil || r.ReasonCode != 0x87 {
				t.Fatalf("QoS %d publish to payments/x: %+v, %v; want reason 0x87", qos, r, err)
			}
		}
		// The connection is still good.
		r, err := bob.Publish(ctxT(t), &paho.Publish{Topic: "orders/x", QoS: 1, Payload: []byte("yes")})
		if err != nil || r.ReasonCode != 0 {
			t.Fatalf("publish to orders/x after the refusals: %+v, %v", r, err)
		}
		if _, ok := e.s.Core.Address("payments.x"); ok {
			t.Fatal("the refused publish created payments.x")
		}
		e.expectAudit(t, `msg="authorization denied"`, "user=bob", "action=send", "address=payments.x")
	})
}

// TestMQTTSessionTakeover: connecting with another user's client id takes
// the session over (as MQTT requires) but not its subscriptions: each is
// authorized again for the new user.
func TestMQTTSessionTakeover(t *testing.T) {
	e := mqttBroker(t)
	addr := e.s.Addr("mqtt")
	cp := creds5("alice-device", "alice", alicePW)
	cp.CleanStart = false
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}
	alice, _, err := dial5(t, addr, cp)
	if err != nil {
		t.Fatal(err)
	}
	if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "payments/#", QoS: 1}}}); err != nil || sa.Reasons[0] != 1 {
		t.Fatalf("alice SUBSCRIBE payments/#: %+v %v", sa, err)
	}
	if err := alice.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	// The session waits for alice with a message in its queue.
	pub := login5(t, addr, "alice-pub", "alice", alicePW)
	if _, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "payments/x", QoS: 1, Payload: []byte("alice only")}); err != nil {
		t.Fatal(err)
	}
	var aliceQueue string
	for _, q := range e.s.Core.Queues() {
		if q.Info().Address == "payments.#" {
			aliceQueue = q.Name()
		}
	}
	e.awaitMessages(t, aliceQueue, 1)

	cp = creds5("alice-device", "bob", bobPW)
	cp.CleanStart = false
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(3600))}
	bob, ack, err := dial5(t, addr, cp)
	if err != nil {
		t.Fatalf("bob CONNECT: %+v %v", ack, err)
	}
	// Anything the resumed subscription delivered would reach bob before
	// the answer to his next request: a marker on an allowed topic.
	if sa, err := bob.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}}); sa == nil || !slices.Equal(sa.Reasons, []byte{0x87}) {
		t.Fatalf("bob's durable SUBSCRIBE orders/x: %+v %v, want 0x87", sa, err)
	}
	e.expectAudit(t, "user=bob", "action=consume", "address=payments.#")
	select {
	case m := <-bob.Msgs:
		t.Fatalf("bob received %q from alice's session", m.Payload)
	default:
	}
	q, _ := e.s.Core.Queue(aliceQueue)
	if st := q.Stats(); st.Messages != 1 || st.InFlight != 0 || st.Consumers != 0 {
		t.Fatalf("alice's subscription queue %s after bob took the session over: %+v", aliceQueue, st)
	}
}

// TestMQTTValidatedUser: the JMSXUserID user property a 5.0 subscriber sees
// is the publisher's login, whatever the publisher (MQTT 5.0, MQTT 3.1.1 or
// STOMP) put in the message.
func TestMQTTValidatedUser(t *testing.T) {
	e := mqttBroker(t)
	addr := e.s.Addr("mqtt")
	alice := login5(t, addr, "alice-sub", "alice", alicePW)
	if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}}); err != nil || sa.Reasons[0] != 1 {
		t.Fatalf("alice SUBSCRIBE: %+v %v", sa, err)
	}
	check := func(t *testing.T, payload string, keep bool) {
		t.Helper()
		m := alice.recv(t)
		if string(m.Payload) != payload {
			t.Fatalf("got %q, want %q", m.Payload, payload)
		}
		if got := userProps(m, core.PropUserID); !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("%s user properties %q, want exactly [bob]", core.PropUserID, got)
		}
		if keep && !slices.Equal(userProps(m, "note"), []string{"kept"}) {
			t.Fatalf("other user properties lost: %+v", m.Properties.User)
		}
	}

	t.Run("5.0 publisher", func(t *testing.T) {
		bob := login5(t, addr, "bob-pub5", "bob", bobPW)
		_, err := bob.Publish(ctxT(t), &paho.Publish{Topic: "orders/x", QoS: 1, Payload: []byte("from 5"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{
				{Key: core.PropUserID, Value: "alice"}, {Key: "note", Value: "kept"}, {Key: core.PropUserID, Value: "root"},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "from 5", true)
	})
	t.Run("3.1.1 publisher", func(t *testing.T) {
		bob := login3(t, "tcp://"+addr, "bob-pub3", "bob", bobPW)
		if err := wait3(t, "PUBLISH", bob.Publish("orders/x", 1, false, "from 3")); err != nil {
			t.Fatal(err)
		}
		check(t, "from 3", false)
	})
	t.Run("STOMP sender", func(t *testing.T) {
		bob := stompLogin(t, e.s.Addr("stomp"), "bob", bobPW)
		if err := bob.Send("/topic/orders.x", "", []byte("from stomp"), stomp.SendOpt.Header(core.PropUserID, "alice"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		check(t, "from stomp", false)
	})
}

func ptr[T any](v T) *T { return &v }

// TestMQTTWillKeepsItsPayload: a will is published long after its CONNECT
// was read; what it carries must be what the client sent, not whatever
// other connections have since read into the buffer the CONNECT was read
// into (which would leak their messages to the will topic's subscribers).
func TestMQTTWillKeepsItsPayload(t *testing.T) {
	e := mqttBroker(t)
	addr := e.s.Addr("mqtt")
	alice := login5(t, addr, "alice-will-watch", "alice", alicePW)
	if sa, err := alice.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/x", QoS: 1}}}); err != nil || sa.Reasons[0] != 1 {
		t.Fatalf("SUBSCRIBE: %+v %v", sa, err)
	}
	const will = "bob's last words"
	var devices []net.Conn
	for i := range 8 {
		// paho.golang 0.23 does not encode will properties: the CONNECT is
		// written with the broker's own codec.
		w := &packet.Will{QoS: 1, Topic: "orders/x", Payload: []byte(will)}
		w.Properties.CorrelationData = []byte("corr-" + strconv.Itoa(i))
		w.Properties.Set(packet.PropCorrelationData)
		devices = append(devices, rawConnect5(t, addr, &packet.Connect{Version: packet.Version5, CleanStart: true, KeepAlive: 60,
			ClientID: fmt.Sprintf("bob-will-%d", i), HasUsername: true, Username: "bob", HasPassword: true, Password: []byte(bobPW), Will: w}))
	}
	// Other traffic: each of these reads goes through the broker's pooled
	// read buffers.
	noise := login5(t, addr, "alice-noise", "alice", alicePW)
	secret := strings.Repeat("SECRET", 20)
	for range 50 {
		if _, err := noise.Publish(ctxT(t), &paho.Publish{Topic: "payments/secret", QoS: 1, Payload: []byte(secret)}); err != nil {
			t.Fatal(err)
		}
	}
	// The devices vanish without DISCONNECT: their wills go out.
	for _, nc := range devices {
		nc.Close()
	}
	corr := map[string]bool{}
	for range devices {
		m := alice.recv(t)
		if string(m.Payload) != will {
			t.Fatalf("will payload %q, want %q", m.Payload, will)
		}
		if m.Properties == nil || !strings.HasPrefix(string(m.Properties.CorrelationData), "corr-") {
			t.Fatalf("will correlation data %q, want corr-N", m.Properties.CorrelationData)
		}
		corr[string(m.Properties.CorrelationData)] = true
	}
	if len(corr) != len(devices) {
		t.Fatalf("correlation data %v, want %d distinct", corr, len(devices))
	}
}

// rawConnect5 sends a CONNECT built with the broker's codec and fails
// unless the CONNACK accepts it; the connection is left to the caller.
func rawConnect5(t *testing.T, addr string, cp *packet.Connect) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	b, err := cp.Append(nil, packet.Version5)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	fh, body, err := packet.NewReader(nc, 0).ReadPacket()
	if err != nil {
		t.Fatalf("waiting for CONNACK: %v", err)
	}
	var ack packet.Connack
	if fh.Type != packet.CONNACK {
		t.Fatalf("got %v, want CONNACK", fh.Type)
	}
	if err := ack.Decode(fh.Flags, body, packet.Version5); err != nil || ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %+v (%v)", ack, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc
}
