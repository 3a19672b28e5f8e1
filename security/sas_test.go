package security

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testSASKey = "0123456789abcdef0123456789abcdef"

// A token made as the Azure SDKs make them authenticates its key's user for
// audiences under its resource; a wrong key, an unknown key name, a user
// without a key, an expired token, an audience outside the resource and a
// malformed token are refused, each with one audit line.
func TestAuthenticateSAS(t *testing.T) {
	clk := newFakeClock()
	users := []testUser{
		{name: "alice", password: "pw", roles: []string{"users"}, sasKey: testSASKey},
		{name: "carol", password: "pw", roles: []string{"users"}},
	}
	now := clk.Now()
	res := "amqp://broker.example:5672/orders"
	tests := []struct {
		name     string
		token    string
		audience string
		wantErr  error
	}{
		{"good", SignSAS(res, "alice", testSASKey, now.Add(time.Hour)), res, nil},
		{"good, audience below the resource", SignSAS("amqp://broker.example:5672/", "alice", testSASKey, now.Add(time.Hour)), res + "/$management", nil},
		{"good, audience case differs", SignSAS(res, "alice", testSASKey, now.Add(time.Hour)), strings.ToUpper(res), nil},
		{"wrong key", SignSAS(res, "alice", "another-key-0123456789", now.Add(time.Hour)), res, ErrBadCredentials},
		{"unknown key name", SignSAS(res, "mallory", testSASKey, now.Add(time.Hour)), res, ErrBadCredentials},
		{"user without a key", SignSAS(res, "carol", testSASKey, now.Add(time.Hour)), res, ErrBadCredentials},
		{"expired", SignSAS(res, "alice", testSASKey, now.Add(-time.Second)), res, ErrTokenExpired},
		{"other entity", SignSAS(res, "alice", testSASKey, now.Add(time.Hour)), "amqp://broker.example:5672/ordersX", ErrBadCredentials},
		{"not a token", "Bearer abc", res, ErrBadCredentials},
		{"missing signature", "SharedAccessSignature sr=x&se=1&skn=alice", res, ErrBadCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, logs := newAuthnManager(t, Config{UsersFile: "users.yaml"}, clk, users...)
			s, err := m.AuthenticateSAS(t.Context(), tc.token, tc.audience, Credentials{RemoteAddr: "192.0.2.7:1000"})
			if tc.wantErr == nil {
				if err != nil || s.User != "alice" || s.Anonymous {
					t.Fatalf("got %v, %v; want alice", s, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || s != nil {
				t.Fatalf("got %v, %v; want %v", s, err, tc.wantErr)
			}
			recs := logs.records(t, "authentication failed")
			if len(recs) != 1 || recs[0]["audit"] != true || !strings.HasPrefix(recs[0]["reason"].(string), "SAS token: ") {
				t.Fatalf("want one audit line, got %v", recs)
			}
			if strings.Contains(logs.String(), testSASKey) {
				t.Fatal("the key is in the log")
			}
		})
	}
}

// Repeated failures from one source are throttled like password failures.
func TestAuthenticateSASThrottled(t *testing.T) {
	clk := newFakeClock()
	m, _ := newAuthnManager(t, Config{UsersFile: "users.yaml"}, clk, testUser{name: "alice", password: "pw", sasKey: testSASKey})
	bad := SignSAS("amqp://h/q", "alice", "wrong-key-0123456789", clk.Now().Add(time.Hour))
	for range throttleBurst + 2 {
		if _, err := m.AuthenticateSAS(t.Context(), bad, "amqp://h/q", Credentials{RemoteAddr: "192.0.2.8:1"}); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("bad token: %v", err)
		}
	}
	if len(clk.takeSleeps()) == 0 {
		t.Fatal("failures were not throttled")
	}
}

// Without a users file nobody is authenticated, tokens included.
func TestAuthenticateSASNoUsersFile(t *testing.T) {
	m, _ := newAuthnManager(t, Config{}, nil)
	s, err := m.AuthenticateSAS(t.Context(), "anything", "amqp://h/q", Credentials{})
	if err != nil || !s.Anonymous {
		t.Fatalf("got %v, %v; want anonymous", s, err)
	}
	if m.SASEnabled() {
		t.Fatal("SAS enabled without a users file")
	}
}

// A sas-key shorter than MinSASKeyLen is refused when the file loads.
func TestSASKeyTooShort(t *testing.T) {
	h, _ := HashPasswordCost("pw", 4)
	uf := &UsersFile{Users: []User{{Name: "a", Password: h, SASKey: "short"}}}
	if err := uf.Validate(); err == nil || !strings.Contains(err.Error(), "sas-key") {
		t.Fatalf("validate: %v", err)
	}
}

// The token parser takes any input without panicking and never accepts a
// token it cannot re-sign.
func FuzzParseSASToken(f *testing.F) {
	f.Add(SignSAS("amqp://h:1/q", "alice", testSASKey, time.Unix(2e9, 0)))
	f.Add("SharedAccessSignature sr=a&sig=b&se=1&skn=c")
	f.Add("SharedAccessSignature sr=%zz&sig=&se=x&skn=")
	f.Add("SharedAccessSignature sr=a&sr=b")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseSASToken(s)
		if err != nil {
			return
		}
		if tok.KeyName == "" || tok.Resource == "" || tok.Expiry.Unix() <= 0 {
			t.Fatalf("accepted %q as %+v", s, tok)
		}
	})
}
