package stomp_test

import (
	"bytes"
	"crypto/rand"
	"slices"
	"strconv"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"
)

// TestQueueOrder1000 sends 1,000 messages to a queue and checks that the
// consumer receives every one exactly once, in order (spec "SEND": queue
// semantics are the broker's; Junction keeps FIFO order per priority).
func TestQueueOrder1000(t *testing.T) {
	s := startBroker(t, nil)
	consumer, producer := dial(t, s), dial(t, s)
	sub := consumer.subscribe("/queue/order", stompc.AckAuto)

	const n = 1000
	for i := range n {
		if i == n-1 {
			producer.send("/queue/order", strconv.Itoa(i), "seq", strconv.Itoa(i))
		} else {
			producer.sendAsync("/queue/order", strconv.Itoa(i), "seq", strconv.Itoa(i))
		}
	}
	for i := range n {
		m := recv(t, sub)
		if got := string(m.Body); got != strconv.Itoa(i) {
			t.Fatalf("message %d: got body %q (lost, duplicated or reordered)", i, got)
		}
		wantHeader(t, m, "seq", strconv.Itoa(i))
	}
	consumer.sync()
	if st := queueStats(t, s, "order"); st.Messages != 0 || st.Acked != n {
		t.Fatalf("queue after consuming: %+v, want 0 messages and %d acked", st, n)
	}
}

// TestCompetingConsumers checks that consumers sharing a queue split its
// messages with none delivered twice and none lost, while several
// producers send at once.
func TestCompetingConsumers(t *testing.T) {
	s := startBroker(t, nil)
	const consumers, n = 3, 300
	var subs []*stompc.Subscription
	for range consumers {
		subs = append(subs, dial(t, s).subscribe("/queue/work", stompc.AckClientIndividual, "activemq.prefetchSize", "5"))
	}
	// Three producers at once, so the race detector sees concurrent routing
	// and dispatch.
	const producers = 3
	errs := make(chan error, producers)
	for p := range producers {
		c := dial(t, s)
		go func() {
			var err error
			for i := p; i < n && err == nil; i += producers {
				err = c.Send("/queue/work", "text/plain", []byte(strconv.Itoa(i)))
			}
			errs <- err
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatalf("producer: %v", err)
		}
	}

	merged := merge(t, subs)
	seen := map[string]int{}
	perConsumer := make([]int, consumers)
	for len(seen) < n {
		d := next(t, merged)
		body := string(d.m.Body)
		if prev, dup := seen[body]; dup {
			t.Fatalf("message %s delivered twice: to consumer %d and %d", body, prev, d.consumer)
		}
		seen[body] = d.consumer
		perConsumer[d.consumer]++
		if err := d.m.Conn.Ack(d.m); err != nil {
			t.Fatalf("ACK: %v", err)
		}
	}
	for i, c := range perConsumer {
		if c == 0 {
			t.Errorf("consumer %d received nothing: %v", i, perConsumer)
		}
	}
}

// TestTopicFanOut checks that every subscriber of a topic receives every
// message, in order.
func TestTopicFanOut(t *testing.T) {
	s := startBroker(t, nil)
	var subs []*stompc.Subscription
	for range 3 {
		subs = append(subs, dial(t, s).subscribe("/topic/fan", stompc.AckAuto))
	}
	producer := dial(t, s)
	want := seqBodies("fan", 50)
	for _, b := range want {
		producer.sendAsync("/topic/fan", b)
	}
	for i, sub := range subs {
		got := recvBodies(t, sub, len(want))
		sameStrings(t, "subscriber "+strconv.Itoa(i), got, want)
	}
}

