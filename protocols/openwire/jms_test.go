package openwire_test

import (
	"testing"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/server/servertest"
)

// TestJMS runs the JMS scenarios that need nothing but a broker, in one JVM.
func TestJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	expectPass(t, url(s), "queue", "topic", "durable", "selector", "tx", "clientack", "individual",
		"types", "tempqueue", "browser", "priority", "ttl", "groups", "prefetch0", "asyncwindow")
}

// TestFlowAndDeadLetter: producer flow control holds an asynchronous
// producer with a window on a full address, and a poison ack
// dead-letters.
func TestFlowAndDeadLetter(t *testing.T) {
	limit := core.ByteSize(20 << 10)
	block, dla := "BLOCK", "ow.dlq"
	s := startBroker(t, servertest.Options{Config: func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{
			"ow.blocked": {MaxSizeBytes: &limit, AddressFullPolicy: &block},
			"ow.poison":  {DeadLetterAddress: &dla},
		}
	}})
	expectPass(t, url(s), "blocked:ow.blocked", "poison:ow.poison:ow.dlq")
}
