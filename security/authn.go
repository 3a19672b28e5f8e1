package security

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Credentials is what a protocol adapter learnt from a connecting client.
type Credentials struct {
	Username string
	Password string
	// HasPassword tells an empty password from none (MQTT's password flag,
	// a STOMP CONNECT without passcode). A user name without a password never
	// authenticates, but it still costs a bcrypt comparison so that the
	// answer takes as long as for a wrong password.
	HasPassword bool
	// RemoteAddr is the peer's address ("ip:port"); failed logins are
	// throttled per IP (per /64 for IPv6). Empty disables throttling.
	RemoteAddr string
	// TLSState is the connection's TLS state, nil on plain connections. A
	// verified client certificate listed in cert-users logs its user in.
	TLSState *tls.ConnectionState
}

// Subject is an authenticated (or anonymous) client. Adapters keep it for
// the connection's lifetime and pass it to Authorize; do not copy it or
// change Roles after first use.
type Subject struct {
	// User is the validated user name; empty for an anonymous subject. It is
	// the value adapters stamp as UserProperty.
	User string
	// Roles are the user's roles at login. Authorize uses the roles of the
	// current users file instead, so a reload takes effect on live
	// connections. Read-only: the slice is shared with the users file's
	// entry (a reload makes new entries; it never changes one), and with
	// every other subject of that user, so a connection carries no copy.
	Roles     []string
	Anonymous bool
	// Certificate is true when a TLS client certificate, not a password,
	// established the identity.
	Certificate bool
	// RemoteAddr is copied from the credentials for audit lines.
	RemoteAddr string

	fromUsers bool // roles come from the users file (see Manager.maskFor)
	mask      atomic.Pointer[roleMask]
}

// String names the subject in logs.
func (s *Subject) String() string {
	if s == nil || s.Anonymous || s.User == "" {
		return "anonymous"
	}
	return s.User
}

