package openwire

import (
	"errors"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// Temporary destinations and their advisories. The ActiveMQ client
// subscribes every connection to ActiveMQ.Advisory.TempQueue and
// ActiveMQ.Advisory.TempTopic and keeps the set of temporary destinations
// it hears of: it refuses to send to one it has not heard of ("Cannot
// publish to a deleted Destination"), which is how a responder learns that
// a requester's reply queue went away. The server publishes a DestinationInfo
// in an ActiveMQMessage on each creation and deletion, and replays the
// existing ones to each new advisory subscriber. Advisories go to OpenWire
// consumers only: no other protocol has a use for them.

// tempDest is one temporary destination and the connection that owns it.
type tempDest struct {
	dest  *wire.Destination
	owner *conn
}

func (s *Server) tempExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.temps[name] != nil
}

// addTemp creates a temporary destination for the connection. A temporary
// queue is a core temporary queue (deleted with the session); a temporary
// topic needs no core object until someone subscribes.
func (c *conn) addTemp(t target) error {
	if t.typ == wire.TypeTempQueue {
		if _, err := c.sess.CreateTemporaryQueue(t.name); err != nil {
			if !(errors.Is(err, core.ErrQueueExists) && c.temps[t.name] != nil) {
				return err
			}
		}
	}
	d := t.destination()
	c.temps[t.name] = d
	c.s.mu.Lock()
	c.s.temps[t.name] = &tempDest{dest: d, owner: c}
	advisors := c.s.advisorList()
	c.s.mu.Unlock()
	for _, a := range advisors {
		a.advise(c.connID, d, wire.DestinationAdd)
	}
	return nil
}

// removeTemp deletes one of the connection's temporary destinations.
func (c *conn) removeTemp(t target) error {
	if t.typ == wire.TypeTempQueue && c.temps[t.name] != nil {
		if err := c.sess.DeleteQueue(t.name); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
			return err
		}
	}
	delete(c.temps, t.name)
	c.s.removeTemp(t.name, c)
	return nil
}

// removeTemp forgets a temporary destination of owner and tells the
// advisory subscribers.
func (s *Server) removeTemp(name string, owner *conn) {
	s.mu.Lock()
	td := s.temps[name]
	if td == nil || td.owner != owner {
		s.mu.Unlock()
		return
	}
	delete(s.temps, name)
	advisors := s.advisorList()
	s.mu.Unlock()
	for _, a := range advisors {
		a.advise(owner.connID, td.dest, wire.DestinationRemove)
	}
}

// advisorList snapshots the advisory subscribers. Caller holds s.mu.
func (s *Server) advisorList() []*consumer {
	out := make([]*consumer, 0, len(s.advisors))
	for a := range s.advisors {
		out = append(out, a)
	}
	return out
}

// addAdvisor registers an advisory subscriber and replays the temporary
// destinations that exist.
func (s *Server) addAdvisor(con *consumer) {
	s.mu.Lock()
	s.advisors[con] = struct{}{}
	existing := make([]*tempDest, 0, len(s.temps))
	for _, td := range s.temps {
		existing = append(existing, td)
	}
	s.mu.Unlock()
	for _, td := range existing {
		con.advise(td.owner.connID, td.dest, wire.DestinationAdd)
	}
}

func (s *Server) removeAdvisor(con *consumer) {
	s.mu.Lock()
	delete(s.advisors, con)
	s.mu.Unlock()
}

// advise dispatches one advisory to the consumer, if it wants that kind.
func (con *consumer) advise(connID string, d *wire.Destination, op int8) {
	topic := advisoryTempQueue
	switch d.Type {
	case wire.TypeTempQueue:
		if !con.advQueue {
			return
		}
	case wire.TypeTempTopic:
		if !con.advTopic {
			return
		}
		topic = advisoryTempTopic
	default:
		return
	}
	con.adviseData(topic, &wire.DestinationInfo{ConnectionID: &wire.ConnectionID{Value: connID}, Destination: d, OperationType: op}, -1)
}

// adviseData dispatches one advisory message carrying ds on topic; a count
// of 0 or more goes in the consumerCount property.
func (con *consumer) adviseData(topic string, ds wire.DataStructure, count int) {
	c := con.c
	s := c.s
	var props []byte
	if count >= 0 {
		var err error
		props, err = wire.AppendMap(nil, wire.Map{{Key: propConsumerCount, Value: int32(count)}})
		if err != nil {
			c.logger().Error("openwire: cannot encode an advisory's properties", "err", err)
			return
		}
	}
	adest := &wire.Destination{Type: wire.TypeTopic, PhysicalName: topic}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if con.removed || c.closed {
		return
	}
	c.seq++
	m := &wire.Message{
		Type: wire.TypeMessage,
		MessageID: &wire.MessageID{
			ProducerID:         &wire.ProducerID{ConnectionID: s.brokerID, SessionID: -1, Value: 1},
			ProducerSequenceID: s.advSeq.Add(1),
			BrokerSequenceID:   c.seq,
		},
		Destination: adest, Priority: core.DefaultPriority, Timestamp: time.Now().UnixMilli(),
		DataStructure: ds, MarshalledProperties: props,
	}
	m.ProducerID = m.MessageID.ProducerID
	c.appendLocked(&wire.MessageDispatch{ConsumerID: &con.id, Destination: adest, Message: m})
	c.ob.SignalLocked()
}