// TestSelectors checks JMS selectors on STOMP headers (the selector header
// of SUBSCRIBE, as ActiveMQ and Artemis read it). Header values are
// untyped text, so `weight > 10` compares numerically when the header
// holds a number.
func TestSelectors(t *testing.T) {
	type msg struct {
		body    string
		headers []string
	}
	msgs := []msg{
		{"w25-red", []string{"weight", "25", "color", "red", "name", "apple"}},
		{"w5-green", []string{"weight", "5", "color", "green", "name", "avocado"}},
		{"w10-blue", []string{"weight", "10", "color", "blue", "name", "banana"}},
		{"w100", []string{"weight", "100", "name", "cherry"}},
		{"w9.5-red", []string{"weight", "9.5", "color", "red", "name", "a_b"}},
	}
	tests := []struct {
		name     string
		selector string
		want     []string
	}{
		{"numeric greater-than", "weight > 10", []string{"w25-red", "w100"}},
		{"numeric less-or-equal", "weight <= 10", []string{"w5-green", "w10-blue", "w9.5-red"}},
		{"IS NULL", "color IS NULL", []string{"w100"}},
		{"IS NOT NULL", "color IS NOT NULL", []string{"w25-red", "w5-green", "w10-blue", "w9.5-red"}},
		{"IN", "color IN ('red', 'blue')", []string{"w25-red", "w10-blue", "w9.5-red"}},
		{"NOT IN", "color NOT IN ('red', 'blue')", []string{"w5-green"}},
		{"LIKE", "name LIKE 'a%'", []string{"w25-red", "w5-green", "w9.5-red"}},
		{"LIKE with escape", `name LIKE 'a\_%' ESCAPE '\'`, []string{"w9.5-red"}},
		{"BETWEEN", "weight BETWEEN 9 AND 25", []string{"w25-red", "w10-blue", "w9.5-red"}},
		{"NOT BETWEEN", "weight NOT BETWEEN 9 AND 25", []string{"w5-green", "w100"}},
		{"AND OR", "(color = 'red' AND weight > 20) OR name = 'cherry'", []string{"w25-red", "w100"}},
	}
	s := startBroker(t, nil)
	producer := dial(t, s)
	consumer := dial(t, s)
	t.Run("topic subscription", func(t *testing.T) {
		sub := consumer.subscribe("/topic/sel", stompc.AckAuto, "selector", "weight > 10")
		for _, m := range msgs {
			producer.send("/topic/sel", m.body, m.headers...)
		}
		producer.send("/topic/sel", "marker", "weight", "11")
		sameStrings(t, "selected", recvBodies(t, sub, 3), []string{"w25-red", "w100", "marker"})
	})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			queue := "sel." + strconv.Itoa(i)
			sub := consumer.subscribe("/queue/"+queue, stompc.AckAuto, "selector", tc.selector)
			for _, m := range msgs {
				producer.send("/queue/"+queue, m.body, m.headers...)
			}
			producer.sync() // every SEND is routed before the queue is inspected
			got := recvBodies(t, sub, len(tc.want))
			sameStrings(t, "selected", got, tc.want)
			// The rest stay in the queue: the consumer never saw them.
			if st := queueStats(t, s, queue); st.Ready != len(msgs)-len(tc.want) {
				t.Fatalf("%d messages left in the queue, want %d: the selector let through more than expected", st.Ready, len(msgs)-len(tc.want))
			}
		})
	}
}

// TestSubscribeToBacklog subscribes (ack:auto) to a queue already holding
// more messages than the default prefetch of 1000: the core delivers the
// first window while SUBSCRIBE is still being handled, and the credit for
// those must still come back, or the consumer stalls at 1000.
func TestSubscribeToBacklog(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	const n = 2500
	for round := range 3 {
		queue := "/queue/backlog." + strconv.Itoa(round)
		for i := range n {
			producer.sendAsync(queue, strconv.Itoa(i))
		}
		producer.sync()
		sub := dial(t, s).subscribeAsync(queue, stompc.AckAuto)
		for i := range n {
			if m := recv(t, sub); string(m.Body) != strconv.Itoa(i) {
				t.Fatalf("round %d: message %d is %q", round, i, m.Body)
			}
		}
	}
}

// TestPriorityOrder sends messages of mixed priority before anyone
// subscribes; the consumer gets the highest priority first, FIFO within a
// priority (the priority header, as ActiveMQ and Artemis read it).
func TestPriorityOrder(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	prios := []int{1, 9, 4, 0, 7, 9, 3, 4}
	type pm struct {
		prio int
		body string
	}
	var sent []pm
	for i, p := range prios {
		body := "p" + strconv.Itoa(p) + "-" + strconv.Itoa(i)
		producer.send("/queue/prio", body, "priority", strconv.Itoa(p))
		sent = append(sent, pm{p, body})
	}
	slices.SortStableFunc(sent, func(a, b pm) int { return b.prio - a.prio })
	var want []string
	for _, m := range sent {
		want = append(want, m.body)
	}
	sub := dial(t, s).subscribe("/queue/prio", stompc.AckAuto)
	got := make([]string, 0, len(want))
	for range want {
		m := recv(t, sub)
		got = append(got, string(m.Body))
		if p, _ := m.Header.Contains("priority"); p != string(m.Body[1]) {
			t.Errorf("message %s carries priority header %q", m.Body, p)
		}
	}
	sameStrings(t, "delivery order", got, want)
}

// TestMessageGroups checks that messages with the same JMSXGroupID all go
// to one consumer.
func TestMessageGroups(t *testing.T) {
	s := startBroker(t, nil)
	subs := []*stompc.Subscription{
		dial(t, s).subscribe("/queue/groups", stompc.AckAuto),
		dial(t, s).subscribe("/queue/groups", stompc.AckAuto),
	}
	producer := dial(t, s)
	groups := []string{"A", "B", "C", "D"}
	const perGroup = 10
	for i := range perGroup * len(groups) {
		g := groups[i%len(groups)]
		producer.sendAsync("/queue/groups", g+strconv.Itoa(i), "JMSXGroupID", g)
	}
	producer.sync()

	merged := merge(t, subs)
	owner := map[string]int{}
	counts := map[string]int{}
	for range perGroup * len(groups) {
		d := next(t, merged)
		g, _ := d.m.Header.Contains("JMSXGroupID")
		if o, ok := owner[g]; ok && o != d.consumer {
			t.Fatalf("group %s went to consumer %d and %d", g, o, d.consumer)
		}
		owner[g] = d.consumer
		counts[g]++
	}
	for _, g := range groups {
		if counts[g] != perGroup {
			t.Errorf("group %s: %d messages, want %d", g, counts[g], perGroup)
		}
	}
}

