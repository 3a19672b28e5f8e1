// Package access joins the security manager to the core for every protocol
// adapter: one login at connect, one Authorize hook per core session, and the
// per-user connection slot released when the connection ends. Adapters turn
// the errors into their protocol's refusal.
package access

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/security"
)

// Gate authenticates connections. A nil *Gate or one without a manager lets
// everyone in anonymously and authorizes everything.
//
// Every adapter logs its clients in here, so the Gate is also where the
// connection hooks (core.Hooks.ConnectionCreated and ConnectionDestroyed)
// fire: an adapter gets them, and the plugins that use them, for free.
type Gate struct {
	Manager *security.Manager
	// Protocol is the adapter's name; the server gives each adapter its
	// own copy of the Gate with it set.
	Protocol string
	// Hooks, when set, are told about each connection that logged in and
	// its end (the broker's: core.Broker.Hooks).
	Hooks *core.Hooks
}

// connIDs numbers connections across every adapter.
var connIDs atomic.Uint64

// Identity is an authenticated connection.
//
// Every connection holds one as long as it lives, idle devices included, so
// it keeps only what Connection cannot rebuild: the user and the address
// are the Subject's, the protocol the Gate's (48 bytes where a stored
// ConnectionInfo took 128).
type Identity struct {
	Subject *security.Subject
	gate    *Gate
	release func()
	id      uint64 // ConnectionInfo.ID
	since   int64  // Unix nanoseconds
	tls     bool
	closed  atomic.Bool
}

// Login authenticates a connecting client and takes a connection slot for
// its user. Call Identity.Close when the connection ends.
func (g *Gate) Login(ctx context.Context, user, password string, hasPassword bool, remote string, tlsState *tls.ConnectionState) (*Identity, error) {
	if g == nil || g.Manager == nil {
		id := &Identity{Subject: &security.Subject{Anonymous: true, RemoteAddr: remote}, gate: g}
		id.created(tlsState)
		return id, nil
	}
	s, err := g.Manager.Authenticate(ctx, security.Credentials{Username: user, Password: password, HasPassword: hasPassword, RemoteAddr: remote, TLSState: tlsState})
	if err != nil {
		return nil, err
	}
	release, err := g.Manager.Connect(s)
	if err != nil {
		return nil, err
	}
	id := &Identity{Subject: s, gate: g, release: release}
	id.created(tlsState)
	return id, nil
}

// CheckSAS verifies a SAS token presented for audience (AMQP $cbs
// put-token) and returns its user's subject, without taking a connection
// slot: a connection refreshes its token many times, and adopts a subject
// with LoginSubject once. A nil Gate or one without a manager answers with
// an anonymous subject, as Login does.
func (g *Gate) CheckSAS(ctx context.Context, token, audience, remote string, tlsState *tls.ConnectionState) (*security.Subject, error) {
	if g == nil || g.Manager == nil {
		return &security.Subject{Anonymous: true, RemoteAddr: remote}, nil
	}
	return g.Manager.AuthenticateSAS(ctx, token, audience, security.Credentials{RemoteAddr: remote, TLSState: tlsState})
}

// LoginSubject logs in a subject authenticated outside Login (CheckSAS):
// it takes the user's connection slot. Call Identity.Close when the
// connection ends.
func (g *Gate) LoginSubject(s *security.Subject, tlsState *tls.ConnectionState) (*Identity, error) {
	id := &Identity{Subject: s, gate: g}
	if g != nil && g.Manager != nil {
		release, err := g.Manager.Connect(s)
		if err != nil {
			return nil, err
		}
		id.release = release
	}
	id.created(tlsState)
	return id, nil
}

// SASEnabled reports whether SAS tokens can log a user in.
func (g *Gate) SASEnabled() bool { return g != nil && g.Manager != nil && g.Manager.SASEnabled() }

