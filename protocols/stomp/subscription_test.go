package stomp_test

import (
	"strings"
	"testing"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/core"
)

// TestDurableSubscription checks that a durable topic subscription keeps
// what is published while its subscriber is away. The connection names
// itself with the client-id CONNECT header; the subscription is named with
// Artemis' durable-subscription-name or ActiveMQ's activemq.subscriptionName.
func TestDurableSubscription(t *testing.T) {
	for _, header := range []string{"durable-subscription-name", "activemq.subscriptionName"} {
		t.Run(header, func(t *testing.T) {
			s := startBroker(t, nil)
			connect := func() *client {
				return dial(t, s, stompc.ConnOpt.Header("client-id", "cid-1"))
			}
			away := connect()
			away.subscribe("/topic/news", stompc.AckAuto, header, "news-sub")
			away.close()

			if q, ok := s.Core.Queue(core.SubscriptionQueueName("cid-1", "news-sub")); !ok || q.Info().Durable != true {
				t.Fatalf("no durable subscription queue after the subscriber left")
			}
			producer := dial(t, s)
			want := seqBodies("while-away", 3)
			for _, b := range want {
				producer.send("/topic/news", b)
			}
			back := connect()
			sub := back.subscribe("/topic/news", stompc.AckAuto, header, "news-sub")
			sameStrings(t, "kept while away", recvBodies(t, sub, len(want)), want)
		})
	}
}

// TestUnsubscribeDurableDeletes checks that UNSUBSCRIBE carrying the durable
// subscription name deletes the subscription, while a plain UNSUBSCRIBE
// only detaches from it. (UNSUBSCRIBE goes through the raw client:
// go-stomp's Unsubscribe can miss the RECEIPT's wake-up and time out.)
func TestUnsubscribeDurableDeletes(t *testing.T) {
	for _, header := range []string{"durable-subscription-name", "activemq.subscriptionName"} {
		t.Run(header, func(t *testing.T) {
			s := startBroker(t, nil)
			queue := core.SubscriptionQueueName("cid-2", "gone")
			r := dialRaw(t, s.Addr("stomp"))
			r.connect("client-id", "cid-2")
			subscribe := func() {
				t.Helper()
				r.frame("SUBSCRIBE", "", "id", "d", "destination", "/topic/del", header, "gone", "receipt", "sub")
				r.expect("RECEIPT")
			}

			subscribe()
			r.frame("UNSUBSCRIBE", "", "id", "d", "receipt", "plain")
			r.expect("RECEIPT")
			if _, ok := s.Core.Queue(queue); !ok {
				t.Fatal("a plain UNSUBSCRIBE deleted the durable subscription")
			}

			subscribe()
			r.frame("UNSUBSCRIBE", "", "id", "d", header, "gone", "receipt", "delete")
			r.expect("RECEIPT")
			if _, ok := s.Core.Queue(queue); ok {
				t.Fatalf("UNSUBSCRIBE with %s kept the subscription", header)
			}
			// Published now, with no subscription, it is kept for nobody.
			producer := dial(t, s)
			producer.send("/topic/del", "lost")
			subscribe()
			producer.send("/topic/del", "marker")
			if m := r.expect("MESSAGE"); string(m.Body) != "marker" {
				t.Fatalf("re-created subscription got %q before the marker", m.Body)
			}
		})
	}
}

// TestSharedSubscription checks that subscribers sharing a subscription
// (shared-subscription-name) split its messages, while an ordinary
// subscriber of the same topic gets them all.
func TestSharedSubscription(t *testing.T) {
	s := startBroker(t, nil)
	shared := []*stompc.Subscription{
		dial(t, s).subscribe("/topic/jobs", stompc.AckAuto, "shared-subscription-name", "workers"),
		dial(t, s).subscribe("/topic/jobs", stompc.AckAuto, "shared-subscription-name", "workers"),
	}
	all := dial(t, s).subscribe("/topic/jobs", stompc.AckAuto)
	producer := dial(t, s)
	want := seqBodies("job", 40)
	for _, b := range want {
		producer.sendAsync("/topic/jobs", b)
	}
	producer.sync()

	merged := merge(t, shared)
	seen := map[string]bool{}
	per := make([]int, len(shared))
	for range want {
		d := next(t, merged)
		if seen[string(d.m.Body)] {
			t.Fatalf("%s delivered twice within the shared subscription", d.m.Body)
		}
		seen[string(d.m.Body)] = true
		per[d.consumer]++
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("shared subscribers got %v: the messages were not split", per)
	}
	sameStrings(t, "ordinary subscriber", recvBodies(t, all, len(want)), want)
}

