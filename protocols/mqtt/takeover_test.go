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

// TestTakeoverQueue: several connections with one client id arrive while the
// session's connection is still closing. Each takes the session over in
// turn [MQTT-3.1.4-3]; none is refused for having waited through the others'
// takeovers (the broker used to give up after four rounds with "client id
// is being taken over by another connection"), and the session is still
// there for the last.
func TestTakeoverQueue(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("mqtt")
	const id = "contended"
	c, _ := connectRaw(t, addr, packet.Version311, id, false)
	c.subscribe(1, packet.Subscription{Filter: "cont/x", QoS: 1})

	held := make(chan struct{})
	release := make(chan struct{})
	var waits sync.WaitGroup
	const n = 6
	waits.Add(n)
	var holdOnce sync.Once
	var waitCount int
	var mu sync.Mutex
	mqtt.SetTestHook(t, func(p, client string) {
		if client != id {
			return
		}
		switch p {
		case "detach":
			holdOnce.Do(func() {
				close(held)
				<-release
			})
		case "takeover-wait":
			mu.Lock()
			waitCount++
			if waitCount <= n {
				waits.Done()
			}
			mu.Unlock()
		}
	})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	c.write(&packet.Disconnect{})
	select {
	case <-held:
	case <-time.After(waitFor):
		t.Fatal("the first connection never reached detach")
	}
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = dialRaw(t, addr, packet.Version311)
		conns[i].write(&packet.Connect{ClientID: id, KeepAlive: 60, Version: packet.Version311})
	}
	// Every one of them waits for the first connection before it goes.
	allWaiting := make(chan struct{})
	go func() { waits.Wait(); close(allWaiting) }()
	select {
	case <-allWaiting:
	case <-time.After(waitFor):
		t.Fatal("the reconnects did not all start a takeover")
	}
	releaseOnce.Do(func() { close(release) })

	// Each either got its CONNACK (and was maybe taken over after it) or
	// was taken over before its CONNACK went out; none was refused.
	accepted := 0
	for i, rc := range conns {
		p, err := rc.read(waitFor)
		if err != nil {
			continue // closed by a later takeover before its CONNACK
		}
		ack, ok := p.(*packet.Connack)
		if !ok {
			t.Fatalf("connection %d: got %v, want CONNACK", i, p.Type())
		}
		if ack.ReasonCode != packet.Success {
			t.Fatalf("connection %d refused: CONNACK %v", i, ack.ReasonCode)
		}
		accepted++
	}
	if accepted == 0 {
		t.Fatal("no connection was accepted")
	}
	// The session, and its subscription, survived the contest.
	last, ack := connectRaw(t, addr, packet.Version311, id, false)
	if !ack.SessionPresent {
		t.Fatal("session not present after the takeovers")
	}
	pub, _ := connectRaw(t, addr, packet.Version311, "cont-pub", true)
	pub.publish(&packet.Publish{Topic: []byte("cont/x"), QoS: 1, PacketID: 1, Payload: []byte("after")})
	if m := expectPublish(last); string(m.Payload) != "after" {
		t.Fatalf("got %q", m.Payload)
	}
}

// TestQoS0WrittenThenDisconnected: a QoS 0 message on a QoS 1 subscription
// is settled once its bytes are written. The client goes away after the
// write and before the writer settles it (the hook holds the writer there
// until the connection's consumers are closed): the message must not reach
// the client's next connection, at most once [MQTT-4.3.1-1]. The broker used
// to return it to the queue when the consumer closed, and send it again.
func TestQoS0WrittenThenDisconnected(t *testing.T) {
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			s := startBroker(t, nil)
			addr := s.Addr("mqtt")
			id := fmt.Sprintf("qos0-once-%d", ver)
			topic := []byte("q0once/" + id)
			c, _ := connectRaw(t, addr, ver, id, false)
			c.subscribe(1, packet.Subscription{Filter: string(topic), QoS: 1})
			pub, _ := connectRaw(t, addr, packet.Version311, id+"-pub", true)

			inSettle := make(chan struct{})
			closed := make(chan struct{})
			var settleOnce, closedOnce sync.Once
			mqtt.SetTestHook(t, func(p, client string) {
				if client != id {
					return
				}
				switch p {
				case "settle":
					settleOnce.Do(func() {
						// Written, not settled: the client goes away.
						c.nc.Close()
						close(inSettle)
						select {
						case <-closed:
						case <-time.After(waitFor):
						}
					})
				case "consumers-closed":
					closedOnce.Do(func() { close(closed) })
				}
			})
			pub.publish(&packet.Publish{Topic: topic, QoS: 0, Payload: []byte("at most once")})
			for _, ch := range []chan struct{}{inSettle, closed} {
				select {
				case <-ch:
				case <-time.After(waitFor):
					t.Fatal("the delivery was not written, or its connection did not end")
				}
			}

			re, ack := connectRaw(t, addr, ver, id, false)
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			pub.publish(&packet.Publish{Topic: topic, QoS: 1, PacketID: 1, Payload: []byte("marker")})
			if got := upToMarker(re, "marker", true); len(got) != 0 {
				t.Fatalf("before the marker the client got %q (QoS %d) again", got[0].Payload, got[0].QoS)
			}
			if got := re.ping(); len(got) != 0 {
				t.Fatalf("after the marker the client got %s", describe(got))
			}
		})
	}
}
