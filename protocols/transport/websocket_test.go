package transport

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

type connInfo struct {
	proto    string
	remote   string
	local    string
	listener string
	tlsOK    bool
}

// infoEcho reports what the handler saw, then echoes.
func infoEcho(infos chan<- connInfo) Handler {
	return HandlerFunc(func(ctx context.Context, c net.Conn) {
		_, ok := TLSConnectionState(c)
		infos <- connInfo{Subprotocol(c), c.RemoteAddr().String(), c.LocalAddr().String(), ListenerName(ctx), ok}
		echo(ctx, c)
	})
}

func TestWebSocketEchoAndNegotiation(t *testing.T) {
	serverTLS, clientTLS := testCerts(t)
	tests := []struct {
		name      string
		secure    bool
		offer     []string
		wantProto string
		wantType  websocket.MessageType
	}{
		{"stomp.js offer", false, []string{"v12.stomp", "v11.stomp", "v10.stomp"}, "v12.stomp", websocket.MessageText},
		{"client order wins", false, []string{"v10.stomp", "v12.stomp"}, "v10.stomp", websocket.MessageText},
		{"stomp 1.1 only", false, []string{"v11.stomp"}, "v11.stomp", websocket.MessageText},
		{"mqtt", false, []string{"mqtt"}, "mqtt", websocket.MessageBinary},
		{"mqtt 3.1", false, []string{"mqttv3.1"}, "mqttv3.1", websocket.MessageBinary},
		{"unknown first", false, []string{"amqp", "mqtt"}, "mqtt", websocket.MessageBinary},
		{"case-insensitive", false, []string{"MQTT"}, "MQTT", websocket.MessageBinary},
		{"wss stomp", true, []string{"v12.stomp"}, "v12.stomp", websocket.MessageText},
		{"wss mqtt", true, []string{"mqtt"}, "mqtt", websocket.MessageBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			stompInfos := make(chan connInfo, 1)
			mqttInfos := make(chan connInfo, 1)
			ws := NewWebSocket(discardLogger())
			if err := ws.HandleSTOMP(infoEcho(stompInfos)); err != nil {
				t.Fatal(err)
			}
			if err := ws.HandleMQTT(infoEcho(mqttInfos)); err != nil {
				t.Fatal(err)
			}
			var sTLS, cTLS *tls.Config
			scheme := "ws://"
			if tt.secure {
				sTLS, cTLS, scheme = serverTLS, clientTLS, "wss://"
			}
			addr := srv.serveWS("web", sTLS, ws)
			client := newWSClient(t, cTLS)
			c := client.mustDial(t, scheme+addr+"/ws", tt.offer...)
			if c.Subprotocol() != tt.wantProto {
				t.Errorf("client negotiated %q, want %q", c.Subprotocol(), tt.wantProto)
			}

			for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
				wsWrite(t, c, typ, []byte("PING"))
				gotType, got := wsRead(t, c)
				if string(got) != "PING" || gotType != tt.wantType {
					t.Errorf("sent %v, echo = %v %q, want %v %q", typ, gotType, got, tt.wantType, "PING")
				}
			}

			infos := mqttInfos
			if tt.wantType == websocket.MessageText {
				infos = stompInfos
			}
			in := recv(t, infos, "handler")
			if in.proto != tt.wantProto {
				t.Errorf("Subprotocol() = %q, want %q", in.proto, tt.wantProto)
			}
			if in.remote != client.localAddr().String() {
				t.Errorf("RemoteAddr = %s, want client address %s", in.remote, client.localAddr())
			}
			if in.local != addr {
				t.Errorf("LocalAddr = %s, want %s", in.local, addr)
			}
			if in.listener != "web" {
				t.Errorf("ListenerName = %q", in.listener)
			}
			if in.tlsOK != tt.secure {
				t.Errorf("TLSConnectionState ok = %v, want %v", in.tlsOK, tt.secure)
			}
			if n := srv.ActiveConns("web"); n != 1 {
				t.Errorf("ActiveConns = %d, want 1", n)
			}
		})
	}
}

