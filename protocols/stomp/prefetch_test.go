package stomp_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server/servertest"
)

// TestGoStompDefaultClientDrainsBacklog uses go-stomp as its documentation
// shows, with default options: subscribe with client-individual acks, then
// read each message from sub.C and conn.Ack it, on one goroutine. go-stomp
// cannot write an ACK while its delivery channel is full, so a prefetch
// larger than its channels (about 38 frames) hangs this loop for good once
// the queue is deeper than that; the default prefetch must not. 100,000
// persistent messages are queued on the journal first.
func TestGoStompDefaultClientDrainsBacklog(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.Store.Type = "journal" }})
	producer := dial(t, s)
	body := []byte("a persistent order of about a hundred bytes, as a small business message would be ......")
	for i := range n {
		// Only the last waits for its receipt: frames are handled in order.
		if err := producer.Send("/queue/backlog", "text/plain", body, sendOpts(i == n-1, "persistent", "true")...); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if st := queueStats(t, s, "backlog"); st.Messages != n {
		t.Fatalf("%d messages queued, want %d", st.Messages, n)
	}

	// The documented loop, with default options (dial adds only a logger
	// and timeouts for the test's end).
	consumer := dial(t, s)
	sub := consumer.subscribeAsync("/queue/backlog", stompc.AckClientIndividual)
	start := time.Now()
	// The loop runs on its own goroutine because a deadlocked go-stomp
	// blocks it inside Ack; the test watches its progress.
	var done atomic.Int64
	failed := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range n {
			select {
			case msg := <-sub.C:
				if msg.Err == nil {
					msg.Err = consumer.Ack(msg)
				}
				if msg.Err != nil {
					failed <- fmt.Errorf("message %d: %w", i, msg.Err)
					return
				}
			case <-stop:
				return
			}
			done.Add(1)
		}
	}()
	for last := int64(-1); done.Load() < int64(n); {
		select {
		case err := <-failed:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
		}
		got := done.Load()
		if got == last {
			t.Fatalf("the consumer stalled after %d of %d messages (go-stomp deadlock: prefetch too large for its channels)", got, n)
		}
		last = got
	}
	took := time.Since(start)
	t.Logf("drained %d messages in %v (%.0f/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	// The last ACK is handled once this round trip is.
	consumer.sync()
	if st := queueStats(t, s, "backlog"); st.Messages != 0 {
		t.Fatalf("after acking everything: %+v", st)
	}
}
