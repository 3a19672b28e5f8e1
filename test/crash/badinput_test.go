package crash

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/journal"
)

// listing names what a folder holds, with sizes, to prove a refusal left it
// untouched.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		return []string{err.Error()}
	}
	if !st.IsDir() {
		return []string{st.Name() + ":" + st.Mode().String() + ":" + strconv.FormatInt(st.Size(), 10)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+":"+info.Mode().String()+":"+strconv.FormatInt(info.Size(), 10))
	}
	return out
}

// TestServeRefusesBadData: `junction serve` on a data folder it must not use
// exits non-zero at once with a message naming the problem, and leaves the
// folder as it was.
func TestServeRefusesBadData(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (data string, extra []string)
		want  []string // all in the output
		// asNobody: run as an unprivileged user when the test runs as
		// root, for whom permissions stop nothing.
		asNobody bool
	}{
		{
			name: "folder holds files that are not a journal",
			setup: func(t *testing.T, dir string) (string, []string) {
				data := filepath.Join(dir, "data")
				mustWrite(t, filepath.Join(data, "notes.txt"), "not a journal")
				return data, nil
			},
			want: []string{"not a journal folder", "notes.txt"},
		},
		{
			name: "format file of another program",
			setup: func(t *testing.T, dir string) (string, []string) {
				data := filepath.Join(dir, "data")
				mustWrite(t, filepath.Join(data, "JOURNAL"), "something else\n")
				return data, nil
			},
			want: []string{"not a journal folder", "JOURNAL"},
		},
		{
			name: "journal of a newer format",
			setup: func(t *testing.T, dir string) (string, []string) {
				data := filepath.Join(dir, "data")
				mustWrite(t, filepath.Join(data, "JOURNAL"), "junction journal\nformat 99\n")
				return data, nil
			},
			want: []string{"newer format version", "format 99"},
		},
		{
			name: "data path is a file",
			setup: func(t *testing.T, dir string) (string, []string) {
				data := filepath.Join(dir, "data")
				mustWrite(t, data, "a file, not a folder")
				return data, nil
			},
			want: []string{"not a directory"},
		},
		{
			name: "data path below a file",
			setup: func(t *testing.T, dir string) (string, []string) {
				mustWrite(t, filepath.Join(dir, "file"), "x")
				return filepath.Join(dir, "file", "data"), nil
			},
			want: []string{"not a directory"},
		},
		{
			name: "read-only folder",
			setup: func(t *testing.T, dir string) (string, []string) {
				data := filepath.Join(dir, "data")
				if err := os.Mkdir(data, 0o555); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(data, 0o755) })
				return data, nil
			},
			want:     []string{"not writable"},
			asNobody: true,
		},
		{
			name: "segment size below the minimum",
			setup: func(t *testing.T, dir string) (string, []string) {
				cfg := filepath.Join(dir, "junction.yaml")
				mustWrite(t, cfg, "store:\n  segment-size: 1KiB\n")
				return filepath.Join(dir, "data"), []string{"--config", cfg}
			},
			want: []string{"segment size 1024"},
		},
		{
			name: "unknown sync policy",
			setup: func(t *testing.T, dir string) (string, []string) {
				return filepath.Join(dir, "data"), []string{"--sync", "sometimes"}
			},
			want: []string{"store.sync", "sometimes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cred *syscall.Credential
			dir := t.TempDir()
			if tt.asNobody && os.Geteuid() == 0 {
				cred = &syscall.Credential{Uid: 65534, Gid: 65534}
				// nobody must reach the binary and the folder.
				for _, d := range []string{filepath.Dir(binPath), dir, filepath.Dir(dir)} {
					if err := os.Chmod(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			data, extra := tt.setup(t, dir)
			before := listing(t, data)
			addr, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"serve", "--data", data, "--stomp", addr}, servertest.ListenersOff("stomp")...), extra...)
			code, out := runToExitAs(t, cred, args...)
			if code == 0 {
				t.Fatalf("exit status 0, want a refusal; output:\n%s", out)
			}
			if strings.Contains(out, "junction ready") || strings.Contains(out, "panic") {
				t.Fatalf("want a refusal before any listener opens, got:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if after := listing(t, data); !slices.Equal(before, after) {
				t.Errorf("the refusal changed the folder: before %v, after %v", before, after)
			}
		})
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesFolderInUse: a second broker on a running broker's folder
// exits at once, naming the lock, and the first one keeps running.
func TestServeRefusesFolderInUse(t *testing.T) {
	data := dataDir(t)
	first := startBroker(t, data, "")
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	code, out := runToExit(t, append([]string{"serve", "--data", data, "--stomp", addr}, servertest.ListenersOff("stomp")...)...)
	if code == 0 || !strings.Contains(out, "in use") {
		t.Errorf("second broker on the same folder: exit %d, want non-zero naming the lock:\n%s", code, out)
	}
	c, err := dialSTOMP(first.addr)
	if err != nil {
		t.Fatalf("the first broker stopped serving: %v", err)
	}
	c.nc.Close()
	if err := first.stop(); err != nil {
		t.Errorf("first broker: %v\n%s", err, first.logTail())
	}
}

// TestCorruptSegmentNeedsRepair: damage in the middle of the journal (a
// flipped byte in a sealed segment, not a torn write at its end) stops the
// broker from starting, with a message that says where and mentions repair;
// --repair starts it, losing only the damaged record's messages.
func TestCorruptSegmentNeedsRepair(t *testing.T) {
	const sent, maxFiller = 300, 200
	data := dataDir(t)
	cfg := writeConfig(t, data, "store:\n  segment-size: 4KiB\n")
	b := startBroker(t, data, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := producer{addr: b.addr, window: 16, maxFiller: maxFiller, limit: sent, dest: func(int) string { return mainQueue }}.run(ctx)
	if rep.err != nil || len(rep.confirmed) != sent {
		t.Fatalf("%d of %d confirmed: %v", len(rep.confirmed), sent, rep.err)
	}
	if err := b.stop(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}

	r, err := journal.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	// A segment with messages but not the queue's binding: losing the
	// binding would orphan every message of the queue, not just the
	// damaged record's.
	var victim string
	for _, s := range r.Segments {
		if s.Sealed && s.Records > 1 && s.Ops["add-message"] > 0 && s.Ops["put-binding"] == 0 && s.Ops["copy-binding"] == 0 {
			victim = filepath.Join(data, s.File)
			break
		}
	}
	if victim == "" {
		t.Fatalf("no sealed segment with live records in:\n%+v", r.Segments)
	}
	seg, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	// Segment header (32 bytes), record header (16 bytes), then the first
	// record's payload: flip a byte inside it.
	seg[32+16+3] ^= 0x40
	if err := os.WriteFile(victim, seg, 0o644); err != nil {
		t.Fatal(err)
	}

	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	code, out := runToExit(t, append([]string{"serve", "--config", cfg, "--data", data, "--stomp", addr}, servertest.ListenersOff("stomp")...)...)
	if code == 0 || !strings.Contains(out, "corrupt data in "+victim) || !strings.Contains(out, "repair") {
		t.Fatalf("start on a damaged journal: exit %d, want a refusal naming %s and repair:\n%s", code, victim, out)
	}

	b = startBroker(t, data, cfg, "--repair")
	rec, ok := b.recovery()
	if !ok || rec.queues != 1 || rec.refs >= sent || rec.refs < sent/2 || rec.messages != rec.refs {
		t.Errorf("--repair recovered %+v (found: %v); want the queue and all but the damaged record's few of the %d messages", rec, ok, sent)
	}
	if !strings.Contains(b.logTail(), "journal repair") {
		t.Errorf("--repair did not log the repair:\n%s", b.logTail())
	}
	if err := b.stop(); err != nil {
		t.Errorf("clean stop after repair: %v\n%s", err, b.logTail())
	}
	// The repair is on disk: a plain start now works.
	b = startBroker(t, data, cfg)
	if rec2, _ := b.recovery(); rec2.refs != rec.refs {
		t.Errorf("after the repair, a plain start recovered %d references, the repairing start %d", rec2.refs, rec.refs)
	}
	if err := b.stop(); err != nil {
		t.Errorf("clean stop: %v", err)
	}
}
