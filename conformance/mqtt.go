package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

func init() {
	register(
		check{protocol: "mqtt", feature: "connect 3.1.1", run: mqttConnect},
		check{protocol: "mqtt", feature: "QoS 0", run: func(ctx context.Context, e *env) error { return mqttQoS(ctx, e, 0) }},
		check{protocol: "mqtt", feature: "QoS 1", run: func(ctx context.Context, e *env) error { return mqttQoS(ctx, e, 1) }},
		check{protocol: "mqtt", feature: "QoS 2 exactly once", run: func(ctx context.Context, e *env) error { return mqttQoS(ctx, e, 2) }},
		check{protocol: "mqtt", feature: "wildcards + and #", run: mqttWildcards},
		check{protocol: "mqtt", feature: "retained message", run: mqttRetained},
		check{protocol: "mqtt", feature: "persistent session keeps QoS 1", run: mqttPersistent},
		check{protocol: "mqtt", feature: "will message", run: mqttWill},
		check{protocol: "mqtt", feature: "unsubscribe", run: mqttUnsubscribe},
		check{protocol: "mqtt5", feature: "connect 5.0", run: mqtt5Connect},
		check{protocol: "mqtt5", feature: "user properties", run: mqtt5UserProps},
		check{protocol: "mqtt5", feature: "request/response properties", run: mqtt5RequestResponse},
		check{protocol: "mqtt5", feature: "message expiry", run: mqtt5Expiry},
		check{protocol: "mqtt5", feature: "shared subscription", run: mqtt5Shared},
		check{protocol: "mqtt5", feature: "subscription identifier", run: mqtt5SubID},
		check{protocol: "mqtt5", feature: "no local", run: mqtt5NoLocal},
	)
}

// mqttClient connects a paho.mqtt.golang (3.1.1) client with its default
// options; msgs receives what its subscriptions deliver.
func mqttClient(ctx context.Context, e *env, id string, clean bool, opt func(*mqtt3.ClientOptions)) (mqtt3.Client, chan mqtt3.Message, error) {
	msgs := make(chan mqtt3.Message, 100)
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + e.MQTT).SetClientID(id).SetCleanSession(clean).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { msgs <- m })
	if e.User != "" {
		o.SetUsername(e.User).SetPassword(e.Password)
	}
	if dl, ok := ctx.Deadline(); ok {
		o.SetConnectTimeout(time.Until(dl))
	}
	if opt != nil {
		opt(o)
	}
	c := mqtt3.NewClient(o)
	if err := wait(ctx, c.Connect()); err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", id, err)
	}
	return c, msgs, nil
}

func wait(ctx context.Context, t mqtt3.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *env) clientID(what string) string {
	e.mu.Lock()
	e.serial++
	n := e.serial
	e.mu.Unlock()
	return "conf-" + e.run + "-" + what + "-" + strconv.Itoa(n)
}

func recv3(ctx context.Context, msgs chan mqtt3.Message) (mqtt3.Message, error) {
	select {
	case m := <-msgs:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no message: %w", ctx.Err())
	}
}

