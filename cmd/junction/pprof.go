package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// serveProfiles serves Go's runtime profiles on addr, which must be a
// loopback address: the profiles show message contents and credentials in
// memory, so they are never offered to the network. Every allocation is
// sampled, which slows allocation down: a measuring aid only. It is how the idle
// connection figures in docs/PERFORMANCE.md were broken down:
//
//	go tool pprof -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap
func serveProfiles(addr string, log *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--pprof %q: profiles are served on loopback only (127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	// Every allocation is sampled, so a heap profile of 10,000 idle
	// connections counts their bytes exactly rather than by 512 KiB samples.
	runtime.MemProfileRate = 1
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving profiles", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
