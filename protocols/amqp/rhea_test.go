package amqp_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rheaModules is where make test-deps installs rhea (testdata/js).
var rheaModules = filepath.Join("..", "..", "testdata", "js", "node_modules")

// rhea, the Node.js AMQP 1.0 client, sends with acceptance, receives,
// and does request/reply through a dynamic node and anonymous relay.
func TestRhea(t *testing.T) {
	node, err := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(rheaModules, "rhea"))
	if err != nil || errMod != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or rhea missing (run make test-deps): %v %v", err, errMod)
		}
		t.Skip("node or rhea is not installed (make test-deps installs rhea into testdata/js)")
	}
	s := startBroker(t, nil)
	_, port, _ := strings.Cut(s.Addr("amqp"), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "rhea_check.js"), port, "rhea.q")
	abs, _ := filepath.Abs(rheaModules)
	cmd.Env = append(os.Environ(), "NODE_PATH="+abs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rhea: %v\n%s", err, out)
	}
	for _, want := range []string{"accepted 3", "received rhea 1/1,rhea 2/2,rhea 3/3", "reply reply via relay c-1"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("rhea output lacks %q:\n%s", want, out)
		}
	}
}