// TestBrowserSubscription checks ActiveMQ's browser:true: the queue's
// messages, then a MESSAGE with browser:end, and nothing consumed.
func TestBrowserSubscription(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	want := seqBodies("b", 3)
	for _, b := range want {
		producer.send("/queue/browse", b)
	}
	c := dial(t, s)
	browser := c.subscribe("/queue/browse", stompc.AckAuto, "browser", "true")
	sameStrings(t, "browsed", recvBodies(t, browser, len(want)), want)
	end := recv(t, browser)
	wantHeader(t, end, "browser", "end")
	if len(end.Body) != 0 {
		t.Errorf("browser:end message has a body %q", end.Body)
	}
	if st := queueStats(t, s, "browse"); st.Messages != len(want) {
		t.Fatalf("browsing consumed messages: %+v", st)
	}

	// A client done with a browser unsubscribes (stomp.js does): that is
	// not an error, and the id is free again afterwards.
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.frame("SUBSCRIBE", "", "id", "b", "destination", "/queue/browse", "browser", "true")
	for range want {
		r.expect("MESSAGE")
	}
	if v, _ := r.expect("MESSAGE").Get("browser"); v != "end" {
		t.Fatalf("no browser:end")
	}
	r.frame("UNSUBSCRIBE", "", "id", "b", "receipt", "unsub")
	r.expect("RECEIPT")
	r.frame("SUBSCRIBE", "", "id", "b", "destination", "/queue/browse")
	for _, w := range want {
		if m := r.expect("MESSAGE"); string(m.Body) != w {
			t.Fatalf("consumed after browsing: %q, want %q", m.Body, w)
		}
	}
}

// TestBrowseDeepQueue browses 5,000 messages with a window of 10 through
// go-stomp, whose subscription channel holds 16: the broker walks the queue
// as the writer gets rid of what it sent, and the client sees every message
// in order, once, then browser:end; the queue keeps what it had.
func TestBrowseDeepQueue(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	const n = 5000
	want := seqBodies("d", n)
	for _, b := range want {
		producer.sendAsync("/queue/deep", b)
	}
	producer.sync()
	browser := dial(t, s).subscribeAsync("/queue/deep", stompc.AckAuto, "browser", "true", "activemq.prefetchSize", "10")
	var got []string
	for {
		m := recv(t, browser)
		if v := m.Header.Get("browser"); v == "end" {
			break
		}
		got = append(got, string(m.Body))
	}
	sameStrings(t, "browsed", got, want)
	if st := queueStats(t, s, "deep"); st.Messages != n || st.Ready != n {
		t.Fatalf("browsing changed the queue: %+v", st)
	}
}

// TestTemporaryQueue checks /temp-queue/ destinations: private to the
// connection, usable as reply-to by others, deleted when the connection ends.
func TestTemporaryQueue(t *testing.T) {
	s := startBroker(t, nil)
	requester := dial(t, s)
	replies := requester.subscribe("/temp-queue/replies", stompc.AckAuto)

	service := dial(t, s)
	requests := service.subscribe("/queue/service", stompc.AckAuto)
	requester.send("/queue/service", "ping", "reply-to", "/temp-queue/replies")

	req := recv(t, requests)
	replyTo, _ := req.Header.Contains("reply-to")
	if !strings.HasPrefix(replyTo, "/queue/temp.") {
		t.Fatalf("reply-to rendered as %q, want the temporary queue's name", replyTo)
	}
	service.send(replyTo, "pong")
	if m := recv(t, replies); string(m.Body) != "pong" {
		t.Fatalf("reply %q", m.Body)
	}

	name := strings.TrimPrefix(replyTo, "/queue/")
	q, ok := s.Core.Queue(name)
	if !ok || !q.Info().Temporary {
		t.Fatalf("temporary queue %q missing or not temporary", name)
	}
	requester.close() // DISCONNECT's RECEIPT comes after the session is closed
	if _, ok := s.Core.Queue(name); ok {
		t.Fatalf("temporary queue %q outlived its connection", name)
	}
}
