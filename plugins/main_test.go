package plugins_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (the
// audit log's writer, a plugin's, a broker's).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The transport's shared idle poller lives for the process.
		goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop"))
}
