package openwire_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

func stompDial(t *testing.T, s *server.Server) *stompc.Conn {
	t.Helper()
	c, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.MsgSendTimeout(waitFor))
	if err != nil {
		t.Fatalf("STOMP connect: %v", err)
	}
	t.Cleanup(func() { _ = c.MustDisconnect() })
	return c
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

// TestJMSToSTOMP: a TextMessage sent by the ActiveMQ client reaches a STOMP
// subscriber as its text, with its properties and correlation id as
// headers; a BytesMessage as its bytes.
func TestJMSToSTOMP(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	sc := stompDial(t, s)
	sub, err := sc.Subscribe("/queue/xp.text", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	res := expectPass(t, url(s), "send:xp.text:hello stomp", "send:xp.bytes:raw bytes:bytes")
	id, _ := outValue(res["send:xp.text:hello stomp"], "id")
	m := stompRecv(t, sub)
	if string(m.Body) != "hello stomp" {
		t.Errorf("body %q, want %q", m.Body, "hello stomp")
	}
	for k, want := range map[string]string{"color": "blue", "n": "7", "correlation-id": "corr-x"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if id == "" || !strings.HasPrefix(id, "ID:") {
		t.Errorf("the JMS side printed no message id: %q", id)
	}
	bsub, err := sc.Subscribe("/queue/xp.bytes", stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if m := stompRecv(t, bsub); string(m.Body) != "raw bytes" {
		t.Errorf("bytes body %q", m.Body)
	}
}

// TestSTOMPToJMS: a STOMP text message arrives as a TextMessage, one with
// a binary body as a BytesMessage, headers as String properties.
func TestSTOMPToJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	sc := stompDial(t, s)
	if err := sc.Send("/queue/xp.fromstomp", "text/plain", []byte("from stomp"), stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("color", "red"), stompc.SendOpt.Header("correlation-id", "c-9")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("/queue/xp.binary", "application/octet-stream", []byte{0, 1, 0xff}, stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	res := expectPass(t, url(s), "recv:xp.fromstomp", "recv:xp.binary")
	r := res["recv:xp.fromstomp"]
	for _, want := range []string{"type text", "body from stomp", "prop color String red", "correlation c-9"} {
		if !slices.Contains(r.out, want) {
			t.Errorf("JMS consumer printed %q, want a line %q", r.out, want)
		}
	}
	if b := res["recv:xp.binary"]; !slices.Contains(b.out, "type bytes") {
		t.Errorf("binary STOMP message arrived as %q, want a BytesMessage", b.out)
	}
}

// TestMQTTToJMS: an MQTT publish reaches a JMS topic subscriber of the
// mapped name (sensors/7 is the topic sensors.7) as a BytesMessage.
func TestMQTTToJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), javaTimeout)
	defer cancel()
	cmd := javaCmd(t, ctx, url(s), "recv:xp.sensors.7:topic")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	lr := newLineReader(stdout)
	lr.await(t, "OUT ready", javaTimeout)
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + s.Addr("mqtt")).SetClientID("xp-pub").SetAutoReconnect(false).SetConnectTimeout(waitFor)
	mc := mqtt3.NewClient(o)
	if tok := mc.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	defer mc.Disconnect(100)
	if tok := mc.Publish("xp/sensors/7", 1, false, []byte("21.5")); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT publish: %v", tok.Error())
	}
	var out []string
	for {
		l, ok := <-lr.lines
		if !ok {
			t.Fatalf("the JMS consumer ended without a result; it printed %q", out)
		}
		if strings.HasPrefix(l, "FAIL ") {
			t.Fatal(l)
		}
		if strings.HasPrefix(l, "PASS ") {
			break
		}
		out = append(out, strings.TrimPrefix(l, "OUT "))
	}
	for _, want := range []string{"type bytes", "body 21.5"} {
		if !slices.Contains(out, want) {
			t.Errorf("JMS consumer printed %q, want a line %q", out, want)
		}
	}
}

// TestJMSToMQTT: a TextMessage published on a JMS topic reaches an MQTT
// subscriber of the mapped topic as its UTF-8 text.
func TestJMSToMQTT(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	got := make(chan string, 4)
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + s.Addr("mqtt")).SetClientID("xp-sub").SetAutoReconnect(false).SetConnectTimeout(waitFor)
	mc := mqtt3.NewClient(o)
	if tok := mc.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	defer mc.Disconnect(100)
	if tok := mc.Subscribe("xp/news", 1, func(_ mqtt3.Client, m mqtt3.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("MQTT subscribe: %v", tok.Error())
	}
	expectPass(t, url(s), "send:topic.xp.news:hello mqtt")
	select {
	case p := <-got:
		if p != "hello mqtt" {
			t.Errorf("MQTT payload %q, want %q", p, "hello mqtt")
		}
	case <-time.After(waitFor):
		t.Fatal("no MQTT message")
	}
}

// TestCoreKindsToJMS: properties of the AMQP kinds JMS lacks (as an AMQP
// producer sends them) reach a JMS consumer as their JMS types, and a text
// body as a TextMessage.
func TestCoreKindsToJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	sess := s.Core.NewSession(core.SessionOptions{})
	defer sess.Close()
	m := core.NewMessage("xp.kinds", []byte("typed"))
	m.RoutingType, m.BodyKind = core.Anycast, core.BodyText
	m.Properties = []prop.Property{
		{Name: "u8", Value: prop.Uint8Value(200)},
		{Name: "u16", Value: prop.Uint16Value(60000)},
		{Name: "u32", Value: prop.Uint32Value(4000000000)},
		{Name: "u64", Value: prop.Uint64Value(1 << 40)},
		{Name: "sym", Value: prop.SymbolValue("s")},
		{Name: "ts", Value: prop.TimestampValue(1700000000000)},
		{Name: "ch", Value: prop.CharValue('x')},
		{Name: "uuid", Value: prop.UUIDValue([16]byte{0x12, 0x34, 15: 0xff})},
	}
	m.CorrelationID = prop.Uint64Value(42)
	done := make(chan error, 1)
	if err := sess.Send(context.Background(), m, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res := expectPass(t, url(s), "recv:xp.kinds")
	for _, want := range []string{"type text", "body typed", "prop u8 Short 200", "prop u16 Integer 60000", "prop u32 Long 4000000000",
		"prop u64 Long 1099511627776", "prop sym String s", "prop ts Long 1700000000000", "prop ch Character x",
		"prop uuid String 12340000-0000-0000-0000-0000000000ff", "correlation ID:AMQP_ULONG:42"} {
		if !slices.Contains(res["recv:xp.kinds"].out, want) {
			t.Errorf("JMS consumer printed %q, want a line %q", res["recv:xp.kinds"].out, want)
		}
	}
}
