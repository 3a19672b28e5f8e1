package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Handler is a protocol adapter's per-connection entry point. ServeConn owns
// c until it returns; the Server closes c afterwards (closing it earlier is
// fine). ctx is cancelled when the connection's handler returns or the
// Server shuts down.
type Handler interface {
	ServeConn(ctx context.Context, c net.Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c net.Conn)

// ServeConn calls f(ctx, c).
func (f HandlerFunc) ServeConn(ctx context.Context, c net.Conn) { f(ctx, c) }

// ErrServerClosed is returned by Serve and ServeWebSocket once Shutdown has
// been called.
var ErrServerClosed = errors.New("transport: server closed")

const (
	// handshakeTimeout bounds the TLS handshake and the HTTP upgrade
	// request, so a client that connects and stays silent cannot pin a
	// goroutine before an adapter sees it.
	handshakeTimeout = 10 * time.Second
	// maxHandshakeHeaderBytes bounds the WebSocket upgrade request headers;
	// browsers send cookies, so keep room for them.
	maxHandshakeHeaderBytes = 32 << 10

	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Server runs accept loops for named listeners and tracks every live
// connection so Shutdown can close them and wait for their handlers.
// The zero value is not usable; call NewServer.
type Server struct {
	log *slog.Logger

	ctx    context.Context // parent of every connection context
	cancel context.CancelFunc
	done   chan struct{} // closed by Shutdown; interrupts accept back-off

	mu        sync.Mutex
	closed    bool
	listeners map[string]*listener
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // accept loops and connection goroutines

	// connDone, when set (tests only), runs after a connection is untracked.
	connDone func()
	// raw: plain TCP connections of detached handlers are served from
	// their descriptors (fdConn) rather than through net.TCPConn.
	raw bool
}

type listener struct {
	s       *Server
	name    string
	kind    string
	addr    string
	serving bool
	stop    func() error    // stops accepting; valid while serving
	ctx     context.Context // the server's, carrying the listener name

	active   atomic.Int64
	accepted atomic.Uint64
}

// conn is one tracked connection.
type conn struct {
	nc     net.Conn
	ws     *WebSocketConn // nc as a WebSocketConn, nil for byte streams
	cancel context.CancelFunc
}

// NewServer returns a Server that logs to logger (slog.Default() if nil).
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		log:       logger,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		listeners: make(map[string]*listener),
		conns:     make(map[*conn]struct{}),
		raw:       os.Getenv("JUNCTION_NET_CONN") == "",
	}
}

// ListenerStats describes one named listener.
type ListenerStats struct {
	Name     string
	Kind     string // "tcp" or "websocket"
	Addr     string
	Serving  bool   // the accept loop is running
	Active   int64  // live connections (TLS handshake or handler running)
	Accepted uint64 // connections accepted (WebSocket: upgraded) since the Server started
}

