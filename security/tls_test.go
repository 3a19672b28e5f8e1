package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newSerial() *big.Int { serial++; return big.NewInt(serial) }

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue returns a PEM certificate and key signed by ca.
func (ca *testCA) issue(t *testing.T, subject pkix.Name, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

type tlsFixture struct {
	dir     string
	ca      *testCA
	clients map[string]tls.Certificate
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	f := &tlsFixture{dir: t.TempDir(), ca: newCA(t, "Junction Test CA"), clients: map[string]tls.Certificate{}}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sc, sk := f.ca.issue(t, pkix.Name{CommonName: "localhost"}, true)
	write("server.crt", sc)
	write("server.key", sk)
	write("ca.crt", f.ca.pem())
	add := func(name string, ca *testCA, subj pkix.Name) {
		c, k := ca.issue(t, subj, false)
		kp, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		f.clients[name] = kp
	}
	add("device7", f.ca, pkix.Name{CommonName: "device-7", Organization: []string{"Acme"}})
	add("byCN", f.ca, pkix.Name{CommonName: "sensor-3", Organization: []string{"Other"}})
	add("stranger", f.ca, pkix.Name{CommonName: "stranger"})
	add("ghost", f.ca, pkix.Name{CommonName: "ghost"})
	add("untrusted", newCA(t, "Evil CA"), pkix.Name{CommonName: "device-7", Organization: []string{"Acme"}})
	return f
}

func (f *tlsFixture) config(clientAuth string) TLSConfig {
	return TLSConfig{CertFile: "server.crt", KeyFile: "server.key", ClientCAFile: "ca.crt", ClientAuth: clientAuth}.Resolve(f.dir)
}

// handshake runs a real TLS handshake over an in-memory pipe and returns the
// server's view of the connection.
func (f *tlsFixture) handshake(t *testing.T, srv *tls.Config, client string, maxVersion uint16) (*tls.ConnectionState, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.cert)
	ccfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: maxVersion}
	if client != "" {
		// Send the certificate even when its issuer is not among the CAs the
		// server lists, so that the server's verification is what is tested.
		cert := f.clients[client]
		ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	cc, sc := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	_ = cc.SetDeadline(deadline)
	_ = sc.SetDeadline(deadline)
	type result struct {
		st  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		s := tls.Server(sc, srv)
		err := s.Handshake()
		done <- result{s.ConnectionState(), err}
		s.Close()
	}()
	c := tls.Client(cc, ccfg)
	cerr := c.Handshake()
	if cerr == nil {
		// In TLS 1.3 the client learns of a rejected certificate only on read.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, cerr = c.Read(make([]byte, 1))
		if errors.Is(cerr, os.ErrDeadlineExceeded) || strings.Contains(cerr.Error(), "EOF") || strings.Contains(cerr.Error(), "closed pipe") {
			cerr = nil
		}
	}
	c.Close()
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	if cerr != nil {
		return nil, cerr
	}
	return &r.st, nil
}

func TestTLSClientCertificateLogin(t *testing.T) {
	f := newTLSFixture(t)
	writeUsers(t, f.dir,
		testUser{name: "device7", password: "unused-pw", roles: []string{"devices"}},
		testUser{name: "sensor", password: "pw3", roles: []string{"sensors"}},
		testUser{name: "admin", password: "adminpw", roles: []string{"admin"}},
	)
	logger, logs := testLogger()
	m, err := New(Config{
		UsersFile: "users.yaml",
		CertUsers: map[string]string{"CN=device-7, O=Acme": "device7", "sensor-3": "sensor", "CN=ghost": "nobody"},
	}, f.dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := f.config(ClientAuthRequest).Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		client   string
		cred     Credentials
		wantUser string
		wantCert bool
		wantErr  error
	}{
		{"mapped by DN", "device7", Credentials{}, "device7", true, nil},
		{"mapped by CN", "byCN", Credentials{}, "sensor", true, nil},
		{"same user name given", "device7", Credentials{Username: "device7"}, "device7", true, nil},
		{"other user name needs its password", "device7", Credentials{Username: "admin", Password: "adminpw", HasPassword: true}, "admin", false, nil},
		{"other user name, wrong password", "device7", Credentials{Username: "admin", Password: "x", HasPassword: true}, "", false, ErrBadCredentials},
		{"unmapped cert: anonymous denied", "stranger", Credentials{}, "", false, ErrAnonymousDenied},
		{"unmapped cert with password", "stranger", Credentials{Username: "admin", Password: "adminpw", HasPassword: true}, "admin", false, nil},
		{"mapped to a missing user", "ghost", Credentials{}, "", false, ErrBadCredentials},
		{"no cert", "", Credentials{}, "", false, ErrAnonymousDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := f.handshake(t, srv, tc.client, 0)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if tc.client != "" && len(st.VerifiedChains) == 0 {
				t.Fatal("client certificate not verified")
			}
			tc.cred.TLSState = st
			tc.cred.RemoteAddr = "127.0.0.1:1"
			s, err := m.Authenticate(t.Context(), tc.cred)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, %v; want %v", s, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.User != tc.wantUser || s.Certificate != tc.wantCert {
				t.Fatalf("subject %+v", s)
			}
		})
	}
	if strings.Contains(logs.String(), "adminpw") {
		t.Fatal("password logged")
	}
}

