// Package memory is a Store that keeps its state in process memory. It is the
// store for brokers that need no persistence, and it lets tests exercise the
// core's recovery by reopening a broker on the same Store value.
package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/junctionmq/junction/storage"
)

type refKey struct{ queue, msg uint64 }

type refState struct {
	seq           uint64
	deliveryCount uint32
	scheduledAt   int64
}

type bindingKey struct {
	kind storage.BindingKind
	key  string
}

// Store is an in-memory storage.Store. The zero value is not usable; call New.
type Store struct {
	storage.Notifier

	mu       sync.Mutex
	closed   bool
	seq      uint64
	messages map[uint64][]byte
	refs     map[refKey]refState
	bindings map[bindingKey][]byte
	bytes    int64 // of messages and bindings
	applies  uint64
	errors   uint64
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		messages: make(map[uint64][]byte),
		refs:     make(map[refKey]refState),
		bindings: make(map[bindingKey][]byte),
	}
}

// Apply implements storage.Store.
func (s *Store) Apply(ops []storage.Op, sync bool, done func(error)) {
	s.mu.Lock()
	if s.closed {
		s.errors++
		s.mu.Unlock()
		done(storage.ErrClosed)
		return
	}
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case storage.OpAddMessage:
			s.bytes += int64(len(op.Data) - len(s.messages[op.MsgID]))
			s.messages[op.MsgID] = slices.Clone(op.Data)
		case storage.OpDeleteMessage:
			s.bytes -= int64(len(s.messages[op.MsgID]))
			delete(s.messages, op.MsgID)
		case storage.OpAddRef:
			s.seq++
			s.refs[refKey{op.QueueID, op.MsgID}] = refState{s.seq, op.DeliveryCount, op.ScheduledAt}
		case storage.OpAck:
			delete(s.refs, refKey{op.QueueID, op.MsgID})
		case storage.OpUpdateRef:
			k := refKey{op.QueueID, op.MsgID}
			if r, ok := s.refs[k]; ok {
				r.deliveryCount, r.scheduledAt = op.DeliveryCount, op.ScheduledAt
				s.refs[k] = r
			}
		case storage.OpPutBinding:
			k := bindingKey{op.Binding, op.Key}
			if old, ok := s.bindings[k]; ok {
				s.bytes -= int64(len(k.key) + len(old))
			}
			s.bindings[k] = slices.Clone(op.Data)
			s.bytes += int64(len(k.key) + len(op.Data))
		case storage.OpDeleteBinding:
			k := bindingKey{op.Binding, op.Key}
			if old, ok := s.bindings[k]; ok {
				s.bytes -= int64(len(k.key) + len(old))
				delete(s.bindings, k)
			}
		}
	}
	s.applies++
	s.mu.Unlock()
	done(nil)
}

// Load implements storage.Store.
func (s *Store) Load(ctx context.Context, r storage.Recovery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.bindings {
		if err := r.Binding(k.kind, k.key, v); err != nil {
			return err
		}
	}
	for id, data := range s.messages {
		if err := r.Message(id, data); err != nil {
			return err
		}
	}
	type ref struct {
		k refKey
		s refState
	}
	refs := make([]ref, 0, len(s.refs))
	for k, st := range s.refs {
		refs = append(refs, ref{k, st})
	}
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Compare(a.s.seq, b.s.seq) })
	for _, x := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.Ref(x.k.queue, x.k.msg, x.s.deliveryCount, x.s.scheduledAt); err != nil {
			return err
		}
	}
	return nil
}

// Close implements storage.Store. A closed memory store can be reopened with
// Reopen, which tests use to simulate a restart.
func (s *Store) Close() error {
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	if !was {
		s.Changed()
	}
	return nil
}

// Reopen makes a closed store usable again with its state intact.
func (s *Store) Reopen() {
	s.mu.Lock()
	was := s.closed
	s.closed = false
	s.mu.Unlock()
	if was {
		s.Changed()
	}
}

// Health implements storage.Store: memory never fails to write.
func (s *Store) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	return nil
}

// Pressure implements storage.Store: Apply completes at once, so nothing
// queues.
func (s *Store) Pressure() bool { return false }

// Stats implements storage.Store.
func (s *Store) Stats() storage.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := storage.Stats{
		Messages: len(s.messages), Refs: len(s.refs), Bindings: len(s.bindings),
		Bytes: s.bytes, Applies: s.applies, Errors: s.errors,
	}
	if s.closed {
		st.Unavailable = storage.ErrClosed
	}
	return st
}
