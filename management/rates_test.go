package management_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/management"
)

// Rates come from the sampler: messages a STOMP client sends between two
// samples show as a positive enqueue rate on the queue, an in rate on the
// connection and on the protocol.
func TestRates(t *testing.T) {
	e := start(t)
	api := management.New(management.Options{Broker: e.s.Core, Security: e.s.Security, SampleInterval: 20 * time.Millisecond,
		Adapters: e.s.AdapterStats})
	t.Cleanup(api.Close)
	e.base = newHTTPServer(t, api)
	c := e.stomp("alice", alicePW)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.Send("/queue/rated", "text/plain", []byte(fmt.Sprint(i)), stomp.SendOpt.Receipt); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var q management.Queue
	var l management.ListResult[management.Connection]
	var info management.BrokerInfo
	eventually(t, "rates above zero", func() bool {
		if e.do("GET", "/api/v1/queues/rated", nil, &q) != 200 {
			return false // not sent to yet
		}
		e.must(200, "GET", "/api/v1/connections", nil, &l)
		e.must(200, "GET", "/api/v1/broker", nil, &info)
		return q.EnqueueRate > 0 && len(l.Items) == 1 && l.Items[0].InRate > 0 && info.Protocols["stomp"].InPerSecond > 0 &&
			info.Rates["sent_per_second"] > 0
	})
}