func TestWebSocketReadsMessagesAsOneStream(t *testing.T) {
	srv := newTestServer(t, nil)
	got := make(chan string, 1)
	ws := NewWebSocket(discardLogger())
	if err := ws.HandleSTOMP(HandlerFunc(func(_ context.Context, c net.Conn) {
		buf := make([]byte, 12)
		_, err := io.ReadFull(c, buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf)
	})); err != nil {
		t.Fatal(err)
	}
	addr := srv.serveWS("web", nil, ws)
	c := newWSClient(t, nil).mustDial(t, "ws://"+addr, SubprotocolSTOMP12)
	wsWrite(t, c, websocket.MessageText, []byte("abc"))
	wsWrite(t, c, websocket.MessageBinary, []byte("def"))
	wsWrite(t, c, websocket.MessageText, nil) // empty message contributes nothing
	wsWrite(t, c, websocket.MessageBinary, []byte{0, 0xff, 1})
	wsWrite(t, c, websocket.MessageText, []byte("ghi"))
	if s := recv(t, got, "stream"); s != "abcdef\x00\xff\x01ghi" {
		t.Errorf("stream = %q, want %q", s, "abcdef\x00\xff\x01ghi")
	}
}

func TestWebSocketWriteIsOneMessage(t *testing.T) {
	frames := "MESSAGE\ndestination:/queue/a\n\nhello\x00MESSAGE\ndestination:/queue/a\n\nworld\x00"
	tests := []struct {
		name     string
		register func(*WebSocket, Handler) error
		proto    string
		writes   [][]byte
		want     []websocket.MessageType
	}{
		{"stomp coalesced frames", (*WebSocket).HandleSTOMP, SubprotocolSTOMP12,
			[][]byte{[]byte(frames), []byte("\n")}, []websocket.MessageType{websocket.MessageText, websocket.MessageText}},
		{"stomp non-UTF-8 body goes binary", (*WebSocket).HandleSTOMP, SubprotocolSTOMP12,
			[][]byte{{'M', 0xff, 0xfe, 0}, []byte("ok")}, []websocket.MessageType{websocket.MessageBinary, websocket.MessageText}},
		{"mqtt always binary", (*WebSocket).HandleMQTT, SubprotocolMQTT,
			[][]byte{{0x20, 0x02, 0x00, 0x00}, []byte("text-looking")}, []websocket.MessageType{websocket.MessageBinary, websocket.MessageBinary}},
		{"large write", (*WebSocket).HandleMQTT, SubprotocolMQTT,
			[][]byte{make([]byte, 1<<20)}, []websocket.MessageType{websocket.MessageBinary}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			errs := make(chan error, 1)
			ws := NewWebSocket(discardLogger())
			err := tt.register(ws, HandlerFunc(func(_ context.Context, c net.Conn) {
				for _, w := range tt.writes {
					if n, err := c.Write(w); err != nil || n != len(w) {
						errs <- errors.Join(err, errors.New("short write"))
						return
					}
				}
				errs <- nil
				_, _ = c.Read(make([]byte, 1)) // hold the connection until the client leaves
			}))
			if err != nil {
				t.Fatal(err)
			}
			addr := srv.serveWS("web", nil, ws)
			c := newWSClient(t, nil).mustDial(t, "ws://"+addr, tt.proto)
			c.SetReadLimit(-1)
			// Read before awaiting the handler: a Write returns only once
			// the kernel has taken all its bytes, and 1 MiB fits in the
			// loopback socket buffers only when they happen to have grown
			// that far, so waiting for the handler first deadlocked (until
			// the timeout) whenever a loaded machine left them small.
			for i, w := range tt.writes {
				typ, got := wsRead(t, c)
				if typ != tt.want[i] || string(got) != string(w) {
					t.Errorf("message %d = %v %d bytes, want %v %d bytes (one message per Write)", i, typ, len(got), tt.want[i], len(w))
				}
			}
			if err := recv(t, errs, "handler writes"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// upgradeRequest performs a WebSocket handshake by hand so the response
// of a refused one can be inspected.
func upgradeRequest(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: waitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestWebSocketRejectsHandshakes(t *testing.T) {
	upgrade := map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     base64.StdEncoding.EncodeToString(make([]byte, 16)),
	}
	with := func(kv ...string) map[string]string {
		h := make(map[string]string)
		for k, v := range upgrade {
			h[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	tests := []struct {
		name     string
		origins  []string
		header   map[string]string
		wantCode int
		wantBody string
	}{
		{"unknown subprotocol", nil, with("Sec-WebSocket-Protocol", "amqp, openwire"), http.StatusBadRequest, "v12.stomp"},
		{"no subprotocol", nil, upgrade, http.StatusBadRequest, "mqtt"},
		{"not an upgrade", nil, nil, http.StatusUpgradeRequired, "WebSocket endpoint"},
		{"bad version", nil, with("Sec-WebSocket-Protocol", "mqtt", "Sec-WebSocket-Version", "8"), http.StatusBadRequest, ""},
		{"any origin by default", nil, with("Sec-WebSocket-Protocol", "mqtt", "Origin", "https://elsewhere.example"), http.StatusSwitchingProtocols, ""},
		{"origin refused", []string{"app.example"}, with("Sec-WebSocket-Protocol", "mqtt", "Origin", "https://evil.example"), http.StatusForbidden, ""},
		{"origin allowed", []string{"app.example"}, with("Sec-WebSocket-Protocol", "mqtt", "Origin", "https://app.example"), http.StatusSwitchingProtocols, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			ws := NewWebSocket(discardLogger())
			ws.SetOriginPatterns(tt.origins...)
			called := make(chan struct{}, 1)
			h := HandlerFunc(func(context.Context, net.Conn) { called <- struct{}{} })
			if err := ws.HandleSTOMP(h); err != nil {
				t.Fatal(err)
			}
			if err := ws.HandleMQTT(h); err != nil {
				t.Fatal(err)
			}
			addr := srv.serveWS("web", nil, ws)
			if tt.wantCode == http.StatusSwitchingProtocols {
				// A successful upgrade is checked with a real client.
				c, _, err := newWSClient(t, nil).dial(t, "ws://"+addr, &websocket.DialOptions{
					Subprotocols: []string{tt.header["Sec-WebSocket-Protocol"]},
					HTTPHeader:   http.Header{"Origin": {tt.header["Origin"]}},
				})
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				recv(t, called, "handler")
				_ = c.Close(websocket.StatusNormalClosure, "")
				return
			}
			resp, body := upgradeRequest(t, "http://"+addr+"/", tt.header)
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d (body %q)", resp.StatusCode, tt.wantCode, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body = %q, want it to mention %q", body, tt.wantBody)
			}
			select {
			case <-called:
				t.Error("handler called for a refused handshake")
			default:
			}
		})
	}
}

func TestWebSocketHandleErrors(t *testing.T) {
	tests := []struct {
		name  string
		h     Handler
		typ   MessageType
		proto []string
	}{
		{"nil handler", nil, Text, []string{"x"}},
		{"bad type", echo, MessageType(7), []string{"x"}},
		{"no subprotocol", echo, Binary, nil},
		{"not a token", echo, Binary, []string{"a b"}},
		{"empty", echo, Binary, []string{""}},
		{"listed twice", echo, Binary, []string{"x", "X"}},
		{"already registered", echo, Binary, []string{"MQTT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := NewWebSocket(nil)
			if err := ws.HandleMQTT(echo); err != nil {
				t.Fatal(err)
			}
			if err := ws.Handle(tt.h, tt.typ, tt.proto...); err == nil {
				t.Error("Handle succeeded")
			}
			// A failed registration leaves nothing behind.
			if reg, _ := ws.match([]string{"x"}); reg != nil {
				t.Error("failed Handle registered x")
			}
		})
	}
}

// wsDeadlineServer serves one STOMP handler and returns a connected client.
func wsDeadlineServer(t *testing.T, h HandlerFunc) *websocket.Conn {
	t.Helper()
	srv := newTestServer(t, nil)
	ws := NewWebSocket(discardLogger())
	if err := ws.HandleSTOMP(h); err != nil {
		t.Fatal(err)
	}
	addr := srv.serveWS("web", nil, ws)
	return newWSClient(t, nil).mustDial(t, "ws://"+addr, SubprotocolSTOMP12)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

func TestWebSocketReadDeadlineExpiresDuringRead(t *testing.T) {
	errs := make(chan error, 1)
	c := wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
		if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			errs <- err
			return
		}
		_, err := c.Read(make([]byte, 16))
		errs <- err
	})
	err := recv(t, errs, "Read to time out")
	if !isTimeout(err) {
		t.Fatalf("Read = %v, want a timeout net.Error wrapping os.ErrDeadlineExceeded", err)
	}
	// A deadline during a blocked Read ends the connection.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, _, err := c.Read(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("client Read after server timeout = %v (ctx %v), want connection closed", err, ctx.Err())
	}
}

func TestWebSocketExpiredDeadlineIsNotFatalBetweenCalls(t *testing.T) {
	type step struct {
		n   int
		err error
	}
	steps := make(chan step, 4)
	ready := make(chan struct{})
	c := wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
		buf := make([]byte, 16)
		// Past deadlines fail at once, for reads and writes.
		_ = c.SetDeadline(time.Now().Add(-time.Second))
		n, err := c.Read(buf)
		steps <- step{n, err}
		n, err = c.Write([]byte("x"))
		steps <- step{n, err}
		// Clearing the deadline makes the connection usable again.
		_ = c.SetDeadline(time.Time{})
		close(ready)
		n, err = c.Read(buf)
		steps <- step{n, err}
		n, err = c.Write(buf[:n])
		steps <- step{n, err}
	})
	for i, what := range []string{"Read", "Write"} {
		s := recv(t, steps, what)
		if s.n != 0 || !isTimeout(s.err) {
			t.Errorf("step %d: %s with a past deadline = %d, %v; want timeout", i, what, s.n, s.err)
		}
	}
	<-ready
	wsWrite(t, c, websocket.MessageText, []byte("again"))
	if s := recv(t, steps, "Read"); s.n != 5 || s.err != nil {
		t.Errorf("Read after clearing the deadline = %d, %v", s.n, s.err)
	}
	if s := recv(t, steps, "Write"); s.n != 5 || s.err != nil {
		t.Errorf("Write after clearing the deadline = %d, %v", s.n, s.err)
	}
	if _, got := wsRead(t, c); string(got) != "again" {
		t.Errorf("echo = %q", got)
	}
}

