package mqtt

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/internal/lockorder"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// neverExpires is the 5.0 session expiry interval meaning "never".
const neverExpires = 0xFFFFFFFF

// sessionSub is a subscription as stored with a persistent session.
type sessionSub struct {
	Filter  string // as the client wrote it, $share/... included
	QoS     byte
	NoLocal bool   `json:",omitempty"`
	RAP     bool   `json:",omitempty"` // retain as published
	RH      byte   `json:",omitempty"` // retain handling
	SubID   uint32 `json:",omitempty"`
	Queue   string
	Shared  bool `json:",omitempty"`
}

type subscription struct {
	sessionSub
	consumer *core.Consumer
	autoAck  bool
	// The topic of the last address delivered through the subscription
	// (guarded by the session's mu): a subscription without wildcards sees
	// one address, and mapping it for every delivery cost an allocation.
	lastAddr, lastTopic string
}

// topicFor maps the address of a delivery through s to its topic. Caller
// holds the session's mu.
func (s *subscription) topicFor(addr string) string {
	if s == nil {
		return addressToTopic(addr)
	}
	if addr != s.lastAddr || s.lastAddr == "" {
		s.lastAddr, s.lastTopic = addr, addressToTopic(addr)
	}
	return s.lastTopic
}

// sessionRecord is what the store keeps of a persistent session.
type sessionRecord struct {
	Expiry         uint32
	DisconnectedAt int64
	Subs           []sessionSub
}

// outMsg is a QoS 1 or 2 PUBLISH sent and not yet acknowledged.
type outMsg struct {
	consumer *core.Consumer // nil for retained messages sent on subscribe
	tag      uint64
	msgID    uint64
	qos      byte
	released bool // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP
}

type pendingOut struct {
	sub *subscription
	d   core.Delivery
	qos byte
	ids []uint32 // subscription identifiers when several subscriptions matched
}

// session is an MQTT session: it outlives connections when persistent.
type session struct {
	srv *Server
	id  string

	// saveMu orders the writes of the session's stored record: each takes
	// its snapshot and hands it to the store under saveMu, never under mu or
	// the server's lock (see persist).
	saveMu lockorder.Mutex[lockorder.MQTTSaveRank]

	mu        lockorder.Mutex[lockorder.MQTTSessionRank]
	conn      *conn // current connection; nil while offline
	subs      map[string]*subscription
	timer     *time.Timer // session expiry while offline
	willTimer *time.Timer
	willFn    func() // publishes the will willTimer waits to publish

	// The small fields share one word (every idle device's session
	// carries them: 176 -> 152 bytes, size class 160).
	expiry     uint32
	nextID     uint16
	persistent bool
	gone       bool // destroyed: a reconnect starts a new session
	recorded   bool // a record is stored; guarded by saveMu

	outFlight map[uint16]*outMsg
	pending   []pendingOut
	lastID    map[uint64]uint16 // message id -> packet id, so a resend reuses it [MQTT-4.4.0-1]
	// lastMsg is lastID reversed. A packet id is remembered for one message
	// at most, which bounds lastID at 65,535 entries even when remembered
	// messages never come back (dead-lettered, expired, unsubscribed).
	lastMsg  map[uint16]uint64
	inbound2 map[uint16]struct{}

	// Messages sent once for several matching subscriptions (copies.go);
	// made on first use, as most sessions have no overlapping filters.
	copies *copyTable
}

func newSession(s *Server, id string) *session {
	// The maps are made on first use: most devices never need some of them.
	return &session{srv: s, id: id}
}

// initMaps makes the session's maps on first use. Caller holds mu.
func (ss *session) initMaps() {
	if ss.subs == nil {
		ss.subs = map[string]*subscription{}
	}
	if ss.outFlight == nil {
		ss.outFlight = map[uint16]*outMsg{}
	}
}

// rememberID records the packet id a message had when its connection
// ended. Caller holds mu.
func (ss *session) rememberID(msgID uint64, id uint16) {
	if ss.lastID == nil {
		ss.lastID, ss.lastMsg = map[uint64]uint16{}, map[uint16]uint64{}
	}
	if old, ok := ss.lastMsg[id]; ok {
		delete(ss.lastID, old)
	}
	if old, ok := ss.lastID[msgID]; ok {
		delete(ss.lastMsg, old)
	}
	ss.lastID[msgID], ss.lastMsg[id] = id, msgID
}

// forgetID drops a message's remembered packet id. Caller holds mu.
func (ss *session) forgetID(msgID uint64) {
	if id, ok := ss.lastID[msgID]; ok {
		delete(ss.lastID, msgID)
		delete(ss.lastMsg, id)
	}
}

// queueName names a subscription's core queue.
func queueName(clientID, filter string) string {
	if group, f, ok := packet.ParseShared(filter); ok {
		return "$share:" + group + ":" + f
	}
	return "mqtt:" + clientID + ":" + filter
}

// allocID returns a free packet identifier, reusing the one msgID had when it
// was last sent so a resend keeps its identifier. Caller holds mu.
func (ss *session) allocID(msgID uint64) uint16 {
	if id, ok := ss.lastID[msgID]; ok {
		if _, busy := ss.outFlight[id]; !busy {
			return id
		}
	}
	for {
		ss.nextID++
		if ss.nextID == 0 {
			ss.nextID = 1
		}
		if _, busy := ss.outFlight[ss.nextID]; !busy {
			return ss.nextID
		}
	}
}

