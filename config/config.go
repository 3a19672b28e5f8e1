// Package config reads `junction serve`'s YAML configuration file. Command-line
// flags override what the file says; with neither, every listener is on
// 127.0.0.1 at its protocol's standard port and the journal lives in ./data.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/internal/memlimit"
	"github.com/junctionmq/junction/security"
)

// Off disables a listener.
const Off = "off"

// DefaultMaxMessageSize is max-message-size when none is configured; every
// protocol adapter and the core get the same limit.
const DefaultMaxMessageSize = 100 << 20

// DefaultGlobalMaxSize is global-max-size when none is configured: half
// the memory of the machine or of its container (cgroup), whichever is
// less, as Artemis does with the JVM's heap; -1 (unlimited) when neither
// can be read.
func DefaultGlobalMaxSize() int64 {
	if total := memlimit.Total(); total > 0 {
		return total / 2
	}
	return -1
}

// Config is the whole configuration file.
type Config struct {
	// Data is the journal's folder (default ./data).
	Data      string    `yaml:"data"`
	Listeners Listeners `yaml:"listeners"`
	// TLS is the certificate used by the TLS listeners.
	TLS   *security.TLSConfig `yaml:"tls"`
	Store Store               `yaml:"store"`
	// HA is shared-store high availability (store type postgres).
	HA HA `yaml:"ha"`
	// AddressSettings are keyed by address pattern, with Artemis' key names.
	AddressSettings map[string]*core.AddressSettings `yaml:"address-settings"`
	Security        security.Config                  `yaml:"security"`
	Log             Log                              `yaml:"log"`
	// MaxMessageSize bounds one message (default 100 MiB).
	MaxMessageSize core.ByteSize `yaml:"max-message-size"`
	// MQTT tunes the MQTT adapter.
	MQTT MQTT `yaml:"mqtt"`
	// AMQP tunes the AMQP 1.0 adapter.
	AMQP AMQP `yaml:"amqp"`
	// MaxAddresses and MaxQueues cap how many addresses and queues clients
	// can make the broker create (default 100,000 each; -1: unlimited).
	MaxAddresses int `yaml:"max-addresses"`
	MaxQueues    int `yaml:"max-queues"`
	// GlobalMaxSize is the memory budget for messages held by all addresses
	// together (Artemis' global-max-size). Default: half the memory limit of
	// the machine or its container (cgroup); -1: unlimited.
	GlobalMaxSize core.ByteSize `yaml:"global-max-size"`
	// MaxQueuedMessages and MaxQueuedBytes bound each MQTT subscription's
	// queue and each STOMP non-durable topic subscription's (Mosquitto's
	// max_queued_messages and max_queued_bytes; default 1000 and 256 KiB;
	// -1: unlimited).
	MaxQueuedMessages int           `yaml:"max-queued-messages"`
	MaxQueuedBytes    core.ByteSize `yaml:"max-queued-bytes"`
	// SlowConsumerTimeout closes a consumer whose queue stays at its limit
	// that long (MQTT: DISCONNECT 0x97); its durable state stays (default
	// 30s; -1s: never).
	SlowConsumerTimeout time.Duration `yaml:"slow-consumer-timeout"`
	// Plugins are loaded in this order from those compiled into the binary
	// (docs/PLUGINS.md).
	Plugins []Plugin `yaml:"plugins"`

	// Dir is the folder of the configuration file; relative paths in it are
	// relative to this folder. Empty when there is no file.
	Dir string `yaml:"-"`
}

// Listeners are listen addresses ("host:port", or "off") keyed by listener
// name: the protocol adapters' listeners (stomp, stomp-tls, mqtt, mqtt-tls,
// ...) and the shared WebSocket ones (ws, wss). The names, their defaults
// and which need TLS come from the adapters' registrations, which the
// server holds; a listener not named here takes its default there.
type Listeners map[string]string

// Set sets the address of a listener, making the map if needed.
func (l *Listeners) Set(name, addr string) {
	if *l == nil {
		*l = Listeners{}
	}
	(*l)[name] = addr
}

