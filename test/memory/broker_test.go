package memory

import (
	"fmt"
	"github.com/junctionmq/junction/internal/testkit"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/junctionmq/junction/server/servertest"
)

var binPath string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("memory tests read /proc: Linux only")
		os.Exit(0)
	}
	if bin := os.Getenv("JUNCTION_BIN"); bin != "" {
		// Measure another build (before/after figures).
		binPath = bin
		os.Exit(m.Run())
	}
	bin, cleanup, err := testkit.BuildJunction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "memory tests:", err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// broker is one `junction serve` process.
type broker struct {
	cmd         *exec.Cmd
	stomp, mqtt string
	exited      chan struct{}
}

// start runs the broker with the given YAML configuration (may be empty)
// and waits until it is ready.
func start(t *testing.T, yaml string) *broker {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "junction.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{stomp: freePort(t), mqtt: freePort(t), exited: make(chan struct{})}
	args := []string{"serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--stomp", b.stomp, "--mqtt", b.mqtt, "--log-level", "warn"}
	b.cmd = exec.Command(binPath, append(args, servertest.ListenersOff("stomp", "mqtt")...)...)
	b.cmd.Stderr = os.Stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range []string{b.stomp, b.mqtt} {
		for {
			nc, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				nc.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker not listening on %s: %v", addr, err)
			}
			select {
			case <-b.exited:
				t.Fatal("broker exited at start")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return b
}

// rss is the broker's resident set in bytes.
func (b *broker) rss(t *testing.T) int64 {
	t.Helper()
	return procRSS(t, b.cmd.Process.Pid)
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

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