func TestTLSUnverifiedCertificateNeverLogsIn(t *testing.T) {
	f := newTLSFixture(t)
	writeUsers(t, f.dir, testUser{name: "device7", password: "pw", roles: []string{"d"}})
	m, err := New(Config{UsersFile: "users.yaml", CertUsers: map[string]string{"CN=device-7,O=Acme": "device7"}}, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A state carrying the right certificate that nobody verified (client
	// auth "none", or a buggy adapter) must not identify the user.
	fake := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{f.clients["device7"].Leaf}}
	if _, err := m.Authenticate(t.Context(), Credentials{TLSState: fake}); !errors.Is(err, ErrAnonymousDenied) {
		t.Fatalf("unverified certificate: %v", err)
	}
}

func TestTLSBuildHandshakes(t *testing.T) {
	f := newTLSFixture(t)
	tests := []struct {
		name       string
		clientAuth string
		client     string
		maxVersion uint16
		wantOK     bool
		wantChain  bool
	}{
		{"require with trusted cert", ClientAuthRequire, "device7", 0, true, true},
		{"require without cert", ClientAuthRequire, "", 0, false, false},
		{"require with untrusted cert", ClientAuthRequire, "untrusted", 0, false, false},
		{"request without cert", ClientAuthRequest, "", 0, true, false},
		{"request with untrusted cert", ClientAuthRequest, "untrusted", 0, false, false},
		{"default with CA is request", "", "device7", 0, true, true},
		{"none ignores cert", ClientAuthNone, "device7", 0, true, false},
		{"TLS 1.2 client", ClientAuthRequire, "device7", tls.VersionTLS12, true, true},
		{"TLS 1.1 client refused", ClientAuthNone, "", tls.VersionTLS11, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := f.config(tc.clientAuth).Build()
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.handshake(t, srv, tc.client, tc.maxVersion)
			if (err == nil) != tc.wantOK {
				t.Fatalf("handshake error %v, want ok=%v", err, tc.wantOK)
			}
			if err == nil && (len(st.VerifiedChains) > 0) != tc.wantChain {
				t.Fatalf("verified chains %d, want %v", len(st.VerifiedChains), tc.wantChain)
			}
		})
	}
}

func TestTLSBuildErrors(t *testing.T) {
	f := newTLSFixture(t)
	if err := os.WriteFile(filepath.Join(f.dir, "junk.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  TLSConfig
		want string
	}{
		{"no key", TLSConfig{CertFile: "server.crt"}, "both required"},
		{"missing file", TLSConfig{CertFile: "nope.crt", KeyFile: "server.key"}, "nope.crt"},
		{"require without CA", TLSConfig{CertFile: "server.crt", KeyFile: "server.key", ClientAuth: "require"}, "needs client-ca-file"},
		{"bad mode", TLSConfig{CertFile: "server.crt", KeyFile: "server.key", ClientAuth: "maybe"}, "not none, request or require"},
		{"CA without PEM", TLSConfig{CertFile: "server.crt", KeyFile: "server.key", ClientCAFile: "junk.pem"}, "no PEM certificate"},
		{"key mismatch", TLSConfig{CertFile: "ca.crt", KeyFile: "server.key"}, "load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Resolve(f.dir).Build()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	cfg, err := f.config(ClientAuthRequire).Build()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("min version %x, client auth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	for _, id := range cfg.CipherSuites {
		for _, bad := range tls.InsecureCipherSuites() {
			if id == bad.ID {
				t.Fatalf("insecure suite %s offered", bad.Name)
			}
		}
	}
}
