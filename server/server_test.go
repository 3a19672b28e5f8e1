package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/transport"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event.
const waitFor = 5 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}

// echo is a fake protocol: it answers each line with "echo: " and the
// line, and counts what the adapter contract asks it to count.
type echo struct {
	adapter.Counters
	env    adapter.Env
	closed atomic.Bool
}

func (e *echo) ServeConn(_ context.Context, c net.Conn) {
	e.Opened()
	defer e.Closed()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		e.MessageIn()
		// Counted before the write: the client reads the echo and may look
		// at the stats before this goroutine runs again.
		e.MessageOut()
		if _, err := io.WriteString(c, "echo: "+sc.Text()+"\n"); err != nil {
			return
		}
	}
}

func (e *echo) Stats() adapter.Stats { return e.Snapshot() }

func (e *echo) Close() error {
	e.closed.Store(true)
	return nil
}

// echoRegistration registers a fresh echo adapter and hands it to the test.
func echoRegistration(got **echo) adapter.Registration {
	return adapter.Registration{
		Name: "echo",
		Listeners: []adapter.Listener{
			{Name: "echo", Default: "127.0.0.1:7"},
			{Name: "echo-tls", Default: "127.0.0.1:8", TLS: true},
		},
		WebSocket: adapter.WebSocket{Subprotocols: []string{"echo.v1"}, Type: transport.Text},
		New: func(env adapter.Env) (adapter.Adapter, error) {
			*got = &echo{env: env}
			return *got, nil
		},
	}
}

