// Package stomp is Junction's STOMP 1.0, 1.1 and 1.2 server: it reads frames
// from a connection (TCP, TLS or WebSocket, see protocols/transport), turns
// them into core calls, and writes the core's deliveries back as MESSAGE
// frames.
//
// One goroutine reads each connection and handles its frames in order; a
// second writes. Deliveries, receipts and errors are appended to the
// connection's outbound buffer (under a mutex, from whatever goroutine the
// event happens on) and the writer flushes whatever has accumulated in one
// write, so a burst of deliveries costs one syscall.
package stomp

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/protocols/transport"
)

// Options configure the server.
type Options struct {
	Broker *core.Broker
	// Gate authenticates connections; nil allows anonymous access.
	Gate   *access.Gate
	Logger *slog.Logger
	// Limits bound incoming frames (defaults: frame package's).
	Limits frame.Limits
	// ConnectTimeout bounds the wait for CONNECT (default 10s).
	ConnectTimeout time.Duration
	// HeartBeatFloor is the shortest heart-beat interval the server agrees to,
	// so a client cannot make it wake up every millisecond (default 100ms).
	HeartBeatFloor time.Duration
	// WriteTimeout closes a connection whose peer does not read (default 30s).
	WriteTimeout time.Duration
	// DefaultPrefetch is the credit of a client or client-individual
	// subscription that names none (default 20). It must stay small enough
	// for clients that read and acknowledge on one goroutine through bounded
	// channels: go-stomp with default options deadlocks once about 38
	// unacknowledged messages are in flight to it (docs/STOMP.md).
	DefaultPrefetch int
	// MaxHeldBytes bounds the SENDs a connection may have held by producer
	// flow control (address-full-policy BLOCK) before the server stops
	// reading it (default 1 MiB).
	MaxHeldBytes int64
	// DisconnectGrace bounds how long a closing connection waits for the
	// receipts still due before it closes (default 5s).
	DisconnectGrace time.Duration
	// AutoAckWindow is how many auto-acknowledged messages may be queued for
	// writing to one subscription before the writer has sent them (default
	// 1000): the client never answers them, so it needs no smaller window.
	AutoAckWindow int
	// MaxQueuedMessages and MaxQueuedBytes bound the queue of each
	// non-durable topic subscription (defaults 1000 and 256 KiB, the
	// configuration's max-queued-messages and max-queued-bytes; -1:
	// unlimited). Beyond them the oldest message waiting for that
	// subscriber is discarded and counted, as ActiveMQ's pending message
	// limit does for non-durable topic subscribers: a subscriber that does
	// not keep up gets the latest messages, and costs the broker no more.
	// Queue and durable subscriptions are not bounded here: their messages
	// belong to the queue (bounded by max-size-bytes and global-max-size,
	// which push back on producers) and the subscriber holds at most its
	// credit window of them (docs/STOMP.md "Slow subscribers").
	MaxQueuedMessages int
	MaxQueuedBytes    int64
}

// Default credits; see Options.
const (
	DefaultPrefetch      = 20
	DefaultAutoAckWindow = 1000
)

// Default bounds of a non-durable topic subscription's queue; see Options.
const (
	DefaultMaxQueuedMessages = 1000
	DefaultMaxQueuedBytes    = 256 << 10
)

// Server serves STOMP connections.
type Server struct {
	opts Options
	log  *slog.Logger

	counters adapter.Counters
}

// Adapter registers STOMP with the server: plain and TLS listeners at the
// standard ports, and the three STOMP subprotocols on the WebSocket
// listeners (text messages: STOMP is a text protocol).
var Adapter = adapter.Registration{
	Name: "stomp",
	Listeners: []adapter.Listener{
		{Name: "stomp", Default: "127.0.0.1:61613"},
		{Name: "stomp-tls", Default: "127.0.0.1:61612", TLS: true},
	},
	WebSocket: adapter.WebSocket{
		Subprotocols: []string{transport.SubprotocolSTOMP12, transport.SubprotocolSTOMP11, transport.SubprotocolSTOMP10},
		Type:         transport.Text,
	},
	New: func(env adapter.Env) (adapter.Adapter, error) {
		return NewServer(Options{
			Broker: env.Broker, Gate: env.Gate, Logger: env.Logger,
			Limits:            frame.Limits{MaxBodySize: env.MaxMessageSize},
			MaxQueuedMessages: env.MaxQueuedMessages, MaxQueuedBytes: env.MaxQueuedBytes,
		}), nil
	},
}

// NewServer returns a server for the broker.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.HeartBeatFloor <= 0 {
		opts.HeartBeatFloor = 100 * time.Millisecond
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.DefaultPrefetch <= 0 {
		opts.DefaultPrefetch = DefaultPrefetch
	}
	if opts.AutoAckWindow <= 0 {
		opts.AutoAckWindow = DefaultAutoAckWindow
	}
	if opts.MaxHeldBytes <= 0 {
		opts.MaxHeldBytes = 1 << 20
	}
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = 5 * time.Second
	}
	if opts.MaxQueuedMessages == 0 {
		opts.MaxQueuedMessages = DefaultMaxQueuedMessages
	}
	if opts.MaxQueuedBytes == 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	return &Server{opts: opts, log: opts.Logger.With("protocol", "stomp")}
}

// Connections returns the number of open STOMP connections.
func (s *Server) Connections() int64 { return s.counters.Open() }

// Stats returns the adapter's counters.
func (s *Server) Stats() adapter.Stats { return s.counters.Snapshot() }

// Close has nothing to stop: a STOMP connection's state ends with it.
func (s *Server) Close() error { return nil }

// ServeConn runs one connection until it ends or ctx is cancelled.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) { transport.ServeBlocking(ctx, s, nc) }

// ServeConnDetached serves a connection from goroutines of its own and calls
// done when it is finished. While the peer is quiet the connection waits in a
// fresh goroutine with a small stack (see conn.run), so ten thousand idle
// connections cost little memory.
func (s *Server) ServeConnDetached(ctx context.Context, nc net.Conn, done func()) {
	s.counters.Opened()
	c := newConn(s, nc)
	c.ctx = ctx
	c.done = done // Finish counts the close: no closure per connection
	go c.start()
}