// CheckListenAddr reports whether addr is "off" or a host:port with a
// numeric port, which is all that can be checked without binding.
func CheckListenAddr(addr string) error {
	if addr == Off {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port or off", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// Store selects and tunes the message store.
type Store struct {
	// Type is journal (default), memory or postgres.
	Type string `yaml:"type"`
	// URL is the PostgreSQL database of store type postgres, as a URL
	// (postgres://user@host:5432/db?sslmode=require) or a libpq key=value
	// string; libpq's environment (PGPASSWORD, PGSSLMODE, ~/.pgpass) fills
	// what it leaves out.
	URL string `yaml:"url"`
	// URLFile names a file holding the URL instead (a mounted secret, so
	// that the password is in neither the configuration nor the
	// environment); relative to the configuration's folder.
	URLFile string `yaml:"url-file"`
	// Sync is always, batch (default) or never (the journal's).
	Sync string `yaml:"sync"`
	// SegmentSize is the journal's file size (default 32 MiB).
	SegmentSize core.ByteSize `yaml:"segment-size"`
}

// DatabaseURL is store.url, or the content of store.url-file without its
// surrounding white space.
func (s Store) DatabaseURL() (string, error) {
	if s.URLFile == "" {
		return s.URL, nil
	}
	b, err := os.ReadFile(s.URLFile)
	if err != nil {
		return "", fmt.Errorf("store.url-file: %w", err)
	}
	u := strings.TrimSpace(string(b))
	if u == "" {
		return "", fmt.Errorf("store.url-file %s is empty", s.URLFile)
	}
	return u, nil
}

// HARoleLiveOrBackup is the one HA role: serve when holding the store's
// lock, wait for it otherwise.
const HARoleLiveOrBackup = "live-or-backup"

// HA configures shared-store high availability.
type HA struct {
	// Role is empty (no HA: a second broker on the same store is refused)
	// or live-or-backup: brokers on one PostgreSQL store take turns, the
	// one holding the store lock serving and the others waiting with their
	// listeners closed.
	Role string `yaml:"role"`
}

// MQTT is the MQTT adapter's own section.
type MQTT struct {
	// MaxKeepAlive caps the keep-alive a client may ask for ("60s"; 0, the
	// default, is no cap). A 5.0 client asking for more, or for none, is
	// given this one in CONNACK (Server Keep Alive) and held to it; a 3.x
	// client asking for more is refused, as 3.x cannot be told.
	MaxKeepAlive time.Duration `yaml:"max-keep-alive"`
}

// AMQP is the AMQP 1.0 adapter's own section: the limits the broker
// announces in its open, begin and attach frames. Zero (or absent) takes
// the default.
type AMQP struct {
	// MaxFrameSize is the largest frame the broker reads, announced as the
	// open's max-frame-size (default 128KiB; 512B to 16MiB).
	MaxFrameSize core.ByteSize `yaml:"max-frame-size"`
	// ChannelMax is the highest channel (session) number a client may use
	// (default 2047; 1 to 65535).
	ChannelMax int `yaml:"channel-max"`
	// HandleMax is the highest link handle a client may use on a session
	// (default 1023; 1 to 65535).
	HandleMax int `yaml:"handle-max"`
	// IdleTimeout is announced as the open's idle-time-out: a client
	// silent this long is closed (default 60s; whole milliseconds from 1s
	// to 1h).
	IdleTimeout time.Duration `yaml:"idle-timeout"`
	// LinkCredit is the credit each of a client's sending links gets, and
	// gets again once half is used (default 500; 1 to 65535).
	LinkCredit int `yaml:"link-credit"`
	// SessionWindow is each session's incoming window in transfer frames
	// (default 2048; 1 to 65535).
	SessionWindow int `yaml:"session-window"`
}

// validate reports every out-of-range AMQP limit.
func (a *AMQP) validate() []error {
	var errs []error
	if s := a.MaxFrameSize; s != 0 && (s < 512 || s > 16<<20) {
		errs = append(errs, fmt.Errorf("amqp.max-frame-size %d: want 512B to 16MiB (AMQP's floor is 512 bytes)", s))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"channel-max", a.ChannelMax}, {"handle-max", a.HandleMax}, {"link-credit", a.LinkCredit}, {"session-window", a.SessionWindow}} {
		if f.v < 0 || f.v > 65535 {
			errs = append(errs, fmt.Errorf("amqp.%s %d: want 1 to 65535, or 0 for the default", f.name, f.v))
		}
	}
	if d := a.IdleTimeout; d != 0 && (d < time.Second || d > time.Hour || d%time.Millisecond != 0) {
		errs = append(errs, fmt.Errorf("amqp.idle-timeout %v: want whole milliseconds from 1s to 1h, or 0 for the default", d))
	}
	return errs
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Load reads a configuration file. An empty path returns the defaults.
func Load(path string) (*Config, error) {
	c := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				if msgs := unknownKeyErrors(path, data); len(msgs) > 0 {
					return nil, errors.New(strings.Join(msgs, "\n"))
				}
			}
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		c.Dir = filepath.Dir(abs)
	}
	return c, nil
}

