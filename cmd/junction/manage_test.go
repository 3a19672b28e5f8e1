package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/management"
	"github.com/junctionmq/junction/server/servertest"
)

// The management commands against a real broker (anonymous access, so
// anyone may manage, as on a fresh install) with a STOMP client's traffic.
func TestManagementCommands(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	url := "http://" + s.Addr("admin")
	run := func(args ...string) string {
		t.Helper()
		out, err := runCmd(t, append(args, "--url", url)...)
		if err != nil {
			t.Fatalf("junction %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	out := run("address", "create", "billing", "--routing", "anycast")
	if !strings.Contains(out, "created address billing") {
		t.Fatalf("address create: %q", out)
	}
	nc, err := net.Dial("tcp", s.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := stomp.Connect(nc, stomp.ConnOpt.Header("client-id", "cli-test"), stomp.ConnOpt.Logger(testkit.QuietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	for i := range 3 {
		if err := c.Send("/queue/billing", "text/plain", []byte(fmt.Sprint(i)), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}

	out = run("queue", "list", "--filter", "bill")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "billing") || fields(lines[1])[3] != "3" {
		t.Fatalf("queue list:\n%s", out)
	}
	var l management.ListResult[management.Queue]
	if err := json.Unmarshal([]byte(run("queue", "list", "--json")), &l); err != nil || l.Total != 1 || l.Items[0].Depth != 3 {
		t.Fatalf("queue list --json: %v %+v", err, l)
	}
	if out = run("queue", "stat", "billing"); !strings.Contains(out, "depth") || !strings.Contains(out, "enqueued") {
		t.Fatalf("queue stat:\n%s", out)
	}
	if out = run("queue", "create", "billing.hold"); !strings.Contains(out, "created queue billing.hold") {
		t.Fatalf("queue create: %q", out)
	}
	out = run("queue", "move", "billing", "--to", "billing.hold", "--limit", "2")
	if !strings.Contains(out, "moved 2 message(s)") {
		t.Fatalf("queue move: %q", out)
	}
	out = run("queue", "purge", "billing")
	if !strings.Contains(out, "purged 1 message(s)") {
		t.Fatalf("queue purge: %q", out)
	}
	// A move records where the messages were (as a dead-letter move does),
	// so a redrive brings them back.
	out = run("queue", "redrive", "billing.hold")
	if !strings.Contains(out, "redrove 2 message(s)") || strings.Contains(out, "without") {
		t.Fatalf("queue redrive: %q", out)
	}
	var q management.Queue
	if err := json.Unmarshal([]byte(run("queue", "stat", "billing", "--json")), &q); err != nil || q.Depth != 2 {
		t.Fatalf("billing after the redrive: %v %+v", err, q)
	}

	out = run("connection", "list")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "stomp") || !strings.Contains(lines[1], "cli-test") {
		t.Fatalf("connection list:\n%s", out)
	}
	id := fields(lines[1])[0]
	if out = run("connection", "close", id); !strings.Contains(out, "closed connection "+id) {
		t.Fatalf("connection close: %q", out)
	}
	if _, err := runCmd(t, "connection", "close", id, "--url", url); err == nil || !strings.Contains(err.Error(), "Not Found") {
		t.Fatalf("closing it again: %v", err)
	}

	if _, err := runCmd(t, "address", "delete", "billing", "--url", url); err == nil || !strings.Contains(err.Error(), "Conflict") {
		t.Fatalf("address delete with a queue: %v", err)
	}
	run("address", "delete", "billing", "--force")
	if out = run("queue", "delete", "billing.hold"); !strings.Contains(out, "deleted queue billing.hold") {
		t.Fatalf("queue delete: %q", out)
	}
	if out = run("address", "list", "--filter", "billing"); strings.Contains(out, "billing\t") || strings.Count(out, "\n") != 2 {
		t.Fatalf("address list after delete:\n%s", out)
	}
}

func TestManagementCommandErrors(t *testing.T) {
	if _, err := runCmd(t, "queue", "list", "--url", "http://127.0.0.1:1", "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("no broker: %v", err)
	}
	if _, err := runCmd(t, "queue", "move", "a"); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Fatalf("move without --to: %v", err)
	}
}

func fields(s string) []string { return strings.Fields(s) }
