// Package tracing is the `tracing` plugin: it follows messages across
// protocols, queues, deliveries and acks. Each step (sent, delivered,
// acknowledged, expired, dead-lettered) is one Event, kept in a bounded
// in-memory ring that the management API serves and the console shows, and
// logged. A dead-letter or expiry copy is linked to the message it came
// from, so a trace follows a message into the dead-letter queue and back.
//
//	plugins:
//	  - name: tracing
//	    options:
//	      capacity: 10000         # events kept (default 10000)
//	      addresses: ["orders.#"] # only messages sent to these (default: all)
//	      property: trace         # only messages carrying this property (default: any)
//	      log: true               # log each event at info level (default true)
package tracing

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/wildcard"
	"github.com/junctionmq/junction/plugins"
)

func init() { plugins.Register("tracing", New) }

// Options are the plugin's `options:`.
type Options struct {
	Capacity  int      `yaml:"capacity"`
	Addresses []string `yaml:"addresses"`
	Property  string   `yaml:"property"`
	Log       *bool    `yaml:"log"`
}

// DefaultCapacity is how many events the ring keeps by default (about
// 3 MB).
const DefaultCapacity = 10_000

// Event is one step of a message's way through the broker.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Kind is sent, dropped, not-stored, delivered, acknowledged, expired
	// or dead-lettered.
	Kind string `json:"event"`
	// Message is the broker's id of the message (MessageID "ID:<n>", the
	// STOMP message-id header).
	Message   uint64 `json:"message"`
	MessageID string `json:"message_id"`
	// Origin is the message this one is a copy of (dead-letter, expiry,
	// redrive), To the copy this step made.
	Origin uint64 `json:"origin,omitempty"`
	To     uint64 `json:"to,omitempty"`

	Protocol   string   `json:"protocol,omitempty"`
	Connection uint64   `json:"connection,omitempty"`
	Session    uint64   `json:"session,omitempty"`
	User       string   `json:"user,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Address    string   `json:"address,omitempty"`
	Queue      string   `json:"queue,omitempty"`
	Queues     []string `json:"queues,omitempty"`
	Consumer   uint64   `json:"consumer,omitempty"`
	Deliveries uint32   `json:"delivery_count,omitempty"`
	Detail     string   `json:"detail,omitempty"`
}

// Tracer is the plugin.
type Tracer struct {
	addrs []string
	prop  string
	log   *slog.Logger // nil: not logged

	mu     sync.Mutex
	ring   []Event
	next   int // where the next event goes
	filled bool
	seq    uint64
	// traced are the ids being followed when a filter is configured
	// (without one every message is); bounded like the ring.
	traced     map[uint64]struct{}
	tracedFIFO []uint64
}

// New builds the plugin (the registered Factory).
func New(env plugins.Env) (any, error) {
	var o Options
	if err := env.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	if o.Capacity < 0 {
		return nil, fmt.Errorf("capacity %d: must not be negative", o.Capacity)
	}
	if o.Capacity == 0 {
		o.Capacity = DefaultCapacity
	}
	t := &Tracer{ring: make([]Event, o.Capacity), prop: o.Property}
	for _, a := range o.Addresses {
		if a == "" {
			return nil, fmt.Errorf("addresses: an empty pattern")
		}
		t.addrs = append(t.addrs, wildcard.Normalize(a))
	}
	if t.filtered() {
		t.traced = map[uint64]struct{}{}
	}
	if o.Log == nil || *o.Log {
		t.log = env.Logger
	}
	return t, nil
}

func (t *Tracer) filtered() bool { return len(t.addrs) > 0 || t.prop != "" }

// selects reports whether a message sent by a client is to be traced.
func (t *Tracer) selects(m *core.Message) bool {
	if t.prop != "" && m.Property(t.prop).IsNull() {
		return false
	}
	if len(t.addrs) == 0 {
		return true
	}
	for _, p := range t.addrs {
		if wildcard.Match(p, m.Address) {
			return true
		}
	}
	return false
}

// followed reports whether a message (or the one it is a copy of) is
// traced. Caller holds t.mu.
func (t *Tracer) followedLocked(m *core.Message) bool {
	if t.traced == nil {
		return true
	}
	if _, ok := t.traced[m.ID]; ok {
		return true
	}
	if o := origin(m); o != 0 {
		if _, ok := t.traced[o]; ok {
			t.followLocked(m.ID)
			return true
		}
	}
	return false
}

func (t *Tracer) followLocked(id uint64) {
	if t.traced == nil {
		return
	}
	if _, ok := t.traced[id]; ok {
		return
	}
	t.traced[id] = struct{}{}
	t.tracedFIFO = append(t.tracedFIFO, id)
	if len(t.tracedFIFO) > len(t.ring) {
		delete(t.traced, t.tracedFIFO[0])
		t.tracedFIFO = t.tracedFIFO[1:]
	}
}

// origin is the id of the message m is a copy of, from the property the
// core's dead-letter and expiry moves set ("ID:<n>").
func origin(m *core.Message) uint64 {
	v := m.Property(core.PropOrigMessageID)
	if v.IsNull() {
		return 0
	}
	return parseID(v.Text())
}

// parseID reads "ID:123" or "123"; 0 when it is neither.
func parseID(s string) uint64 {
	s = strings.TrimPrefix(strings.TrimSpace(s), "ID:")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (t *Tracer) addLocked(e Event) {
	t.seq++
	e.Seq = t.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.MessageID = "ID:" + strconv.FormatUint(e.Message, 10)
	t.ring[t.next] = e
	t.next++
	if t.next == len(t.ring) {
		t.next, t.filled = 0, true
	}
	if t.log != nil {
		t.log.Info("trace", "event", e.Kind, "message", e.MessageID, "protocol", e.Protocol, "connection", e.Connection,
			"address", e.Address, "queue", e.Queue, "queues", e.Queues, "to", e.To, "origin", e.Origin, "detail", e.Detail)
	}
}

func sessionFields(e *Event, s *core.Session) {
	if s == nil {
		return
	}
	e.Protocol, e.Connection, e.Session, e.User, e.ClientID = s.Protocol(), s.Connection(), s.ID(), s.User(), s.ClientID()
}

// AfterSend records a client's message and where it went.
func (t *Tracer) AfterSend(s *core.Session, m *core.Message, queues []*core.Queue, err error) {
	if !t.selects(m) && (t.traced == nil || origin(m) == 0) {
		return
	}
	e := Event{Kind: "sent", Message: m.ID, Address: m.Address, Origin: origin(m)}
	sessionFields(&e, s)
	for _, q := range queues {
		e.Queues = append(e.Queues, q.Name())
	}
	switch {
	case err != nil:
		e.Kind, e.Detail = "not-stored", err.Error()
	case len(queues) == 0:
		e.Kind, e.Detail = "dropped", "routed to no queue"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.selects(m) && !t.followedLocked(m) {
		return
	}
	t.followLocked(m.ID)
	t.addLocked(e)
}

// BeforeDeliver records a delivery to a consumer.
func (t *Tracer) BeforeDeliver(q *core.Queue, d core.Delivery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.followedLocked(d.Message) {
		return
	}
	e := Event{Kind: "delivered", Message: d.Message.ID, Origin: origin(d.Message), Address: d.Message.Address, Queue: q.Name(), Deliveries: d.DeliveryCount}
	if c := d.Consumer; c != nil {
		e.Consumer = c.ID()
		sessionFields(&e, c.Session())
	}
	t.addLocked(e)
}

// MessageAcknowledged records an ack.
func (t *Tracer) MessageAcknowledged(q *core.Queue, m *core.Message, c *core.Consumer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.followedLocked(m) {
		return
	}
	e := Event{Kind: "acknowledged", Message: m.ID, Origin: origin(m), Address: m.Address, Queue: q.Name()}
	if c != nil {
		e.Consumer = c.ID()
		sessionFields(&e, c.Session())
	}
	t.addLocked(e)
}

// MessageExpired records an expiry and links the expiry copy.
func (t *Tracer) MessageExpired(q *core.Queue, m *core.Message, to *core.Message) {
	t.moved("expired", q, m, to, "")
}

// MessageDeadLettered records a dead-lettering and links the copy.
func (t *Tracer) MessageDeadLettered(q *core.Queue, m *core.Message, to *core.Message, reason string) {
	t.moved("dead-lettered", q, m, to, reason)
}

func (t *Tracer) moved(kind string, q *core.Queue, m, to *core.Message, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.followedLocked(m) {
		return
	}
	e := Event{Kind: kind, Message: m.ID, Origin: origin(m), Address: m.Address, Queue: q.Name(), Detail: reason}
	if to != nil {
		e.To = to.ID
		if e.Detail != "" {
			e.Detail += "; "
		}
		e.Detail += "moved to " + to.Address
		t.followLocked(to.ID)
	}
	t.addLocked(e)
}

// eventsLocked returns the ring's events, oldest first.
func (t *Tracer) eventsLocked() []Event {
	if !t.filled {
		return t.ring[:t.next]
	}
	return append(t.ring[t.next:len(t.ring):len(t.ring)], t.ring[:t.next]...)
}

// Recent returns up to limit of the latest events, newest first.
func (t *Tracer) Recent(limit int) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := t.eventsLocked()
	if limit <= 0 || limit > len(all) {
		limit = len(all)
	}
	out := make([]Event, 0, limit)
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, all[i])
	}
	return out
}

// Trace returns the events of message id and of the messages linked to it
// (the copies it was moved as and the message it is a copy of, and
// theirs), oldest first.
func (t *Tracer) Trace(id uint64) []Event {
	t.mu.Lock()
	all := append([]Event(nil), t.eventsLocked()...)
	t.mu.Unlock()
	ids := map[uint64]bool{id: true}
	for grew := true; grew; {
		grew = false
		for _, e := range all {
			linked := ids[e.Message] || (e.To != 0 && ids[e.To]) || (e.Origin != 0 && ids[e.Origin])
			if !linked {
				continue
			}
			for _, x := range []uint64{e.Message, e.To, e.Origin} {
				if x != 0 && !ids[x] {
					ids[x], grew = true, true
				}
			}
		}
	}
	var out []Event
	for _, e := range all {
		if ids[e.Message] {
			out = append(out, e)
		}
	}
	return out
}

// Capacity is how many events the ring holds.
func (t *Tracer) Capacity() int { return len(t.ring) }