func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if want := "echo: " + line + "\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRegisteredAdapterServes: an adapter the server knows only by its
// registration gets its listener opened (at the address the configuration
// gives by listener name), its WebSocket subprotocol routed on the shared
// listener, the configured max-message-size, its counters reported, and
// Close at shutdown.
func TestRegisteredAdapterServes(t *testing.T) {
	var e *echo
	s := servertest.Start(t, servertest.Options{
		Adapters: []adapter.Registration{echoRegistration(&e)},
		Config:   func(c *config.Config) { c.MaxMessageSize = 12345 },
	})
	if e == nil {
		t.Fatal("the adapter was not built")
	}
	if e.env.MaxMessageSize != 12345 || e.env.Broker != s.Core || e.env.Gate == nil {
		t.Errorf("adapter env = %+v", e.env)
	}
	if s.Addr("echo") == "" || s.Addr("echo-tls") != "" || s.Addr("stomp") != "" {
		t.Fatalf("listeners: echo %q, echo-tls %q (want off), stomp %q (not registered)", s.Addr("echo"), s.Addr("echo-tls"), s.Addr("stomp"))
	}
	c, err := net.Dial("tcp", s.Addr("echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "over tcp")

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	wc, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/", &websocket.DialOptions{Subprotocols: []string{"echo.v1"}})
	if err != nil {
		t.Fatalf("WebSocket dial with subprotocol echo.v1: %v", err)
	}
	if wc.Subprotocol() != "echo.v1" {
		t.Fatalf("negotiated %q", wc.Subprotocol())
	}
	nc := websocket.NetConn(ctx, wc, websocket.MessageText)
	defer nc.Close()
	roundTrip(t, nc, "over websocket")

	st := s.AdapterStats()["echo"]
	if st.Connections != 2 || st.Accepted != 2 || st.MessagesIn != 2 || st.MessagesOut != 2 {
		t.Errorf("stats = %+v, want 2 open, 2 accepted, 2 in, 2 out", st)
	}
	if s.Adapter("echo") != adapter.Adapter(e) {
		t.Error("Adapter(echo) is not the running adapter")
	}
	// Clients leave before the shutdown, which would otherwise wait for
	// the WebSocket client's answer to its close.
	c.Close()
	nc.Close()
	for deadline := time.Now().Add(waitFor); s.AdapterStats()["echo"].Connections != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("connections still open after the clients left: %+v", s.AdapterStats()["echo"])
		}
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if !e.closed.Load() {
		t.Error("adapter not closed at shutdown")
	}
}

// TestListenerDefaults: a listener the configuration does not name takes
// its registration's default; TLS ones only once a certificate is
// configured; "off" turns one off.
func TestListenerDefaults(t *testing.T) {
	var e *echo
	regs := []adapter.Registration{echoRegistration(&e)}
	cfg := &config.Config{Listeners: config.Listeners{"ws": config.Off}}
	plans, err := server.PlanListeners(cfg, regs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range plans {
		got[p.Name] = p.Addr
	}
	want := map[string]string{"echo": "127.0.0.1:7", "echo-tls": "off", "ws": "off", "wss": "off", "admin": "127.0.0.1:8161", "admin-tls": "off"}
	if len(got) != len(want) {
		t.Fatalf("plans %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("listener %s = %q, want %q", k, got[k], v)
		}
	}

	cfg.TLS = &security.TLSConfig{CertFile: "a.crt", KeyFile: "a.key"}
	plans, err = server.PlanListeners(cfg, regs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		if want := map[string]string{"echo": "127.0.0.1:7", "echo-tls": "127.0.0.1:8", "ws": "off", "wss": "127.0.0.1:61615",
			"admin": "127.0.0.1:8161", "admin-tls": "127.0.0.1:8162"}[p.Name]; p.Addr != want {
			t.Errorf("with tls: listener %s = %q, want %q", p.Name, p.Addr, want)
		}
	}

	// The real registrations: every documented listener and default.
	plans, err = server.PlanListeners(&config.Config{}, server.Adapters)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, p := range plans {
		got[p.Name] = p.Addr
	}
	want = map[string]string{
		"stomp": "127.0.0.1:61613", "stomp-tls": "off", "mqtt": "127.0.0.1:1883", "mqtt-tls": "off",
		"ws": "127.0.0.1:61614", "wss": "off",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("default listener %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestListenerErrorsBeforeTheJournal: every listener problem stops Start
// before the journal's folder is created, with an error that names it.
func TestListenerErrorsBeforeTheJournal(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	allOff := config.Listeners{}
	for _, l := range server.KnownListeners(server.Adapters) {
		allOff[l.Name] = config.Off
	}
	with := func(kv ...string) config.Listeners {
		l := config.Listeners{"stomp": "127.0.0.1:0", "mqtt": "off", "ws": "off", "openwire": "off"}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	cases := []struct {
		name      string
		listeners config.Listeners
		want      []string
	}{
		{"every listener off", allOff, []string{"every listener is off"}},
		{"port in use", with("mqtt", busy.Addr().String()), []string{"listener mqtt", "address already in use"}},
		{"bad address", with("stomp", "61613"), []string{"listener stomp", `"61613" is not host:port or off`}},
		{"bad port", with("ws", "127.0.0.1:http"), []string{"listener ws", "is not a number"}},
		{"unknown listener", with("stopm", "127.0.0.1:0"), []string{`unknown listener "stopm"`, "stomp, stomp-tls"}},
		{"tls without a certificate", with("mqtt-tls", "127.0.0.1:0"), []string{"listener mqtt-tls needs tls.cert-file"}},
		{"unresolvable host", with("stomp", "no-such-host.invalid:0"), []string{"listener stomp"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			cfg := &config.Config{Data: data, Listeners: tc.listeners}
			cfg.ApplyDefaults()
			s, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), server.Options{})
			if err == nil {
				_ = s.Shutdown()
				t.Fatal("Start succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, serr := os.Stat(data); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("the journal folder exists after a failed start (stat: %v)", serr)
			}
		})
	}
	// The busy port's listener is still the test's: Start closed only its own.
	if _, err := net.Dial("tcp", busy.Addr().String()); err != nil {
		t.Errorf("the busy listener is gone: %v", err)
	}
}

// TestLaterListenerInUseReleasesEarlierOnes: when binding fails part way,
// the listeners already bound are closed, so a retry can have them.
func TestLaterListenerInUseReleasesEarlierOnes(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stompAddr := free.Addr().String()
	free.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := &config.Config{Data: t.TempDir(), Listeners: config.Listeners{"stomp": stompAddr, "mqtt": busy.Addr().String(), "ws": "off", "openwire": "off"}}
	cfg.ApplyDefaults()
	if _, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), server.Options{}); err == nil {
		t.Fatal("Start succeeded with mqtt's port in use")
	}
	ln, err := net.Listen("tcp", stompAddr)
	if err != nil {
		t.Fatalf("stomp's address was not released: %v", err)
	}
	ln.Close()
}

// TestREADMEListenerTable keeps README.md's listener table true: one row
// per listener, with the default the registrations give.
func TestREADMEListenerTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	known := server.KnownListeners(server.Adapters)
	if len(rows) != len(known) {
		t.Errorf("README lists %d listeners %v, the registrations %d", len(rows), rows, len(known))
	}
	for _, l := range known {
		want := l.Default
		if l.TLS {
			want = "off; " + l.Default + " once `tls:` is configured"
		}
		if rows[l.Name] != want {
			t.Errorf("README: listener %s default %q, want %q", l.Name, rows[l.Name], want)
		}
	}
}

// TestREADMEConfiguration: the configuration file README.md shows loads,
// validates and plans its listeners as it says.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	text, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README's Configuration section has no yaml block")
	}
	p := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	plans, err := server.PlanListeners(cfg, server.Adapters)
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range plans {
		want := map[string]string{"stomp": "127.0.0.1:61613", "ws": "off", "mqtt": "0.0.0.0:1883", "mqtt-tls": "0.0.0.0:8883",
			"stomp-tls": "127.0.0.1:61612", "wss": "127.0.0.1:61615", "amqp": "127.0.0.1:5672", "amqp-tls": "127.0.0.1:5671",
			"openwire": "127.0.0.1:61616", "openwire-tls": "127.0.0.1:61617",
			"admin": "127.0.0.1:8161", "admin-tls": "127.0.0.1:8162"}[pl.Name]
		if pl.Addr != want {
			t.Errorf("README configuration: listener %s = %q, want %q", pl.Name, pl.Addr, want)
		}
	}
}
