package mqtt_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// holdStore holds back the next write of a persistent session's record until
// the test lets it through or fails it, so a test sees what the broker does
// while the write is under way.
type holdStore struct {
	*faulty.Store
	mu   sync.Mutex
	hold string // the client id whose next record write is held; "" none
	held chan heldWrite
}

type heldWrite struct {
	ops  []storage.Op
	sync bool
	done func(error)
}

func newHoldStore() *holdStore {
	return &holdStore{Store: faulty.Wrap(memory.New()), held: make(chan heldWrite, 1)}
}

// holdNext holds the next batch that writes clientID's session record
// (only its: another session's, such as one going offline, goes through).
func (h *holdStore) holdNext(clientID string) { h.mu.Lock(); h.hold = clientID; h.mu.Unlock() }

func (h *holdStore) Apply(ops []storage.Op, sync bool, done func(error)) {
	h.mu.Lock()
	hold := false
	if h.hold != "" {
		for _, op := range ops {
			if op.Kind == storage.OpPutBinding && op.Binding == mqtt.KindSession && op.Key == h.hold {
				hold, h.hold = true, ""
				break
			}
		}
	}
	h.mu.Unlock()
	if hold {
		h.held <- heldWrite{ops, sync, done}
		return
	}
	h.Store.Apply(ops, sync, done)
}

// awaitHeld returns the write held back, failing the test if none comes.
func (h *holdStore) awaitHeld(t *testing.T) heldWrite {
	t.Helper()
	select {
	case w := <-h.held:
		return w
	case <-time.After(waitFor):
		t.Fatalf("no session record written %v after the SUBSCRIBE", waitFor)
		return heldWrite{}
	}
}

// expectQuiet fails if the server sends anything within d. It reads the
// socket itself: the packet reader's errors are sticky, and a deadline
// passing is the expected outcome here.
func expectQuiet(t *testing.T, c *raw, d time.Duration) {
	t.Helper()
	if c.rd.Buffered() > 0 || len(c.backlog) > 0 {
		t.Fatal("the server sent a packet while the session record was being written")
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the server sent %d bytes (%v) while the session record was being written", n, err)
	}
}

// TestSubackWaitsForSessionRecord: a persistent session's SUBACK goes out
// only once the session's record (its subscriptions) is durable, and a
// record the store fails to write is answered with the failure code (0x80 in
// both versions) and no subscription. Catches the mutation "SUBACK sent when
// the record is handed to the store": the SUBACK then arrives while the
// write is held.
func TestSubackWaitsForSessionRecord(t *testing.T) {
	// How long the test listens for a SUBACK that must not come yet. A
	// SUBACK sent without waiting is queued within microseconds.
	const quiet = 300 * time.Millisecond
	store := newHoldStore()
	s := servertest.Start(t, servertest.Options{Store: store})
	addr := s.Addr("mqtt")
	pub, _ := connectRaw(t, addr, packet.Version311, "suback-pub", true)

	for _, ver := range []byte{packet.Version311, packet.Version5} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			id := fmt.Sprintf("suback-%d", ver)
			c, _ := connectRaw(t, addr, ver, id, false)

			// The write succeeds: SUBACK after it, granted.
			okTopic := fmt.Sprintf("suback/%d/ok", ver)
			store.holdNext(id)
			c.write(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: okTopic, QoS: 1}}})
			w := store.awaitHeld(t)
			expectQuiet(t, c, quiet)
			store.Store.Apply(w.ops, w.sync, w.done)
			ack := await[*packet.Suback](c)
			if ack.PacketID != 1 || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != packet.GrantedQoS1 {
				t.Fatalf("SUBACK %+v, want packet id 1 granting QoS 1", ack)
			}
			pub.publish(&packet.Publish{Topic: []byte(okTopic), QoS: 1, PacketID: 1, Payload: []byte("to the stored subscription")})
			p := expectPublish(c)
			if string(p.Payload) != "to the stored subscription" {
				t.Fatalf("got %q", p.Payload)
			}
			c.ack(p)

			// The write fails: SUBACK with the failure code, nothing left
			// subscribed, the connection still usable.
			badTopic := fmt.Sprintf("suback/%d/failed", ver)
			store.holdNext(id)
			c.write(&packet.Subscribe{PacketID: 2, Subscriptions: []packet.Subscription{{Filter: badTopic, QoS: 1}}})
			w = store.awaitHeld(t)
			expectQuiet(t, c, quiet)
			w.done(faulty.ErrInjected)
			ack = await[*packet.Suback](c)
			if ack.PacketID != 2 || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != 0x80 {
				t.Fatalf("SUBACK %+v, want packet id 2 with reason code 0x80", ack)
			}
			if _, ok := s.Core.Queue("mqtt:" + id + ":" + badTopic); ok {
				t.Fatal("the queue of a subscription refused for want of storage is still there")
			}
			c.ping()
		})
	}
}
