package amqp_test

// Messages crossing protocols both ways: the mapping of docs/AMQP.md
// ("Message mapping", "Other protocols") as real clients see it.

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/protocols/amqp/message"
	"github.com/junctionmq/junction/server"
)

func stompConn(t *testing.T, s *server.Server) *stompc.Conn {
	t.Helper()
	c, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.MsgSendTimeout(waitFor))
	if err != nil {
		t.Fatalf("STOMP connect: %v", err)
	}
	t.Cleanup(func() { _ = c.MustDisconnect() })
	return c
}

// stompSub subscribes and waits until the broker has the subscription: a
// SEND with a receipt on the same connection is handled after it.
func stompSub(t *testing.T, c *stompc.Conn, dest string) *stompc.Subscription {
	t.Helper()
	sub, err := c.Subscribe(dest, stompc.AckAuto)
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

func mqttConn(t *testing.T, s *server.Server, id string) *testkit.Paho5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr("mqtt"), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	c, ack, err := testkit.ConnectPaho5(t, nc, &paho.Connect{ClientID: id, CleanStart: true}, waitFor, nil)
	if err != nil {
		t.Fatalf("MQTT connect: %v %+v", err, ack)
	}
	return c
}

func mqttRecv(t *testing.T, c *testkit.Paho5) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.Msgs:
		return p
	case <-time.After(waitFor):
		t.Fatal("no MQTT message")
	}
	return nil
}

// TestSTOMPToAMQP: a STOMP SEND reaches a go-amqp receiver with its text
// body as an amqp-value string, headers as application-properties, and
// correlation-id, reply-to, type, persistence and priority in their AMQP
// places.
func TestSTOMPToAMQP(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "orders", &amqp.ReceiverOptions{Credit: 10})
	st := stompConn(t, s)
	err := st.Send("/queue/orders", "text/plain", []byte("hello"), stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("correlation-id", "c-1"), stompc.SendOpt.Header("reply-to", "/queue/replies"),
		stompc.SendOpt.Header("type", "OrderPlaced"), stompc.SendOpt.Header("persistent", "true"),
		stompc.SendOpt.Header("priority", "7"), stompc.SendOpt.Header("color", "red"))
	if err != nil {
		t.Fatal(err)
	}
	m := receive(t, r)
	if m.Value != "hello" {
		t.Errorf("body %#v %q, want amqp-value \"hello\"", m.Value, m.Data)
	}
	p := m.Properties
	if p == nil || p.CorrelationID != "c-1" || p.ReplyTo == nil || *p.ReplyTo != "replies" || p.Subject == nil || *p.Subject != "OrderPlaced" ||
		p.ContentType == nil || *p.ContentType != "text/plain" || p.To == nil || *p.To != "orders" {
		t.Errorf("properties %+v", p)
	}
	if id, ok := p.MessageID.(string); !ok || len(id) < 4 || id[:3] != "ID:" {
		t.Errorf("message-id %#v, want the broker's ID:<n>", p.MessageID)
	}
	if m.Header == nil || !m.Header.Durable || m.Header.Priority != 7 {
		t.Errorf("header %+v", m.Header)
	}
	if m.ApplicationProperties["color"] != "red" {
		t.Errorf("application properties %v", m.ApplicationProperties)
	}
	if m.Annotations["x-opt-jms-msg-type"] != int8(5) || m.Annotations["x-opt-jms-dest"] != int8(0) || m.Annotations["x-opt-jms-reply-to"] != int8(0) {
		t.Errorf("annotations %v", m.Annotations)
	}
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
}

