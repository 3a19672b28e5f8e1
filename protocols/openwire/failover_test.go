package openwire_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
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
