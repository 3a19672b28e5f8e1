package mqtt_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// received collects the topics a raw client receives until the marker
// payload arrives.
func received(c *raw, marker string) []string {
	c.t.Helper()
	var got []string
	for {
		p := expectPublish(c)
		if string(p.Payload) == marker {
			return got
		}
		got = append(got, string(p.Topic))
		c.ack(p)
	}
}

// TestTopicFilters: `+` matches exactly one level, `#` any number including
// the parent [MQTT-4.7.1-1] [MQTT-4.7.1-2]; filters starting with a
// wildcard do not match topics starting with `$` [MQTT-4.7.2-1]; matching
// is exact [MQTT-4.7.3-4]; `/` and `.` in topics survive the mapping to
// core addresses.
func TestTopicFilters(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	topics := []string{
		"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis", "sport",
		"sport/", "/finance", "finance", "a.b/c", "a/b/c", "$SYS/broker/load", "$SYS",
		"Sport/Tennis", "x/*/y", "x/q/y",
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"sport/tennis/+", []string{"sport/tennis/player1"}},
		{"sport/#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis", "sport", "sport/"}},
		{"sport/+", []string{"sport/tennis", "sport/"}},
		{"+", []string{"sport", "finance"}},
		{"+/+", []string{"sport/tennis", "sport/", "/finance", "a.b/c", "Sport/Tennis"}},
		{"/+", []string{"/finance"}},
		{"#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis", "sport", "sport/", "/finance", "finance", "a.b/c", "a/b/c", "Sport/Tennis", "x/*/y", "x/q/y"}},
		{"a.b/+", []string{"a.b/c"}},
		{"a/b/c", []string{"a/b/c"}},
		{"+/tennis/#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis"}},
		{"$SYS/#", []string{"$SYS/broker/load", "$SYS"}},
		{"+/broker/+", nil},
		{"$SYS/+/load", []string{"$SYS/broker/load"}},
		{"Sport/+", []string{"Sport/Tennis"}},
		{"x/+/y", []string{"x/*/y", "x/q/y"}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			c, _ := connectRaw(t, addr, packet.Version311, "filter-"+tc.filter, true)
			if codes := c.subscribe(1, packet.Subscription{Filter: tc.filter, QoS: 1}, packet.Subscription{Filter: "end/marker"}); codes[0] != packet.GrantedQoS1 {
				t.Fatalf("SUBACK %v", codes)
			}
			pub, _ := connectRaw(t, addr, packet.Version311, "filter-pub", true)
			for _, topic := range topics {
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: 1, Payload: []byte(topic)})
			}
			pub.publish(&packet.Publish{Topic: []byte("end/marker"), QoS: 1, PacketID: 2, Payload: []byte("marker")})
			got := received(c, "marker")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("filter %q matched %q, want %q", tc.filter, got, tc.want)
			}
		})
	}
}

// TestLiteralCoreWildcardLevels: `*` and `>` are ordinary characters in
// MQTT but wildcard words in core address patterns, so a filter level that
// is exactly `*` or `>` must match only that literal level [MQTT-4.7.3-4].
func TestLiteralCoreWildcardLevels(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	for _, filter := range []string{"x/*/y", "x/>"} {
		c, _ := connectRaw(t, addr, packet.Version311, "lit", true)
		c.subscribe(1, packet.Subscription{Filter: filter, QoS: 1}, packet.Subscription{Filter: "end/marker"})
		c.publish(&packet.Publish{Topic: []byte("x/q/y"), QoS: 1, PacketID: 1, Payload: []byte("wide")})
		c.publish(&packet.Publish{Topic: []byte("end/marker"), QoS: 1, PacketID: 2, Payload: []byte("marker")})
		if got := received(c, "marker"); len(got) != 0 {
			t.Errorf("filter %q matched %q", filter, got)
		}
	}

	// Both filters together: the literal topics only, once each.
	c, _ := connectRaw(t, addr, packet.Version311, "lit-both", true)
	c.subscribe(1, packet.Subscription{Filter: "x/*/y", QoS: 1}, packet.Subscription{Filter: "x/>", QoS: 1},
		packet.Subscription{Filter: `x/\*/y`, QoS: 1}, packet.Subscription{Filter: "end/marker"})
	for i, topic := range []string{"x/q/y", "x/*/y", "x/>", "x/q", `x/\*/y`, `x/\q/y`} {
		c.publish(&packet.Publish{Topic: []byte(topic), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(topic)})
	}
	c.publish(&packet.Publish{Topic: []byte("end/marker"), QoS: 1, PacketID: 9, Payload: []byte("marker")})
	if got, want := received(c, "marker"), []string{"x/*/y", "x/>", `x/\*/y`}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
}

