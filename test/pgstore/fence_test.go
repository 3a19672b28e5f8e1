package pgstore

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// haBrokerConfig is servertest's configuration (every plain listener on a
// random port) for a broker of an HA pair on url.
func haBrokerConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	cfg := &config.Config{Data: t.TempDir(), Listeners: config.Listeners{}}
	for _, l := range server.KnownListeners(server.Adapters) {
		cfg.Listeners[l.Name] = "127.0.0.1:0"
		if l.TLS {
			cfg.Listeners[l.Name] = config.Off
		}
	}
	cfg.Store.Type, cfg.Store.URL, cfg.HA.Role = "postgres", url, config.HARoleLiveOrBackup
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitLogged polls a log buffer for a line containing s (a broker's log is
// the only sign that it started waiting).
func waitLogged(t *testing.T, logs *testkit.LogBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged within %v:\n%s", s, waitFor, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCutLiveIsFenced: the live broker's database connection is cut; its
// session ends, the backup takes the store over and serves; when the old
// live broker reaches the database again it finds the store taken, is
// fenced and stops serving, having written nothing after the takeover.
func TestCutLiveIsFenced(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	proxy := pgtest.NewProxy(t, srv.Addr())
	a := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type, c.Store.URL, c.HA.Role = "postgres", srv.URL(proxy.Addr(), db), config.HARoleLiveOrBackup
	}})
	persistent := stompc.SendOpt.Header("persistent", "true")
	ca, err := dial(a.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Send("/queue/f", "text/plain", []byte("a1"), stompc.SendOpt.Receipt, persistent); err != nil {
		t.Fatal(err)
	}

	var logs testkit.LogBuffer
	started := make(chan *server.Server, 1)
	failed := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		b, err := server.Start(ctx, haBrokerConfig(t, srv.URL("", db)), slog.New(slog.NewTextHandler(&logs, nil)), server.Options{})
		if err != nil {
			failed <- err
			return
		}
		started <- b
	}()
	waitLogged(t, &logs, "waiting for the store lock")

	proxy.Cut()
	var b *server.Server
	select {
	case b = <-started:
	case err := <-failed:
		t.Fatalf("backup: %v", err)
	case <-time.After(waitFor):
		t.Fatalf("the backup did not take over:\n%s", logs.String())
	}
	defer b.Shutdown()
	if !strings.Contains(logs.String(), "from=backup to=live") {
		t.Fatalf("no role change logged:\n%s", logs.String())
	}
	// The cut broker notices by itself, and refuses what it cannot store.
	deadline := time.Now().Add(waitFor)
	for a.Core.StoreHealth() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the cut live broker did not notice")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := ca.Send("/queue/f", "text/plain", []byte("a2"), stompc.SendOpt.Receipt, persistent); err == nil {
		t.Fatal("the cut live broker confirmed a persistent send")
	}
	proxy.Heal()
	select {
	case <-a.Fenced():
	case <-time.After(waitFor):
		t.Fatalf("the old live broker was not fenced once it reached the database (store: %v)", a.Core.StoreHealth())
	}
	ca2, err := dial(a.Addr("stomp"))
	if err == nil {
		err = ca2.Send("/queue/f", "text/plain", []byte("a3"), stompc.SendOpt.Receipt, persistent)
		ca2.MustDisconnect()
	}
	if err == nil {
		t.Fatal("the fenced broker confirmed a persistent send")
	}
	cb, err := dial(b.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.Send("/queue/f", "text/plain", []byte("b1"), stompc.SendOpt.Receipt, persistent); err != nil {
		t.Fatalf("the new live broker refused a send: %v", err)
	}
	cb.MustDisconnect()
	seen := drain(t, b.Addr("stomp"), "/queue/f", 2)
	if len(seen) != 2 || seen["a1"] != 1 || seen["b1"] != 1 {
		t.Fatalf("the new live broker holds %v, want a1 and b1 only", seen)
	}
}
