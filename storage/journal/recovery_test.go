package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionmq/junction/storage"
)

// damageJournal builds a small journal whose segments are never freed (every
// one keeps a live message) and where every Apply is one record, and returns
// its folder, the batches applied, and the reference state after each prefix
// of them.
func damageJournal(t *testing.T, opts Options) (string, [][]storage.Op, []*state) {
	t.Helper()
	dir := t.TempDir()
	j, _ := openT(t, dir, opts)
	var batches [][]storage.Op
	for i := uint64(1); i <= 46; i++ {
		ops := []storage.Op{msgOp(i, strings.Repeat(string(rune('a'+i%26)), int(10+i*3))), refOp(1+i%2, i)}
		switch {
		case i%5 == 0:
			ops = append(ops, ackOp(1+(i-1)%2, i-1), storage.Op{Kind: storage.OpUpdateRef, QueueID: 1 + (i-2)%2, MsgID: i - 2, DeliveryCount: uint32(i), ScheduledAt: int64(i)})
		case i%7 == 0:
			ops = append(ops, putOp(storage.BindingQueue, fmt.Sprintf("q%d", i%3), fmt.Sprintf("v%d", i)))
		case i%11 == 0:
			ops = []storage.Op{{Kind: storage.OpDeleteBinding, Binding: storage.BindingQueue, Key: "q0"}}
		}
		batches = append(batches, ops)
		mustApply(t, j, ops...)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	st := j.Detail()
	if st.Groups != uint64(len(batches)) || st.SegmentsFreed != 0 {
		t.Fatalf("setup: %d groups for %d applies, %d segments freed", st.Groups, len(batches), st.SegmentsFreed)
	}
	states := make([]*state, len(batches)+1)
	for k := range states {
		states[k] = memState(t, batches[:k])
	}
	return dir, batches, states
}

// recordEnds returns, per segment file, the end offsets (padding included)
// of its batch records, in order.
func recordEnds(t *testing.T, dir string) (map[string][]int, []string) {
	t.Helper()
	ends := map[string][]int{}
	var order []string
	for _, name := range segFiles(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		h, err := decodeSegHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, name)
		for off := segHeaderSize; ; {
			rc, st := readRecord(data, off, recKeyOf(h.tag, uint32(h.seq)))
			if st != recOK {
				break
			}
			if rc.typ == recBatch {
				ends[name] = append(ends[name], off+rc.size)
			}
			off += rc.size
			if rc.typ == recSeal {
				break
			}
		}
	}
	return ends, order
}

// TestRecoveryDamageEverywhere damages a copy of a small journal at every
// byte offset of every file (a bit flip, a truncation, a torn write that
// zeroes the rest) and checks that Load either restores every record before
// the damage and nothing invented (a prefix of the applies), or refuses with
// a clear error; it must never panic or recover a wrong state.
func TestRecoveryDamageEverywhere(t *testing.T) {
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1, hooks: &hooks{noSync: true}}
	base, batches, states := damageJournal(t, opts)
	ends, order := recordEnds(t, base)
	if len(order) < 2 {
		t.Fatalf("setup: want at least 2 segments, have %v", order)
	}
	// kmin: applies whose records lie wholly before (file, off).
	kmin := func(file string, off int) int {
		k := 0
		for _, name := range order {
			if name == file {
				for _, e := range ends[name] {
					if e <= off {
						k++
					}
				}
				return k
			}
			k += len(ends[name])
		}
		return len(batches) // not a segment: nothing may be lost
	}
	files := readDirFiles(t, base)
	scratch := scratchDir(t)
	step := 1
	if testing.Short() {
		step = 7
	}
	type damage struct {
		name  string
		apply func(b []byte, off int) []byte
	}
	damages := []damage{
		{"flip", func(b []byte, off int) []byte { b[off] ^= 1 << (off % 8); return b }},
		{"truncate", func(b []byte, off int) []byte { return b[:off] }},
		{"torn", func(b []byte, off int) []byte { clear(b[off:]); return b }},
	}
	var loads, refused, truncated int
	for name, orig := range files {
		limit := len(orig)
		if ee := ends[name]; len(ee) > 0 {
			// Damage up to a little past the data: beyond it the file holds
			// zeros that no reader looks at.
			limit = min(len(orig), ee[len(ee)-1]+sealSize+2*recHeaderSize)
		}
		if isSeg, _ := parseSegName(name); isSeg != 0 && len(ends[name]) == 0 {
			limit = min(len(orig), segHeaderSize+2*recHeaderSize) // the unused prepared segment
		}
		for _, d := range damages {
			for off := 0; off < limit; off += step {
				if d.name == "torn" && off%recAlign != 0 {
					continue
				}
				dir, err := os.MkdirTemp(scratch, "d")
				if err != nil {
					t.Fatal(err)
				}
				writeDirFiles(t, dir, files)
				b := d.apply(append([]byte(nil), orig...), off)
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
				got, err := loadDir(dir, opts)
				loads++
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotJournal) && !errors.Is(err, ErrNewerVersion) {
						t.Fatalf("%s %s@%d: unclear error %v", d.name, name, off, err)
					}
					var ce *CorruptError
					if errors.As(err, &ce) && !strings.HasSuffix(ce.File, ".seg") {
						t.Fatalf("%s %s@%d: corruption error names no segment: %v", d.name, name, off, err)
					}
					refused++
				} else {
					k := -1
					for i := len(states) - 1; i >= kmin(name, off); i-- {
						if got.equal(states[i]) {
							k = i
							break
						}
					}
					if k < 0 {
						t.Fatalf("%s %s@%d: recovered %v, which is no state after %d or more applies", d.name, name, off, got, kmin(name, off))
					}
					if k < len(batches) {
						truncated++
					}
				}
				os.RemoveAll(dir)
			}
		}
	}
	t.Logf("%d damaged loads: %d refused with a clear error, %d recovered a shorter prefix, %d recovered everything",
		loads, refused, truncated, loads-refused-truncated)
	if refused == 0 || truncated == 0 {
		t.Fatal("the damage never hit both the middle and the tail")
	}
}