// TestWebSocketMovedDeadlineDoesNotFire: a read deadline moved later before
// it passes does not fire at its first time. The scenario needs the move to
// come before the first deadline; a scheduler that stalls the server for
// longer than 20 ms breaks that premise, so such an attempt is detected (the
// server reports when the move happened) and run again instead of failing.
// Catches the mutation "a timer that fires before the moved deadline does
// not re-arm" (the read times out at the first deadline).
func TestWebSocketMovedDeadlineDoesNotFire(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	for attempt := 1; ; attempt++ {
		res := make(chan result, 1)
		type armedAt struct{ first, moved time.Time }
		armed := make(chan armedAt, 1)
		c := wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
			first := time.Now().Add(20 * time.Millisecond)
			_ = c.SetReadDeadline(first)
			_ = c.SetReadDeadline(time.Now().Add(waitTimeout)) // heart-beat arrived: extend
			armed <- armedAt{first, time.Now()}
			n, err := c.Read(make([]byte, 16))
			res <- result{n, err}
		})
		a := <-armed
		if !a.moved.Before(a.first) {
			if attempt == 5 {
				t.Fatalf("the server never moved its deadline within 20 ms in %d attempts", attempt)
			}
			continue // the premise failed, not the code
		}
		// Send only once the first deadline has passed: it must not fire.
		time.Sleep(time.Until(a.first) + 10*time.Millisecond)
		wsWrite(t, c, websocket.MessageText, []byte("\n"))
		if r := recv(t, res, "Read"); r.n != 1 || r.err != nil {
			t.Errorf("Read with an extended deadline = %d, %v; want the heart-beat", r.n, r.err)
		}
		return
	}
}

