package security

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestUsersFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.yaml")
	const clear = "correct-horse-battery-staple"
	h, err := HashPasswordCost(clear, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	in := &UsersFile{Users: []User{
		{Name: "alice", Password: h, Roles: []string{"admin", "clerk"}, MaxConnections: 5},
		{Name: "bob", Password: h, Roles: []string{"clerk"}},
	}}
	if err := in.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(clear)) {
		t.Fatal("clear password in the users file")
	}
	out, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 2 || out.Users[0].Name != "alice" || out.Users[0].MaxConnections != 5 ||
		strings.Join(out.Users[0].Roles, ",") != "admin,clerk" || out.Users[1].Password != h {
		t.Fatalf("round trip: %+v", out.Users)
	}
	if bcrypt.CompareHashAndPassword([]byte(out.Find("bob").Password), []byte(clear)) != nil {
		t.Fatal("hash does not verify")
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
	if !out.Remove("alice") || out.Remove("alice") || out.Find("alice") != nil {
		t.Fatal("Remove")
	}
}

func TestParseUsers(t *testing.T) {
	h, _ := HashPasswordCost("pw", bcrypt.MinCost)
	tests := []struct {
		name    string
		yaml    string
		users   int
		wantErr string
	}{
		{"empty", "", 0, ""},
		{"comment only", "# nothing\n", 0, ""},
		{"mapping", "users:\n  - name: a\n    password: '" + h + "'\n    roles: [r]\n", 1, ""},
		{"bare list", "- name: a\n  password: '" + h + "'\n  roles: [r]\n- name: b\n  password: '" + h + "'\n", 2, ""},
		{"clear password", "users:\n  - name: a\n    password: hunter2\n", 0, "not a bcrypt hash"},
		{"unknown key", "users:\n  - name: a\n    password: '" + h + "'\n    max-conections: 3\n", 0, "max-conections"},
		{"duplicate", "- name: a\n  password: '" + h + "'\n- name: a\n  password: '" + h + "'\n", 0, "twice"},
		{"no name", "- password: '" + h + "'\n", 0, "empty user name"},
		{"bad limit", "- name: a\n  password: '" + h + "'\n  max-connections: -2\n", 0, "max-connections"},
		{"scalar", "hello", 0, "parse"},
		{"garbage", "users: [", 0, "parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uf, err := ParseUsers([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatal("error repeats the clear password")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(uf.Users) != tc.users {
				t.Fatalf("%d users, want %d", len(uf.Users), tc.users)
			}
		})
	}
}

func TestLoadUsersMissing(t *testing.T) {
	_, err := LoadUsers(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	if _, err := HashPasswordCost("", bcrypt.MinCost); err == nil {
		t.Fatal("empty password hashed")
	}
	if _, err := HashPasswordCost(strings.Repeat("x", 73), bcrypt.MinCost); err == nil {
		t.Fatal("73-byte password accepted (bcrypt ignores bytes past 72)")
	}
}

func FuzzParseUsers(f *testing.F) {
	h, _ := HashPasswordCost("pw", bcrypt.MinCost)
	f.Add([]byte("users:\n  - name: a\n    password: '" + h + "'\n    roles: [r]\n    max-connections: 2\n"))
	f.Add([]byte("- name: a\n  password: '" + h + "'\n"))
	f.Add([]byte(""))
	f.Add([]byte("users: {a: b}"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		uf, err := ParseUsers(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a save/parse round trip.
		out, err := uf.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseUsers(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if len(again.Users) != len(uf.Users) {
			t.Fatalf("%d users became %d", len(uf.Users), len(again.Users))
		}
	})
}
