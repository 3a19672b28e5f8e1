package security_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/security/usercli"
)

// userCLI runs `junction user ARGS...` in process, as the binary does.
func userCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := usercli.NewCommand(nil)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func mustUserCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := userCLI(t, args...)
	if err != nil {
		t.Fatalf("junction user %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestUsersCLIRoundTrip: users added, changed and removed with `junction
// user` (through the broker configuration's users-file) take effect on a
// running broker, which watches the file.
func TestUsersCLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(cfgPath, []byte(issueSecurity), 0o600); err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users.yaml")
	// The minimum bcrypt cost keeps the test fast.
	cli := func(args ...string) []string { return append(args, "--config", cfgPath) }
	fast := []string{"--bcrypt-cost", "4"}

	mustUserCLI(t, cli(append([]string{"add", "alice", "--role", "admin", "--password", "first-pw"}, fast...)...)...)
	mustUserCLI(t, cli(append([]string{"add", "bob", "--role", "clerk,auditor", "--password", bobPW, "--max-connections", "5"}, fast...)...)...)
	if out, err := userCLI(t, cli("add", "alice", "--role", "admin", "--password", "x")...); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("adding alice twice: %v\n%s", err, out)
	}

	list := mustUserCLI(t, cli("list")...)
	for _, want := range []string{"alice", "admin", "bob", "clerk,auditor", "5"} {
		if !strings.Contains(list, want) {
			t.Fatalf("user list lacks %q:\n%s", want, list)
		}
	}
	for _, leak := range []string{"$2a$", "$2b$", "first-pw", bobPW} {
		if strings.Contains(list, leak) {
			t.Fatalf("user list shows %q:\n%s", leak, list)
		}
	}
	data, err := os.ReadFile(usersPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "first-pw") || strings.Contains(string(data), bobPW) {
		t.Fatalf("users file holds a clear-text password:\n%s", data)
	}
	if fi, err := os.Stat(usersPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	e := start(t, setup{dir: dir, yaml: issueSecurity, noUsersFile: true})
	addr := e.s.Addr("stomp")
	loginFails := func(password string) {
		t.Helper()
		c := rawDial(t, addr)
		if f := c.connect("login", "alice", "passcode", password); f.cmd != "ERROR" {
			t.Fatalf("alice with %q: got %v, want ERROR", password, f)
		}
		c.expectClosed()
	}
	// reloaded waits for the broker's users-file watcher (a 2 s poll) to
	// have picked up the change; the probe bypasses login throttling.
	reloaded := func(what, password string, wantOK bool) {
		t.Helper()
		eventually(t, what, func() bool {
			_, err := e.s.Security.Authenticate(context.Background(), security.Credentials{Username: "alice", Password: password, HasPassword: true})
			return (err == nil) == wantOK && (wantOK || errors.Is(err, security.ErrBadCredentials))
		})
	}

	live := rawDial(t, addr)
	live.login("alice", "first-pw")

	mustUserCLI(t, cli(append([]string{"passwd", "alice", "--password", "second-pw"}, fast...)...)...)
	reloaded("the broker to load alice's new password", "second-pw", true)
	loginFails("first-pw")
	rawDial(t, addr).login("alice", "second-pw")
	login5(t, e.s.Addr("mqtt"), "alice-after-passwd", "alice", "second-pw")

	mustUserCLI(t, cli("rm", "alice")...)
	reloaded("the broker to forget alice", "second-pw", false)
	loginFails("second-pw")
	// A connection made before the removal is closed by the broker.
	live.expectDenied("", "permission revoked", "user removed from the users file")
	// bob is untouched.
	rawDial(t, addr).login("bob", bobPW)

	if list := mustUserCLI(t, cli("list")...); strings.Contains(list, "alice") || !strings.Contains(list, "bob") {
		t.Fatalf("user list after rm:\n%s", list)
	}
	if out, err := userCLI(t, cli("rm", "alice")...); err == nil {
		t.Fatalf("removing alice twice succeeded:\n%s", out)
	}

	// A broken edit by hand (a clear-text password) is refused, the users
	// in force stay, and the password does not reach the log.
	broken := "users:\n  - name: bob\n    password: plain-text-secret\n    roles: [clerk]\n"
	if err := os.WriteFile(usersPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the broker to reject the broken users file", func() bool {
		return strings.Contains(e.log.String(), "reloading users file failed")
	})
	rawDial(t, addr).login("bob", bobPW)
	if strings.Contains(e.log.String(), "plain-text-secret") {
		t.Fatal("the clear-text password of the broken users file reached the log")
	}
}