func none3(ctx context.Context, msgs chan mqtt3.Message, d time.Duration) error {
	select {
	case m := <-msgs:
		return fmt.Errorf("unexpected message on %s: %q", m.Topic(), m.Payload())
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func subscribe3(ctx context.Context, c mqtt3.Client, filter string, qos byte) error {
	_, err := subscribeGranted(ctx, c, filter, qos)
	return err
}

// subscribeGranted subscribes and returns the QoS the broker granted.
func subscribeGranted(ctx context.Context, c mqtt3.Client, filter string, qos byte) (byte, error) {
	t := c.Subscribe(filter, qos, nil)
	if err := wait(ctx, t); err != nil {
		return 0, err
	}
	st := t.(*mqtt3.SubscribeToken)
	r := st.Result()[filter]
	if r == 0x80 {
		return r, fmt.Errorf("SUBSCRIBE %s refused (0x80)", filter)
	}
	return r, nil
}

func mqttConnect(ctx context.Context, e *env) error {
	c, _, err := mqttClient(ctx, e, e.clientID("connect"), true, nil)
	if err != nil {
		return err
	}
	c.Disconnect(100)
	return nil
}

func mqttQoS(ctx context.Context, e *env, qos byte) error {
	topic := mqttTopic(e.name("qos" + strconv.Itoa(int(qos))))
	sub, msgs, err := mqttClient(ctx, e, e.clientID("sub"), true, nil)
	if err != nil {
		return err
	}
	defer sub.Disconnect(100)
	granted, err := subscribeGranted(ctx, sub, topic, qos)
	if err != nil {
		return err
	}
	if granted < qos {
		// The spec lets a server grant less than asked (MQTT 3.1.1 3.9.3).
		return skipf("the broker grants QoS %d at most (asked for %d)", granted, qos)
	}
	pub, _, err := mqttClient(ctx, e, e.clientID("pub"), true, nil)
	if err != nil {
		return err
	}
	defer pub.Disconnect(100)
	const n = 10
	for i := range n {
		if err := wait(ctx, pub.Publish(topic, qos, false, strconv.Itoa(i))); err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
	}
	for i := range n {
		m, err := recv3(ctx, msgs)
		if err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, n, err)
		}
		if string(m.Payload()) != strconv.Itoa(i) {
			return fmt.Errorf("message %d is %q: out of order", i, m.Payload())
		}
		if m.Qos() != qos {
			return fmt.Errorf("delivered at QoS %d, want %d", m.Qos(), qos)
		}
	}
	if qos == 2 {
		return none3(ctx, msgs, 300*time.Millisecond)
	}
	return nil
}

func mqttWildcards(ctx context.Context, e *env) error {
	base := mqttTopic(e.name("wild"))
	sub, msgs, err := mqttClient(ctx, e, e.clientID("wild"), true, nil)
	if err != nil {
		return err
	}
	defer sub.Disconnect(100)
	if err := subscribe3(ctx, sub, base+"/+/temp", 1); err != nil {
		return err
	}
	if err := subscribe3(ctx, sub, base+"/alarms/#", 1); err != nil {
		return err
	}
	pub, _, err := mqttClient(ctx, e, e.clientID("wildpub"), true, nil)
	if err != nil {
		return err
	}
	defer pub.Disconnect(100)
	for _, t := range []string{base + "/kitchen/temp", base + "/kitchen/humidity", base + "/alarms/fire/now", base + "/a/b/temp"} {
		if err := wait(ctx, pub.Publish(t, 1, false, t)); err != nil {
			return err
		}
	}
	want := map[string]bool{base + "/kitchen/temp": true, base + "/alarms/fire/now": true}
	for range 2 {
		m, err := recv3(ctx, msgs)
		if err != nil {
			return err
		}
		if !want[m.Topic()] {
			return fmt.Errorf("%s matched no filter but was delivered", m.Topic())
		}
		delete(want, m.Topic())
	}
	return none3(ctx, msgs, 300*time.Millisecond)
}

func mqttRetained(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("retained"))
	pub, _, err := mqttClient(ctx, e, e.clientID("rpub"), true, nil)
	if err != nil {
		return err
	}
	defer pub.Disconnect(100)
	if err := wait(ctx, pub.Publish(topic, 1, true, "last known")); err != nil {
		return err
	}
	sub, msgs, err := mqttClient(ctx, e, e.clientID("rsub"), true, nil)
	if err != nil {
		return err
	}
	defer sub.Disconnect(100)
	if err := subscribe3(ctx, sub, topic, 1); err != nil {
		return err
	}
	m, err := recv3(ctx, msgs)
	if err != nil {
		return fmt.Errorf("retained message not delivered to a new subscriber: %w", err)
	}
	if string(m.Payload()) != "last known" || !m.Retained() {
		return fmt.Errorf("got %q retained=%v", m.Payload(), m.Retained())
	}
	// An empty retained message clears it.
	if err := wait(ctx, pub.Publish(topic, 1, true, []byte{})); err != nil {
		return err
	}
	late, lmsgs, err := mqttClient(ctx, e, e.clientID("rlate"), true, nil)
	if err != nil {
		return err
	}
	defer late.Disconnect(100)
	if err := subscribe3(ctx, late, topic, 1); err != nil {
		return err
	}
	return none3(ctx, lmsgs, 500*time.Millisecond)
}

