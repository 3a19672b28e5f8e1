package stomp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/stomp"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/storage/memory"
)

// serveSTOMP runs a stomp.Server with the given options on a loopback
// listener, for the options the broker configuration does not expose.
func serveSTOMP(t *testing.T, opts stomp.Options) string {
	t.Helper()
	addr, _ := serveSTOMPWith(t, opts, core.Config{})
	return addr
}

// serveSTOMPWith is serveSTOMP on a broker configured by cfg, which it
// returns too.
func serveSTOMPWith(t *testing.T, opts stomp.Options, cfg core.Config) (string, *core.Broker) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger = log
	if cfg.Store == nil {
		cfg.Store = memory.New()
	}
	b, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts.Broker, opts.Logger = b, log
	srv := stomp.NewServer(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.ServeConn(ctx, nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		cancel() // closes every connection
		wg.Wait()
		if n := srv.Connections(); n != 0 {
			t.Errorf("%d connections still counted after they all ended", n)
		}
		b.Close()
	})
	return ln.Addr().String(), b
}

// TestConnectTimeout checks that a client that never sends CONNECT is
// told so and disconnected after Options.ConnectTimeout.
func TestConnectTimeout(t *testing.T) {
	addr := serveSTOMP(t, stomp.Options{ConnectTimeout: 200 * time.Millisecond})
	r := dialRaw(t, addr)
	start := time.Now()
	f := r.expectError()
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "CONNECT") {
		t.Errorf("ERROR message %q", msg)
	}
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("closed after %v, want about 200ms", elapsed)
	}
}

// TestHeartBeatFloor checks that the server will not agree to heart-beats
// more frequent than Options.HeartBeatFloor (spec "Heart-beating": each
// side states what it can do; the CONNECTED frame says the server's).
func TestHeartBeatFloor(t *testing.T) {
	addr := serveSTOMP(t, stomp.Options{HeartBeatFloor: 250 * time.Millisecond})
	r := dialRaw(t, addr)
	hb, _ := r.connect("heart-beat", "10,10").Get(frame.HdrHeartBeat)
	if hb != "250,250" {
		t.Fatalf("CONNECTED heart-beat %q, want 250,250", hb)
	}
}

// TestOversizedBodyWithoutContentLength checks Options.Limits on a body
// that declares no length: the server refuses it once it passes the limit
// (spec "Size Limits").
func TestOversizedBodyWithoutContentLength(t *testing.T) {
	addr := serveSTOMP(t, stomp.Options{Limits: frame.Limits{MaxBodySize: 1024}})
	r := dialRaw(t, addr)
	r.connect()
	r.write("SEND\ndestination:/queue/big\n\n" + strings.Repeat("x", 2048) + "\x00")
	f := r.expectError()
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "message too large: more than 1024 bytes, limit 1024") {
		t.Errorf("ERROR message %q", msg)
	}

	// A body within the limit is fine on a new connection.
	r = dialRaw(t, addr)
	r.connect()
	r.frame("SEND", strings.Repeat("x", 1000), "destination", "/queue/big", "receipt", "ok")
	r.expect("RECEIPT")
}

// TestDefaultPrefetch checks Options.DefaultPrefetch: a client-ack
// subscription that names no prefetch has at most that many messages
// unacknowledged.
func TestDefaultPrefetch(t *testing.T) {
	addr := serveSTOMP(t, stomp.Options{DefaultPrefetch: 2})
	r := dialRaw(t, addr)
	r.connect()
	for _, b := range []string{"1", "2", "3"} {
		r.frame("SEND", b, "destination", "/queue/pf", "receipt", "r"+b)
		r.expect("RECEIPT")
	}
	r.frame("SUBSCRIBE", "", "id", "s", "destination", "/queue/pf", "ack", "client-individual")
	first := r.expect("MESSAGE")
	r.expect("MESSAGE")
	// Nothing more arrives until one is settled: the next frame is the
	// receipt of this probe.
	r.frame("BEGIN", "", "transaction", "probe", "receipt", "probe")
	r.expect("RECEIPT")
	ack, _ := first.Get("ack")
	r.frame("ACK", "", "id", ack)
	if m := r.expect("MESSAGE"); string(m.Body) != "3" {
		t.Fatalf("after the ACK got %q", m.Body)
	}
}
