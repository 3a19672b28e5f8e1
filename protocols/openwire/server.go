// Package openwire is Junction's OpenWire server: the protocol of the
// ActiveMQ 5.x JMS, NMS and CMS clients. The codec (command structs,
// loose and tight marshalling for versions 1 to 12, the marshalling cache)
// is protocols/openwire/wire; this package negotiates the wire format,
// keeps each connection's JMS state (sessions, producers, consumers,
// transactions, temporary destinations) and maps it onto core calls.
//
// Each connection has one reader goroutine that handles commands in order.
// Everything the server writes (responses, deliveries, keep-alives,
// advisories) is encoded into the connection's outbound buffer under its
// output lock, from whatever goroutine produced it, and a transport.Outbox
// writes what accumulated in one write.
package openwire

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// Options configure the server.
type Options struct {
	Broker *core.Broker
	// Gate authenticates connections; nil allows anonymous access.
	Gate   *access.Gate
	Logger *slog.Logger
	// MaxFrameSize bounds one incoming command (default 64 MiB, or the
	// configured max-message-size plus room for the headers).
	MaxFrameSize int64
	// MaxInactivity is the inactivity timeout the server offers in its
	// WireFormatInfo (default 30s, the client's own default); the smaller
	// of the two sides' values is used, 0 on either side turns it off.
	MaxInactivity time.Duration
	// HandshakeTimeout bounds the wait for the client's WireFormatInfo and
	// ConnectionInfo (default 10s).
	HandshakeTimeout time.Duration
	// WriteTimeout closes a connection whose peer does not read (default 30s).
	WriteTimeout time.Duration
	// MaxHeldBytes bounds the sends of one connection held by producer flow
	// control (address-full-policy BLOCK) before the server stops reading
	// it (default 1 MiB). Producers with a window are bounded by it first.
	MaxHeldBytes int64
	// BrokerName is announced in BrokerInfo (default "junction").
	BrokerName string
}

// Server serves OpenWire connections.
type Server struct {
	opts     Options
	log      *slog.Logger
	brokerID string
	counters adapter.Counters

	mu sync.Mutex
	// clientIDs holds the connections by JMS client id: ActiveMQ refuses a
	// second connection with an id in use (InvalidClientIDException).
	clientIDs map[string]*conn
	// temps are the temporary destinations of every connection, by
	// physical name, so that each new advisory subscriber hears of the
	// ones that exist (the client refuses to send to a temporary
	// destination it has not heard of).
	temps map[string]*tempDest
	// advisors are the consumers of the temporary-destination advisory
	// topics.
	advisors map[*consumer]struct{}
	// watchers are the consumers of connection and consumer advisory
	// topics; connInfos and announced are what exists, replayed to a new
	// watcher (advisory_consumers.go).
	watchers  map[*consumer]struct{}
	connInfos map[*conn]*wire.ConnectionInfo
	announced map[string][]announced
	// advSeq numbers advisory messages.
	advSeq atomic.Int64
}

// Adapter registers OpenWire with the server: plain and TLS listeners at
// ActiveMQ's ports. OpenWire over WebSocket is not something the ActiveMQ
// clients do, so no subprotocol is registered.
var Adapter = adapter.Registration{
	Name: "openwire",
	Listeners: []adapter.Listener{
		{Name: "openwire", Default: "127.0.0.1:61616"},
		{Name: "openwire-tls", Default: "127.0.0.1:61617", TLS: true},
	},
	New: func(env adapter.Env) (adapter.Adapter, error) {
		var maxFrame int64
		if env.MaxMessageSize > 0 {
			// The headers, properties and ids around the largest body.
			maxFrame = int64(env.MaxMessageSize) + 1<<20
		}
		return NewServer(Options{Broker: env.Broker, Gate: env.Gate, Logger: env.Logger, MaxFrameSize: maxFrame}), nil
	},
}

// NewServer returns a server for the broker.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxFrameSize <= 0 {
		opts.MaxFrameSize = wire.DefaultMaxFrameSize
	}
	if opts.MaxInactivity == 0 {
		opts.MaxInactivity = 30 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.MaxHeldBytes <= 0 {
		opts.MaxHeldBytes = 1 << 20
	}
	if opts.BrokerName == "" {
		opts.BrokerName = "junction"
	}
	return &Server{
		opts:      opts,
		log:       opts.Logger.With("protocol", "openwire"),
		brokerID:  "ID:junction-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		clientIDs: map[string]*conn{},
		temps:     map[string]*tempDest{},
		advisors:  map[*consumer]struct{}{},
		watchers:  map[*consumer]struct{}{},
		connInfos: map[*conn]*wire.ConnectionInfo{},
		announced: map[string][]announced{},
	}
}

// Connections returns the number of open OpenWire connections.
func (s *Server) Connections() int64 { return s.counters.Open() }

// Stats returns the adapter's counters.
func (s *Server) Stats() adapter.Stats { return s.counters.Snapshot() }

// Close has nothing of its own to stop: each connection's state ends with
// the connection, which the transport closes.
func (s *Server) Close() error { return nil }

// ServeConn serves one connection until it ends or ctx is cancelled.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	s.counters.Opened()
	defer s.counters.Closed()
	c := newConn(s, nc)
	c.serve(ctx)
}

// claimClientID registers c under id, refusing an id another connection
// holds, unless that connection is the same JMS connection (connID): a
// failover client reconnecting before the broker noticed its old socket
// died. That one is closed and c takes its place, as ActiveMQ does.
func (s *Server) claimClientID(id, connID string, c *conn) bool {
	s.mu.Lock()
	other, ok := s.clientIDs[id]
	if ok && other != c && (connID == "" || other.connID != connID) {
		s.mu.Unlock()
		return false
	}
	s.clientIDs[id] = c
	s.mu.Unlock()
	if ok && other != c {
		other.logger().Info("openwire connection replaced by a reconnecting client", "client_id", id)
		other.closeWithError(&wire.Throwable{Class: "javax.jms.JMSException", Message: "replaced by a reconnection of the same client"}, false)
	}
	return true
}

func (s *Server) releaseClientID(id string, c *conn) {
	s.mu.Lock()
	if s.clientIDs[id] == c {
		delete(s.clientIDs, id)
	}
	s.mu.Unlock()
}
