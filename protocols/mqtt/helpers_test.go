package mqtt_test

// Shared test plumbing: a real broker per test (server/servertest), the paho
// clients for well-behaved 3.1/3.1.1 (paho.mqtt.golang) and 5.0
// (paho.golang) traffic, and a raw client on the packet codec for precise
// protocol checks and for what a well-behaved client will not send.
//
// Spec statement IDs ([MQTT-x.y.z-n]) refer to MQTT 5.0 unless marked 3.1.1.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event; a healthy broker answers in
// milliseconds, so hitting it means the event is not coming.
const waitFor = 5 * time.Second

// mqttState is the MQTT adapter's session state in broker s.
func mqttState(s *server.Server) mqtt.SessionStats {
	return s.Adapter("mqtt").(*mqtt.Server).SessionStats()
}

func TestMain(m *testing.M) {
	// The transport's idle poller is one goroutine for the whole process,
	// started on first use and kept.
	goleak.VerifyTestMain(stopPostgres{m}, goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}

// stopPostgres stops the private PostgreSQL that a test on the postgres
// store may have started (internal/pgtest), once the tests have run.
type stopPostgres struct{ m *testing.M }

func (s stopPostgres) Run() int {
	defer pgtest.Shutdown()
	return s.m.Run()
}

// startBroker starts a broker; cfg (may be nil) changes its configuration.
func startBroker(t *testing.T, cfg func(*config.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, servertest.Options{Config: cfg})
}

// withUsers configures security with a users file holding the given
// name/password pairs (role "users") and, when perms is not nil, those
// permissions.
func withUsers(t *testing.T, anonymous bool, perms map[string]map[string][]string, namePass ...string) func(*config.Config) {
	t.Helper()
	dir := t.TempDir()
	var f security.UsersFile
	for i := 0; i+1 < len(namePass); i += 2 {
		// The minimum cost keeps logins fast under -race.
		h, err := bcrypt.GenerateFromPassword([]byte(namePass[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		f.Users = append(f.Users, security.User{Name: namePass[i], Password: string(h), Roles: []string{"users"}})
	}
	path := filepath.Join(dir, "users.yaml")
	if err := f.Save(path); err != nil {
		t.Fatalf("writing users file: %v", err)
	}
	return func(c *config.Config) {
		c.Dir = dir
		c.Security.UsersFile = "users.yaml"
		c.Security.Anonymous = &anonymous
		c.Security.Permissions = perms
	}
}

// ---------------------------------------------------------------------------
// Raw client on the packet codec.

// raw is an MQTT connection driven packet by packet.
type raw struct {
	t   testing.TB
	nc  net.Conn
	rd  *packet.Reader
	ver byte
	// backlog holds PUBLISHes read while awaiting another packet.
	backlog []packet.Packet
}

func dialRaw(t testing.TB, addr string, ver byte) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return newRaw(t, nc, ver)
}

// newRaw drives an established connection (TCP or WebSocket).
func newRaw(t testing.TB, nc net.Conn, ver byte) *raw {
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, nc: nc, rd: packet.NewReader(nc, 0), ver: ver}
}

// write encodes p with the connection's version and sends it.
func (c *raw) write(p packet.Packet) {
	c.t.Helper()
	b, err := p.Append(nil, c.ver)
	if err != nil {
		c.t.Fatalf("encoding %v: %v", p.Type(), err)
	}
	c.writeBytes(b)
}

func (c *raw) writeBytes(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next packet or the error that ended the stream.
func (c *raw) read(timeout time.Duration) (packet.Packet, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	fh, body, err := c.rd.ReadPacket()
	if err != nil {
		return nil, err
	}
	// Decoded fields alias the reader's buffer: keep a copy.
	body = append([]byte(nil), body...)
	p, err := packet.Decode(fh, body, c.ver)
	if err != nil {
		return nil, fmt.Errorf("decoding %v from the server: %w", fh.Type, err)
	}
	return p, nil
}

// next returns the next packet (from the backlog first), failing the test
// if none arrives.
func (c *raw) next() packet.Packet {
	c.t.Helper()
	if len(c.backlog) > 0 {
		p := c.backlog[0]
		c.backlog = c.backlog[1:]
		return p
	}
	p, err := c.read(waitFor)
	if err != nil {
		c.t.Fatalf("waiting for a packet: %v", err)
	}
	return p
}

// expect returns the next packet, failing unless it is a T.
func expect[T packet.Packet](c *raw) T {
	c.t.Helper()
	p := c.next()
	v, ok := p.(T)
	if !ok {
		var zero T
		c.t.Fatalf("got %v %+v, want %T", p.Type(), p, zero)
	}
	return v
}

// await returns the next T, keeping PUBLISHes that arrive first in the
// backlog: deliveries may overtake the acknowledgement of a publish.
func await[T packet.Packet](c *raw) T {
	c.t.Helper()
	for {
		p, err := c.read(waitFor)
		if err != nil {
			var zero T
			c.t.Fatalf("waiting for %T: %v", zero, err)
		}
		if v, ok := p.(T); ok {
			return v
		}
		if _, ok := p.(*packet.Publish); ok {
			c.backlog = append(c.backlog, p)
			continue
		}
		var zero T
		c.t.Fatalf("got %v %+v, want %T", p.Type(), p, zero)
	}
}

// connect sends CONNECT (version defaulting to the connection's) and returns
// the CONNACK.
func (c *raw) connect(p *packet.Connect) *packet.Connack {
	c.t.Helper()
	if p.Version == 0 {
		p.Version = c.ver
	}
	c.write(p)
	return expect[*packet.Connack](c)
}

// mustConnect connects and fails unless the server accepts.
func (c *raw) mustConnect(p *packet.Connect) *packet.Connack {
	c.t.Helper()
	ack := c.connect(p)
	if ack.ReasonCode != packet.Success {
		c.t.Fatalf("CONNACK %v (%s)", ack.ReasonCode, ack.Properties.ReasonString)
	}
	return ack
}

// subscribe subscribes and returns the SUBACK's codes.
func (c *raw) subscribe(id uint16, subs ...packet.Subscription) []packet.ReasonCode {
	c.t.Helper()
	c.write(&packet.Subscribe{PacketID: id, Subscriptions: subs})
	ack := await[*packet.Suback](c)
	if ack.PacketID != id {
		c.t.Fatalf("SUBACK for packet id %d, want %d", ack.PacketID, id)
	}
	return ack.ReasonCodes
}

// publish sends a PUBLISH and completes its QoS exchange.
func (c *raw) publish(p *packet.Publish) {
	c.t.Helper()
	c.write(p)
	switch p.QoS {
	case 1:
		if ack := await[*packet.Puback](c); ack.PacketID != p.PacketID || ack.ReasonCode.IsError() {
			c.t.Fatalf("PUBACK %+v for packet id %d", ack, p.PacketID)
		}
	case 2:
		if rec := await[*packet.Pubrec](c); rec.PacketID != p.PacketID || rec.ReasonCode.IsError() {
			c.t.Fatalf("PUBREC %+v for packet id %d", rec, p.PacketID)
		}
		c.write(&packet.Pubrel{PacketID: p.PacketID})
		if comp := await[*packet.Pubcomp](c); comp.PacketID != p.PacketID {
			c.t.Fatalf("PUBCOMP %+v for packet id %d", comp, p.PacketID)
		}
	}
}

// ping sends PINGREQ and waits for PINGRESP, returning what came before it:
// packets are handled in order, so everything the server had to say about
// earlier packets is in the result.
func (c *raw) ping() []packet.Packet {
	c.t.Helper()
	c.writeBytes([]byte{byte(packet.PINGREQ) << 4, 0})
	before := c.backlog
	c.backlog = nil
	for {
		p, err := c.read(waitFor)
		if err != nil {
			c.t.Fatalf("waiting for PINGRESP: %v", err)
		}
		if _, ok := p.(*packet.Pingresp); ok {
			return before
		}
		before = append(before, p)
	}
}

// expectClosed reads until the server closes the connection and returns the
// packets it sent first. It fails if the connection stays open.
func (c *raw) expectClosed() []packet.Packet {
	c.t.Helper()
	var got []packet.Packet
	deadline := time.Now().Add(waitFor)
	for {
		p, err := c.read(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v (got %s)", waitFor, describe(got))
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				c.t.Fatalf("reading until close: %v", err)
			}
			return got
		}
		got = append(got, p)
	}
}

// expectDisconnect expects the server to close the connection, preceded (5.0)
// by a DISCONNECT with the given reason code, or (3.x) by nothing.
func (c *raw) expectDisconnect(code packet.ReasonCode) {
	c.t.Helper()
	got := c.expectClosed()
	if c.ver != packet.Version5 {
		if len(got) != 0 {
			c.t.Fatalf("3.x connection closed after %s, want nothing", describe(got))
		}
		return
	}
	if len(got) != 1 {
		c.t.Fatalf("connection closed after %s, want one DISCONNECT %v", describe(got), code)
	}
	d, ok := got[0].(*packet.Disconnect)
	if !ok || d.ReasonCode != code {
		c.t.Fatalf("got %s before close, want DISCONNECT %v", describe(got), code)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, net.ErrClosed))
}

func describe(ps []packet.Packet) string {
	if len(ps) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if d, ok := p.(*packet.Disconnect); ok {
			fmt.Fprintf(&b, "DISCONNECT %v %q", d.ReasonCode, d.Properties.ReasonString)
			continue
		}
		fmt.Fprintf(&b, "%v %+v", p.Type(), p)
	}
	return b.String()
}