func mqttPersistent(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("persist"))
	id := e.clientID("persist")
	sub, _, err := mqttClient(ctx, e, id, false, nil)
	if err != nil {
		return err
	}
	if err := subscribe3(ctx, sub, topic, 1); err != nil {
		return err
	}
	sub.Disconnect(100)
	pub, _, err := mqttClient(ctx, e, e.clientID("ppub"), true, nil)
	if err != nil {
		return err
	}
	defer pub.Disconnect(100)
	if err := wait(ctx, pub.Publish(topic, 1, false, "while away")); err != nil {
		return err
	}
	back, msgs, err := mqttClient(ctx, e, id, false, nil)
	if err != nil {
		return err
	}
	defer func() {
		// Leave no session behind: a clean connect ends it.
		back.Disconnect(100)
		if c, _, err := mqttClient(context.Background(), e, id, true, nil); err == nil {
			c.Disconnect(100)
		}
	}()
	m, err := recv3(ctx, msgs)
	if err != nil {
		return fmt.Errorf("message sent while the persistent session was away: %w", err)
	}
	if string(m.Payload()) != "while away" {
		return fmt.Errorf("got %q", m.Payload())
	}
	return nil
}

func mqttWill(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("will"))
	sub, msgs, err := mqttClient(ctx, e, e.clientID("wsub"), true, nil)
	if err != nil {
		return err
	}
	defer sub.Disconnect(100)
	if err := subscribe3(ctx, sub, topic, 1); err != nil {
		return err
	}
	// The dying client: its connection is cut without DISCONNECT.
	var nc atomic.Pointer[net.Conn]
	dier, _, err := mqttClient(ctx, e, e.clientID("dier"), true, func(o *mqtt3.ClientOptions) {
		o.SetWill(topic, "gone", 1, false)
		o.SetCustomOpenConnectionFn(func(uri *neturl.URL, opts mqtt3.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", uri.Host)
			if err == nil {
				nc.Store(&c)
			}
			return c, err
		})
	})
	if err != nil {
		return err
	}
	_ = dier
	if p := nc.Load(); p != nil {
		(*p).Close()
	} else {
		return errors.New("could not reach the client's socket")
	}
	m, err := recv3(ctx, msgs)
	if err != nil {
		return fmt.Errorf("will message not published after the connection dropped: %w", err)
	}
	if string(m.Payload()) != "gone" {
		return fmt.Errorf("got %q", m.Payload())
	}
	return nil
}

func mqttUnsubscribe(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("unsub"))
	c, msgs, err := mqttClient(ctx, e, e.clientID("unsub"), true, nil)
	if err != nil {
		return err
	}
	defer c.Disconnect(100)
	if err := subscribe3(ctx, c, topic, 1); err != nil {
		return err
	}
	if err := wait(ctx, c.Unsubscribe(topic)); err != nil {
		return err
	}
	if err := wait(ctx, c.Publish(topic, 1, false, "after")); err != nil {
		return err
	}
	return none3(ctx, msgs, 300*time.Millisecond)
}

// ---- MQTT 5 (paho.golang) ----

type client5 struct {
	*paho.Client
	msgs chan *paho.Publish
}

// dial5 connects an MQTT 5 client; a broker that refuses version 5 makes
// every MQTT 5 check SKIP.
func dial5(ctx context.Context, e *env, cp *paho.Connect) (*client5, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", e.MQTT)
	if err != nil {
		return nil, err
	}
	cl := &client5{msgs: make(chan *paho.Publish, 100)}
	cl.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case cl.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
		PacketTimeout: e.Timeout,
	})
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	if e.User != "" {
		cp.Username, cp.UsernameFlag = e.User, true
		cp.Password, cp.PasswordFlag = []byte(e.Password), true
	}
	ack, err := cl.Connect(ctx, cp)
	if err != nil {
		nc.Close()
		if ack != nil && ack.ReasonCode == packets.ConnackUnsupportedProtocolVersion {
			return nil, skipf("the broker refuses MQTT 5 (CONNACK %#x)", ack.ReasonCode)
		}
		if serr := e.probeMQTT5(ctx); serr != nil {
			return nil, serr
		}
		return nil, err
	}
	return cl, nil
}

