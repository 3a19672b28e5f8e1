package openwire_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server/servertest"
)

// securityYAML: bob may send and consume under orders only; no anonymous
// access.
const securityYAML = `security:
  users-file: users.yaml
  anonymous: false
  permissions:
    "orders.#": {send: [clerk], consume: [clerk], createAddress: [clerk], createNonDurableQueue: [clerk]}
`

// TestSecurity: a wrong password and a denied destination reach the JMS
// application as JMSSecurityException, with the audit lines the other
// protocols write; what is allowed still works on the same connection.
func TestSecurity(t *testing.T) {
	needJava(t)
	dir := t.TempDir()
	uf := &security.UsersFile{}
	h, err := security.HashPasswordCost("bob-secret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	uf.Users = append(uf.Users, security.User{Name: "bob", Password: h, Roles: []string{"clerk"}})
	if err := uf.Save(filepath.Join(dir, "users.yaml")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(path, []byte(securityYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.LogBuffer
	s := startBroker(t, servertest.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Config: func(c *config.Config) {
			c.Dir = loaded.Dir
			c.Security = loaded.Security
		},
	})
	expectPass(t, url(s), "badlogin:bob:wrong", "badlogin::", "denied:bob:bob-secret:secret.q:orders.ok")
	audit := func(parts ...string) bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			ok := strings.Contains(line, "audit=true")
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return true
			}
		}
		return false
	}
	if !audit("authentication failed", "bob") {
		t.Errorf("no audit line for the failed login; log:\n%s", logs.String())
	}
	if !audit("authorization denied", "secret.q") {
		t.Errorf("no audit line for the denied destination; log:\n%s", logs.String())
	}
}