func TestWebSocketWriteDeadline(t *testing.T) {
	errs := make(chan error, 1)
	// The client never reads, so socket buffers fill and a Write blocks.
	_ = wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
		_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		chunk := make([]byte, 256<<10)
		for range 4096 {
			if _, err := c.Write(chunk); err != nil {
				errs <- err
				return
			}
		}
		errs <- errors.New("1 GiB written to a client that does not read")
	})
	if err := recv(t, errs, "Write to time out"); !isTimeout(err) {
		t.Errorf("blocked Write = %v, want timeout", err)
	}
}

func TestWebSocketPeerCloseReadsEOF(t *testing.T) {
	tests := []struct {
		name    string
		code    websocket.StatusCode
		wantEOF bool
	}{
		{"normal", websocket.StatusNormalClosure, true},
		{"going away", websocket.StatusGoingAway, true},
		{"protocol error", websocket.StatusProtocolError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan error, 2)
			c := wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
				buf := make([]byte, 16)
				_, err := c.Read(buf)
				errs <- err
				_, err = c.Read(buf) // stays at EOF
				errs <- err
			})
			if err := c.Close(tt.code, "bye"); err != nil && tt.wantEOF {
				t.Errorf("client Close = %v", err)
			}
			for i := range 2 {
				err := recv(t, errs, "Read")
				if tt.wantEOF && err != io.EOF {
					t.Errorf("Read %d after close %d = %v, want io.EOF", i, tt.code, err)
				}
				if !tt.wantEOF && (err == nil || err == io.EOF) {
					t.Errorf("Read %d after close %d = %v, want an error other than EOF", i, tt.code, err)
				}
			}
		})
	}
}

