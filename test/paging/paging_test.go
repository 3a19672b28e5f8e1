package paging

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/postgres"
)

var binPath string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("paging tests read /proc: Linux only")
		os.Exit(0)
	}
	if bin := os.Getenv("JUNCTION_BIN"); bin != "" {
		binPath = bin
		code := m.Run()
		pgtest.Shutdown()
		os.Exit(code)
	}
	bin, cleanup, err := testkit.BuildJunction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "paging tests:", err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	pgtest.Shutdown()
	cleanup()
	os.Exit(code)
}

const waitFor = 60 * time.Second

// broker is one `junction serve` process on a data folder that outlives it.
type broker struct {
	cmd    *exec.Cmd
	stomp  string
	exited chan struct{}
	peak   atomic.Int64 // highest VmRSS seen, bytes
	// peakAnon is the highest RssAnon: the heap and stacks, without the
	// file pages the process maps (the journal maps segments to replay them).
	peakAnon atomic.Int64
	// paging counts the log lines saying a queue started paging.
	paging atomic.Int32
}

// start runs the broker on dir with config and waits until it listens;
// a goroutine samples its RSS until it exits.
func start(t *testing.T, dir, config string) *broker {
	t.Helper()
	cfg := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{stomp: freePort(t), exited: make(chan struct{})}
	args := []string{"serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--stomp", b.stomp, "--log-level", "info"}
	if addr := os.Getenv("JUNCTION_PAGING_PPROF"); addr != "" {
		// Profiles of the broker under this load (127.0.0.1:PORT).
		args = append(args, "--pprof", addr)
	}
	b.cmd = exec.Command(binPath, append(args, servertest.ListenersOff("stomp")...)...)
	logs, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "queue paging started") {
				b.paging.Add(1)
			}
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "paging") {
				fmt.Fprintln(os.Stderr, line)
			}
		}
	}()
	go func() { <-logged; _ = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.exited
	})
	// Recovering millions of messages takes a while on a loaded machine.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		nc, err := net.DialTimeout("tcp", b.stomp, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not listening on %s: %v", b.stomp, err)
		}
		select {
		case <-b.exited:
			t.Fatal("broker exited at start")
		case <-time.After(20 * time.Millisecond):
		}
	}
	go b.sample()
	return b
}

func (b *broker) sample() {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-b.exited:
			return
		case <-tick.C:
		}
		if v, err := readRSS(b.cmd.Process.Pid, "VmRSS:"); err == nil && v > b.peak.Load() {
			b.peak.Store(v)
		}
		if v, err := readRSS(b.cmd.Process.Pid, "RssAnon:"); err == nil && v > b.peakAnon.Load() {
			b.peakAnon.Store(v)
		}
	}
}

