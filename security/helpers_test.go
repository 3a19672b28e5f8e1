package security

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/internal/testkit"
)

// logBuffer collects JSON log lines for assertions.
type logBuffer struct{ testkit.LogBuffer }

// records returns the logged lines whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// fakeClock advances only when something sleeps on it, and records the sleeps.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) takeSleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slept
	c.slept = nil
	return s
}

// testUser describes a user to write into a test users file.
type testUser struct {
	name, password string
	roles          []string
	maxConn        int
	sasKey         string
}

func writeUsers(t testing.TB, dir string, users ...testUser) string {
	t.Helper()
	uf := &UsersFile{}
	for _, u := range users {
		h, err := HashPasswordCost(u.password, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		uf.Users = append(uf.Users, User{Name: u.name, Password: h, Roles: u.roles, MaxConnections: u.maxConn, SASKey: u.sasKey})
	}
	path := filepath.Join(dir, "users.yaml")
	if err := uf.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func boolp(b bool) *bool { return &b }