// Stats returns every listener the Server has served, sorted by name.
func (s *Server) Stats() []ListenerStats {
	s.mu.Lock()
	out := make([]ListenerStats, 0, len(s.listeners))
	for _, l := range s.listeners {
		out = append(out, ListenerStats{
			Name:     l.name,
			Kind:     l.kind,
			Addr:     l.addr,
			Serving:  l.serving,
			Active:   l.active.Load(),
			Accepted: l.accepted.Load(),
		})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ActiveConns returns the number of live connections of the named listener.
func (s *Server) ActiveConns(name string) int64 {
	s.mu.Lock()
	l := s.listeners[name]
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.active.Load()
}

type listenerNameKey struct{}

// ListenerName returns the name of the listener that accepted the
// connection whose context is ctx, or "".
func ListenerName(ctx context.Context) string {
	name, _ := ctx.Value(listenerNameKey{}).(string)
	return name
}

// Serve accepts connections on ln and runs h.ServeConn for each in its own
// goroutine. It blocks until Shutdown (then it returns ErrServerClosed) or
// until ln is closed by someone else. The Server owns ln and closes it.
// (A plain TCP listener of a DetachedHandler is served from a duplicate of
// its socket, see adoptListener: closing ln alone does not stop that one;
// Shutdown does.)
func (s *Server) Serve(name string, ln net.Listener, h Handler) error {
	if h == nil {
		_ = ln.Close()
		return fmt.Errorf("transport: listener %q: nil handler", name)
	}
	_, detached := h.(DetachedHandler)
	accept, stop := ln.Accept, ln.Close
	if tl, ok := ln.(*net.TCPListener); ok && detached && s.raw {
		// Accepted straight into fdConns: Go's netFD, its addresses and
		// its poller registration are never made for a connection.
		if rl, err := adoptListener(tl); err == nil {
			accept = rl.accept
			stop = func() error {
				_ = rl.close()
				return ln.Close()
			}
		}
	}
	l, err := s.addListener(name, "tcp", ln, stop)
	if err != nil {
		_ = stop()
		return err
	}
	defer s.listenerDone(l)
	defer stop()
	for {
		nc, err := s.acceptWith(l, accept)
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			return fmt.Errorf("transport: listener %q: %w", name, err)
		}
		if tc, ok := nc.(*net.TCPConn); ok && detached && s.raw {
			// Off Go's poller: see fdConn. A failure (out of descriptors
			// for the duplicate) keeps the connection as it is.
			if fc, err := adoptTCP(tc); err == nil {
				nc = fc
			}
		}
		if fc, ok := nc.(*fdConn); ok {
			if !s.trackRaw(l, fc) {
				_ = fc.Close()
				return ErrServerClosed
			}
			go s.serveRaw(l, fc, h.(DetachedHandler))
			continue
		}
		c := &conn{nc: nc}
		ctx, ok := s.track(l, c, !detached)
		if !ok {
			_ = nc.Close()
			return ErrServerClosed
		}
		go s.serveConn(ctx, l, c, h)
	}
}

// ServeWebSocket serves WebSocket upgrades on ln (TLS if ln comes from
// ListenTCP with a tls.Config) and runs the handler ws registered for the
// negotiated subprotocol. Upgraded connections are tracked like those of
// Serve, so Shutdown closes them with status 1001 (going away).
func (s *Server) ServeWebSocket(name string, ln net.Listener, ws *WebSocket) error {
	if ws == nil {
		_ = ln.Close()
		return fmt.Errorf("transport: listener %q: nil WebSocket", name)
	}
	hs := &http.Server{
		ReadHeaderTimeout: handshakeTimeout, // also bounds the TLS handshake
		IdleTimeout:       handshakeTimeout,
		MaxHeaderBytes:    maxHandshakeHeaderBytes,
		// Handshake failures (port scanners, TLS errors) are routine for a
		// public listener: keep them out of the default log level.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, rawConnKey{}, c)
		},
		// WebSocket over HTTP/2 (RFC 8441) is not supported by the library;
		// a non-nil empty map keeps net/http from enabling h2 on TLS.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	// An upgrade endpoint has no use for keep-alive: answer a plain request
	// and hang up.
	hs.SetKeepAlivesEnabled(false)

	l, err := s.addListener(name, "websocket", ln, hs.Close)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer s.listenerDone(l)

	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveWebSocket(l, ws, w, r)
	})
	err = hs.Serve(&retryListener{Listener: ln, s: s, l: l})
	if s.isClosed() || errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return fmt.Errorf("transport: listener %q: %w", name, err)
}

type rawConnKey struct{}

