package security

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/junctionmq/junction/core/wildcard"
)

// DefaultAnonymousRole is the role an anonymous subject carries when
// anonymous-role is not set.
const DefaultAnonymousRole = "guest"

// UserProperty is the message property adapters stamp with the authenticated
// user name on every message they accept, overwriting whatever the client
// put there so that consumers can trust it (Artemis' populate-validated-user).
const UserProperty = "JMSXUserID"

// Config is the `security:` section of the broker configuration.
//
// Semantics, chosen to be secure without surprising a first-time user:
//
//   - No users-file: nobody can log in with a password, so every client is
//     anonymous (whatever credentials it sends) and anonymous access cannot be
//     switched off. The caller should log a warning (see AnonymousAllowed).
//   - users-file set: anonymous access is off unless `anonymous: true`.
//   - permissions empty: authorization is off — whoever was allowed to
//     connect may do everything. With no users file that is the out-of-the-box
//     broker; with a users file it means "any authenticated user may do
//     everything". (Artemis instead ships a `#` entry granting all roles; we
//     prefer an explicit empty section over a hidden default.)
//   - permissions set: for an address, the most specific matching pattern
//     (wildcard.Compare; a pattern without wildcards, i.e. the exact address,
//     beats every wildcard pattern, as in Artemis) decides alone. A
//     permission missing from that entry is denied even if a less specific
//     pattern grants it (no inheritance), and an address no pattern matches
//     is denied entirely. Wildcard subscriptions: see Manager.Authorize.
type Config struct {
	// UsersFile is the users file, relative to the configuration file's folder.
	UsersFile string `yaml:"users-file,omitempty" json:"users-file,omitempty"`
	// Anonymous enables clients that present no user name. Nil means the
	// default: allowed without a users file, denied with one.
	Anonymous *bool `yaml:"anonymous,omitempty" json:"anonymous,omitempty"`
	// AnonymousRole is the role of anonymous subjects (default "guest").
	AnonymousRole string `yaml:"anonymous-role,omitempty" json:"anonymous-role,omitempty"`
	// MaxConnectionsPerUser bounds each authenticated user's concurrent
	// connections; 0 means unlimited. A user's max-connections in the users
	// file overrides it.
	MaxConnectionsPerUser int `yaml:"max-connections-per-user,omitempty" json:"max-connections-per-user,omitempty"`
	// CertUsers maps a verified TLS client certificate to a user of the users
	// file. A key is either the subject's distinguished name as Go prints it
	// ("CN=device-7,O=Acme"; spaces after commas and the case of attribute
	// names do not matter) or the bare common name ("device-7").
	CertUsers map[string]string `yaml:"cert-users,omitempty" json:"cert-users,omitempty"`
	// Permissions maps an address pattern to, per action, the roles granted it.
	Permissions map[string]map[string][]string `yaml:"permissions,omitempty" json:"permissions,omitempty"`
}

// AnonymousAllowed reports whether c lets clients in without a user name.
func (c Config) AnonymousAllowed() bool {
	if c.Anonymous != nil {
		return *c.Anonymous
	}
	return c.UsersFile == ""
}

// Validate checks c without touching the file system. All problems found are
// reported together.
func (c Config) Validate() error {
	var errs []error
	if c.UsersFile == "" {
		if c.Anonymous != nil && !*c.Anonymous {
			errs = append(errs, errors.New("anonymous: false needs a users-file, otherwise nobody can log in"))
		}
		if len(c.CertUsers) > 0 {
			errs = append(errs, errors.New("cert-users needs a users-file to take the users' roles from"))
		}
	}
	if c.MaxConnectionsPerUser < 0 {
		errs = append(errs, fmt.Errorf("max-connections-per-user must be >= 0 (0 = unlimited), got %d", c.MaxConnectionsPerUser))
	}
	if c.AnonymousRole != "" {
		if err := checkName("anonymous-role", c.AnonymousRole); err != nil {
			errs = append(errs, err)
		}
	}
	certKeys := make(map[string]string, len(c.CertUsers))
	for _, k := range slices.Sorted(mapKeys(c.CertUsers)) {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("cert-users: empty certificate name"))
			continue
		}
		if c.CertUsers[k] == "" {
			errs = append(errs, fmt.Errorf("cert-users %q: empty user name", k))
		}
		n := normalizeDN(k)
		if prev, dup := certKeys[n]; dup {
			errs = append(errs, fmt.Errorf("cert-users: %q and %q name the same certificate", prev, k))
		}
		certKeys[n] = k
	}
	seen := make(map[string]string, len(c.Permissions))
	for _, p := range slices.Sorted(mapKeys(c.Permissions)) {
		if err := checkPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("permissions %q: %w", p, err))
			continue
		}
		n := wildcard.Normalize(p)
		if prev, dup := seen[n]; dup {
			errs = append(errs, fmt.Errorf("permissions: %q and %q are the same pattern", prev, p))
		}
		seen[n] = p
		for _, a := range slices.Sorted(mapKeys(c.Permissions[p])) {
			if _, err := ParseAction(a); err != nil {
				errs = append(errs, fmt.Errorf("permissions %q: %w", p, err))
			}
			for _, r := range c.Permissions[p][a] {
				if err := checkName("role", r); err != nil {
					errs = append(errs, fmt.Errorf("permissions %q %s: %w", p, a, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// UsersFilePath resolves UsersFile against baseDir, the configuration file's
// folder; it returns "" when no users file is configured.
func (c Config) UsersFilePath(baseDir string) string {
	if c.UsersFile == "" {
		return ""
	}
	if filepath.IsAbs(c.UsersFile) || baseDir == "" {
		return filepath.Clean(c.UsersFile)
	}
	return filepath.Join(baseDir, c.UsersFile)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkPattern rejects patterns that could never match an address: empty
// ones and ones with empty words ("a..b", ".a").
func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	for w := range strings.SplitSeq(p, ".") {
		if w == "" {
			return errors.New("empty word in pattern")
		}
	}
	return nil
}

// checkName accepts user and role names: non-empty, at most 256 bytes,
// printable, no surrounding spaces (they would be invisible in a YAML list).
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s name", what)
	case len(s) > 256:
		return fmt.Errorf("%s name longer than 256 bytes", what)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s name %q has leading or trailing spaces", what, s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s name %q contains a non-printable character", what, s)
		}
	}
	return nil
}

// normalizeDN gives a distinguished name (or bare CN) one canonical
// spelling: attribute types upper-cased, blanks around separators removed.
// Escaped separators (`\,`) are kept as they are.
func normalizeDN(s string) string {
	var b strings.Builder
	var rdns []string
	esc := false
	for _, r := range s {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\':
			b.WriteRune(r)
			esc = true
		case r == ',' || r == '+':
			rdns = append(rdns, strings.TrimSpace(b.String()), string(r))
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	rdns = append(rdns, strings.TrimSpace(b.String()))
	for i := 0; i < len(rdns); i += 2 {
		typ, val, ok := strings.Cut(rdns[i], "=")
		if ok {
			rdns[i] = strings.ToUpper(strings.TrimSpace(typ)) + "=" + strings.TrimSpace(val)
		}
	}
	return strings.Join(rdns, "")
}
