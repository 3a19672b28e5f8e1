package amqp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/coder/websocket"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/security"
)

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate with common name "device-7".
type pki struct {
	dir    string
	pool   *x509.CertPool
	client tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ip bool) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	writePEM := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srvDER, srvKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, true)
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM("server.pem", "CERTIFICATE", srvDER)
	writePEM("server.key", "EC PRIVATE KEY", keyDER)
	writePEM("ca.pem", "CERTIFICATE", caDER)
	cliDER, cliKey := issue(3, "device-7", x509.ExtKeyUsageClientAuth, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{dir: dir, pool: pool, client: tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}}
}

// withTLS turns on the TLS listeners, asking for client certificates, and
// maps device-7's certificate to the user "device".
func (p *pki) withTLS(users func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		users(c)
		c.TLS = &security.TLSConfig{CertFile: filepath.Join(p.dir, "server.pem"), KeyFile: filepath.Join(p.dir, "server.key"),
			ClientCAFile: filepath.Join(p.dir, "ca.pem"), ClientAuth: security.ClientAuthRequest}
		c.Listeners["amqp-tls"] = "127.0.0.1:0"
		c.Security.CertUsers = map[string]string{"device-7": "device"}
	}
}

// SASL EXTERNAL over TLS logs in as the user the client certificate maps
// to; without a certificate EXTERNAL is not offered, and PLAIN over TLS
// works as on plain TCP.
func TestTLSAndSASLExternal(t *testing.T) {
	p := newPKI(t)
	s := startBroker(t, p.withTLS(withUsers(t, false, nil, "device", "unused", "alice", "secret")))
	addr := "amqps://" + s.Addr("amqp-tls")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	withCert := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}}
	c, err := amqp.Dial(ctx, addr, &amqp.ConnOptions{TLSConfig: withCert, SASLType: amqp.SASLTypeExternal("")})
	if err != nil {
		t.Fatalf("EXTERNAL with a client certificate: %v", err)
	}
	ss, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, newSender(t, ss, "certified", nil), amqp.NewMessage([]byte("x")))
	_ = c.Close()

	noCert := &tls.Config{RootCAs: p.pool}
	if c, err := amqp.Dial(ctx, addr, &amqp.ConnOptions{TLSConfig: noCert, SASLType: amqp.SASLTypeExternal("")}); err == nil {
		_ = c.Close()
		t.Fatal("EXTERNAL without a client certificate logged in")
	}
	c, err = amqp.Dial(ctx, addr, &amqp.ConnOptions{TLSConfig: noCert, SASLType: amqp.SASLTypePlain("alice", "secret")})
	if err != nil {
		t.Fatalf("PLAIN over TLS: %v", err)
	}
	_ = c.Close()
}

// AMQP over WebSocket: the "amqp" subprotocol, binary messages, on the
// shared ws listener.
func TestWebSocket(t *testing.T) {
	s := startBroker(t, nil)
	ctx := ctxFor(t)
	wc, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/", &websocket.DialOptions{Subprotocols: []string{"amqp"}})
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	if wc.Subprotocol() != "amqp" {
		t.Fatalf("subprotocol %q, want amqp", wc.Subprotocol())
	}
	nc := websocket.NetConn(context.Background(), wc, websocket.MessageBinary)
	c, err := amqp.NewConn(ctx, nc, nil)
	if err != nil {
		t.Fatalf("AMQP over WebSocket: %v", err)
	}
	defer c.Close()
	ss, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, newSender(t, ss, "overws", nil), amqp.NewMessage([]byte("ws")))
	if m := receive(t, newReceiver(t, ss, "overws", nil)); body(m) != "ws" {
		t.Fatalf("got %q", body(m))
	}
}
