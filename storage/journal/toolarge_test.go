package journal

import (
	"errors"
	"testing"

	"github.com/junctionmq/junction/storage"
)

// TestApplyTooLarge: operations that cannot fit one record are refused at
// once with ErrTooLarge, nothing of them is written, and the journal goes
// on working. The batch shares one 1 MiB buffer among 2049 messages, so the
// test allocates little. Catches the mutation "the size is reported with a
// plain error" (callers test errors.Is(err, ErrTooLarge)); a mutation that
// let the batch through would make the journal write 2 GiB, which is not
// something to try on a shared machine.
func TestApplyTooLarge(t *testing.T) {
	dir := t.TempDir()
	j, _ := openT(t, dir, Options{})
	data := make([]byte, 1<<20)
	ops := make([]storage.Op, 0, 2049)
	for i := range cap(ops) {
		ops = append(ops, storage.Op{Kind: storage.OpAddMessage, MsgID: uint64(100 + i), Data: data})
	}
	var got error
	called := false
	j.Apply(ops, true, func(err error) { got, called = err, true })
	if !called {
		t.Fatal("done not called before Apply returned")
	}
	if !errors.Is(got, ErrTooLarge) {
		t.Fatalf("Apply of more than MaxApplySize: %v, want ErrTooLarge", got)
	}
	mustApply(t, j, msgOp(1, "after"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := loadDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.messages) != 1 {
		t.Fatalf("recovered %d messages, want only the one after the refusal", len(st.messages))
	}
}
