package mqtt_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"
	gsframe "github.com/go-stomp/stomp/v3/frame"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server"
)

// stompConn is a go-stomp connection closed when the test ends.
func stompConn(t *testing.T, s *server.Server, opts ...func(*stompc.Conn) error) *stompc.Conn {
	t.Helper()
	opts = append([]func(*stompc.Conn) error{stompc.ConnOpt.MsgSendTimeout(waitFor)}, opts...)
	c, err := stompc.Dial("tcp", s.Addr("stomp"), opts...)
	if err != nil {
		t.Fatalf("STOMP connect: %v", err)
	}
	t.Cleanup(func() { _ = c.MustDisconnect() })
	return c
}

// stompSub subscribes and waits until the broker has the subscription: a
// SEND with a receipt on the same connection is handled after it.
func stompSub(t *testing.T, c *stompc.Conn, dest string, opts ...func(*gsframe.Frame) error) *stompc.Subscription {
	t.Helper()
	sub, err := c.Subscribe(dest, stompc.AckAuto, opts...)
	if err != nil {
		t.Fatalf("STOMP SUBSCRIBE %s: %v", dest, err)
	}
	if err := c.Send("/topic/sync.nobody", "text/plain", nil, stompc.SendOpt.Receipt); err != nil {
		t.Fatalf("STOMP sync: %v", err)
	}
	return sub
}

func stompRecv(t *testing.T, sub *stompc.Subscription) *stompc.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok || m.Err != nil {
			t.Fatalf("STOMP subscription ended: %v", m)
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("no STOMP message on %s within %v", sub.Destination(), waitFor)
	}
	return nil
}

// TestMQTTToSTOMP: an MQTT publish reaches a STOMP /topic/ subscriber of the
// mapped address, user properties becoming headers and the 5.0 properties
// their STOMP counterparts.
func TestMQTTToSTOMP(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	sub := stompSub(t, st, "/topic/sensors.7.temp")
	wild := stompSub(t, st, "/topic/sensors.*.temp")

	pub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "x-pub5", CleanStart: true})
	pub.pub(&paho.Publish{Topic: "sensors/7/temp", QoS: 1, Payload: []byte("21.5"), Properties: &paho.PublishProperties{
		ContentType: "text/plain", CorrelationData: []byte("c-1"), ResponseTopic: "replies/7",
		User: paho.UserProperties{{Key: "unit", Value: "C"}, {Key: "site", Value: "north"}},
	}})
	for _, sb := range []*stompc.Subscription{sub, wild} {
		m := stompRecv(t, sb)
		if string(m.Body) != "21.5" {
			t.Fatalf("body %q", m.Body)
		}
		for k, want := range map[string]string{"destination": "/topic/sensors.7.temp", "unit": "C", "site": "north",
			"content-type": "text/plain", "correlation-id": "c-1", "reply-to": "/topic/replies.7", "persistent": "true"} {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		// User properties keep their order among the headers.
		var order []string
		for i := range m.Header.Len() {
			k, _ := m.Header.GetAt(i)
			if k == "unit" || k == "site" {
				order = append(order, k)
			}
		}
		if !slices.Equal(order, []string{"unit", "site"}) {
			t.Errorf("user property headers in order %v", order)
		}
		for i := range m.Header.Len() {
			if k, _ := m.Header.GetAt(i); strings.HasPrefix(k, "_MQTT") {
				t.Errorf("internal header %s leaked to STOMP", k)
			}
		}
	}

	// 3.1.1 QoS 0: not persistent.
	pub3 := dial3(t, s.Addr("mqtt"), "x-pub3", nil)
	pub3.pub("sensors/7/temp", 0, false, "22")
	if m := stompRecv(t, sub); string(m.Body) != "22" || m.Header.Get("persistent") == "true" {
		t.Fatalf("got %q persistent %q", m.Body, m.Header.Get("persistent"))
	}

	// A QoS 2 retained publish: the adapter marks both on the core message,
	// as annotations a STOMP consumer never sees, while an MQTT subscriber
	// with retain-as-published still gets both.
	rap, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "x-rap", CleanStart: true})
	rap.sub(paho.SubscribeOptions{Topic: "sensors/7/temp", QoS: 2, RetainAsPublished: true})
	pub.pub(&paho.Publish{Topic: "sensors/7/temp", QoS: 2, Retain: true, Payload: []byte("23"), Properties: &paho.PublishProperties{
		User: paho.UserProperties{{Key: "unit", Value: "C"}}}})
	m := stompRecv(t, sub)
	if string(m.Body) != "23" || m.Header.Get("unit") != "C" {
		t.Fatalf("got %q unit %q", m.Body, m.Header.Get("unit"))
	}
	for i := range m.Header.Len() {
		if k, _ := m.Header.GetAt(i); strings.HasPrefix(k, "_MQTT") || strings.HasPrefix(k, "mqtt.") {
			t.Errorf("internal header %s leaked to STOMP", k)
		}
	}
	if p := rap.recv(); string(p.Payload) != "23" || p.QoS != 2 || !p.Retain {
		t.Errorf("MQTT subscriber got %q QoS %d retain %v, want QoS 2 retained", p.Payload, p.QoS, p.Retain)
	}
}