// TestLiteralWildcardLevelsAcrossSTOMP: the escaped core address of an MQTT
// topic with a `*` or `>` level is what STOMP subscribes and sends to, both
// ways, and the topic comes back to MQTT unchanged.
func TestLiteralWildcardLevelsAcrossSTOMP(t *testing.T) {
	s := startBroker(t, nil)
	st := stompConn(t, s)
	star := stompSub(t, st, `/topic/x.\*.y`)
	wide := stompSub(t, st, "/topic/x.*.y")
	gt := stompSub(t, st, `/topic/x.\>`)

	sub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "lit-mqtt", CleanStart: true})
	sub.sub(paho.SubscribeOptions{Topic: "x/>", QoS: 1})
	pub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "lit-pub", CleanStart: true})
	pub.pub(&paho.Publish{Topic: "x/*/y", QoS: 1, Payload: []byte("star")})
	for _, sb := range []*stompc.Subscription{star, wide} {
		if m := stompRecv(t, sb); string(m.Body) != "star" || m.Header.Get("destination") != `/topic/x.\*.y` {
			t.Fatalf("STOMP %s got %q at %q", sb.Destination(), m.Body, m.Header.Get("destination"))
		}
	}
	pub.pub(&paho.Publish{Topic: "x/q/y", QoS: 1, Payload: []byte("plain")})
	if m := stompRecv(t, wide); string(m.Body) != "plain" {
		t.Fatalf("x.*.y got %q", m.Body)
	}

	// STOMP sends to the escaped address; MQTT sees the literal topic.
	if err := st.Send(`/topic/x.\>`, "text/plain", []byte("from stomp"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := sub.recv(); m.Topic != "x/>" || string(m.Payload) != "from stomp" {
		t.Fatalf("MQTT got %q on %q", m.Payload, m.Topic)
	}
	if m := stompRecv(t, gt); string(m.Body) != "from stomp" {
		t.Fatalf("STOMP x.\\> got %q", m.Body)
	}
	select {
	case m := <-star.C:
		t.Fatalf("x.\\*.y got a second message %q", m.Body)
	default:
	}
}

// TestInvalidFilters: malformed filters get a SUBACK failure, not a closed
// connection (section 3.9.3: 3.1.1 0x80, 5.0 0x8F) [MQTT-4.7.1-1] [MQTT-4.7.1-2].
func TestInvalidFilters(t *testing.T) {
	s := startBroker(t, nil)
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		c, _ := connectRaw(t, s.Addr("mqtt"), ver, fmt.Sprint("badf-", ver), true)
		want := packet.SubackFailure
		if ver == packet.Version5 {
			want = packet.TopicFilterInvalid
		}
		filters := []string{"a/#/b", "a/b#", "a+/b", "#/a", "ok/+"}
		subs := make([]packet.Subscription, len(filters))
		for i, f := range filters {
			subs[i] = packet.Subscription{Filter: f, QoS: 1}
		}
		codes := c.subscribe(1, subs...)
		for i, f := range filters {
			w := want
			if f == "ok/+" {
				w = packet.GrantedQoS1
			}
			if codes[i] != w {
				t.Fatalf("v%d %q: %v, want %v", ver, f, codes[i], w)
			}
		}
		if got := c.ping(); len(got) != 0 {
			t.Fatalf("got %s", describe(got))
		}
	}
}

