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
	"net"
	"sync"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/stomp"
	"github.com/junctionmq/junction/protocols/transport"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

// Options are what the command line adds to the configuration.
type Options struct {
	// Repair lets the journal start past a corrupt record in its middle.
	Repair bool
	// Store, when set, replaces the configured store (tests share a memory
	// store across restarts this way).
	Store storage.Store
}

// Server is a running broker.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	Core     *core.Broker
	Security *security.Manager
	srv      *transport.Server
	stomp    *stomp.Server
	// MQTT is the MQTT adapter (its Stats feed operators).
	MQTT *mqtt.Server
	// reports run at shutdown so adapters can log their state.
	reports []func()

	mu    sync.Mutex
	addrs map[string]net.Addr
	done  bool
}

// Start opens the store, recovers the broker and opens every listener that
// is not "off". cfg must have had ApplyDefaults and Validate called.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (*Server, error) {
	sec, err := security.New(cfg.Security, cfg.Dir, log)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if sec.AnonymousAllowed() {
		log.Warn("anonymous access is allowed: configure security.users-file to require logins")
	}
	var tlsConf *tls.Config
	if cfg.TLS != nil && cfg.TLS.CertFile != "" {
		if tlsConf, err = cfg.TLS.Build(); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	st := opts.Store
	if st == nil {
		if st, err = openStore(cfg, opts.Repair, log); err != nil {
			return nil, err
		}
	}
	cb, err := core.New(core.Config{Store: st, AddressSettings: cfg.AddressSettings, Logger: log, MaxMessageSize: int(cfg.MaxMessageSize)})
	if err != nil {
		st.Close()
		return nil, err
	}
	rs, err := cb.Start(ctx)
	if err != nil {
		cb.Close()
		return nil, err
	}
	log.Info("recovered", "queues", rs.Queues, "messages", rs.Messages, "references", rs.Refs, "took", rs.Duration.Round(time.Millisecond))

	gate := &access.Gate{Manager: sec}
	s := &Server{cfg: cfg, log: log, Core: cb, Security: sec, srv: transport.NewServer(log), addrs: map[string]net.Addr{}}
	if sec.UsersFile() != "" {
		// `junction user` edits reach the running broker within seconds, and
		// open connections lose at once what the new file no longer allows.
		sec.OnUsersChanged(cb.Revalidate)
		wctx, cancel := context.WithCancel(context.Background())
		s.reports = append(s.reports, cancel)
		go sec.Watch(wctx, 2*time.Second)
	}
	s.stomp = stomp.NewServer(stomp.Options{Broker: cb, Gate: gate, Logger: log})
	ws := transport.NewWebSocket(log)
	if err := ws.HandleSTOMP(s.stomp); err != nil {
		s.Shutdown()
		return nil, err
	}
	mqttHandler, err := newMQTT(s, gate, ws)
	if err != nil {
		s.Shutdown()
		return nil, err
	}
	stompFn := func(name string, ln net.Listener) error { return s.srv.Serve(name, ln, s.stomp) }
	wsFn := func(name string, ln net.Listener) error { return s.srv.ServeWebSocket(name, ln, ws) }
	listeners := []struct {
		name, addr string
		tls        bool
		serve      func(name string, ln net.Listener) error
	}{
		{"stomp", cfg.Listeners.STOMP, false, stompFn},
		{"stomp-tls", cfg.Listeners.STOMPTLS, true, stompFn},
		{"ws", cfg.Listeners.WS, false, wsFn},
		{"wss", cfg.Listeners.WSS, true, wsFn},
		{"mqtt", cfg.Listeners.MQTT, false, mqttHandler},
		{"mqtt-tls", cfg.Listeners.MQTTTLS, true, mqttHandler},
	}
	for _, l := range listeners {
		if l.addr == config.Off || l.addr == "" || l.serve == nil {
			continue
		}
		var tc *tls.Config
		if l.tls {
			tc = tlsConf
		}
		ln, err := transport.ListenTCP(l.addr, tc)
		if err != nil {
			s.Shutdown()
			return nil, fmt.Errorf("listener %s: %w", l.name, err)
		}
		s.mu.Lock()
		s.addrs[l.name] = ln.Addr()
		s.mu.Unlock()
		go func() {
			if err := l.serve(l.name, ln); err != nil && !errors.Is(err, transport.ErrServerClosed) {
				log.Error("listener stopped", "listener", l.name, "err", err)
			}
		}()
		warnExposed(log, l.name, ln.Addr(), sec.AnonymousAllowed())
		log.Info("listening", "listener", l.name, "addr", ln.Addr().String(), "tls", l.tls)
	}
	log.Info("junction ready", "data", cfg.Data, "store", cfg.Store.Type)
	return s, nil
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

func openStore(cfg *config.Config, repair bool, log *slog.Logger) (storage.Store, error) {
	if cfg.Store.Type == "memory" {
		log.Warn("store is memory: nothing survives a restart")
		return memory.New(), nil
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
	for _, report := range s.reports {
		report()
	}
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, transport.ErrServerClosed) {
		err = nil
	}
	if cerr := s.Core.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
	}
	st := s.Core.Stats()
	s.log.Info("stopped", "sent", st.Sent, "expired", st.Expired, "dead-lettered", st.DeadLettered)
	return err
}
