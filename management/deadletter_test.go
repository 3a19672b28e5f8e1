package management_test

import (
	"testing"

	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/management"
)

// A message a STOMP consumer refuses goes to the dead-letter queue by the
// broker's own rules; the API shows it there with where it came from, and a
// redrive brings it back to a STOMP consumer of its original queue.
func TestRedriveRealDeadLetter(t *testing.T) {
	one := 1
	e := start(t, func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{"jobs": {MaxDeliveryAttempts: &one}}
	})
	c := e.stomp("alice", alicePW)
	if err := c.Send("/queue/jobs", "text/plain", []byte("poison"), stomp.SendOpt.Receipt, stomp.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe("/queue/jobs", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Nack(recv(t, sub)); err != nil {
		t.Fatal(err)
	}
	var q management.Queue
	eventually(t, "the message in DLQ", func() bool {
		return e.do("GET", "/api/v1/queues/DLQ", nil, &q) == 200 && q.Depth == 1
	})
	// (An auto-created queue goes with its last consumer: look first.)
	e.must(200, "GET", "/api/v1/queues/jobs", nil, &q)
	if q.DeadLettered != 1 || q.Depth != 0 {
		t.Fatalf("jobs after the dead-lettering: %+v", q)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	var br management.BrowseResult
	e.must(200, "GET", "/api/v1/queues/DLQ/messages", nil, &br)
	if len(br.Items) != 1 || br.Items[0].Properties["_AMQ_ORIG_ADDRESS"] != "jobs" || br.Items[0].Properties["_AMQ_DLQ_REASON"] == nil {
		t.Fatalf("dead letter as browsed: %+v", br.Items)
	}

	var rd map[string]int
	e.must(200, "POST", "/api/v1/queues/DLQ/redrive", nil, &rd)
	if rd["redriven"] != 1 || rd["skipped"] != 0 {
		t.Fatalf("redrive: %v", rd)
	}
	sub2, err := c.Subscribe("/queue/jobs", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, sub2)
	if string(m.Body) != "poison" || m.Header.Get("_AMQ_DLQ_REASON") != "" || m.Header.Get("_AMQ_ORIG_ADDRESS") != "" ||
		m.Header.Get("_AMQ_ORIG_MESSAGE_ID") != br.Items[0].MessageID {
		t.Fatalf("redriven message: %q %v", m.Body, m.Header)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	// Emptied by the redrive, the auto-created DLQ stays: no client left it.
	e.must(200, "GET", "/api/v1/queues/DLQ", nil, &q)
	if q.Depth != 0 || q.Consumers != 0 {
		t.Fatalf("DLQ after the redrive: %+v", q)
	}
}

// Without a users file the broker lets anonymous clients in, and so does
// the admin API, as the other listeners do.
func TestAnonymousBroker(t *testing.T) {
	e := &env{t: t}
	s := startPlain(t)
	e.s, e.base, e.http = s, "http://"+s.Addr("admin"), newClient()
	if got := e.doAs("", "", "GET", "/api/v1/queues", nil, nil); got != 200 {
		t.Fatalf("anonymous on an anonymous broker: %d, want 200", got)
	}
	var info management.BrokerInfo
	if got := e.doAs("", "", "GET", "/api/v1/broker", nil, &info); got != 200 || !info.Anonymous {
		t.Fatalf("broker info: %d %+v", got, info)
	}
}
