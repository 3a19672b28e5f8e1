package plugins

import (
	"context"
	"log/slog"
	"time"

	"github.com/junctionmq/junction/core"
)

// The hook interfaces. A plugin implements any of them; each is one method
// with the meaning, and the locking rules, of the core.Hooks field of the
// same name. Hooks that run under a queue lock (deliver, acknowledged, a
// dropped expiry or dead-letter) must return quickly and must not call back
// into the broker.
type (
	// ConnectionCreated is told about a client connection once it logged in.
	ConnectionCreated interface {
		ConnectionCreated(core.ConnectionInfo)
	}
	// ConnectionDestroyed is told once when a connection that logged in ends.
	ConnectionDestroyed interface {
		ConnectionDestroyed(core.ConnectionInfo)
	}
	// BeforeSend may change a client's message before it is routed, or
	// refuse it with an error: the client gets its protocol's error, as for
	// a permission denial, naming the reason.
	BeforeSend interface {
		BeforeSend(s *core.Session, m *core.Message) error
	}
	// AfterSend learns where a client's message went (queues; none when it
	// was dropped) or the store's error.
	AfterSend interface {
		AfterSend(s *core.Session, m *core.Message, queues []*core.Queue, err error)
	}
	// BeforeDeliver runs just before a message is handed to a consumer.
	BeforeDeliver interface {
		BeforeDeliver(q *core.Queue, d core.Delivery)
	}
	// AfterDeliver runs just after the consumer's connection took it.
	AfterDeliver interface {
		AfterDeliver(q *core.Queue, d core.Delivery)
	}
	// MessageAcknowledged is told about each ack (and auto-ack delivery).
	MessageAcknowledged interface {
		MessageAcknowledged(q *core.Queue, m *core.Message, c *core.Consumer)
	}
	// MessageExpired: to is the copy on the expiry address, nil if dropped.
	MessageExpired interface {
		MessageExpired(q *core.Queue, m *core.Message, to *core.Message)
	}
	// MessageDeadLettered: to is the copy on the dead-letter address, nil
	// if dropped; reason says why it was dead-lettered.
	MessageDeadLettered interface {
		MessageDeadLettered(q *core.Queue, m *core.Message, to *core.Message, reason string)
	}
	// AddressCreated and the three below follow addresses and queues.
	AddressCreated interface {
		AddressCreated(name string)
	}
	AddressDestroyed interface {
		AddressDestroyed(name string)
	}
	QueueCreated interface {
		QueueCreated(core.QueueInfo)
	}
	QueueDestroyed interface {
		QueueDestroyed(core.QueueInfo)
	}
	// SecurityEventHook receives the security manager's audit events:
	// failed logins, refused connections, denied actions.
	SecurityEventHook interface {
		SecurityEvent(SecurityEvent)
	}
	// ManagementActionHook receives operators' management actions.
	ManagementActionHook interface {
		ManagementAction(ManagementAction)
	}
	// Router offers HTTP routes to the management listener.
	Router interface {
		Routes() []Route
	}
)

// SecurityEvent is one audit line of the security manager: Event is its
// message ("authentication failed", "authorization denied", "connection
// refused") and Attrs its attributes (user, remote, action, address,
// reason, ...).
type SecurityEvent struct {
	Time  time.Time
	Event string
	Attrs map[string]any
}

