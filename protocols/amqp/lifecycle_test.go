package amqp_test

import (
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

// An operator closing a consumer detaches its link with detach-forced;
// deleting its queue detaches with resource-deleted; closing the session
// closes the connection with connection:forced. Each leaves the rest alone.
func TestClosedByTheBroker(t *testing.T) {
	s := startBroker(t, nil)
	c, ss := session(t, s, &amqp.ConnOptions{ContainerID: "ops"})
	r := newReceiver(t, ss, "ops.q", &amqp.ReceiverOptions{Credit: 1})
	waitUntil(t, "the consumer", func() bool { return len(s.Core.Consumers()) == 1 })
	if err := s.Core.CloseConsumer(s.Core.Consumers()[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := r.Receive(ctxFor(t), nil)
	if e := amqpError(t, err); e.Condition != amqp.ErrCondDetachForced {
		t.Fatalf("detached with %v, want detach-forced", e)
	}

	r2 := newReceiver(t, ss, "ops.deleted", &amqp.ReceiverOptions{Credit: 1})
	waitUntil(t, "the queue", func() bool { _, ok := s.Core.Queue("ops.deleted"); return ok })
	if err := s.Core.DeleteQueue("ops.deleted"); err != nil {
		t.Fatal(err)
	}
	_, err = r2.Receive(ctxFor(t), nil)
	if e := amqpError(t, err); e.Condition != amqp.ErrCondResourceDeleted {
		t.Fatalf("detached with %v, want resource-deleted", e)
	}

	// The session still works.
	send(t, newSender(t, ss, "ops.other", nil), amqp.NewMessage([]byte("x")))

	var sid uint64
	newReceiver(t, ss, "ops.last", &amqp.ReceiverOptions{Credit: 1})
	waitUntil(t, "the consumer", func() bool {
		for _, ci := range s.Core.Consumers() {
			if ci.ClientID == "ops" {
				sid = ci.SessionID
				return true
			}
		}
		return false
	})
	if err := s.Core.CloseSession(sid, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(waitFor):
		t.Fatal("the connection was not closed")
	}
	if e := amqpError(t, c.Err()); e.Condition != amqp.ErrCondConnectionForced {
		t.Fatalf("connection closed with %v, want connection:forced", e)
	}
}
