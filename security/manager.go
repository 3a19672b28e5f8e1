package security

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Manager is the broker's single security authority. It is safe for
// concurrent use; Authorize is cheap enough to call for every message.
type Manager struct {
	cfg        Config
	usersPath  string // "" when no users file is configured
	anonymous  bool
	anonRoles  []string
	maxPerUser int
	certUsers  map[string]string // normalized DN or CN -> user name

	log   *slog.Logger
	audit *slog.Logger
	clock Clock

	perms *permTable // nil: authorization off
	users atomic.Pointer[userSet]

	reloadMu sync.Mutex // serializes Reload
	fileInfo os.FileInfo
	reloaded func(error) // test hook: called after each reload Watch triggers
	onChange []func()    // called after each successful reload (OnUsersChanged)

	throttle  *throttle
	authCache authCache
	bcryptSem chan struct{}

	connMu sync.Mutex
	conns  map[string]int
}

// userSet is one immutable snapshot of the users file.
type userSet struct {
	byName    map[string]*userEntry
	dummyHash []byte // compared against for unknown users, same cost as real ones
	sas       bool   // some user has a sas-key
}

type userEntry struct {
	name    string
	hash    []byte
	roles   []string
	maxConn int
	sasKey  []byte // the user's shared access key; nil: no SAS tokens
}

// Option tunes a Manager; the zero set of options is what the broker uses.
type Option func(*Manager)

// WithAuditHandler sends the audit lines to h as well as to the logger
// (the audit plugin takes them this way); nil changes nothing.
func WithAuditHandler(h slog.Handler) Option {
	return func(m *Manager) {
		if h != nil {
			m.audit = slog.New(slog.NewMultiHandler(m.log.Handler(), h)).With(slog.Bool("audit", true))
		}
	}
}

// WithClock replaces the wall clock used by login throttling.
func WithClock(c Clock) Option { return func(m *Manager) { m.clock = c } }

// Clock is the time source of login throttling; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// New validates cfg, loads the users file (UsersFile is relative to baseDir,
// the configuration file's folder) and compiles the permissions. logger may
// be nil; audit lines go to it with the attribute audit=true.
func New(cfg Config, baseDir string, logger *slog.Logger, opts ...Option) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg:        cfg,
		usersPath:  cfg.UsersFilePath(baseDir),
		anonymous:  cfg.AnonymousAllowed(),
		maxPerUser: cfg.MaxConnectionsPerUser,
		log:        logger,
		audit:      logger.With(slog.Bool("audit", true)),
		clock:      wallClock{},
		conns:      make(map[string]int),
		bcryptSem:  make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
	}
	for _, o := range opts {
		o(m)
	}
	m.throttle = newThrottle(m.clock)
	role := cfg.AnonymousRole
	if role == "" {
		role = DefaultAnonymousRole
	}
	m.anonRoles = []string{role}
	if len(cfg.CertUsers) > 0 {
		m.certUsers = make(map[string]string, len(cfg.CertUsers))
		for k, u := range cfg.CertUsers {
			m.certUsers[normalizeDN(k)] = u
		}
	}
	if len(cfg.Permissions) > 0 {
		pt, err := compilePermissions(cfg.Permissions)
		if err != nil {
			return nil, fmt.Errorf("security: %w", err)
		}
		m.perms = pt
	}
	if m.usersPath == "" {
		m.users.Store(&userSet{byName: map[string]*userEntry{}})
		return m, nil
	}
	if err := m.Reload(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("security: %w (create it with `junction user add`)", err)
		}
		return nil, fmt.Errorf("security: %w", err)
	}
	if m.perms == nil {
		m.log.Info("security: no permissions configured, every authenticated user may do everything")
	}
	for u, name := range m.cfg.CertUsers {
		if m.users.Load().byName[name] == nil {
			m.log.Warn("security: cert-users maps to a user missing from the users file", "cert", u, "user", name)
		}
	}
	return m, nil
}

// AnonymousAllowed reports whether clients without a user name get in. With
// no users file this is always true and the caller should warn that the
// broker is open.
func (m *Manager) AnonymousAllowed() bool { return m.anonymous }

