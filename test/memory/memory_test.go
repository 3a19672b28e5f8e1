package memory

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestUniqueTopicsRSS: 100,000 QoS 0 publishes to topics nobody subscribes
// to, each topic used once, over one connection, leave the broker's RSS
// under 200 MiB and barely above where it started. Every such publish
// used to create an address (with a 2,000-entry duplicate-id cache, later
// about 700 bytes of address and settings), freed only by the 30-second
// sweep: 20,000 of them took the broker from 11 MiB to 2.2 GiB.
func TestUniqueTopicsRSS(t *testing.T) {
	b := start(t, "")
	c := dialMQTT(t, b.mqtt, "unique")
	c.sync()
	before := b.rss(t)
	const n = 100_000
	for i := range n {
		c.write(&packet.Publish{Topic: fmt.Appendf(nil, "devices/%d/telemetry", i), Payload: []byte("21.5")})
	}
	c.sync()
	after := b.rss(t)
	t.Logf("RSS before %s, after %d unique-topic publishes %s (+%s)", mib(before), n, mib(after), mib(after-before))
	if after > 200<<20 {
		t.Errorf("RSS %s after %d unique-topic publishes, want under 200 MiB", mib(after), n)
	}
	// One-off topics must leave nothing behind: allow for buffers and the
	// collector's slack, not for per-topic state (70 MiB and more).
	if after-before > 24<<20 {
		t.Errorf("RSS grew by %s for %d publishes that reached nobody", mib(after-before), n)
	}
}

// TestNeverReadingMQTTSubscribers: with the default configuration, QoS 0
// and QoS 1 subscribers that never read their sockets cannot make a
// flooding producer grow the broker: QoS 0 messages beyond
// max-queued-messages are dropped, QoS 1 publishes are held (the
// publisher's PUBACKs stop). Before the limits, 1,000,000 × 1 KiB messages
// took the broker to 1.5–4 GiB.
func TestNeverReadingMQTTSubscribers(t *testing.T) {
	b := start(t, "")
	slow0 := dialMQTT(t, b.mqtt, "slow0")
	slow0.subscribe("flood/#", 0)
	slow1 := dialMQTT(t, b.mqtt, "slow1")
	slow1.subscribe("flood/#", 1)
	// From here on neither reads.
	pub := dialMQTT(t, b.mqtt, "flooder")
	pub.sync()
	before := b.rss(t)
	body := []byte(strings.Repeat("x", 1024))

	// 200,000 QoS 0 messages (200 MiB): slow1 gets them at QoS 0 as well,
	// and both subscriptions drop what does not fit.
	const n0 = 200_000
	for i := range n0 {
		pub.write(&packet.Publish{Topic: []byte("flood/0"), Payload: body})
		if i%1000 == 999 {
			pub.flush()
		}
	}
	pub.sync()
	mid := b.rss(t)
	t.Logf("RSS before %s, after %d × 1 KiB QoS 0 to 2 never-reading subscribers %s", mib(before), n0, mib(mid))
	if mid-before > 64<<20 {
		t.Errorf("RSS grew by %s: QoS 0 to never-reading subscribers is not bounded", mib(mid-before))
	}

	// QoS 1: the publisher gets PUBACKs until slow1's queue is full, then
	// none: it is pushed back. It sends 5,000 (5 MiB, more than the
	// default 256 KiB limit and the sockets' buffers) and counts PUBACKs.
	const n1 = 5000
	// Written from a goroutine (the broker may stop reading), which must
	// not fail the test: its write ends with an error when the test closes
	// the connection.
	frames := make([]byte, 0, n1*(len(body)+16))
	for i := range n1 {
		frames, _ = (&packet.Publish{Topic: []byte("flood/1"), QoS: 1, PacketID: uint16(i + 1), Payload: body}).Append(frames, packet.Version311)
	}
	go func() { _, _ = pub.nc.Write(frames) }()
	acks := 0
	_ = pub.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	for acks < n1 {
		fh, _, err := pub.rd.ReadPacket()
		if err != nil {
			break // no PUBACK for 3 s: held
		}
		if fh.Type == packet.PUBACK {
			acks++
			_ = pub.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		}
	}
	after := b.rss(t)
	t.Logf("QoS 1: %d of %d publishes acknowledged before the publisher was held; RSS %s", acks, n1, mib(after))
	if acks >= n1 {
		t.Errorf("all %d QoS 1 publishes were acknowledged: the never-reading QoS 1 subscriber did not push back", n1)
	}
	if after-before > 96<<20 {
		t.Errorf("RSS grew by %s with never-reading subscribers", mib(after-before))
	}
}

