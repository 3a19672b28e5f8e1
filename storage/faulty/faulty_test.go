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
