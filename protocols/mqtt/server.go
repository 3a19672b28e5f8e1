// Package mqtt is Junction's MQTT 3.1, 3.1.1 and 5.0 server. Topics are
// multicast addresses of the core (see topics.go for the name mapping); each
// subscription is a core subscription queue, durable when the session is
// persistent, so QoS 1 and 2 messages published while a client is away wait
// in the store and survive a restart.
//
// Each connection has a reader goroutine that handles packets in order and a
// writer goroutine that flushes the session's outbound buffer; core
// deliveries are encoded into that buffer from whatever goroutine dispatches
// them, under the session's lock.
package mqtt

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/internal/lockorder"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/adapter"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/protocols/transport"
)

// Options configure the server.
type Options struct {
	Broker *core.Broker
	Gate   *access.Gate
	Logger *slog.Logger
	// MaxPacketSize is the largest packet accepted, announced to 5.0 clients
	// (default 16 MiB).
	MaxPacketSize int
	// ReceiveMaximum is how many QoS 1 and 2 publishes a client may have
	// unacknowledged towards the server (default 1024).
	ReceiveMaximum int
	// TopicAliasMaximum is how many topic aliases a 5.0 client may use (default 64).
	TopicAliasMaximum int
	// MaxKeepAlive caps the keep-alive a client asks for; a 5.0 client asking
	// for more (or for none) is told the server keep-alive, a 3.x client
	// asking for more is refused (0 = no cap; config mqtt.max-keep-alive).
	MaxKeepAlive time.Duration
	// ConnectTimeout bounds the wait for CONNECT (default 10s).
	ConnectTimeout time.Duration
	// WriteTimeout closes a connection whose peer does not read (default 30s).
	WriteTimeout time.Duration
	// MaxInflight bounds unacknowledged QoS 1/2 deliveries per subscription
	// beyond the client's receive maximum (default 1000).
	MaxInflight int
	// MaxHeldBytes bounds the publishes a connection may have held by
	// producer flow control (address-full-policy BLOCK) before the server
	// stops reading it (default 1 MiB). QoS 1 and 2 publishes are bounded
	// first by ReceiveMaximum: their PUBACK or PUBREC waits for admission.
	MaxHeldBytes int64
	// MaxQueuedMessages and MaxQueuedBytes bound each subscription's queue
	// (Mosquitto's max_queued_messages, max_queued_bytes; defaults 1000
	// and 256 KiB, so 10,000 slow devices hold at most about 2.5 GiB of
	// payload; -1: unlimited). Beyond them QoS 0 messages are dropped for
	// that subscriber and counted, and QoS 1 and 2 publishes wait (their
	// PUBACK or PUBREC with them) while the subscriber is connected, and
	// are dropped for it while it is offline (see core.Queue.SetLimits).
	MaxQueuedMessages int
	MaxQueuedBytes    int64
	// DisconnectGrace bounds how long a connection closed by the client's
	// DISCONNECT waits for the PUBACKs and PUBRECs still due (default 5s).
	DisconnectGrace time.Duration
}

// Server serves MQTT connections.
type Server struct {
	opts Options
	log  *slog.Logger
	b    *core.Broker

	mu       lockorder.Mutex[lockorder.MQTTServerRank]
	sessions map[string]*session

	retainMu sync.RWMutex
	retained map[string]*core.Message // by topic

	// flush writes, when a reader's batch ends, the connections its
	// publishes reached (flush.go); its lock is taken under a connection's.
	flush transport.BatchFlush

	// ctx is what the connections' readers pass to the core (sends, held
	// publishes, stored subscriptions), cancelled by Close, which runs when
	// the broker shuts down, before the transport closes the connections.
	// One for the server instead of the listener's per connection: 16 bytes
	// of every idle connection.
	ctx  context.Context
	stop context.CancelFunc

	counters adapter.Counters
	assigned atomic.Uint64
	closed   atomic.Bool
}

// Adapter registers MQTT with the server: plain and TLS listeners at the
// standard ports, and the mqtt (3.1.1, 5.0) and mqttv3.1 subprotocols on the
// WebSocket listeners, with binary messages.
var Adapter = adapter.Registration{
	Name: "mqtt",
	Listeners: []adapter.Listener{
		{Name: "mqtt", Default: "127.0.0.1:1883"},
		{Name: "mqtt-tls", Default: "127.0.0.1:8883", TLS: true},
	},
	WebSocket: adapter.WebSocket{
		Subprotocols: []string{transport.SubprotocolMQTT, transport.SubprotocolMQTT31},
		Type:         transport.Binary,
	},
	New: func(env adapter.Env) (adapter.Adapter, error) {
		// Maximum Packet Size counts the whole packet; the message's
		// topic and properties are part of the core's message size too.
		opts := Options{Broker: env.Broker, Gate: env.Gate, Logger: env.Logger, MaxPacketSize: env.MaxMessageSize,
			MaxQueuedMessages: env.MaxQueuedMessages, MaxQueuedBytes: env.MaxQueuedBytes}
		if env.Config != nil {
			opts.MaxKeepAlive = env.Config.MQTT.MaxKeepAlive
		}
		return NewServer(opts), nil
	},
}

