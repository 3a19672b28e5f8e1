package amqp_test

import (
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

func durable(text string) *amqp.Message {
	m := amqp.NewMessage([]byte(text))
	m.Header = &amqp.MessageHeader{Durable: true}
	return m
}

// A durable message is confirmed (accepted, settled) only once the store
// has it: when the store fails the write, the sender sees rejected.
func TestDurableSendConfirmedAfterStore(t *testing.T) {
	store := faulty.Wrap(memory.New())
	s := servertest.Start(t, servertest.Options{Store: store})
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "stored", nil)

	store.Set(faulty.SyncOnly())
	err := snd.Send(ctxFor(t), durable("lost"), nil)
	store.Set(nil)
	if err == nil {
		t.Fatal("a durable send the store failed was confirmed")
	}
	if e := amqpError(t, err); e.Condition == "" {
		t.Fatalf("rejected without a condition: %v", e)
	}
	if q, ok := s.Core.Queue("stored"); ok && q.Stats().Messages != 0 {
		t.Fatalf("the refused message is in the queue: %+v", q.Stats())
	}
	// The link is still usable, and a stored message is confirmed.
	send(t, snd, durable("kept"))
	if st := queueStats(t, s, "stored"); st.Messages != 1 {
		t.Fatalf("after a confirmed durable send the queue holds %d", st.Messages)
	}
}

// A confirmed durable message survives a restart of the broker on the
// same store.
func TestDurableMessageSurvivesRestart(t *testing.T) {
	store := memory.New()
	s1 := servertest.Start(t, servertest.Options{Store: store})
	_, ss := session(t, s1, nil)
	send(t, newSender(t, ss, "persist", nil), durable("after restart"))
	if err := s1.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	s2 := servertest.Start(t, servertest.Options{Store: store})
	_, ss2 := session(t, s2, nil)
	m := receive(t, newReceiver(t, ss2, "persist", nil))
	if body(m) != "after restart" || m.Header == nil || !m.Header.Durable {
		t.Fatalf("got %q with header %+v", body(m), m.Header)
	}
}