// TestAMQPToSTOMP: application-properties become headers (values as
// text), subject the type, ids their text forms.
func TestAMQPToSTOMP(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	sub := stompSub(t, st, "/queue/invoices")
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "invoices", nil)
	uuid := amqp.UUID{0x12, 0x34, 15: 0x01}
	send(t, snd, &amqp.Message{
		Header:                &amqp.MessageHeader{Durable: true, Priority: 2},
		Properties:            &amqp.MessageProperties{MessageID: uint64(7), CorrelationID: uuid, Subject: ptr("Invoice"), ReplyTo: ptr("queue://answers"), ContentType: ptr("text/plain")},
		ApplicationProperties: map[string]any{"n": int64(42), "ok": true, "who": "bob"},
		Value:                 "body text",
	})
	m := stompRecv(t, sub)
	if string(m.Body) != "body text" {
		t.Errorf("body %q", m.Body)
	}
	for k, want := range map[string]string{"n": "42", "ok": "true", "who": "bob", "type": "Invoice", "persistent": "true", "priority": "2",
		"correlation-id": uuid.String(), "reply-to": "/queue/answers"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// TestMQTTToAMQP: an MQTT 5 publish reaches an AMQP topic receiver with
// user properties as application-properties and correlation data as the
// correlation-id.
func TestMQTTToAMQP(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "topic://sensors.7.temp", &amqp.ReceiverOptions{Credit: 10})
	pub := mqttConn(t, s, "pub")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "sensors/7/temp", QoS: 1, Payload: []byte("21.5"), Properties: &paho.PublishProperties{
		ContentType: "text/plain", CorrelationData: []byte{0xff, 0x00}, PayloadFormat: ptr(byte(1)),
		User: paho.UserProperties{{Key: "unit", Value: "C"}, {Key: "unit", Value: "F"}}}}); err != nil {
		t.Fatal(err)
	}
	m := receive(t, r)
	if m.Value != "21.5" {
		t.Errorf("body %#v %q", m.Value, m.Data)
	}
	if !reflect.DeepEqual(m.Properties.CorrelationID, []byte{0xff, 0x00}) || *m.Properties.ContentType != "text/plain" {
		t.Errorf("properties %+v", m.Properties)
	}
	if m.ApplicationProperties["unit"] != "C" || len(m.ApplicationProperties) != 1 {
		t.Errorf("application properties %v (a repeated user property keeps its first value)", m.ApplicationProperties)
	}
	if _, ok := m.Annotations["mqtt.qos"]; ok {
		t.Errorf("MQTT's annotations reached AMQP: %v", m.Annotations)
	}
	if m.Annotations["x-opt-jms-dest"] != int8(1) {
		t.Errorf("annotations %v", m.Annotations)
	}
}

// TestAMQPToMQTT: an AMQP send to a topic reaches an MQTT 5 subscriber
// with application-properties as user properties and a binary
// correlation-id as correlation data.
func TestAMQPToMQTT(t *testing.T) {
	s := startBroker(t, nil)
	sub := mqttConn(t, s, "sub")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "sensors/+/temp", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "topic://sensors.8.temp", nil)
	send(t, snd, &amqp.Message{
		Properties:            &amqp.MessageProperties{CorrelationID: []byte{1, 2, 3}, ContentType: ptr("application/json")},
		ApplicationProperties: map[string]any{"site": "north", "level": int32(3)},
		Data:                  [][]byte{[]byte(`{"t":20}`)},
	})
	p := mqttRecv(t, sub)
	if p.Topic != "sensors/8/temp" || string(p.Payload) != `{"t":20}` {
		t.Errorf("publish %s %q", p.Topic, p.Payload)
	}
	if p.Properties == nil || !reflect.DeepEqual(p.Properties.CorrelationData, []byte{1, 2, 3}) || p.Properties.ContentType != "application/json" {
		t.Fatalf("properties %+v", p.Properties)
	}
	got := map[string]string{}
	for _, u := range p.Properties.User {
		got[u.Key] = u.Value
	}
	if got["site"] != "north" || got["level"] != "3" {
		t.Errorf("user properties %v", p.Properties.User)
	}
}