// TestScheduledDelivery checks ActiveMQ's AMQ_SCHEDULED_DELAY header: the
// message is not delivered before the delay.
func TestScheduledDelivery(t *testing.T) {
	s := startBroker(t, nil)
	sub := dial(t, s).subscribe("/queue/sched", stompc.AckAuto)
	producer := dial(t, s)
	const delay = 300 * time.Millisecond
	start := time.Now()
	producer.send("/queue/sched", "later", "AMQ_SCHEDULED_DELAY", strconv.Itoa(int(delay/time.Millisecond)))
	producer.send("/queue/sched", "now")
	expectOnly(t, sub, "now")
	m := recv(t, sub)
	elapsed := time.Since(start)
	if string(m.Body) != "later" {
		t.Fatalf("got %q, want the scheduled message", m.Body)
	}
	// The broker schedules with millisecond resolution.
	if elapsed < delay-time.Millisecond {
		t.Fatalf("scheduled message delivered after %v, before its %v delay", elapsed, delay)
	}
}

// TestHeadersRoundTrip checks that the JMS-style headers and custom headers
// a sender sets reach the consumer unchanged.
func TestHeadersRoundTrip(t *testing.T) {
	s := startBroker(t, nil)
	sub := dial(t, s).subscribe("/queue/hdrs", stompc.AckAuto)
	producer := dial(t, s)
	headers := []string{
		"reply-to", "/queue/replies",
		"correlation-id", "corr-42",
		"type", "order.created",
		"x-custom", "custom value",
		"x-number", "17",
	}
	producer.send("/queue/hdrs", "with headers", headers...)
	m := recv(t, sub)
	for i := 0; i < len(headers); i += 2 {
		wantHeader(t, m, headers[i], headers[i+1])
	}
	wantHeader(t, m, "destination", "/queue/hdrs")
	wantHeader(t, m, "content-type", "text/plain")
	if id, _ := m.Header.Contains("message-id"); id == "" {
		t.Error("MESSAGE without message-id")
	}
	if sid, _ := m.Header.Contains("subscription"); sid != sub.Id() {
		t.Errorf("subscription header %q, want %q", sid, sub.Id())
	}
}

// TestLargeBody round-trips a 1 MiB body of random bytes (spec "Size
// Limits": the server may limit, Junction allows 10 MiB by default).
func TestLargeBody(t *testing.T) {
	s := startBroker(t, nil)
	sub := dial(t, s).subscribe("/queue/big", stompc.AckAuto)
	body := make([]byte, 1<<20)
	rand.Read(body)
	producer := dial(t, s)
	if err := producer.Send("/queue/big", "application/octet-stream", body, stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := recv(t, sub)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("1 MiB body changed in transit (got %d bytes)", len(m.Body))
	}
	wantHeader(t, m, "content-length", strconv.Itoa(len(body)))
}

// TestBodyWithNUL checks that a body containing NUL octets survives when
// the frame has a content-length (spec "Frames": "frames MAY contain NUL
// octets in the body only if the content-length header is set").
func TestBodyWithNUL(t *testing.T) {
	s := startBroker(t, nil)
	sub := dial(t, s).subscribe("/queue/nul", stompc.AckAuto)
	producer := dial(t, s)
	body := []byte("\x00head\x00middle\x00\x00tail\x00")
	if err := producer.Send("/queue/nul", "application/octet-stream", body, stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, sub); !bytes.Equal(m.Body, body) {
		t.Fatalf("body %q, want %q", m.Body, body)
	}

	// The same through the raw codec, with the content-length written by hand.
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	r.write("SEND\ndestination:/queue/nul\ncontent-length:5\nreceipt:r1\n\na\x00b\x00c\x00")
	r.expect("RECEIPT")
	if m := recv(t, sub); string(m.Body) != "a\x00b\x00c" {
		t.Fatalf("body %q, want %q", m.Body, "a\x00b\x00c")
	}
}

// TestPersistentSendWithReceipt checks that persistent:true with a receipt
// is answered once the message is stored, and that the consumer sees it as
// persistent.
func TestPersistentSendWithReceipt(t *testing.T) {
	s := startBroker(t, nil)
	producer := dial(t, s)
	producer.send("/queue/durable", "kept", "persistent", "true")
	if st := queueStats(t, s, "durable"); st.Messages != 1 {
		t.Fatalf("after the RECEIPT the queue holds %d messages, want 1", st.Messages)
	}
	m := recv(t, dial(t, s).subscribe("/queue/durable", stompc.AckAuto))
	if string(m.Body) != "kept" {
		t.Fatalf("got %q", m.Body)
	}
	wantHeader(t, m, "persistent", "true")
}
