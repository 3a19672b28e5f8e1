package management_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/management"
	"github.com/junctionmq/junction/security"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns the certificate's pool.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "junction-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With tls: configured the admin-tls listener serves the same API over
// HTTPS, credentials and all.
func TestAdminTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	e := start(t, func(c *config.Config) {
		c.TLS = &security.TLSConfig{CertFile: certFile, KeyFile: keyFile}
		c.Listeners["admin-tls"] = "127.0.0.1:0"
	})
	e.base = "https://" + e.s.Addr("admin-tls")
	e.http = &http.Client{Timeout: waitFor, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var info management.BrokerInfo
	e.must(200, "GET", "/api/v1/broker", nil, &info)
	if info.Listeners["admin-tls"] == "" {
		t.Fatalf("listeners: %v", info.Listeners)
	}
	if got := e.doAs("bob", bobPW, "GET", "/api/v1/broker", nil, nil); got != 403 {
		t.Fatalf("bob over TLS: %d, want 403", got)
	}
}

// issue writes a certificate for cn signed by the CA (ca, caKey) and
// returns it with its key as a tls.Certificate.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, serial int64) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Over admin-tls a client certificate that cert-users maps to a user logs
// in as that user, without Basic credentials.
func TestAdminTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	caPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	caKey, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *config.Config) {
		// The test certificate is its own CA: it signs the client's too.
		c.TLS = &security.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: certFile, ClientAuth: "request"}
		c.Listeners["admin-tls"] = "127.0.0.1:0"
		c.Security.CertUsers = map[string]string{"CN=ops-console": "alice", "CN=clerk-device": "bob"}
	})
	e.base = "https://" + e.s.Addr("admin-tls")
	for _, tc := range []struct {
		cn   string
		want int
	}{{"ops-console", 200}, {"clerk-device", 403}, {"", 401}} {
		tc0 := &tls.Config{RootCAs: pool}
		if tc.cn != "" {
			tc0.Certificates = []tls.Certificate{issue(t, ca, caKey, tc.cn, 7)}
		}
		e.http = &http.Client{Timeout: waitFor, Transport: &http.Transport{TLSClientConfig: tc0}}
		if got := e.doAs("", "", "GET", "/api/v1/broker", nil, nil); got != tc.want {
			t.Errorf("client certificate %q: %d, want %d", tc.cn, got, tc.want)
		}
		e.http.CloseIdleConnections()
	}
}
