package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildJunction builds the junction binary into a temporary folder, for
// tests that run the broker as a process of its own (kill -9, RSS). It
// returns the binary's path and a function that removes the folder. go test
// puts its own toolchain first on PATH, so "go" is the one running the tests.
func BuildJunction() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "junction-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, "junction")
	build := exec.Command("go", "build", "-o", bin, "github.com/junctionmq/junction/cmd/junction")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building junction: %w", err)
	}
	return bin, cleanup, nil
}
