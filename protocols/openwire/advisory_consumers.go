package openwire

import (
	"slices"
	"strings"

	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// Connection and consumer advisories, as ActiveMQ's AdvisoryBroker sends
// them: a ConnectionInfo (password blanked) on ActiveMQ.Advisory.Connection
// when a connection opens and a RemoveInfo when it closes; a ConsumerInfo
// on ActiveMQ.Advisory.Consumer.Queue.<name> or .Topic.<name> when a
// consumer attaches and a RemoveInfo when it leaves, each carrying the
// int property consumerCount (the consumers on that destination after the
// change), which ActiveMQ's ConsumerEventSource reads. A new subscriber to
// one of these topics first hears of the connections or consumers that
// exist, as in ActiveMQ. They cover OpenWire connections and consumers
// only: the other protocols' consumers are not announced nor counted.

const (
	advisoryConnection    = advisoryPrefix + "Connection"
	advisoryConsumerQueue = advisoryPrefix + "Consumer.Queue."
	advisoryConsumerTopic = advisoryPrefix + "Consumer.Topic."
	propConsumerCount     = "consumerCount"
)

// announced is one consumer's ConsumerInfo under one advisory topic.
type announced struct {
	con  *consumer
	info *wire.ConsumerInfo
}

// consumerAdvisoryTopic is the advisory topic for consumers of t.
func consumerAdvisoryTopic(t target) string {
	if t.topic() {
		return advisoryConsumerTopic + t.name
	}
	return advisoryConsumerQueue + t.name
}

// matchTopic reports whether an ActiveMQ topic pattern (`*` one
// dot-separated word, `>` the rest) matches name.
func matchTopic(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*>") {
		return pattern == name
	}
	ps, ns := strings.Split(pattern, "."), strings.Split(name, ".")
	for i, p := range ps {
		if p == ">" {
			return true
		}
		if i >= len(ns) || p != "*" && p != ns[i] {
			return false
		}
	}
	return len(ps) == len(ns)
}

// watches reports whether the advisory subscriber wants topic.
func (con *consumer) watches(topic string) bool {
	for _, p := range con.watch {
		if matchTopic(p, topic) {
			return true
		}
	}
	return false
}

// watchersOf returns the subscribers of topic. Caller holds s.mu.
func (s *Server) watchersOf(topic string) []*consumer {
	var out []*consumer
	for w := range s.watchers {
		if w.watches(topic) {
			out = append(out, w)
		}
	}
	return out
}

// addWatcher registers a subscriber of connection or consumer advisories
// and replays what exists to it.
func (s *Server) addWatcher(con *consumer) {
	type replay struct {
		topic string
		ds    wire.DataStructure
		count int
	}
	var rs []replay
	s.mu.Lock()
	s.watchers[con] = struct{}{}
	if con.watches(advisoryConnection) {
		for _, info := range s.connInfos {
			rs = append(rs, replay{topic: advisoryConnection, ds: info, count: -1})
		}
	}
	for topic, list := range s.announced {
		if con.watches(topic) {
			for _, a := range list {
				rs = append(rs, replay{topic: topic, ds: a.info, count: len(list)})
			}
		}
	}
	s.mu.Unlock()
	for _, r := range rs {
		con.adviseData(r.topic, r.ds, r.count)
	}
}

func (s *Server) removeWatcher(con *consumer) {
	s.mu.Lock()
	delete(s.watchers, con)
	s.mu.Unlock()
}

// connectionAdded announces an opened connection.
func (s *Server) connectionAdded(c *conn, info *wire.ConnectionInfo) {
	cp := *info
	cp.Password = ""
	cp.BaseCommand = wire.BaseCommand{}
	s.mu.Lock()
	s.connInfos[c] = &cp
	ws := s.watchersOf(advisoryConnection)
	s.mu.Unlock()
	for _, w := range ws {
		w.adviseData(advisoryConnection, &cp, -1)
	}
}

// connectionRemoved announces a closed connection.
func (s *Server) connectionRemoved(c *conn) {
	s.mu.Lock()
	info := s.connInfos[c]
	delete(s.connInfos, c)
	var ws []*consumer
	if info != nil {
		ws = s.watchersOf(advisoryConnection)
	}
	s.mu.Unlock()
	if info == nil {
		return
	}
	for _, w := range ws {
		w.adviseData(advisoryConnection, &wire.RemoveInfo{ObjectID: info.ConnectionID}, -1)
	}
}

// consumerAdded announces a consumer on each of its destinations.
func (s *Server) consumerAdded(con *consumer, info *wire.ConsumerInfo, topics []string) {
	cp := *info
	cp.BaseCommand = wire.BaseCommand{}
	type event struct {
		topic string
		count int
		ws    []*consumer
	}
	var evs []event
	s.mu.Lock()
	for _, topic := range topics {
		s.announced[topic] = append(s.announced[topic], announced{con: con, info: &cp})
		evs = append(evs, event{topic, len(s.announced[topic]), s.watchersOf(topic)})
	}
	s.mu.Unlock()
	con.advTopics = topics
	for _, e := range evs {
		for _, w := range e.ws {
			w.adviseData(e.topic, &cp, e.count)
		}
	}
}

// consumerRemoved announces that a consumer left its destinations.
func (s *Server) consumerRemoved(con *consumer) {
	if len(con.advTopics) == 0 {
		return
	}
	type event struct {
		topic string
		count int
		ws    []*consumer
	}
	var evs []event
	s.mu.Lock()
	for _, topic := range con.advTopics {
		list := slices.DeleteFunc(s.announced[topic], func(a announced) bool { return a.con == con })
		if len(list) == 0 {
			delete(s.announced, topic)
		} else {
			s.announced[topic] = list
		}
		evs = append(evs, event{topic, len(list), s.watchersOf(topic)})
	}
	s.mu.Unlock()
	con.advTopics = nil
	id := con.id
	for _, e := range evs {
		for _, w := range e.ws {
			w.adviseData(e.topic, &wire.RemoveInfo{ObjectID: &id}, e.count)
		}
	}
}
