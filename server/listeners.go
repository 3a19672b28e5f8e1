package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/transport"
)

// WebSocketListeners are the listeners every adapter with WebSocket
// subprotocols shares; the client's subprotocol picks the adapter.
var WebSocketListeners = []adapter.Listener{
	{Name: "ws", Default: "127.0.0.1:61614"},
	{Name: "wss", Default: "127.0.0.1:61615", TLS: true},
}

// AdminListeners serve the management API, metrics and console
// (server/admin.go), not a messaging protocol.
var AdminListeners = []adapter.Listener{
	{Name: "admin", Default: "127.0.0.1:8161"},
	{Name: "admin-tls", Default: "127.0.0.1:8162", TLS: true},
}

// ListenerPlan.Adapter for the listeners that serve no adapter.
const (
	webSocketListener = -1
	adminListener     = -2
)

// ListenerPlan is one listener as the configuration resolves it.
type ListenerPlan struct {
	adapter.Listener
	// Addr is the address to bind, or config.Off.
	Addr string
	// Adapter is the index in the registrations of the adapter it serves,
	// -1 for a WebSocket listener, -2 for an admin listener.
	Adapter int
}

// KnownListeners lists every listener name of regs, the WebSocket
// listeners and the admin listeners, in order: the adapters' first, then ws
// and wss, then admin and admin-tls.
func KnownListeners(regs []adapter.Registration) []ListenerPlan {
	var out []ListenerPlan
	for i, r := range regs {
		for _, l := range r.Listeners {
			out = append(out, ListenerPlan{Listener: l, Adapter: i})
		}
	}
	for _, l := range WebSocketListeners {
		out = append(out, ListenerPlan{Listener: l, Adapter: webSocketListener})
	}
	for _, l := range AdminListeners {
		out = append(out, ListenerPlan{Listener: l, Adapter: adminListener})
	}
	return out
}

// PlanListeners resolves the `listeners:` of cfg against the adapters of
// regs: a listener not named takes its default (a TLS listener only once
// tls: has a certificate, else it is off). It reports every problem found:
// an unknown name, an address that is not host:port or off, a TLS listener
// without a certificate, and every listener being off. It binds nothing.
func PlanListeners(cfg *config.Config, regs []adapter.Registration) ([]ListenerPlan, error) {
	known := KnownListeners(regs)
	var errs []error
	names := make(map[string]bool, len(known))
	for _, l := range known {
		if names[l.Name] {
			errs = append(errs, fmt.Errorf("listener %s is registered twice", l.Name))
		}
		names[l.Name] = true
	}
	var unknown []string
	for name := range cfg.Listeners {
		if !names[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, fmt.Errorf("unknown listener %q: known listeners are %s", name, listenerNames(known)))
	}
	haveCert := cfg.TLS != nil && cfg.TLS.CertFile != "" && cfg.TLS.KeyFile != ""
	ws := webSocketNeeded(regs)
	on := 0
	for i := range known {
		l := &known[i]
		addr, set := cfg.Listeners[l.Name]
		switch {
		case set:
		case l.TLS && !haveCert, l.Adapter == webSocketListener && !ws:
			addr = config.Off
		default:
			addr = l.Default
		}
		l.Addr = addr
		if err := config.CheckListenAddr(addr); err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", l.Name, err))
			continue
		}
		if addr == config.Off {
			continue
		}
		if l.TLS && !haveCert {
			errs = append(errs, fmt.Errorf("listener %s needs tls.cert-file and tls.key-file", l.Name))
		}
		if l.Adapter != adminListener {
			on++ // the admin listener alone lets no client in
		}
	}
	if on == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("every listener is off, so no client could connect: turn one on in listeners: or with --listen NAME=ADDR (listeners: %s)", listenerNames(known)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return known, nil
}

func listenerNames(ls []ListenerPlan) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Name
	}
	return strings.Join(names, ", ")
}

// bound is a planned listener with its socket open.
type bound struct {
	ListenerPlan
	ln net.Listener
}

// bindListeners opens every listener that is not off, so that an address in
// use fails start-up before the store is opened; nothing is accepted until
// the broker is ready. On error it closes what it opened.
func bindListeners(plans []ListenerPlan, tlsConf *tls.Config) ([]bound, error) {
	var out []bound
	for _, p := range plans {
		if p.Addr == config.Off {
			continue
		}
		var tc *tls.Config
		if p.TLS {
			tc = tlsConf
		}
		ln, err := transport.ListenTCP(p.Addr, tc)
		if err != nil {
			closeBound(out)
			return nil, fmt.Errorf("listener %s: %w", p.Name, err)
		}
		out = append(out, bound{ListenerPlan: p, ln: ln})
	}
	return out, nil
}

func closeBound(bs []bound) {
	for _, b := range bs {
		_ = b.ln.Close()
	}
}

// webSocketNeeded reports whether any adapter serves WebSocket subprotocols.
func webSocketNeeded(regs []adapter.Registration) bool {
	return slices.ContainsFunc(regs, func(r adapter.Registration) bool { return len(r.WebSocket.Subprotocols) > 0 })
}
