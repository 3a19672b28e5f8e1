package mqtt

// LazyState reports which of the structures a connection makes when first
// needed the live connection of clientID holds: its inbound publish state
// and its producer. found is false when the client has no connection.
func LazyState(s *Server, clientID string) (inbound, producer, found bool) {
	s.mu.Lock()
	ss := s.sessions[clientID]
	s.mu.Unlock()
	if ss == nil {
		return false, false, false
	}
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	if c == nil {
		return false, false, false
	}
	// The reader sets both before the publish whose PUBACK the caller has
	// read; that PUBACK was queued under this lock.
	c.lock()
	defer c.unlock()
	return c.inState != nil, c.prod != nil, true
}

// KindSession is the store record kind of persistent sessions.
var KindSession = kindSession

// SetTestHook runs h at the named moments of a connection's end ("detach",
// "detach-consumers", "consumers-closed"), of a takeover ("takeover-wait")
// and of a writer's settling of what it wrote ("settle", when it has
// deliveries to settle) until the test ends.
func SetTestHook(t interface{ Cleanup(func()) }, h func(point, clientID string)) {
	testHook.Store(&h)
	t.Cleanup(func() { testHook.Store(nil) })
}