// TestUnsubscribe: UNSUBACK per filter (5.0: 0x11 for a filter not
// subscribed) [MQTT-3.10.4-4] [MQTT-3.10.4-5]; messages stop.
func TestUnsubscribe(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		for _, clean := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d clean %v", ver, clean), func(t *testing.T) {
				id := fmt.Sprintf("unsub-%d-%v", ver, clean)
				c, _ := connectRaw(t, addr, ver, id, clean)
				c.subscribe(1, packet.Subscription{Filter: "unsub/a", QoS: 1}, packet.Subscription{Filter: "unsub/marker"})
				c.write(&packet.Unsubscribe{PacketID: 2, Filters: []string{"unsub/a", "unsub/none"}})
				ack := await[*packet.Unsuback](c)
				if ack.PacketID != 2 {
					t.Fatalf("UNSUBACK %+v", ack)
				}
				if ver == packet.Version5 && !slices.Equal(ack.ReasonCodes, []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted}) {
					t.Fatalf("UNSUBACK codes %v", ack.ReasonCodes)
				}
				c.publish(&packet.Publish{Topic: []byte("unsub/a"), QoS: 1, PacketID: 3, Payload: []byte("after")})
				c.publish(&packet.Publish{Topic: []byte("unsub/marker"), QoS: 0, Payload: []byte("marker")})
				if got := received(c, "marker"); len(got) != 0 {
					t.Fatalf("received %v after UNSUBSCRIBE", got)
				}
				if _, ok := s.Core.Queue("mqtt:" + id + ":unsub/a"); ok {
					t.Fatal("subscription queue still exists")
				}
			})
		}
	}
}

// TestSharedSubscriptions: members of a 5.0 shared subscription share its
// messages, each going to one member (section 4.8.2); shared subscriptions
// get no retained messages; no-local on one is a protocol error
// [MQTT-3.8.3-4]; bad share names are refused [MQTT-4.8.2-1] [MQTT-4.8.2-2].
func TestSharedSubscriptions(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version5, "share-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("jobs/old"), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("retained")})

	a, _ := dial5(t, addr, &paho.Connect{ClientID: "share-a", CleanStart: true})
	b, _ := dial5(t, addr, &paho.Connect{ClientID: "share-b", CleanStart: true})
	solo, _ := dial5(t, addr, &paho.Connect{ClientID: "share-solo", CleanStart: true})
	a.sub(paho.SubscribeOptions{Topic: "$share/workers/jobs/#", QoS: 1})
	b.sub(paho.SubscribeOptions{Topic: "$share/workers/jobs/#", QoS: 1})
	solo.sub(paho.SubscribeOptions{Topic: "$share/alone/jobs/+", QoS: 1})

	const n = 20
	for i := range n {
		pub.publish(&packet.Publish{Topic: []byte("jobs/new"), QoS: 1, PacketID: uint16(2 + i), Payload: fmt.Append(nil, i)})
	}
	seen := map[string]int{}
	perMember := map[string]int{}
	for range n {
		select {
		case m := <-a.Msgs:
			seen[string(m.Payload)]++
			perMember["a"]++
		case m := <-b.Msgs:
			seen[string(m.Payload)]++
			perMember["b"]++
		case <-ctxT(t).Done():
			t.Fatalf("only %d of %d messages delivered to the group", len(seen), n)
		}
	}
	for i := range n {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("message %d delivered %d times to the group (%v)", i, seen[fmt.Sprint(i)], seen)
		}
	}
	if perMember["a"] == 0 || perMember["b"] == 0 {
		t.Fatalf("messages not shared: %v", perMember)
	}
	// The other group gets its own copy of each, and no retained message.
	for i := range n {
		if m := solo.recv(); string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("solo group got %q, want %d (a retained message?)", m.Payload, i)
		}
	}

	t.Run("bad share names", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version5, "share-bad", true)
		codes := c.subscribe(1,
			packet.Subscription{Filter: "$share/g"},
			packet.Subscription{Filter: "$share//x"},
			packet.Subscription{Filter: "$share/g+/x"},
			packet.Subscription{Filter: "$share/g/x/#"})
		if !slices.Equal(codes, []packet.ReasonCode{packet.TopicFilterInvalid, packet.TopicFilterInvalid, packet.TopicFilterInvalid, packet.GrantedQoS0}) {
			t.Fatalf("SUBACK %v", codes)
		}
	})

	t.Run("no-local on a shared subscription", func(t *testing.T) {
		c, _ := connectRaw(t, addr, packet.Version5, "share-nl", true)
		c.write(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "$share/g/x", NoLocal: true}}})
		c.expectDisconnect(packet.ProtocolError)
	})
}

