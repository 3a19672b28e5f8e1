package security

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const exampleConfig = `
security:
  users-file: users.yaml
  anonymous: false
  anonymous-role: guest
  max-connections-per-user: 0
  cert-users: {"CN=device-7,O=Acme": device7}
  permissions:
    "orders.#":
      send: [clerk, admin]
      consume: [clerk, admin]
      createNonDurableQueue: [clerk, admin]
    "#":
      send: [admin]
      consume: [admin]
      createDurableQueue: [admin]
      createNonDurableQueue: [admin]
      createAddress: [admin]
      browse: [admin]
      manage: [admin]
`

func TestConfigYAMLShape(t *testing.T) {
	var doc struct {
		Security Config `yaml:"security"`
	}
	dec := yaml.NewDecoder(strings.NewReader(exampleConfig))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Security
	if c.UsersFile != "users.yaml" || c.Anonymous == nil || *c.Anonymous || c.AnonymousRole != "guest" || c.CertUsers["CN=device-7,O=Acme"] != "device7" {
		t.Fatalf("decoded %+v", c)
	}
	if got := c.Permissions["orders.#"]["createNonDurableQueue"]; strings.Join(got, ",") != "clerk,admin" {
		t.Fatalf("permissions %v", c.Permissions)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.AnonymousAllowed() {
		t.Fatal("anonymous allowed")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"empty", Config{}, ""},
		{"anonymous off without users", Config{Anonymous: boolp(false)}, "needs a users-file"},
		{"cert users without users", Config{CertUsers: map[string]string{"CN=x": "x"}}, "cert-users needs a users-file"},
		{"negative limit", Config{MaxConnectionsPerUser: -1}, "max-connections-per-user"},
		{"unknown action", Config{Permissions: map[string]map[string][]string{"#": {"sned": {"a"}}}}, `unknown permission "sned"`},
		{"action case-insensitive", Config{Permissions: map[string]map[string][]string{"#": {"CreateDurableQueue": {"a"}}}}, ""},
		{"empty pattern", Config{Permissions: map[string]map[string][]string{"": {"send": {"a"}}}}, "empty pattern"},
		{"empty word", Config{Permissions: map[string]map[string][]string{"a..b": {"send": {"a"}}}}, "empty word"},
		{"alias duplicate", Config{Permissions: map[string]map[string][]string{"a.#": {"send": {"a"}}, "a.>": {"send": {"b"}}}}, "same pattern"},
		{"empty role", Config{Permissions: map[string]map[string][]string{"#": {"send": {""}}}}, "empty role"},
		{"cert dup", Config{UsersFile: "u", CertUsers: map[string]string{"CN=a,O=b": "x", "cn=a, O=b": "y"}}, "same certificate"},
		{"bad anon role", Config{AnonymousRole: " x"}, "spaces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
			if _, nerr := New(tc.cfg, t.TempDir(), nil); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestNewMissingUsersFile(t *testing.T) {
	_, err := New(Config{UsersFile: "nope.yaml"}, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "junction user add") {
		t.Fatalf("got %v", err)
	}
}

func TestAnonymousDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, true},
		{Config{Anonymous: boolp(true)}, true},
		{Config{UsersFile: "u"}, false},
		{Config{UsersFile: "u", Anonymous: boolp(true)}, true},
		{Config{UsersFile: "u", Anonymous: boolp(false)}, false},
	} {
		if got := tc.cfg.AnonymousAllowed(); got != tc.want {
			t.Errorf("%+v: AnonymousAllowed = %v", tc.cfg, got)
		}
	}
}

func TestNormalizeDN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CN=device-7,O=Acme", "CN=device-7,O=Acme"},
		{"cn=device-7, o=Acme", "CN=device-7,O=Acme"},
		{" device-7 ", "device-7"},
		{`CN=a\, b,O=x`, `CN=a\, b,O=x`},
		{"CN=a+UID=1,O=x", "CN=a+UID=1,O=x"},
	} {
		if got := normalizeDN(tc.in); got != tc.want {
			t.Errorf("normalizeDN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestActionNames(t *testing.T) {
	want := "send consume browse createAddress deleteAddress createDurableQueue deleteDurableQueue createNonDurableQueue deleteNonDurableQueue manage"
	var got []string
	for _, a := range Actions() {
		got = append(got, a.String())
		if p, err := ParseAction(a.String()); err != nil || p != a {
			t.Errorf("ParseAction(%q) = %v, %v", a, p, err)
		}
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("names %v", got)
	}
	if Action(99).Valid() || Action(99).String() != "Action(99)" {
		t.Fatal("invalid action")
	}
}
