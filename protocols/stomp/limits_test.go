package stomp_test

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/stomp"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// dialNeverReading connects a raw STOMP 1.2 client with a 4 KiB receive
// buffer, subscribes with ack:auto and reads nothing after the receipt: what
// it is sent stays with the broker, not in the kernel.
func dialNeverReading(t *testing.T, addr, dest string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: waitFor, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := newRaw(t, nc)
	r.connect()
	r.frame("SUBSCRIBE", "", "destination", dest, "id", "1", "ack", "auto", "receipt", "subscribed")
	r.expect("RECEIPT")
	return r
}

// floodSTOMP sends n SENDs of body to dest on a fresh connection, then a
// frame with a receipt, and reports whether the receipt came within wait
// (the broker took every SEND) or not (it pushed back).
func floodSTOMP(t *testing.T, addr, dest, body string, n int, wait time.Duration) bool {
	t.Helper()
	r := dialRaw(t, addr)
	r.connect()
	frame := "SEND\ndestination:" + dest + "\ncontent-length:" + strconv.Itoa(len(body)) + "\n\n" + body + "\x00"
	w := bufio.NewWriterSize(r.nc, 64<<10)
	_ = r.nc.SetWriteDeadline(time.Now().Add(wait))
	for range n {
		if _, err := w.WriteString(frame); err != nil {
			return false
		}
	}
	last := "SEND\ndestination:" + dest + "\nreceipt:end\ncontent-length:" + strconv.Itoa(len(body)) + "\n\n" + body + "\x00"
	if _, err := w.WriteString(last); err != nil {
		return false
	}
	if err := w.Flush(); err != nil {
		return false
	}
	_ = r.nc.SetReadDeadline(time.Now().Add(wait))
	f, err := r.read()
	return err == nil && f.Command == "RECEIPT"
}

// subscriptionQueue finds the queue of the only subscription to address.
func subscriptionQueue(t *testing.T, s *server.Server, address string) *core.Queue {
	t.Helper()
	for _, q := range s.Core.Queues() {
		if q.Info().Address == address {
			return q
		}
	}
	t.Fatalf("no subscription queue on %q", address)
	return nil
}

// TestNeverReadingTopicSubscriberBounded: a non-durable topic subscriber
// that never reads holds at most max-queued-messages in its queue; beyond
// that the oldest waiting message is discarded and counted, and the
// producer is not held back (ActiveMQ's pending message limit for
// non-durable topic subscribers). Before the limit, its queue grew with
// every message until the global budget stopped every producer of the
// broker.
func TestNeverReadingTopicSubscriberBounded(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("stomp")
	dialNeverReading(t, addr, "/topic/flood")
	const n = 20_000
	body := strings.Repeat("x", 1024)
	if !floodSTOMP(t, addr, "/topic/flood", body, n, 20*time.Second) {
		t.Fatalf("the producer was held back by a never-reading topic subscriber")
	}
	st := subscriptionQueue(t, s, "flood").Stats()
	t.Logf("topic subscription after %d × 1 KiB: %+v", n+1, st)
	if st.Messages > stomp.DefaultMaxQueuedMessages {
		t.Errorf("the subscription holds %d messages, more than the limit %d", st.Messages, stomp.DefaultMaxQueuedMessages)
	}
	if st.Dropped == 0 {
		t.Error("nothing dropped and counted for a subscriber that never read 20 MiB")
	}
	// Every message was delivered (auto-acknowledged), is waiting, or was
	// dropped and counted.
	if got := st.Acked + uint64(st.Messages) + st.Dropped; got != n+1 {
		t.Errorf("acked %d + waiting %d + dropped %d = %d, want the %d sent", st.Acked, st.Messages, st.Dropped, got, n+1)
	}
	// The newest message is kept: the oldest went.
	if st.Messages == 0 {
		t.Error("the subscription kept nothing")
	}
}

// TestNeverReadingQueueSubscriberBounded: a queue subscriber (ack:auto)
// that never reads is given at most its credit window beyond what the
// kernel's socket buffers take; the rest stays in the queue, bounded by the
// address and global budgets that push back on producers.
func TestNeverReadingQueueSubscriberBounded(t *testing.T) {
	s := startBroker(t, nil)
	addr := s.Addr("stomp")
	dialNeverReading(t, addr, "/queue/flood")
	const n = 20_000
	body := strings.Repeat("x", 1024)
	if !floodSTOMP(t, addr, "/queue/flood", body, n, 20*time.Second) {
		t.Fatalf("the producer was held back with %d × 1 KiB, far below the default budgets", n)
	}
	st := queueStats(t, s, "flood")
	t.Logf("queue after %d × 1 KiB: %+v", n+1, st)
	// Delivered means auto-acknowledged: written to the connection. The
	// connection holds at most the window; the kernel's send buffer
	// (tcp_wmem, at most 4 MiB here) and the client's 4 KiB take the rest.
	frameSize := 1024 + 100
	bound := uint64(stomp.DefaultAutoAckWindow + (4<<20+64<<10)/frameSize)
	if st.Acked > bound {
		t.Errorf("%d messages handed to a subscriber that reads nothing, want at most %d (window and socket buffers)", st.Acked, bound)
	}
	if got := st.Acked + uint64(st.Messages); got != n+1 {
		t.Errorf("delivered %d + waiting %d = %d, want the %d sent", st.Acked, st.Messages, got, n+1)
	}
	if st.Dropped != 0 {
		t.Errorf("a queue dropped %d messages", st.Dropped)
	}
}

// TestSlowTopicSubscriberClosed: a topic subscriber whose queue stays at its
// limit for slow-consumer-timeout is closed: an ERROR naming the
// subscription, then the connection ends, and its queue goes with it.
func TestSlowTopicSubscriberClosed(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.SlowConsumerTimeout = 200 * time.Millisecond }})
	addr := s.Addr("stomp")
	slow := dialNeverReading(t, addr, "/topic/slow")
	// Found now: the reaper may close the subscriber, and delete its
	// queue, while the flood is still going on a loaded machine.
	q := subscriptionQueue(t, s, "slow")
	if !floodSTOMP(t, addr, "/topic/slow", strings.Repeat("x", 1024), 5000, 20*time.Second) {
		t.Fatal("the producer was held back by a never-reading topic subscriber")
	}
	// The reaper closes the consumer within a second or two of the queue
	// staying full; the non-durable queue goes with it. Reading before
	// would drain the queue and make the subscriber no longer slow.
	// Two reaper ticks (1 s each) at least; more on a loaded machine.
	const within = 20 * time.Second
	deadline := time.Now().Add(within)
	for q.Stats().Consumers > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slow subscriber still attached %v after its queue filled: %+v", within, q.Stats())
		}
		time.Sleep(20 * time.Millisecond) // no event to wait for: the reaper acts on its own clock
	}
	// Now read: the messages sent before the close, then the ERROR.
	for {
		f, err := slow.read()
		if err != nil {
			t.Fatalf("no ERROR for the slow subscriber (%v)", err)
		}
		if f.Command == "MESSAGE" {
			continue
		}
		if f.Command != "ERROR" {
			t.Fatalf("got %s, want MESSAGE or ERROR", f.Command)
		}
		if sub, _ := f.Get("subscription"); sub != "1" || !strings.Contains(fmt.Sprint(f.Headers)+string(f.Body), "limit") {
			t.Errorf("ERROR %v %q: want subscription 1 and the queue's limit as the reason", f.Headers, f.Body)
		}
		break
	}
	slow.expectClosed()
}
