package security

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Connect counts a new connection of s against its user's limit and
// returns the function to call when the connection closes (calling it more
// than once is harmless). The limit is the user's max-connections from the
// users file when set (-1 = unlimited), else max-connections-per-user
// (0 = unlimited). Anonymous subjects are not limited here: they share no
// identity to count against, so bound them with the listener's connection
// limit instead. Over the limit it returns an error matching
// ErrTooManyConnections, audit-logged.
func (m *Manager) Connect(s *Subject) (release func(), err error) {
	if s == nil || s.Anonymous || s.User == "" {
		return func() {}, nil
	}
	limit := m.maxPerUser
	if u := m.users.Load().byName[s.User]; u != nil && u.maxConn != 0 {
		limit = u.maxConn
	}
	m.connMu.Lock()
	n := m.conns[s.User]
	if limit > 0 && n >= limit {
		m.connMu.Unlock()
		m.audit.LogAttrs(context.Background(), slog.LevelWarn, "connection refused",
			slog.String("user", s.User), slog.String("remote", s.RemoteAddr),
			slog.Int("limit", limit), slog.String("reason", "too many connections"))
		return nil, fmt.Errorf("user %q has %d connections: %w", s.User, n, ErrTooManyConnections)
	}
	m.conns[s.User] = n + 1
	m.connMu.Unlock()
	var done atomic.Bool
	return func() {
		if !done.CompareAndSwap(false, true) {
			return
		}
		m.connMu.Lock()
		if c := m.conns[s.User] - 1; c > 0 {
			m.conns[s.User] = c
		} else {
			delete(m.conns, s.User)
		}
		m.connMu.Unlock()
	}, nil
}

// Connections returns how many connections user holds (for management).
func (m *Manager) Connections(user string) int {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	return m.conns[user]
}