// Authenticate checks a client's credentials and returns its Subject.
// Errors are ErrBadCredentials (unknown user and wrong password alike),
// ErrAnonymousDenied, or ctx's error when ctx ends while the attempt is
// being throttled. Failures are audit-logged here; the caller only has to
// turn the error into its protocol's refusal.
//
// Without a users file every client is let in as anonymous, whatever it
// sends, because there is nobody to check the credentials against.
func (m *Manager) Authenticate(ctx context.Context, c Credentials) (*Subject, error) {
	if m.usersPath == "" {
		return m.anonymousSubject(c), nil
	}
	users := m.users.Load()
	if name, ok := m.certUser(c.TLSState); ok && (c.Username == "" || c.Username == name) {
		u := users.byName[name]
		if u == nil {
			m.auditLogin(c, name, "certificate maps to a user missing from the users file")
			return nil, ErrBadCredentials
		}
		return &Subject{User: name, Roles: shareRoles(u.roles), Certificate: true, RemoteAddr: c.RemoteAddr, fromUsers: true}, nil
	}
	key := throttleKey(c.RemoteAddr)
	if c.Username == "" {
		if m.anonymous {
			return m.anonymousSubject(c), nil
		}
		m.throttle.fail(key)
		m.auditLogin(c, "", "anonymous login not allowed")
		return nil, ErrAnonymousDenied
	}
	if d := m.throttle.delay(key); d > 0 {
		if err := m.clock.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	u := users.byName[c.Username]
	if u != nil && c.HasPassword && m.authCache.hit(u, c.Password, m.clock.Now()) {
		return m.userSubject(u, c), nil
	}
	hash := users.dummyHash
	if u != nil {
		hash = u.hash
	}
	if err := m.acquireBcrypt(ctx); err != nil {
		return nil, err
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(c.Password))
	<-m.bcryptSem
	if err != nil || u == nil || !c.HasPassword {
		m.throttle.fail(key)
		reason := "wrong password"
		switch {
		case u == nil:
			reason = "unknown user"
		case !c.HasPassword:
			reason = "no password"
		}
		m.auditLogin(c, c.Username, reason)
		return nil, ErrBadCredentials
	}
	m.authCache.add(u, c.Password, m.clock.Now())
	return m.userSubject(u, c), nil
}

func (m *Manager) anonymousSubject(c Credentials) *Subject {
	return &Subject{Roles: shareRoles(m.anonRoles), Anonymous: true, RemoteAddr: c.RemoteAddr}
}

// shareRoles hands out a roles slice without copying it; its capacity is
// cut to its length, so that an append by a holder copies instead of
// writing into the shared array.
func shareRoles(r []string) []string { return r[:len(r):len(r)] }

func (m *Manager) userSubject(u *userEntry, c Credentials) *Subject {
	return &Subject{User: u.name, Roles: shareRoles(u.roles), RemoteAddr: c.RemoteAddr, fromUsers: true}
}

// acquireBcrypt bounds concurrent bcrypt comparisons to half the CPUs,
// so that a login storm queues up instead of starving message delivery.
func (m *Manager) acquireBcrypt(ctx context.Context) error {
	select {
	case m.bcryptSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// certUser returns the user a verified client certificate maps to.
func (m *Manager) certUser(st *tls.ConnectionState) (string, bool) {
	if m.certUsers == nil || st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", false
	}
	leaf := st.VerifiedChains[0][0]
	if u, ok := m.certUsers[normalizeDN(leaf.Subject.String())]; ok {
		return u, true
	}
	if cn := leaf.Subject.CommonName; cn != "" {
		if u, ok := m.certUsers[normalizeDN(cn)]; ok {
			return u, true
		}
	}
	return "", false
}

// auditLogin writes the one audit line of a failed login. The attempted
// user name is kept (truncated) because it is what an operator searches
// for; the password never appears.
func (m *Manager) auditLogin(c Credentials, user, reason string) {
	if len(user) > 128 {
		user = user[:128] + "..."
	}
	m.audit.LogAttrs(context.Background(), slog.LevelWarn, "authentication failed",
		slog.String("user", user), slog.String("remote", c.RemoteAddr),
		slog.Bool("certificate", c.TLSState != nil && len(c.TLSState.VerifiedChains) > 0),
		slog.String("reason", reason))
}

// Login throttling: after throttleBurst failures from one source, each
// further attempt from it waits throttleBase, doubling per failure up to
// throttleMax. The count is forgotten after throttleWindow without a failure.
const (
	throttleBurst      = 5
	throttleWindow     = time.Minute
	throttleBase       = 250 * time.Millisecond
	throttleMax        = 5 * time.Second
	throttleMaxSources = 1 << 16
)

type throttle struct {
	clock Clock
	mu    sync.Mutex
	srcs  map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newThrottle(c Clock) *throttle {
	return &throttle{clock: c, srcs: make(map[string]*failures)}
}

// throttleKey reduces a remote address to the unit an attacker controls: an
// IPv4 address, or an IPv6 /64 (one host usually owns a whole /64).
func throttleKey(remote string) string {
	if remote == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return host
	}
	return p.String()
}

func (t *throttle) delay(key string) time.Duration {
	if key == "" {
		return 0
	}
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.srcs[key]
	if f == nil {
		return 0
	}
	if now.Sub(f.last) > throttleWindow {
		delete(t.srcs, key)
		return 0
	}
	if f.n < throttleBurst {
		return 0
	}
	shift := f.n - throttleBurst
	if shift > 16 {
		return throttleMax
	}
	return min(throttleBase<<shift, throttleMax)
}

func (t *throttle) fail(key string) {
	if key == "" {
		return
	}
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.srcs[key]
	if f == nil {
		if len(t.srcs) >= throttleMaxSources {
			t.sweep(now)
		}
		f = &failures{}
		t.srcs[key] = f
	} else if now.Sub(f.last) > throttleWindow {
		f.n = 0
	}
	f.n++
	f.last = now
}

// sweep drops expired sources; if an attack from very many addresses keeps
// the table full, it starts over rather than grow without bound.
func (t *throttle) sweep(now time.Time) {
	for k, f := range t.srcs {
		if now.Sub(f.last) > throttleWindow {
			delete(t.srcs, k)
		}
	}
	if len(t.srcs) >= throttleMaxSources {
		clear(t.srcs)
	}
}

// authCache remembers recent successful logins so that clients reconnecting
// in a storm (thousands of MQTT devices after a network blip) do not each
// cost a bcrypt comparison, as Artemis' authentication cache does. Entries
// are HMACs keyed with a per-process secret over the user, its stored hash
// and the password: no clear password is kept, and changing a password
// (new hash) or removing the user invalidates them by construction.
type authCache struct {
	once    sync.Once
	key     []byte
	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // -> expiry
}

const (
	authCacheTTL = 10 * time.Minute
	authCacheMax = 1 << 14
)

func (c *authCache) sum(u *userEntry, password string) [sha256.Size]byte {
	c.once.Do(func() {
		c.key = make([]byte, 32)
		_, _ = rand.Read(c.key) // never fails (crypto/rand panics instead)
	})
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(u.name))
	h.Write([]byte{0})
	h.Write(u.hash)
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func (c *authCache) hit(u *userEntry, password string, now time.Time) bool {
	k := c.sum(u, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[k]
	if !ok {
		return false
	}
	if now.After(exp) {
		delete(c.entries, k)
		return false
	}
	return true
}

func (c *authCache) add(u *userEntry, password string, now time.Time) {
	k := c.sum(u, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= authCacheMax {
		c.entries = make(map[[sha256.Size]byte]time.Time)
	}
	c.entries[k] = now.Add(authCacheTTL)
}

func (c *authCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}
