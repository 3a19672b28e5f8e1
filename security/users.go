package security

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// User is one entry of the users file. Password holds a bcrypt hash, never a
// clear-text password: loading a file whose password is not a bcrypt hash
// fails.
type User struct {
	Name     string   `yaml:"name" json:"name"`
	Password string   `yaml:"password" json:"-"`
	Roles    []string `yaml:"roles,flow" json:"roles"`
	// MaxConnections overrides max-connections-per-user for this user:
	// 0 = use the global setting, -1 = unlimited, n > 0 = at most n.
	MaxConnections int `yaml:"max-connections,omitempty" json:"max-connections,omitempty"`
	// SASKey is the user's shared access key for Azure Service Bus style
	// SAS tokens (AMQP $cbs put-token; docs/AMQP.md). Unlike the password
	// it is stored as given, because checking a token's HMAC needs the key
	// itself: it is a secret like a TLS private key, and the users file is
	// kept mode 0600. The token's key name (skn) is the user name.
	SASKey string `yaml:"sas-key,omitempty" json:"-"`
}

// UsersFile is the content of the users file:
//
//	users:
//	  - name: alice
//	    password: $2a$10$...
//	    roles: [admin]
//	    max-connections: 10
//
// A file that is just the list (without the `users:` key) is read as well.
type UsersFile struct {
	Users []User `yaml:"users" json:"users"`
}

// MaxUsersFileSize bounds what ParseUsers and LoadUsers read, so that a
// wrong path (say, a journal file) fails fast instead of eating memory.
const MaxUsersFileSize = 64 << 20

// LoadUsers reads and validates a users file. A missing file yields an
// error matching fs.ErrNotExist.
func LoadUsers(path string) (*UsersFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUsersFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	uf, err := ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return uf, nil
}

// ParseUsers decodes and validates the YAML of a users file. Unknown keys
// are errors, so a misspelt `max-conections` does not silently vanish.
func ParseUsers(data []byte) (*UsersFile, error) {
	if len(data) > MaxUsersFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxUsersFileSize)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	uf := &UsersFile{}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return uf, nil // empty file: no users yet
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var err error
	if root.Content[0].Kind == yaml.SequenceNode {
		err = dec.Decode(&uf.Users)
	} else {
		err = dec.Decode(uf)
	}
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := uf.Validate(); err != nil {
		return nil, err
	}
	return uf, nil
}

// Validate checks names, hashes, roles and limits; all problems are
// reported together.
func (f *UsersFile) Validate() error {
	var errs []error
	seen := make(map[string]bool, len(f.Users))
	for i, u := range f.Users {
		if err := checkName("user", u.Name); err != nil {
			errs = append(errs, fmt.Errorf("user #%d: %w", i+1, err))
			continue
		}
		if seen[u.Name] {
			errs = append(errs, fmt.Errorf("user %q appears twice", u.Name))
		}
		seen[u.Name] = true
		// The message deliberately leaves the value out: if someone wrote a
		// clear-text password here it must not end up in a log.
		if _, err := bcrypt.Cost([]byte(u.Password)); err != nil {
			errs = append(errs, fmt.Errorf("user %q: password is not a bcrypt hash (set it with `junction user passwd`)", u.Name))
		}
		for _, r := range u.Roles {
			if err := checkName("role", r); err != nil {
				errs = append(errs, fmt.Errorf("user %q: %w", u.Name, err))
			}
		}
		if u.SASKey != "" && len(u.SASKey) < MinSASKeyLen {
			errs = append(errs, fmt.Errorf("user %q: sas-key must be at least %d characters (generate one with `openssl rand -base64 32`)", u.Name, MinSASKeyLen))
		}
		if u.MaxConnections < -1 {
			errs = append(errs, fmt.Errorf("user %q: max-connections must be -1 (unlimited), 0 (global default) or positive", u.Name))
		}
	}
	return errors.Join(errs...)
}

// Find returns the named user, or nil.
func (f *UsersFile) Find(name string) *User {
	for i := range f.Users {
		if f.Users[i].Name == name {
			return &f.Users[i]
		}
	}
	return nil
}

// Remove deletes the named user and reports whether it was there.
func (f *UsersFile) Remove(name string) bool {
	n := len(f.Users)
	f.Users = slices.DeleteFunc(f.Users, func(u User) bool { return u.Name == name })
	return len(f.Users) != n
}

// Marshal encodes f as YAML.
func (f *UsersFile) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Junction users file. Passwords are bcrypt hashes; edit with `junction user`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save validates f and writes it to path atomically: a temporary file in the
// same folder, mode 0600, synced, then renamed over path. A broker reading
// the file concurrently sees either the old or the new content.
func (f *UsersFile) Save(path string) error {
	if err := f.Validate(); err != nil {
		return err
	}
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("users file %s: encode: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600, but be explicit: this file holds hashes.
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Make the rename itself durable; failure here is not worth reporting on
	// file systems that cannot sync directories.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// HashPassword returns the bcrypt hash of password at bcrypt's default cost.
func HashPassword(password string) (string, error) {
	return HashPasswordCost(password, bcrypt.DefaultCost)
}

// HashPasswordCost is HashPassword with an explicit bcrypt cost (tests use
// bcrypt.MinCost to stay fast).
func HashPasswordCost(password string, cost int) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
