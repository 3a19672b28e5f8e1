package usercli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/security"
)

// run executes `junction <args>` in-process with a root command carrying a
// persistent --config flag, as the real binary does.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var cfg string
	root := &cobra.Command{Use: "junction", SilenceErrors: true}
	root.PersistentFlags().StringVar(&cfg, "config", "", "configuration file")
	root.AddCommand(NewCommand(func() string { return cfg }))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	cost := []string{"--bcrypt-cost", strconv.Itoa(bcrypt.MinCost)}
	if slices.Contains(args, "add") || slices.Contains(args, "passwd") {
		args = append(args, cost...)
	}
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func authenticate(t *testing.T, usersFile, user, password string) error {
	t.Helper()
	m, err := security.New(security.Config{UsersFile: usersFile}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Authenticate(context.Background(), security.Credentials{Username: user, Password: password, HasPassword: true})
	return err
}

func TestUserCommandRoundTrip(t *testing.T) {
	dir := t.TempDir()
	uf := filepath.Join(dir, "users.yaml")

	out, err := run(t, "", "user", "add", "alice", "--role", "admin", "--role", "clerk", "--password", "alice-pw", "--users-file", uf)
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	fi, err := os.Stat(uf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file not created 0600: %v %v", fi, err)
	}
	// Password from standard input (not a terminal).
	if out, err := run(t, "bob-pw\n", "user", "add", "bob", "--role", "clerk", "--max-connections", "3", "--users-file", uf); err != nil {
		t.Fatalf("add bob: %v\n%s", err, out)
	}
	if _, err := run(t, "", "user", "add", "alice", "--role", "x", "--password", "p", "--users-file", uf); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate add: %v", err)
	}
	raw, _ := os.ReadFile(uf)
	for _, clear := range []string{"alice-pw", "bob-pw"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Fatalf("clear password %q in users file:\n%s", clear, raw)
		}
	}
	if err := authenticate(t, uf, "alice", "alice-pw"); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := authenticate(t, uf, "bob", "bob-pw"); err != nil {
		t.Fatalf("bob: %v", err)
	}

	out, err = run(t, "", "user", "list", "--users-file", uf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice", "admin,clerk", "bob", "3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "$2") {
		t.Fatalf("list shows hashes:\n%s", out)
	}

	if out, err := run(t, "", "user", "passwd", "bob", "--password", "new-pw", "--users-file", uf); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	if err := authenticate(t, uf, "bob", "bob-pw"); !errors.Is(err, security.ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if err := authenticate(t, uf, "bob", "new-pw"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := run(t, "", "user", "passwd", "carol", "--password", "x", "--users-file", uf); err == nil {
		t.Fatal("passwd of unknown user succeeded")
	}

	if out, err := run(t, "", "user", "rm", "alice", "--users-file", uf); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	if _, err := run(t, "", "user", "rm", "alice", "--users-file", uf); err == nil {
		t.Fatal("second rm succeeded")
	}
	out, _ = run(t, "", "user", "list", "--users-file", uf)
	if strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("after rm:\n%s", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %d entries", len(entries))
	}
}

func TestUsersFileFromConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "etc", "junction.yaml")
	if err := os.WriteFile(cfg, []byte("listeners: [x]\nsecurity:\n  users-file: users.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "--config", cfg, "user", "add", "dev", "--role", "r", "--password", "pw"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	// relative to the configuration file's folder, not the working directory
	if err := authenticate(t, filepath.Join(dir, "etc", "users.yaml"), "dev", "pw"); err != nil {
		t.Fatal(err)
	}
	// --users-file wins over the configuration
	other := filepath.Join(dir, "other.yaml")
	if _, err := run(t, "", "user", "--config", cfg, "add", "x", "--role", "r", "--password", "pw", "--users-file", other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
}

func TestUserCommandErrors(t *testing.T) {
	dir := t.TempDir()
	noUsers := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(noUsers, []byte("security: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uf := filepath.Join(dir, "users.yaml")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no file at all", "", []string{"user", "list"}, "--users-file"},
		{"config without users-file", "", []string{"--config", noUsers, "user", "list"}, "no security.users-file"},
		{"missing config", "", []string{"--config", filepath.Join(dir, "none.yaml"), "user", "list"}, "read configuration"},
		{"list missing users file", "", []string{"user", "list", "--users-file", uf}, "no such file"},
		{"add without role", "", []string{"user", "add", "a", "--password", "p", "--users-file", uf}, "role"},
		{"empty password on stdin", "\n", []string{"user", "add", "a", "--role", "r", "--users-file", uf}, "empty password"},
		{"empty --password", "", []string{"user", "add", "a", "--role", "r", "--password", "", "--users-file", uf}, "empty password"},
		{"bad user name", "", []string{"user", "add", " a", "--role", "r", "--password", "p", "--users-file", uf}, "spaces"},
		{"too long password", "", []string{"user", "add", "a", "--role", "r", "--password", strings.Repeat("x", 80), "--users-file", uf}, "72"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.stdin, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(uf); err == nil {
		t.Fatal("a failed add created the users file")
	}
}

func TestOwnConfigFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(cfg, []byte("security:\n  users-file: u.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := NewCommand(nil)
	cmd.SetArgs([]string{"--config", cfg, "add", "a", "--role", "r", "--password", "p", "--bcrypt-cost", "4"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "u.yaml")); err != nil {
		t.Fatal(err)
	}
}

// sas-key generates a key that the users file keeps and a token signed
// with it authenticates; --remove takes it away.
func TestSASKey(t *testing.T) {
	uf := filepath.Join(t.TempDir(), "users.yaml")
	if _, err := run(t, "pw\n", "user", "add", "carol", "--role", "r", "--users-file", uf); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "user", "sas-key", "carol", "--users-file", uf)
	if err != nil {
		t.Fatalf("sas-key: %v\n%s", err, out)
	}
	key, ok := strings.CutPrefix(strings.TrimSpace(out), "SharedAccessKeyName=carol;SharedAccessKey=")
	if !ok || len(key) != 44 {
		t.Fatalf("output %q", out)
	}
	f, err := security.LoadUsers(uf)
	if err != nil || f.Find("carol").SASKey != key {
		t.Fatalf("stored key: %v %v", f, err)
	}
	if _, err := run(t, "", "user", "sas-key", "carol", "--remove", "--users-file", uf); err != nil {
		t.Fatal(err)
	}
	if f, _ := security.LoadUsers(uf); f.Find("carol").SASKey != "" {
		t.Fatal("the key was not removed")
	}
	if _, err := run(t, "", "user", "sas-key", "nobody", "--users-file", uf); err == nil {
		t.Fatal("a key for a missing user")
	}
}