func (s *Server) serveWebSocket(l *listener, ws *WebSocket, w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "WebSocket endpoint: connect with a WebSocket client offering one of the subprotocols "+ws.supported(), http.StatusUpgradeRequired)
		return
	}
	reg, proto := ws.match(r.Header.Values("Sec-WebSocket-Protocol"))
	if reg == nil {
		ws.log.Debug("transport: WebSocket client offered no supported subprotocol",
			"listener", l.name, "remote", r.RemoteAddr, "offered", r.Header.Values("Sec-WebSocket-Protocol"))
		http.Error(w, "no supported WebSocket subprotocol offered; supported: "+ws.supported(), http.StatusBadRequest)
		return
	}
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)
	if raw == nil {
		// Only possible if ConnContext was bypassed; without the raw
		// connection deadlines cannot interrupt blocked calls.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	wc, err := websocket.Accept(w, r, ws.acceptOptions(proto))
	if err != nil {
		// Accept has already answered the client.
		ws.log.Debug("transport: WebSocket upgrade failed", "listener", l.name, "remote", r.RemoteAddr, "err", err)
		return
	}
	c := newWebSocketConn(wc, raw, reg.text)
	tc := &conn{nc: c, ws: c}
	ctx, ok := s.track(l, tc, true)
	if !ok {
		c.abort()
		_ = c.Close()
		return
	}
	// net/http already gave this connection its own goroutine; the
	// connection was registered above before the handler starts.
	s.runConn(ctx, l, tc, reg.h)
}

// serveConn completes the TLS handshake, if any, then runs the handler.
func (s *Server) serveConn(ctx context.Context, l *listener, c *conn, h Handler) {
	if tc, ok := c.nc.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			s.log.Debug("transport: TLS handshake failed", "listener", l.name, "remote", c.nc.RemoteAddr().String(), "err", err)
			_ = c.nc.Close()
			s.untrack(l, c)
			return
		}
	}
	s.runConn(ctx, l, c, h)
}

// DetachedHandler is a Handler that can serve a connection without keeping
// the goroutine that accepted it: ServeConnDetached starts serving and
// returns, and the handler calls done exactly once when the connection is
// finished. Adapters use it so an idle connection costs one small goroutine
// (or none) instead of a goroutine whose stack grew while it was busy. A
// detached handler recovers its own panics. WebSocket connections still use
// ServeConn.
//
// The ctx of ServeConnDetached is the listener's, shared by its
// connections: it ends when the Server shuts down, not when the connection
// does (the handler ends its connection itself, and calls done). A context
// per connection cost about 160 bytes of every idle connection.
type DetachedHandler interface {
	Handler
	ServeConnDetached(ctx context.Context, c net.Conn, done func())
}

// runConn runs the handler and releases the connection. A panicking handler
// is logged and its connection closed rather than taking the broker down
// with every other client.
func (s *Server) runConn(ctx context.Context, l *listener, c *conn, h Handler) {
	if dh, ok := h.(DetachedHandler); ok {
		var once sync.Once
		dh.ServeConnDetached(ctx, c.nc, func() {
			once.Do(func() {
				_ = c.nc.Close()
				s.untrack(l, c)
			})
		})
		return
	}
	defer s.untrack(l, c)
	defer c.nc.Close()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("transport: connection handler panicked",
				"listener", l.name, "remote", c.nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	h.ServeConn(ctx, c.nc)
}

func (s *Server) addListener(name, kind string, ln net.Listener, stop func() error) (*listener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrServerClosed
	}
	l := s.listeners[name]
	if l != nil && l.serving {
		return nil, fmt.Errorf("transport: listener %q is already serving on %s", name, l.addr)
	}
	if l == nil {
		l = &listener{s: s, name: name, ctx: context.WithValue(s.ctx, listenerNameKey{}, name)}
		s.listeners[name] = l
	}
	l.kind = kind
	l.addr = ln.Addr().String()
	l.serving = true
	l.stop = stop
	s.wg.Add(1)
	return l, nil
}

func (s *Server) listenerDone(l *listener) {
	s.mu.Lock()
	l.serving = false
	l.stop = nil
	s.mu.Unlock()
	s.wg.Done()
}

