package stomp_test

import (
	"sync"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// TestQueueCreationHoldsNoBrokerLock: while the store holds up the write of
// a new queue's binding, other traffic still flows. The binding used to be
// written under the broker-wide lock, so a stalled store stalled every send
// (each looks its address up under that lock).
func TestQueueCreationHoldsNoBrokerLock(t *testing.T) {
	st := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: st})
	z := dial(t, s).subscribe("/queue/lock.old", stompc.AckAuto)
	y := dial(t, s)

	entered, open := make(chan struct{}), make(chan struct{})
	var once sync.Once
	st.Set(func(ops []storage.Op, _ bool) error {
		for _, op := range ops {
			if op.Kind == storage.OpPutBinding && op.Binding == storage.BindingQueue {
				once.Do(func() { close(entered) })
				<-open
				break
			}
		}
		return nil
	})
	defer close(open)
	x := dial(t, s)
	// Creating lock.new writes its binding, which the store holds up.
	x.subscribeAsync("/queue/lock.new", stompc.AckAuto)
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("the SUBSCRIBE did not store a queue binding")
	}
	y.send("/queue/lock.old", "through")
	if m := recv(t, z); string(m.Body) != "through" {
		t.Fatalf("got %q", m.Body)
	}
}
