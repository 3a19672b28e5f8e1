package security_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/go-stomp/stomp/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event from the broker.
const waitFor = 10 * time.Second

// issueSecurity is the security section of the issue, verbatim: alice is
// an admin, bob a clerk who may only send and consume (non-durably) under
// orders.
const issueSecurity = `security:
  users-file: users.yaml
  anonymous: false
  anonymous-role: guest
  permissions:
    "orders.#": {send: [clerk, admin], consume: [clerk, admin], createNonDurableQueue: [clerk, admin]}
    "#": {send: [admin], consume: [admin], createDurableQueue: [admin], createNonDurableQueue: [admin], createAddress: [admin], browse: [admin], manage: [admin]}
`

// tlsSection configures the TLS listeners with the files newPKI writes,
// relative to the configuration file's folder as an operator would.
const tlsSection = `tls:
  cert-file: server.pem
  key-file: server-key.pem
  client-ca-file: ca.pem
  client-auth: request
`

// certUsers maps the test client certificate to bob; appended to the
// security section.
const certUsers = `  cert-users:
    "CN=device-7": bob
`

const (
	alicePW = "alice-secret"
	bobPW   = "bob-secret"
)

// user is one entry of the users file a test broker starts with.
type user struct {
	name, password string
	roles          []string
	maxConn        int
}

func defaultUsers() []user {
	return []user{
		{name: "alice", password: alicePW, roles: []string{"admin"}},
		{name: "bob", password: bobPW, roles: []string{"clerk"}},
	}
}

// writeUsers writes a users file through the security package's own API
// (bcrypt at its minimum cost to keep the tests fast).
func writeUsers(t testing.TB, path string, users []user) {
	t.Helper()
	uf := &security.UsersFile{}
	for _, u := range users {
		h, err := security.HashPasswordCost(u.password, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		uf.Users = append(uf.Users, security.User{Name: u.name, Password: h, Roles: u.roles, MaxConnections: u.maxConn})
	}
	if err := uf.Save(path); err != nil {
		t.Fatalf("writing users file: %v", err)
	}
}

// setup describes a test broker.
type setup struct {
	// yaml is the configuration file (security and tls sections); empty
	// means no configuration file at all: the out-of-the-box broker.
	yaml string
	// users go to users.yaml next to the configuration file; nil means
	// defaultUsers, unless yaml is empty.
	users []user
	// noUsersFile leaves users.yaml unwritten (the users CLI test writes it).
	noUsersFile bool
	// tls generates a CA, server and client certificates into the folder and
	// opens the stomp-tls, mqtt-tls and wss listeners.
	tls bool
	// dir is the configuration folder; default a new temporary one.
	dir string
}

// env is a running test broker with what the tests need to reach it.
type env struct {
	s     *server.Server
	dir   string // the configuration file's folder
	users string // users file path
	pki   *pki   // nil without TLS
	log   *logBuffer
}

// start writes the configuration file, loads it with config.Load (so the
// YAML shape and the relative paths are exercised as in production) and
// starts a broker on it.
func start(t *testing.T, st setup) *env {
	t.Helper()
	e := &env{dir: st.dir, log: &logBuffer{}}
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	e.users = filepath.Join(e.dir, "users.yaml")
	if st.tls {
		e.pki = newPKI(t, e.dir)
	}
	var loaded *config.Config
	if st.yaml != "" {
		users := st.users
		if users == nil {
			users = defaultUsers()
		}
		if !st.noUsersFile {
			writeUsers(t, e.users, users)
		}
		path := filepath.Join(e.dir, "junction.yaml")
		if err := os.WriteFile(path, []byte(st.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if loaded, err = config.Load(path); err != nil {
			t.Fatalf("loading %s: %v\n%s", path, err, st.yaml)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", e.log.String())
		}
	})
	e.s = servertest.Start(t, servertest.Options{
		Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Config: func(c *config.Config) {
			if loaded == nil {
				return
			}
			c.Dir = loaded.Dir
			c.Security = loaded.Security
			c.TLS = loaded.TLS
			if c.TLS != nil {
				// servertest leaves the TLS listeners off.
				c.Listeners["stomp-tls"] = "127.0.0.1:0"
				c.Listeners["mqtt-tls"] = "127.0.0.1:0"
				c.Listeners["wss"] = "127.0.0.1:0"
			}
		},
	})
	return e
}

// logBuffer collects the broker's log; audit lines are checked in it.
type logBuffer struct{ testkit.LogBuffer }

// auditLine returns the first audit line of the log containing every one
// of parts, or "".
func (b *logBuffer) auditLine(parts ...string) string {
	for line := range strings.SplitSeq(b.String(), "\n") {
		if !strings.Contains(line, "audit=true") {
			continue
		}
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return line
		}
	}
	return ""
}

// expectAudit fails unless an audit line with every one of parts was logged.
// The audit line is written before the refusal is sent, so by the time a
// client has seen the refusal it is there.
func (e *env) expectAudit(t testing.TB, parts ...string) {
	t.Helper()
	if e.log.auditLine(parts...) == "" {
		t.Fatalf("no audit line with %q in the broker log", parts)
	}
}

// eventually polls cond until it holds, for state the broker exposes only
// through counters or a file watcher (no event to wait on).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitMessages waits until queue holds n messages. A send's confirmation
// (STOMP RECEIPT, MQTT PUBACK) of a non-persistent message can reach the
// client just before the message is in its queue, so a test that then
// looks at the queue from elsewhere (a browser, the core) waits for it.
func (e *env) awaitMessages(t testing.TB, queue string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages in %s", n, queue), func() bool {
		q, ok := e.s.Core.Queue(queue)
		return ok && q.Stats().Messages == n
	})
}

