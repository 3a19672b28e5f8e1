package amqp_test

// Interop with Qpid Proton's C++ examples as Debian ships them
// (libqpid-proton11-dev-examples, built with g++ against
// libqpid-proton-cpp12-dev; `make test-deps` installs both), run unchanged
// against a test broker.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

const protonCppExamples = "/usr/share/proton/examples/cpp"

var cppBuild struct {
	mu   sync.Mutex
	bins map[string]string
}

// protonCpp builds one C++ example (once per source version: the binary
// is kept in the user's cache directory under the source's hash) and
// returns its path. It skips when g++ or the library is missing, unless
// under CI.
func protonCpp(t *testing.T, example string) string {
	t.Helper()
	src := filepath.Join(protonCppExamples, example+".cpp")
	_, errSrc := os.Stat(src)
	_, errLib := os.Stat("/usr/include/proton/container.hpp")
	gxx, errGxx := exec.LookPath("g++")
	if errSrc != nil || errLib != nil || errGxx != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Qpid Proton's C++ examples cannot be built (g++, libqpid-proton-cpp12-dev, libqpid-proton11-dev-examples): run make test-deps")
		}
		t.Skip("Qpid Proton's C++ examples cannot be built (apt-get install g++ libqpid-proton-cpp12-dev libqpid-proton11-dev-examples)")
	}
	cppBuild.mu.Lock()
	defer cppBuild.mu.Unlock()
	if bin := cppBuild.bins[example]; bin != "" {
		return bin
	}
	code, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("reading %s: %v", src, err)
	}
	opts, _ := os.ReadFile(filepath.Join(protonCppExamples, "options.hpp"))
	sum := sha256.Sum256(append(code, opts...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "junction-test", "proton-cpp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	bin := filepath.Join(dir, example+"-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(bin); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tmp := bin + fmt.Sprintf(".%d.tmp", os.Getpid())
		out, err := exec.CommandContext(ctx, gxx, "-std=c++11", "-O1", "-I", protonCppExamples, "-o", tmp, src, "-lqpid-proton-cpp").CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", example, err, out)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatalf("building %s: %v", example, err)
		}
	}
	if cppBuild.bins == nil {
		cppBuild.bins = map[string]string{}
	}
	cppBuild.bins[example] = bin
	return bin
}

// cppRun runs an example that ends by itself and returns its output.
func cppRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(bin), err, out)
	}
	return string(out)
}

// cppLines runs an example that never ends (a receiver that waits for
// more) until it has printed n lines, then stops it.
func cppLines(t *testing.T, bin string, n int, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	var lines []string
	sc := bufio.NewScanner(stdout)
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	cancel()
	_ = cmd.Wait()
	if len(lines) < n {
		t.Fatalf("%s printed %d lines, want %d: %q", filepath.Base(bin), len(lines), n, lines)
	}
	return lines
}

func TestProtonCppSimpleSendRecv(t *testing.T) {
	sendBin, recvBin := protonCpp(t, "simple_send"), protonCpp(t, "simple_recv")
	s := startBroker(t, nil)
	if out := cppRun(t, sendBin, "-a", s.Addr("amqp")+"/cppq", "-m", "10"); !strings.Contains(out, "all messages confirmed") {
		t.Fatalf("simple_send: %s", out)
	}
	out := cppRun(t, recvBin, "-a", s.Addr("amqp")+"/cppq", "-m", "10")
	for _, want := range []string{`{"sequence"=1}`, `{"sequence"=10}`} {
		if !strings.Contains(out, want) {
			t.Fatalf("simple_recv output lacks %s:\n%s", want, out)
		}
	}
}

// Request/reply: client receives on a dynamic node and names it as
// reply-to; server answers each request on its own sender to that address.
func TestProtonCppRequestReply(t *testing.T) {
	clientBin, serverBin := protonCpp(t, "client"), protonCpp(t, "server")
	s := startBroker(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, serverBin, "//"+s.Addr("amqp"), "requests")
	if err := srv.Start(); err != nil {
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	out := cppRun(t, clientBin, "-a", s.Addr("amqp")+"/requests")
	for _, want := range []string{"=> TWAS BRILLIG, AND THE SLITHY TOVES", "=> AND THE MOME RATHS OUTGRABE."} {
		if !strings.Contains(out, want) {
			t.Fatalf("client output lacks %q:\n%s", want, out)
		}
	}
}

// selected_recv's JMS selector filter, then queue_browser's
// distribution-mode copy: the browser sees what is left, once each, and
// takes none.
func TestProtonCppSelectorAndBrowser(t *testing.T) {
	sendBin, selBin, browseBin := protonCpp(t, "colour_send"), protonCpp(t, "selected_recv"), protonCpp(t, "queue_browser")
	s := startBroker(t, nil)
	if out := cppRun(t, sendBin, "-a", s.Addr("amqp")+"/colours", "-m", "6"); !strings.Contains(out, "all messages confirmed") {
		t.Fatalf("colour_send: %s", out)
	}
	for _, l := range cppLines(t, selBin, 3, "//"+s.Addr("amqp"), "colours") {
		if !strings.HasPrefix(l, "green") {
			t.Fatalf("selected_recv got %q", l)
		}
	}
	// selected_recv was stopped with its deliveries unsettled or
	// accepted: wait until its connection is gone.
	waitUntil(t, "the selected consumer gone", func() bool { return queueStats(t, s, "colours").Consumers == 0 })
	left := queueStats(t, s, "colours").Messages
	if left == 0 {
		t.Fatal("nothing left to browse")
	}
	// selected_recv accepts after printing, so a stopped one may have
	// left its greens: the browser sees whatever is left, each once.
	lines := cppLines(t, browseBin, int(left), "//"+s.Addr("amqp"), "colours")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("the browser showed %q twice: %q", l, lines)
		}
		seen[l] = true
	}
	waitUntil(t, "the browser gone", func() bool { return queueStats(t, s, "colours").Consumers == 0 })
	if st := queueStats(t, s, "colours"); st.Messages != left {
		t.Fatalf("browsing changed the queue: %d messages, want %d", st.Messages, left)
	}
	// What is left is still there for a consumer.
	_, ss := session(t, s, nil)
	r := newReceiver(t, ss, "colours", &amqp.ReceiverOptions{Credit: 10})
	if m := receive(t, r); m == nil {
		t.Fatal("nothing received after browsing")
	}
}
