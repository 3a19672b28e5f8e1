package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestVersionFromLinker builds the binary the way `make release` does and
// checks that `junction version` prints what the linker was given.
func TestVersionFromLinker(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "junction")
	ldflags := "-X main.version=v9.8.7 -X main.commit=abc123 -X main.buildDate=2026-12-06T00:00:00Z"
	build := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("junction version: %v\n%s", err, out)
	}
	for _, want := range []string{"junction v9.8.7\n", "commit abc123\n", "built 2026-12-06T00:00:00Z\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("junction version printed %q, want a line %q", out, want)
		}
	}
}

// TestVersionWithoutLinker: a plain build still prints three lines, with
// "devel" rather than an empty version.
func TestVersionWithoutLinker(t *testing.T) {
	var out strings.Builder
	root := newRootCmd()
	root.SetArgs([]string{"version"})
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "junction ") || strings.Contains(out.String(), "junction \n") {
		t.Errorf("version printed %q", out.String())
	}
}

func TestHealthcheck(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	run := func() error {
		root := newRootCmd()
		root.SetArgs([]string{"healthcheck", "--url", srv.URL + "/healthz"})
		root.SetOut(&strings.Builder{})
		root.SetErr(&strings.Builder{})
		return root.Execute()
	}
	if err := run(); err != nil {
		t.Fatalf("healthy broker: %v", err)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := run(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unhealthy broker: err = %v, want one naming 503", err)
	}
	srv.Close()
	if err := run(); err == nil {
		t.Fatal("no broker: healthcheck succeeded")
	}
}