// connectRaw dials and connects a raw client with the given client id and
// clean flag (5.0: with session expiry when not clean).
func connectRaw(t testing.TB, addr string, ver byte, clientID string, clean bool) (*raw, *packet.Connack) {
	t.Helper()
	c := dialRaw(t, addr, ver)
	p := &packet.Connect{ClientID: clientID, CleanStart: clean, KeepAlive: 60}
	if ver == packet.Version5 && !clean {
		p.Properties.SessionExpiry = 3600
		p.Properties.Set(packet.PropSessionExpiry)
	}
	return c, c.mustConnect(p)
}

// expectPublish waits for a PUBLISH and acknowledges nothing.
func expectPublish(c *raw) *packet.Publish {
	c.t.Helper()
	return expect[*packet.Publish](c)
}

// ack completes the receiving side of a delivery.
func (c *raw) ack(p *packet.Publish) {
	c.t.Helper()
	switch p.QoS {
	case 1:
		c.write(&packet.Puback{PacketID: p.PacketID})
	case 2:
		c.write(&packet.Pubrec{PacketID: p.PacketID})
		if rel := await[*packet.Pubrel](c); rel.PacketID != p.PacketID {
			c.t.Fatalf("PUBREL for %d, want %d", rel.PacketID, p.PacketID)
		}
		c.write(&packet.Pubcomp{PacketID: p.PacketID})
	}
}

