// Package browsertest runs a page in Debian's headless chromium for the
// adapters' browser tests (stomp.js, MQTT.js over WebSocket): the checks for
// what the tests need, the page server and the browser.
package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package installs the browser.
const Chromium = "/usr/bin/chromium"

// Require skips the test when chromium or one of files is missing, and
// fails it instead under CI=true, where `make test-deps` installs them.
func Require(t testing.TB, files ...string) {
	t.Helper()
	for _, need := range append([]string{Chromium}, files...) {
		if _, err := os.Stat(need); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("browser test needs %s (run make test-deps): %v", need, err)
			}
			t.Skipf("browser test needs %s (run make test-deps): %v", need, err)
		}
	}
}

// Serve serves page at / and each of assets (URL path → file) until the
// test ends, and returns the server's URL.
func Serve(t testing.TB, page string, assets map[string]string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	for path, file := range assets {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, file)
		})
	}
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	return web.URL
}

// Start starts headless chromium and returns a context that drives one tab,
// cancelled after timeout or when the test ends.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Without these chromium keeps trying to reach the internet.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancel()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// Poll evaluates expr in the page until it is truthy, within timeout, and
// returns its value.
func Poll[T any](ctx context.Context, expr string, timeout time.Duration) (T, error) {
	return chromedp.Run(ctx, chromedp.Poll[T](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

// PageErrors returns what the page recorded in window.errors, joined.
func PageErrors(ctx context.Context) string {
	errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.errors`))
	if err != nil {
		return "page state unreadable: " + err.Error()
	}
	return strings.Join(errs, "; ")
}
