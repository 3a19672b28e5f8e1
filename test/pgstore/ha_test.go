package pgstore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/postgres"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func junctionBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// Removed with the test binary's temporary files by the OS; the
		// build is shared by the tests of this binary.
		binPath, _, buildErr = testkit.BuildJunction()
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a broker process whose log is watched line by line.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	change chan struct{}
	exited chan struct{}
}

func launch(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(junctionBin(t), args...), change: make(chan struct{}), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.change)
			p.change = make(chan struct{})
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// waitLog waits for a log line containing s.
func (p *proc) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return
			}
		}
		ch := p.change
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.exited:
			t.Fatalf("the broker exited before logging %q:\n%s", s, p.log())
		case <-deadline:
			t.Fatalf("no %q logged within %v:\n%s", s, within, p.log())
		}
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// haConfig writes the configuration both brokers share: one store, one
// STOMP address (only the live broker binds it), every other listener off.
func haConfig(t *testing.T, url, stompAddr, mqttAddr string) string {
	return haConfigOW(t, url, stompAddr, mqttAddr, "")
}

// haConfigOW is haConfig with an OpenWire address: the brokers get
// different ones, as two machines would, for the client's failover URL.
func haConfigOW(t *testing.T, url, stompAddr, mqttAddr, owAddr string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "store:\n  type: postgres\n  url: %q\nha:\n  role: live-or-backup\nlisteners:\n", url)
	for _, l := range server.KnownListeners(server.Adapters) {
		addr := "off"
		switch l.Name {
		case "stomp":
			addr = stompAddr
		case "mqtt":
			if mqttAddr != "" {
				addr = mqttAddr
			}
		case "openwire":
			if owAddr != "" {
				addr = owAddr
			}
		}
		fmt.Fprintf(&b, "  %s: %s\n", l.Name, addr)
	}
	path := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mqttConnect connects a paho 3.1.1 client, or returns an error.
func mqttConnect(addr, id string, clean bool, onMsg mqtt3.MessageHandler) (mqtt3.Client, error) {
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second).SetOrderMatters(false)
	if onMsg != nil {
		o.SetDefaultPublishHandler(onMsg)
	}
	c := mqtt3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

// mqttProducer publishes QoS 1 messages, reconnecting after a failure,
// until stop is closed or max are confirmed (under the subscriber
// session's default queue bound of 1,000).
type mqttProducer struct {
	addr      string
	max       int
	confirmed []int
}

func (p *mqttProducer) run(stop <-chan struct{}) {
	var c mqtt3.Client
	defer func() {
		if c != nil {
			c.Disconnect(0)
		}
	}()
	for i := 0; len(p.confirmed) < p.max; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if c == nil {
			var err error
			if c, err = mqttConnect(p.addr, "ha-pub", true, nil); err != nil {
				c = nil
				time.Sleep(20 * time.Millisecond) // paces retries while no broker listens
				continue
			}
		}
		tok := c.Publish("ha/m", 1, false, body(100, i))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			c.Disconnect(0)
			c = nil
			continue
		}
		p.confirmed = append(p.confirmed, i)
	}
}

