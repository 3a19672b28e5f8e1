package security

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func newAuthnManager(t *testing.T, cfg Config, clock Clock, users ...testUser) (*Manager, *logBuffer) {
	t.Helper()
	dir := t.TempDir()
	if cfg.UsersFile != "" {
		writeUsers(t, dir, users...)
	}
	logger, logs := testLogger()
	var opts []Option
	if clock != nil {
		opts = append(opts, WithClock(clock))
	}
	m, err := New(cfg, dir, logger, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

func TestAuthenticate(t *testing.T) {
	bob := testUser{name: "bob", password: "s3cret", roles: []string{"clerk", "eu"}}
	tests := []struct {
		name      string
		cfg       Config
		cred      Credentials
		wantErr   error
		wantUser  string
		wantAnon  bool
		wantRoles []string
	}{
		{"good password", Config{UsersFile: "users.yaml"}, Credentials{Username: "bob", Password: "s3cret", HasPassword: true}, nil, "bob", false, []string{"clerk", "eu"}},
		{"wrong password", Config{UsersFile: "users.yaml"}, Credentials{Username: "bob", Password: "nope", HasPassword: true}, ErrBadCredentials, "", false, nil},
		{"unknown user", Config{UsersFile: "users.yaml"}, Credentials{Username: "eve", Password: "s3cret", HasPassword: true}, ErrBadCredentials, "", false, nil},
		{"no password", Config{UsersFile: "users.yaml"}, Credentials{Username: "bob"}, ErrBadCredentials, "", false, nil},
		{"password flag unset", Config{UsersFile: "users.yaml"}, Credentials{Username: "bob", Password: "s3cret"}, ErrBadCredentials, "", false, nil},
		{"anonymous default off with users file", Config{UsersFile: "users.yaml"}, Credentials{}, ErrAnonymousDenied, "", false, nil},
		{"anonymous explicitly on", Config{UsersFile: "users.yaml", Anonymous: boolp(true), AnonymousRole: "visitor"}, Credentials{}, nil, "", true, []string{"visitor"}},
		{"anonymous on, wrong password still fails", Config{UsersFile: "users.yaml", Anonymous: boolp(true)}, Credentials{Username: "bob", Password: "x", HasPassword: true}, ErrBadCredentials, "", false, nil},
		{"no users file: anonymous", Config{}, Credentials{}, nil, "", true, []string{"guest"}},
		{"no users file: credentials ignored", Config{}, Credentials{Username: "bob", Password: "whatever", HasPassword: true}, nil, "", true, []string{"guest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, logs := newAuthnManager(t, tc.cfg, nil, bob)
			tc.cred.RemoteAddr = "192.0.2.1:4000"
			s, err := m.Authenticate(t.Context(), tc.cred)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || s != nil {
					t.Fatalf("got %v, %v; want %v", s, err, tc.wantErr)
				}
				recs := logs.records(t, "authentication failed")
				if len(recs) != 1 || recs[0]["audit"] != true || recs[0]["remote"] != "192.0.2.1:4000" {
					t.Fatalf("want one audit line, got %v", recs)
				}
				if strings.Contains(logs.String(), tc.cred.Password) && tc.cred.Password != "" {
					t.Fatalf("password in log: %s", logs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.User != tc.wantUser || s.Anonymous != tc.wantAnon || strings.Join(s.Roles, ",") != strings.Join(tc.wantRoles, ",") {
				t.Fatalf("subject %+v", s)
			}
			if s.RemoteAddr != "192.0.2.1:4000" {
				t.Fatalf("remote %q", s.RemoteAddr)
			}
			if len(logs.records(t, "authentication failed")) != 0 {
				t.Fatal("success logged as failure")
			}
		})
	}
}

func TestAuthenticateUnknownUserStillHashes(t *testing.T) {
	// The dummy hash must have the cost of the real ones, or timing tells
	// unknown users apart.
	m, _ := newAuthnManager(t, Config{UsersFile: "users.yaml"}, nil, testUser{name: "bob", password: "pw", roles: []string{"r"}})
	users := m.users.Load()
	if got, want := string(users.dummyHash[:7]), string(users.byName["bob"].hash[:7]); got != want {
		t.Fatalf("dummy hash prefix %q, real %q: costs differ", got, want)
	}
}

func TestAuthCacheInvalidatedByPasswordChange(t *testing.T) {
	dir := t.TempDir()
	writeUsers(t, dir, testUser{name: "bob", password: "old", roles: []string{"r"}})
	m, err := New(Config{UsersFile: "users.yaml"}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 2 { // second round hits the cache
		if _, err := m.Authenticate(ctx, Credentials{Username: "bob", Password: "old", HasPassword: true}); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers(t, dir, testUser{name: "bob", password: "new", roles: []string{"r"}})
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticate(ctx, Credentials{Username: "bob", Password: "old", HasPassword: true}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := m.Authenticate(ctx, Credentials{Username: "bob", Password: "new", HasPassword: true}); err != nil {
		t.Fatal(err)
	}
}

func TestLoginThrottling(t *testing.T) {
	clock := newFakeClock()
	m, _ := newAuthnManager(t, Config{UsersFile: "users.yaml"}, clock, testUser{name: "bob", password: "pw", roles: []string{"r"}})
	ctx := t.Context()
	bad := Credentials{Username: "bob", Password: "guess", HasPassword: true, RemoteAddr: "198.51.100.9:1234"}
	var delays []time.Duration
	for range 10 {
		_, err := m.Authenticate(ctx, bad)
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
		s := clock.takeSleeps()
		var d time.Duration
		if len(s) > 0 {
			d = s[0]
		}
		delays = append(delays, d)
	}
	want := []time.Duration{0, 0, 0, 0, 0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if _, err := m.Authenticate(ctx, bad); err == nil {
		t.Fatal("bad password accepted")
	}
	if s := clock.takeSleeps(); len(s) != 1 || s[0] != throttleMax {
		t.Fatalf("delay not capped: %v", s)
	}
	// A good password from the throttled address is delayed too, then works.
	good := bad
	good.Password = "pw"
	if _, err := m.Authenticate(ctx, good); err != nil {
		t.Fatal(err)
	}
	if s := clock.takeSleeps(); len(s) != 1 {
		t.Fatalf("good login from throttled source not delayed: %v", s)
	}
	// Another address (different port, same IP: throttled; other IP: not).
	other := bad
	other.RemoteAddr = "198.51.100.9:9999"
	_, _ = m.Authenticate(ctx, other)
	if s := clock.takeSleeps(); len(s) != 1 {
		t.Fatalf("same IP, other port not throttled: %v", s)
	}
	other.RemoteAddr = "198.51.100.10:1234"
	_, _ = m.Authenticate(ctx, other)
	if s := clock.takeSleeps(); len(s) != 0 {
		t.Fatalf("unrelated IP throttled: %v", s)
	}
	// After a quiet window the count is forgotten.
	clock.Advance(throttleWindow + time.Second)
	_, _ = m.Authenticate(ctx, bad)
	if s := clock.takeSleeps(); len(s) != 0 {
		t.Fatalf("still throttled after the window: %v", s)
	}
}

func TestThrottleCancelledContext(t *testing.T) {
	m, _ := newAuthnManager(t, Config{UsersFile: "users.yaml"}, nil, testUser{name: "bob", password: "pw", roles: []string{"r"}})
	bad := Credentials{Username: "bob", Password: "x", HasPassword: true, RemoteAddr: "203.0.113.5:1"}
	for range throttleBurst {
		_, _ = m.Authenticate(t.Context(), bad)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	_, err := m.Authenticate(ctx, bad)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if time.Since(start) > throttleBase {
		t.Fatal("cancelled attempt waited out the delay")
	}
}

func TestThrottleKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1:80", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:9", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:9", "fe80::/64"},
		{"pipe", "pipe"},
		{"", ""},
	} {
		if got := throttleKey(tc.in); got != tc.want {
			t.Errorf("throttleKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestThrottleTableBounded: a table full of sources drops the expired ones
// first and keeps the live ones; a table full of live sources starts over.
// Keys are decimal strings: string(rune(i)) turned every surrogate into
// U+FFFD, so the table never filled and a missing sweep passed. Catches the
// mutations "no sweep" (the table grows past its bound), "sweep clears
// everything" (a live source's failures are forgotten while expired ones
// could have made room) and "sweep without the final clear" (a table of live
// sources grows past its bound).
func TestThrottleTableBounded(t *testing.T) {
	clock := newFakeClock()
	th := newThrottle(clock)
	half := throttleMaxSources / 2
	for i := range half {
		th.fail("old-" + strconv.Itoa(i))
	}
	clock.Advance(throttleWindow + time.Second)
	for i := range half {
		th.fail("new-" + strconv.Itoa(i))
	}
	if n := len(th.srcs); n != throttleMaxSources {
		t.Fatalf("%d sources tracked before the table is full, want %d", n, throttleMaxSources)
	}
	th.fail("one-more")
	if _, ok := th.srcs["old-0"]; ok {
		t.Error("an expired source survived the sweep of a full table")
	}
	if _, ok := th.srcs["new-0"]; !ok {
		t.Error("a live source was dropped while expired ones could make room")
	}
	if n := len(th.srcs); n != half+1 {
		t.Errorf("%d sources after the sweep, want %d (the live ones and the new one)", n, half+1)
	}

	// Now only live sources: the table fills up and starts over.
	for i := range throttleMaxSources {
		th.fail("live-" + strconv.Itoa(i))
		if n := len(th.srcs); n > throttleMaxSources {
			t.Fatalf("%d sources tracked, bound %d", n, throttleMaxSources)
		}
	}
}

func TestWatchReloadsUsersFile(t *testing.T) {
	dir := t.TempDir()
	writeUsers(t, dir, testUser{name: "bob", password: "pw", roles: []string{"r"}})
	m, err := New(Config{UsersFile: "users.yaml"}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloads := make(chan error, 10)
	m.reloaded = func(err error) { reloads <- err }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Watch(ctx, 5*time.Millisecond); close(done) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not stop")
		}
	}()
	writeUsers(t, dir, testUser{name: "carol", password: "pw2", roles: []string{"r"}})
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload after the users file changed")
	}
	if _, err := m.Authenticate(t.Context(), Credentials{Username: "carol", Password: "pw2", HasPassword: true}); err != nil {
		t.Fatalf("new user after reload: %v", err)
	}
	if _, err := m.Authenticate(t.Context(), Credentials{Username: "bob", Password: "pw", HasPassword: true}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("removed user after reload: %v", err)
	}
}
