package amqp

import (
	"sync"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// The sole-connection-for-container capability (the AMQP "soleconn"
// extension, which Qpid JMS always asks for): while a connection that
// asked for it is open, no other connection may use its container id,
// and it may not join one that is already in use. JMS needs this for
// its client id (a second connection with the same one fails with
// InvalidClientIDException).
const (
	capSoleConnection codec.Symbol = "sole-connection-for-container"
	// The refusal, as Qpid JMS recognises it: open properties saying the
	// open failed, then a close with amqp:invalid-field whose info names
	// the field.
	propOpenFailed  codec.Symbol = "amqp:connection-establishment-failed"
	infoInvalidFld  codec.Symbol = "invalid-field"
	infoContainerID codec.Symbol = "container-id"
)

// containerSet counts the open connections of each container id, and
// which of them demand to be the only one.
type containerSet struct {
	mu sync.Mutex
	m  map[string]containerUse
}

type containerUse struct {
	n    int
	sole bool
}

// add registers a connection for id unless the sole-connection rule
// forbids it.
func (cs *containerSet) add(id string, sole bool) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	u := cs.m[id]
	if u.n > 0 && (sole || u.sole) {
		return false
	}
	if cs.m == nil {
		cs.m = make(map[string]containerUse)
	}
	cs.m[id] = containerUse{n: u.n + 1, sole: u.sole || sole}
	return true
}

// remove is a registered connection's end.
func (cs *containerSet) remove(id string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	u := cs.m[id]
	if u.n <= 1 {
		delete(cs.m, id)
		return
	}
	u.n--
	cs.m[id] = u
}

// containerInUse is the close for a refused container id.
func containerInUse(id string) error {
	e := codec.Errorf(codec.CondInvalidField, "container id %q is already in use by another connection", id)
	e.Info = codec.Map{{Key: infoInvalidFld, Value: infoContainerID}}
	return &connError{e}
}
