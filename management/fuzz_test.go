package management_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/management"
	"github.com/junctionmq/junction/storage/memory"
)

// FuzzRequests feeds the API arbitrary paths, queries and JSON bodies: it
// must answer every one with a status below 500 (a client's mistake is a
// 4xx) and never panic.
func FuzzRequests(f *testing.F) {
	b, err := core.New(core.Config{Store: memory.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := b.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = b.Close() })
	api := management.New(management.Options{Broker: b, Logger: slog.New(slog.DiscardHandler)})
	f.Cleanup(api.Close)
	if _, err := b.CreateQueue(core.QueueInfo{Name: "q", Address: "q", RoutingType: core.Anycast}); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ method, path, body string }{
		{"POST", "/api/v1/queues", `{"name":"a","routing_type":"multicast","address":"t.#","filter":"x > 1"}`},
		{"POST", "/api/v1/queues", `{"name":"","durable":false}`},
		{"POST", "/api/v1/addresses/q/messages", `{"body":"hi","properties":{"k":"v"},"priority":9,"ttl_ms":5}`},
		{"POST", "/api/v1/addresses/q/messages", `{"body_base64":"AAEC","routing_type":"multicast"}`},
		{"POST", "/api/v1/queues/q/move", `{"to":"q","limit":3,"selector":"a = 'b'"}`},
		{"POST", "/api/v1/queues/q/redrive", `{"selector":"(("}`},
		{"POST", "/api/v1/queues/q/purge", ``},
		{"GET", "/api/v1/queues?offset=1&limit=2&sort=depth&order=desc&filter=Q", ``},
		{"GET", "/api/v1/queues/q/messages?selector=JMSPriority>3&limit=1", ``},
		{"POST", "/api/v1/addresses", `{"name":"n","routing_type":"anycast"}`},
		{"DELETE", "/api/v1/addresses/n?force=true", ``},
		{"DELETE", "/api/v1/connections/18446744073709551615", ``},
		{"GET", "/api/v1/connections?sort=since", ``},
		{"DELETE", "/api/v1/subscriptions/q", ``},
		{"GET", "/api/v1/broker", ``},
	} {
		f.Add(s.method, s.path, s.body)
	}
	methods := []string{"GET", "POST", "DELETE", "PUT"}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		ok := false
		for _, m := range methods {
			ok = ok || m == method
		}
		if !ok {
			method = "GET"
		}
		req, err := http.NewRequest(method, "http://admin"+path, strings.NewReader(body))
		if err != nil {
			return // not a request an HTTP server would parse
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			data, _ := io.ReadAll(rec.Body)
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, data)
		}
	})
}
