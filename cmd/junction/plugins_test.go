package main

import "testing"

// TestPluginsCommand: the built-in plugins are compiled in and listed.
func TestPluginsCommand(t *testing.T) {
	out, err := runCmd(t, "plugins")
	if err != nil {
		t.Fatal(err)
	}
	if out != "audit\ntracing\n" {
		t.Fatalf("junction plugins printed %q, want audit and tracing", out)
	}
}