// ---------------------------------------------------------------------------
// paho.mqtt.golang (3.1 and 3.1.1).

// msg3 is a message received by a 3.x paho client.
type msg3 struct {
	topic    string
	payload  string
	qos      byte
	retained bool
	dup      bool
}

// client3 is a connected paho.mqtt.golang client that disconnects when the
// test ends; every message it receives lands in msgs.
type client3 struct {
	t    testing.TB
	c    mqtt3.Client
	Msgs chan msg3
	lost chan error
}

// dial3 connects a 3.1.1 client; opts may change its options.
func dial3(t testing.TB, addr, clientID string, opts func(*mqtt3.ClientOptions)) *client3 {
	t.Helper()
	c, err := tryDial3(t, addr, clientID, opts)
	if err != nil {
		t.Fatalf("paho 3.1.1 connect as %q: %v", clientID, err)
	}
	return c
}

func tryDial3(t testing.TB, addr, clientID string, opts func(*mqtt3.ClientOptions)) (*client3, error) {
	t.Helper()
	cl := &client3{t: t, Msgs: make(chan msg3, 1000), lost: make(chan error, 1)}
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetProtocolVersion(4).SetConnectTimeout(waitFor).SetWriteTimeout(waitFor).
		SetKeepAlive(30 * time.Second).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { cl.put(m) })
	o.SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
		select {
		case cl.lost <- err:
		default:
		}
	})
	if opts != nil {
		opts(o)
	}
	cl.c = mqtt3.NewClient(o)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(waitFor) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cl.c.Disconnect(100) })
	return cl, nil
}

func (cl *client3) put(m mqtt3.Message) {
	cl.Msgs <- msg3{topic: m.Topic(), payload: string(m.Payload()), qos: m.Qos(), retained: m.Retained(), dup: m.Duplicate()}
}