// TestNoLocal: with No Local a client does not receive its own messages
// [MQTT-3.8.3-3], also after it reconnects to its session.
func TestNoLocal(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	other, _ := connectRaw(t, addr, packet.Version5, "nl-other", true)
	c, _ := connectRaw(t, addr, packet.Version5, "nl", false)
	c.subscribe(1, packet.Subscription{Filter: "nl/t", QoS: 1, NoLocal: true})
	c.publish(&packet.Publish{Topic: []byte("nl/t"), QoS: 1, PacketID: 2, Payload: []byte("mine")})
	other.publish(&packet.Publish{Topic: []byte("nl/t"), QoS: 1, PacketID: 3, Payload: []byte("theirs")})
	if p := expectPublish(c); string(p.Payload) != "theirs" {
		t.Fatalf("got %q, want only the other client's message", p.Payload)
	} else {
		c.ack(p)
	}
	c.write(&packet.Disconnect{})
	c.expectClosed()
	c, _ = connectRaw(t, addr, packet.Version5, "nl", false)
	c.publish(&packet.Publish{Topic: []byte("nl/t"), QoS: 1, PacketID: 4, Payload: []byte("mine again")})
	other.publish(&packet.Publish{Topic: []byte("nl/t"), QoS: 1, PacketID: 5, Payload: []byte("theirs again")})
	if p := expectPublish(c); string(p.Payload) != "theirs again" {
		t.Fatalf("after reconnecting got %q", p.Payload)
	}

	// Without No Local a client gets its own messages.
	own, _ := connectRaw(t, addr, packet.Version5, "nl-own", true)
	own.subscribe(1, packet.Subscription{Filter: "nl/own", QoS: 1})
	own.publish(&packet.Publish{Topic: []byte("nl/own"), QoS: 1, PacketID: 2, Payload: []byte("echo")})
	if p := expectPublish(own); string(p.Payload) != "echo" {
		t.Fatalf("got %q", p.Payload)
	}
}

// TestSubscriptionIdentifiers: a PUBLISH carries the identifier of the
// subscription it matched [MQTT-3.3.4-3]; a message matching overlapping
// subscriptions comes once, with all their identifiers [MQTT-3.3.4-4]
// [MQTT-3.3.4-5]; re-subscribing replaces one.
func TestSubscriptionIdentifiers(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	c, _ := connectRaw(t, addr, packet.Version5, "sid", true)
	sub := func(id uint32, filter string) {
		p := &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: 1}}}
		if id > 0 {
			p.Properties.SubscriptionIDs = []uint32{id}
		}
		c.write(p)
		if ack := await[*packet.Suback](c); ack.ReasonCodes[0] != packet.GrantedQoS1 {
			t.Fatalf("SUBACK %v", ack.ReasonCodes)
		}
	}
	sub(42, "sid/#")
	sub(7, "sid/+")
	sub(0, "sid/none/+")
	sub(0, "other/marker")
	// once receives what arrives up to the marker, which must be exactly one
	// PUBLISH with the identifiers want.
	once := func(payload string, want []uint32) {
		t.Helper()
		c.publish(&packet.Publish{Topic: []byte("other/marker"), QoS: 0, Payload: []byte("marker")})
		var got []*packet.Publish
		for {
			p := expectPublish(c)
			if string(p.Payload) == "marker" {
				break
			}
			got = append(got, p)
			c.ack(p)
		}
		if len(got) != 1 || string(got[0].Payload) != payload {
			t.Fatalf("got %d PUBLISHes for %q, want 1", len(got), payload)
		}
		ids := slices.Clone(got[0].Properties.SubscriptionIDs)
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("%q: subscription identifiers %v, want %v", payload, ids, want)
		}
	}
	c.publish(&packet.Publish{Topic: []byte("sid/x"), QoS: 1, PacketID: 2, Payload: []byte("two")})
	once("two", []uint32{7, 42})
	c.publish(&packet.Publish{Topic: []byte("sid/none/x"), QoS: 1, PacketID: 3, Payload: []byte("none")})
	once("none", []uint32{42}) // sid/none/+ has no identifier
	sub(99, "sid/+")
	c.publish(&packet.Publish{Topic: []byte("sid/y"), QoS: 1, PacketID: 4, Payload: []byte("again")})
	once("again", []uint32{42, 99})

	// paho sees it too.
	p5, _ := dial5(t, addr, &paho.Connect{ClientID: "sid-paho", CleanStart: true})
	if _, err := p5.Subscribe(ctxT(t), &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(5)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "sid/paho", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	p5.pub(&paho.Publish{Topic: "sid/paho", QoS: 1, Payload: []byte("p")})
	if m := p5.recv(); m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 5 {
		t.Fatalf("paho got properties %+v", m.Properties)
	}
}
