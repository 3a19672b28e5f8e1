package crash

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/internal/testkit"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/server/servertest"
)

var (
	flagIterations = flag.Int("crash.iterations", 20, "SIGKILLs of the broker per crash test")
	flagSeed       = flag.Int64("crash.seed", 0, "seed of the random kill schedule (0: from the clock; the seed used is logged)")
	flagKeep       = flag.Bool("crash.keep", false, "keep the data folders of failed crash tests for inspection")
	flagImages     = flag.String("crash.images", "", "copy each crash image (the data folder right after a kill) into `DIR`/<test>/image-<life>, for post-mortems")
)

// binPath is the junction binary TestMain builds.
var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	bin, cleanup, err := testkit.BuildJunction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash tests:", err)
		os.Exit(1)
	}
	binPath = bin
	code := m.Run()
	pgtest.Shutdown()
	cleanup()
	os.Exit(code)
}

const (
	// readyTimeout bounds a start, recovery included.
	readyTimeout = 30 * time.Second
	// exitTimeout bounds the wait for a killed or stopped broker to go away.
	exitTimeout = 15 * time.Second
	// keptLines is how much of a broker's log is kept for failure reports.
	keptLines = 200
)

// recoveredRe reads the server's "recovered" line (not the journal's, whose
// message is quoted).
var recoveredRe = regexp.MustCompile(`msg=recovered queues=(\d+) messages=(\d+) references=(\d+)`)

// recovery is what a broker reported having recovered at start.
type recovery struct {
	queues, messages, refs int
}

// brokerProc is one run of `junction serve`.
type brokerProc struct {
	cmd  *exec.Cmd
	addr string // STOMP listener

	ready  chan struct{} // closed at the "junction ready" log line
	exited chan struct{} // closed once the process is reaped
	werr   error         // Wait's result, set before exited is closed

	mu        sync.Mutex
	lines     []string
	recovered recovery
	gotRec    bool
}

// launch starts the broker without waiting for it.
func launch(data, config, addr string, extra ...string) (*brokerProc, error) {
	args := append([]string{"serve", "--data", data, "--stomp", addr}, servertest.ListenersOff("stomp")...)
	if config != "" {
		args = append(args, "--config", config)
	}
	args = append(args, extra...)
	cmd := exec.Command(binPath, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting junction: %w", err)
	}
	b := &brokerProc{cmd: cmd, addr: addr, ready: make(chan struct{}), exited: make(chan struct{})}
	go b.watch(stderr)
	return b, nil
}

// watch reads the broker's log to its end, then reaps the process (Wait must
// not run before the pipe is drained).
func (b *brokerProc) watch(stderr interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readyClosed := false
	for sc.Scan() {
		line := sc.Text()
		b.mu.Lock()
		if len(b.lines) == keptLines {
			b.lines = append(b.lines[:0], b.lines[keptLines/2:]...)
		}
		b.lines = append(b.lines, line)
		if m := recoveredRe.FindStringSubmatch(line); m != nil {
			b.recovered.queues, _ = strconv.Atoi(m[1])
			b.recovered.messages, _ = strconv.Atoi(m[2])
			b.recovered.refs, _ = strconv.Atoi(m[3])
			b.gotRec = true
		}
		b.mu.Unlock()
		if !readyClosed && strings.Contains(line, `msg="junction ready"`) {
			readyClosed = true
			close(b.ready)
		}
	}
	b.werr = b.cmd.Wait()
	close(b.exited)
}

// waitReady waits for the ready line, or for the process to end first.
func (b *brokerProc) waitReady() error {
	select {
	case <-b.ready:
		return nil
	case <-b.exited:
		// The ready line may have been the last one read.
		select {
		case <-b.ready:
			return nil
		default:
		}
		return fmt.Errorf("junction exited before it was ready (%v):\n%s", b.werr, b.logTail())
	case <-time.After(readyTimeout):
		return fmt.Errorf("junction not ready after %v:\n%s", readyTimeout, b.logTail())
	}
}

// recovery returns what the broker logged having recovered.
func (b *brokerProc) recovery() (recovery, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recovered, b.gotRec
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *brokerProc) kill() error {
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing junction: %w", err)
	}
	return b.waitExit()
}

// stop sends SIGTERM (a clean shutdown) and returns the exit status.
func (b *brokerProc) stop() error {
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping junction: %w", err)
	}
	if err := b.waitExit(); err != nil {
		return err
	}
	return b.werr
}

func (b *brokerProc) waitExit() error {
	select {
	case <-b.exited:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("junction still running %v after the signal", exitTimeout)
	}
}

func (b *brokerProc) logTail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.lines
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// freePort returns a loopback address that was free a moment ago: the broker
// prints no bound port, so it must be told one.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// startBroker starts the broker and waits until it is ready. A port taken by
// someone else between freePort and the bind is retried with another one.
func startBroker(t testing.TB, data, config string, extra ...string) *brokerProc {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		b, err := launch(data, config, addr, extra...)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.waitReady(); err != nil {
			b.kill()
			if strings.Contains(b.logTail(), "address already in use") {
				lastErr = err
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { b.kill() })
		return b
	}
	t.Fatalf("no free port after 5 attempts: %v", lastErr)
	return nil
}

// runToExit runs the binary with args and returns its exit code and output.
func runToExit(t testing.TB, args ...string) (int, string) {
	t.Helper()
	return runToExitAs(t, nil, args...)
}

// runToExitAs is runToExit as another user (nil: this one).
func runToExitAs(t testing.TB, cred *syscall.Credential, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("junction %s: still running after %v:\n%s", strings.Join(args, " "), exitTimeout, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("junction %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// dataDir returns a fresh data folder, kept after a failure with -crash.keep.
func dataDir(t *testing.T) string {
	t.Helper()
	if !*flagKeep {
		return filepath.Join(t.TempDir(), "data")
	}
	dir, err := os.MkdirTemp("", "junction-crash-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return filepath.Join(dir, "data")
}

// writeConfig writes a configuration file next to the data folder.
func writeConfig(t *testing.T, data, yaml string) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(data), "junction.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// saveImage copies the data folder (flat: the journal has no subfolders)
// when -crash.images asks for it.
func saveImage(t *testing.T, data string, life int) {
	if *flagImages == "" {
		return
	}
	dst := filepath.Join(*flagImages, t.Name(), fmt.Sprintf("image-%d", life))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(data, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
