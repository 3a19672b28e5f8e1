package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/junctionmq/junction/internal/testkit"
)

func TestMain(m *testing.M) {
	// The idle poller is process-wide and lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 5 * time.Second

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer = testkit.LogBuffer

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recv waits for a value on ch or fails the test.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// echo copies everything it reads back to the client.
var echo = HandlerFunc(func(_ context.Context, c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
})

// startServer runs srv's Shutdown at cleanup and checks that every Serve
// call started through serve returned ErrServerClosed.
type testServer struct {
	*Server
	t    testing.TB
	errc chan error
	n    int
}

func newTestServer(t testing.TB, logger *slog.Logger) *testServer {
	if logger == nil {
		logger = discardLogger()
	}
	ts := &testServer{Server: NewServer(logger), t: t, errc: make(chan error, 8)}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		ts.t.Errorf("Shutdown: %v", err)
	}
	for ; ts.n > 0; ts.n-- {
		if err := recv(ts.t, ts.errc, "Serve to return"); !errors.Is(err, ErrServerClosed) {
			ts.t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	}
}

func (ts *testServer) serveTCP(name string, tlsConf *tls.Config, h Handler) string {
	ts.t.Helper()
	ln, err := ListenTCP("127.0.0.1:0", tlsConf)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.n++
	go func() { ts.errc <- ts.Serve(name, ln, h) }()
	return ln.Addr().String()
}

func (ts *testServer) serveWS(name string, tlsConf *tls.Config, ws *WebSocket) string {
	ts.t.Helper()
	ln, err := ListenTCP("127.0.0.1:0", tlsConf)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.n++
	go func() { ts.errc <- ts.ServeWebSocket(name, ln, ws) }()
	return ln.Addr().String()
}

// testCerts returns a server config with a fresh self-signed certificate
// for 127.0.0.1 and a client config trusting it.
func testCerts(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "junction transport test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return server, client
}

// wsClient dials WebSocket servers and remembers the local address of the
// last TCP connection it made.
type wsClient struct {
	tr    *http.Transport
	mu    sync.Mutex
	local net.Addr
}

func newWSClient(t testing.TB, tlsConf *tls.Config) *wsClient {
	c := &wsClient{}
	var d net.Dialer
	c.tr = &http.Transport{
		TLSClientConfig: tlsConf,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				c.mu.Lock()
				c.local = nc.LocalAddr()
				c.mu.Unlock()
			}
			return nc, err
		},
	}
	t.Cleanup(c.tr.CloseIdleConnections)
	return c
}

func (c *wsClient) localAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

func (c *wsClient) dial(t testing.TB, url string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = &http.Client{Transport: c.tr}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}

// mustDial dials with the given subprotocols and fails the test on error.
func (c *wsClient) mustDial(t testing.TB, url string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	conn, _, err := c.dial(t, url, &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		t.Fatalf("dial %s %v: %v", url, subprotocols, err)
	}
	return conn
}

func wsRead(t testing.TB, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	typ, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return typ, p
}

func wsWrite(t testing.TB, c *websocket.Conn, typ websocket.MessageType, p []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Write(ctx, typ, p); err != nil {
		t.Fatalf("client write: %v", err)
	}
}
