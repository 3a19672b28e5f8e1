package postgres

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/storage"
)

var recoverN = flag.Int("recover.n", 1_000_000, "messages stored for BenchmarkRecovery")

var msg100 = bytes.Repeat([]byte{'m'}, 100)

// BenchmarkApplySync measures confirmed Applies, each one 100-byte message
// and its reference, with producers each waiting for their done before the
// next, as a client waiting for its receipt does: the group commit's
// figure.
func BenchmarkApplySync(b *testing.B) {
	for _, producers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			s, _ := openLoadedB(b, pgtest.DB(b))
			syncs := s.Stats().Syncs
			var wg sync.WaitGroup
			per := (b.N + producers - 1) / producers
			b.ResetTimer()
			start := time.Now()
			for p := range producers {
				wg.Go(func() {
					ch := make(chan error, 1)
					done := func(err error) { ch <- err }
					for i := range per {
						id := uint64(p*per + i + 1)
						s.Apply([]storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: msg100},
							{Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}, true, done)
						if err := <-ch; err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			n := float64(per * producers)
			b.ReportMetric(n/el.Seconds(), "applies/s")
			b.ReportMetric(float64(s.Stats().Syncs-syncs)/n, "commits/apply")
		})
	}
}

func openLoadedB(b *testing.B, url string) (*Store, int) {
	b.Helper()
	s, err := Open(context.Background(), Options{URL: url, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	r := &countRecovery{}
	if err := s.Load(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	return s, r.messages
}

type countRecovery struct{ bindings, messages, refs int }

func (r *countRecovery) Binding(storage.BindingKind, string, []byte) error { r.bindings++; return nil }
func (r *countRecovery) Message(uint64, []byte) error                      { r.messages++; return nil }
func (r *countRecovery) Ref(uint64, uint64, uint32, int64) error           { r.refs++; return nil }

// BenchmarkRecovery measures Open+Load of *recoverN stored 100-byte
// messages, each with one reference (the database's files in its cache, as
// after a broker restart).
func BenchmarkRecovery(b *testing.B) {
	url := pgtest.DB(b)
	s, _ := openLoadedB(b, url)
	const per = 5000
	fill := time.Now()
	ch := make(chan error, 1)
	for base := 0; base < *recoverN; base += per {
		ops := make([]storage.Op, 0, 2*per)
		for i := base; i < min(base+per, *recoverN); i++ {
			ops = append(ops, storage.Op{Kind: storage.OpAddMessage, MsgID: uint64(i + 1), Data: msg100},
				storage.Op{Kind: storage.OpAddRef, QueueID: uint64(i%4 + 1), MsgID: uint64(i + 1)})
		}
		s.Apply(ops, true, func(err error) { ch <- err })
		if err := <-ch; err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("stored %d messages in %v", *recoverN, time.Since(fill).Round(time.Millisecond))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		s, err := Open(context.Background(), Options{URL: url, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		opened := time.Since(start)
		r := &countRecovery{}
		if err := s.Load(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(opened.Seconds(), "s/open")
		if r.messages != *recoverN || r.refs != *recoverN {
			b.Fatalf("recovered %d messages, %d refs", r.messages, r.refs)
		}
		b.ReportMetric(el.Seconds(), "s/load")
		_ = s.Close()
	}
}
