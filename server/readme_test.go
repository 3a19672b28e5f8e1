package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/server/servertest"
)

// TestREADMEGoSnippet: the Go program in README.md's quick start compiles
// and, run against a broker, prints the message it sent. It is built as a
// package of this module through an overlay, so it uses the module's
// pinned go-stomp and leaves nothing in the tree.
func TestREADMEGoSnippet(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	if !ok {
		t.Fatal("README has no Go snippet")
	}
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README's Go snippet is not closed")
	}
	const readmeAddr = "127.0.0.1:61613"
	if !strings.Contains(src, readmeAddr) {
		t.Fatalf("the snippet no longer dials %s; update this test", readmeAddr)
	}
	s := servertest.Start(t, servertest.Options{})
	src = strings.Replace(src, readmeAddr, s.Addr("stomp"), 1)

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	file := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(root, "internal", "readmesnippet", "main.go"): file,
	}})
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH to build README's snippet: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "run", "-overlay", ovFile, "./internal/readmesnippet")
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run of README's snippet: %v\n%s", err, stderr.String())
	}
	if got := string(out); got != "hello\n" {
		t.Fatalf("README's snippet printed %q, want hello (stderr: %s)", got, stderr.String())
	}
	if stderr.Len() > 0 {
		// go run's own messages (a module download) land here too.
		t.Logf("stderr of go run: %s", stderr.String())
	}
}
