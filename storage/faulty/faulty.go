// Package faulty wraps a storage.Store so that tests can make it fail on
// demand: every operation kind, synchronous and asynchronous batches, now or
// after a number of batches, and reads of paged references (storage.Pager).
// Tests above the store (core, adapters) use it to check that nothing is
// confirmed that was not stored.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/junctionmq/junction/storage"
)

// ErrInjected is the error a Store returns when a rule fires.
var ErrInjected = errors.New("faulty: injected store failure")

// Rule decides whether a batch fails. A nil Rule never fails.
type Rule func(ops []storage.Op, sync bool) error

// Store is a storage.Store that consults a Rule before passing a batch on.
// A failed batch is not written to the inner store. Rules fail single
// batches; Break fails the store as a whole, as a full disk fails a journal:
// Health reports it and watchers are told.
type Store struct {
	storage.Notifier
	inner   storage.Store
	mu      sync.Mutex
	rule    Rule
	fails   int
	broken  error
	pressed bool
	read    ReadRule
	reads   int
}

// ReadRule decides whether a ReadPaged of queue q fails (nil: it does not).
// It runs outside the Store's lock, so it may also hold the read back.
type ReadRule func(q uint64) error

var (
	_ storage.Store = (*Store)(nil)
	// A wrapped store pages when its inner store does (every store of
	// the project does): paging is tested under faults like the rest.
	_ storage.Pager = (*Store)(nil)
)

// ErrNotPager is what ReadPaged returns when the inner store does not page.
var ErrNotPager = errors.New("faulty: the wrapped store does not implement storage.Pager")

// Wrap returns a Store passing everything to inner until a rule is set.
func Wrap(inner storage.Store) *Store {
	s := &Store{inner: inner}
	inner.Notify(s.Changed)
	return s
}

// Break makes every later Apply fail with err (ErrInjected if nil) and
// Health report it, until Heal.
func (s *Store) Break(err error) {
	if err == nil {
		err = ErrInjected
	}
	s.mu.Lock()
	s.broken = err
	s.mu.Unlock()
	s.Changed()
}

// Press makes Pressure report on (or, with false, the inner store's).
func (s *Store) Press(on bool) {
	s.mu.Lock()
	s.pressed = on
	s.mu.Unlock()
	s.Changed()
}

// Heal undoes Break.
func (s *Store) Heal() {
	s.mu.Lock()
	s.broken = nil
	s.mu.Unlock()
	s.Changed()
}

// Set installs rule (nil to stop failing).
func (s *Store) Set(rule Rule) { s.mu.Lock(); s.rule = rule; s.mu.Unlock() }

// SetRead installs a rule for ReadPaged (nil to stop failing reads).
func (s *Store) SetRead(rule ReadRule) { s.mu.Lock(); s.read = rule; s.mu.Unlock() }

// ReadFailures counts the ReadPaged calls failed so far.
func (s *Store) ReadFailures() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// ReadPaged implements storage.Pager: it fails while the store is broken
// (a database that is away cannot be read either) or when the read rule
// says so, reporting nothing; else it reads the inner store.
func (s *Store) ReadPaged(q uint64, after uint64, max int, fn func(p storage.PagedRef) error) error {
	s.mu.Lock()
	err, rule := s.broken, s.read
	s.mu.Unlock()
	if rule != nil && err == nil {
		err = rule(q) // outside the lock: a test's rule may block the read
	}
	if err != nil {
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
		return fmt.Errorf("reading paged references of queue %d: %w", q, err)
	}
	p, ok := s.inner.(storage.Pager)
	if !ok {
		return ErrNotPager
	}
	return p.ReadPaged(q, after, max, fn)
}

// Failures counts the batches failed so far.
func (s *Store) Failures() int { s.mu.Lock(); defer s.mu.Unlock(); return s.fails }

// Apply implements storage.Store.
func (s *Store) Apply(ops []storage.Op, sync bool, done func(error)) {
	s.mu.Lock()
	rule := s.rule
	err := s.broken
	if rule != nil && err == nil {
		err = rule(ops, sync)
	}
	if err != nil {
		s.fails++
	}
	s.mu.Unlock()
	if err != nil {
		done(err)
		return
	}
	s.inner.Apply(ops, sync, done)
}

// Load implements storage.Store.
func (s *Store) Load(ctx context.Context, r storage.Recovery) error { return s.inner.Load(ctx, r) }

// Close implements storage.Store.
func (s *Store) Close() error { return s.inner.Close() }

// Health implements storage.Store: the Break error, else the inner store's.
func (s *Store) Health() error {
	s.mu.Lock()
	err := s.broken
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.inner.Health()
}

// Pressure implements storage.Store.
func (s *Store) Pressure() bool {
	s.mu.Lock()
	on := s.pressed
	s.mu.Unlock()
	return on || s.inner.Pressure()
}

// Stats implements storage.Store: the inner store's, with the injected
// failures counted as errors.
func (s *Store) Stats() storage.Stats {
	st := s.inner.Stats()
	s.mu.Lock()
	st.Errors += uint64(s.fails)
	if s.broken != nil {
		st.Unavailable = s.broken
	}
	st.Pressure = st.Pressure || s.pressed
	s.mu.Unlock()
	return st
}

// ReadAlways fails every ReadPaged.
func ReadAlways() ReadRule { return func(uint64) error { return ErrInjected } }

// ReadAfter lets n ReadPaged calls through, then applies rule to every later one.
func ReadAfter(n int, rule ReadRule) ReadRule {
	var mu sync.Mutex
	return func(q uint64) error {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			n--
			return nil
		}
		return rule(q)
	}
}

// Always fails every batch.
func Always() Rule { return func([]storage.Op, bool) error { return ErrInjected } }

// OnKind fails every batch that holds an operation of one of kinds.
func OnKind(kinds ...storage.OpKind) Rule {
	return func(ops []storage.Op, _ bool) error {
		for i := range ops {
			for _, k := range kinds {
				if ops[i].Kind == k {
					return ErrInjected
				}
			}
		}
		return nil
	}
}

// SyncOnly fails synchronous batches (durable sends, commits) only.
func SyncOnly() Rule {
	return func(_ []storage.Op, sync bool) error {
		if sync {
			return ErrInjected
		}
		return nil
	}
}

// After lets n batches through, then applies rule to every later one.
func After(n int, rule Rule) Rule {
	var mu sync.Mutex
	return func(ops []storage.Op, sync bool) error {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			n--
			return nil
		}
		return rule(ops, sync)
	}
}