// ---------------------------------------------------------------------------
// Raw STOMP: frames written and read by hand, to see ERROR frames and the
// close that follows them exactly as they are on the wire.

type rawFrame struct {
	cmd     string
	headers [][2]string
	body    string
}

// get returns the first value of a header (STOMP 1.2: the first one counts).
func (f rawFrame) get(key string) (string, bool) {
	for _, h := range f.headers {
		if h[0] == key {
			return h[1], true
		}
	}
	return "", false
}

// all returns every value of a header.
func (f rawFrame) all(key string) []string {
	var vs []string
	for _, h := range f.headers {
		if h[0] == key {
			vs = append(vs, h[1])
		}
	}
	return vs
}

func (f rawFrame) String() string {
	return fmt.Sprintf("%s %v %q", f.cmd, f.headers, f.body)
}

type rawStomp struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t testing.TB, addr string) *rawStomp {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return rawOver(t, nc)
}

func rawOver(t testing.TB, nc net.Conn) *rawStomp {
	t.Cleanup(func() { nc.Close() })
	return &rawStomp{t: t, nc: nc, br: bufio.NewReader(nc)}
}

var headerEscaper = strings.NewReplacer(`\`, `\\`, ":", `\c`, "\n", `\n`, "\r", `\r`)
var headerUnescaper = strings.NewReplacer(`\\`, `\`, `\c`, ":", `\n`, "\n", `\r`, "\r")

// write sends one frame; headers are key, value pairs.
func (c *rawStomp) write(cmd, body string, headers ...string) {
	c.t.Helper()
	var b strings.Builder
	b.WriteString(cmd + "\n")
	for i := 0; i+1 < len(headers); i += 2 {
		k, v := headers[i], headers[i+1]
		if cmd != "CONNECT" && cmd != "STOMP" {
			k, v = headerEscaper.Replace(k), headerEscaper.Replace(v)
		}
		b.WriteString(k + ":" + v + "\n")
	}
	b.WriteString("\n" + body + "\x00")
	_ = c.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := io.WriteString(c.nc, b.String()); err != nil {
		c.t.Fatalf("writing %s: %v", cmd, err)
	}
}

// read reads the next frame, skipping heart-beats.
func (c *rawStomp) read() (rawFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(waitFor))
	var f rawFrame
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return f, err
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			f.cmd = line
			break
		}
	}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if f.cmd != "CONNECTED" {
			k, v = headerUnescaper.Replace(k), headerUnescaper.Replace(v)
		}
		f.headers = append(f.headers, [2]string{k, v})
	}
	if cl, ok := f.get("content-length"); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return f, fmt.Errorf("bad content-length %q", cl)
		}
		body := make([]byte, n+1)
		if _, err := io.ReadFull(c.br, body); err != nil {
			return f, err
		}
		if body[n] != 0 {
			return f, errors.New("frame body not NUL-terminated")
		}
		f.body = string(body[:n])
		return f, nil
	}
	body, err := c.br.ReadString(0)
	if err != nil {
		return f, err
	}
	f.body = strings.TrimSuffix(body, "\x00")
	return f, nil
}

// expect reads the next frame and fails unless it is a cmd.
func (c *rawStomp) expect(cmd string) rawFrame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", cmd, err)
	}
	if f.cmd != cmd {
		c.t.Fatalf("got %v, want %s", f, cmd)
	}
	return f
}

// expectClosed fails unless the broker closes the connection without
// sending anything more.
func (c *rawStomp) expectClosed() {
	c.t.Helper()
	f, err := c.read()
	if err == nil {
		c.t.Fatalf("got %v, want the connection closed", f)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open %v after the ERROR frame", waitFor)
	}
}

// connect sends a STOMP 1.2 CONNECT with the extra headers and returns the
// broker's answer.
func (c *rawStomp) connect(headers ...string) rawFrame {
	c.t.Helper()
	c.write("CONNECT", "", append([]string{"accept-version", "1.2", "host", "localhost", "heart-beat", "0,0"}, headers...)...)
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("waiting for the answer to CONNECT: %v", err)
	}
	return f
}

// login connects with a user name and password and fails unless CONNECTED.
func (c *rawStomp) login(user, password string, headers ...string) rawFrame {
	c.t.Helper()
	f := c.connect(append([]string{"login", user, "passcode", password}, headers...)...)
	if f.cmd != "CONNECTED" {
		c.t.Fatalf("login as %s: got %v", user, f)
	}
	return f
}

// expectDenied reads an ERROR frame, checks its message and receipt-id and
// that the connection is closed after it.
func (c *rawStomp) expectDenied(receipt string, msgParts ...string) rawFrame {
	c.t.Helper()
	f := c.expect("ERROR")
	msg, _ := f.get("message")
	for _, p := range msgParts {
		if !strings.Contains(msg, p) {
			c.t.Fatalf("ERROR message %q does not contain %q (frame %v)", msg, p, f)
		}
	}
	if receipt != "" {
		if r, _ := f.get("receipt-id"); r != receipt {
			c.t.Fatalf("ERROR receipt-id %q, want %q", r, receipt)
		}
	}
	c.expectClosed()
	return f
}

// ---------------------------------------------------------------------------
// go-stomp.

// stompOver runs the go-stomp handshake on nc. On error nc is closed.
func stompOver(t testing.TB, nc net.Conn, opts ...func(*stomp.Conn) error) (*stomp.Conn, error) {
	t.Helper()
	opts = append([]func(*stomp.Conn) error{
		stomp.ConnOpt.Logger(testkit.QuietLogger{}),
		stomp.ConnOpt.MsgSendTimeout(waitFor),
		stomp.ConnOpt.RcvReceiptTimeout(waitFor),
		stomp.ConnOpt.DisconnectReceiptTimeout(waitFor),
	}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := stomp.ConnectWithContext(ctx, nc, opts...)
	if err != nil {
		nc.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = c.MustDisconnect() })
	return c, nil
}

func stompDial(t testing.TB, addr string, opts ...func(*stomp.Conn) error) (*stomp.Conn, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return stompOver(t, nc, opts...)
}

// stompLogin connects with go-stomp as user and fails the test otherwise.
func stompLogin(t testing.TB, addr, user, password string, opts ...func(*stomp.Conn) error) *stomp.Conn {
	t.Helper()
	c, err := stompDial(t, addr, append([]func(*stomp.Conn) error{stomp.ConnOpt.Login(user, password)}, opts...)...)
	if err != nil {
		t.Fatalf("go-stomp login as %s: %v", user, err)
	}
	return c
}

// recvStomp waits for the next message of a go-stomp subscription.
func recvStomp(t testing.TB, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	return testkit.RecvSTOMP(t, sub, waitFor)
}

// ---------------------------------------------------------------------------
// MQTT 3.1.1: paho.mqtt.golang.

// opts3 are paho 3.1.1 options for one broker URL ("tcp://..." or
// "tls://...") with reconnects off and bounded timeouts.
func opts3(url, clientID string) *mqtt3.ClientOptions {
	return mqtt3.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetProtocolVersion(4).SetConnectTimeout(waitFor).SetWriteTimeout(waitFor).
		SetKeepAlive(30 * time.Second).SetOrderMatters(false)
}

// connect3 connects a paho 3.1.1 client and returns it with the CONNACK
// return code (0 on success) and the connect error.
func connect3(t testing.TB, o *mqtt3.ClientOptions) (mqtt3.Client, byte, error) {
	t.Helper()
	c := mqtt3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("paho 3.1.1 connect: no CONNACK within %v", waitFor)
	}
	ct, ok := tok.(*mqtt3.ConnectToken)
	if !ok {
		t.Fatalf("paho 3.1.1 connect token is a %T", tok)
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(50) })
	}
	return c, ct.ReturnCode(), tok.Error()
}

// login3 connects a 3.1.1 client as user (empty: no user name) and fails
// the test unless it is accepted.
func login3(t testing.TB, url, clientID, user, password string) mqtt3.Client {
	t.Helper()
	o := opts3(url, clientID)
	if user != "" {
		o.SetUsername(user).SetPassword(password)
	}
	c, code, err := connect3(t, o)
	if err != nil {
		t.Fatalf("paho 3.1.1 login as %q: code %d: %v", user, code, err)
	}
	return c
}

// wait3 waits for a paho 3.1.1 token and returns its error.
func wait3(t testing.TB, what string, tok mqtt3.Token) error {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("%s: no answer within %v", what, waitFor)
	}
	return tok.Error()
}

// sub3 subscribes and returns the SUBACK code for the filter.
func sub3(t testing.TB, c mqtt3.Client, filter string, qos byte, msgs chan<- mqtt3.Message) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, func(_ mqtt3.Client, m mqtt3.Message) { msgs <- m })
	if err := wait3(t, "SUBSCRIBE "+filter, tok); err != nil {
		// paho reports a 0x80 SUBACK as an error too; the code says more.
		t.Logf("SUBSCRIBE %s: %v", filter, err)
	}
	// paho keys the result by the filter without a $share/group/ prefix.
	res := tok.(*mqtt3.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("SUBSCRIBE %s: results %v", filter, res)
	}
	for _, code := range res {
		return code
	}
	return 0
}

func recv3(t testing.TB, msgs <-chan mqtt3.Message) mqtt3.Message {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no MQTT message within %v", waitFor)
	}
	return nil
}

// ---------------------------------------------------------------------------
// MQTT 5.0: paho.golang.

type client5 struct{ *testkit.Paho5 }

// connect5 runs the MQTT 5.0 handshake on nc. The CONNACK is returned on
// refusal too (paho returns it with the error).
func connect5(t testing.TB, nc net.Conn, cp *paho.Connect) (*client5, *paho.Connack, error) {
	t.Helper()
	p, ack, err := testkit.ConnectPaho5(t, nc, cp, waitFor, nil)
	if err != nil {
		return nil, ack, err
	}
	return &client5{p}, ack, nil
}

func dial5(t testing.TB, addr string, cp *paho.Connect) (*client5, *paho.Connack, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return connect5(t, nc, cp)
}

// creds5 fills a CONNECT's user name and password (none when user is "").
func creds5(clientID, user, password string) *paho.Connect {
	cp := &paho.Connect{ClientID: clientID, CleanStart: true}
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
		cp.PasswordFlag, cp.Password = true, []byte(password)
	}
	return cp
}

func login5(t testing.TB, addr, clientID, user, password string) *client5 {
	t.Helper()
	c, ack, err := dial5(t, addr, creds5(clientID, user, password))
	if err != nil {
		t.Fatalf("paho 5.0 login as %q: %v (CONNACK %+v)", user, err, ack)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func (c *client5) recv(t testing.TB) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.Msgs:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no MQTT 5.0 message within %v", waitFor)
	}
	return nil
}

// userProps returns every value of a user property.
func userProps(p *paho.Publish, key string) []string {
	var vs []string
	if p.Properties == nil {
		return nil
	}
	for _, u := range p.Properties.User {
		if u.Key == key {
			vs = append(vs, u.Value)
		}
	}
	return vs
}

// ---------------------------------------------------------------------------
// Certificates, generated for each test.

type pki struct {
	roots  *x509.CertPool // trusts the test CA
	client tls.Certificate
	// rogue has the client's subject but is signed by another CA.
	rogue tls.Certificate
}

// newPKI creates a CA, a server certificate for 127.0.0.1 and a client
// certificate CN=device-7; the CA and the server's pair are written to dir
// as ca.pem, server.pem and server-key.pem.
func newPKI(t testing.TB, dir string) *pki {
	t.Helper()
	caKey, caCert := newCA(t, "Junction Test CA")
	serverCert, serverKey := issue(t, caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	write := func(name, typ string, der []byte) {
		t.Helper()
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caCert.Raw)
	write("server.pem", "CERTIFICATE", serverCert.Raw)
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	write("server-key.pem", "PRIVATE KEY", keyDER)

	p := &pki{roots: x509.NewCertPool()}
	p.roots.AddCert(caCert)
	clientTmpl := func() *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: "device-7"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
	}
	cc, ck := issue(t, caCert, caKey, clientTmpl())
	p.client = tls.Certificate{Certificate: [][]byte{cc.Raw}, PrivateKey: ck, Leaf: cc}
	rogueKey, rogueCA := newCA(t, "Rogue CA")
	rc, rk := issue(t, rogueCA, rogueKey, clientTmpl())
	p.rogue = tls.Certificate{Certificate: [][]byte{rc.Raw}, PrivateKey: rk, Leaf: rc}
	return p
}

func newCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// clientTLS is a client configuration trusting the test CA, presenting cert
// when it is not nil.
func (p *pki) clientTLS(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// dialTLS connects and completes the handshake.
func dialTLS(addr string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: waitFor}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
