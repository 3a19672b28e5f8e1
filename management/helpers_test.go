package management_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/go-stomp/stomp/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event from the broker.
const waitFor = 10 * time.Second

const (
	alicePW = "alice-secret" // admin: manage
	bobPW   = "bob-secret"   // clerk: no manage
)

// env is a running broker with a users file: alice may manage, bob may not.
type env struct {
	t    testing.TB
	s    *server.Server
	base string // http://admin-addr
	http *http.Client
}

func start(t testing.TB, more ...func(*config.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	uf := &security.UsersFile{}
	for _, u := range []struct{ name, pw, role string }{{"alice", alicePW, "admin"}, {"bob", bobPW, "clerk"}} {
		h, err := security.HashPasswordCost(u.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		uf.Users = append(uf.Users, security.User{Name: u.name, Password: h, Roles: []string{u.role}})
	}
	if err := uf.Save(users); err != nil {
		t.Fatal(err)
	}
	no := false
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Security = security.Config{UsersFile: users, Anonymous: &no, Permissions: map[string]map[string][]string{
			"#": {"send": {"admin", "clerk"}, "consume": {"admin", "clerk"}, "browse": {"admin"}, "createAddress": {"admin", "clerk"},
				"createDurableQueue": {"admin", "clerk"}, "createNonDurableQueue": {"admin", "clerk"},
				"deleteNonDurableQueue": {"admin", "clerk"}, "deleteDurableQueue": {"admin", "clerk"}, "manage": {"admin"}},
		}}
		for _, f := range more {
			f(c)
		}
	}})
	e := &env{t: t, s: s, base: "http://" + s.Addr("admin"), http: newClient()}
	t.Cleanup(func() { e.http.CloseIdleConnections() })
	return e
}

// do sends a request as alice and decodes the JSON answer into out (when
// not nil); it returns the status.
func (e *env) do(method, path string, body any, out any) int {
	e.t.Helper()
	return e.doAs("alice", alicePW, method, path, body, out)
}

func (e *env) doAs(user, pw, method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: decoding %q: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		e.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return resp.StatusCode
}

// must is do that fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any, out any) {
	e.t.Helper()
	if got := e.do(method, path, body, out); got != want {
		e.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

func (e *env) stomp(user, pw string, opts ...func(*stomp.Conn) error) *stomp.Conn {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.s.Addr("stomp"), waitFor)
	if err != nil {
		e.t.Fatal(err)
	}
	opts = append([]func(*stomp.Conn) error{stomp.ConnOpt.Login(user, pw), stomp.ConnOpt.Logger(testkit.QuietLogger{})}, opts...)
	c, err := stomp.Connect(nc, opts...)
	if err != nil {
		e.t.Fatalf("stomp connect: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Disconnect(); _ = nc.Close() })
	return c
}

func (e *env) mqtt(clientID string, clean bool) mqtt3.Client {
	e.t.Helper()
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + e.s.Addr("mqtt")).SetClientID(clientID).
		SetUsername("alice").SetPassword(alicePW).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(clean).
		SetProtocolVersion(4).SetConnectTimeout(waitFor).SetWriteTimeout(waitFor).SetOrderMatters(false)
	c := mqtt3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		e.t.Fatalf("mqtt connect: %v", tok.Error())
	}
	e.t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func timeAfter() <-chan time.Time { return time.After(waitFor) }

func urlEscape(s string) string { return url.QueryEscape(s) }

// newHTTPServer serves h on a random loopback port for the test.
func newHTTPServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startPlain starts a broker as it comes out of the box: no users file.
func startPlain(t testing.TB) *server.Server {
	return servertest.Start(t, servertest.Options{})
}

// newClient is an HTTP client whose idle connections are closed when the
// test ends (goleak checks that nothing is left).
func newClient() *http.Client {
	return &http.Client{Timeout: waitFor, Transport: &http.Transport{DisableKeepAlives: true}}
}