// probeMQTT5 tells a broker without MQTT 5 from a failing one: such a
// broker answers a version 5 CONNECT with a 3.1.1 CONNACK refusing the
// protocol level (20 02 00 01), which the MQTT 5 client cannot parse.
func (e *env) probeMQTT5(ctx context.Context) error {
	e.mqtt5Once.Do(func() {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", e.MQTT)
		if err != nil {
			return
		}
		defer nc.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetDeadline(dl)
		}
		id := e.clientID("probe5")
		// CONNECT: "MQTT", level 5, clean start, keep-alive 30, no
		// properties, the client id.
		body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 30, 0, 0, byte(len(id))}, id...)
		if _, err := nc.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
			return
		}
		var b [4]byte
		if n, err := io.ReadFull(nc, b[:]); err != nil {
			if n == 0 && errors.Is(err, io.EOF) && e.mqtt311Works(ctx) {
				e.mqtt5Err = skipf("the broker closes a version 5 CONNECT without an answer and speaks MQTT 3.1.1")
			}
			return
		}
		switch {
		case b[0] == 0x20 && b[1] == 2 && b[3] == 0x01:
			e.mqtt5Err = skipf("the broker speaks MQTT 3.1.1 only (a version 5 CONNECT is refused with 3.1.1's return code 1)")
		case b[0] == 0x20 && b[3] == byte(packets.ConnackUnsupportedProtocolVersion):
			e.mqtt5Err = skipf("the broker refuses MQTT 5 (CONNACK 0x84)")
		}
	})
	return e.mqtt5Err
}

// mqtt311Works reports whether a 3.1.1 client connects.
func (e *env) mqtt311Works(ctx context.Context) bool {
	c, _, err := mqttClient(ctx, e, e.clientID("probe311"), true, nil)
	if err != nil {
		return false
	}
	c.Disconnect(100)
	return true
}

func (c *client5) close() {
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

func (c *client5) recv(ctx context.Context) (*paho.Publish, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no message: %w", ctx.Err())
	}
}

func (c *client5) sub(ctx context.Context, s *paho.Subscribe) error {
	ack, err := c.Subscribe(ctx, s)
	if err != nil {
		return err
	}
	for i, r := range ack.Reasons {
		if r >= 0x80 {
			return fmt.Errorf("SUBSCRIBE %s refused (%#x)", s.Subscriptions[i].Topic, r)
		}
	}
	return nil
}

// pair connects a subscriber (subscribed to topic with opts) and a publisher.
func pair5(ctx context.Context, e *env, so paho.SubscribeOptions, props *paho.SubscribeProperties) (sub, pub *client5, err error) {
	sub, err = dial5(ctx, e, &paho.Connect{ClientID: e.clientID("s5"), CleanStart: true})
	if err != nil {
		return nil, nil, err
	}
	if err := sub.sub(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{so}, Properties: props}); err != nil {
		sub.close()
		return nil, nil, err
	}
	pub, err = dial5(ctx, e, &paho.Connect{ClientID: e.clientID("p5"), CleanStart: true})
	if err != nil {
		sub.close()
		return nil, nil, err
	}
	return sub, pub, nil
}

func mqtt5Connect(ctx context.Context, e *env) error {
	c, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("c5"), CleanStart: true})
	if err != nil {
		return err
	}
	c.close()
	return nil
}

func mqtt5UserProps(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("userprops"))
	sub, pub, err := pair5(ctx, e, paho.SubscribeOptions{Topic: topic, QoS: 1}, nil)
	if err != nil {
		return err
	}
	defer sub.close()
	defer pub.close()
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("p"), Properties: &paho.PublishProperties{
		User: paho.UserProperties{{Key: "region", Value: "eu"}, {Key: "region", Value: "us"}},
	}}); err != nil {
		return err
	}
	m, err := sub.recv(ctx)
	if err != nil {
		return err
	}
	if m.Properties == nil || len(m.Properties.User) != 2 || m.Properties.User[0].Value != "eu" || m.Properties.User[1].Value != "us" {
		return fmt.Errorf("user properties came back as %+v, want region=eu, region=us in order", m.Properties)
	}
	return nil
}

