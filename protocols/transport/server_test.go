package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestEchoTCPAndTLS(t *testing.T) {
	serverTLS, clientTLS := testCerts(t)
	tests := []struct {
		name      string
		serverTLS *tls.Config
		clientTLS *tls.Config
	}{
		{name: "tcp"},
		{name: "tls", serverTLS: serverTLS, clientTLS: clientTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			type info struct {
				listener string
				tlsOK    bool
				tlsDone  bool
				remote   string
			}
			infos := make(chan info, 1)
			h := HandlerFunc(func(ctx context.Context, c net.Conn) {
				st, ok := TLSConnectionState(c)
				infos <- info{ListenerName(ctx), ok, st.HandshakeComplete, c.RemoteAddr().String()}
				echo(ctx, c)
			})
			addr := srv.serveTCP("l-"+tt.name, tt.serverTLS, h)

			var c net.Conn
			var err error
			if tt.clientTLS != nil {
				c, err = tls.Dial("tcp", addr, tt.clientTLS)
			} else {
				c, err = net.Dial("tcp", addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := []byte("CONNECT\naccept-version:1.2\n\n\x00")
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if err := c.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(msg) {
				t.Fatalf("echo = %q, want %q", got, msg)
			}
			in := recv(t, infos, "handler")
			if in.listener != "l-"+tt.name {
				t.Errorf("ListenerName = %q, want %q", in.listener, "l-"+tt.name)
			}
			if in.tlsOK != (tt.serverTLS != nil) || in.tlsOK && !in.tlsDone {
				t.Errorf("TLSConnectionState ok=%v complete=%v, want ok=%v complete", in.tlsOK, in.tlsDone, tt.serverTLS != nil)
			}
			if in.remote != c.LocalAddr().String() {
				t.Errorf("RemoteAddr = %s, want %s", in.remote, c.LocalAddr())
			}
		})
	}
}

func TestTLSHandshakeFailureNeverReachesHandler(t *testing.T) {
	serverTLS, _ := testCerts(t)
	done := make(chan struct{}, 1)
	srv := newTestServer(t, nil)
	srv.connDone = func() { done <- struct{}{} }
	called := make(chan struct{}, 1)
	addr := srv.serveTCP("tls", serverTLS, HandlerFunc(func(context.Context, net.Conn) { called <- struct{}{} }))

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Not a ClientHello: the handshake fails and the server hangs up.
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	recv(t, done, "connection to be released")
	select {
	case <-called:
		t.Fatal("handler called for a failed TLS handshake")
	default:
	}
	if n := srv.ActiveConns("tls"); n != 0 {
		t.Errorf("ActiveConns = %d after failed handshake, want 0", n)
	}
}

func TestListenTCPRejectsTLSWithoutCertificate(t *testing.T) {
	ln, err := ListenTCP("127.0.0.1:0", &tls.Config{})
	if err == nil {
		ln.Close()
		t.Fatal("ListenTCP accepted a TLS config without certificate")
	}
}

func TestStatsCountConnections(t *testing.T) {
	done := make(chan struct{}, 8)
	srv := newTestServer(t, nil)
	srv.connDone = func() { done <- struct{}{} }
	started := make(chan struct{}, 8)
	addr := srv.serveTCP("mqtt", nil, HandlerFunc(func(ctx context.Context, c net.Conn) {
		started <- struct{}{}
		echo(ctx, c)
	}))

	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		recv(t, started, "handler start")
	}
	if n := srv.ActiveConns("mqtt"); n != 3 {
		t.Errorf("ActiveConns = %d, want 3", n)
	}
	clients[0].Close()
	recv(t, done, "connection release")
	if n := srv.ActiveConns("mqtt"); n != 2 {
		t.Errorf("ActiveConns after one close = %d, want 2", n)
	}
	st := srv.Stats()
	if len(st) != 1 {
		t.Fatalf("Stats = %+v, want one listener", st)
	}
	want := ListenerStats{Name: "mqtt", Kind: "tcp", Addr: addr, Serving: true, Active: 2, Accepted: 3}
	if st[0] != want {
		t.Errorf("Stats = %+v, want %+v", st[0], want)
	}
	if n := srv.ActiveConns("nope"); n != 0 {
		t.Errorf("ActiveConns(unknown) = %d", n)
	}
}

