package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server/servertest"
)

// TestMaxQueuesRefusal: beyond max-queues a SEND that would create a
// queue gets an ERROR naming the cap, and a SUBSCRIBE that would create
// one an ERROR too; the queues that exist go on working for everyone.
func TestMaxQueuesRefusal(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.MaxQueues = 1 }})
	ok := dial(t, s)
	sub := ok.subscribe("/queue/one", stompc.AckAuto)

	c := dial(t, s)
	err := c.Send("/queue/two", "text/plain", []byte("x"), stompc.SendOpt.Receipt)
	if err == nil || !strings.Contains(err.Error(), "resource limit reached: max-queues 1") {
		t.Fatalf("SEND creating a second queue: %v, want an ERROR naming max-queues", err)
	}
	if _, found := s.Core.Queue("two"); found {
		t.Error("the refused SEND created its queue")
	}

	c2 := dial(t, s)
	s2, err := c2.Subscribe("/queue/three", stompc.AckAuto)
	if err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	m := <-s2.C
	if m == nil || m.Err == nil || !strings.Contains(m.Err.Error(), "max-queues") {
		t.Fatalf("SUBSCRIBE creating a second queue: %+v, want an ERROR naming max-queues", m)
	}

	ok.send("/queue/one", "still")
	if got := recv(t, sub); string(got.Body) != "still" {
		t.Fatalf("got %q", got.Body)
	}
}
