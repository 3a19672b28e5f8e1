package pgstore

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
func haConfig(t *testing.T, url, stompAddr string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "store:\n  type: postgres\n  url: %q\nha:\n  role: live-or-backup\nlisteners:\n", url)
	for _, l := range server.KnownListeners(server.Adapters) {
		addr := "off"
		if l.Name == "stomp" {
			addr = stompAddr
		}
		fmt.Fprintf(&b, "  %s: %s\n", l.Name, addr)
	}
	path := filepath.Join(t.TempDir(), "junction.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHAFailover: two broker processes on one store; the live one is
// killed (SIGKILL) under persistent STOMP load, the backup serves within 5
// seconds, and the reconnecting producers lose no confirmed message.
func TestHAFailover(t *testing.T) {
	url := pgtest.DB(t)
	addr := freeAddr(t)
	cfg := haConfig(t, url, addr)
	dir := t.TempDir()
	a := launch(t, "serve", "--config", cfg, "--data", filepath.Join(dir, "a"))
	a.waitLog(t, `msg="junction ready"`, waitFor)
	a.waitLog(t, "ha-role=live", time.Second)
	b := launch(t, "serve", "--config", cfg, "--data", filepath.Join(dir, "b"))
	b.waitLog(t, "waiting for the store lock", waitFor)

	const producers = 4
	ps := make([]*producer, producers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
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
	t.Logf("%d messages confirmed across the failover", total)
	if total < 100 {
		t.Fatalf("only %d messages confirmed: the load was too light to tell", total)
	}
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
	cfg := haConfig(t, url, "127.0.0.1:0")
	for _, want := range []string{"schema migrated from version 0 to 1", "schema already at version 1"} {
		out, err := exec.Command(junctionBin(t), "store", "migrate", "--config", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("junction store migrate: %v: %s (want %q)", err, out, want)
		}
	}
}