func TestServeRejectsDuplicateName(t *testing.T) {
	srv := newTestServer(t, nil)
	started := make(chan struct{}, 1)
	addr := srv.serveTCP("stomp", nil, HandlerFunc(func(ctx context.Context, c net.Conn) {
		started <- struct{}{}
		echo(ctx, c)
	}))
	// Wait until the first Serve is registered: its handler has run.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recv(t, started, "handler start")

	ln, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Serve("stomp", ln, echo)
	if err == nil || errors.Is(err, ErrServerClosed) {
		t.Fatalf("second Serve with the same name = %v, want a duplicate-name error", err)
	}
	// Serve owns ln, even when it refuses it.
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("refused listener not closed: Accept = %v", err)
	}
}

func TestShutdownClosesConnectionsAndWaits(t *testing.T) {
	srv := NewServer(discardLogger())
	type result struct {
		readErr error
		ctxErr  error
	}
	results := make(chan result, 2)
	returned := make(chan struct{}, 2)
	started := make(chan struct{}, 2)
	blocking := HandlerFunc(func(ctx context.Context, c net.Conn) {
		defer func() { returned <- struct{}{} }()
		started <- struct{}{}
		_, err := c.Read(make([]byte, 1))
		results <- result{err, ctx.Err()}
	})
	ws := NewWebSocket(discardLogger())
	if err := ws.HandleSTOMP(blocking); err != nil {
		t.Fatal(err)
	}

	tcpLn, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsLn, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	serveErrs := make(chan error, 2)
	go func() { serveErrs <- srv.Serve("tcp", tcpLn, blocking) }()
	go func() { serveErrs <- srv.ServeWebSocket("ws", wsLn, ws) }()

	tc, err := net.Dial("tcp", tcpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	recv(t, started, "tcp handler")
	wc := newWSClient(t, nil).mustDial(t, "ws://"+wsLn.Addr().String()+"/stomp", SubprotocolSTOMP12)
	recv(t, started, "ws handler")

	// The WebSocket client must read to answer the close handshake.
	wsClosed := make(chan error, 1)
	go func() {
		_, _, err := wc.Read(context.Background())
		wsClosed <- err
	}()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	// Shutdown waited: both handlers have already returned.
	for range 2 {
		select {
		case <-returned:
		default:
			t.Fatal("Shutdown returned before a handler did")
		}
		r := <-results
		if r.readErr == nil {
			t.Error("handler Read returned no error after Shutdown")
		}
		if !errors.Is(r.ctxErr, context.Canceled) {
			t.Errorf("handler ctx.Err() = %v, want Canceled", r.ctxErr)
		}
	}
	for range 2 {
		if err := recv(t, serveErrs, "Serve to return"); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	}
	if err := recv(t, wsClosed, "ws client close"); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("ws client read = %v, want close status 1001", err)
	}
	if err := tc.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("tcp client read = %v, want EOF", err)
	}
	for _, st := range srv.Stats() {
		if st.Active != 0 || st.Serving {
			t.Errorf("after Shutdown %+v, want no active connection, not serving", st)
		}
	}

	// Refused after Shutdown.
	ln, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve("late", ln, echo); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	ln, err = ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ServeWebSocket("late-ws", ln, ws); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeWebSocket after Shutdown = %v", err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}

func TestShutdownBoundedByContext(t *testing.T) {
	srv := NewServer(discardLogger())
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	returned := make(chan struct{})
	stuck := HandlerFunc(func(context.Context, net.Conn) {
		defer close(returned)
		started <- struct{}{}
		<-release // ignores both ctx and the closed connection
	})
	ln, err := ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve("tcp", ln, stuck) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recv(t, started, "handler")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck handler = %v, want DeadlineExceeded", err)
	}
	if err := recv(t, serveErr, "Serve"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	close(release)
	recv(t, returned, "handler return")
	// A later Shutdown sees the handler gone.
	ctx2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}

func TestHandlerPanicIsContained(t *testing.T) {
	logs := &syncBuffer{}
	srv := newTestServer(t, slogTo(logs))
	var calls atomic.Int32
	addr := srv.serveTCP("tcp", nil, HandlerFunc(func(ctx context.Context, c net.Conn) {
		if calls.Add(1) == 1 {
			panic("adapter bug")
		}
		echo(ctx, c)
	}))

	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if err := c1.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("panicking handler's client read = %v, want EOF", err)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := c2.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c2).Peek(4)
	if err != nil || string(line) != "ping" {
		t.Fatalf("listener dead after a panic: %q, %v", line, err)
	}
	if !strings.Contains(logs.String(), "adapter bug") {
		t.Errorf("panic not logged; log:\n%s", logs)
	}
}

// scriptedListener returns the queued accept results, then blocks until
// closed.
type scriptedListener struct {
	results chan acceptResult
	calls   chan time.Time
	closed  chan struct{}
	once    sync.Once
	forever error // if set, every Accept fails with it
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newScriptedListener() *scriptedListener {
	return &scriptedListener{
		results: make(chan acceptResult, 16),
		calls:   make(chan time.Time, 1024),
		closed:  make(chan struct{}),
	}
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	select {
	case l.calls <- time.Now():
	default:
	}
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	if l.forever != nil {
		return nil, l.forever
	}
	select {
	case r := <-l.results:
		return r.c, r.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *scriptedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *scriptedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func emfile() error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

func TestAcceptBacksOffOnTemporaryErrors(t *testing.T) {
	srv := newTestServer(t, nil)
	ln := newScriptedListener()
	for range 3 {
		ln.results <- acceptResult{err: emfile()}
	}
	server, client := net.Pipe()
	defer client.Close()
	ln.results <- acceptResult{c: server}

	got := make(chan net.Conn, 1)
	srv.n++
	go func() {
		srv.errc <- srv.Serve("tcp", ln, HandlerFunc(func(_ context.Context, c net.Conn) { got <- c }))
	}()
	if c := recv(t, got, "handler after accept errors"); c != server {
		t.Errorf("handler got %v, want the accepted conn", c)
	}
	var calls []time.Time
	for range 4 {
		calls = append(calls, recv(t, ln.calls, "Accept call"))
	}
	// Each retry waits at least twice as long as the previous one.
	for i, want := range []time.Duration{acceptBackoffMin, 2 * acceptBackoffMin, 4 * acceptBackoffMin} {
		if gap := calls[i+1].Sub(calls[i]); gap < want {
			t.Errorf("retry %d after %v, want >= %v", i+1, gap, want)
		}
	}
}

func TestShutdownInterruptsAcceptBackoff(t *testing.T) {
	srv := NewServer(discardLogger())
	ln := newScriptedListener()
	ln.forever = emfile()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve("tcp", ln, echo) }()
	for range 3 { // deep enough into the back-off
		recv(t, ln.calls, "Accept call")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, serveErr, "Serve"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if d := time.Since(start); d > acceptBackoffMax {
		t.Errorf("Shutdown took %v during accept back-off", d)
	}
}

func TestServeReportsForeignClose(t *testing.T) {
	srv := newTestServer(t, nil)
	ln := newScriptedListener()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve("tcp", ln, echo) }()
	recv(t, ln.calls, "Accept call")
	ln.Close()
	err := recv(t, serveErr, "Serve")
	if err == nil || errors.Is(err, ErrServerClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after the listener was closed elsewhere = %v, want net.ErrClosed", err)
	}
}

func TestServeNilHandler(t *testing.T) {
	srv := newTestServer(t, nil)
	ln := newScriptedListener()
	if err := srv.Serve("tcp", ln, nil); err == nil {
		t.Error("Serve(nil handler) succeeded")
	}
	if err := srv.ServeWebSocket("ws", newScriptedListener(), nil); err == nil {
		t.Error("ServeWebSocket(nil) succeeded")
	}
}