// TestNeverReadingSTOMPSubscribers: a topic subscriber and a queue
// consumer that never read, and a producer flooding each with 1 KiB
// messages. The topic subscription keeps at most max-queued-messages and
// max-queued-bytes and discards its oldest messages beyond them (ActiveMQ's
// pending message limit for non-durable topic subscribers): the producer
// is never held and the broker does not grow. The queue keeps its messages
// (they are the queue's, not the subscriber's) until global-max-size is
// full, then the broker stops reading the producer (address-full-policy
// BLOCK), and its RSS stays near the budget.
func TestNeverReadingSTOMPSubscribers(t *testing.T) {
	const budget = 32 << 20
	b := start(t, fmt.Sprintf("global-max-size: %d\n", budget))
	for _, dest := range []string{"/topic/flood", "/queue/flood"} {
		sub := dialSTOMP(t, b.stomp)
		sub.frame("SUBSCRIBE", "", "destination:"+dest, "id:1", "ack:auto")
		// The subscription exists once the broker answers a receipt.
		sub.receipt("r")
	}
	before := b.rss(t)
	body := strings.Repeat("x", 1024)

	// 100 MiB to the topic, three times the budget: all taken.
	const nTopic = 100_000
	prod := dialSTOMP(t, b.stomp)
	if n := prod.flood("/topic/flood", body, nTopic, 10*time.Second); n != nTopic {
		t.Errorf("/topic/flood: the broker stopped reading after %d of %d: a never-reading topic subscriber held the producer back", n, nTopic)
	}
	prod.receipt("topic")
	mid := b.rss(t)
	t.Logf("%d × 1 KiB to a never-reading topic subscriber: RSS before %s, after %s", nTopic, mib(before), mib(mid))
	if mid-before > 24<<20 {
		t.Errorf("RSS grew by %s for a never-reading topic subscriber: its queue is not bounded", mib(mid-before))
	}

	// 300 MiB to the queue, unless the broker stops reading first.
	const nQueue = 300_000
	prod = dialSTOMP(t, b.stomp)
	n := prod.flood("/queue/flood", body, nQueue, 3*time.Second)
	t.Logf("/queue/flood: %d × 1 KiB written before the broker stopped reading", n)
	if n >= nQueue {
		t.Errorf("/queue/flood: all %d messages were taken with a %s budget and a subscriber that never reads", nQueue, mib(budget))
	}
	after := b.rss(t)
	t.Logf("global-max-size %s: RSS before %s, after %s", mib(budget), mib(before), mib(after))
	if after-before > 3*budget {
		t.Errorf("RSS grew by %s with a %s budget", mib(after-before), mib(budget))
	}
}

// TestManySlowMQTTDevices: many QoS 0 devices, each subscribed to its own
// topic, none reading (each with a 4 KiB receive buffer), and a producer
// sending 8 MiB to every device in 1 KiB messages: more than the kernel's
// send buffer (tcp_wmem, 4 MiB at most) takes. With the default limits each device costs the broker at
// most its queue limit (256 KiB of messages), what is in flight to its
// socket (100 QoS 0 messages) and the collector's slack: 1.0 MiB. Without
// them the broker kept whatever the kernel did not: 9 MiB each. The figure goes to
// docs/PERFORMANCE.md.
func TestManySlowMQTTDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 800 MiB")
	}
	const devices = 100
	b := start(t, "")
	before := b.rss(t)
	for i := range devices {
		c := dialMQTTSmallBuffer(t, b.mqtt, fmt.Sprintf("device-%d", i))
		c.subscribe(fmt.Sprintf("fleet/%d/cmd", i), 0)
	}
	idle := b.rss(t)
	pub := dialMQTT(t, b.mqtt, "fleet-pub")
	body := []byte(strings.Repeat("x", 1024))
	const n = 8192 // per device: 8 MiB each, 800 MiB in all
	topics := make([][]byte, devices)
	for i := range topics {
		topics[i] = fmt.Appendf(nil, "fleet/%d/cmd", i)
	}
	for i := range n {
		for _, topic := range topics {
			pub.write(&packet.Publish{Topic: topic, Payload: body})
		}
		if i%10 == 9 {
			pub.flush()
		}
	}
	pub.sync()
	after := b.rss(t)
	per := (after - idle) / devices
	t.Logf("%d never-reading QoS 0 devices: RSS %s before, %s connected, %s after 8 MiB sent to each (%s per device)", devices, mib(before), mib(idle), mib(after), mib(per))
	if per > 1536<<10 {
		t.Errorf("%s per slow device: more than its queue limit and what is in flight", mib(per))
	}
}