// cpu is the CPU time the broker has used so far (user and system).
func (b *broker) cpu(t *testing.T) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (in parentheses, which may hold spaces).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// kill ends the broker with SIGKILL: nothing is flushed.
func (b *broker) kill(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// readRSS reads a field of /proc/pid/status (VmRSS:, RssAnon:).
func readRSS(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s for %d", field, pid)
}

func dial(t *testing.T, addr string) *stompc.Conn {
	t.Helper()
	c, err := stompc.Dial("tcp", addr, stompc.ConnOpt.Logger(testkit.QuietLogger{}), stompc.ConnOpt.MsgSendTimeout(waitFor),
		stompc.ConnOpt.DisconnectReceiptTimeout(waitFor), stompc.ConnOpt.ReadChannelCapacity(4096))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// messages is how many the test queues: JUNCTION_PAGING_MESSAGES, or a
// count CI runs in about a minute.
func messages(t *testing.T) int {
	if v := os.Getenv("JUNCTION_PAGING_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("JUNCTION_PAGING_MESSAGES=%q: want a count of at least 1000", v)
		}
		return n
	}
	if testing.Short() {
		return 20_000
	}
	return 100_000
}

// body is message i: its number, then padding to 1 KiB.
func body(i int) []byte {
	b := make([]byte, 1024)
	copy(b, fmt.Sprintf("%09d ", i))
	for j := 10; j < len(b); j++ {
		b[j] = 'a' + byte((i+j)%26)
	}
	return b
}

const receiptEvery = 1000

// send queues messages from to to-1 on dest, persistent, with a receipt on
// every receiptEvery-th and the last: when it returns, all are stored.
func send(t *testing.T, c *stompc.Conn, dest string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		opts := []func(*frame.Frame) error{stompc.SendOpt.Header("persistent", "true")}
		if (i+1)%receiptEvery == 0 || i == to-1 {
			opts = append(opts, stompc.SendOpt.Receipt)
		}
		if err := c.Send(dest, "application/octet-stream", body(i), opts...); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

// drain receives messages from to to-1 on dest in order, each checked
// whole, acking each; it fails on a gap, a duplicate or a reordering. It
// disconnects c: the messages prefetched beyond to go back to the queue.
func drain(t *testing.T, c *stompc.Conn, dest string, from, to int) {
	t.Helper()
	sub, err := c.Subscribe(dest, stompc.AckClientIndividual, stompc.SubscribeOpt.Header("prefetch-count", "1000"))
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	// go-stomp hands messages over from the goroutine that also writes
	// frames: while sub.C is full, an Ack would wait for ever. A goroutine
	// keeps sub.C empty (prefetch-count bounds what it buffers).
	in := make(chan *stompc.Message, 2000)
	go func() {
		for m := range sub.C {
			in <- m
		}
		close(in)
	}()
	for i := from; i < to; i++ {
		var m *stompc.Message
		select {
		case m = <-in:
		case <-time.After(waitFor):
			t.Fatalf("message %d did not come", i)
		}
		if m.Err != nil {
			t.Fatalf("receiving message %d: %v", i, m.Err)
		}
		if want := body(i); string(m.Body) != string(want) {
			got := m.Body
			if len(got) > 10 {
				got = got[:10]
			}
			t.Fatalf("message %d: got %q..., want %q...", i, got, want[:10])
		}
		if err := c.Ack(m); err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	// The client's reader may be blocked handing over a prefetched
	// message: take them while the connection closes.
	go func() {
		for range in {
		}
	}()
	if err := c.Disconnect(); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}

// browse browses dest with a STOMP browser subscription (ActiveMQ's
// browser:true) and checks that it shows messages from to to-1, in order,
// then browser:end: the paged tail too, read from the store without
// paging it in.
func browse(t *testing.T, c *stompc.Conn, dest string, from, to int) {
	t.Helper()
	sub, err := c.Subscribe(dest, stompc.AckAuto, stompc.SubscribeOpt.Header("browser", "true"))
	if err != nil {
		t.Fatalf("browser subscribe: %v", err)
	}
	for i := from; ; i++ {
		var m *stompc.Message
		select {
		case m = <-sub.C:
		case <-time.After(waitFor):
			t.Fatalf("browsing: message %d did not come", i)
		}
		if m.Err != nil {
			t.Fatalf("browsing message %d: %v", i, m.Err)
		}
		if m.Header.Get("browser") == "end" {
			if i != to {
				t.Fatalf("the browser ended after %d messages, want %d", i-from, to-from)
			}
			break
		}
		if i >= to {
			t.Fatalf("the browser showed more than %d messages: %.10q", to-from, m.Body)
		}
		if want := body(i); string(m.Body) != string(want) {
			got := m.Body
			if len(got) > 10 {
				got = got[:10]
			}
			t.Fatalf("browsed message %d: got %q..., want %q...", i, got, want[:10])
		}
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("browser unsubscribe: %v", err)
	}
}

// pagingSettings are the address settings of every paging run: a 4 MiB
// budget, then PAGE.
const pagingSettings = `
address-settings:
  "paging.#":
    max-size-bytes: 4MiB
    address-full-policy: PAGE
`

// anonBound is the heap the broker may use whatever the queue's length:
// the runtime, the 4 MiB budget, what a paging queue reads ahead, and the
// store's per-reference bookkeeping for n paged messages. It is well under
// n KiB from 100,000 messages on: the bodies are not in memory.
func anonBound(n int) int64 { return 64<<20 + int64(n)*48 }

func TestPagingJournal(t *testing.T) {
	runPaging(t, "journal", "store:\n  type: journal\n")
}

func TestPagingPostgres(t *testing.T) {
	if _, ok := any((*postgres.Store)(nil)).(storage.Pager); !ok {
		t.Skip("the PostgreSQL store does not implement storage.Pager in this build")
	}
	runPaging(t, "postgres", fmt.Sprintf("store:\n  type: postgres\n  url: %q\n", pgtest.DB(t)))
}

// runPaging queues messages on a paging address of a broker on the given
// store (a YAML store section), kills and restarts it midway, and drains.
func runPaging(t *testing.T, label, store string) {
	n := messages(t)
	dir := t.TempDir()
	const dest = "/queue/paging.orders"
	pagingConfig := store + pagingSettings

	// Half, then SIGKILL: every confirmed message must come back.
	b := start(t, dir, pagingConfig)
	c := dial(t, b.stomp)
	t0, c0 := time.Now(), b.cpu(t)
	send(t, c, dest, 0, n/2)
	sendTook, sendCPU := time.Since(t0), b.cpu(t)-c0
	if b.paging.Load() == 0 {
		t.Fatalf("%d messages sent over a 4 MiB budget and the queue never started paging", n/2)
	}
	b.kill(t)
	peak, anon := b.peak.Load(), b.peakAnon.Load()

	// The rest on a restarted broker, which pages them behind what it
	// recovered; then a graceful restart halfway through the drain.
	b = start(t, dir, pagingConfig)
	c = dial(t, b.stomp)
	t0, c0 = time.Now(), b.cpu(t)
	send(t, c, dest, n/2, n)
	sendTook, sendCPU = sendTook+time.Since(t0), sendCPU+b.cpu(t)-c0
	// A browser sees the whole queue, the paged tail included, and
	// leaves it as it was for the drain.
	t0 = time.Now()
	browse(t, c, dest, 0, n)
	browseTook := time.Since(t0)
	t0, c0 = time.Now(), b.cpu(t)
	drain(t, c, dest, 0, n/4)
	drainTook, drainCPU := time.Since(t0), b.cpu(t)-c0
	peak, anon = max(peak, b.peak.Load()), max(anon, b.peakAnon.Load())
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(waitFor):
		t.Fatal("broker did not stop on SIGTERM")
	}

	b = start(t, dir, pagingConfig)
	c = dial(t, b.stomp)
	profile(t)
	t0, c0 = time.Now(), b.cpu(t)
	drain(t, c, dest, n/4, n)
	drainTook, drainCPU = drainTook+time.Since(t0), drainCPU+b.cpu(t)-c0
	peak, anon = max(peak, b.peak.Load()), max(anon, b.peakAnon.Load())

	// Nothing is left.
	c = dial(t, b.stomp)
	sub, err := c.Subscribe(dest, stompc.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		t.Fatalf("after the drain a message is left: %.10q", m.Body)
	case <-time.After(500 * time.Millisecond):
	}
	c.MustDisconnect()

	t.Logf("%s, %d persistent 1 KiB messages, no consumer: send %.0f msg/s (broker CPU %.1f µs/msg), drain %.0f msg/s (%.1f µs/msg), browse %.0f msg/s, peak RSS %s (anonymous %s)",
		label, n, float64(n)/sendTook.Seconds(), perMsg(sendCPU, n), float64(n)/drainTook.Seconds(), perMsg(drainCPU, n), float64(n)/browseTook.Seconds(), mib(peak), mib(anon))
	if peak > 512<<20 {
		t.Errorf("peak RSS %s with %d messages queued, want under 512 MiB (issue 13)", mib(peak), n)
	}
	if bound := anonBound(n); anon > bound {
		t.Errorf("peak anonymous RSS %s with %d messages queued, want under %s: paging does not bound memory", mib(anon), n, mib(bound))
	}
}

// TestInMemoryBaseline is the same load on a queue that fits in memory,
// for the rates docs/PERFORMANCE.md compares paging with.
func TestInMemoryBaseline(t *testing.T) {
	runBaseline(t, "journal", "store:\n  type: journal\n")
}

// TestInMemoryBaselinePostgres is the baseline on the PostgreSQL store:
// what its paging rates are compared with.
func TestInMemoryBaselinePostgres(t *testing.T) {
	if os.Getenv("JUNCTION_PAGING_BASELINE") == "" {
		t.Skip("a benchmark: set JUNCTION_PAGING_BASELINE=1")
	}
	runBaseline(t, "postgres", fmt.Sprintf("store:\n  type: postgres\n  url: %q\n", pgtest.DB(t)))
}

func runBaseline(t *testing.T, label, store string) {
	if os.Getenv("JUNCTION_PAGING_BASELINE") == "" {
		t.Skip("a benchmark: set JUNCTION_PAGING_BASELINE=1")
	}
	n := messages(t)
	dir := t.TempDir()
	const dest = "/queue/baseline.orders"
	b := start(t, dir, store+"global-max-size: 12GiB\n")
	c := dial(t, b.stomp)
	t0, c0 := time.Now(), b.cpu(t)
	send(t, c, dest, 0, n)
	sendTook, sendCPU := time.Since(t0), b.cpu(t)-c0
	t0, c0 = time.Now(), b.cpu(t)
	drain(t, c, dest, 0, n)
	drainTook, drainCPU := time.Since(t0), b.cpu(t)-c0
	t.Logf("%s, %d persistent 1 KiB messages in memory: send %.0f msg/s (broker CPU %.1f µs/msg), drain %.0f msg/s (%.1f µs/msg), peak RSS %s (anonymous %s)",
		label, n, float64(n)/sendTook.Seconds(), perMsg(sendCPU, n), float64(n)/drainTook.Seconds(), perMsg(drainCPU, n), mib(b.peak.Load()), mib(b.peakAnon.Load()))
}

// profile saves a 10-second CPU profile of the broker to
// JUNCTION_PAGING_PROFILE when it and JUNCTION_PAGING_PPROF are set.
func profile(t *testing.T) {
	addr, path := os.Getenv("JUNCTION_PAGING_PPROF"), os.Getenv("JUNCTION_PAGING_PROFILE")
	if addr == "" || path == "" {
		return
	}
	go func() {
		out, err := exec.Command("curl", "-s", "-o", path, "http://"+addr+"/debug/pprof/profile?seconds=10").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "profile: %v %s\n", err, out)
		}
	}()
}

func perMsg(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }
