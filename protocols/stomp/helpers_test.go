package stomp_test

// Shared test plumbing: a real broker per test (server/servertest), the
// go-stomp client for well-behaved traffic, and a raw client built on the
// frame codec for what go-stomp cannot or will not send.
//
// Spec references are to the STOMP 1.2 specification,
// https://stomp.github.io/stomp-specification-1.2.html, unless a test says
// otherwise.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"
	gsframe "github.com/go-stomp/stomp/v3/frame"
	"go.uber.org/goleak"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds every wait for an event; a healthy broker answers in
// milliseconds, so hitting it means the event is not coming.
const waitFor = 5 * time.Second

func TestMain(m *testing.M) {
	// The transport's idle poller is one goroutine for the whole process,
	// started on first use and kept.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}

func ptr[T any](v T) *T { return &v }

// startBroker starts a broker with the given address settings.
func startBroker(t *testing.T, settings map[string]*core.AddressSettings) *server.Server {
	t.Helper()
	return servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.AddressSettings = settings
	}})
}

// queueStats returns a queue's counters, failing the test if it does not exist.
func queueStats(t *testing.T, s *server.Server, name string) core.QueueStats {
	t.Helper()
	q, ok := s.Core.Queue(name)
	if !ok {
		t.Fatalf("queue %q does not exist", name)
	}
	return q.Stats()
}

// client is a go-stomp connection that disconnects, draining its
// subscriptions, when the test ends.
type client struct {
	t *testing.T
	*stompc.Conn

	mu   sync.Mutex
	subs []*stompc.Subscription
}

func dial(t *testing.T, s *server.Server, opts ...func(*stompc.Conn) error) *client {
	t.Helper()
	opts = append([]func(*stompc.Conn) error{
		stompc.ConnOpt.Logger(testkit.QuietLogger{}),
		stompc.ConnOpt.DisconnectReceiptTimeout(waitFor),
		stompc.ConnOpt.UnsubscribeReceiptTimeout(waitFor),
		stompc.ConnOpt.MsgSendTimeout(waitFor),
	}, opts...)
	conn, err := stompc.Dial("tcp", s.Addr("stomp"), opts...)
	if err != nil {
		t.Fatalf("go-stomp dial: %v", err)
	}
	c := &client{t: t, Conn: conn}
	t.Cleanup(c.close)
	return c
}

// close disconnects. go-stomp's reader blocks while a subscription channel
// is full, so every subscription is drained until the disconnect closes it.
func (c *client) close() {
	c.mu.Lock()
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			for range sub.C {
			}
		})
	}
	_ = c.Disconnect()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		c.t.Errorf("go-stomp subscriptions still open %v after DISCONNECT", waitFor)
	}
}

// subscribe subscribes and waits until the server has processed the
// SUBSCRIBE, so messages sent afterwards by anyone reach it. headers are
// key, value pairs added to the SUBSCRIBE frame.
//
// go-stomp stops reading the connection while a subscription channel is
// full (16 messages), so the wait would deadlock on a destination that
// already holds more than a few dozen messages: use subscribeAsync there.
func (c *client) subscribe(dest string, ack stompc.AckMode, headers ...string) *stompc.Subscription {
	c.t.Helper()
	sub := c.subscribeAsync(dest, ack, headers...)
	c.sync()
	return sub
}

// subscribeAsync subscribes without waiting for the server.
func (c *client) subscribeAsync(dest string, ack stompc.AckMode, headers ...string) *stompc.Subscription {
	c.t.Helper()
	var opts []func(*gsframe.Frame) error
	for i := 0; i+1 < len(headers); i += 2 {
		opts = append(opts, stompc.SubscribeOpt.Header(headers[i], headers[i+1]))
	}
	sub, err := c.Subscribe(dest, ack, opts...)
	if err != nil {
		c.t.Fatalf("SUBSCRIBE %s: %v", dest, err)
	}
	c.mu.Lock()
	c.subs = append(c.subs, sub)
	c.mu.Unlock()
	return sub
}

// sync waits until the server has handled every frame sent so far on this
// connection: frames are handled in order, and ABORT with a receipt has no
// other effect.
func (c *client) sync() {
	c.t.Helper()
	tx, err := c.BeginWithError()
	if err == nil {
		err = tx.AbortWithReceipt()
	}
	if err != nil {
		c.t.Fatalf("sync (BEGIN/ABORT with receipt): %v", err)
	}
}

// send sends a message with a receipt, so it is routed when send returns.
func (c *client) send(dest, body string, headers ...string) {
	c.t.Helper()
	if err := c.Send(dest, "text/plain", []byte(body), sendOpts(true, headers...)...); err != nil {
		c.t.Fatalf("SEND %s: %v", dest, err)
	}
}

// sendAsync sends without a receipt.
func (c *client) sendAsync(dest, body string, headers ...string) {
	c.t.Helper()
	if err := c.Send(dest, "text/plain", []byte(body), sendOpts(false, headers...)...); err != nil {
		c.t.Fatalf("SEND %s: %v", dest, err)
	}
}

func sendOpts(receipt bool, headers ...string) []func(*gsframe.Frame) error {
	var opts []func(*gsframe.Frame) error
	if receipt {
		opts = append(opts, stompc.SendOpt.Receipt)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		opts = append(opts, stompc.SendOpt.Header(headers[i], headers[i+1]))
	}
	return opts
}

// recv waits for the next message of sub.
func recv(t *testing.T, sub *stompc.Subscription) *stompc.Message {
	t.Helper()
	return testkit.RecvSTOMP(t, sub, waitFor)
}

// recvBodies receives n messages and returns their bodies.
func recvBodies(t *testing.T, sub *stompc.Subscription, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		out = append(out, string(recv(t, sub).Body))
	}
	return out
}

// expectOnly receives until the marker body arrives and fails on anything
// else: the broker delivers in order, so nothing unexpected was queued
// before the marker.
func expectOnly(t *testing.T, sub *stompc.Subscription, marker string) {
	t.Helper()
	if m := recv(t, sub); string(m.Body) != marker {
		t.Fatalf("got %q (headers %v) before the marker %q", m.Body, headerMap(m), marker)
	}
}

// delivery is a message and the index of the subscription it came from.
type delivery struct {
	consumer int
	m        *stompc.Message
}

// merge funnels several subscriptions into one channel until the test ends.
func merge(t *testing.T, subs []*stompc.Subscription) <-chan delivery {
	out := make(chan delivery)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, sub := range subs {
		wg.Go(func() {
			for {
				select {
				case m, ok := <-sub.C:
					if !ok {
						return
					}
					select {
					case out <- delivery{i, m}:
					case <-stop:
						return
					}
				case <-stop:
					return
				}
			}
		})
	}
	// Registered after the clients' cleanups, so it runs before them.
	t.Cleanup(func() { close(stop); wg.Wait() })
	return out
}

// next waits for the next merged delivery.
func next(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		if d.m.Err != nil {
			t.Fatalf("subscription %d: %v", d.consumer, d.m.Err)
		}
		return d
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
	}
	return delivery{}
}

// headerMap flattens a go-stomp header for failure messages.
func headerMap(m *stompc.Message) map[string]string {
	out := map[string]string{}
	for i := 0; i < m.Header.Len(); i++ {
		k, v := m.Header.GetAt(i)
		if _, dup := out[k]; !dup {
			out[k] = v
		}
	}
	return out
}

func wantHeader(t *testing.T, m *stompc.Message, key, want string) {
	t.Helper()
	got, ok := m.Header.Contains(key)
	if !ok || got != want {
		t.Errorf("header %s = %q (present %v), want %q; headers %v", key, got, ok, want, headerMap(m))
	}
}

// rawConn is a STOMP client with no opinions: it writes whatever bytes a
// test gives it and decodes what the server answers with the frame codec.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	rd *frame.Reader
	v  frame.Version
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return newRaw(t, nc)
}

func newRaw(t *testing.T, nc net.Conn) *rawConn {
	return &rawConn{t: t, nc: nc, rd: frame.NewReader(nc, frame.Limits{MaxBodySize: 8 << 20})}
}