// TestMemoryReturnedAfterDrop: a backlog of 300,000 × 1 KiB messages held
// for a durable subscriber is dropped at once (the subscriber removes its
// subscription) and nothing else happens: no allocation follows to start a
// collection, so without help the heap goal stays where the backlog put it
// and the runtime keeps the pages. This is the original finding's shape
// (live heap 728 MB → 1 MB, RSS 763 MiB for minutes): within seconds the
// broker must hand the memory back.
func TestMemoryReturnedAfterDrop(t *testing.T) {
	b := start(t, "")
	const n = 300_000
	sub := dialSTOMPWith(t, b.stomp, "client-id:keeper")
	sub.frame("SUBSCRIBE", "", "destination:/topic/backlog", "id:1", "ack:client", "durable-subscription-name:kept")
	sub.receipt("subscribed")
	sub.frame("DISCONNECT", "", "receipt:bye")
	if cmd := sub.readFrame(); cmd != "RECEIPT" {
		t.Fatalf("got %s, want the DISCONNECT's RECEIPT", cmd)
	}
	idle := b.rss(t)
	prod := dialSTOMP(t, b.stomp)
	if got := prod.flood("/topic/backlog", strings.Repeat("x", 1024), n, 10*time.Second); got != n {
		t.Fatalf("only %d of %d sent", got, n)
	}
	prod.receipt("sent")
	peak := b.rss(t)

	sub = dialSTOMPWith(t, b.stomp, "client-id:keeper")
	sub.frame("UNSUBSCRIBE", "", "id:1", "durable-subscription-name:kept", "receipt:gone")
	if cmd := sub.readFrame(); cmd != "RECEIPT" {
		t.Fatalf("got %s, want the UNSUBSCRIBE's RECEIPT", cmd)
	}
	dropped := b.rss(t)
	start := time.Now()
	after := dropped
	for after > idle+(peak-idle)/4 && time.Since(start) < 20*time.Second {
		time.Sleep(250 * time.Millisecond) // polling another process's RSS: there is no event to wait for
		after = b.rss(t)
	}
	t.Logf("%d × 1 KiB for a durable subscriber, dropped at once: RSS idle %s, peak %s, just dropped %s, %s later %s",
		n, mib(idle), mib(peak), mib(dropped), time.Since(start).Round(100*time.Millisecond), mib(after))
	if peak-idle < 200<<20 {
		t.Fatalf("the backlog took only %s: the test no longer measures a large drop", mib(peak-idle))
	}
	if after > idle+(peak-idle)/4 {
		t.Errorf("RSS %s 20 s after dropping a backlog that peaked at %s (idle %s): memory not returned", mib(after), mib(peak), mib(idle))
	}
}

// TestMemoryReturnedAfterDrain: a backlog of 200,000 × 1 KiB messages
// (about 330 MiB resident) drained by a consumer; within seconds the
// broker hands the freed memory back to the operating system. It used to
// keep it: the live heap fell from 728 MB to 1 MB while RSS stayed at
// 763 MiB for minutes.
func TestMemoryReturnedAfterDrain(t *testing.T) {
	b := start(t, "")
	prod := dialSTOMP(t, b.stomp)
	body := strings.Repeat("x", 1024)
	const n = 200_000
	if got := prod.flood("/queue/backlog", body, n, 10*time.Second); got != n {
		t.Fatalf("only %d of %d sent", got, n)
	}
	prod.receipt("sent")
	peak := b.rss(t)

	cons := dialSTOMP(t, b.stomp)
	cons.frame("SUBSCRIBE", "", "destination:/queue/backlog", "id:1", "ack:auto")
	for i := range n {
		if cmd := cons.readFrame(); cmd != "MESSAGE" {
			t.Fatalf("frame %d: %s", i, cmd)
		}
	}
	drained := b.rss(t)
	deadline := time.Now().Add(20 * time.Second)
	after := drained
	for after > peak/4 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond) // polling another process's RSS: there is no event to wait for
		after = b.rss(t)
	}
	t.Logf("backlog of %d × 1 KiB: RSS at peak %s, just drained %s, %s later %s", n, mib(peak), mib(drained), time.Since(deadline.Add(-20*time.Second)).Round(time.Second), mib(after))
	if after > peak/4 {
		t.Errorf("RSS %s 20 s after draining a backlog that peaked at %s: memory not returned", mib(after), mib(peak))
	}
}