func mqtt5RequestResponse(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("request"))
	sub, pub, err := pair5(ctx, e, paho.SubscribeOptions{Topic: topic, QoS: 1}, nil)
	if err != nil {
		return err
	}
	defer sub.close()
	defer pub.close()
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("q"), Properties: &paho.PublishProperties{
		ResponseTopic: topic + "/reply", CorrelationData: []byte{0, 1, 2, 0xff}, ContentType: "text/plain",
	}}); err != nil {
		return err
	}
	m, err := sub.recv(ctx)
	if err != nil {
		return err
	}
	p := m.Properties
	if p == nil || p.ResponseTopic != topic+"/reply" || string(p.CorrelationData) != "\x00\x01\x02\xff" || p.ContentType != "text/plain" {
		return fmt.Errorf("properties came back as %+v", p)
	}
	return nil
}

func mqtt5Expiry(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("expiry"))
	id := e.clientID("exp")
	expiry := uint32(300)
	sub, err := dial5(ctx, e, &paho.Connect{ClientID: id, CleanStart: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		return err
	}
	if err := sub.sub(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		sub.close()
		return err
	}
	sub.close()
	pub, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("expp"), CleanStart: true})
	if err != nil {
		return err
	}
	defer pub.close()
	one := uint32(1)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("short-lived"), Properties: &paho.PublishProperties{MessageExpiry: &one}}); err != nil {
		return err
	}
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("long-lived")}); err != nil {
		return err
	}
	select {
	case <-time.After(2200 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	zero := uint32(0)
	back, err := dial5(ctx, e, &paho.Connect{ClientID: id, CleanStart: false, Properties: &paho.ConnectProperties{SessionExpiryInterval: &zero}})
	if err != nil {
		return err
	}
	defer back.close()
	m, err := back.recv(ctx)
	if err != nil {
		return err
	}
	if string(m.Payload) != "long-lived" {
		return fmt.Errorf("got %q first: a message past its expiry was delivered", m.Payload)
	}
	return nil
}

func mqtt5Shared(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("shared"))
	filter := "$share/g" + e.run + "/" + topic
	var members []*client5
	for range 2 {
		c, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("member"), CleanStart: true})
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.sub(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
			return err
		}
		members = append(members, c)
	}
	pub, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("sharedpub"), CleanStart: true})
	if err != nil {
		return err
	}
	defer pub.close()
	const n = 20
	for i := range n {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(strconv.Itoa(i))}); err != nil {
			return err
		}
	}
	got := map[string]int{}
	counts := make([]int, len(members))
	deadline := time.After(e.Timeout / 2)
	for total := 0; total < n; {
		select {
		case m := <-members[0].msgs:
			got[string(m.Payload)]++
			counts[0]++
			total++
		case m := <-members[1].msgs:
			got[string(m.Payload)]++
			counts[1]++
			total++
		case <-deadline:
			return fmt.Errorf("the group received %d of %d messages", total, n)
		}
	}
	for k, v := range got {
		if v != 1 {
			return fmt.Errorf("message %s delivered %d times to the group", k, v)
		}
	}
	if counts[0] == 0 || counts[1] == 0 {
		return fmt.Errorf("one member received everything (%v): not shared", counts)
	}
	return nil
}

func mqtt5SubID(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("subid"))
	id := 42
	sub, pub, err := pair5(ctx, e, paho.SubscribeOptions{Topic: topic, QoS: 1}, &paho.SubscribeProperties{SubscriptionIdentifier: &id})
	if err != nil {
		return err
	}
	defer sub.close()
	defer pub.close()
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")}); err != nil {
		return err
	}
	m, err := sub.recv(ctx)
	if err != nil {
		return err
	}
	if m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 42 {
		return fmt.Errorf("subscription identifier came back as %+v, want 42", m.Properties)
	}
	return nil
}

func mqtt5NoLocal(ctx context.Context, e *env) error {
	topic := mqttTopic(e.name("nolocal"))
	c, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("nolocal"), CleanStart: true})
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.sub(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1, NoLocal: true}}}); err != nil {
		return err
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("mine")}); err != nil {
		return err
	}
	other, err := dial5(ctx, e, &paho.Connect{ClientID: e.clientID("other"), CleanStart: true})
	if err != nil {
		return err
	}
	defer other.close()
	if _, err := other.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("theirs")}); err != nil {
		return err
	}
	m, err := c.recv(ctx)
	if err != nil {
		return err
	}
	if string(m.Payload) != "theirs" {
		return fmt.Errorf("got its own message %q back despite no-local", m.Payload)
	}
	return nil
}
