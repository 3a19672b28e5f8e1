package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TLSConfig is a listener's TLS section.
type TLSConfig struct {
	CertFile     string `yaml:"cert-file,omitempty" json:"cert-file,omitempty"`
	KeyFile      string `yaml:"key-file,omitempty" json:"key-file,omitempty"`
	ClientCAFile string `yaml:"client-ca-file,omitempty" json:"client-ca-file,omitempty"`
	// ClientAuth is none, request (verify a certificate if the client sends
	// one) or require. Empty means request when ClientCAFile is set, none
	// otherwise.
	ClientAuth string `yaml:"client-auth,omitempty" json:"client-auth,omitempty"`
}

// Client authentication modes of TLSConfig.ClientAuth.
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// Enabled reports whether TLS is configured at all.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Resolve returns c with relative file names taken relative to baseDir,
// the configuration file's folder.
func (c TLSConfig) Resolve(baseDir string) TLSConfig {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || baseDir == "" {
			return p
		}
		return filepath.Join(baseDir, p)
	}
	c.CertFile, c.KeyFile, c.ClientCAFile = abs(c.CertFile), abs(c.KeyFile), abs(c.ClientCAFile)
	return c
}

// Validate checks c without reading the files.
func (c TLSConfig) Validate() error {
	var errs []error
	if c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("tls: cert-file and key-file are both required"))
	}
	switch strings.ToLower(c.ClientAuth) {
	case "", ClientAuthNone:
	case ClientAuthRequest, ClientAuthRequire:
		// Without a CA nothing could be verified, and an unverified
		// certificate must never identify a user.
		if c.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("tls: client-auth %s needs client-ca-file", c.ClientAuth))
		}
	default:
		errs = append(errs, fmt.Errorf("tls: client-auth %q is not none, request or require", c.ClientAuth))
	}
	return errors.Join(errs...)
}

// modernCipherSuites are the TLS 1.2 suites offered: forward secret AEADs
// only. TLS 1.3 suites are not configurable and all fine.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Build loads the certificates and returns a server-side *tls.Config:
// TLS 1.2 minimum, forward-secret AEAD suites, and client certificates
// verified against ClientCAFile when one is configured. Certificates verified
// this way appear in ConnectionState.VerifiedChains, which is what
// Authenticate's cert-users mapping reads.
func (c TLSConfig) Build() (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s / %s: %w", c.CertFile, c.KeyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: modernCipherSuites,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.NoClientCert,
	}
	mode := strings.ToLower(c.ClientAuth)
	if c.ClientCAFile != "" && mode != ClientAuthNone {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client-ca-file %s holds no PEM certificate", c.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if mode == ClientAuthRequire {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
