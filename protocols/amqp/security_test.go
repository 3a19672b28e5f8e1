package amqp_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/Azure/go-amqp"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/security"
)

// withUsers configures security with a users file holding the given
// name/password pairs (role "users") and, when perms is not nil, those
// permissions.
func withUsers(t *testing.T, anonymous bool, perms map[string]map[string][]string, namePass ...string) func(*config.Config) {
	t.Helper()
	dir := t.TempDir()
	var f security.UsersFile
	for i := 0; i+1 < len(namePass); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(namePass[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		f.Users = append(f.Users, security.User{Name: namePass[i], Password: string(h), Roles: []string{"users"}})
	}
	if err := f.Save(filepath.Join(dir, "users.yaml")); err != nil {
		t.Fatalf("writing users file: %v", err)
	}
	return func(c *config.Config) {
		c.Dir = dir
		c.Security.UsersFile = "users.yaml"
		c.Security.Anonymous = &anonymous
		c.Security.Permissions = perms
	}
}

func dialErr(s interface{ Addr(string) string }, opts *amqp.ConnOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqp://"+s.Addr("amqp"), opts)
	if err == nil {
		_ = c.Close()
	}
	return err
}

// SASL PLAIN with the right password logs in; a wrong one gets the auth
// outcome and no connection (part 5, 5.3.3.6).
func TestSASLPlain(t *testing.T) {
	s := startBroker(t, withUsers(t, false, nil, "alice", "secret"))
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "secret")})
	send(t, newSender(t, ss, "plain", nil), amqp.NewMessage([]byte("x")))
	if err := dialErr(s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "wrong")}); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if err := dialErr(s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("mallory", "secret")}); err == nil {
		t.Fatal("an unknown user logged in")
	}
}

// ANONYMOUS is refused when anonymous access is off, and so is a client
// that skips SASL; it is accepted when anonymous access is on.
func TestSASLAnonymous(t *testing.T) {
	closed := startBroker(t, withUsers(t, false, nil, "alice", "secret"))
	if err := dialErr(closed, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}); err == nil {
		t.Fatal("ANONYMOUS logged in with anonymous access off")
	}
	if err := dialErr(closed, nil); err == nil {
		t.Fatal("a client without SASL got in with anonymous access off")
	}
	open := startBroker(t, withUsers(t, true, nil, "alice", "secret"))
	_, ss := session(t, open, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	send(t, newSender(t, ss, "anon", nil), amqp.NewMessage([]byte("x")))
}

// A link to an address the user may not use is refused with
// amqp:unauthorized-access: an attach without a terminus, then a detach
// with the error (part 2, 2.6.3). The connection stays usable.
func TestDeniedAddress(t *testing.T) {
	perms := map[string]map[string][]string{
		"open.#": {"send": {"users"}, "consume": {"users"}, "createAddress": {"users"}, "createDurableQueue": {"users"}},
	}
	s := startBroker(t, withUsers(t, false, perms, "alice", "secret"))
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "secret")})
	_, err := ss.NewSender(ctxFor(t), "secret.plans", nil)
	if err == nil {
		t.Fatal("sender to a denied address attached")
	}
	if e := amqpError(t, err); e.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("sender refused with %v, want unauthorized-access", e)
	}
	_, err = ss.NewReceiver(ctxFor(t), "secret.plans", nil)
	if err == nil {
		t.Fatal("receiver from a denied address attached")
	}
	if e := amqpError(t, err); e.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("receiver refused with %v, want unauthorized-access", e)
	}
	// Nothing else is affected.
	send(t, newSender(t, ss, "open.plans", nil), amqp.NewMessage([]byte("ok")))
	if m := receive(t, newReceiver(t, ss, "open.plans", nil)); body(m) != "ok" {
		t.Fatalf("got %q", body(m))
	}
}

// The SASL exchange byte by byte: the mechanisms offered, and outcome
// auth (1) for a wrong password (part 5, 5.3.3.6).
func TestSASLOutcomeCodes(t *testing.T) {
	s := startBroker(t, withUsers(t, false, nil, "alice", "secret"))
	for _, tc := range []struct {
		pass string
		code uint8
	}{{"wrong", codec.SASLAuth}, {"secret", codec.SASLOK}} {
		r := dialRaw(t, s.Addr("amqp"))
		hdr := codec.ProtocolHeader(codec.ProtoSASL)
		r.write(hdr[:])
		r.header()
		mechs, ok := expectAny(r).(*codec.SASLMechanisms)
		if !ok {
			t.Fatal("no sasl-mechanisms")
		}
		for _, m := range mechs.Mechanisms {
			if m == "ANONYMOUS" {
				t.Fatal("ANONYMOUS offered with anonymous access off")
			}
		}
		r.send(0, &codec.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00alice\x00" + tc.pass)}, nil)
		out, ok := expectAny(r).(*codec.SASLOutcome)
		if !ok || out.Code != tc.code {
			t.Fatalf("password %q: outcome %+v, want code %d", tc.pass, out, tc.code)
		}
	}
}
