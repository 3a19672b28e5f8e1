package amqp_test

// Interop with Qpid Proton's Python examples as Debian ships them
// (python3-qpid-proton, libqpid-proton11-dev-examples; `make test-deps`
// installs both), run unchanged with their -a option against a test broker.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/server"
)

const (
	protonPython   = "/usr/bin/python3"
	protonExamples = "/usr/share/proton/examples/python"
)

// needProton skips when the examples are missing, unless under CI, where
// make test-deps must have installed them.
func needProton(t *testing.T) {
	t.Helper()
	_, errPy := exec.Command(protonPython, "-c", "import proton").CombinedOutput()
	_, errEx := os.Stat(filepath.Join(protonExamples, "simple_send.py"))
	if errPy == nil && errEx == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("Qpid Proton's Python examples are missing (python3-qpid-proton, libqpid-proton11-dev-examples): run make test-deps")
	}
	t.Skip("Qpid Proton's Python examples are not installed (apt-get install python3-qpid-proton libqpid-proton11-dev-examples)")
}

// proton runs one example to its end (bounded) and returns its output.
func proton(t *testing.T, s *server.Server, script, address string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return runProton(t, ctx, s, script, address, args...)
}

func runProton(t *testing.T, ctx context.Context, s *server.Server, script, address string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, protonPython, append([]string{filepath.Join(protonExamples, script), "-a", s.Addr("amqp") + "/" + address}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func TestProtonSimpleSendRecv(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	if out := proton(t, s, "simple_send.py", "examples", "-m", "10"); !strings.Contains(out, "all messages confirmed") {
		t.Fatalf("simple_send: %s", out)
	}
	out := proton(t, s, "simple_recv.py", "examples", "-m", "10")
	for _, want := range []string{"{'sequence': 1}", "{'sequence': 10}"} {
		if !strings.Contains(out, want) {
			t.Fatalf("simple_recv output lacks %s:\n%s", want, out)
		}
	}
}

// Request/reply: client.py receives on a dynamic node and names it as
// reply-to; server.py answers through an anonymous-relay sender.
func TestProtonRequestReply(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, protonPython, filepath.Join(protonExamples, "server.py"), "-a", s.Addr("amqp")+"/requests")
	if err := srv.Start(); err != nil {
		t.Fatalf("server.py: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	// The request waits in the queue if server.py is not attached yet.
	out := proton(t, s, "client.py", "requests")
	for _, want := range []string{"TWAS BRILLIG, AND THE SLITHY TOVES", "AND THE MOME RATHS OUTGRABE."} {
		if !strings.Contains(out, want) {
			t.Fatalf("client.py output lacks %q:\n%s", want, out)
		}
	}
}

func TestProtonTransactions(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	if out := proton(t, s, "tx_send.py", "txq", "-m", "9", "-b", "3"); !strings.Contains(out, "all messages committed") {
		t.Fatalf("tx_send: %s", out)
	}
	out := proton(t, s, "tx_recv.py", "txq", "-m", "9", "-b", "3")
	if !strings.Contains(out, "{'sequence': 9}") {
		t.Fatalf("tx_recv output lacks the last message:\n%s", out)
	}
	waitUntil(t, "the queue to empty", func() bool {
		q, ok := s.Core.Queue("txq")
		return !ok || q.Stats().Messages == 0 // an empty auto-created queue may go
	})
}

func TestProtonSelector(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	if out := proton(t, s, "colour_send.py", "colours", "-m", "6"); !strings.Contains(out, "all messages confirmed") {
		t.Fatalf("colour_send: %s", out)
	}
	out := proton(t, s, "selected_recv.py", "colours", "-m", "3")
	if strings.Contains(out, "red") || !strings.Contains(out, "green 5") {
		t.Fatalf("selected_recv got:\n%s", out)
	}
}

// A durable subscription with a selector through Proton's Python API
// (DurableSubscription, Selector; testdata/proton_durable.py): it keeps
// the matching messages while its receiver is away, a new connection with
// the same container id and link name resumes it, and closing the link
// ends it.
func TestProtonDurableSubscription(t *testing.T) {
	needProton(t)
	s := startBroker(t, nil)
	run := func(mode string, extra ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := append([]string{filepath.Join("testdata", "proton_durable.py"), "--url", s.Addr("amqp"), "--container", "py-durable",
			"--name", "watch", "--topic", "topic://news", "--selector", "colour = 'green'", "--mode", mode}, extra...)
		out, err := exec.CommandContext(ctx, protonPython, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("proton_durable.py %s: %v\n%s", mode, err, out)
		}
		return string(out)
	}
	if out := run("attach"); !strings.Contains(out, "attached topic://news") {
		t.Fatalf("subscribe: %s", out)
	}
	sub := core.SubscriptionQueueName("py-durable", "watch")
	waitUntil(t, "the subscriber detached", func() bool { return queueStats(t, s, sub).Consumers == 0 })
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "topic://news", nil)
	for i, colour := range []string{"green", "red", "green", "red"} {
		send(t, snd, &amqp.Message{Value: fmt.Sprintf("%s-%d", colour, i), ApplicationProperties: map[string]any{"colour": colour}})
	}
	if st := queueStats(t, s, sub); st.Messages != 2 {
		t.Fatalf("the subscription holds %d messages, want the 2 green ones", st.Messages)
	}
	out := run("receive", "--count", "2")
	if !strings.Contains(out, "body green-0") || !strings.Contains(out, "body green-2") || strings.Contains(out, "red") {
		t.Fatalf("resumed subscription got:\n%s", out)
	}
	waitUntil(t, "the resumed subscriber detached", func() bool { return queueStats(t, s, sub).Consumers == 0 })
	if out := run("unsubscribe"); !strings.Contains(out, "unsubscribed") {
		t.Fatalf("unsubscribe: %s", out)
	}
	waitUntil(t, "the subscription removed", func() bool { _, ok := s.Core.Queue(sub); return !ok })
}
