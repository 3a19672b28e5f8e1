package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// --pprof serves the profiles on loopback and refuses any other address:
// a heap profile shows credentials and message contents.
func TestProfilesOnLoopbackOnly(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", ":6060", "example.com:6060"} {
		if stop, err := serveProfiles(addr, log); err == nil {
			stop()
			t.Errorf("--pprof %s accepted", addr)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--pprof %s: %v, want an error about loopback", addr, err)
		}
	}
	// Find a free loopback port, then serve on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := serveProfiles(addr, log)
	if err != nil {
		t.Fatalf("--pprof %s: %v", addr, err)
	}
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %s\n%.200s", resp.Status, body)
	}
}
