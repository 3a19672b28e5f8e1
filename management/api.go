// Package management is the broker's admin HTTP API: JSON under /api/v1,
// Prometheus metrics at /metrics, /healthz and /readyz, and the web console
// mounted at /console/. It is served by the `admin` listener (server/admin.go)
// and guarded by the `manage` permission: HTTP Basic against the users file,
// anonymous only where the broker lets anonymous clients in.
//
// It works on the core through its operator accessors (core/admin.go) and a
// core session of its own, so it knows no protocol; what is protocol-specific
// (adapter counters, MQTT sessions) comes through the server's callbacks in
// Options.
package management

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/security"
)

// Options are what the API is built from.
type Options struct {
	Broker *core.Broker
	// Security authenticates and authorizes requests; nil lets everyone in
	// (tests of the API alone).
	Security *security.Manager
	Logger   *slog.Logger
	// StoreType is the configured store ("journal", "memory").
	StoreType string
	// Listeners returns the bound address of every listener by name.
	Listeners func() map[string]string
	// Adapters returns each running adapter's counters by name.
	Adapters func() map[string]adapter.Stats
	// SessionListers are the adapters that keep sessions of their own
	// (MQTT), by adapter name.
	SessionListers map[string]adapter.SessionLister
	// Console, when set, is served at /console/ without authentication
	// (static files only; every call it makes goes through the API).
	Console http.Handler
	// Routes are extra handlers (the tracing plugin's) mounted behind the
	// same authentication.
	Routes []Route
	// OnAction is told every management action (the audit plugin).
	OnAction func(Action)
	// MaxQueueSeries caps the queues /metrics reports one by one (default
	// DefaultMaxQueueSeries; the deepest are chosen). Negative: none.
	MaxQueueSeries int
	// SampleInterval is how often rates are computed (default 5s).
	SampleInterval time.Duration
}

// Route is an extra handler behind the API's authentication.
type Route struct {
	Pattern string // a net/http ServeMux pattern, e.g. "GET /api/v1/traces/{id}"
	Handler http.Handler
}

// Action is one management action, as logged and audited.
type Action struct {
	Time   time.Time
	User   string // "" when anonymous
	Remote string
	// Name is "queue.purge", "queue.move", "queue.redrive", "queue.create",
	// "queue.delete", "address.create", "address.delete", "message.send",
	// "connection.close", "subscription.delete" or "mqtt.session.end".
	Name   string
	Target string
	Params map[string]any
	Result string // "ok" or "error"
	Error  string
}

// API serves the management endpoints.
type API struct {
	o       Options
	log     *slog.Logger
	b       *core.Broker
	mux     *http.ServeMux
	sess    *core.Session
	rates   *sampler
	started time.Time
	version string
	stop    chan struct{}
	wg      sync.WaitGroup
	metrics http.Handler
	// lastUse is when an API request last came (unix ns): the sampler
	// rests while nobody looks.
	lastUse atomic.Int64
}

// sampleIdle is how long after the last API request the sampler keeps
// reading counters. A broker nobody watches pays nothing for its rates; the
// first look after a rest shows rates one interval later.
const sampleIdle = 2 * time.Minute

// New builds the API and starts its rate sampler; Close stops it.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 5 * time.Second
	}
	if o.MaxQueueSeries == 0 {
		o.MaxQueueSeries = DefaultMaxQueueSeries
	}
	if o.Listeners == nil {
		o.Listeners = func() map[string]string { return nil }
	}
	if o.Adapters == nil {
		o.Adapters = func() map[string]adapter.Stats { return nil }
	}
	a := &API{o: o, log: o.Logger, b: o.Broker, mux: http.NewServeMux(), started: time.Now(), version: version(), stop: make(chan struct{})}
	// The API's own session: no authorizer, since every request was
	// checked for the manage permission before it gets here.
	a.sess = o.Broker.NewSession(core.SessionOptions{ClientID: "junction-management"})
	a.rates = newSampler(a)
	a.metrics = a.newMetricsHandler()
	a.routes()
	a.wg.Add(1)
	go a.sampleLoop()
	return a
}

// Close stops the sampler and closes the API's core session.
func (a *API) Close() {
	select {
	case <-a.stop:
		return
	default:
	}
	close(a.stop)
	a.wg.Wait()
	a.sess.Close()
}