// hookNames names the hook interfaces, for the start-up log and for
// telling a plugin that implements none.
var hookNames = []struct {
	name string
	is   func(any) bool
}{
	{"ConnectionCreated", func(p any) bool { _, ok := p.(ConnectionCreated); return ok }},
	{"ConnectionDestroyed", func(p any) bool { _, ok := p.(ConnectionDestroyed); return ok }},
	{"BeforeSend", func(p any) bool { _, ok := p.(BeforeSend); return ok }},
	{"AfterSend", func(p any) bool { _, ok := p.(AfterSend); return ok }},
	{"BeforeDeliver", func(p any) bool { _, ok := p.(BeforeDeliver); return ok }},
	{"AfterDeliver", func(p any) bool { _, ok := p.(AfterDeliver); return ok }},
	{"MessageAcknowledged", func(p any) bool { _, ok := p.(MessageAcknowledged); return ok }},
	{"MessageExpired", func(p any) bool { _, ok := p.(MessageExpired); return ok }},
	{"MessageDeadLettered", func(p any) bool { _, ok := p.(MessageDeadLettered); return ok }},
	{"AddressCreated", func(p any) bool { _, ok := p.(AddressCreated); return ok }},
	{"AddressDestroyed", func(p any) bool { _, ok := p.(AddressDestroyed); return ok }},
	{"QueueCreated", func(p any) bool { _, ok := p.(QueueCreated); return ok }},
	{"QueueDestroyed", func(p any) bool { _, ok := p.(QueueDestroyed); return ok }},
	{"SecurityEvent", func(p any) bool { _, ok := p.(SecurityEventHook); return ok }},
	{"ManagementAction", func(p any) bool { _, ok := p.(ManagementActionHook); return ok }},
	{"Routes", func(p any) bool { _, ok := p.(Router); return ok }},
}

// HooksOf lists the hooks p implements, by interface name.
func HooksOf(p any) []string {
	var out []string
	for _, h := range hookNames {
		if h.is(p) {
			out = append(out, h.name)
		}
	}
	return out
}

// build makes one core hook function per hook some plugin implements:
// called directly when one plugin has it, in configuration order when
// several do. A hook no plugin has stays nil.
func (s *Set) build() {
	h := &s.hooks
	h.ConnectionCreated = join(s.plugins, func(p ConnectionCreated) func(core.ConnectionInfo) { return p.ConnectionCreated },
		func(fs []func(core.ConnectionInfo)) func(core.ConnectionInfo) {
			return func(c core.ConnectionInfo) {
				for _, f := range fs {
					f(c)
				}
			}
		})
	h.ConnectionDestroyed = join(s.plugins, func(p ConnectionDestroyed) func(core.ConnectionInfo) { return p.ConnectionDestroyed },
		func(fs []func(core.ConnectionInfo)) func(core.ConnectionInfo) {
			return func(c core.ConnectionInfo) {
				for _, f := range fs {
					f(c)
				}
			}
		})
	h.BeforeSend = join(s.plugins, func(p BeforeSend) func(*core.Session, *core.Message) error { return p.BeforeSend },
		func(fs []func(*core.Session, *core.Message) error) func(*core.Session, *core.Message) error {
			return func(sess *core.Session, m *core.Message) error {
				for _, f := range fs {
					if err := f(sess, m); err != nil {
						return err // the first refusal wins; later plugins do not see it
					}
				}
				return nil
			}
		})
	h.AfterSend = join(s.plugins, func(p AfterSend) func(*core.Session, *core.Message, []*core.Queue, error) { return p.AfterSend },
		func(fs []func(*core.Session, *core.Message, []*core.Queue, error)) func(*core.Session, *core.Message, []*core.Queue, error) {
			return func(sess *core.Session, m *core.Message, qs []*core.Queue, err error) {
				for _, f := range fs {
					f(sess, m, qs, err)
				}
			}
		})
	deliver := func(fs []func(*core.Queue, core.Delivery)) func(*core.Queue, core.Delivery) {
		return func(q *core.Queue, d core.Delivery) {
			for _, f := range fs {
				f(q, d)
			}
		}
	}
	h.BeforeDeliver = join(s.plugins, func(p BeforeDeliver) func(*core.Queue, core.Delivery) { return p.BeforeDeliver }, deliver)
	h.AfterDeliver = join(s.plugins, func(p AfterDeliver) func(*core.Queue, core.Delivery) { return p.AfterDeliver }, deliver)
	h.Acknowledged = join(s.plugins, func(p MessageAcknowledged) func(*core.Queue, *core.Message, *core.Consumer) {
		return p.MessageAcknowledged
	}, func(fs []func(*core.Queue, *core.Message, *core.Consumer)) func(*core.Queue, *core.Message, *core.Consumer) {
		return func(q *core.Queue, m *core.Message, c *core.Consumer) {
			for _, f := range fs {
				f(q, m, c)
			}
		}
	})
	h.Expired = join(s.plugins, func(p MessageExpired) func(*core.Queue, *core.Message, *core.Message) { return p.MessageExpired },
		func(fs []func(*core.Queue, *core.Message, *core.Message)) func(*core.Queue, *core.Message, *core.Message) {
			return func(q *core.Queue, m, to *core.Message) {
				for _, f := range fs {
					f(q, m, to)
				}
			}
		})
	h.DeadLettered = join(s.plugins, func(p MessageDeadLettered) func(*core.Queue, *core.Message, *core.Message, string) {
		return p.MessageDeadLettered
	}, func(fs []func(*core.Queue, *core.Message, *core.Message, string)) func(*core.Queue, *core.Message, *core.Message, string) {
		return func(q *core.Queue, m, to *core.Message, reason string) {
			for _, f := range fs {
				f(q, m, to, reason)
			}
		}
	})
	names := func(fs []func(string)) func(string) {
		return func(n string) {
			for _, f := range fs {
				f(n)
			}
		}
	}
	h.AddressCreated = join(s.plugins, func(p AddressCreated) func(string) { return p.AddressCreated }, names)
	h.AddressDestroyed = join(s.plugins, func(p AddressDestroyed) func(string) { return p.AddressDestroyed }, names)
	queues := func(fs []func(core.QueueInfo)) func(core.QueueInfo) {
		return func(i core.QueueInfo) {
			for _, f := range fs {
				f(i)
			}
		}
	}
	h.QueueCreated = join(s.plugins, func(p QueueCreated) func(core.QueueInfo) { return p.QueueCreated }, queues)
	h.QueueDestroyed = join(s.plugins, func(p QueueDestroyed) func(core.QueueInfo) { return p.QueueDestroyed }, queues)

	for _, p := range s.plugins {
		if x, ok := p.(SecurityEventHook); ok {
			s.security = append(s.security, x)
		}
		if x, ok := p.(ManagementActionHook); ok {
			s.mgmt = append(s.mgmt, x)
		}
	}
}

