package journal

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionmq/junction/storage"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	j, _ := openT(t, dir, opts)
	mustApply(t, j, putOp(storage.BindingQueue, "q", "queue"))
	for i := 1; i <= 40; i++ {
		mustApply(t, j, msgOp(uint64(i), payload(i)), refOp(1, uint64(i)))
	}
	for i := 1; i <= 10; i++ {
		mustApply(t, j, ackOp(1, uint64(i)))
	}

	rep, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.InUse {
		t.Error("Inspect of an open journal does not say it is in use")
	}
	j.Close()

	before := readDirFiles(t, dir)
	rep, err = Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after := readDirFiles(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Fatal("Inspect changed the folder")
	}
	if rep.InUse || rep.FormatVersion != baseVersion {
		t.Errorf("report %+v", rep)
	}
	if rep.LiveMessages != 40 || rep.LiveRefs != 30 || rep.LiveBindings != 1 {
		t.Fatalf("live %d/%d/%d", rep.LiveMessages, rep.LiveRefs, rep.LiveBindings)
	}
	ops := map[string]int64{}
	var sealed, tails int
	for _, s := range rep.Segments {
		for k, v := range s.Ops {
			ops[k] += v
		}
		if s.Sealed {
			sealed++
		}
		if s.Tail {
			tails++
		}
		if !s.Unused && (s.LiveRatio <= 0 || s.LiveRatio > 1 || s.UsedBytes <= segHeaderSize) {
			t.Errorf("segment %+v", s)
		}
	}
	if ops["add-message"] != 40 || ops["add-ref"] != 40 || ops["ack"] != 10 || ops["put-binding"] != 1 {
		t.Fatalf("op counts %v", ops)
	}
	if sealed == 0 || tails != 1 {
		t.Fatalf("%d sealed, %d tails", sealed, tails)
	}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{segName(1), "add-message=", "sealed", "tail", "40 messages"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("text report lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

func TestInspectReportsDamage(t *testing.T) {
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	base, _, _ := damageJournal(t, opts)
	dir := copyDir(t, base)
	first := filepath.Join(dir, segFiles(t, dir)[0])
	b, _ := os.ReadFile(first)
	b[200] ^= 1
	os.WriteFile(first, b, 0o644)
	rep, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) == 0 || !strings.Contains(rep.Damage[0], segName(1)) {
		t.Fatalf("damage not reported: %v", rep.Damage)
	}
}

func TestInspectRejectsForeignFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if _, err := Inspect(dir); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("Inspect: %v", err)
	}
}

// TestDiskFootprint: a stored 100-byte message with its reference takes at
// most 200 bytes of journal, framing included, even written one per record.
func TestDiskFootprint(t *testing.T) {
	for _, producers := range []int{1, 8} {
		dir := t.TempDir()
		j, _ := openT(t, dir, Options{})
		const n = 400
		done := make(chan error, n)
		data := bytes.Repeat([]byte{'m'}, 100)
		for p := range producers {
			go func() {
				for i := p; i < n; i += producers {
					id := uint64(i + 1)
					done <- applyWait(t, j, []storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: data}, refOp(1, id)}, true)
				}
			}()
		}
		for range n {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		st := j.Detail()
		j.Close()
		per := float64(st.UsedBytes-segHeaderSize) / n
		t.Logf("%d producers: %.1f bytes per message (%d groups)", producers, per, st.Groups)
		if per > 200 {
			t.Fatalf("%.1f bytes per message", per)
		}
	}
}
