package journal

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
)

var recoverN = flag.Int("recover.n", 1_000_000, "messages stored for BenchmarkRecovery")

var msg100 = bytes.Repeat([]byte{'m'}, 100)

// BenchmarkApplySync measures confirmed Applies, each one 100-byte message
// and its reference, under the batch policy: producers each wait for their
// done before the next Apply, as a client waiting for its receipt does.
func BenchmarkApplySync(b *testing.B) {
	for _, producers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			j, _ := openT(b, b.TempDir(), Options{})
			defer j.Close()
			syncs := j.Detail().Syncs
			var wg sync.WaitGroup
			per := (b.N + producers - 1) / producers
			b.ResetTimer()
			start := time.Now()
			for p := range producers {
				wg.Go(func() {
					ch := make(chan error, 1)
					done := func(err error) { ch <- err }
					ops := make([]storage.Op, 2)
					for i := range per {
						id := uint64(p*per + i + 1)
						ops[0] = storage.Op{Kind: storage.OpAddMessage, MsgID: id, Data: msg100}
						ops[1] = storage.Op{Kind: storage.OpAddRef, QueueID: 1, MsgID: id}
						j.Apply(ops, true, done)
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
			b.ReportMetric(float64(j.Detail().Syncs-syncs)/n, "syncs/apply")
		})
	}
}

// BenchmarkApplyNoWait measures the writer's own throughput: sync=false,
// nobody waits.
func BenchmarkApplyNoWait(b *testing.B) {
	j, _ := openT(b, b.TempDir(), Options{SyncPolicy: storage.SyncNever})
	defer j.Close()
	var wg sync.WaitGroup
	wg.Add(b.N)
	done := func(error) { wg.Done() }
	b.ResetTimer()
	for i := range b.N {
		id := uint64(i + 1)
		j.Apply([]storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: msg100}, {Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}, false, done)
	}
	wg.Wait()
}

// countRecovery counts what Load hands over: the journal's own cost.
type countRecovery struct {
	bindings, refs, msgs int
	bytes                int
}

func (c *countRecovery) Binding(storage.BindingKind, string, []byte) error { c.bindings++; return nil }
func (c *countRecovery) Message(id uint64, data []byte) error {
	c.msgs++
	c.bytes += len(data)
	return nil
}
func (c *countRecovery) Ref(uint64, uint64, uint32, int64) error { c.refs++; return nil }

var (
	recoveryDirOnce sync.Once
	recoveryDir     string
)

// TestMain removes the recovery benchmark's journal, shared by its runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if recoveryDir != "" {
		os.RemoveAll(recoveryDir)
	}
	os.Exit(code)
}

// buildRecoveryDir stores *recoverN messages (each an add-message of 100
// bytes and an add-ref) once per run.
func buildRecoveryDir(b *testing.B) string {
	recoveryDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "journal-recovery-bench")
		if err != nil {
			b.Fatal(err)
		}
		j, _ := openT(b, dir, Options{SyncPolicy: storage.SyncNever})
		var wg sync.WaitGroup
		n := *recoverN
		wg.Add(n)
		done := func(err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		}
		for i := range n {
			id := uint64(i + 1)
			j.Apply([]storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: msg100}, {Kind: storage.OpAddRef, QueueID: uint64(1 + i%4), MsgID: id}}, false, done)
		}
		wg.Wait()
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		recoveryDir = dir
	})
	if recoveryDir == "" {
		b.Fatal("no recovery folder")
	}
	return recoveryDir
}

// BenchmarkRecovery measures Open+Load of a journal of *recoverN stored
// messages (files in the page cache, as after a broker restart).
func BenchmarkRecovery(b *testing.B) {
	dir := buildRecoveryDir(b)
	var used int64
	for _, f := range segFiles(b, dir) {
		st, _ := os.Stat(filepath.Join(dir, f))
		used += st.Size()
	}
	b.ResetTimer()
	for b.Loop() {
		cpu0 := cpuTime()
		j, err := Open(dir, Options{Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		r := &countRecovery{}
		if err := j.Load(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		if r.msgs != *recoverN || r.refs != *recoverN {
			b.Fatalf("recovered %d messages, %d refs", r.msgs, r.refs)
		}
		st := j.Detail()
		b.ReportMetric(st.RecoveryTime.Seconds()*1000, "ms/load")
		// CPU time, which other processes on a shared machine do not inflate.
		b.ReportMetric((cpuTime()-cpu0).Seconds()*1000, "cpu-ms/load")
		b.ReportMetric(float64(st.UsedBytes)/float64(*recoverN), "bytes/msg")
		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
}

// BenchmarkDiskBytesPerMessage reports journal bytes per stored 100-byte
// message with its reference, written by 16 producers.
func BenchmarkDiskBytesPerMessage(b *testing.B) {
	j, _ := openT(b, b.TempDir(), Options{})
	defer j.Close()
	var wg sync.WaitGroup
	per := (b.N + 15) / 16
	for p := range 16 {
		wg.Go(func() {
			ch := make(chan error, 1)
			for i := range per {
				id := uint64(p*per + i + 1)
				j.Apply([]storage.Op{{Kind: storage.OpAddMessage, MsgID: id, Data: msg100}, {Kind: storage.OpAddRef, QueueID: 1, MsgID: id}}, true, func(err error) { ch <- err })
				<-ch
			}
		})
	}
	wg.Wait()
	st := j.Detail()
	b.ReportMetric(float64(st.UsedBytes-segHeaderSize*int64(st.Segments))/float64(per*16), "bytes/msg")
}

// cpuTime is the process's user plus system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRawFdatasync measures the disk under the journal, not the
// journal: a write into a zero-filled file, then fdatasync, as the journal
// does for one group (160 bytes: one message; 4.5 KiB: about ten). Its
// latency bounds what producers that each wait for their confirmation can
// reach (see docs/PERFORMANCE.md).
func BenchmarkRawFdatasync(b *testing.B) {
	for _, n := range []int{160, 4608} {
		b.Run(fmt.Sprintf("bytes=%d", n), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const size = 32 << 20
			if err := zeroFill(f, 0, size, nil); err != nil {
				b.Fatal(err)
			}
			if err := fdatasync(f); err != nil {
				b.Fatal(err)
			}
			buf := bytes.Repeat([]byte{'g'}, n)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(buf, int64(i*n)%(size-int64(n))); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := fdatasync(f); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds()), "p90-µs")
		})
	}
}
