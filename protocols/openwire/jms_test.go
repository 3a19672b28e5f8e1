package openwire_test

import (
	"testing"

	"github.com/junctionmq/junction/server/servertest"
)

// TestJMS runs the JMS scenarios that need nothing but a broker, in one JVM.
func TestJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	expectPass(t, url(s), "queue", "topic", "durable", "selector", "tx", "clientack", "individual",
		"types", "tempqueue", "browser", "priority", "ttl", "groups", "prefetch0", "asyncwindow")
}