func TestTornTailIsTruncatedWithWarning(t *testing.T) {
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	base, batches, states := damageJournal(t, opts)
	ends, order := recordEnds(t, base)
	tail := order[len(order)-1]
	for len(ends[tail]) == 0 { // the prepared, unused segment
		order = order[:len(order)-1]
		tail = order[len(order)-1]
	}
	te := ends[tail]
	cases := []struct {
		name string
		off  int // damage offset in the tail segment
		keep int // applies expected back
	}{
		{"half of the last record", te[len(te)-2] + 20, len(batches) - 1},
		{"header of the last record", te[len(te)-2] + 2, len(batches) - 1},
		{"end marker", te[len(te)-1] + 3, len(batches)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base)
			path := filepath.Join(dir, tail)
			b, _ := os.ReadFile(path)
			b[tc.off] ^= 0x55
			os.WriteFile(path, b, 0o644)
			var logs logBuffer
			opts := opts
			opts.Logger = logs.logger()
			j, got := openT(t, dir, opts)
			if !got.equal(states[tc.keep]) {
				t.Fatalf("recovered %v, want %v", got, states[tc.keep])
			}
			if !j.Detail().TruncatedTail || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn write") {
				t.Fatalf("no truncation reported; logs:\n%s", logs.String())
			}
			// Writing goes on after the last good record, and the next start
			// is clean.
			mustApply(t, j, msgOp(1000, "after"), refOp(1, 1000))
			j.Close()
			logs = logBuffer{}
			opts.Logger = logs.logger()
			j, got = openT(t, dir, opts)
			defer j.Close()
			want := memState(t, append(append([][]storage.Op(nil), batches[:tc.keep]...), []storage.Op{msgOp(1000, "after"), refOp(1, 1000)}))
			if !got.equal(want) {
				t.Fatalf("after restart: %v, want %v", got, want)
			}
			if j.Detail().TruncatedTail || strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("second start reported damage again:\n%s", logs.String())
			}
		})
	}
}

func TestMiddleCorruptionStopsLoadUnlessRepair(t *testing.T) {
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	base, batches, _ := damageJournal(t, opts)
	ends, order := recordEnds(t, base)
	first, tail := order[0], order[len(order)-1]
	if len(ends[tail]) == 0 {
		tail = order[len(order)-2]
	}
	cases := []struct {
		name   string
		file   string
		record int // index of the damaged record within the file
		skip   int // index of the apply that record holds
	}{
		{"sealed segment", first, 3, 3},
		{"tail segment, records follow", tail, 1, len(ends[first]) + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base)
			path := filepath.Join(dir, tc.file)
			b, _ := os.ReadFile(path)
			start := segHeaderSize
			if tc.record > 0 {
				start = ends[tc.file][tc.record-1]
			}
			b[start+recHeaderSize+5] ^= 0x80
			os.WriteFile(path, b, 0o644)

			_, err := loadDir(dir, opts)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != path || ce.Offset != int64(start) {
				t.Fatalf("Load: %v, want a corruption error at %s:%d", err, path, start)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), fmt.Sprint(start)) {
				t.Fatalf("error does not name file and offset: %v", err)
			}

			var logs logBuffer
			ropts := opts
			ropts.Repair = true
			ropts.Logger = logs.logger()
			j, got := openT(t, dir, ropts)
			j.Close()
			var rest [][]storage.Op
			for i, ops := range batches {
				if i != tc.skip {
					rest = append(rest, ops)
				}
			}
			if want := memState(t, rest); !got.equal(want) {
				t.Fatalf("repaired: %v, want %v", got, want)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "repair") {
				t.Fatalf("repair was not loud:\n%s", logs.String())
			}
			// The repair is on disk: a plain start now succeeds.
			got2, err := loadDir(dir, opts)
			if err != nil || !got2.equal(got) {
				t.Fatalf("start after repair: %v, %v", err, got2)
			}
		})
	}
}

func TestRepairDamagedHeader(t *testing.T) {
	opts := Options{SegmentSize: 4096, CompactLiveRatio: -1}
	base, _, _ := damageJournal(t, opts)
	dir := copyDir(t, base)
	first := filepath.Join(dir, segFiles(t, dir)[0])
	b, _ := os.ReadFile(first)
	b[3] ^= 1
	os.WriteFile(first, b, 0o644)
	if _, err := loadDir(dir, opts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load: %v", err)
	}
	opts.Repair = true
	if _, err := loadDir(dir, opts); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if _, err := os.Stat(first + damagedSuffix); err != nil {
		t.Fatalf("damaged segment not kept aside: %v", err)
	}
}

func TestLoadHonoursContext(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{SegmentSize: 4096})
	for i := range 50 {
		mustApply(t, j, msgOp(uint64(i+1), "x"), refOp(1, uint64(i+1)))
	}
	j.Close()
	j, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Load(ctx, newState()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}
	if err := applyWait(t, j, []storage.Op{msgOp(1, "x")}, true); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("Apply after a failed Load: %v", err)
	}
}