// created numbers the connection and tells the hooks.
// The address is the Subject's: both logins make it from remote.
func (id *Identity) created(tlsState *tls.ConnectionState) {
	id.id, id.since, id.tls = connIDs.Add(1), time.Now().UnixNano(), tlsState != nil
	if g := id.gate; g != nil && g.Hooks != nil && g.Hooks.ConnectionCreated != nil {
		g.Hooks.ConnectionCreated(id.Connection())
	}
}

// Connection describes the connection for operators and the hooks.
func (id *Identity) Connection() core.ConnectionInfo {
	ci := core.ConnectionInfo{ID: id.id, User: id.User(), TLS: id.tls, Since: time.Unix(0, id.since)}
	if id.Subject != nil {
		ci.Remote = id.Subject.RemoteAddr
	}
	if id.gate != nil {
		ci.Protocol = id.gate.Protocol
	}
	return ci
}

// User is the validated user name ("" when anonymous).
func (id *Identity) User() string {
	if id == nil || id.Subject == nil || id.Subject.Anonymous {
		return ""
	}
	return id.Subject.User
}

// SessionOptions builds the core session options for this identity.
func (id *Identity) SessionOptions(clientID string) core.SessionOptions {
	ci := id.Connection()
	opts := core.SessionOptions{ClientID: clientID, User: ci.User, Protocol: ci.Protocol, Connection: ci.ID, RemoteAddr: ci.Remote}
	if id.gate != nil && id.gate.Manager != nil {
		// Method values: 16 bytes each for the session's life, where
		// closures over the manager and subject took 24.
		opts.Authorize = id.Authorize
		opts.LoginValid = id.loginValid
	}
	return opts
}

func (id *Identity) loginValid() error { return id.gate.Manager.LoginValid(id.Subject) }

// Authorize checks one action outside a core session (adapters use it for
// actions the core does not see, such as MQTT retained-message delivery).
func (id *Identity) Authorize(p core.Permission, address string) error {
	if id.gate == nil || id.gate.Manager == nil {
		return nil
	}
	return id.gate.Manager.Authorize(id.Subject, actionOf(p), address)
}

// Close releases the user's connection slot and tells the hooks the
// connection ended. Calling it again does nothing.
func (id *Identity) Close() {
	if id == nil || !id.closed.CompareAndSwap(false, true) {
		return
	}
	if id.release != nil {
		id.release()
	}
	if g := id.gate; g != nil && g.Hooks != nil && g.Hooks.ConnectionDestroyed != nil {
		g.Hooks.ConnectionDestroyed(id.Connection())
	}
}

func actionOf(p core.Permission) security.Action {
	switch p {
	case core.PermSend:
		return security.Send
	case core.PermConsume:
		return security.Consume
	case core.PermBrowse:
		return security.Browse
	case core.PermCreateAddress:
		return security.CreateAddress
	case core.PermDeleteAddress:
		return security.DeleteAddress
	case core.PermCreateDurableQueue:
		return security.CreateDurableQueue
	case core.PermDeleteDurableQueue:
		return security.DeleteDurableQueue
	case core.PermCreateNonDurableQueue:
		return security.CreateNonDurableQueue
	case core.PermDeleteNonDurableQueue:
		return security.DeleteNonDurableQueue
	}
	return security.Manage
}

// Refusal says, for an error from Login, whether it was a credentials problem
// (as opposed to a limit or an internal error) and a message for the client.
func Refusal(err error) (badCredentials bool, msg string) {
	switch {
	case errors.Is(err, security.ErrBadCredentials):
		return true, "bad user name or password"
	case errors.Is(err, security.ErrTokenExpired):
		return true, "the SAS token has expired"
	case errors.Is(err, security.ErrAnonymousDenied):
		return true, "anonymous access is not allowed: log in with a user name and password"
	case errors.Is(err, security.ErrTooManyConnections):
		return false, "too many connections for this user"
	}
	return false, "login failed: " + err.Error()
}
