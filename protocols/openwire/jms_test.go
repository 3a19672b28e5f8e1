package openwire_test

import (
	"context"
	"testing"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/server/servertest"
)

// TestJMS runs the JMS scenarios that need nothing but a broker, in one JVM.
func TestJMS(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	expectPass(t, url(s), "queue", "topic", "durable", "selector", "tx", "clientack", "individual", "dupsok",
		"types", "tempqueue", "browser", "priority", "ttl", "scheduled", "groups", "prefetch0", "asyncwindow", "exclusive", "consumerpriority",
		"consumeradvisory", "connectionadvisory")
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

// TestConsumerClosedByBroker: deleting a queue closes its JMS consumer
// through a ConsumerControl.
func TestConsumerClosedByBroker(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), javaTimeout)
	defer cancel()
	cmd := javaCmd(t, ctx, url(s), "closedbybroker:ow.deleted")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	lr := newLineReader(stdout)
	lr.await(t, "OUT ready", javaTimeout)
	if err := s.Core.DeleteQueue("ow.deleted"); err != nil {
		t.Fatal(err)
	}
	lr.await(t, "PASS ", javaTimeout)
}

// TestPagedBrowse: a JMS QueueBrowser sees a paging queue whole, in order,
// the paged tail read from the journal included, and takes nothing.
func TestPagedBrowse(t *testing.T) {
	limit, page := core.ByteSize(16<<10), "PAGE"
	s := startBroker(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type = "journal"
		c.AddressSettings = map[string]*core.AddressSettings{"ow.deep": {MaxSizeBytes: &limit, AddressFullPolicy: &page}}
	}})
	expectPass(t, url(s), "pagedbrowse:ow.deep:300")
}
