package journal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

// state is what a store recovers, in comparable form.
type state struct {
	bindings map[string]string // "kind/key" -> data
	messages map[uint64]string
	refs     []string // "q/m/dc/sched" in recovery order
	phase    int      // recovery order check: 0 bindings, 1 messages, 2 refs
	orderErr string
}

func newState() *state {
	return &state{bindings: map[string]string{}, messages: map[uint64]string{}}
}

func (s *state) Binding(kind storage.BindingKind, key string, data []byte) error {
	if s.phase > 0 {
		s.orderErr = "binding after messages or refs"
	}
	s.bindings[fmt.Sprintf("%d/%s", kind, key)] = string(data)
	return nil
}

func (s *state) Message(id uint64, data []byte) error {
	if s.phase > 1 {
		s.orderErr = "message after refs"
	}
	s.phase = 1
	s.messages[id] = string(data)
	return nil
}

func (s *state) Ref(q, m uint64, dc uint32, sched int64) error {
	s.phase = 2
	s.refs = append(s.refs, fmt.Sprintf("%d/%d/%d/%d", q, m, dc, sched))
	return nil
}

func (s *state) equal(o *state) bool {
	if len(s.bindings) != len(o.bindings) || len(s.messages) != len(o.messages) || !slices.Equal(s.refs, o.refs) {
		return false
	}
	for k, v := range s.bindings {
		if w, ok := o.bindings[k]; !ok || v != w {
			return false
		}
	}
	for k, v := range s.messages {
		if w, ok := o.messages[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func (s *state) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bindings, %d messages, %d refs", len(s.bindings), len(s.messages), len(s.refs))
	if len(s.refs) <= 12 {
		fmt.Fprintf(&b, " %v", s.refs)
	}
	return b.String()
}

// memState is the reference: the state the memory store holds after ops.
func memState(t testing.TB, batches [][]storage.Op) *state {
	t.Helper()
	m := memory.New()
	for _, ops := range batches {
		m.Apply(ops, true, func(error) {})
	}
	s := newState()
	if err := m.Load(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// quietLogger discards logs; logBuffer keeps them for assertions.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type logBuffer struct{ testkit.LogBuffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openT opens and loads a journal, returning it with the recovered state.
func openT(t testing.TB, dir string, opts Options) (*Journal, *state) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	s := newState()
	if err := j.Load(context.Background(), s); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.orderErr != "" {
		t.Fatalf("recovery order: %s", s.orderErr)
	}
	return j, s
}

// loadDir opens, loads and closes dir; the error is Open's or Load's.
func loadDir(dir string, opts Options) (*state, error) {
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	j, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	s := newState()
	if err := j.Load(context.Background(), s); err != nil {
		return nil, err
	}
	return s, nil
}

const waitTimeout = 10 * time.Second

// applyWait applies ops and waits for done.
func applyWait(t testing.TB, j *Journal, ops []storage.Op, sync bool) error {
	t.Helper()
	ch := make(chan error, 1)
	j.Apply(ops, sync, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("done not called within %v", waitTimeout)
		return nil
	}
}

func mustApply(t testing.TB, j *Journal, ops ...storage.Op) {
	t.Helper()
	if err := applyWait(t, j, ops, true); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// copyDir copies the regular files of src into a new temporary folder.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	copyDirTo(t, src, dst)
	return dst
}

func copyDirTo(t testing.TB, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// segFiles lists the segment files of dir (pool excluded).
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	l, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range l.segs {
		out = append(out, s.name)
	}
	return out
}

func msgOp(id uint64, data string) storage.Op {
	return storage.Op{Kind: storage.OpAddMessage, MsgID: id, Data: []byte(data)}
}

func refOp(q, m uint64) storage.Op {
	return storage.Op{Kind: storage.OpAddRef, QueueID: q, MsgID: m}
}

func ackOp(q, m uint64) storage.Op {
	return storage.Op{Kind: storage.OpAck, QueueID: q, MsgID: m}
}

func delOp(m uint64) storage.Op {
	return storage.Op{Kind: storage.OpDeleteMessage, MsgID: m}
}

func putOp(kind storage.BindingKind, key, data string) storage.Op {
	return storage.Op{Kind: storage.OpPutBinding, Binding: kind, Key: key, Data: []byte(data)}
}

// scratchDir is a temporary folder on tmpfs when there is one: tests that
// copy journals thousands of times test recovery logic, not the disk.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "journaltest")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// readDirFiles returns the regular files of dir by name.
func readDirFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

func writeDirFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Adapter binding kinds as an adapter's records use them; the numbers are the
// ones MQTT has always written (sessions 3, retained messages 4).
const (
	kindSession  storage.BindingKind = 3
	kindRetained storage.BindingKind = 4
)
