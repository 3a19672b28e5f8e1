package management_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/management"
)

type queueList = management.ListResult[management.Queue]

func TestAuthentication(t *testing.T) {
	e := start(t)
	// No credentials: 401 with a Basic challenge, except for the console.
	req, _ := http.NewRequest("GET", e.base+"/api/v1/broker", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("anonymous: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req.Header.Set("X-Junction-Console", "1")
	if resp, err = e.http.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("console anonymous: %d %q, want 401 without a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if got := e.doAs("alice", "wrong", "GET", "/api/v1/broker", nil, nil); got != 401 {
		t.Fatalf("wrong password: %d, want 401", got)
	}
	if got := e.doAs("bob", bobPW, "GET", "/api/v1/queues", nil, nil); got != 403 {
		t.Fatalf("bob without manage: %d, want 403", got)
	}
	if got := e.doAs("bob", bobPW, "GET", "/metrics", nil, nil); got != 403 {
		t.Fatalf("bob /metrics: %d, want 403", got)
	}
	if got := e.doAs("bob", bobPW, "POST", "/api/v1/queues/x/purge", nil, nil); got != 403 {
		t.Fatalf("bob purge: %d, want 403", got)
	}
	var info management.BrokerInfo
	e.must(200, "GET", "/api/v1/broker", nil, &info)
	if info.Name != "junction" || info.Anonymous || info.Listeners["admin"] == "" || info.Listeners["stomp"] == "" {
		t.Fatalf("broker info: %+v", info)
	}
	if !info.Store.Healthy || info.Store.Type != "memory" {
		t.Fatalf("store: %+v", info.Store)
	}
	// Liveness and readiness need no credentials.
	for _, p := range []string{"/healthz", "/readyz"} {
		if got := e.doAs("", "", "GET", p, nil, nil); got != 200 {
			t.Fatalf("%s: %d", p, got)
		}
	}
	if got := e.do("GET", "/api/v1/nothing", nil, nil); got != 404 {
		t.Fatalf("unknown endpoint: %d, want 404", got)
	}
}

func TestQueuesWithSTOMPTraffic(t *testing.T) {
	e := start(t)
	c := e.stomp("alice", alicePW)
	for i := range 5 {
		if err := c.Send("/queue/orders", "text/plain", []byte(fmt.Sprintf("order %d", i)), stomp.SendOpt.Receipt,
			stomp.SendOpt.Header("region", "eu"), stomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatal(err)
		}
	}
	var q management.Queue
	e.must(200, "GET", "/api/v1/queues/orders", nil, &q)
	if q.Depth != 5 || q.Ready != 5 || q.Enqueued != 5 || q.RoutingType != "anycast" || q.Consumers != 0 {
		t.Fatalf("orders after 5 sends: %+v", q)
	}
	if q.OldestAgeMs < 0 {
		t.Fatalf("oldest age %d", q.OldestAgeMs)
	}

	// Browse: the messages in order with their headers; nothing consumed.
	var br management.BrowseResult
	e.must(200, "GET", "/api/v1/queues/orders/messages?limit=2&offset=1", nil, &br)
	if len(br.Items) != 2 || !br.More || br.Items[0].BodyPreview != "order 1" || br.Items[1].BodyPreview != "order 2" {
		t.Fatalf("browse page: %+v", br)
	}
	if m := br.Items[0]; m.Properties["region"] != "eu" || m.BodyEncoding != "text" || m.BodySize != 7 || m.UserID != "alice" || !m.Durable {
		t.Fatalf("browsed message: %+v", m)
	}
	e.must(200, "GET", "/api/v1/queues/orders/messages?selector="+urlEscape("region = 'us'"), nil, &br)
	if len(br.Items) != 0 {
		t.Fatalf("selector browse: %d items, want none", len(br.Items))
	}
	if got := e.do("GET", "/api/v1/queues/orders/messages?selector="+urlEscape("region =="), nil, nil); got != 400 {
		t.Fatalf("bad selector: %d, want 400", got)
	}

	// A consumer takes two and acks one: the counters follow.
	sub, err := c.Subscribe("/queue/orders", stomp.AckClientIndividual, stomp.SubscribeOpt.Header("activemq.prefetchSize", "2"))
	if err != nil {
		t.Fatal(err)
	}
	m1 := recv(t, sub)
	recv(t, sub)
	if err := c.Ack(m1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one ack counted", func() bool {
		e.must(200, "GET", "/api/v1/queues/orders", nil, &q)
		return q.Acknowledged == 1
	})
	// The ack gave the prefetch window its credit back: a third delivery.
	if q.Delivered != 3 || q.InFlight != 2 || q.Consumers != 1 || q.Depth != 4 || len(q.ConsumerList) != 1 || q.ConsumerList[0].User != "alice" {
		t.Fatalf("after 3 deliveries and 1 ack: %+v", q)
	}

	// Purge takes the ready messages; those in flight stay.
	var purged map[string]int
	e.must(200, "POST", "/api/v1/queues/orders/purge", nil, &purged)
	if purged["removed"] != 2 {
		t.Fatalf("purge removed %d, want 2", purged["removed"])
	}
	e.must(200, "GET", "/api/v1/queues/orders", nil, &q)
	if q.Depth != 2 || q.InFlight != 2 || q.Ready != 0 {
		t.Fatalf("after purge: %+v", q)
	}
	if got := e.do("POST", "/api/v1/queues/nosuch/purge", nil, nil); got != 404 {
		t.Fatalf("purge of a missing queue: %d, want 404", got)
	}
}

func TestQueueListPagingSortingFilter(t *testing.T) {
	e := start(t)
	for i := range 30 {
		e.must(201, "POST", "/api/v1/queues", map[string]any{"name": fmt.Sprintf("jobs.%02d", i)}, nil)
	}
	e.must(201, "POST", "/api/v1/queues", map[string]any{"name": "other"}, nil)
	if got := e.do("POST", "/api/v1/queues", map[string]any{"name": "other"}, nil); got != 409 {
		t.Fatalf("second create: %d, want 409", got)
	}
	// Depth for sorting: i messages on jobs.(i) for a few.
	for i := 1; i <= 3; i++ {
		for range i {
			e.must(201, "POST", fmt.Sprintf("/api/v1/addresses/jobs.%02d/messages", i), map[string]any{"body": "x"}, nil)
		}
	}
	var l queueList
	e.must(200, "GET", "/api/v1/queues?filter=JOBS&limit=10&offset=10", nil, &l)
	if l.Total != 30 || len(l.Items) != 10 || l.Items[0].Name != "jobs.10" || l.Items[9].Name != "jobs.19" {
		t.Fatalf("page 2 of jobs: total %d, %d items, first %q", l.Total, len(l.Items), first(l))
	}
	e.must(200, "GET", "/api/v1/queues?sort=depth&order=desc&limit=3", nil, &l)
	if len(l.Items) != 3 || l.Items[0].Name != "jobs.03" || l.Items[0].Depth != 3 || l.Items[2].Name != "jobs.01" {
		t.Fatalf("deepest first: %+v", l.Items)
	}
	e.must(200, "GET", "/api/v1/queues?offset=1000", nil, &l)
	if len(l.Items) != 0 || l.Total != 31 {
		t.Fatalf("past the end: %+v", l)
	}
	for _, bad := range []string{"limit=0", "limit=5000", "offset=-1", "sort=nope", "order=up"} {
		if got := e.do("GET", "/api/v1/queues?"+bad, nil, nil); got != 400 {
			t.Fatalf("?%s: %d, want 400", bad, got)
		}
	}
	e.must(200, "DELETE", "/api/v1/queues/other", nil, nil)
	if got := e.do("DELETE", "/api/v1/queues/other", nil, nil); got != 404 {
		t.Fatalf("second delete: %d, want 404", got)
	}
}

func first(l queueList) string {
	if len(l.Items) == 0 {
		return ""
	}
	return l.Items[0].Name
}

func TestAddresses(t *testing.T) {
	e := start(t)
	e.must(201, "POST", "/api/v1/addresses", map[string]any{"name": "news", "routing_type": "multicast"}, nil)
	if got := e.do("POST", "/api/v1/addresses", map[string]any{"name": "bad", "routing_type": "sideways"}, nil); got != 400 {
		t.Fatalf("bad routing type: %d", got)
	}
	e.must(201, "POST", "/api/v1/queues", map[string]any{"name": "news.archive", "address": "news", "routing_type": "multicast"}, nil)
	var l management.ListResult[management.Address]
	e.must(200, "GET", "/api/v1/addresses?filter=news", nil, &l)
	if l.Total != 1 || l.Items[0].Queues != 1 || len(l.Items[0].RoutingTypes) != 1 || l.Items[0].RoutingTypes[0] != "multicast" {
		t.Fatalf("addresses: %+v", l)
	}
	// A STOMP topic publish reaches the subscription made through the API.
	c := e.stomp("alice", alicePW)
	if err := c.Send("/topic/news", "text/plain", []byte("hello"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	var q management.Queue
	e.must(200, "GET", "/api/v1/queues/news.archive", nil, &q)
	if q.Depth != 1 || q.Subscription != "news.archive" {
		t.Fatalf("subscription after a topic send: %+v", q)
	}
	var subs queueList
	e.must(200, "GET", "/api/v1/subscriptions", nil, &subs)
	if subs.Total != 1 || subs.Items[0].Name != "news.archive" {
		t.Fatalf("durable subscriptions: %+v", subs)
	}
	if got := e.do("DELETE", "/api/v1/addresses/news", nil, nil); got != 409 {
		t.Fatalf("delete with a queue: %d, want 409", got)
	}
	e.must(200, "DELETE", "/api/v1/addresses/news?force=true", nil, nil)
	e.must(200, "GET", "/api/v1/addresses?filter=news", nil, &l)
	if l.Total != 0 {
		t.Fatalf("address still listed: %+v", l)
	}
	if got := e.do("GET", "/api/v1/queues/news.archive", nil, nil); got != 404 {
		t.Fatalf("queue of a force-deleted address: %d, want 404", got)
	}
}

func TestSendMoveRedriveToSTOMPConsumer(t *testing.T) {
	e := start(t)
	e.must(201, "POST", "/api/v1/queues", map[string]any{"name": "work"}, nil)
	e.must(201, "POST", "/api/v1/queues", map[string]any{"name": "parked"}, nil)
	for i := range 4 {
		e.must(201, "POST", "/api/v1/addresses/work/messages", map[string]any{"body": fmt.Sprint("job ", i), "properties": map[string]string{"n": fmt.Sprint(i)}}, nil)
	}
	var moved map[string]int
	e.must(200, "POST", "/api/v1/queues/work/move", map[string]any{"to": "parked", "limit": 3}, &moved)
	if moved["moved"] != 3 {
		t.Fatalf("moved %d, want 3", moved["moved"])
	}
	var q management.Queue
	e.must(200, "GET", "/api/v1/queues/parked", nil, &q)
	if q.Depth != 3 {
		t.Fatalf("parked depth %d, want 3", q.Depth)
	}
	e.must(200, "GET", "/api/v1/queues/work", nil, &q)
	if q.Depth != 1 {
		t.Fatalf("work depth %d, want 1", q.Depth)
	}
	for _, body := range []map[string]any{{"to": "nosuch"}, {"to": "work"}, {}, {"to": "parked", "limit": -1}} {
		if got := e.do("POST", "/api/v1/queues/work/move", body, nil); got != 400 && got != 404 {
			t.Fatalf("move %v: %d, want 400 or 404", body, got)
		}
	}

	// Dead letters: one with its original address (as the broker's
	// dead-letter move writes it), one without.
	e.must(201, "POST", "/api/v1/addresses/DLQ/messages", map[string]any{"body": "poison", "routing_type": "anycast",
		"properties": map[string]string{"_AMQ_ORIG_ADDRESS": "work", "_AMQ_DLQ_REASON": "max-delivery-attempts"}}, nil)
	e.must(201, "POST", "/api/v1/addresses/DLQ/messages", map[string]any{"body": "orphan", "routing_type": "anycast"}, nil)
	var rd map[string]int
	e.must(200, "POST", "/api/v1/queues/DLQ/redrive", map[string]any{}, &rd)
	if rd["redriven"] != 1 || rd["skipped"] != 1 {
		t.Fatalf("redrive: %v, want 1 redriven, 1 skipped", rd)
	}
	// A STOMP consumer of work sees the redriven message without the
	// dead-letter bookkeeping.
	c := e.stomp("alice", alicePW)
	sub, err := c.Subscribe("/queue/work", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*stomp.Message{}
	for range 2 {
		m := recv(t, sub)
		got[string(m.Body)] = m
	}
	p := got["poison"]
	if p == nil || got["job 3"] == nil {
		t.Fatalf("work consumer got %v", keys(got))
	}
	if p.Header.Get("_AMQ_DLQ_REASON") != "" || p.Header.Get("_AMQ_ORIG_ADDRESS") != "" {
		t.Fatalf("redriven message kept its dead-letter headers: %v", p.Header)
	}
	e.must(200, "GET", "/api/v1/queues/DLQ", nil, &q)
	if q.Depth != 1 {
		t.Fatalf("DLQ depth %d after redrive, want 1 (the orphan)", q.Depth)
	}
}

func keys(m map[string]*stomp.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestConnectionsAndMQTTSessions(t *testing.T) {
	e := start(t)
	c := e.stomp("alice", alicePW, stomp.ConnOpt.Header("client-id", "stomp-one"))
	sub, err := c.Subscribe("/queue/inbox", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	mq := e.mqtt("device-1", false)
	if tok := mq.Subscribe("sensors/+/temp", 1, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	if tok := mq.Publish("sensors/a/temp", 1, false, "21"); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("mqtt publish: %v", tok.Error())
	}
	var l management.ListResult[management.Connection]
	eventually(t, "two connections, the STOMP one subscribed", func() bool {
		e.must(200, "GET", "/api/v1/connections?sort=protocol", nil, &l)
		return l.Total == 2 && l.Items[1].Protocol == "stomp" && l.Items[1].Consumers == 1
	})
	byProto := map[string]management.Connection{}
	for _, cn := range l.Items {
		byProto[cn.Protocol] = cn
	}
	st, mc := byProto["stomp"], byProto["mqtt"]
	if st.ClientID != "stomp-one" || st.User != "alice" || !strings.HasPrefix(st.RemoteAddress, "127.0.0.1:") || st.Consumers != 1 || st.Since.IsZero() {
		t.Fatalf("stomp connection: %+v", st)
	}
	if mc.ClientID != "device-1" || mc.User != "alice" || mc.MessagesIn != 1 {
		t.Fatalf("mqtt connection: %+v", mc)
	}
	var ms management.ListResult[management.MQTTSession]
	e.must(200, "GET", "/api/v1/mqtt/sessions", nil, &ms)
	if ms.Total != 1 || !ms.Items[0].Connected || !ms.Items[0].Persistent || len(ms.Items[0].Subscriptions) != 1 ||
		ms.Items[0].Subscriptions[0].Filter != "sensors/+/temp" {
		t.Fatalf("mqtt sessions: %+v", ms)
	}
	// The persistent session's subscription is a durable subscription.
	var subs queueList
	e.must(200, "GET", "/api/v1/subscriptions", nil, &subs)
	if subs.Total != 1 || subs.Items[0].ClientID != "device-1" {
		t.Fatalf("durable subscriptions: %+v", subs)
	}

	// Closing the STOMP connection ends it at the client.
	e.must(200, "DELETE", fmt.Sprintf("/api/v1/connections/%d", st.ID), nil, nil)
	select {
	case m, ok := <-sub.C:
		if ok && m.Err == nil {
			t.Fatalf("subscription got a message instead of ending: %s", m.Body)
		}
	case <-timeAfter():
		t.Fatal("the closed STOMP connection's subscription did not end")
	}
	eventually(t, "one connection left", func() bool {
		e.must(200, "GET", "/api/v1/connections", nil, &l)
		return l.Total == 1 && l.Items[0].Protocol == "mqtt"
	})
	if got := e.do("DELETE", fmt.Sprintf("/api/v1/connections/%d", st.ID), nil, nil); got != 404 {
		t.Fatalf("closing it again: %d, want 404", got)
	}
	if got := e.do("DELETE", "/api/v1/connections/abc", nil, nil); got != 400 {
		t.Fatalf("bad id: %d, want 400", got)
	}
	// Deleting the durable subscription.
	e.must(200, "DELETE", "/api/v1/subscriptions/"+urlEscape(subs.Items[0].Name), nil, nil)
	e.must(200, "GET", "/api/v1/subscriptions", nil, &subs)
	if subs.Total != 0 {
		t.Fatalf("subscription still there: %+v", subs)
	}
}

func recv(t *testing.T, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok || m.Err != nil {
			t.Fatalf("subscription ended: %v", m)
		}
		return m
	case <-timeAfter():
		t.Fatal("no message")
	}
	return nil
}

func TestActionsAreReportedToOnAction(t *testing.T) {
	// The API alone on a test broker's core, with an OnAction hook.
	e := start(t)
	var got []management.Action
	api := management.New(management.Options{Broker: e.s.Core, Security: e.s.Security, OnAction: func(a management.Action) { got = append(got, a) }})
	t.Cleanup(api.Close)
	srv := newHTTPServer(t, api)
	e.base = srv
	e.must(201, "POST", "/api/v1/queues", map[string]any{"name": "audited"}, nil)
	e.must(200, "POST", "/api/v1/queues/audited/purge", nil, nil)
	if got := e.do("DELETE", "/api/v1/queues/none", nil, nil); got != 404 {
		t.Fatalf("delete missing: %d", got)
	}
	if len(got) != 3 || got[0].Name != "queue.create" || got[0].User != "alice" || got[0].Result != "ok" ||
		got[1].Name != "queue.purge" || got[2].Name != "queue.delete" || got[2].Result != "error" || got[2].Target != "none" {
		t.Fatalf("actions: %+v", got)
	}
	// Reads are not actions.
	e.must(200, "GET", "/api/v1/queues", nil, nil)
	if len(got) != 3 {
		t.Fatalf("a read was reported: %+v", got[3:])
	}
	resp, err := http.Get(srv + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz: %q", body)
	}
}

// A send to an address nobody made yet makes its queue (as a STOMP /queue/
// send does); one to a topic without subscribers is dropped and counted.
func TestSendRouting(t *testing.T) {
	e := start(t)
	var res map[string]any
	e.must(201, "POST", "/api/v1/addresses/fresh/messages", map[string]any{"body": "x"}, &res)
	if res["message_id"] == "" || res["message_id"] == "ID:0" {
		t.Fatalf("send to a new address: %v", res)
	}
	var q management.Queue
	e.must(200, "GET", "/api/v1/queues/fresh", nil, &q)
	if q.Depth != 1 {
		t.Fatalf("fresh: %+v", q)
	}
	e.must(201, "POST", "/api/v1/addresses", map[string]any{"name": "lonely", "routing_type": "multicast"}, nil)
	var before, after management.BrokerInfo
	e.must(200, "GET", "/api/v1/broker", nil, &before)
	e.must(201, "POST", "/api/v1/addresses/lonely/messages", map[string]any{"body": "x"}, &res)
	e.must(200, "GET", "/api/v1/broker", nil, &after)
	if after.Counters.Dropped != before.Counters.Dropped+1 {
		t.Fatalf("send to a topic without subscribers: dropped %d → %d, want one more", before.Counters.Dropped, after.Counters.Dropped)
	}
	for _, bad := range []map[string]any{{"body": "a", "body_base64": "YQ=="}, {"body_base64": "!!"}, {"priority": 10},
		{"routing_type": "both"}, {"ttl_ms": -1}, {"unknown": 1}} {
		if got := e.do("POST", "/api/v1/addresses/fresh/messages", bad, nil); got != 400 {
			t.Fatalf("send %v: %d, want 400", bad, got)
		}
	}
}

// An offline persistent MQTT session can be ended from the API, with its
// subscription queue; a connected one cannot.
func TestEndMQTTSession(t *testing.T) {
	e := start(t)
	mq := e.mqtt("device-2", false)
	if tok := mq.Subscribe("alerts/#", 1, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	if got := e.do("DELETE", "/api/v1/mqtt/sessions/device-2", nil, nil); got != 409 {
		t.Fatalf("ending a connected session: %d, want 409", got)
	}
	mq.Disconnect(100)
	var ms management.ListResult[management.MQTTSession]
	eventually(t, "the session offline", func() bool {
		e.must(200, "GET", "/api/v1/mqtt/sessions", nil, &ms)
		return ms.Total == 1 && !ms.Items[0].Connected
	})
	queue := ms.Items[0].Subscriptions[0].Queue
	e.must(200, "GET", "/api/v1/queues/"+urlEscape(queue), nil, nil)
	e.must(200, "DELETE", "/api/v1/mqtt/sessions/device-2", nil, nil)
	e.must(200, "GET", "/api/v1/mqtt/sessions", nil, &ms)
	if ms.Total != 0 {
		t.Fatalf("session still listed: %+v", ms)
	}
	if got := e.do("GET", "/api/v1/queues/"+urlEscape(queue), nil, nil); got != 404 {
		t.Fatalf("the ended session's queue: %d, want 404", got)
	}
	if got := e.do("DELETE", "/api/v1/mqtt/sessions/device-2", nil, nil); got != 404 {
		t.Fatalf("ending it again: %d, want 404", got)
	}
}
