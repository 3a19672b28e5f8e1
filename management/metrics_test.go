package management_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/management"
)

// scrape fetches url as alice and parses it with Prometheus' own text
// parser.
func scrape(t testing.TB, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("alice", alicePW)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want, failing the test when there is none.
func value(t testing.TB, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	v, ok := lookup(fams, name, want...)
	if !ok {
		t.Fatalf("no series %s%v", name, want)
	}
	return v
}

func lookup(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsWithTraffic(t *testing.T) {
	e := start(t)
	c := e.stomp("alice", alicePW)
	for i := range 3 {
		if err := c.Send("/queue/orders", "text/plain", []byte(fmt.Sprint(i)), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	mq := e.mqtt("metrics-device", true)
	if tok := mq.Publish("telemetry/x", 0, false, "1"); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var fams map[string]*dto.MetricFamily
	// The adapters count a message once its confirmation is on its way:
	// the client may have it a moment before.
	eventually(t, "the sends counted", func() bool {
		fams = scrape(t, e.http, e.base+"/metrics")
		m, _ := lookup(fams, "junction_protocol_messages_received_total", "protocol", "mqtt")
		s, _ := lookup(fams, "junction_protocol_messages_received_total", "protocol", "stomp")
		return m == 1 && s == 3
	})
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"junction_queue_messages", []string{"queue", "orders", "address", "orders"}, 3},
		{"junction_queue_messages_enqueued_total", []string{"queue", "orders"}, 3},
		{"junction_queue_consumers", []string{"queue", "orders"}, 0},
		{"junction_queues_messages", nil, 3},
		{"junction_protocol_connections", []string{"protocol", "stomp"}, 1},
		{"junction_protocol_connections", []string{"protocol", "mqtt"}, 1},
		{"junction_protocol_messages_received_total", []string{"protocol", "stomp"}, 3},
		{"junction_store_healthy", nil, 1},
		{"junction_queue_series_omitted", nil, 0},
		{"junction_messages_sent_total", nil, 4},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if f := fams["junction_queue_messages_enqueued_total"]; f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("enqueued is a %v, want a counter", f.GetType())
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func TestMetricsQueueSeriesCap(t *testing.T) {
	e := start(t)
	for i := range 5 {
		name := fmt.Sprintf("q%d", i)
		if _, err := e.s.Core.CreateQueue(core.QueueInfo{Name: name, Address: name, RoutingType: core.Anycast}); err != nil {
			t.Fatal(err)
		}
		for range i {
			e.must(201, "POST", "/api/v1/addresses/"+name+"/messages", map[string]any{"body": "x", "durable": false}, nil)
		}
	}
	api := management.New(management.Options{Broker: e.s.Core, Security: e.s.Security, MaxQueueSeries: 2})
	t.Cleanup(api.Close)
	fams := scrape(t, e.http, newHTTPServer(t, api)+"/metrics")
	series := fams["junction_queue_messages"].GetMetric()
	if len(series) != 2 {
		t.Fatalf("%d per-queue series, want the cap of 2", len(series))
	}
	// The deepest two: q4 and q3.
	if value(t, fams, "junction_queue_messages", "queue", "q4") != 4 || value(t, fams, "junction_queue_messages", "queue", "q3") != 3 {
		t.Fatalf("not the deepest queues: %v", series)
	}
	if got := value(t, fams, "junction_queue_series_omitted"); got != 3 {
		t.Fatalf("omitted %v, want 3", got)
	}
	if got := value(t, fams, "junction_queues_messages"); got != 10 {
		t.Fatalf("total depth %v, want 10 (every queue, capped or not)", got)
	}
}

// makeQueues creates n empty anycast queues.
func makeQueues(t testing.TB, b *core.Broker, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("bulk.%05d", i)
		if _, err := b.CreateQueue(core.QueueInfo{Name: name, Address: name, RoutingType: core.Anycast}); err != nil {
			t.Fatal(err)
		}
	}
}

// timeScrape returns the fastest of n scrapes: the time to the last byte
// of the answer, read as a Prometheus server reads it (not parsed here).
func timeScrape(t testing.TB, client *http.Client, url string, n int) time.Duration {
	t.Helper()
	best := time.Duration(1<<63 - 1)
	for range n {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth("alice", alicePW)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scrape: %d %v", resp.StatusCode, err)
		}
		best = min(best, time.Since(start))
	}
	return best
}
