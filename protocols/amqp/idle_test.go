package amqp_test

import (
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/protocols/adapter"
	server "github.com/junctionmq/junction/protocols/amqp"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	jserver "github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// withOptions registers the AMQP adapter with options of the test's.
func withOptions(change func(*server.Options)) []adapter.Registration {
	reg := server.Adapter
	reg.New = func(env adapter.Env) (adapter.Adapter, error) {
		o := server.Options{Broker: env.Broker, Gate: env.Gate, Logger: env.Logger, MaxMessageSize: env.MaxMessageSize}
		change(&o)
		return server.NewServer(o), nil
	}
	return []adapter.Registration{reg}
}

// The server sends empty frames often enough for a client's idle
// time-out: a go-amqp connection with a 300ms time-out survives a second
// of silence from its side (part 2, 2.4.5).
func TestKeepAlivesForClientIdleTimeout(t *testing.T) {
	s := startBroker(t, nil)
	c, ss := session(t, s, &amqp.ConnOptions{IdleTimeout: 300 * time.Millisecond})
	time.Sleep(time.Second) // the silence under test
	select {
	case <-c.Done():
		t.Fatalf("the client timed the connection out: %v", c.Err())
	default:
	}
	send(t, newSender(t, ss, "alive", nil), amqp.NewMessage([]byte("x")))
}

// Empty frames arrive at about half the client's idle time-out.
func TestEmptyFrames(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(&codec.Open{ContainerID: "raw", IdleTimeOut: 200})
	var buf []byte
	start := time.Now()
	for n := 0; n < 3; {
		_, body, err := codec.ReadFrame(r.nc, 0, &buf)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if len(body) == 0 {
			n++
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("3 empty frames took %v with a 200ms idle time-out", el)
	}
}

// A client silent for longer than the idle time-out we announced is
// closed with resource-limit-exceeded.
func TestServerIdleTimeout(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Adapters: withOptions(func(o *server.Options) { o.IdleTimeout = 300 * time.Millisecond })})
	r := dialRaw(t, s.Addr("amqp"))
	so := r.open(nil)
	if so.IdleTimeOut != 300 {
		t.Fatalf("announced idle-time-out %d, want 300", so.IdleTimeOut)
	}
	c := expect[*codec.Close](r)
	if condition(c.Error) != codec.CondResourceLimitExceeded {
		t.Fatalf("close with %v, want resource-limit-exceeded", c.Error)
	}
	r.expectEOF()
}

// servertestWithMaxMessage starts a broker whose AMQP adapter takes
// messages up to max bytes.
func servertestWithMaxMessage(t *testing.T, max int) *jserver.Server {
	return servertest.Start(t, servertest.Options{Adapters: withOptions(func(o *server.Options) { o.MaxMessageSize = max })})
}