// join finds the plugins implementing hook interface I and returns nil when
// none does, the one method when one does, and all of them chained by many
// otherwise.
func join[I any, F any](plugins []any, method func(I) F, many func([]F) F) F {
	var fs []F
	for _, p := range plugins {
		if x, ok := p.(I); ok {
			fs = append(fs, method(x))
		}
	}
	switch len(fs) {
	case 0:
		var zero F
		return zero
	case 1:
		return fs[0]
	}
	return many(fs)
}

// AuditHandler is a slog.Handler for the security manager's audit lines
// (security.WithAuditHandler): each record becomes a SecurityEvent for the
// plugins that take them. nil when no plugin does.
func (s *Set) AuditHandler() slog.Handler {
	if s == nil || len(s.security) == 0 {
		return nil
	}
	return &auditHandler{hooks: s.security}
}

type auditHandler struct {
	hooks []SecurityEventHook
	attrs []slog.Attr
}

func (h *auditHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *auditHandler) Handle(_ context.Context, r slog.Record) error {
	ev := SecurityEvent{Time: r.Time, Event: r.Message, Attrs: make(map[string]any, r.NumAttrs()+len(h.attrs))}
	add := func(a slog.Attr) bool {
		if a.Key != "audit" {
			ev.Attrs[a.Key] = a.Value.Resolve().Any()
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	for _, x := range h.hooks {
		x.SecurityEvent(ev)
	}
	return nil
}

func (h *auditHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &auditHandler{hooks: h.hooks, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

// WithGroup flattens: audit attributes are few and named distinctly.
func (h *auditHandler) WithGroup(string) slog.Handler { return h }
