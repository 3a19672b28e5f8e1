package amqp_test

// Shared test plumbing: a real broker per test (server/servertest) and the
// go-amqp client (github.com/Azure/go-amqp) over real sockets. Spec
// references are to OASIS AMQP 1.0 (parts 2 transport, 3 messaging, 4
// transactions, 5 security).

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"go.uber.org/goleak"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event: a healthy broker answers in
// milliseconds, so hitting it means the event is not coming.
const waitFor = 5 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}

func ptr[T any](v T) *T { return &v }

// startBroker starts a broker; cfg (may be nil) adjusts its configuration.
func startBroker(t *testing.T, cfg func(*config.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, servertest.Options{Config: cfg})
}

// ctx is a context bounded by waitFor, cancelled when the test ends.
func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a go-amqp connection closed when the test ends.
func dial(t *testing.T, s *server.Server, opts *amqp.ConnOptions) *amqp.Conn {
	t.Helper()
	c, err := amqp.Dial(ctxFor(t), "amqp://"+s.Addr("amqp"), opts)
	if err != nil {
		t.Fatalf("go-amqp dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// session opens a session on a fresh connection.
func session(t *testing.T, s *server.Server, opts *amqp.ConnOptions) (*amqp.Conn, *amqp.Session) {
	t.Helper()
	c := dial(t, s, opts)
	ss, err := c.NewSession(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	return c, ss
}

func newSender(t *testing.T, ss *amqp.Session, target string, opts *amqp.SenderOptions) *amqp.Sender {
	t.Helper()
	snd, err := ss.NewSender(ctxFor(t), target, opts)
	if err != nil {
		t.Fatalf("new sender to %q: %v", target, err)
	}
	return snd
}

func newReceiver(t *testing.T, ss *amqp.Session, source string, opts *amqp.ReceiverOptions) *amqp.Receiver {
	t.Helper()
	r, err := ss.NewReceiver(ctxFor(t), source, opts)
	if err != nil {
		t.Fatalf("new receiver from %q: %v", source, err)
	}
	return r
}

func send(t *testing.T, snd *amqp.Sender, m *amqp.Message) {
	t.Helper()
	if err := snd.Send(ctxFor(t), m, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func receive(t *testing.T, r *amqp.Receiver) *amqp.Message {
	t.Helper()
	m, err := r.Receive(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// queueStats returns a queue's counters, failing the test if it does not exist.
func queueStats(t *testing.T, s *server.Server, name string) core.QueueStats {
	t.Helper()
	q, ok := s.Core.Queue(name)
	if !ok {
		t.Fatalf("queue %q does not exist", name)
	}
	return q.Stats()
}

// waitUntil polls cond until it holds or waitFor passes: for broker state
// that has no event to await (queue counters).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// amqpError returns the *amqp.Error inside err, failing the test if none.
func amqpError(t *testing.T, err error) *amqp.Error {
	t.Helper()
	var e *amqp.Error
	if errors.As(err, &e) {
		return e
	}
	var le *amqp.LinkError
	if errors.As(err, &le) && le.RemoteErr != nil {
		return le.RemoteErr
	}
	var se *amqp.SessionError
	if errors.As(err, &se) && se.RemoteErr != nil {
		return se.RemoteErr
	}
	var ce *amqp.ConnError
	if errors.As(err, &ce) && ce.RemoteErr != nil {
		return ce.RemoteErr
	}
	t.Fatalf("want an AMQP error, got %T %v", err, err)
	return nil
}