// wait waits for a token, failing the test on error or timeout.
func wait(t testing.TB, what string, tok mqtt3.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("%s: no answer within %v", what, waitFor)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sub subscribes; messages go to cl.Msgs.
func (cl *client3) sub(filter string, qos byte) {
	cl.t.Helper()
	tok := cl.c.Subscribe(filter, qos, func(_ mqtt3.Client, m mqtt3.Message) { cl.put(m) })
	wait(cl.t, "SUBSCRIBE "+filter, tok)
	if st, ok := tok.(*mqtt3.SubscribeToken); ok {
		if code := st.Result()[filter]; code != qos {
			cl.t.Fatalf("SUBSCRIBE %s: granted %#x, want %d", filter, code, qos)
		}
	}
}

// pub publishes and waits for the QoS exchange to complete.
func (cl *client3) pub(topic string, qos byte, retain bool, payload string) {
	cl.t.Helper()
	wait(cl.t, "PUBLISH "+topic, cl.c.Publish(topic, qos, retain, payload))
}

// recv waits for the next message.
func (cl *client3) recv() msg3 {
	cl.t.Helper()
	select {
	case m := <-cl.Msgs:
		return m
	case <-time.After(waitFor):
		cl.t.Fatalf("no message within %v", waitFor)
	}
	return msg3{}
}

// recvOnly receives until the marker payload and fails on anything else.
func (cl *client3) recvOnly(marker string) {
	cl.t.Helper()
	if m := cl.recv(); m.payload != marker {
		cl.t.Fatalf("got %+v before the marker %q", m, marker)
	}
}

// ---------------------------------------------------------------------------
// paho.golang (5.0).

// client5 is a connected paho.golang client that disconnects when the test
// ends; every PUBLISH it receives lands in msgs, a server DISCONNECT in
// disconnects.
type client5 struct {
	t testing.TB
	*testkit.Paho5
}

// dial5 connects a 5.0 client. cp.ClientID and friends come from the caller.
func dial5(t testing.TB, addr string, cp *paho.Connect) (*client5, *paho.Connack) {
	t.Helper()
	c, ack, err := tryDial5(t, addr, cp, nil)
	if err != nil {
		t.Fatalf("paho 5.0 connect as %q: %v (connack %+v)", cp.ClientID, err, ack)
	}
	return c, ack
}

func tryDial5(t testing.TB, addr string, cp *paho.Connect, cfg func(*paho.ClientConfig)) (*client5, *paho.Connack, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	p, ack, err := testkit.ConnectPaho5(t, nc, cp, waitFor, cfg)
	if err != nil {
		return nil, ack, err
	}
	return &client5{t: t, Paho5: p}, ack, nil
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// sub subscribes and checks the granted QoS.
func (cl *client5) sub(opts ...paho.SubscribeOptions) *paho.Suback {
	cl.t.Helper()
	ack, err := cl.Subscribe(ctxT(cl.t), &paho.Subscribe{Subscriptions: opts})
	if err != nil {
		cl.t.Fatalf("SUBSCRIBE %+v: %v", opts, err)
	}
	for i, o := range opts {
		if got := ack.Reasons[i]; got != o.QoS {
			cl.t.Fatalf("SUBSCRIBE %s: reason %#x, want granted QoS %d", o.Topic, got, o.QoS)
		}
	}
	return ack
}

// pub publishes and waits for the QoS exchange.
func (cl *client5) pub(p *paho.Publish) *paho.PublishResponse {
	cl.t.Helper()
	r, err := cl.Publish(ctxT(cl.t), p)
	if err != nil {
		cl.t.Fatalf("PUBLISH %s: %v", p.Topic, err)
	}
	return r
}

func (cl *client5) recv() *paho.Publish {
	cl.t.Helper()
	select {
	case m := <-cl.Msgs:
		return m
	case <-time.After(waitFor):
		cl.t.Fatalf("no message within %v", waitFor)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// requireTool returns the path of an external program, skipping the test
// when it is missing (failing under CI, where `make test-deps` installs it).
func requireTool(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI (make test-deps installs it): %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
	return path
}

// eventually polls cond until it holds, for state the broker exposes only
// through counters (no event to wait on).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
