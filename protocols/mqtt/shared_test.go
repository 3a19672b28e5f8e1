package mqtt_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/memory"
)

const sharedQueue = "$share:g:sh/#"

// TestSharedSubscriptionDurable: a shared subscription of persistent
// sessions keeps the messages published while every member is away, across
// a broker restart; a clean member joining and leaving does not end it; it
// is deleted once its last member unsubscribes.
func TestSharedSubscriptionDurable(t *testing.T) {
	store := memory.New()
	start := func() *server.Server { return servertest.Start(t, servertest.Options{Store: store}) }
	s := start()
	for _, id := range []string{"sh-a", "sh-b"} {
		c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, id, false)
		c.subscribe(1, packet.Subscription{Filter: "$share/g/sh/#", QoS: 1})
		c.write(&packet.Disconnect{})
		c.expectClosed()
	}
	clean, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "sh-clean", true)
	clean.subscribe(1, packet.Subscription{Filter: "$share/g/sh/#", QoS: 1})
	clean.write(&packet.Disconnect{})
	clean.expectClosed()
	eventually(t, "clean member gone", func() bool { return mqttState(s).Sessions == 2 })
	if q, ok := s.Core.Queue(sharedQueue); !ok || !q.Info().Durable {
		t.Fatalf("shared queue after the clean member left: present %v", ok)
	}

	pub, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, "sh-pub", true)
	for i := range 3 {
		pub.publish(&packet.Publish{Topic: []byte("sh/x"), QoS: 1, PacketID: uint16(i + 1), Payload: fmt.Append(nil, "m", i)})
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	s = start()

	a, ack := connectRaw(t, s.Addr("mqtt"), packet.Version5, "sh-a", false)
	if !ack.SessionPresent {
		t.Fatal("session not present after the restart")
	}
	var got []string
	for range 3 {
		p := expectPublish(a)
		got = append(got, string(p.Payload))
		a.ack(p)
	}
	if !slices.Equal(got, []string{"m0", "m1", "m2"}) {
		t.Fatalf("after the restart the member got %q", got)
	}

	// Unsubscribing every member deletes the queue; one left keeps it.
	a.write(&packet.Unsubscribe{PacketID: 5, Filters: []string{"$share/g/sh/#"}})
	await[*packet.Unsuback](a)
	if _, ok := s.Core.Queue(sharedQueue); !ok {
		t.Fatal("queue deleted while sh-b is still subscribed")
	}
	b, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "sh-b", false)
	b.write(&packet.Unsubscribe{PacketID: 5, Filters: []string{"$share/g/sh/#"}})
	await[*packet.Unsuback](b)
	if _, ok := s.Core.Queue(sharedQueue); ok {
		t.Fatal("queue left after the last member unsubscribed")
	}
}

// TestSharedSubscriptionUnackedGoToOtherMember: QoS 1 and 2 messages a
// member received and did not acknowledge go to another member when its
// connection ends (MQTT 5 section 4.8.2).
func TestSharedSubscriptionUnackedGoToOtherMember(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprint("QoS ", qos), func(t *testing.T) {
			filter := fmt.Sprintf("$share/w%d/work/%d", qos, qos)
			a, _ := connectRaw(t, addr, packet.Version5, fmt.Sprint("shu-a-", qos), false)
			a.subscribe(1, packet.Subscription{Filter: filter, QoS: qos})
			pub, _ := connectRaw(t, addr, packet.Version5, fmt.Sprint("shu-pub-", qos), true)
			pub.publish(&packet.Publish{Topic: fmt.Appendf(nil, "work/%d", qos), QoS: qos, PacketID: 1, Payload: []byte("job")})
			if p := expectPublish(a); string(p.Payload) != "job" {
				t.Fatalf("a got %q", p.Payload)
			}
			b, _ := connectRaw(t, addr, packet.Version5, fmt.Sprint("shu-b-", qos), true)
			b.subscribe(1, packet.Subscription{Filter: filter, QoS: qos})
			a.nc.Close() // without acknowledging
			p := expectPublish(b)
			if string(p.Payload) != "job" || p.QoS != qos {
				t.Fatalf("b got %q QoS %d", p.Payload, p.QoS)
			}
			b.ack(p)
			if extra := b.ping(); len(extra) != 0 {
				t.Fatalf("b got more: %s", describe(extra))
			}
		})
	}
}

// TestSharedSubscriptionOn311: $share on MQTT 3.1.1 is a shared
// subscription too (an extension Mosquitto, HiveMQ and EMQX make).
func TestSharedSubscriptionOn311(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	a, _ := connectRaw(t, addr, packet.Version311, "sh311-a", true)
	b, _ := connectRaw(t, addr, packet.Version311, "sh311-b", true)
	for _, c := range []*raw{a, b} {
		if codes := c.subscribe(1, packet.Subscription{Filter: "$share/g311/t311", QoS: 1}); codes[0] != packet.GrantedQoS1 {
			t.Fatalf("SUBACK %v", codes)
		}
	}
	pub, _ := connectRaw(t, addr, packet.Version311, "sh311-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("t311"), QoS: 1, PacketID: 1, Payload: []byte("once")})
	got := 0
	for _, c := range []*raw{a, b} {
		for _, p := range c.ping() {
			if p, ok := p.(*packet.Publish); ok && string(p.Payload) == "once" {
				got++
				c.ack(p)
			}
		}
	}
	if got != 1 {
		t.Fatalf("the group got the message %d times, want once", got)
	}
}

// TestOrphanSharedQueueDeletedAtStart: a durable shared subscription queue
// that no stored session names (left by a stop between the last member's
// record and its queue) is deleted when the broker starts.
func TestOrphanSharedQueueDeletedAtStart(t *testing.T) {
	store := memory.New()
	s := servertest.Start(t, servertest.Options{Store: store})
	sess := s.Core.NewSession(core.SessionOptions{})
	cons, err := sess.Subscribe(core.SubscribeOptions{Address: "orphan.#", QueueName: "$share:o:orphan/#", Durable: true, Shared: true},
		core.ConsumerOptions{Handler: func(core.Delivery) {}, Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	cons.Close()
	sess.Close()
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	store.Reopen()
	s = servertest.Start(t, servertest.Options{Store: store})
	if _, ok := s.Core.Queue("$share:o:orphan/#"); ok {
		t.Fatal("orphaned shared subscription queue still there after the start")
	}
}