// AuthorizationEnabled reports whether permissions are checked at all.
func (m *Manager) AuthorizationEnabled() bool { return m.perms != nil }

// UsersFile returns the resolved path of the users file, "" if none.
func (m *Manager) UsersFile() string { return m.usersPath }

// Reload re-reads the users file. On error the previous users stay in
// force. Live subjects pick up changed roles at their next Authorize; a
// removed user's subjects lose every permission (closing their connections
// is up to the adapters).
func (m *Manager) Reload() error {
	if m.usersPath == "" {
		return nil
	}
	m.reloadMu.Lock()
	err := m.reloadLocked()
	onChange := m.onChange
	m.reloadMu.Unlock()
	if err != nil {
		return err
	}
	// Outside the lock: what the callbacks close may take its time.
	for _, fn := range onChange {
		fn()
	}
	return nil
}

func (m *Manager) reloadLocked() error {
	fi, err := os.Stat(m.usersPath)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		m.log.Warn("security: users file is readable by other users; chmod 600 it", "path", m.usersPath, "mode", fi.Mode().Perm().String())
	}
	// Remember the file even if it is broken, so Watch reports a bad edit
	// once rather than at every tick.
	m.fileInfo = fi
	uf, err := LoadUsers(m.usersPath)
	if err != nil {
		return err
	}
	set := &userSet{byName: make(map[string]*userEntry, len(uf.Users))}
	cost := bcrypt.DefaultCost
	for i, u := range uf.Users {
		e := &userEntry{name: u.Name, hash: []byte(u.Password), roles: u.Roles, maxConn: u.MaxConnections}
		if u.SASKey != "" {
			e.sasKey = []byte(u.SASKey)
			set.sas = true
		}
		set.byName[u.Name] = e
		if i == 0 {
			cost, _ = bcrypt.Cost([]byte(u.Password)) // validated by LoadUsers
		}
	}
	old := m.users.Load()
	if old != nil && old.dummyHash != nil {
		if c, _ := bcrypt.Cost(old.dummyHash); c == cost {
			set.dummyHash = old.dummyHash
		}
	}
	if set.dummyHash == nil {
		// The password is random and thrown away: nothing can match it.
		h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
		if err != nil {
			return fmt.Errorf("users file: dummy hash: %w", err)
		}
		set.dummyHash = h
	}
	m.users.Store(set)
	m.authCache.clear()
	m.log.Info("security: users loaded", "path", m.usersPath, "users", len(set.byName))
	return nil
}

// OnUsersChanged registers fn to run after every successful reload of the
// users file (from Reload or Watch), with the new users in force: the broker
// re-checks open connections there, so a removed or demoted user loses what
// it may no longer do within one Watch interval. Register before Watch
// starts; fn runs on the reloading goroutine.
func (m *Manager) OnUsersChanged(fn func()) {
	m.reloadMu.Lock()
	m.onChange = append(m.onChange, fn)
	m.reloadMu.Unlock()
}

// LoginValid reports whether a subject's login still stands: a user who
// logged in from the users file (by password or certificate) and has since
// been removed from it gets ErrUserRemoved. Anonymous subjects and those
// from elsewhere always pass.
func (m *Manager) LoginValid(s *Subject) error {
	if s == nil || !s.fromUsers {
		return nil
	}
	if m.users.Load().byName[s.User] == nil {
		return fmt.Errorf("%w: %q", ErrUserRemoved, s.User)
	}
	return nil
}

// Watch polls the users file every interval and reloads it when it changed
// (new inode, size or modification time), until ctx is done. Reload errors
// are logged and the previous users kept. Run it in its own goroutine.
func (m *Manager) Watch(ctx context.Context, interval time.Duration) {
	if m.usersPath == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(m.usersPath)
		if err != nil {
			continue
		}
		m.reloadMu.Lock()
		prev := m.fileInfo
		m.reloadMu.Unlock()
		if prev != nil && os.SameFile(prev, fi) && prev.Size() == fi.Size() && prev.ModTime().Equal(fi.ModTime()) {
			continue
		}
		err = m.Reload()
		if err != nil {
			m.log.Error("security: reloading users file failed, keeping the previous users", "err", err)
		}
		if m.reloaded != nil {
			m.reloaded(err)
		}
	}
}
