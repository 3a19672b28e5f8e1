// Package memory is a Store that keeps its state in process memory. It is the
// store for brokers that need no persistence, and it lets tests exercise the
// core's recovery by reopening a broker on the same Store value.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/junctionmq/junction/storage"
)

type refKey struct{ queue, msg uint64 }

type refState struct {
	seq           uint64
	deliveryCount uint32
	scheduledAt   int64
}

// paged is one paged reference; its position is the seq it was paged at,
// which it keeps as a reference once paged in, so Load orders it where the
// core queued it.
type paged struct {
	pos           uint64
	msg           uint64
	deliveryCount uint32
	scheduledAt   int64
	data          []byte
	gone          bool // paged in or dropped
}

// pagedQueue is one queue's paged references in position order; gone ones
// are trimmed from the front as the core pages in in order.
type pagedQueue struct {
	list  []paged
	count int64
	bytes int64
}

// after returns the index of the first reference after position pos.
func (q *pagedQueue) after(pos uint64) int {
	return sort.Search(len(q.list), func(i int) bool { return q.list[i].pos > pos })
}

func (q *pagedQueue) remove(i int) {
	q.list[i].gone = true
	q.count--
	q.bytes -= int64(len(q.list[i].data))
	q.list[i].data = nil
	for len(q.list) > 0 && q.list[0].gone {
		q.list = q.list[1:]
	}
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
	paged    map[uint64]*pagedQueue
	npaged   int64
	bytes    int64 // of messages, paged references and bindings
	applies  uint64
	errors   uint64
}

var (
	_ storage.Store = (*Store)(nil)
	_ storage.Pager = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		messages: make(map[uint64][]byte),
		refs:     make(map[refKey]refState),
		bindings: make(map[bindingKey][]byte),
		paged:    make(map[uint64]*pagedQueue),
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
		case storage.OpPageRef:
			s.seq++
			q := s.paged[op.QueueID]
			if q == nil {
				q = &pagedQueue{}
				s.paged[op.QueueID] = q
			}
			q.list = append(q.list, paged{s.seq, op.MsgID, op.DeliveryCount, op.ScheduledAt, slices.Clone(op.Data), false})
			q.count++
			q.bytes += int64(len(op.Data))
			s.npaged++
			s.bytes += int64(len(op.Data))
		case storage.OpPageIn:
			q := s.paged[op.QueueID]
			if q == nil {
				break
			}
			i := q.after(op.Pos - 1)
			if i == len(q.list) || q.list[i].pos != op.Pos || q.list[i].gone || q.list[i].msg != op.MsgID {
				break
			}
			p := q.list[i]
			s.messages[p.msg] = p.data
			s.refs[refKey{op.QueueID, p.msg}] = refState{p.pos, p.deliveryCount, p.scheduledAt}
			q.remove(i)
			s.npaged--
			if q.count == 0 {
				delete(s.paged, op.QueueID)
			}
		case storage.OpPageDrop:
			q := s.paged[op.QueueID]
			if q == nil {
				break
			}
			end := q.after(op.Pos)
			for i := range q.list[:end] {
				if p := &q.list[i]; !p.gone {
					s.bytes -= int64(len(p.data))
					q.count--
					q.bytes -= int64(len(p.data))
					s.npaged--
				}
			}
			q.list = q.list[end:]
			if q.count == 0 {
				delete(s.paged, op.QueueID)
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
	if len(s.paged) == 0 {
		return nil
	}
	pr, ok := r.(storage.PagedRecovery)
	if !ok {
		return fmt.Errorf("memory: %d paged references and a recovery that does not take them (storage.PagedRecovery)", s.npaged)
	}
	queues := make([]uint64, 0, len(s.paged))
	for q := range s.paged {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	for _, q := range queues {
		if err := pr.Paged(q, s.paged[q].count, s.paged[q].bytes); err != nil {
			return err
		}
	}
	return nil
}

// ReadPaged implements storage.Pager. It copies the references it reports
// under the lock and calls fn without it, so fn may Apply.
func (s *Store) ReadPaged(q uint64, after uint64, max int, fn func(storage.PagedRef) error) error {
	s.mu.Lock()
	var out []storage.PagedRef
	if pq := s.paged[q]; pq != nil {
		for i := pq.after(after); i < len(pq.list) && len(out) < max; i++ {
			if p := &pq.list[i]; !p.gone {
				out = append(out, storage.PagedRef{Pos: p.pos, MsgID: p.msg, DeliveryCount: p.deliveryCount, ScheduledAt: p.scheduledAt, Data: p.data})
			}
		}
	}
	s.mu.Unlock()
	for _, p := range out {
		if err := fn(p); err != nil {
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
		Messages: len(s.messages), Refs: len(s.refs), Paged: s.npaged, Bindings: len(s.bindings),
		Bytes: s.bytes, Applies: s.applies, Errors: s.errors,
	}
	if s.closed {
		st.Unavailable = storage.ErrClosed
	}
	return st
}
