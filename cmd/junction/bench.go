package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// benchFlags configure one load run.
type benchFlags struct {
	clientFlags
	producers    int
	consumers    int
	messages     int // per producer
	size         int
	persistent   bool
	receiptEvery int
	dest         string
	ack          string
	prefetch     int
	rate         int // total offered messages per second; 0 = as fast as possible
	qos          int
	jsonOut      bool
	drainTimeout time.Duration
	idle         int
	hold         time.Duration
	brokerPID    int
	credit       int    // AMQP receiver link credit; -1: --prefetch; 0: go-amqp's default
	unsettled    bool   // AMQP: producers send unsettled and wait for outcomes
	inFlight     int    // AMQP: unsettled sends outstanding per producer
	client       string // MQTT: "lean" (packet level) or "paho" (paho.mqtt.golang)
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput, latency and loss against a broker (Junction or another)",
		Long: `Run N producers and M consumers against a broker and report end-to-end
throughput, latency percentiles (p50/p99/max) and lost or duplicated messages.
It speaks plain STOMP 1.2, MQTT 3.1.1 and AMQP 1.0 (go-amqp), so it measures
ActiveMQ, RabbitMQ or Mosquitto with the same client as Junction. Over AMQP a
--persistent or --unsettled producer sends unsettled and counts a message once
its outcome came, keeping --in-flight sends outstanding; --ack
client-individual accepts each message and --credit sets the receiver's link
credit.

Every message carries its send time (or, with --rate, its scheduled send time,
so a stalled broker cannot hide its backlog), its producer and its sequence
number. On a topic every consumer is expected to receive every message.

With --idle N it instead opens N idle connections, holds them for --hold and,
given --broker-pid, reports the broker's resident memory per connection.`,
		Example: `  junction bench --producers 1 --consumers 1 --messages 100000 /queue/bench
  junction bench --persistent --receipt-every 100 --ack client-individual --messages 20000 /queue/bench
  junction bench --producers 16 --persistent --receipt-every 1 --consumers 1 --messages 5000 /queue/bench
  junction bench --url mqtt://127.0.0.1:1883 --qos 1 --consumers 10 --messages 100000 bench/t
  junction bench --url mqtt://127.0.0.1:1883 --client paho --qos 1 --messages 50000 bench/t
  junction bench --url amqp://127.0.0.1:5672 --consumers 2 --messages 50000 bench
  junction bench --url amqp://127.0.0.1:5672 --unsettled --in-flight 100 --ack client-individual --credit 1 bench
  junction bench --url amqp://127.0.0.1:5673 --persistent --in-flight 100 --ack client-individual bench   # RabbitMQ
  junction bench --url stomp://127.0.0.1:36613 /queue/bench     # ActiveMQ from ../shared/anchors
  junction bench --idle 10000 --hold 20s --broker-pid $(pgrep -f 'junction serve')`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.dest = args[0]
			}
			return runBench(cmd, f)
		},
	}
	f.register(cmd)
	f.registerClientID(cmd, "client id of the STOMP connections")
	fl := cmd.Flags()
	fl.IntVarP(&f.producers, "producers", "P", 1, "producer connections")
	fl.IntVarP(&f.consumers, "consumers", "C", 1, "consumer connections")
	fl.IntVarP(&f.messages, "messages", "n", 100000, "messages per producer")
	fl.IntVarP(&f.size, "size", "s", 100, "message body size in bytes (at least 20)")
	fl.BoolVar(&f.persistent, "persistent", false, "send persistent messages (STOMP persistent:true)")
	fl.IntVar(&f.receiptEvery, "receipt-every", 0, "ask for a receipt every K messages and on the last, waiting for each (0 = never)")
	fl.StringVar(&f.ack, "ack", "auto", "consumer ack mode: auto or client-individual (one ACK per message)")
	fl.IntVar(&f.prefetch, "prefetch", 1000, "consumer prefetch (STOMP prefetch-count and activemq.prefetchSize); 0 sends none, leaving the broker's default")
	fl.IntVar(&f.rate, "rate", 0, "total offered rate in messages per second (0 = as fast as possible)")
	fl.IntVar(&f.qos, "qos", 0, "MQTT QoS for publish and subscribe")
	fl.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "after the producers finish, how long consumers may go without a message before the rest counts as lost")
	fl.IntVar(&f.idle, "idle", 0, "open this many idle connections instead of sending")
	fl.DurationVar(&f.hold, "hold", 10*time.Second, "with --idle: how long to hold the connections")
	fl.IntVar(&f.credit, "credit", -1, "AMQP: the consumer's link credit (go-amqp replenishes it as messages are settled); 0 leaves go-amqp's default (1); unset: --prefetch")
	fl.BoolVar(&f.unsettled, "unsettled", false, "AMQP: producers send unsettled and count a message sent once the broker accepted it (at least once); implied by --persistent")
	fl.IntVar(&f.inFlight, "in-flight", 1, "AMQP unsettled sends: how many each producer keeps outstanding (go-amqp SendWithReceipt, waiting for the oldest outcome once this many are pending)")
	fl.StringVar(&f.client, "client", "lean", "MQTT client: lean (a packet-level client that batches its writes) or paho (paho.mqtt.golang, as applications use it)")
	fl.IntVar(&f.brokerPID, "broker-pid", 0, "the broker's process id, to report its CPU time per message (with --idle: its memory)")
	return cmd
}

