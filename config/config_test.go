package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/core"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFullFile(t *testing.T) {
	p := write(t, `
data: state
listeners:
  stomp: 0.0.0.0:61613
  mqtt: off
store:
  sync: always
  segment-size: 8MiB
max-message-size: 1048576
address-settings:
  "orders.#":
    max-delivery-attempts: 3
    redelivery-delay: 1000
    max-size-bytes: 10MB
    address-full-policy: FAIL
security:
  anonymous: true
  permissions:
    "#":
      send: [admin]
log:
  level: debug
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "state"); c.Data != want {
		t.Errorf("data = %q, want %q (relative to the file)", c.Data, want)
	}
	// Unquoted off is the string "off" (YAML 1.2), not false; listeners
	// left out stay out, for the server to default.
	if want := (Listeners{"stomp": "0.0.0.0:61613", "mqtt": Off}); !maps.Equal(c.Listeners, want) {
		t.Errorf("listeners = %v, want %v", c.Listeners, want)
	}
	if c.Store.SegmentSize != 8<<20 || c.MaxMessageSize != 1<<20 {
		t.Errorf("sizes: segment %d, max message %d", c.Store.SegmentSize, c.MaxMessageSize)
	}
	s := c.AddressSettings["orders.#"]
	if s == nil || *s.MaxDeliveryAttempts != 3 || int64(*s.MaxSizeBytes) != 10<<20 || *s.AddressFullPolicy != "FAIL" {
		t.Fatalf("address settings = %+v", s)
	}
	repo, err := core.NewSettingsRepository(c.AddressSettings)
	if err != nil {
		t.Fatal(err)
	}
	if got := repo.Resolve("orders.eu"); got.MaxDeliveryAttempts != 3 || got.FullPolicy != core.FullFail || got.DeadLetterAddress != "DLQ" {
		t.Errorf("resolved = %+v", got)
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 0 || c.Store.Type != "journal" || c.Data != "data" || c.MaxMessageSize != DefaultMaxMessageSize {
		t.Errorf("defaults = %+v", c)
	}
}

func TestTLSPathsRelativeToFile(t *testing.T) {
	p := write(t, "tls:\n  cert-file: a.crt\n  key-file: a.key\n")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if !filepath.IsAbs(c.TLS.CertFile) {
		t.Errorf("cert path %q not resolved against the file's folder", c.TLS.CertFile)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown key", "listenerz:\n  stomp: x\n", "listenerz"},
		{"bad listener", "listeners:\n  stomp: nonsense\n", "listener stomp: \"nonsense\" is not host:port or off"},
		{"bad port", "listeners:\n  mqtt: 127.0.0.1:99999\n", "port \"99999\" is not a number"},
		{"named port", "listeners:\n  amqp: localhost:amqp\n", "port \"amqp\" is not a number"},
		{"empty listener", "listeners:\n  ws: \"\"\n", "listener ws: \"\" is not host:port"},
		{"listeners not a map", "listeners: 127.0.0.1:61613\n", "cannot unmarshal"},
		{"unlimited message size", "max-message-size: -1\n", "max-message-size -1: a message size cannot be unlimited"},
		{"bad store", "store:\n  type: floppy\n", "store.type"},
		{"bad sync", "store:\n  sync: sometimes\n", "store.sync"},
		{"postgres without url", "store:\n  type: postgres\n", "store.type postgres needs store.url"},
		{"url without postgres", "store:\n  url: postgres://h/db\n", "store.url and store.url-file are for store.type postgres"},
		{"ha on the journal", "ha:\n  role: live-or-backup\n", "ha.role live-or-backup needs a shared store"},
		{"bad ha role", "store:\n  type: postgres\n  url: postgres://h/db\nha:\n  role: primary\n", "ha.role \"primary\""},
		{"bad policy", "address-settings:\n  \"#\":\n    address-full-policy: PANIC\n", "address-full-policy"},
		{"PAGE on the memory store", "store:\n  type: memory\naddress-settings:\n  \"#\":\n    address-full-policy: PAGE\n", "PAGE keeps messages in the store, and store.type memory"},
		{"bad routing", "address-settings:\n  \"#\":\n    default-routing-type: BROADCAST\n", "default-routing-type"},
		{"bad size", "max-message-size: lots\n", "invalid byte size"},
		{"bad log level", "log:\n  level: loud\n", "log.level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(write(t, tc.text))
			if err == nil {
				c.ApplyDefaults()
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// An unknown key is named with its line and section, and the section's
// valid keys are listed, instead of yaml.v3's Go type names.
func TestUnknownKeys(t *testing.T) {
	cases := []struct {
		name, file string
		want       []string
	}{
		{"top level", "store:\n  type: journal\nfrobnicate: 1\n",
			[]string{`line 3: unknown key "frobnicate" in the top level; valid keys: address-settings, amqp, data, global-max-size, ha, listeners, log, max-addresses, max-message-size, max-queued-bytes, max-queued-messages, max-queues, mqtt, plugins, security, slow-consumer-timeout, store, tls`}},
		{"nested", "store:\n  syncc: batch\nlog:\n  level: info\n",
			[]string{`line 2: unknown key "syncc" in store; valid keys: segment-size, sync, type`}},
		{"under a map key", "address-settings:\n  \"#\":\n    max-delivery-atempts: 3\n",
			[]string{`line 3: unknown key "max-delivery-atempts" in address-settings "#"; valid keys: address-full-policy,`}},
		{"two at once", "security:\n  userz: x\nlog:\n  colour: red\n",
			[]string{`line 2: unknown key "userz" in security; valid keys: anonymous,`, `line 4: unknown key "colour" in log; valid keys: format, level`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.file)
			_, err := Load(p)
			if err == nil {
				t.Fatal("Load accepted an unknown key")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, p+": "+w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, p+": "+w)
				}
			}
			if strings.Contains(msg, "not found in type") {
				t.Errorf("error still names Go types: %s", msg)
			}
		})
	}
}

func TestMemoryLimitKeys(t *testing.T) {
	c, err := Load(write(t, `
global-max-size: 512MiB
max-addresses: 10
max-queues: -1
max-queued-messages: 50
max-queued-bytes: 64KiB
slow-consumer-timeout: 5s
`))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.GlobalMaxSize != 512<<20 || c.MaxAddresses != 10 || c.MaxQueues != -1 || c.MaxQueuedMessages != 50 ||
		c.MaxQueuedBytes != 64<<10 || c.SlowConsumerTimeout != 5*time.Second {
		t.Errorf("parsed %+v", c)
	}
	d := &Config{}
	d.ApplyDefaults()
	if want := DefaultGlobalMaxSize(); int64(d.GlobalMaxSize) != want || want == 0 {
		t.Errorf("default global-max-size %d, want %d (half the memory there is)", d.GlobalMaxSize, want)
	}
	bad := &Config{MaxQueues: -2}
	bad.ApplyDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "max-queues") {
		t.Errorf("max-queues -2: %v", err)
	}
}

func TestPostgresHAConfig(t *testing.T) {
	c, err := Load(write(t, "store:\n  type: postgres\n  url: postgres://junction@db:5432/junction\nha:\n  role: live-or-backup\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("a postgres store with HA: %v", err)
	}
	if c.Store.URL != "postgres://junction@db:5432/junction" || c.HA.Role != HARoleLiveOrBackup {
		t.Fatalf("read %+v, %+v", c.Store, c.HA)
	}
}

// TestStoreURLFile: the database URL may come from a file (a mounted
// secret), relative to the configuration's folder, trimmed; not both.
func TestStoreURLFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db.url"), []byte("postgres://junction@db:5432/junction\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(cfgPath, []byte("store:\n  type: postgres\n  url-file: db.url\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	u, err := c.Store.DatabaseURL()
	if err != nil || u != "postgres://junction@db:5432/junction" {
		t.Fatalf("DatabaseURL = %q, %v", u, err)
	}
	c.Store.URL = "postgres://x@y/z"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("url and url-file both: %v", err)
	}
	c.Store.URL, c.Store.URLFile = "", filepath.Join(dir, "missing")
	if _, err := c.Store.DatabaseURL(); err == nil {
		t.Error("a missing url-file gave no error")
	}
	c.Store.Type, c.Store.URLFile = "journal", "db.url"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "url-file") {
		t.Errorf("url-file on a journal: %v", err)
	}
}
