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
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/security"
)

// Off disables a listener.
const Off = "off"

// Default listener addresses: the protocols' standard ports, loopback only.
const (
	DefaultSTOMP    = "127.0.0.1:61613"
	DefaultWS       = "127.0.0.1:61614"
	DefaultMQTT     = "127.0.0.1:1883"
	DefaultMQTTTLS  = "127.0.0.1:8883"
	DefaultSTOMPTLS = "127.0.0.1:61612"
	DefaultWSS      = "127.0.0.1:61615"
)

// Config is the whole configuration file.
type Config struct {
	// Data is the journal's folder (default ./data).
	Data      string    `yaml:"data"`
	Listeners Listeners `yaml:"listeners"`
	// TLS is the certificate used by the TLS listeners.
	TLS   *security.TLSConfig `yaml:"tls"`
	Store Store               `yaml:"store"`
	// AddressSettings are keyed by address pattern, with Artemis' key names.
	AddressSettings map[string]*core.AddressSettings `yaml:"address-settings"`
	Security        security.Config                  `yaml:"security"`
	Log             Log                              `yaml:"log"`
	// MaxMessageSize bounds one message (default 100 MiB).
	MaxMessageSize core.ByteSize `yaml:"max-message-size"`

	// Dir is the folder of the configuration file; relative paths in it are
	// relative to this folder. Empty when there is no file.
	Dir string `yaml:"-"`
}

// Listeners are host:port addresses, or "off".
type Listeners struct {
	STOMP    string `yaml:"stomp"`
	STOMPTLS string `yaml:"stomp-tls"`
	WS       string `yaml:"ws"`
	WSS      string `yaml:"wss"`
	MQTT     string `yaml:"mqtt"`
	MQTTTLS  string `yaml:"mqtt-tls"`
}

// Store selects and tunes the message store.
type Store struct {
	// Type is journal (default) or memory.
	Type string `yaml:"type"`
	// Sync is always, batch (default) or never.
	Sync string `yaml:"sync"`
	// SegmentSize is the journal's file size (default 32 MiB).
	SegmentSize core.ByteSize `yaml:"segment-size"`
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

// ApplyDefaults fills what neither the file nor the flags set. TLS listeners
// default to their conventional ports only when a certificate is configured.
func (c *Config) ApplyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Data, "data")
	def(&c.Listeners.STOMP, DefaultSTOMP)
	def(&c.Listeners.WS, DefaultWS)
	def(&c.Listeners.MQTT, DefaultMQTT)
	if c.TLS != nil && c.TLS.CertFile != "" {
		def(&c.Listeners.MQTTTLS, DefaultMQTTTLS)
		def(&c.Listeners.STOMPTLS, DefaultSTOMPTLS)
		def(&c.Listeners.WSS, DefaultWSS)
	}
	def(&c.Listeners.MQTTTLS, Off)
	def(&c.Listeners.STOMPTLS, Off)
	def(&c.Listeners.WSS, Off)
	def(&c.Store.Type, "journal")
	def(&c.Store.Sync, "batch")
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "text")
	if c.Dir != "" && !filepath.IsAbs(c.Data) {
		c.Data = filepath.Join(c.Dir, c.Data)
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
	for name, addr := range c.listenerMap() {
		if addr == Off || addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %q is not host:port or off", name, addr))
		}
		if strings.HasSuffix(name, "-tls") || name == "wss" {
			if c.TLS == nil || c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
				errs = append(errs, fmt.Errorf("listener %s needs tls.cert-file and tls.key-file", name))
			}
		}
	}
	switch c.Store.Type {
	case "journal", "memory":
	default:
		errs = append(errs, fmt.Errorf("store.type %q: want journal or memory", c.Store.Type))
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

func (c *Config) listenerMap() map[string]string {
	return map[string]string{
		"stomp": c.Listeners.STOMP, "stomp-tls": c.Listeners.STOMPTLS,
		"ws": c.Listeners.WS, "wss": c.Listeners.WSS,
		"mqtt": c.Listeners.MQTT, "mqtt-tls": c.Listeners.MQTTTLS,
	}
}
