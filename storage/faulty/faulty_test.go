package faulty

import (
	"errors"
	"testing"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

func apply(s storage.Store, ops []storage.Op, sync bool) error {
	ch := make(chan error, 1)
	s.Apply(ops, sync, func(err error) { ch <- err })
	return <-ch
}

func TestRules(t *testing.T) {
	s := Wrap(memory.New())
	add := []storage.Op{{Kind: storage.OpAddMessage, MsgID: 1, Data: []byte("x")}}
	ack := []storage.Op{{Kind: storage.OpAck, QueueID: 1, MsgID: 1}}
	if err := apply(s, add, true); err != nil {
		t.Fatalf("no rule: %v", err)
	}
	s.Set(OnKind(storage.OpAck))
	if err := apply(s, add, true); err != nil {
		t.Fatalf("OnKind(ack) failed an add: %v", err)
	}
	if err := apply(s, ack, false); !errors.Is(err, ErrInjected) {
		t.Fatalf("OnKind(ack) let an ack through: %v", err)
	}
	s.Set(SyncOnly())
	if err := apply(s, ack, false); err != nil {
		t.Fatalf("SyncOnly failed an async batch: %v", err)
	}
	if err := apply(s, add, true); !errors.Is(err, ErrInjected) {
		t.Fatalf("SyncOnly let a sync batch through: %v", err)
	}
	s.Set(After(1, Always()))
	if err := apply(s, add, true); err != nil {
		t.Fatalf("After(1) failed the first batch: %v", err)
	}
	if err := apply(s, add, false); !errors.Is(err, ErrInjected) {
		t.Fatalf("After(1) let the second batch through: %v", err)
	}
	if got := s.Failures(); got != 3 {
		t.Fatalf("Failures = %d, want 3", got)
	}
}

// A wrapped store pages through to the inner one, and its reads of paged
// references fail on demand, reporting nothing.
func TestReadPaged(t *testing.T) {
	s := Wrap(memory.New())
	var p storage.Store = s
	pager, ok := p.(storage.Pager)
	if !ok {
		t.Fatal("a wrapped store is not a storage.Pager")
	}
	ref := []storage.Op{{Kind: storage.OpPageRef, QueueID: 7, MsgID: 1, Data: []byte("x")}}
	if err := apply(s, ref, true); err != nil {
		t.Fatal(err)
	}
	read := func() (int, error) {
		n := 0
		err := pager.ReadPaged(7, 0, 10, func(storage.PagedRef) error { n++; return nil })
		return n, err
	}
	if n, err := read(); err != nil || n != 1 {
		t.Fatalf("read through: %d refs, %v; want 1, nil", n, err)
	}
	s.SetRead(ReadAfter(1, ReadAlways()))
	if n, err := read(); err != nil || n != 1 {
		t.Fatalf("ReadAfter(1) failed the first read: %d, %v", n, err)
	}
	if n, err := read(); !errors.Is(err, ErrInjected) || n != 0 {
		t.Fatalf("ReadAfter(1) let the second read through: %d, %v", n, err)
	}
	s.SetRead(nil)
	s.Break(nil)
	if n, err := read(); !errors.Is(err, ErrInjected) || n != 0 {
		t.Fatalf("a broken store was read: %d, %v", n, err)
	}
	s.Heal()
	if n, err := read(); err != nil || n != 1 {
		t.Fatalf("after Heal: %d, %v", n, err)
	}
	if got := s.ReadFailures(); got != 2 {
		t.Fatalf("ReadFailures = %d, want 2", got)
	}
}
