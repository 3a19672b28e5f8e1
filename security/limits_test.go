package security

import (
	"errors"
	"sync"
	"testing"
)

func TestConnectLimits(t *testing.T) {
	m, logs := newAuthnManager(t, Config{UsersFile: "users.yaml", MaxConnectionsPerUser: 2, Anonymous: boolp(true)}, nil,
		testUser{name: "dflt", password: "pw", roles: []string{"r"}},
		testUser{name: "one", password: "pw", roles: []string{"r"}, maxConn: 1},
		testUser{name: "many", password: "pw", roles: []string{"r"}, maxConn: -1},
	)
	for _, tc := range []struct {
		user string
		want int // connections accepted out of 5; -1 = all
	}{
		{"dflt", 2},
		{"one", 1},
		{"many", -1},
		{"", -1}, // anonymous
	} {
		t.Run(tc.user, func(t *testing.T) {
			s := &Subject{User: tc.user, Anonymous: tc.user == ""}
			var releases []func()
			accepted := 0
			for range 5 {
				rel, err := m.Connect(s)
				if err != nil {
					if !errors.Is(err, ErrTooManyConnections) {
						t.Fatal(err)
					}
					continue
				}
				accepted++
				releases = append(releases, rel)
			}
			want := tc.want
			if want < 0 {
				want = 5
			}
			if accepted != want {
				t.Fatalf("accepted %d, want %d", accepted, want)
			}
			if tc.want > 0 {
				releases[0]()
				releases[0]() // idempotent: must not free a second slot
				if _, err := m.Connect(s); err != nil {
					t.Fatalf("slot not freed: %v", err)
				}
				if _, err := m.Connect(s); !errors.Is(err, ErrTooManyConnections) {
					t.Fatalf("double release freed two slots: %v", err)
				}
			}
		})
	}
	if n := len(logs.records(t, "connection refused")); n == 0 {
		t.Fatal("refusals not audit-logged")
	}
}

func TestConnectConcurrent(t *testing.T) {
	m, _ := newAuthnManager(t, Config{UsersFile: "users.yaml", MaxConnectionsPerUser: 10}, nil,
		testUser{name: "u", password: "pw", roles: []string{"r"}})
	s := &Subject{User: "u"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var rels []func()
	for range 50 {
		wg.Go(func() {
			if rel, err := m.Connect(s); err == nil {
				mu.Lock()
				rels = append(rels, rel)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(rels) != 10 || m.Connections("u") != 10 {
		t.Fatalf("accepted %d, counted %d, want 10", len(rels), m.Connections("u"))
	}
	for _, r := range rels {
		wg.Go(r)
	}
	wg.Wait()
	if n := m.Connections("u"); n != 0 {
		t.Fatalf("%d connections left after release", n)
	}
}