// TestAMQPToAMQPByteFaithful: what one go-amqp client sends another gets
// unchanged, every id type and property type included.
func TestAMQPToAMQPByteFaithful(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "faithful", &amqp.ReceiverOptions{Credit: 10})
	snd := newSender(t, ss, "faithful", nil)
	for _, id := range []any{"str-id", uint64(1 << 40), amqp.UUID{9: 9}, []byte{0, 1, 2}} {
		in := &amqp.Message{
			Properties: &amqp.MessageProperties{MessageID: id, CorrelationID: id, GroupID: ptr("g"), GroupSequence: ptr(uint32(3)),
				ContentEncoding: ptr("gzip"), ReplyToGroupID: ptr("rg")},
			ApplicationProperties: map[string]any{"u8": uint8(1), "u16": uint16(2), "u32": uint32(3), "u64": uint64(4), "i8": int8(-1),
				"f32": float32(1.5), "ts": time.UnixMilli(123).UTC(), "sym": amqp.Symbol("s"), "bin": []byte{1}, "uuid": amqp.UUID{1: 1}},
			Annotations: amqp.Annotations{"x-opt-custom": "a"},
			Value:       map[string]any{"nested": []any{int64(1), map[string]any{"k": "v"}}},
		}
		send(t, snd, in)
		m := receive(t, r)
		if !reflect.DeepEqual(m.Properties.MessageID, id) || !reflect.DeepEqual(m.Properties.CorrelationID, id) ||
			*m.Properties.ContentEncoding != "gzip" || *m.Properties.ReplyToGroupID != "rg" {
			t.Errorf("properties %+v", m.Properties)
		}
		for k, v := range in.ApplicationProperties {
			got := m.ApplicationProperties[k]
			switch k {
			case "ts": // go-amqp reads timestamps in local time
				if tm, ok := got.(time.Time); ok && tm.Equal(v.(time.Time)) {
					continue
				}
			case "sym": // go-amqp reads symbols as strings
				if got == "s" {
					continue
				}
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("property %s = %#v, want %#v", k, got, v)
			}
		}
		if !reflect.DeepEqual(m.Value, in.Value) || m.Annotations["x-opt-custom"] != "a" {
			t.Errorf("value %#v annotations %v", m.Value, m.Annotations)
		}
		if err := r.AcceptMessage(ctxFor(t), m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBareMessageBytes: a bare message in encodings no library would pick
// (str32, list32, map32 with a sym32 key, two data sections) reaches a
// consumer byte for byte; only the header and annotations are new.
func TestBareMessageBytes(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "out", Handle: 0, Role: codec.RoleSender, SndSettleMode: codec.SndSettled,
		Target: &codec.Target{Address: "bytes", Capabilities: []codec.Symbol{"queue"}}, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	str32 := func(s string) []byte { return append([]byte{0xb1, 0, 0, 0, byte(len(s))}, s...) }
	bare := []byte{0x00, 0x53, 0x73, 0xd0, 0, 0, 0, 11, 0, 0, 0, 1}
	bare = append(bare, str32("id")...) // message-id as str32
	bare = append(bare, 0x00, 0x53, 0x74, 0xd1, 0, 0, 0, 16, 0, 0, 0, 2, 0xb3, 0, 0, 0, 1, 'k')
	bare = append(bare, str32("v")...)
	bare = append(bare, 0x00, 0x53, 0x75, 0xb0, 0, 0, 0, 2, 'a', 'b', 0x00, 0x53, 0x75, 0xa0, 1, 'c')
	payload := append([]byte{0x00, 0x53, 0x70, 0xc0, 2, 1, 0x41}, bare...) // header: durable
	r.send(0, &codec.Transfer{Handle: 0, HasDeliveryID: true, DeliveryTag: []byte{1}, HasMessageFormat: true, Settled: true}, payload)

	r.send(0, &codec.Attach{Name: "in", Handle: 1, Role: codec.RoleReceiver, SndSettleMode: codec.SndSettled,
		Source: &codec.Source{Address: "bytes", Capabilities: []codec.Symbol{"queue"}}}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{IncomingWindow: 1000, NextOutgoingID: 1, OutgoingWindow: 1000, HasHandle: true, Handle: 1,
		HasDeliveryCount: true, HasLinkCredit: true, LinkCredit: 1}, nil)
	var got []byte
	for {
		_, body, err := codec.ReadFrame(r.nc, 0, &r.buf)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if len(body) == 0 {
			continue
		}
		p, pl, err := codec.DecodePerformative(body)
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *codec.Transfer:
			got = append(got, pl...)
		case *codec.Detach, *codec.End, *codec.Close:
			t.Fatalf("got %#v", p)
		}
		if tr, ok := p.(*codec.Transfer); ok && !tr.More {
			break
		}
	}
	if !bytes.HasSuffix(got, bare) {
		t.Fatalf("bare message changed:\n sent % x\n got % x", bare, got)
	}
	m, _, err := message.Decode(got, time.Now())
	if err != nil || !m.Durable || string(m.Body) != "abc" {
		t.Fatalf("delivered message %+v: %v", m, err)
	}
}

// protonScript runs a Python program against the broker with Qpid Proton's
// blocking API (a second AMQP implementation, in C, beside go-amqp); ADDR
// in the program is the broker's AMQP address.
func protonScript(t *testing.T, s *server.Server, program string) string {
	t.Helper()
	needProton(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, protonPython, "-c", strings.ReplaceAll(program, "ADDR", s.Addr("amqp")))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// TestProtonToSTOMP: Qpid Proton's typed properties and ids reach a STOMP
// client as text.
func TestProtonToSTOMP(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	st := stompConn(t, s)
	sub := stompSub(t, st, "/queue/typed")
	protonScript(t, s, `
import uuid
from proton import Message, symbol, ulong, ubyte, char, timestamp
from proton.utils import BlockingConnection
c = BlockingConnection("ADDR")
snd = c.create_sender("typed")
snd.send(Message(id=ulong(12), correlation_id=uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"),
    subject="Typed", body="text body", durable=True, priority=8,
    properties={"u8": ubyte(200), "sym": symbol("abc"), "ch": char("x"), "ts": timestamp(1700000000000), "f": 1.25}))
c.close()
`)
	m := stompRecv(t, sub)
	if string(m.Body) != "text body" {
		t.Errorf("body %q", m.Body)
	}
	for k, want := range map[string]string{"u8": "200", "sym": "abc", "ch": "x", "ts": "1700000000000", "f": "1.25",
		"type": "Typed", "correlation-id": "01234567-89ab-cdef-0123-456789abcdef", "persistent": "true", "priority": "8"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// TestSTOMPToProton: a STOMP message as Qpid Proton reads it: text body
// as a str, headers as string properties, the broker's id as message-id,
// and the JMS annotations.
func TestSTOMPToProton(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	st := stompConn(t, s)
	if err := st.Send("/queue/toproton", "text/plain", []byte("from stomp"), stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("correlation-id", "c-9"), stompc.SendOpt.Header("k", "v")); err != nil {
		t.Fatal(err)
	}
	out := protonScript(t, s, `
from proton.utils import BlockingConnection
c = BlockingConnection("ADDR")
r = c.create_receiver("toproton")
m = r.receive(timeout=10)
r.accept()
print("body", type(m.body).__name__, m.body)
print("id", str(m.id)[:3])
print("correlation", m.correlation_id)
print("props", sorted(m.properties.items()))
t = m.annotations.get("x-opt-jms-msg-type")
print("jms-type", type(t).__name__, int(t))
c.close()
`)
	for _, want := range []string{"body str from stomp", "id ID:", "correlation c-9", "props [('k', 'v')]", "jms-type byte 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("proton output lacks %q:\n%s", want, out)
		}
	}
}

// rheaScript runs a Node.js program with rhea (a third AMQP
// implementation) against the broker; PORT in it is the AMQP port.
func rheaScript(t *testing.T, s *server.Server, program string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(rheaModules, "rhea"))
	if err != nil || errMod != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or rhea missing (run make test-deps): %v %v", err, errMod)
		}
		t.Skip("node or rhea is not installed (make test-deps installs rhea into testdata/js)")
	}
	_, port, _ := strings.Cut(s.Addr("amqp"), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "-e", strings.ReplaceAll(program, "PORT", port))
	abs, _ := filepath.Abs(rheaModules)
	cmd.Env = append(os.Environ(), "NODE_PATH="+abs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return string(out)
}

// TestRheaToSTOMP and TestSTOMPToRhea: the mapping as rhea sees it.
func TestRheaToSTOMP(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	sub := stompSub(t, st, "/queue/from.rhea")
	rheaScript(t, s, `
const rhea = require('rhea');
const c = rhea.connect({host: '127.0.0.1', port: PORT});
c.open_sender('from.rhea');
c.once('sendable', (ctx) => {
  ctx.sender.send({message_id: 'm-1', correlation_id: 'c-2', subject: 'Subj', body: 'hi rhea',
    application_properties: {color: 'red', n: 7}});
});
c.on('accepted', () => c.close());
`)
	m := stompRecv(t, sub)
	if string(m.Body) != "hi rhea" {
		t.Errorf("body %q", m.Body)
	}
	for k, want := range map[string]string{"color": "red", "n": "7", "type": "Subj", "correlation-id": "c-2"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestSTOMPToRhea(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	if err := st.Send("/queue/to.rhea", "text/plain", []byte("from stomp"), stompc.SendOpt.Receipt,
		stompc.SendOpt.Header("correlation-id", "c-3"), stompc.SendOpt.Header("shape", "round")); err != nil {
		t.Fatal(err)
	}
	out := rheaScript(t, s, `
const rhea = require('rhea');
const c = rhea.connect({host: '127.0.0.1', port: PORT});
c.open_receiver('to.rhea');
c.on('message', (ctx) => {
  const m = ctx.message;
  console.log(JSON.stringify({body: m.body, type: typeof m.body, props: m.application_properties,
    cid: m.correlation_id, mid: String(m.message_id).slice(0, 3), jms: m.message_annotations['x-opt-jms-msg-type'],
    durable: !!m.durable}));
  ctx.delivery.accept();
  c.close();
});
`)
	for _, want := range []string{`"body":"from stomp"`, `"type":"string"`, `"props":{"shape":"round"}`, `"cid":"c-3"`, `"mid":"ID:"`, `"jms":5`} {
		if !strings.Contains(out, want) {
			t.Errorf("rhea output lacks %s:\n%s", want, out)
		}
	}
}

// TestScheduledDelivery: x-opt-delivery-delay and x-opt-delivery-time (as
// Artemis and Azure Service Bus name them) hold a message back until its
// time, for an AMQP and a STOMP consumer alike.
func TestScheduledDelivery(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "later", &amqp.ReceiverOptions{Credit: 10})
	st := stompConn(t, s)
	sub := stompSub(t, st, "/queue/later.stomp")
	snd := newSender(t, ss, "later", nil)
	toStomp := newSender(t, ss, "queue://later.stomp", nil)
	const delay = 400 * time.Millisecond

	start := time.Now()
	send(t, snd, &amqp.Message{Annotations: amqp.Annotations{"x-opt-delivery-delay": delay.Milliseconds()}, Value: "delayed"})
	m := receive(t, r)
	if waited := time.Since(start); m.Value != "delayed" || waited < delay-20*time.Millisecond {
		t.Fatalf("%v arrived after %v, before its %v delay", m.Value, waited, delay)
	}
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}

	at := time.Now().Add(delay)
	send(t, toStomp, &amqp.Message{Annotations: amqp.Annotations{"x-opt-delivery-time": at}, Value: "timed"})
	sm := stompRecv(t, sub)
	if now := time.Now(); string(sm.Body) != "timed" || now.Before(at.Add(-20*time.Millisecond)) {
		t.Fatalf("%q arrived %v before its time", sm.Body, at.Sub(now))
	}
}

// TestLargeBodyAcrossProtocols: a body many frames long crosses both ways
// intact (transfers split by the max-frame-size and joined again).
func TestLargeBodyAcrossProtocols(t *testing.T) {
	s := startBroker(t, nil)
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	st := stompConn(t, s)
	sub := stompSub(t, st, "/queue/big.out")
	_, ss := session(t, s, &amqp.ConnOptions{MaxFrameSize: 4096})
	send(t, newSender(t, ss, "big.out", nil), &amqp.Message{Data: [][]byte{big}})
	if m := stompRecv(t, sub); !bytes.Equal(m.Body, big) {
		t.Fatalf("STOMP got %d bytes, want the %d sent", len(m.Body), len(big))
	}

	r := newReceiver(t, ss, "big.in", &amqp.ReceiverOptions{Credit: 2})
	if err := st.Send("/queue/big.in", "application/octet-stream", big, stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, r)
	if got := m.GetData(); !bytes.Equal(got, big) {
		t.Fatalf("AMQP got %d bytes, want the %d sent", len(got), len(big))
	}
}