// unknownKeyErrors names the keys of data that Config has no place for.
func unknownKeyErrors(path string, data []byte) []string {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil
	}
	return unknownKeys(path, &root, reflect.TypeFor[Config]())
}

// ApplyDefaults fills what neither the file nor the flags set. Listener
// defaults are the server's (see server.PlanListeners): they belong to the
// adapters.
func (c *Config) ApplyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Data, "data")
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.GlobalMaxSize == 0 {
		c.GlobalMaxSize = core.ByteSize(DefaultGlobalMaxSize())
	}
	def(&c.Store.Type, "journal")
	def(&c.Store.Sync, "batch")
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "text")
	if c.Dir != "" && !filepath.IsAbs(c.Data) {
		c.Data = filepath.Join(c.Dir, c.Data)
	}
	if c.Store.URLFile != "" && c.Dir != "" && !filepath.IsAbs(c.Store.URLFile) {
		c.Store.URLFile = filepath.Join(c.Dir, c.Store.URLFile)
	}
	if c.TLS != nil && c.Dir != "" {
		for _, p := range []*string{&c.TLS.CertFile, &c.TLS.KeyFile, &c.TLS.ClientCAFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(c.Dir, *p)
			}
		}
	}
}

// Validate checks the whole configuration and reports every problem found.
func (c *Config) Validate() error {
	var errs []error
	names := make([]string, 0, len(c.Listeners))
	for name := range c.Listeners {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := CheckListenAddr(c.Listeners[name]); err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
		}
	}
	if err := validatePlugins(c.Plugins); err != nil {
		errs = append(errs, err)
	}
	if c.MaxMessageSize < 0 {
		// -1 is "unlimited" for other sizes; a message always has a limit.
		errs = append(errs, fmt.Errorf("max-message-size %d: a message size cannot be unlimited; give a size such as 100MiB", c.MaxMessageSize))
	}
	if k := c.MQTT.MaxKeepAlive; k < 0 || k > 65535*time.Second || (k > 0 && k%time.Second != 0) {
		errs = append(errs, fmt.Errorf("mqtt.max-keep-alive %v: want whole seconds from 1s to 65535s, or 0 for no cap", k))
	}
	errs = append(errs, c.AMQP.validate()...)
	if c.MaxAddresses < -1 || c.MaxQueues < -1 {
		errs = append(errs, fmt.Errorf("max-addresses %d, max-queues %d: want a positive number, or -1 for unlimited", c.MaxAddresses, c.MaxQueues))
	}
	switch c.Store.Type {
	case "journal", "memory":
		if c.Store.URL != "" || c.Store.URLFile != "" {
			errs = append(errs, fmt.Errorf("store.url and store.url-file are for store.type postgres, not %s", c.Store.Type))
		}
	case "postgres":
		switch {
		case c.Store.URL == "" && c.Store.URLFile == "":
			errs = append(errs, errors.New("store.type postgres needs store.url (postgres://user@host:5432/database) or store.url-file"))
		case c.Store.URL != "" && c.Store.URLFile != "":
			errs = append(errs, errors.New("store.url and store.url-file: give one"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.type %q: want journal, memory or postgres", c.Store.Type))
	}
	switch c.HA.Role {
	case "":
	case HARoleLiveOrBackup:
		if c.Store.Type != "postgres" {
			errs = append(errs, fmt.Errorf("ha.role %s needs a shared store: store.type postgres, not %s", c.HA.Role, c.Store.Type))
		}
	default:
		errs = append(errs, fmt.Errorf("ha.role %q: want %s (or leave it out)", c.HA.Role, HARoleLiveOrBackup))
	}
	switch c.Store.Sync {
	case "always", "batch", "never":
	default:
		errs = append(errs, fmt.Errorf("store.sync %q: want always, batch or never", c.Store.Sync))
	}
	for p, s := range c.AddressSettings {
		if s == nil {
			continue
		}
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("address-settings %q: %w", p, err))
		}
		if s.AddressFullPolicy != nil && strings.EqualFold(*s.AddressFullPolicy, "PAGE") && c.Store.Type == "memory" {
			// The memory store would keep the paged messages in memory:
			// PAGE would bound nothing.
			errs = append(errs, fmt.Errorf("address-settings %q: address-full-policy PAGE keeps messages in the store, and store.type memory is memory: use the journal or postgres, or BLOCK, FAIL or DROP", p))
		}
	}
	if err := c.Security.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	return errors.Join(errs...)
}
