package management_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every broker, API and client a test starts is gone when it ends: the
// sampler, the HTTP servers and the connections included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"),
	)
}