// TestSelectorOnMQTTUserProperties: MQTT 5 user properties are typed
// strings, so a selector comparing one with a number is FALSE (JMS 2.0
// §3.8.1.1), not UNKNOWN: NOT (site = 5) selects, while site > 5 and
// site <> 5 do not, even for a site that reads as a number.
func TestSelectorOnMQTTUserProperties(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	not := stompSub(t, st, "/topic/sel.t", stompc.SubscribeOpt.Header("selector", "NOT (site = 5) AND site = 'north'"))
	gt := stompSub(t, st, "/topic/sel.t", stompc.SubscribeOpt.Header("selector", "site > 5 OR site <> 5 OR marker = 'end'"))

	pub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "sel-pub", CleanStart: true})
	for _, u := range []paho.UserProperties{{{Key: "site", Value: "north"}}, {{Key: "site", Value: "7"}}, {{Key: "marker", Value: "end"}}} {
		pub.pub(&paho.Publish{Topic: "sel/t", QoS: 1, Payload: []byte(u[0].Value), Properties: &paho.PublishProperties{User: u}})
	}
	if m := stompRecv(t, not); string(m.Body) != "north" {
		t.Errorf("NOT (site = 5) got %q first, want north", m.Body)
	}
	if m := stompRecv(t, gt); string(m.Body) != "end" {
		t.Errorf("site > 5 OR site <> 5 selected %q: a typed string never compares as a number", m.Body)
	}
}

// TestSTOMPToMQTT: a STOMP SEND to /topic/sensors.7.temp reaches MQTT
// subscribers of sensors/+/temp, headers becoming 5.0 user properties.
func TestSTOMPToMQTT(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c5, _ := dial5(t, addr, &paho.Connect{ClientID: "x-sub5", CleanStart: true})
	c5.sub(paho.SubscribeOptions{Topic: "sensors/+/temp", QoS: 2})
	c3 := dial3(t, addr, "x-sub3", nil)
	c3.sub("sensors/#", 1)

	st := stompConn(t, s)
	if err := st.Send("/topic/sensors.7.temp", "text/plain", []byte("19.0"), stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("unit", "C"), stompc.SendOpt.Header("room", "lab"), stompc.SendOpt.Header("persistent", "true"),
		stompc.SendOpt.Header("reply-to", "/topic/answers.7"), stompc.SendOpt.Header("correlation-id", "abc")); err != nil {
		t.Fatal(err)
	}
	m := c5.recv()
	if m.Topic != "sensors/7/temp" || string(m.Payload) != "19.0" || m.QoS != 1 {
		t.Fatalf("5.0 got %q on %s at QoS %d (a persistent STOMP message is QoS 1)", m.Payload, m.Topic, m.QoS)
	}
	if m.Properties == nil {
		t.Fatal("no properties")
	}
	if got := m.Properties.User.Get("unit"); got != "C" {
		t.Errorf("user property unit = %q", got)
	}
	if got := m.Properties.User.Get("room"); got != "lab" {
		t.Errorf("user property room = %q", got)
	}
	if m.Properties.ContentType != "text/plain" || m.Properties.ResponseTopic != "answers/7" || string(m.Properties.CorrelationData) != "abc" {
		t.Errorf("properties %+v", m.Properties)
	}
	if m3 := c3.recv(); m3.topic != "sensors/7/temp" || m3.payload != "19.0" || m3.qos != 1 {
		t.Fatalf("3.1.1 got %+v", m3)
	}

	// A non-persistent STOMP message arrives at QoS 0.
	if err := st.Send("/topic/sensors.8.temp", "text/plain", []byte("18"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := c5.recv(); m.Topic != "sensors/8/temp" || m.QoS != 0 {
		t.Fatalf("got %q on %s QoS %d", m.Payload, m.Topic, m.QoS)
	}
}

// TestSTOMPDurableSubscriptionGetsMQTT: a STOMP durable subscription on the
// address MQTT publishes to keeps the QoS 1 messages sent while its client
// is away.
func TestSTOMPDurableSubscriptionGetsMQTT(t *testing.T) {
	s := startBroker(t, nil)
	subscribe := func() (*stompc.Conn, *stompc.Subscription) {
		c, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.Header("client-id", "stomp-durable"))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := c.Subscribe("/topic/plant.line1", stompc.AckClient, stompc.SubscribeOpt.Header("durable-subscription-name", "audit"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send("/topic/sync.nobody", "text/plain", nil, stompc.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		return c, sub
	}
	c, _ := subscribe()
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}

	pub, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, "to-durable", true)
	for i := range 3 {
		pub.publish(&packet.Publish{Topic: []byte("plant/line1"), QoS: 1, PacketID: uint16(1 + i), Payload: fmt.Appendf(nil, "reading %d", i)})
	}

	c, sub := subscribe()
	t.Cleanup(func() { _ = c.Disconnect() })
	for i := range 3 {
		m := stompRecv(t, sub)
		if want := fmt.Sprintf("reading %d", i); string(m.Body) != want {
			t.Fatalf("got %q, want %q", m.Body, want)
		}
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
}
