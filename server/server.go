// Package server assembles a running broker from a configuration: security,
// store, core, protocol adapters and listeners. `junction serve` is a thin
// wrapper around it, and tests use it to start real brokers on random ports.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/management"
	"github.com/junctionmq/junction/plugins"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/transport"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
	"github.com/junctionmq/junction/storage/postgres"
)

// Options are what the command line adds to the configuration.
type Options struct {
	// Repair lets the journal start past a corrupt record in its middle.
	Repair bool
	// Store, when set, replaces the configured store (tests share a memory
	// store across restarts this way).
	Store storage.Store
	// Adapters replace the registered protocol adapters (Adapters) when
	// set; tests serve a fake adapter this way.
	Adapters []adapter.Registration
}

// Server is a running broker.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	Core     *core.Broker
	Security *security.Manager
	// Plugins are the configured plugins (nil: none); the management
	// listener hands them its actions and serves their routes.
	Plugins  *plugins.Set
	srv      *transport.Server
	regs     []adapter.Registration
	adapters []adapter.Adapter // by registration index; nil until built
	// stops run at shutdown before the connections close.
	stops []func()
	// admin is the management API, when an admin listener is on.
	admin *management.API

	mu    sync.Mutex
	addrs map[string]net.Addr
	done  bool

	fenced chan struct{}
}

// Fenced is closed when another broker took the shared store over: this one
// can write nothing more and must stop serving (Shutdown).
func (s *Server) Fenced() <-chan struct{} { return s.fenced }

