package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/junctionmq/junction/management"
	"github.com/junctionmq/junction/management/console"
	"github.com/junctionmq/junction/plugins"
	"github.com/junctionmq/junction/protocols/adapter"
)

// serveAdmin serves the management API (and the console and metrics it
// carries) on an admin listener. The API is built with the first admin
// listener and shared by the second (admin and admin-tls).
func (s *Server) serveAdmin(b bound) {
	s.mu.Lock()
	s.addrs[b.Name] = b.ln.Addr()
	s.mu.Unlock()
	if s.admin == nil {
		s.admin = management.New(s.managementOptions())
		s.stops = append(s.stops, s.admin.Close)
	}
	hs := &http.Server{
		Handler:           s.admin,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.With("listener", b.Name).Handler(), slog.LevelDebug),
	}
	// Stops run before the adapters close: an operator's request in
	// progress finishes, no new one starts.
	s.stops = append(s.stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			_ = hs.Close()
		}
	})
	go func() {
		if err := hs.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "listener", b.Name, "err", err)
		}
	}()
	warnExposed(s.log, b.Name, b.ln.Addr(), s.Security.AnonymousAllowed())
	s.log.Info("listening", "listener", b.Name, "addr", b.ln.Addr().String(), "tls", b.TLS)
}

func (s *Server) managementOptions() management.Options {
	listers := map[string]adapter.SessionLister{}
	for i, a := range s.adapters {
		if l, ok := a.(adapter.SessionLister); ok {
			listers[s.regs[i].Name] = l
		}
	}
	return management.Options{
		Broker:         s.Core,
		Security:       s.Security,
		Logger:         s.log.With("component", "management"),
		StoreType:      s.cfg.Store.Type,
		Listeners:      s.listenerAddrs,
		Adapters:       s.AdapterStats,
		SessionListers: listers,
		// The console and the plugins' parts (plugins helper).
		Console:  console.Handler(),
		Routes:   pluginRoutes(s.Plugins),
		OnAction: func(a management.Action) { s.Plugins.ManagementAction(plugins.ManagementAction(a)) },
	}
}

// pluginRoutes are the plugins' HTTP routes (the tracing API) for the
// management listener, which serves them behind its authentication.
func pluginRoutes(set *plugins.Set) []management.Route {
	var out []management.Route
	for _, r := range set.Routes() {
		out = append(out, management.Route{Pattern: r.Pattern, Handler: r.Handler})
	}
	return out
}

// listenerAddrs returns the bound address of every listener by name.
func (s *Server) listenerAddrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.addrs))
	for name, a := range s.addrs {
		out[name] = a.String()
	}
	return out
}
