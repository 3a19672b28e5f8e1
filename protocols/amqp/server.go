// Package amqp is Junction's AMQP 1.0 server: SASL (PLAIN, ANONYMOUS,
// EXTERNAL), connections, sessions and links over TCP, TLS and WebSocket,
// turned into core calls. The wire format is protocols/amqp/codec; the
// mapping between AMQP messages and core messages is protocols/amqp/mapping.
//
// One goroutine reads each connection and handles its frames in order: it
// owns the connection, session and link state. Deliveries from the core and
// confirmations from the store arrive on other goroutines; they encode their
// frames into the connection's outbound buffer under outMu, and the state
// they share with the reader (a sending link's delivery count and credit, a
// session's outgoing transfer ids and window) is guarded by that lock too.
package amqp

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/transport"
)

// Subprotocol is the WebSocket subprotocol of AMQP over WebSocket (the
// OASIS AMQP WebSocket binding).
const Subprotocol = "amqp"

// Options configure the server.
type Options struct {
	Broker *core.Broker
	// Gate authenticates connections; nil allows anonymous access.
	Gate   *access.Gate
	Logger *slog.Logger
	// MaxMessageSize bounds a message, also one reassembled from many
	// transfer frames; it is announced as every receiving link's
	// max-message-size (default 100 MiB).
	MaxMessageSize int
	// MaxFrameSize is the largest frame the server reads, announced in its
	// open (default 128 KiB, as Artemis; never below 512, the spec's floor).
	MaxFrameSize uint32
	// ChannelMax is the highest channel number a client may use (default
	// 2047, as RabbitMQ: Qpid JMS opens one session per JMS session).
	ChannelMax uint16
	// HandleMax is the highest link handle a client may use on a session
	// (default 1023).
	HandleMax uint32
	// IdleTimeout is announced in the open: a client silent this long is
	// gone (default 60s; the client sends empty frames to stay alive).
	IdleTimeout time.Duration
	// IdleFloor is the shortest idle time-out of the client's that the
	// server honours with keep-alives, so a client cannot make it write
	// every millisecond (default 100ms).
	IdleFloor time.Duration
	// ConnectTimeout bounds the time from accept to a complete open (default 10s).
	ConnectTimeout time.Duration
	// WriteTimeout closes a connection whose peer does not read (default 30s).
	WriteTimeout time.Duration
	// LinkCredit is the credit a receiving link grants a client's sender,
	// and grants again as messages arrive (default 500).
	LinkCredit uint32
	// SessionWindow is the incoming window of each session (default 2048
	// transfer frames).
	SessionWindow uint32
	// MaxHeldBytes bounds what a connection's senders may have held by
	// producer flow control before their credit is withheld (default 0: a
	// link gets no new credit while anything of its connection is held).
	MaxHeldBytes int64
	// CloseGrace bounds how long a closing connection waits for the
	// dispositions still due (durable sends being stored) (default 5s).
	CloseGrace time.Duration
}

// Defaults; see Options.
const (
	DefaultMaxFrameSize   = 128 << 10
	DefaultMaxMessageSize = 100 << 20
	DefaultLinkCredit     = 500
	DefaultSessionWindow  = 2048
	minMaxFrameSize       = 512
)

// Server serves AMQP connections.
type Server struct {
	opts Options
	log  *slog.Logger

	counters adapter.Counters
	// flush writes, at the end of a reader's batch, what the batch
	// delivered to other connections.
	flush transport.BatchFlush
	// containers: the container ids in use, for sole-connection-for-container.
	containers containerSet
}

// Adapter registers AMQP with the server: the IANA ports 5672 and 5671
// (TLS), and the "amqp" subprotocol (binary) on the WebSocket listeners.
var Adapter = adapter.Registration{
	Name: "amqp",
	Listeners: []adapter.Listener{
		{Name: "amqp", Default: "127.0.0.1:5672"},
		{Name: "amqp-tls", Default: "127.0.0.1:5671", TLS: true},
	},
	WebSocket: adapter.WebSocket{Subprotocols: []string{Subprotocol}, Type: transport.Binary},
	New: func(env adapter.Env) (adapter.Adapter, error) {
		opts := Options{Broker: env.Broker, Gate: env.Gate, Logger: env.Logger, MaxMessageSize: env.MaxMessageSize}
		if env.Config != nil {
			// config.Validate has checked the ranges; zero takes the default.
			a := env.Config.AMQP
			opts.MaxFrameSize = uint32(a.MaxFrameSize)
			opts.ChannelMax = uint16(a.ChannelMax)
			opts.HandleMax = uint32(a.HandleMax)
			opts.IdleTimeout = a.IdleTimeout
			opts.LinkCredit = uint32(a.LinkCredit)
			opts.SessionWindow = uint32(a.SessionWindow)
		}
		return NewServer(opts), nil
	},
}

// NewServer returns a server for the broker.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.MaxFrameSize == 0 {
		opts.MaxFrameSize = DefaultMaxFrameSize
	}
	opts.MaxFrameSize = max(opts.MaxFrameSize, minMaxFrameSize)
	if opts.ChannelMax == 0 {
		opts.ChannelMax = 2047
	}
	if opts.HandleMax == 0 {
		opts.HandleMax = 1023
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.IdleFloor <= 0 {
		opts.IdleFloor = 100 * time.Millisecond
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.LinkCredit == 0 {
		opts.LinkCredit = DefaultLinkCredit
	}
	if opts.SessionWindow == 0 {
		opts.SessionWindow = DefaultSessionWindow
	}
	if opts.CloseGrace <= 0 {
		opts.CloseGrace = 5 * time.Second
	}
	return &Server{opts: opts, log: opts.Logger.With("protocol", "amqp")}
}

// Connections returns the number of open AMQP connections.
func (s *Server) Connections() int64 { return s.counters.Open() }

// Stats returns the adapter's counters.
func (s *Server) Stats() adapter.Stats { return s.counters.Snapshot() }

// Close has nothing of its own to stop: the transport closes the
// connections, and each releases its state as it ends.
func (s *Server) Close() error { return nil }

// ServeConn serves one connection until it ends or ctx is cancelled.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	s.counters.Opened()
	defer s.counters.Closed()
	c := newConn(s, nc)
	c.serve(ctx)
}
