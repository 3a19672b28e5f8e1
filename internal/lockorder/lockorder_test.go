package lockorder

import (
	"strings"
	"testing"
)

// TestOrder: taking locks in rank order is fine in every build; against it,
// the checking build panics naming both locks.
func TestOrder(t *testing.T) {
	var b RWMutex[BrokerRank]
	var q Mutex[QueueRank]
	var s Mutex[MQTTSessionRank]
	n := 0 // what the locks guard
	b.RLock()
	q.Lock()
	s.Lock()
	n++
	s.Unlock()
	q.Unlock()
	b.RUnlock()
	if !Enabled {
		t.Skip("built without -tags lockorder: order not checked")
	}
	got := func() (msg string) {
		defer func() { msg, _ = recover().(string) }()
		s.Lock()
		defer s.Unlock()
		b.Lock() // the cycle the MQTT session save used to close
		n++
		b.Unlock()
		return ""
	}()
	if !strings.Contains(got, "taking the broker lock") || !strings.Contains(got, "holding the MQTT session lock") {
		t.Fatalf("panic %q", got)
	}
	q2 := func() (msg string) {
		defer func() { msg, _ = recover().(string) }()
		var other Mutex[QueueRank]
		q.Lock()
		defer q.Unlock()
		other.Lock() // two queue locks at once
		n++
		other.Unlock()
		return ""
	}()
	if !strings.Contains(q2, "taking the queue lock") {
		t.Fatalf("two queue locks: panic %q", q2)
	}
	if n != 1 {
		t.Errorf("a lock taken against the order was granted (%d critical sections ran)", n)
	}
}