// TestHAFailover: two broker processes on one store; the live one is
// killed (SIGKILL) under persistent STOMP, MQTT QoS 1 and OpenWire load,
// the backup serves within 5 seconds, and the reconnecting clients lose no
// confirmed message (the MQTT ones wait in a persistent session; the JMS
// producer and consumer use the failover URL over both brokers' OpenWire
// listeners, testdata/java/HAClient.java).
func TestHAFailover(t *testing.T) {
	url := pgtest.DB(t)
	addr, maddr := freeAddr(t), freeAddr(t)
	owA, owB := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	a := launch(t, "serve", "--config", haConfigOW(t, url, addr, maddr, owA), "--data", filepath.Join(dir, "a"))
	a.waitLog(t, `msg="junction ready"`, waitFor)
	a.waitLog(t, "ha-role=live", time.Second)
	b := launch(t, "serve", "--config", haConfigOW(t, url, addr, maddr, owB), "--data", filepath.Join(dir, "b"))
	b.waitLog(t, "waiting for the store lock", waitFor)

	// The JMS client with the failover URL over both brokers' OpenWire
	// listeners, its producer sending by the time the load starts.
	jms := startJMS(t, fmt.Sprintf("failover:(tcp://%s,tcp://%s)", owA, owB), "ha.ow")

	// A persistent MQTT session subscribed before the load, away during it.
	sub, err := mqttConnect(maddr, "ha-sub", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok := sub.Subscribe("ha/m", 1, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	sub.Disconnect(100)

	const producers = 4
	ps := make([]*producer, producers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	mp := &mqttProducer{addr: maddr, max: 900}
	wg.Add(1)
	go func() { defer wg.Done(); mp.run(stop) }()
	for i := range ps {
		ps[i] = &producer{num: i, addr: addr}
		wg.Add(1)
		go func() { defer wg.Done(); ps[i].run(stop, "/queue/ha") }()
	}
	// Let load build up on the live broker, then kill it.
	time.Sleep(500 * time.Millisecond) // load duration, not synchronisation
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.exited
	b.waitLog(t, `msg="junction ready"`, 5*time.Second)
	took := time.Since(killed)
	b.waitLog(t, "from=backup to=live", time.Second)
	t.Logf("the backup served %v after the live broker was killed", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("the backup took %v to serve", took)
	}
	time.Sleep(500 * time.Millisecond) // load on the new live broker
	close(stop)
	jms.stop(t)
	wg.Wait()
	total := 0
	for _, p := range ps {
		total += len(p.confirmed)
	}
	seen := drain(t, addr, "/queue/ha", total)
	for _, p := range ps {
		for _, i := range p.confirmed {
			if seen[body(p.num, i)] == 0 {
				t.Errorf("confirmed message %s lost in the failover", body(p.num, i))
			}
		}
	}
	t.Logf("%d STOMP messages confirmed across the failover", total)

	got := make(chan string, 2000)
	sub, err = mqttConnect(maddr, "ha-sub", false, func(_ mqtt3.Client, m mqtt3.Message) { got <- string(m.Payload()) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(100)
	want := map[string]bool{}
	for _, i := range mp.confirmed {
		want[body(100, i)] = true
	}
	for len(want) > 0 {
		select {
		case m := <-got:
			delete(want, m)
		case <-time.After(waitFor):
			t.Fatalf("%d of %d confirmed MQTT messages lost in the failover", len(want), len(mp.confirmed))
		}
	}
	t.Logf("%d MQTT messages confirmed across the failover, all delivered", len(mp.confirmed))
	if len(mp.confirmed) == 0 {
		t.Fatal("no MQTT message confirmed: the test tested nothing for MQTT")
	}
	if total < 100 {
		t.Fatalf("only %d messages confirmed: the load was too light to tell", total)
	}
	if jms.check(t) {
		// A send the failover transport resent after the dead broker had
		// stored it is stored twice; the client's duplicate suppression
		// poison-acks the second copy when it reaches the connection that
		// had the first, which dead-letters it. Nothing else may be there.
		dups := 0
		for b, n := range drain(t, addr, "/queue/DLQ", 0) {
			if !strings.HasPrefix(b, "ow-") {
				t.Errorf("dead-lettered: %q, not an OpenWire duplicate", b)
			}
			dups += n
		}
		t.Logf("%d OpenWire duplicates dead-lettered by the client's duplicate suppression", dups)
	}
}

// jmsClient is HAClient.java (testdata/java) running: a JMS producer and
// consumer on the ActiveMQ client's failover transport.
type jmsClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	out   []string
	done  chan struct{}
}

// startJMS starts HAClient against url and waits until its producer has
// a confirmed send; nil when Java is missing outside CI (under CI=true
// that fails the test).
func startJMS(t *testing.T, url, queue string) *jmsClient {
	t.Helper()
	if missing := testkit.JavaMissing(); len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("missing under CI (make test-deps installs them): %s", strings.Join(missing, ", "))
		}
		t.Logf("the OpenWire part is skipped: the ActiveMQ JMS client is not installed (apt-get install default-jdk-headless libactivemq-java): missing %s", strings.Join(missing, ", "))
		return nil
	}
	classes := t.TempDir()
	src, _ := filepath.Abs("testdata/java/HAClient.java")
	if err := testkit.CompileJava(classes, 2*time.Minute, src); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	j := &jmsClient{lines: make(chan string, 64), done: make(chan struct{})}
	j.cmd = exec.CommandContext(ctx, "java", testkit.JavaArgs(classes, "HAClient", url, queue)...)
	var stderr testkit.LogBuffer
	j.cmd.Stderr = &stderr
	var err error
	if j.stdin, err = j.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := j.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			j.lines <- sc.Text()
		}
		close(j.lines)
		_ = j.cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-j.done
		if t.Failed() {
			t.Logf("HAClient stderr:\n%s", stderr.String())
		}
	})
	j.await(t, "OUT sending", 90*time.Second)
	return j
}

// await reads lines until one starts with prefix.
func (j *jmsClient) await(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-j.lines:
			if !ok {
				t.Fatalf("HAClient ended before printing %q; output:\n%s", prefix, strings.Join(j.out, "\n"))
			}
			j.out = append(j.out, l)
			if strings.HasPrefix(l, prefix) {
				return l
			}
			if strings.HasPrefix(l, "FAIL ") {
				t.Fatalf("HAClient: %s", l)
			}
		case <-timer.C:
			t.Fatalf("no %q from HAClient within %v; output:\n%s", prefix, d, strings.Join(j.out, "\n"))
		}
	}
}

// stop ends the producer's load.
func (j *jmsClient) stop(t *testing.T) {
	if j == nil {
		return
	}
	if _, err := io.WriteString(j.stdin, "stop\n"); err != nil {
		t.Fatalf("stopping HAClient: %v", err)
	}
}

