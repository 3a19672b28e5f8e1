package main

import (
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(args)
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	return out.String(), err
}

// --client-id only means something to commands that subscribe.
func TestClientIDOnlyWhereItMatters(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want bool
	}{{"send", false}, {"receive", true}, {"bench", true}} {
		help, err := runCmd(t, tc.cmd, "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", tc.cmd, err)
		}
		if got := strings.Contains(help, "--client-id"); got != tc.want {
			t.Errorf("%s --help lists --client-id: %v, want %v\n%s", tc.cmd, got, tc.want, help)
		}
	}
	if _, err := runCmd(t, "send", "--client-id", "x", "/queue/a", "hello"); err == nil || !strings.Contains(err.Error(), "unknown flag: --client-id") {
		t.Errorf("send --client-id: err = %v, want unknown flag", err)
	}
}

// The MQTT bench has no persistent flag of its own: it says so rather than
// printing persistent=true for what --qos did.
func TestBenchMQTTRefusesPersistent(t *testing.T) {
	_, err := runCmd(t, "bench", "--url", "mqtt://127.0.0.1:1", "--persistent", "--qos", "1")
	if err == nil || !strings.Contains(err.Error(), "--qos 1 or 2") {
		t.Fatalf("bench --persistent over MQTT: err = %v, want a pointer to --qos", err)
	}
}