// record returns the stored form of the session.
func (ss *session) record() []byte {
	rec := sessionRecord{Expiry: ss.expiry, DisconnectedAt: time.Now().UnixMilli()}
	for _, sub := range ss.subs {
		rec.Subs = append(rec.Subs, sub.sessionSub)
	}
	data, _ := json.Marshal(rec)
	return data
}

// persist brings the stored record up to date: the session as it is now if
// it is persistent, no record otherwise. The caller must hold neither ss.mu
// nor the server's lock: the store may block (back-pressure), and the broker
// lock it takes ranks below queue locks, which deliveries hold while taking
// ss.mu. saveMu keeps the writes in the order of their snapshots.
func (ss *session) persist() { ss.persistThen(nil) }

// persistThen is persist, calling done (when not nil) once the write is
// durable or failed, or at once with nil when nothing had to be written.
// done may run on the store's goroutine: it must not take the session's or
// the server's locks.
func (ss *session) persistThen(done func(error)) {
	ss.saveMu.Lock()
	defer ss.saveMu.Unlock()
	ss.mu.Lock()
	var data []byte
	if ss.persistent && !ss.gone {
		data = ss.record()
	}
	ss.mu.Unlock()
	switch {
	case data != nil:
		ss.srv.b.PutRecord(kindSession, ss.id, data, done)
		ss.recorded = true
	case ss.recorded:
		ss.srv.b.DeleteRecord(kindSession, ss.id, done)
		ss.recorded = false
	case done != nil:
		done(nil)
	}
}

func (ss *session) scheduleExpiry(d time.Duration) {
	ss.timer = time.AfterFunc(d, func() { ss.srv.expire(ss) })
}

func (ss *session) stopTimers() {
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
	if ss.willTimer != nil {
		ss.willTimer.Stop()
		ss.willTimer, ss.willFn = nil, nil
	}
}

// expire ends an offline session whose expiry interval has passed.
func (s *Server) expire(ss *session) {
	if s.closed.Load() {
		return
	}
	s.mu.Lock()
	if s.sessions[ss.id] != ss {
		s.mu.Unlock()
		return
	}
	ss.mu.Lock()
	if ss.conn != nil {
		ss.mu.Unlock()
		s.mu.Unlock()
		return
	}
	delete(s.sessions, ss.id)
	ss.mu.Unlock()
	s.mu.Unlock()
	s.destroy(ss)
}

// destroy deletes a session's subscription queues and stored record. The
// queues are the broker's to remove when the session ends (expiry, clean
// start, a non-persistent session closing): it deletes them with a session of
// its own, not subject to the user's permissions, so no queue outlives the
// session that reads it.
func (s *Server) destroy(ss *session) {
	ss.mu.Lock()
	ss.gone = true
	var will func()
	if ss.willTimer != nil && ss.willTimer.Stop() {
		// The session ends before the Will Delay Interval: the will goes
		// now [MQTT-3.1.3-9].
		will = ss.willFn
	}
	ss.stopTimers()
	subs := ss.subs
	ss.subs = map[string]*subscription{}
	ss.mu.Unlock()
	ss.persist() // gone: the stored record is deleted
	sess := s.b.NewSession(core.SessionOptions{ClientID: ss.id})
	defer sess.Close()
	for _, sub := range subs {
		if sub.consumer != nil {
			sub.consumer.Close()
		}
		if sub.Shared {
			s.dropSharedIfUnused(sess, sub.Queue)
		} else if err := sess.DeleteQueue(sub.Queue); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
			s.log.Warn("mqtt session end: subscription queue not deleted", "client", ss.id, "queue", sub.Queue, "err", err)
		}
	}
	if will != nil {
		will()
	}
}

// dropSharedIfUnused deletes a durable shared subscription's queue once no
// session, connected or not, is subscribed to it. A member attached
// meanwhile keeps it: DeleteQueue refuses a queue with consumers.
func (s *Server) dropSharedIfUnused(sess *core.Session, queue string) {
	if s.sharedInUse(queue) {
		return
	}
	if q, ok := s.b.Queue(queue); ok && q.Info().Durable {
		if err := sess.DeleteQueue(queue); err != nil && !errors.Is(err, core.ErrSubscriptionInUse) {
			s.log.Warn("mqtt shared subscription queue not deleted", "queue", queue, "err", err)
		}
	}
}

// sharedInUse reports whether any session is subscribed to the shared
// subscription queue.
func (s *Server) sharedInUse(queue string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.mu.Lock()
		for _, sub := range ss.subs {
			if sub.Shared && sub.Queue == queue {
				ss.mu.Unlock()
				return true
			}
		}
		ss.mu.Unlock()
	}
	return false
}

// msgQoS is the QoS a core message was published with: MQTT's own, or 1 for
// a durable message from another protocol and 0 otherwise.
func msgQoS(m *core.Message) byte {
	if v := m.Annotation(annQoS); !v.IsNull() && v.I == 2 {
		return 2
	}
	if m.Durable {
		return 1
	}
	return 0
}
