package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// serveStandby serves a waiting HA backup's admin listeners: /healthz says
// the process is alive, /readyz and every other path that it serves
// nothing yet (503). The returned stop closes them, so that the live
// broker's own admin listeners can bind the same addresses.
func serveStandby(plans []ListenerPlan, tlsConf *tls.Config, log *slog.Logger) (stop func(), err error) {
	var admins []ListenerPlan
	for _, p := range plans {
		if p.Adapter == adminListener {
			admins = append(admins, p)
		}
	}
	bs, err := bindListeners(admins, tlsConf)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok: backup, waiting for the store lock\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"this broker is an HA backup waiting for the store lock: it serves nothing until it takes over"}` + "\n"))
	})
	var servers []*http.Server
	for _, b := range bs {
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.With("listener", b.Name).Handler(), slog.LevelDebug)}
		servers = append(servers, hs)
		go func() {
			if err := hs.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("standby listener stopped", "listener", b.Name, "err", err)
			}
		}()
		log.Info("listening as a waiting backup", "listener", b.Name, "addr", b.ln.Addr().String())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, hs := range servers {
			if err := hs.Shutdown(ctx); err != nil {
				_ = hs.Close()
			}
		}
	}, nil
}