// Start checks and binds every listener that is not "off", then opens the
// store, recovers the broker, builds the adapters and starts accepting.
// Listener problems (an unknown name, a bad address, an address in use,
// every listener off) fail before the store is opened, so a mistyped
// command line leaves no journal behind. With an HA role (ha.role) the
// addresses are checked first but bound only once the store is taken: a
// backup waits inside Start, its listeners closed, until it becomes live
// or ctx ends. cfg must have had ApplyDefaults and Validate called.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (*Server, error) {
	regs := opts.Adapters
	if regs == nil {
		regs = Adapters
	}
	plans, err := PlanListeners(cfg, regs)
	if err != nil {
		return nil, err
	}
	plugs, err := loadPlugins(cfg, log)
	if err != nil {
		return nil, err
	}
	sec, err := security.New(cfg.Security, cfg.Dir, log, security.WithAuditHandler(plugs.AuditHandler()))
	if err != nil {
		plugs.Close()
		return nil, fmt.Errorf("security: %w", err)
	}
	var tlsConf *tls.Config
	if cfg.TLS != nil && cfg.TLS.CertFile != "" {
		if tlsConf, err = cfg.TLS.Build(); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	// A broker that may be a backup binds its listeners only once it holds
	// the store: until then clients are refused at connect and go to the
	// live broker, rather than wait in an accept queue nobody serves.
	ha := cfg.HA.Role != ""
	var lns []bound
	if !ha {
		if lns, err = bindListeners(plans, tlsConf); err != nil {
			plugs.Close()
			return nil, err
		}
	}
	if sec.AnonymousAllowed() {
		log.Warn("anonymous access is allowed: configure security.users-file to require logins")
	}
	var stopStandby func()
	if ha {
		// While it waits, a backup answers on its admin listeners only,
		// so that orchestrators see it alive (/healthz) and not ready
		// (/readyz): without it, a Kubernetes liveness probe restarts a
		// healthy backup over and over.
		if stopStandby, err = serveStandby(plans, tlsConf, log); err != nil {
			// Two brokers of a pair on one host with one configuration
			// share addresses: the live one holds them. Waiting without
			// the standby answers is better than not waiting at all.
			log.Warn("an HA backup's admin listener could not open while it waits", "err", err)
			stopStandby = nil
		}
	}
	st := opts.Store
	if st == nil {
		st, err = openStore(ctx, cfg, opts.Repair, log)
		if stopStandby != nil {
			stopStandby()
		}
		if err != nil {
			closeBound(lns)
			plugs.Close()
			return nil, err
		}
	} else if stopStandby != nil {
		stopStandby()
	}
	if ha {
		if lns, err = bindListeners(plans, tlsConf); err != nil {
			st.Close()
			plugs.Close()
			return nil, err
		}
	}
	cb, err := core.New(core.Config{Store: st, AddressSettings: cfg.AddressSettings, Logger: log, MaxMessageSize: int(cfg.MaxMessageSize),
		MaxAddresses: cfg.MaxAddresses, MaxQueues: cfg.MaxQueues, GlobalMaxSize: int64(cfg.GlobalMaxSize),
		SlowConsumerTimeout: cfg.SlowConsumerTimeout, Hooks: plugs.Hooks()})
	if err != nil {
		closeBound(lns)
		st.Close()
		plugs.Close()
		return nil, err
	}
	// Registered after the core's own notifier (core.New), and asking the
	// core rather than the store: Fenced closes only once the core reports
	// the fence (StoreHealth) and refuses durable sends. Asking the store
	// before the core had heard of it let a watcher of Fenced still see a
	// healthy core (TestFencedBrokerStops under load).
	fenced := make(chan struct{})
	if pg, ok := st.(*postgres.Store); ok {
		var fenceOnce sync.Once
		pg.Notify(func() {
			if errors.Is(cb.StoreHealth(), postgres.ErrFenced) {
				fenceOnce.Do(func() { close(fenced) })
			}
		})
	}
	rs, err := cb.Start(ctx)
	if err != nil {
		closeBound(lns)
		cb.Close()
		plugs.Close()
		return nil, err
	}
	log.Info("recovered", "queues", rs.Queues, "messages", rs.Messages, "references", rs.Refs, "paged", rs.Paged, "took", rs.Duration.Round(time.Millisecond))

	s := &Server{cfg: cfg, log: log, Core: cb, Security: sec, srv: transport.NewServer(log), regs: regs, addrs: map[string]net.Addr{}, fenced: fenced, Plugins: plugs}
	mctx, stopMem := context.WithCancel(context.Background())
	s.stops = append(s.stops, stopMem)
	go returnMemory(mctx, cb, log)
	if sec.UsersFile() != "" {
		// `junction user` edits reach the running broker within seconds, and
		// open connections lose at once what the new file no longer allows.
		sec.OnUsersChanged(cb.Revalidate)
		wctx, cancel := context.WithCancel(context.Background())
		s.stops = append(s.stops, cancel)
		go sec.Watch(wctx, 2*time.Second)
	}
	ws, err := s.startAdapters(regs, &access.Gate{Manager: sec, Hooks: cb.Hooks()})
	if err != nil {
		closeBound(lns)
		s.Shutdown()
		return nil, err
	}
	for _, b := range lns {
		s.serve(b, ws, sec.AnonymousAllowed())
	}
	role := "single"
	if ha {
		role = "live"
	}
	log.Info("junction ready", "data", cfg.Data, "store", cfg.Store.Type, "ha-role", role, "global-max-size", int64(cfg.GlobalMaxSize))
	return s, nil
}

// startAdapters builds every adapter, gives each the configured message
// size limit, and routes their WebSocket subprotocols.
func (s *Server) startAdapters(regs []adapter.Registration, gate *access.Gate) (*transport.WebSocket, error) {
	ws := transport.NewWebSocket(s.log)
	env := adapter.Env{Broker: s.Core, Gate: gate, Logger: s.log, MaxMessageSize: int(s.cfg.MaxMessageSize), Config: s.cfg,
		MaxQueuedMessages: s.cfg.MaxQueuedMessages, MaxQueuedBytes: int64(s.cfg.MaxQueuedBytes)}
	if env.MaxMessageSize <= 0 {
		env.MaxMessageSize = config.DefaultMaxMessageSize
	}
	s.adapters = make([]adapter.Adapter, len(regs))
	for i, r := range regs {
		// Each adapter has its own Gate, naming its protocol to the
		// connection hooks.
		g := *gate
		g.Protocol = r.Name
		env.Gate = &g
		a, err := r.New(env)
		if err != nil {
			return nil, fmt.Errorf("starting the %s adapter: %w", r.Name, err)
		}
		s.adapters[i] = a
		if len(r.WebSocket.Subprotocols) > 0 {
			if err := ws.Handle(a, r.WebSocket.Type, r.WebSocket.Subprotocols...); err != nil {
				return nil, fmt.Errorf("%s adapter: %w", r.Name, err)
			}
		}
	}
	return ws, nil
}

