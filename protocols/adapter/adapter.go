// Package adapter is the contract between the server and a protocol adapter
// (STOMP, MQTT, later AMQP and OpenWire). An adapter package exports one
// [Registration]: its name, the TCP listeners it owns with their default
// addresses, the WebSocket subprotocols it serves on the shared ws and wss
// listeners, and a constructor. The server keeps the list of registrations
// and does everything else by iterating it: listener defaults, the
// `listeners:` configuration, binding, WebSocket routing, statistics and
// shutdown. Adding a protocol is its own package plus one line in that list.
//
// The static half (Registration) is separate from the running half
// ([Adapter]) because listeners are planned, validated and bound before the
// store is opened and the core recovered, and the adapter needs the core.
package adapter

import (
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/transport"
)

// Listener is a TCP listener an adapter serves.
type Listener struct {
	// Name is the listener's key in the `listeners:` configuration and in
	// `--listen NAME=ADDR`, e.g. "stomp-tls".
	Name string
	// Default is its address when the configuration names none, e.g.
	// "127.0.0.1:61613". A TLS listener gets it only once tls: is
	// configured; until then it is off.
	Default string
	// TLS listeners serve the configured certificate.
	TLS bool
}

// WebSocket is how an adapter is reached on the shared ws and wss listeners.
type WebSocket struct {
	// Subprotocols route a WebSocket connection to this adapter when the
	// client offers one of them (e.g. "v12.stomp", "mqtt", "amqp"). None:
	// the adapter is not reachable over WebSocket.
	Subprotocols []string
	// Type is the message type of the adapter's writes: transport.Text for
	// text protocols (STOMP), transport.Binary for the others.
	Type transport.MessageType
}

// Env is what every adapter is built from.
type Env struct {
	Broker *core.Broker
	// Gate authenticates and authorizes; nil allows anonymous access.
	Gate   *access.Gate
	Logger *slog.Logger
	// MaxMessageSize is the configured max-message-size in bytes. An adapter
	// refuses a frame or packet above it as soon as its header says so, with
	// the protocol's own error, rather than reading it first.
	MaxMessageSize int
	// Config is the whole configuration, for an adapter's own section
	// (mqtt:); nil when the adapter is built without one (tests).
	Config *config.Config
	// MaxQueuedMessages and MaxQueuedBytes bound what one client's
	// subscription holds where the protocol has such a limit (MQTT, as
	// Mosquitto's max_queued_messages and max_queued_bytes; STOMP's
	// non-durable topic subscriptions): 0 takes the adapter's default, -1
	// is unlimited.
	MaxQueuedMessages int
	MaxQueuedBytes    int64
}

// Adapter is a running protocol adapter.
type Adapter interface {
	// ServeConn serves one connection, accepted on one of the adapter's
	// listeners or routed to it by WebSocket subprotocol. What the adapter
	// may want to know about it comes from the transport:
	// transport.ListenerName(ctx), transport.TLSConnectionState(c) and
	// transport.Subprotocol(c). Adapters that can serve without holding the
	// accepting goroutine also implement transport.DetachedHandler.
	transport.Handler
	// Stats are the adapter's counters, for logs and the management API.
	Stats() Stats
	// Close stops the adapter's own background work (timers, sessions). It
	// runs before the transport closes the connections, so an adapter can
	// tell a connection closed by shutdown from one whose client left.
	Close() error
}

// Registration describes an adapter before it runs.
type Registration struct {
	// Name identifies the protocol in logs and statistics ("stomp").
	Name      string
	Listeners []Listener
	WebSocket WebSocket
	// New builds the adapter once the core has recovered.
	New func(Env) (Adapter, error)
}

// Stats are what every adapter counts cheaply. Counters only grow; gauges
// are the state at the moment of the call.
type Stats struct {
	// Connections is how many connections are open now.
	Connections int64
	// Accepted is how many connections the adapter has served since it
	// started, open ones included.
	Accepted uint64
	// MessagesIn counts messages the clients sent that the core accepted;
	// MessagesOut counts deliveries handed to client connections.
	MessagesIn, MessagesOut uint64
	// BytesIn and BytesOut count what the connections read and wrote
	// (over WebSocket: the payload), through Counters.Meter.
	BytesIn, BytesOut uint64
	// Extra holds protocol-specific gauges by name (MQTT: sessions,
	// retained, in-flight).
	Extra map[string]int64
}

// Counters keeps the common Stats with atomics; adapters embed one, and
// give each connection's transport.Waiter the Meter.
type Counters struct {
	open              atomic.Int64
	accepted, in, out atomic.Uint64
	Meter             transport.Meter
}

// Opened counts a connection the adapter starts serving.
func (c *Counters) Opened() {
	c.open.Add(1)
	c.accepted.Add(1)
}

// Closed counts a connection the adapter has finished with.
func (c *Counters) Closed() { c.open.Add(-1) }

// MessageIn counts a message accepted from a client.
func (c *Counters) MessageIn() { c.in.Add(1) }

// MessageOut counts a delivery written to a client.
func (c *Counters) MessageOut() { c.out.Add(1) }

// Open is how many connections are open now.
func (c *Counters) Open() int64 { return c.open.Load() }

// Snapshot returns the counters as Stats (Extra left nil).
func (c *Counters) Snapshot() Stats {
	return Stats{
		Connections: c.open.Load(),
		Accepted:    c.accepted.Load(),
		MessagesIn:  c.in.Load(),
		MessagesOut: c.out.Load(),
		BytesIn:     c.Meter.In.Load(),
		BytesOut:    c.Meter.Out.Load(),
	}
}

// SessionLister is implemented by adapters whose sessions outlive their
// connections (MQTT persistent sessions), for the management API.
type SessionLister interface {
	Sessions() []SessionInfo
	// EndSession ends an offline session as its expiry would: its
	// subscriptions and what they hold go. It refuses a connected one
	// (close the connection first) with ErrSessionConnected, and reports
	// ErrNoSession for an unknown client id.
	EndSession(clientID string) error
}

// Errors of SessionLister.EndSession.
var (
	ErrNoSession        = errors.New("no such session")
	ErrSessionConnected = errors.New("the session is connected")
)

// SessionInfo describes a protocol session, connected or not.
type SessionInfo struct {
	ClientID  string
	Connected bool
	// Persistent sessions keep their subscriptions while offline, for
	// ExpirySeconds (0xFFFFFFFF: never) after the client left.
	Persistent    bool
	ExpirySeconds uint32
	Subscriptions []SubscriptionInfo
	// InFlight counts deliveries awaiting the client's acknowledgement.
	InFlight int
}

// SubscriptionInfo is one subscription of a SessionInfo.
type SubscriptionInfo struct {
	Filter string
	QoS    byte
	Queue  string
	Shared bool
}