func TestWebSocketConnCloseIsClean(t *testing.T) {
	results := make(chan [3]error, 1)
	c := wsDeadlineServer(t, func(_ context.Context, c net.Conn) {
		var r [3]error
		r[0] = c.Close()
		r[1] = c.Close()
		r[2] = c.SetReadDeadline(time.Now())
		results <- r
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("client saw %v, want close status 1000", err)
	}
	r := recv(t, results, "server Close")
	if r[0] != nil {
		t.Errorf("Close = %v", r[0])
	}
	if !errors.Is(r[1], net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", r[1])
	}
	if !errors.Is(r[2], net.ErrClosed) {
		t.Errorf("SetReadDeadline after Close = %v, want net.ErrClosed", r[2])
	}
}

// TestDeadlineTimer catches the same mutation as the test above ("extended"
// aborts at the first deadline) and "a shortened deadline keeps the later
// timer" ("shortened" would wait an hour).
func TestDeadlineTimer(t *testing.T) {
	tests := []struct {
		name  string
		first time.Duration // deadline set first
		then  time.Duration // deadline it is moved to; fires at this one
	}{
		{"extended: timer re-arms", 20 * time.Millisecond, 80 * time.Millisecond},
		{"shortened: timer resets", time.Hour, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aborted := make(chan time.Time, 1)
			d := &deadline{abort: func() { aborted <- time.Now() }}
			defer func() { d.stop() }()
			if !d.begin() {
				t.Fatal("begin failed without a deadline")
			}
			// The move must come before the first deadline passes; a
			// scheduler stall longer than 20 ms voids the attempt (detected,
			// and tried again with a fresh timer) rather than failing it.
			var want time.Time
			for attempt := 1; ; attempt++ {
				first := time.Now().Add(tt.first)
				d.set(first)
				want = time.Now().Add(tt.then)
				d.set(want)
				if time.Now().Before(first) {
					break
				}
				if attempt == 5 {
					t.Fatalf("could not move the deadline within %v in %d attempts", tt.first, attempt)
				}
				d.stop()
				ch := make(chan time.Time, 1) // the old timer may still fire into the old one
				aborted = ch
				d = &deadline{abort: func() { ch <- time.Now() }}
				if !d.begin() {
					t.Fatal("begin failed without a deadline")
				}
			}
			at := recv(t, aborted, "abort")
			if at.Before(want) {
				t.Errorf("aborted %v before the deadline", want.Sub(at))
			}
			if !d.end() {
				t.Error("end() did not report the expiry")
			}
			if d.begin() {
				t.Error("begin() succeeded after expiry")
			}
			d.set(time.Time{})
			if !d.begin() {
				t.Error("begin() failed after clearing the deadline")
			}
		})
	}
}
