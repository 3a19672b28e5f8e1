package mqtt_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server/servertest"
)

// blocking caps address "full" (topic "full") at a few messages and holds
// its producers when it is full.
func blocking(bytes int64) func(*config.Config) {
	return func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{"full": {
			MaxSizeBytes: ptr(core.ByteSize(bytes)), AddressFullPolicy: ptr("BLOCK"),
		}}
	}
}

// awaitHeld waits until n publishes wait for space on address.
func awaitHeld(t *testing.T, b *core.Broker, address string, n int) {
	t.Helper()
	eventually(t, strconv.Itoa(n)+" publishes held on "+address, func() bool { return b.HeldSends(address) == n })
}

// An MQTT 5 publisher to a full address is held back by its PUBACK, which
// waits for the message to be admitted (the receive maximum does the rest),
// and completes once a subscriber drains the address.
func TestPublishToFullAddressHeldUntilDrained(t *testing.T) {
	s := startBroker(t, blocking(3000))
	// A subscriber that takes deliveries and acknowledges none (yet).
	sub, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "drain", true)
	sub.subscribe(1, packet.Subscription{Filter: "full", QoS: 1})

	pub, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "pub", CleanStart: true, KeepAlive: 30})
	body := []byte(strings.Repeat("p", 1000))
	for range 2 {
		pub.pub(&paho.Publish{Topic: "full", QoS: 1, Payload: body})
	}
	held := make(chan error, 1)
	go func() {
		_, err := pub.Publish(ctxT(t), &paho.Publish{Topic: "full", QoS: 1, Payload: body})
		held <- err
	}()
	awaitHeld(t, s.Core, "full", 1)
	select {
	case err := <-held:
		t.Fatalf("publish to a full address acknowledged (%v) before any space freed", err)
	default:
	}
	for range 3 {
		sub.ack(expectPublish(sub))
	}
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("held publish: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("held publish not acknowledged after the address drained")
	}
}

// One MQTT 5 connection subscribes to the topic it fills and publishes
// QoS 1 messages pipelined while acknowledging its deliveries: its reader
// must keep reading the PUBACKs that make room.
func TestPublishToFullAddressWhileAcking(t *testing.T) {
	s := startBroker(t, blocking(4096))
	c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "self", true)
	c.subscribe(1, packet.Subscription{Filter: "full", QoS: 1, NoLocal: false})
	const n = 200
	var wmu sync.Mutex
	write := func(p packet.Packet) {
		wmu.Lock()
		defer wmu.Unlock()
		c.write(p)
	}
	go func() {
		for i := range n {
			write(&packet.Publish{Topic: []byte("full"), QoS: 1, PacketID: uint16(100 + i), Payload: []byte(strconv.Itoa(i) + strings.Repeat(".", 200))})
		}
	}()
	acks, msgs := 0, 0
	for acks < n || msgs < n {
		p, err := c.read(waitFor)
		if err != nil {
			t.Fatalf("after %d PUBACKs and %d messages: %v (%d held)", acks, msgs, err, s.Core.HeldSends("full"))
		}
		switch p := p.(type) {
		case *packet.Puback:
			if p.PacketID != uint16(100+acks) || p.ReasonCode.IsError() {
				t.Fatalf("PUBACK %+v, want packet id %d", p, 100+acks)
			}
			acks++
		case *packet.Publish:
			if got := strings.TrimRight(string(p.Payload), "."); got != strconv.Itoa(msgs) {
				t.Fatalf("message %q, want %d", got, msgs)
			}
			msgs++
			write(&packet.Puback{PacketID: p.PacketID})
		default:
			t.Fatalf("unexpected %v", p.Type())
		}
	}
}

// A DISCONNECT after pipelined QoS 1 and QoS 2 publishes: the PUBACKs and
// PUBRECs of every one of them are written, in order, before the server
// closes the connection. Issue 16, item 4.
func TestDisconnectAfterPipelinedPublishes(t *testing.T) {
	for _, n := range []int{10, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.Store.Type = "journal" }})
			obs, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "obs", false)
			obs.subscribe(1, packet.Subscription{Filter: "pipelined", QoS: 1})
			c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "pipeliner", true)
			var out []byte
			for i := range n {
				p := &packet.Publish{Topic: []byte("pipelined"), QoS: byte(1 + i%2), PacketID: uint16(1 + i), Payload: []byte("m")}
				var err error
				if out, err = p.Append(out, packet.Version5); err != nil {
					t.Fatal(err)
				}
			}
			out, _ = (&packet.Disconnect{}).Append(out, packet.Version5)
			var wg sync.WaitGroup
			wg.Go(func() { c.writeBytes(out) })
			got := c.expectClosed()
			wg.Wait()
			if len(got) != n {
				t.Fatalf("%d packets before close, want %d: %s", len(got), n, describe(got[:min(len(got), 5)]))
			}
			for i, p := range got {
				var id uint16
				switch p := p.(type) {
				case *packet.Puback:
					id = p.PacketID
				case *packet.Pubrec:
					id = p.PacketID
				}
				if id != uint16(1+i) {
					t.Fatalf("packet %d: %v %+v, want the acknowledgement of packet id %d", i, p.Type(), p, 1+i)
				}
			}
			q, ok := s.Core.Queue("mqtt:obs:pipelined")
			if !ok {
				t.Fatal("the observer's subscription queue is missing")
			}
			if st := q.Stats(); st.Enqueued != uint64(n) {
				t.Errorf("%d messages routed, want %d", st.Enqueued, n)
			}
		})
	}
}

// QoS 0 publishes to a full address are held too (they have no
// acknowledgement to delay); past MaxHeldBytes the connection is no longer
// read, and as the address drains they are admitted in order.
func TestQoS0PublishesPastTheBoundStopReadingThenResume(t *testing.T) {
	addr, b := startMQTTWith(t, mqtt.Options{MaxHeldBytes: 4096}, core.Config{AddressSettings: map[string]*core.AddressSettings{
		"full": {MaxSizeBytes: ptr(core.ByteSize(2048)), AddressFullPolicy: ptr("BLOCK")},
	}})
	// A persistent session whose client is away: the address fills with
	// what its subscription queue keeps for it.
	sub, _ := connectRaw(t, addr, packet.Version5, "drain", false)
	sub.subscribe(1, packet.Subscription{Filter: "full", QoS: 1})
	sub.write(&packet.Disconnect{})
	sub.expectClosed()
	pub, _ := connectRaw(t, addr, packet.Version5, "pub", true)
	const n = 20
	body := strings.Repeat("z", 1000) // about 1.1 KiB counted: one fits
	var out []byte
	for i := range n {
		var err error
		out, err = (&packet.Publish{Topic: []byte("full"), Payload: []byte(strconv.Itoa(i) + body)}).Append(out, packet.Version5)
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { pub.writeBytes(out) })
	awaitHeld(t, b, "full", 4)
	// The reader has stopped: nothing more joins the line. (A negative
	// can only be watched for a while.)
	time.Sleep(100 * time.Millisecond)
	if held := b.HeldSends("full"); held != 4 {
		t.Fatalf("%d publishes held, want 4: the connection was read past MaxHeldBytes", held)
	}
	sub, ack := connectRaw(t, addr, packet.Version5, "drain", false)
	if !ack.SessionPresent {
		t.Fatal("the subscriber's session is gone")
	}
	for i := range n {
		p := expectPublish(sub)
		if got := strings.TrimRight(string(p.Payload), "z"); got != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, got)
		}
		sub.ack(p)
	}
	wg.Wait()
}
