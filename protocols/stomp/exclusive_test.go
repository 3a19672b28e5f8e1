package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"
)

// TestExclusiveHeader checks ActiveMQ's activemq.exclusive SUBSCRIBE header:
// while the exclusive subscription exists the other one receives nothing;
// once it is gone the other takes over.
func TestExclusiveHeader(t *testing.T) {
	s := startBroker(t, nil)
	plain := dial(t, s).subscribe("/queue/excl", stompc.AckAuto)
	exclConn := dial(t, s)
	excl := exclConn.subscribe("/queue/excl", stompc.AckAuto, "activemq.exclusive", "true")
	producer := dial(t, s)
	want := seqBodies("x", 6)
	for _, b := range want {
		producer.send("/queue/excl", b)
	}
	sameStrings(t, "exclusive subscription", recvBodies(t, excl, len(want)), want)
	exclConn.close()
	producer.send("/queue/excl", "after")
	expectOnly(t, plain, "after")
}

// TestPriorityHeaderInvalid: a priority that is not a byte is refused with
// an ERROR.
func TestPriorityHeaderInvalid(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SUBSCRIBE", "", "id", "s", "destination", "/queue/p", "activemq.priority", "high")
	f := r.expectError()
	if msg, _ := f.Get("message"); !strings.Contains(msg, "activemq.priority") {
		t.Fatalf("ERROR message %q does not name the header", msg)
	}
}
