package mqtt_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestReconnectWhileDetaching holds a persistent session's connection in the
// middle of its cleanup, publishes a QoS 1 message for it, and reconnects:
// the new connection must wait for the old one to finish, then get the
// message. Both flakes of the full test run (TestPersistentSessionOffline's
// paho 5.0 case, TestQoS1RedeliveryWithDefaults) were this window: the old
// connection's cleanup took the session offline before closing its
// consumers, a reconnect in between found the subscription queues still
// held by them (a non-shared subscription queue takes one consumer), its
// subscriptions were not resumed, and the message waited for a consumer
// that never came.
//
// At "detach" the message is delivered to the dying connection (it is
// unacknowledged, so it is resent, with DUP); at "detach-consumers" the old
// consumers still take deliveries, which go back uncounted.
func TestReconnectWhileDetaching(t *testing.T) {
	for _, point := range []string{"detach", "detach-consumers"} {
		for _, ver := range []byte{packet.Version311, packet.Version5} {
			t.Run(fmt.Sprintf("%s/v%d", point, ver), func(t *testing.T) {
				testReconnectWhileDetaching(t, point, ver)
			})
		}
	}
}

func testReconnectWhileDetaching(t *testing.T, point string, ver byte) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	id := fmt.Sprintf("detaching-%d", ver)
	c, _ := connectRaw(t, addr, ver, id, false)
	c.subscribe(1, packet.Subscription{Filter: "det/x", QoS: 1})
	pub, _ := connectRaw(t, addr, packet.Version311, "det-pub", true)

	held := make(chan struct{})
	release := make(chan struct{})
	waiting := make(chan struct{})
	var holdOnce, waitOnce sync.Once
	mqtt.SetTestHook(t, func(p, client string) {
		if client != id {
			return
		}
		switch p {
		case point:
			holdOnce.Do(func() {
				close(held)
				<-release
			})
		case "takeover-wait":
			waitOnce.Do(func() { close(waiting) })
		}
	})
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unhold)

	c.write(&packet.Disconnect{})
	select {
	case <-held:
	case <-time.After(waitFor):
		t.Fatalf("the connection never reached %q", point)
	}
	pub.publish(&packet.Publish{Topic: []byte("det/x"), QoS: 1, PacketID: 1, Payload: []byte("while detaching")})

	// Reconnect while the old connection is held. The CONNACK is read on
	// another goroutine: a broker that waits for the old connection sends
	// it only once the hold is released, one that does not sends it now.
	re := dialRaw(t, addr, ver)
	p := &packet.Connect{ClientID: id, KeepAlive: 60, Version: ver}
	if ver == packet.Version5 {
		p.Properties.SessionExpiry = 3600
		p.Properties.Set(packet.PropSessionExpiry)
	}
	re.write(p)
	type result struct {
		p   packet.Packet
		err error
	}
	got := make(chan result, 1)
	go func() {
		p, err := re.read(waitFor)
		got <- result{p, err}
	}()
	var r result
	select {
	case <-waiting:
		// The takeover waits for the old connection: let it finish.
		unhold()
		r = <-got
	case r = <-got:
		unhold()
	}
	if r.err != nil {
		t.Fatalf("reconnect: %v", r.err)
	}
	ack, ok := r.p.(*packet.Connack)
	if !ok || ack.ReasonCode != packet.Success || !ack.SessionPresent {
		t.Fatalf("reconnect: got %v %+v, want a CONNACK with session present", r.p.Type(), r.p)
	}
	m := expectPublish(re)
	if string(m.Payload) != "while detaching" || m.QoS != 1 {
		t.Fatalf("got %q QoS %d", m.Payload, m.QoS)
	}
	// Written to the dying connection it counts as sent (DUP on the resend);
	// kept back while the consumers closed it was never sent.
	if wantDup := point == "detach"; m.Dup != wantDup {
		t.Fatalf("DUP %v, want %v", m.Dup, wantDup)
	}
	re.ack(m)
	if got := re.ping(); len(got) != 0 {
		t.Fatalf("after the acknowledgement the client got %s", describe(got))
	}
}
