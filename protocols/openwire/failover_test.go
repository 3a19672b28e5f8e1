package openwire_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/openwire/wire"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// startJournalBroker starts a broker on the journal in dir with only the
// OpenWire listener, at addr.
func startJournalBroker(t *testing.T, dir, addr string) *server.Server {
	t.Helper()
	cfg := &config.Config{Data: dir, Listeners: config.Listeners{}}
	cfg.Store.Type = "journal"
	for _, l := range server.KnownListeners(server.Adapters) {
		cfg.Listeners[l.Name] = config.Off
	}
	cfg.Listeners["openwire"] = addr
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	return s
}

// TestFailover: a failover: client sends a persistent message, the broker
// restarts on the same journal and port, and the client reconnects on its
// own, sends again and receives both.
func TestFailover(t *testing.T) {
	needJava(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	s := startJournalBroker(t, dir, addr)
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Shutdown()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), javaTimeout)
	defer cancel()
	cmd := javaCmd(t, ctx, "tcp://"+addr, "failover:ow.failover")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	lr := newLineReader(stdout)
	lr.await(t, "OUT sent", javaTimeout)

	t0 := time.Now()
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stopped = true
	t.Logf("shutdown took %v", time.Since(t0))
	s2 := startJournalBroker(t, dir, addr)
	defer s2.Shutdown()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	lr.await(t, "PASS ", javaTimeout)
	t.Logf("reconnect, send and receive took %v", time.Since(t0))
}

// TestConsumerControlPrefetch: what the failover transport does after a
// reconnect, at the byte level. It restores a consumer with prefetch 0,
// so nothing is dispatched to it (and it does not pull), then sends a
// ConsumerControl with the consumer's real prefetch: from then on the
// server pushes that many messages and one more per ack. Before the
// server applied it, a consumer restored after a failover got nothing.
func TestConsumerControlPrefetch(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	c := dialRaw(t, s)
	c.handshake(clientOptions())
	c.connect()
	sid := &wire.SessionID{ConnectionID: "ID:raw-1", Value: 1}
	pid := &wire.ProducerID{ConnectionID: "ID:raw-1", SessionID: 1, Value: 1}
	dest := &wire.Destination{Type: wire.TypeQueue, PhysicalName: "ow.control"}
	c.write(&wire.SessionInfo{SessionID: sid})
	c.write(&wire.ProducerInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ProducerID: pid})
	c.expectResponse()
	for i := range 5 {
		m := &wire.Message{BaseCommand: wire.BaseCommand{ResponseRequired: true}, Type: wire.TypeTextMessage, ProducerID: pid,
			Destination: dest, MessageID: &wire.MessageID{ProducerID: pid, ProducerSequenceID: int64(i + 1)}, Persistent: true, Priority: 4}
		m.SetText(fmt.Sprintf("m%d", i), false)
		c.write(m)
		c.expectResponse()
	}
	cid := &wire.ConsumerID{ConnectionID: "ID:raw-1", SessionID: 1, Value: 1}
	// A dispatch would come before the Response to the ConsumerInfo (the
	// core delivers while the consumer attaches); expectResponse fails on
	// anything else.
	c.write(&wire.ConsumerInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ConsumerID: cid, Destination: dest, PrefetchSize: 0})
	c.expectResponse()

	// dispatches reads n dispatches, then the Response to a flush: no more
	// came meanwhile.
	dispatches := func(n int) []*wire.MessageDispatch {
		t.Helper()
		var got []*wire.MessageDispatch
		c.write(&wire.FlushCommand{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
		for {
			switch r := c.mustRead().(type) {
			case *wire.MessageDispatch:
				got = append(got, r)
			case *wire.Response:
				if len(got) != n {
					t.Fatalf("%d dispatches, want %d", len(got), n)
				}
				return got
			case *wire.KeepAliveInfo:
			default:
				t.Fatalf("got %s, want a MessageDispatch or the Response", wire.TypeName(r.DataType()))
			}
		}
	}
	// The ConsumerControl itself asks for no response (the client sends it
	// one way), so the flush after it orders the reads.
	c.write(&wire.ConsumerControl{ConsumerID: cid, Destination: dest, Prefetch: 3})
	got := dispatches(3)
	text := func(d *wire.MessageDispatch) string {
		t.Helper()
		if d.Message == nil {
			t.Fatal("a dispatch without a message")
		}
		s, err := d.Message.Text(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for i, d := range got {
		if s := text(d); s != fmt.Sprintf("m%d", i) {
			t.Fatalf("dispatch %d: %q, want m%d", i, s, i)
		}
	}
	c.write(&wire.MessageAck{ConsumerID: cid, Destination: dest, AckType: wire.AckStandard, LastMessageID: got[0].Message.MessageID, MessageCount: 1})
	if s := text(dispatches(1)[0]); s != "m3" {
		t.Fatalf("after the ack: %q, want m3", s)
	}
	// Back to prefetch 0: an ack gives no credit back.
	c.write(&wire.ConsumerControl{ConsumerID: cid, Destination: dest, Prefetch: 0})
	c.write(&wire.MessageAck{ConsumerID: cid, Destination: dest, AckType: wire.AckStandard, LastMessageID: got[2].Message.MessageID, MessageCount: 2})
	dispatches(0)
}