// write sends bytes as they are.
func (r *rawConn) write(b string) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := r.nc.Write([]byte(b)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// frame sends a well-formed frame encoded for the negotiated version;
// headers are key, value pairs.
func (r *rawConn) frame(cmd, body string, headers ...string) {
	r.t.Helper()
	f := frame.Frame{Command: cmd, Body: []byte(body)}
	for i := 0; i+1 < len(headers); i += 2 {
		f.Add(headers[i], headers[i+1])
	}
	r.write(string(frame.AppendFrame(nil, &f, r.v)))
}

// read returns the next frame, skipping heart-beats.
func (r *rawConn) read() (*frame.Frame, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(waitFor))
	f := new(frame.Frame)
	for {
		hb, err := r.rd.ReadFrame(f)
		if err != nil {
			return nil, err
		}
		if !hb {
			return f, nil
		}
	}
}

// expect reads the next frame and checks its command.
func (r *rawConn) expect(cmd string) *frame.Frame {
	r.t.Helper()
	f, err := r.read()
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", cmd, err)
	}
	if f.Command != cmd {
		r.t.Fatalf("got %s %v %q, want %s", f.Command, f.Headers, f.Body, cmd)
	}
	return f
}

// connect sends CONNECT with the given headers (accept-version:1.2 unless
// given) and returns CONNECTED.
func (r *rawConn) connect(headers ...string) *frame.Frame {
	r.t.Helper()
	has := false
	for i := 0; i < len(headers); i += 2 {
		has = has || headers[i] == frame.HdrAcceptVersion
	}
	if !has {
		headers = append(headers, frame.HdrAcceptVersion, "1.2")
	}
	r.frame(frame.CmdConnect, "", append([]string{frame.HdrHost, "localhost"}, headers...)...)
	f := r.expect(frame.CmdConnected)
	v, _ := f.Get(frame.HdrVersion)
	switch v {
	case "1.1":
		r.v = frame.V1_1
	case "1.2":
		r.v = frame.V1_2
	default:
		r.v = frame.V1_0
	}
	r.rd.SetVersion(r.v)
	return f
}

// expectMessageAndReceipt reads a MESSAGE and the RECEIPT receiptID, in
// either order (the server may write a delivery a frame causes before that
// frame's receipt), and returns the MESSAGE.
func (r *rawConn) expectMessageAndReceipt(receiptID string) *frame.Frame {
	r.t.Helper()
	var msg *frame.Frame
	gotReceipt := false
	for msg == nil || !gotReceipt {
		f, err := r.read()
		if err != nil {
			r.t.Fatalf("waiting for MESSAGE and RECEIPT %s: %v", receiptID, err)
		}
		switch {
		case f.Command == "MESSAGE" && msg == nil:
			msg = f
		case f.Command == "RECEIPT" && !gotReceipt:
			if id, _ := f.Get(frame.HdrReceiptID); id != receiptID {
				r.t.Fatalf("receipt-id %q, want %q", id, receiptID)
			}
			gotReceipt = true
		default:
			r.t.Fatalf("unexpected %s %v", f.Command, f.Headers)
		}
	}
	return msg
}

// expectError waits for an ERROR frame with a message header, then for
// the server to close the connection (spec: "ERROR ... the server MUST
// close the connection").
func (r *rawConn) expectError() *frame.Frame {
	r.t.Helper()
	f := r.expect(frame.CmdError)
	if msg, ok := f.Get(frame.HdrMessage); !ok || msg == "" {
		r.t.Errorf("ERROR frame without a message header: %v", f.Headers)
	}
	r.expectClosed()
	return f
}

// expectClosed reads until the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(waitFor))
	var buf [4096]byte
	for {
		_, err := r.nc.Read(buf[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("server did not close the connection within %v", waitFor)
		}
		if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
			r.t.Fatalf("reading until close: %v", err)
		}
		return
	}
}

// seqBodies returns "prefix-0" .. "prefix-(n-1)".
func seqBodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(i)
	}
	return out
}

func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}