// check waits for HAClient's verdict: every confirmed send received. It
// reports whether the client ran.
func (j *jmsClient) check(t *testing.T) bool {
	t.Helper()
	if j == nil {
		return false
	}
	confirmed := j.await(t, "OUT confirmed ", 30*time.Second)
	gap := j.await(t, "OUT gap ", time.Second)
	caught := j.await(t, "OUT caught up ", 40*time.Second)
	received := j.await(t, "OUT received ", 5*time.Second)
	j.await(t, "PASS ha", 5*time.Second)
	n, _ := strconv.Atoi(strings.TrimPrefix(confirmed, "OUT confirmed "))
	t.Logf("OpenWire (JMS failover URL): %d persistent sends confirmed, all received %s ms after the last; %s; longest send %s ms",
		n, strings.TrimPrefix(caught, "OUT caught up "), strings.TrimPrefix(received, "OUT received "), strings.TrimPrefix(gap, "OUT gap "))
	if n < 10 {
		t.Fatalf("only %d OpenWire sends confirmed: the load was too light to tell", n)
	}
	return true
}

// TestFencedBrokerStops: a live broker whose epoch is taken over stops
// serving on its own, having written nothing more.
func TestFencedBrokerStops(t *testing.T) {
	srv := pgtest.Get(t)
	db := srv.NewDB(t)
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) {
		c.Store.Type = "postgres"
		c.Store.URL = srv.URL("", db)
		c.HA.Role = config.HARoleLiveOrBackup
	}})
	srv.Exec(t, db, "UPDATE junction_holder SET epoch = epoch + 1")
	select {
	case <-s.Fenced():
	case <-time.After(waitFor):
		t.Fatal("the broker did not notice it was fenced")
	}
	if err := s.Core.StoreHealth(); err == nil || !strings.Contains(err.Error(), postgres.ErrFenced.Error()) {
		t.Fatalf("store health %v, want fenced", err)
	}
	c, err := dial(s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.MustDisconnect()
	if err := c.Send("/queue/x", "text/plain", []byte("x"), stompc.SendOpt.Receipt, stompc.SendOpt.Header("persistent", "true")); err == nil {
		t.Fatal("a fenced broker confirmed a persistent send")
	}
}

// TestMigrateCommand: `junction store migrate` creates the schema and
// reports a second run as having nothing to do.
func TestMigrateCommand(t *testing.T) {
	url := pgtest.DB(t)
	cfg := haConfig(t, url, "127.0.0.1:0", "")
	v := postgres.SchemaVersion()
	for _, want := range []string{fmt.Sprintf("schema migrated from version 0 to %d", v), fmt.Sprintf("schema already at version %d", v)} {
		out, err := exec.Command(junctionBin(t), "store", "migrate", "--config", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("junction store migrate: %v: %s (want %q)", err, out, want)
		}
	}
}

// TestBackupAnswersHealthChecks: a waiting backup answers on its admin
// listener — alive (/healthz 200), not ready (/readyz 503) — so that an
// orchestrator neither restarts it nor routes clients to it; once it takes
// over, the same address serves the management API and /readyz says 200.
func TestBackupAnswersHealthChecks(t *testing.T) {
	url := pgtest.DB(t)
	dir := t.TempDir()
	cfgFor := func(admin string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "store:\n  type: postgres\n  url: %q\nha:\n  role: live-or-backup\nlisteners:\n", url)
		for _, l := range server.KnownListeners(server.Adapters) {
			addr := "off"
			switch l.Name {
			case "stomp":
				addr = freeAddr(t)
			case "admin":
				addr = admin
			}
			fmt.Fprintf(&b, "  %s: %s\n", l.Name, addr)
		}
		path := filepath.Join(t.TempDir(), "junction.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	adminA, adminB := freeAddr(t), freeAddr(t)
	a := launch(t, "serve", "--config", cfgFor(adminA), "--data", filepath.Join(dir, "a"))
	a.waitLog(t, "ha-role=live", waitFor)
	b := launch(t, "serve", "--config", cfgFor(adminB), "--data", filepath.Join(dir, "b"))
	b.waitLog(t, "waiting for the store lock", waitFor)

	client := &http.Client{Timeout: 5 * time.Second}
	status := func(addr, path string) int {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	b.waitLog(t, "listening as a waiting backup", waitFor)
	if got := status(adminB, "/healthz"); got != http.StatusOK {
		t.Errorf("waiting backup /healthz: %d, want 200", got)
	}
	if got := status(adminB, "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("waiting backup /readyz: %d, want 503", got)
	}
	if got := status(adminB, "/api/v1/queues"); got != http.StatusServiceUnavailable {
		t.Errorf("waiting backup /api/v1/queues: %d, want 503", got)
	}
	if got := status(adminA, "/readyz"); got != http.StatusOK {
		t.Errorf("live broker /readyz: %d, want 200", got)
	}

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	b.waitLog(t, `msg="junction ready"`, waitFor)
	if got := status(adminB, "/readyz"); got != http.StatusOK {
		t.Errorf("the backup that took over: /readyz %d, want 200:\n%s", got, b.log())
	}
	if got := status(adminB, "/api/v1/queues"); got != http.StatusOK {
		t.Errorf("live (former backup) /api/v1/queues: %d, want 200", got)
	}
}