// track registers c and returns its context, or false after Shutdown. The
// WaitGroup is incremented here, under the lock that Shutdown takes, so a
// connection is either refused or waited for. With perConn false the
// context is the listener's (see DetachedHandler).
func (s *Server) track(l *listener, c *conn, perConn bool) (context.Context, bool) {
	ctx, cancel := l.ctx, context.CancelFunc(nil)
	if perConn {
		ctx, cancel = context.WithCancel(l.ctx)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return nil, false
	}
	c.cancel = cancel
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	l.active.Add(1)
	l.accepted.Add(1)
	return ctx, true
}

// trackRaw registers a connection served from its descriptor: the
// connection itself is the record (it points at its listener, and Shutdown
// finds it in the poller's table), so an idle device costs no map entry or
// tracking struct here.
func (s *Server) trackRaw(l *listener, fc *fdConn) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	fc.l.Store(l)
	s.wg.Add(1)
	s.mu.Unlock()
	l.active.Add(1)
	l.accepted.Add(1)
	return true
}

// serveRaw hands a raw connection to its handler; fc.detachedDone (a
// method value: one small allocation rather than a closure and a
// sync.Once) ends it.
func (s *Server) serveRaw(l *listener, fc *fdConn, h DetachedHandler) {
	h.ServeConnDetached(l.ctx, fc, fc.detachedDone)
}

// rawDone is the end of a connection that trackRaw registered.
func (s *Server) rawDone(l *listener) {
	l.active.Add(-1)
	if s.connDone != nil {
		s.connDone()
	}
	s.wg.Done()
}

func (s *Server) untrack(l *listener, c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	l.active.Add(-1)
	if c.cancel != nil {
		c.cancel()
	}
	if s.connDone != nil {
		s.connDone()
	}
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// acceptWith returns the next connection from accept, backing off on errors other than a
// closed listener: EMFILE and friends clear up by themselves once
// connections close, and neither spinning nor giving up helps.
func (s *Server) acceptWith(l *listener, accept func() (net.Conn, error)) (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := accept()
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		select {
		case <-s.done:
			return nil, ErrServerClosed
		default:
		}
		if delay == 0 {
			delay = acceptBackoffMin
		} else {
			delay = min(2*delay, acceptBackoffMax)
		}
		s.log.Warn("transport: accept failed, retrying", "listener", l.name, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return nil, ErrServerClosed
		}
	}
}

// retryListener gives net/http the same accept back-off as Serve.
type retryListener struct {
	net.Listener
	s *Server
	l *listener
}

func (r *retryListener) Accept() (net.Conn, error) { return r.s.acceptWith(r.l, r.Listener.Accept) }

// Shutdown stops every accept loop, cancels every connection context,
// closes every connection (WebSocket ones with close status 1001) and waits
// for the handlers to return. If ctx ends first, connections still closing
// are cut without the WebSocket close handshake and Shutdown returns
// ctx.Err() without waiting for handlers that are still running. Shutdown
// may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	var stops []func() error
	for _, l := range s.listeners {
		if l.serving && l.stop != nil {
			stops = append(stops, l.stop)
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, stop := range stops {
		_ = stop()
	}
	s.cancel()

	// A WebSocket close handshake waits for the peer, so run them side by
	// side; byte streams close at once.
	var closing sync.WaitGroup
	for _, c := range conns {
		if c.ws != nil {
			closing.Add(1)
			go func() {
				defer closing.Done()
				_ = c.ws.closeWith(websocket.StatusGoingAway, "server shutting down")
			}()
			continue
		}
		_ = c.nc.Close()
	}
	// Connections parked without a goroutine learn of the close here
	// (raw connections from their Close).
	for _, fc := range rawConns(s) {
		_ = fc.Close()
	}
	wakeIdle()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		closing.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, c := range conns {
		if c.ws != nil {
			c.ws.abort()
		}
	}
	// Cutting the sockets unblocks every close handshake promptly.
	closing.Wait()
	return ctx.Err()
}