func (a *API) sampleLoop() {
	defer a.wg.Done()
	t := time.NewTicker(a.o.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			if now.UnixNano()-a.lastUse.Load() > int64(sampleIdle) {
				a.rates.rest()
				continue
			}
			a.rates.sample(now)
		}
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *API) routes() {
	m := a.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.HandleFunc("GET /readyz", a.readyz)
	if a.o.Console != nil {
		m.Handle("/console/", http.StripPrefix("/console", a.o.Console))
		m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/console/", http.StatusFound)
		})
	}
	m.Handle("GET /metrics", a.guard(a.metrics))
	api := map[string]http.HandlerFunc{
		"GET /api/v1/broker":                     a.getBroker,
		"GET /api/v1/health":                     a.getHealth,
		"GET /api/v1/queues":                     a.listQueues,
		"POST /api/v1/queues":                    a.createQueue,
		"GET /api/v1/queues/{name}":              a.getQueue,
		"DELETE /api/v1/queues/{name}":           a.deleteQueue,
		"GET /api/v1/queues/{name}/messages":     a.browse,
		"POST /api/v1/queues/{name}/purge":       a.purge,
		"POST /api/v1/queues/{name}/move":        a.move,
		"POST /api/v1/queues/{name}/redrive":     a.redrive,
		"GET /api/v1/addresses":                  a.listAddresses,
		"POST /api/v1/addresses":                 a.createAddress,
		"GET /api/v1/addresses/{name}":           a.getAddress,
		"DELETE /api/v1/addresses/{name}":        a.deleteAddress,
		"POST /api/v1/addresses/{name}/messages": a.send,
		"GET /api/v1/connections":                a.listConnections,
		"DELETE /api/v1/connections/{id}":        a.closeConnection,
		"GET /api/v1/consumers":                  a.listConsumers,
		"GET /api/v1/mqtt/sessions":              a.listMQTTSessions,
		"DELETE /api/v1/mqtt/sessions/{client}":  a.endMQTTSession,
		"GET /api/v1/subscriptions":              a.listSubscriptions,
		"DELETE /api/v1/subscriptions/{name}":    a.deleteSubscription,
		"GET /api/v1/":                           a.notFound,
		"/api/v1/":                               a.notFound,
	}
	for pattern, h := range api {
		m.Handle(pattern, a.guard(h))
	}
	for _, rt := range a.o.Routes {
		m.Handle(rt.Pattern, a.guard(rt.Handler))
	}
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path))
}

// readyz answers 200 once the broker can take messages: its store healthy.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.b.StoreHealth(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

type ctxKey struct{}

// who is the caller of a request, as the guard established.
type who struct {
	user, remote string
}

func caller(r *http.Request) who {
	if w, ok := r.Context().Value(ctxKey{}).(who); ok {
		return w
	}
	return who{remote: r.RemoteAddr}
}

// guard lets through requests whose credentials carry the manage permission
// on every address ("#"). Without credentials a request is anonymous, let in
// only where the broker lets anonymous clients in and their roles grant
// manage.
func (a *API) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sec := a.o.Security
		if sec == nil {
			a.lastUse.Store(time.Now().UnixNano())
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, who{remote: r.RemoteAddr})))
			return
		}
		user, pass, hasAuth := r.BasicAuth()
		cred := security.Credentials{Username: user, Password: pass, HasPassword: hasAuth, RemoteAddr: r.RemoteAddr, TLSState: r.TLS}
		subj, err := sec.Authenticate(r.Context(), cred)
		if err != nil {
			if r.Header.Get("X-Junction-Console") == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="junction", charset="UTF-8"`)
			}
			msg := "bad user name or password"
			if errors.Is(err, security.ErrAnonymousDenied) {
				msg = "authentication required"
			}
			writeError(w, http.StatusUnauthorized, errors.New(msg))
			return
		}
		if err := sec.Authorize(subj, security.Manage, "#"); err != nil {
			writeError(w, http.StatusForbidden, fmt.Errorf("%s may not manage the broker (the manage permission on \"#\" is needed)", subj))
			return
		}
		a.lastUse.Store(time.Now().UnixNano())
		name := ""
		if !subj.Anonymous {
			name = subj.User
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, who{user: name, remote: r.RemoteAddr})))
	})
}

// act logs an action and hands it to OnAction.
func (a *API) act(r *http.Request, name, target string, params map[string]any, err error) {
	c := caller(r)
	ac := Action{Time: time.Now(), User: c.user, Remote: c.remote, Name: name, Target: target, Params: params, Result: "ok"}
	attrs := []any{"action", name, "target", target, "user", c.user, "remote", c.remote}
	for k, v := range params {
		attrs = append(attrs, k, v)
	}
	if err != nil {
		ac.Result, ac.Error = "error", err.Error()
		a.log.Warn("management action failed", append(attrs, "err", err)...)
	} else {
		a.log.Info("management action", attrs...)
	}
	if a.o.OnAction != nil {
		a.o.OnAction(ac)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// statusOf maps core errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, core.ErrNoSuchQueue), errors.Is(err, core.ErrNoSuchAddress):
		return http.StatusNotFound
	case errors.Is(err, core.ErrQueueExists), errors.Is(err, core.ErrAddressInUse), errors.Is(err, core.ErrSubscriptionInUse):
		return http.StatusConflict
	case errors.Is(err, core.ErrInvalidName), errors.Is(err, core.ErrInvalidSelector), errors.Is(err, core.ErrRoutingType),
		errors.Is(err, core.ErrInvalidPriority), errors.Is(err, core.ErrMessageTooLarge), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, core.ErrResourceLimit), errors.Is(err, core.ErrAddressFull), errors.Is(err, core.ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// readBody decodes a JSON request body of at most 16 MiB into v; an empty
// body leaves v as it is.
func readBody(r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 16<<20)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badRequest("request body: %v", err)
	}
	return nil
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), sub)
}
