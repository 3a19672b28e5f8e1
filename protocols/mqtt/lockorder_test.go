package mqtt_test

import (
	"sync"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// gate is a store rule that holds up every batch writing one kind of
// binding until it is opened: a store under back-pressure, or a slow disk.
type gate struct {
	name    string
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

// newGate holds up the writes of the record kind registered under name.
func newGate(name string) *gate {
	return &gate{name: name, entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) rule(ops []storage.Op, _ bool) error {
	for _, op := range ops {
		if op.Kind == storage.OpPutBinding && op.Binding.String() == g.name {
			g.once.Do(func() { close(g.entered) })
			<-g.open
			break
		}
	}
	return nil
}

// TestSessionSaveHoldsNoLock: while the store holds up the write of a
// persistent session's record, messages still reach that session. The
// record used to be written under the session's lock, which deliveries take
// under their queue's lock: a stalled store stalled the queue and every
// producer to it (and with the broker lock the store write takes, the three
// formed a cycle).
func TestSessionSaveHoldsNoLock(t *testing.T) {
	st := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: st})
	addr := s.Addr("mqtt")
	a := dial3(t, addr, "saver", func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) })
	a.sub("lock/t", 0)
	p := dial3(t, addr, "lock-pub", nil)

	g := newGate("mqtt.session")
	st.Set(g.rule)
	defer close(g.open)
	tok := a.c.Subscribe("lock/u", 0, nil) // its session record write is held up
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatal("the SUBSCRIBE did not write the session record")
	}
	p.pub("lock/t", 0, false, "through")
	if m := a.recv(); m.payload != "through" {
		t.Fatalf("got %+v", m)
	}
	if tok.WaitTimeout(50 * time.Millisecond) {
		t.Fatal("SUBACK before the session record was stored")
	}
}