// benchResult is the summary, also printed as JSON.
type benchResult struct {
	Protocol    string  `json:"protocol"`
	Destination string  `json:"destination"`
	Producers   int     `json:"producers"`
	Consumers   int     `json:"consumers"`
	Size        int     `json:"size"`
	Persistent  bool    `json:"persistent"`    // STOMP persistent:true
	QoS         int     `json:"qos,omitempty"` // MQTT
	Sent        int64   `json:"sent"`
	Expected    int64   `json:"expected"`
	Received    int64   `json:"received"`
	Lost        int64   `json:"lost"`
	Duplicates  int64   `json:"duplicates"`
	SendSeconds float64 `json:"send_seconds"`
	Seconds     float64 `json:"seconds"`
	SendRate    float64 `json:"send_rate"`
	RecvRate    float64 `json:"receive_rate"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// CPU time per received message, in microseconds: the broker's (with
	// --broker-pid) and this client's. docs/PERFORMANCE.md quotes them.
	BrokerCPUUs float64  `json:"broker_cpu_us_per_msg,omitempty"`
	ClientCPUUs float64  `json:"client_cpu_us_per_msg,omitempty"`
	Errors      []string `json:"errors,omitempty"`
}

// benchPublisher sends one message; receipt asks the broker to confirm it
// before returning. flush pushes buffered messages out.
type benchPublisher interface {
	publish(body []byte, receipt bool) error
	flush() error
	close()
}

// benchSubscriber delivers bodies to its callback until closed.
type benchSubscriber interface {
	close()
}

type benchDriver interface {
	name() string
	publisher(ctx context.Context, i int) (benchPublisher, error)
	subscriber(ctx context.Context, i int, got func(body []byte)) (benchSubscriber, error)
	idle(ctx context.Context, i int) (io.Closer, error)
}

const benchHeader = 20 // 8 bytes send time, 4 producer, 8 sequence

func runBench(cmd *cobra.Command, f benchFlags) error {
	scheme, addr, err := f.target()
	if err != nil {
		return err
	}
	if f.size < benchHeader {
		return fmt.Errorf("--size must be at least %d", benchHeader)
	}
	if f.producers < 0 || f.consumers < 0 || f.messages < 0 {
		return errors.New("--producers, --consumers and --messages must not be negative")
	}
	var d benchDriver
	switch scheme {
	case "stomp":
		if f.dest == "" {
			f.dest = "/queue/bench"
		}
		d = &stompBench{f: f, addr: addr}
	case "mqtt":
		if f.persistent {
			return errors.New("--persistent is STOMP's persistent:true; over MQTT, --qos 1 or 2 asks for delivery guarantees (Junction stores those messages)")
		}
		if f.dest == "" {
			f.dest = "bench/topic"
		}
		switch f.client {
		case "lean":
			d = &mqttBench{f: f, addr: addr}
		case "paho":
			d = &mqttPahoBench{f: f, addr: addr}
		default:
			return fmt.Errorf("invalid --client %q: lean or paho", f.client)
		}
	case "amqp":
		if f.inFlight < 1 {
			return errors.New("--in-flight must be at least 1")
		}
		if f.dest == "" {
			f.dest = "bench"
		}
		d = &amqpBench{f: f, addr: addr}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	if f.idle > 0 {
		return benchIdle(ctx, cmd, f, d)
	}
	brokerBefore, clientBefore := cpuTime(f.brokerPID), selfCPUTime()
	res, err := benchRun(ctx, cmd.ErrOrStderr(), f, d)
	if err != nil {
		return err
	}
	if res.Received > 0 {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(res.Received) }
		if f.brokerPID > 0 {
			res.BrokerCPUUs = per(cpuTime(f.brokerPID) - brokerBefore)
		}
		res.ClientCPUUs = per(selfCPUTime() - clientBefore)
	}
	if f.jsonOut {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	w := cmd.OutOrStdout()
	kind := fmt.Sprintf("persistent=%v", res.Persistent)
	if res.Protocol == "mqtt" {
		kind = fmt.Sprintf("qos=%d", res.QoS)
	}
	fmt.Fprintf(w, "%s %s: %d producer(s) -> %d consumer(s), %d-byte messages, %s\n",
		res.Protocol, res.Destination, res.Producers, res.Consumers, res.Size, kind)
	fmt.Fprintf(w, "sent      %d in %.2fs (%.0f msg/s)\n", res.Sent, res.SendSeconds, res.SendRate)
	fmt.Fprintf(w, "received  %d of %d in %.2fs (%.0f msg/s)\n", res.Received, res.Expected, res.Seconds, res.RecvRate)
	fmt.Fprintf(w, "latency   p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", res.P50Ms, res.P99Ms, res.MaxMs)
	fmt.Fprintf(w, "lost      %d, duplicated %d\n", res.Lost, res.Duplicates)
	if res.BrokerCPUUs > 0 {
		fmt.Fprintf(w, "cpu       broker %.1f µs, client %.1f µs per message\n", res.BrokerCPUUs, res.ClientCPUUs)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error     %s\n", e)
	}
	return nil
}

// tracker counts what each consumer received, per producer and sequence.
type tracker struct {
	mu       sync.Mutex
	counts   [][]uint8 // [producer][seq]
	lat      []int64
	received atomic.Int64
	dups     int64
	last     atomic.Int64 // unix ns of the last delivery
}

func newTracker(producers, messages int) *tracker {
	t := &tracker{counts: make([][]uint8, producers)}
	for i := range t.counts {
		t.counts[i] = make([]uint8, messages)
	}
	return t
}

func (t *tracker) got(body []byte) {
	now := time.Now().UnixNano()
	if len(body) < benchHeader {
		return
	}
	sent := int64(binary.BigEndian.Uint64(body))
	p := int(binary.BigEndian.Uint32(body[8:]))
	seq := binary.BigEndian.Uint64(body[12:])
	t.mu.Lock()
	if p < len(t.counts) && seq < uint64(len(t.counts[p])) {
		if t.counts[p][seq] > 0 {
			t.dups++
		}
		if t.counts[p][seq] < 255 {
			t.counts[p][seq]++
		}
	}
	t.lat = append(t.lat, now-sent)
	t.mu.Unlock()
	t.received.Add(1)
	t.last.Store(now)
}

func (t *tracker) lost() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, c := range t.counts {
		for _, x := range c {
			if x == 0 {
				n++
			}
		}
	}
	return n
}

func benchRun(ctx context.Context, progress io.Writer, f benchFlags, d benchDriver) (*benchResult, error) {
	topic := strings.HasPrefix(f.dest, "/topic/") || strings.HasPrefix(f.dest, "topic://") || d.name() == "mqtt"
	trackers := make([]*tracker, f.consumers)
	subs := make([]benchSubscriber, 0, f.consumers)
	defer func() {
		for _, s := range subs {
			s.close()
		}
	}()
	for i := range trackers {
		trackers[i] = newTracker(f.producers, f.messages)
		s, err := d.subscriber(ctx, i, trackers[i].got)
		if err != nil {
			return nil, fmt.Errorf("consumer %d: %w", i, err)
		}
		subs = append(subs, s)
	}
	pubs := make([]benchPublisher, f.producers)
	for i := range pubs {
		p, err := d.publisher(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("producer %d: %w", i, err)
		}
		pubs[i] = p
		defer p.close()
	}
	var sent atomic.Int64
	var errMu sync.Mutex
	var errs []string
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := benchProduce(ctx, f, i, p, &sent, start); err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Sprintf("producer %d: %v", i, err))
				errMu.Unlock()
			}
		}()
	}
	expected := int64(f.producers * f.messages)
	if topic {
		expected *= int64(f.consumers)
	} else if f.consumers == 0 {
		expected = 0
	}
	received := func() int64 {
		var n int64
		for _, t := range trackers {
			n += t.received.Load()
		}
		return n
	}
	sendDone := make(chan struct{})
	var sendEnd time.Time
	go func() { wg.Wait(); sendEnd = time.Now(); close(sendDone) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	producing := true
	var lastRecv int64
	lastChange := time.Now()
	for {
		r := received()
		if r != lastRecv {
			lastRecv, lastChange = r, time.Now()
		}
		if !producing && (r >= expected || time.Since(lastChange) > f.drainTimeout) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-sendDone:
			if producing {
				producing = false
				lastChange = time.Now()
			}
			sendDone = nil
		case <-tick.C:
			el := time.Since(start).Seconds()
			fmt.Fprintf(progress, "\r%6.1fs  sent %d  received %d/%d  (%.0f msg/s)   ", el, sent.Load(), r, expected, float64(r)/el)
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Fprintln(progress)
	var end int64
	var lat []int64
	res := &benchResult{Protocol: d.name(), Destination: f.dest, Producers: f.producers, Consumers: f.consumers, Size: f.size,
		Persistent: f.persistent, QoS: f.qos, Sent: sent.Load(), Expected: expected, Errors: errs}
	for _, t := range trackers {
		if l := t.last.Load(); l > end {
			end = l
		}
		t.mu.Lock()
		lat = append(lat, t.lat...)
		res.Duplicates += t.dups
		t.mu.Unlock()
		if topic || f.consumers == 1 {
			res.Lost += t.lost()
		}
	}
	res.Received = received()
	if !topic && f.consumers > 1 {
		// Competing consumers: a message is lost when no consumer got it.
		res.Lost = expected - (res.Received - res.Duplicates)
		if res.Lost < 0 {
			res.Lost = 0
		}
	}
	res.SendSeconds = sendEnd.Sub(start).Seconds()
	if res.SendSeconds > 0 {
		res.SendRate = float64(res.Sent) / res.SendSeconds
	}
	if end > 0 {
		res.Seconds = time.Unix(0, end).Sub(start).Seconds()
		res.RecvRate = float64(res.Received) / res.Seconds
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6 }
		res.P50Ms, res.P99Ms, res.MaxMs = pct(0.50), pct(0.99), float64(lat[len(lat)-1])/1e6
	}
	return res, nil
}

func benchProduce(ctx context.Context, f benchFlags, id int, p benchPublisher, sent *atomic.Int64, start time.Time) error {
	body := make([]byte, f.size)
	for i := benchHeader; i < len(body); i++ {
		body[i] = 'x'
	}
	binary.BigEndian.PutUint32(body[8:], uint32(id))
	var interval time.Duration
	if f.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(f.producers) / float64(f.rate))
	}
	for seq := 0; seq < f.messages; seq++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stamp := time.Now()
		if interval > 0 {
			// Latency counts from the scheduled time, so a broker that stalls
			// the producer cannot hide the backlog it caused.
			stamp = start.Add(time.Duration(seq) * interval)
			if d := time.Until(stamp); d > 0 {
				if err := p.flush(); err != nil {
					return err
				}
				time.Sleep(d)
			}
		}
		binary.BigEndian.PutUint64(body, uint64(stamp.UnixNano()))
		binary.BigEndian.PutUint64(body[12:], uint64(seq))
		receipt := f.receiptEvery > 0 && ((seq+1)%f.receiptEvery == 0 || seq == f.messages-1)
		if err := p.publish(body, receipt); err != nil {
			return err
		}
		sent.Add(1)
	}
	return p.flush()
}

func benchIdle(ctx context.Context, cmd *cobra.Command, f benchFlags, d benchDriver) error {
	before := rssKiB(f.brokerPID)
	conns := make([]io.Closer, 0, f.idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < f.idle; i++ {
		c, err := d.idle(ctx, i)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if (i+1)%1000 == 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "\r%d connections open", i+1)
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "\r%d connections open in %.1fs; holding %s\n", len(conns), time.Since(start).Seconds(), f.hold)
	select {
	case <-ctx.Done():
	case <-time.After(f.hold):
	}
	after := rssKiB(f.brokerPID)
	if f.brokerPID > 0 && before > 0 && after > 0 {
		per := float64(after-before) / float64(len(conns))
		if f.jsonOut {
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"connections": len(conns), "rss_before_kib": before, "rss_after_kib": after, "kib_per_connection": per})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%d idle connections: broker RSS %d KiB -> %d KiB, %.2f KiB per connection\n", len(conns), before, after, per)
	}
	return nil
}

// cpuTime reads a process's user and system CPU time from /proc/PID/stat
// (fields 14 and 15, in USER_HZ ticks, which Linux fixes at 100 per second
// for /proc); 0 without a pid or on error.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from after it.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPUTime is this process's CPU time.
func selfCPUTime() time.Duration { return cpuTime(os.Getpid()) }

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
