package mqtt

import (
	"fmt"
	"sort"

	"github.com/junctionmq/junction/protocols/adapter"
)

var _ adapter.SessionLister = (*Server)(nil)

// Sessions lists the MQTT sessions, connected or waiting offline, by client
// id (the management API's view).
func (s *Server) Sessions() []adapter.SessionInfo {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	out := make([]adapter.SessionInfo, 0, len(sessions))
	for _, ss := range sessions {
		ss.mu.Lock()
		info := adapter.SessionInfo{ClientID: ss.id, Connected: ss.conn != nil, Persistent: ss.persistent,
			ExpirySeconds: ss.expiry, InFlight: len(ss.outFlight)}
		for _, sub := range ss.subs {
			info.Subscriptions = append(info.Subscriptions, adapter.SubscriptionInfo{Filter: sub.Filter, QoS: sub.QoS, Queue: sub.Queue, Shared: sub.Shared})
		}
		ss.mu.Unlock()
		sort.Slice(info.Subscriptions, func(i, j int) bool { return info.Subscriptions[i].Filter < info.Subscriptions[j].Filter })
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out
}

// EndSession ends an offline session on an operator's request, as its
// expiry would (the will, if still waiting, goes now).
func (s *Server) EndSession(clientID string) error {
	s.mu.Lock()
	ss := s.sessions[clientID]
	if ss == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", adapter.ErrNoSession, clientID)
	}
	ss.mu.Lock()
	if ss.conn != nil {
		ss.mu.Unlock()
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", adapter.ErrSessionConnected, clientID)
	}
	delete(s.sessions, clientID)
	ss.mu.Unlock()
	s.mu.Unlock()
	s.destroy(ss)
	return nil
}