// serve starts accepting on a bound listener.
func (s *Server) serve(b bound, ws *transport.WebSocket, anonymous bool) {
	if b.Adapter == adminListener {
		s.serveAdmin(b)
		return
	}
	s.mu.Lock()
	s.addrs[b.Name] = b.ln.Addr()
	s.mu.Unlock()
	serve := func() error { return s.srv.ServeWebSocket(b.Name, b.ln, ws) }
	if b.Adapter >= 0 {
		h := s.adapters[b.Adapter]
		serve = func() error { return s.srv.Serve(b.Name, b.ln, h) }
	}
	go func() {
		if err := serve(); err != nil && !errors.Is(err, transport.ErrServerClosed) {
			s.log.Error("listener stopped", "listener", b.Name, "err", err)
		}
	}()
	warnExposed(s.log, b.Name, b.ln.Addr(), anonymous)
	s.log.Info("listening", "listener", b.Name, "addr", b.ln.Addr().String(), "tls", b.TLS)
}

// Adapter returns the running adapter registered under name, or nil.
func (s *Server) Adapter(name string) adapter.Adapter {
	for i, r := range s.regs {
		if r.Name == name && i < len(s.adapters) {
			return s.adapters[i]
		}
	}
	return nil
}

// AdapterStats returns every running adapter's counters by name.
func (s *Server) AdapterStats() map[string]adapter.Stats {
	out := make(map[string]adapter.Stats, len(s.adapters))
	for i, a := range s.adapters {
		if a != nil {
			out[s.regs[i].Name] = a.Stats()
		}
	}
	return out
}

// Addr returns the bound address of a listener ("stomp", "ws", "mqtt", ...).
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.addrs[name]; a != nil {
		return a.String()
	}
	return ""
}

func openStore(ctx context.Context, cfg *config.Config, repair bool, log *slog.Logger) (storage.Store, error) {
	switch cfg.Store.Type {
	case "memory":
		log.Warn("store is memory: nothing survives a restart")
		return memory.New(), nil
	case "postgres":
		return openPostgres(ctx, cfg, log)
	}
	return openJournal(cfg, repair, log)
}

// warnExposed logs loudly when anonymous clients can reach the broker from
// other machines.
func warnExposed(log *slog.Logger, name string, addr net.Addr, anonymous bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !anonymous || ta.IP.IsLoopback() {
		return
	}
	log.Warn("!!! ANONYMOUS ACCESS ON A NON-LOOPBACK ADDRESS: anyone who can reach this port can send and consume; configure security.users-file !!!",
		"listener", name, "addr", addr.String())
}

// Shutdown closes every connection (their unsettled deliveries return to the
// queues), then the core and its store. It is safe to call more than once.
func (s *Server) Shutdown() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	s.done = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, stop := range s.stops {
		stop()
	}
	for i, a := range s.adapters {
		if a == nil {
			continue
		}
		st := a.Stats()
		attrs := []any{"adapter", s.regs[i].Name, "connections", st.Connections, "accepted", st.Accepted,
			"messages-in", st.MessagesIn, "messages-out", st.MessagesOut, "bytes-in", st.BytesIn, "bytes-out", st.BytesOut}
		for _, k := range slices.Sorted(maps.Keys(st.Extra)) {
			attrs = append(attrs, k, st.Extra[k])
		}
		s.log.Info("adapter state", attrs...)
		if err := a.Close(); err != nil {
			s.log.Error("closing adapter", "adapter", s.regs[i].Name, "err", err)
		}
	}
	ss := s.Core.StoreStats()
	s.log.Info("store state", "messages", ss.Messages, "refs", ss.Refs, "paged", ss.Paged, "bindings", ss.Bindings, "bytes", ss.Bytes,
		"applies", ss.Applies, "syncs", ss.Syncs, "last-sync", ss.LastSync, "errors", ss.Errors)
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, transport.ErrServerClosed) {
		err = nil
	}
	if cerr := s.Core.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
	}
	if perr := s.Plugins.Close(); perr != nil {
		err = errors.Join(err, fmt.Errorf("closing plugins: %w", perr))
	}
	st := s.Core.Stats()
	s.log.Info("stopped", "sent", st.Sent, "expired", st.Expired, "dead-lettered", st.DeadLettered)
	return err
}
