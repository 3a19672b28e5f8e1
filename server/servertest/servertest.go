// Package servertest starts real brokers for tests: every listener on
// 127.0.0.1 at a random port, a memory store unless the test asks for the
// journal, and shutdown registered with t.Cleanup.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/storage"
)

// Options tune a test broker.
type Options struct {
	// Config is changed by the test before the broker starts (address
	// settings, security, TLS, data folder, store type ...).
	Config func(*config.Config)
	// Store, when set, is used instead of the configured one, so a test can
	// restart a broker on the same memory store.
	Store storage.Store
	// Logger defaults to discarding; set JUNCTION_TEST_LOG=1 to see logs.
	Logger *slog.Logger
	// Adapters replace the registered protocol adapters (server.Adapters).
	Adapters []adapter.Registration
}

// Start starts a broker and stops it when the test ends.
func Start(t testing.TB, o Options) *server.Server {
	t.Helper()
	cfg := &config.Config{}
	cfg.Data = t.TempDir()
	cfg.Store.Type = "memory"
	regs := o.Adapters
	if regs == nil {
		regs = server.Adapters
	}
	// Every plain listener at a random port; TLS ones off until a test
	// that configures a certificate turns them on.
	cfg.Listeners = config.Listeners{}
	for _, l := range server.KnownListeners(regs) {
		cfg.Listeners[l.Name] = "127.0.0.1:0"
		if l.TLS {
			cfg.Listeners[l.Name] = config.Off
		}
	}
	if o.Config != nil {
		o.Config(cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test broker config: %v", err)
	}
	log := o.Logger
	if log == nil {
		var w io.Writer = io.Discard
		if os.Getenv("JUNCTION_TEST_LOG") != "" {
			w = os.Stderr
		}
		log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := server.Start(context.Background(), cfg, log, server.Options{Store: o.Store, Adapters: o.Adapters})
	if err != nil {
		t.Fatalf("starting test broker: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(); err != nil {
			// A shutdown that times out is a handler that never ended:
			// its stack is the diagnosis, and the process may be gone
			// before anyone can look again.
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
			t.Errorf("broker shutdown: %v\ngoroutines:\n%s", err, b.String())
		}
	})
	return s
}

// ListenersOff returns `junction serve` flags that turn off every plain
// listener not named in keep (TLS listeners are off anyway without tls:),
// so that a test running the broker as a process binds only the addresses
// it chose, whatever adapters are registered.
func ListenersOff(keep ...string) []string {
	var args []string
	for _, l := range server.KnownListeners(server.Adapters) {
		if l.TLS || slices.Contains(keep, l.Name) {
			continue
		}
		args = append(args, "--"+l.Name, "off")
	}
	return args
}