// NewServer returns a server and restores the persistent sessions and
// retained messages the broker recovered from its store.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPacketSize <= 0 {
		opts.MaxPacketSize = 16 << 20
	}
	// A max-message-size beyond what MQTT can encode is the protocol's
	// limit, and the one announced.
	opts.MaxPacketSize = min(opts.MaxPacketSize, packet.MaxPacketSize)
	if opts.MaxHeldBytes <= 0 {
		opts.MaxHeldBytes = 1 << 20
	}
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = 5 * time.Second
	}
	if opts.ReceiveMaximum <= 0 || opts.ReceiveMaximum > 65535 {
		opts.ReceiveMaximum = 1024
	}
	if opts.TopicAliasMaximum <= 0 || opts.TopicAliasMaximum > 65535 {
		opts.TopicAliasMaximum = 64
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.MaxQueuedMessages == 0 {
		opts.MaxQueuedMessages = 1000
	}
	if opts.MaxQueuedBytes == 0 {
		opts.MaxQueuedBytes = 256 << 10
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = 1000
	}
	s := &Server{opts: opts, log: opts.Logger.With("protocol", "mqtt"), b: opts.Broker,
		sessions: map[string]*session{}, retained: map[string]*core.Message{}}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.restore()
	return s
}

// restore rebuilds offline persistent sessions and retained messages.
func (s *Server) restore() {
	for topic, data := range s.b.Records(kindRetained) {
		m, err := core.DecodeMessage(data)
		if err != nil {
			s.log.Error("dropping unreadable retained message", "topic", topic, "err", err)
			continue
		}
		s.retained[topic] = m
	}
	now := time.Now()
	// Expiry timers start once every session is in the map: one already
	// due fires at once and removes its session under s.mu, which the map
	// writes here must not race.
	type due struct {
		ss   *session
		left time.Duration
	}
	var expiries []due
	for id, data := range s.b.Records(kindSession) {
		var rec sessionRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			s.log.Error("dropping unreadable MQTT session", "client", id, "err", err)
			continue
		}
		ss := newSession(s, id)
		ss.persistent, ss.recorded = true, true
		ss.expiry = rec.Expiry
		for _, sr := range rec.Subs {
			ss.initMaps()
			ss.subs[sr.Filter] = &subscription{sessionSub: sr}
		}
		s.mu.Lock()
		s.sessions[id] = ss
		s.mu.Unlock()
		if rec.Expiry != neverExpires {
			left := time.Duration(rec.Expiry)*time.Second - now.Sub(time.UnixMilli(rec.DisconnectedAt))
			expiries = append(expiries, due{ss, max(left, 0)})
		}
	}
	// A durable shared subscription queue no stored session names (the
	// broker stopped between a last member's record and its queue going)
	// would collect messages for nobody.
	var sess *core.Session
	for _, q := range s.b.Queues() {
		if info := q.Info(); info.Shared && info.Durable && strings.HasPrefix(info.Name, "$share:") && !s.sharedInUse(info.Name) {
			if sess == nil {
				sess = s.b.NewSession(core.SessionOptions{})
				defer sess.Close()
			}
			s.dropSharedIfUnused(sess, info.Name)
		}
	}
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n > 0 || len(s.retained) > 0 {
		s.log.Info("mqtt state recovered", "sessions", n, "retained", len(s.retained))
	}
	for _, e := range expiries {
		e.ss.mu.Lock()
		e.ss.scheduleExpiry(e.left)
		e.ss.mu.Unlock()
	}
}

// SessionStats describe the MQTT state the server keeps.
type SessionStats struct {
	Connections int64
	Sessions    int
	Retained    int
	InFlight    int
}

// Stats returns the adapter's counters, with the session state as extras.
func (s *Server) Stats() adapter.Stats {
	st := s.counters.Snapshot()
	ss := s.SessionStats()
	st.Extra = map[string]int64{"sessions": int64(ss.Sessions), "retained": int64(ss.Retained), "in-flight": int64(ss.InFlight)}
	return st
}

// SessionStats returns the sessions, retained messages and unacknowledged
// deliveries the server holds.
func (s *Server) SessionStats() SessionStats {
	s.mu.Lock()
	n := len(s.sessions)
	sessions := make([]*session, 0, n)
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	inflight := 0
	for _, ss := range sessions {
		ss.mu.Lock()
		inflight += len(ss.outFlight)
		ss.mu.Unlock()
	}
	s.retainMu.RLock()
	r := len(s.retained)
	s.retainMu.RUnlock()
	return SessionStats{Connections: s.counters.Open(), Sessions: n, Retained: r, InFlight: inflight}
}

// ServeConn runs one connection until it ends or ctx is cancelled.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) { transport.ServeBlocking(ctx, s, nc) }

// ServeConnDetached serves a connection from goroutines of its own and calls
// done when it is finished; an idle connection waits in a fresh goroutine
// with a small stack (see conn.run).
func (s *Server) ServeConnDetached(ctx context.Context, nc net.Conn, done func()) {
	s.counters.Opened()
	c := newConn(s, nc)
	c.done = done // Finish counts the close: no closure per connection
	go c.start(ctx)
}

// Close stops session timers; connections are closed by the transport.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.mu.Lock()
		ss.stopTimers()
		ss.mu.Unlock()
	}
	return nil
}

// retainedMatching returns the retained messages whose topic matches filter.
func (s *Server) retainedMatching(filter string) []*core.Message {
	s.retainMu.RLock()
	defer s.retainMu.RUnlock()
	var out []*core.Message
	for topic, m := range s.retained {
		if packet.MatchTopic(filter, topic) {
			out = append(out, m)
		}
	}
	return out
}

// setRetained stores or (with an empty body) clears the retained message of a topic.
func (s *Server) setRetained(topic string, m *core.Message, done func(error)) {
	s.retainMu.Lock()
	if len(m.Body) == 0 {
		delete(s.retained, topic)
		s.retainMu.Unlock()
		s.b.DeleteRecord(kindRetained, topic, done)
		return
	}
	s.retained[topic] = m
	s.retainMu.Unlock()
	s.b.PutRecord(kindRetained, topic, core.EncodeMessage(nil, m), done)
}
