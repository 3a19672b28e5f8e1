package openwire_test

// The tests drive the server with the real ActiveMQ JMS client (Debian's
// libactivemq-java): testdata/java/Scenarios.java is compiled once per test
// binary into a temporary folder and run with `java`, once per group of
// scenarios, against an in-process broker (server/servertest). The Java
// side asserts what JMS promises and prints PASS or FAIL per scenario;
// the Go side checks what crosses into other protocols.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
)

// waitFor bounds a wait for a broker event.
const waitFor = 10 * time.Second

// javaTimeout bounds one run of the Java program (JVM start included).
const javaTimeout = 90 * time.Second

var (
	compileOnce sync.Once
	classesDir  string
	compileErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if classesDir != "" {
		os.RemoveAll(classesDir)
	}
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/junctionmq/junction/protocols/transport.(*idlePoller).loop")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needJava skips the test when Java or the client is missing outside CI,
// and fails it under CI, where make test-deps installs them.
func needJava(t *testing.T) {
	t.Helper()
	testkit.NeedJava(t)
}

// compile builds the Java scenarios once per test binary.
func compile(t *testing.T) string {
	t.Helper()
	needJava(t)
	compileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openwire-java-")
		if err != nil {
			compileErr = err
			return
		}
		classesDir = dir
		src, _ := filepath.Abs("testdata/java/Scenarios.java")
		compileErr = testkit.CompileJava(dir, javaTimeout, src)
	})
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	return classesDir
}

// javaCmd prepares a run of the scenarios against url.
func javaCmd(t *testing.T, ctx context.Context, url string, scenarios ...string) *exec.Cmd {
	return javaCmdOpts(t, ctx, nil, url, scenarios...)
}

// javaCmdOpts is javaCmd with JVM options (system properties).
func javaCmdOpts(t *testing.T, ctx context.Context, jvm []string, url string, scenarios ...string) *exec.Cmd {
	dir := compile(t)
	args := append(append([]string{}, jvm...), testkit.JavaArgs(dir, "Scenarios", append([]string{url}, scenarios...)...)...)
	return exec.CommandContext(ctx, "java", args...)
}

// result is what one scenario printed.
type result struct {
	pass bool
	msg  string
	out  []string // its OUT lines
}

// runJavaOpts runs scenarios in one JVM, with JVM options, and returns
// each one's result.
func runJavaOpts(t *testing.T, jvm []string, url string, scenarios ...string) map[string]*result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), javaTimeout)
	defer cancel()
	cmd := javaCmdOpts(t, ctx, jvm, url, scenarios...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "took ") {
			t.Log(l)
		}
	}
	return parseResults(t, string(out), stderr.String(), scenarios)
}

func parseResults(t *testing.T, out, stderr string, scenarios []string) map[string]*result {
	t.Helper()
	res := map[string]*result{}
	var pending []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "OUT "):
			pending = append(pending, strings.TrimPrefix(line, "OUT "))
		case strings.HasPrefix(line, "PASS "):
			res[strings.TrimPrefix(line, "PASS ")] = &result{pass: true, out: pending}
			pending = nil
		case strings.HasPrefix(line, "FAIL "):
			name, msg, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			res[name] = &result{msg: msg, out: pending}
			pending = nil
		}
	}
	for _, s := range scenarios {
		if res[s] == nil {
			t.Fatalf("scenario %s printed no result; output:\n%s\nstderr:\n%s", s, out, lastLines(stderr, 30))
		}
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// expectPass runs scenarios in one JVM and reports each as a subtest.
func expectPass(t *testing.T, url string, scenarios ...string) map[string]*result {
	t.Helper()
	return expectPassOpts(t, nil, url, scenarios...)
}

func expectPassOpts(t *testing.T, jvm []string, url string, scenarios ...string) map[string]*result {
	t.Helper()
	res := runJavaOpts(t, jvm, url, scenarios...)
	for _, s := range scenarios {
		r := res[s]
		t.Run(strings.ReplaceAll(s, ":", "_"), func(t *testing.T) {
			if !r.pass {
				t.Fatal(r.msg)
			}
		})
	}
	return res
}

// url is the broker's OpenWire URL.
func url(s *server.Server) string { return "tcp://" + s.Addr("openwire") }

// startBroker starts a broker with every listener on a random port.
func startBroker(t *testing.T, opts servertest.Options) *server.Server {
	t.Helper()
	return servertest.Start(t, opts)
}

// outValue returns the value of the first OUT line with the given key.
func outValue(r *result, key string) (string, bool) {
	for _, l := range r.out {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// lineReader reads a process's stdout line by line for interactive runs.
type lineReader struct {
	lines chan string
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	return lr
}

// await returns the next line starting with prefix, failing after d.
func (lr *lineReader) await(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				t.Fatalf("the Java program ended before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			if strings.HasPrefix(l, "FAIL ") {
				t.Fatalf("the Java program failed: %s", l)
			}
		case <-timer.C:
			t.Fatalf("no %q line from the Java program within %v", prefix, d)
		}
	}
}
