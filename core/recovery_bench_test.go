package core

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/core/prop"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/journal"
)

var (
	recoverN   = flag.Int("recover.n", 1_000_000, "messages stored for BenchmarkRecoveryJournal")
	recoverDir = flag.String("recover.dir", "", "BenchmarkRecoveryJournal: recover a copy of this journal folder instead of a made-up one")
)

// recoveryBenchDir builds, once per run, a journal of *recoverN persistent
// 100-byte messages on one anycast queue, stored as the STOMP adapter
// stores a `junction bench --persistent` message (a content-length and a
// receipt-less header set). It returns a folder the benchmark copies for
// each iteration, so that every Load replays the same segments.
var recoveryBench struct {
	once sync.Once
	dir  string
	err  error
}

func recoveryBenchDir(b *testing.B) string {
	recoveryBench.once.Do(func() {
		dir, err := os.MkdirTemp("", "core-recovery-bench")
		if err != nil {
			recoveryBench.err = err
			return
		}
		recoveryBench.dir = dir
		if *recoverDir != "" {
			recoveryBench.err = exec.Command("cp", "-a", *recoverDir+"/.", dir).Run()
			return
		}
		j, err := journal.Open(dir, journal.Options{SyncPolicy: storage.SyncNever, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			recoveryBench.err = err
			return
		}
		if err := j.Load(context.Background(), discardRecovery{}); err != nil {
			recoveryBench.err = err
			return
		}
		info := QueueInfo{ID: 1, Name: "rec", Address: "rec", RoutingType: Anycast, Durable: true}
		data, _ := json.Marshal(info)
		ops := []storage.Op{{Kind: storage.OpPutBinding, Binding: storage.BindingQueue, Key: info.Name, Data: data}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		done := func(err error) {
			if err != nil {
				mu.Lock()
				recoveryBench.err = err
				mu.Unlock()
			}
			wg.Done()
		}
		wg.Add(1)
		j.Apply(ops, false, done)
		body := make([]byte, 100)
		now := time.Now().UnixMilli()
		for i := range *recoverN {
			m := &Message{ID: uint64(i + 1), Address: "rec", RoutingType: Anycast, Durable: true, Priority: DefaultPriority, Timestamp: now, Body: body}
			m.Properties = []prop.Property{{Name: "content-length", Value: prop.UntypedValue("100")}}
			wg.Add(1)
			j.Apply([]storage.Op{
				{Kind: storage.OpAddMessage, MsgID: m.ID, Data: EncodeMessage(nil, m)},
				{Kind: storage.OpAddRef, QueueID: 1, MsgID: m.ID},
			}, false, done)
		}
		wg.Wait()
		if err := j.Close(); err != nil && recoveryBench.err == nil {
			recoveryBench.err = err
		}
	})
	if recoveryBench.err != nil {
		b.Fatal(recoveryBench.err)
	}
	return recoveryBench.dir
}

type discardRecovery struct{}

func (discardRecovery) Binding(storage.BindingKind, string, []byte) error { return nil }
func (discardRecovery) Message(uint64, []byte) error                      { return nil }
func (discardRecovery) Ref(uint64, uint64, uint32, int64) error           { return nil }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecoveryJournal is what a broker does between its start and
// "junction ready" with a journal of stored messages: open the journal,
// replay it and rebuild the queues (Broker.Start). It reports the wall time
// and the process CPU time (robust on a shared machine) per recovery.
// go test -run NONE -bench RecoveryJournal -benchtime 3x ./core
// (-recover.n to change the count, -recover.dir to recover a copy of a real
// broker's data folder, -cpuprofile/-memprofile for where the time goes).
func BenchmarkRecoveryJournal(b *testing.B) {
	src := recoveryBenchDir(b)
	b.Cleanup(func() { os.RemoveAll(src) })
	work := filepath.Join(os.TempDir(), "core-recovery-bench-run")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(work)
		if err := exec.Command("cp", "-a", src, work).Run(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0, t0 := cpuNow(), time.Now()
		j, err := journal.Open(work, journal.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		br, err := New(Config{Store: j, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		st, err := br.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds()*1000, "ms/recovery")
		b.ReportMetric((cpuNow()-cpu0).Seconds()*1000, "cpu-ms/recovery")
		b.StopTimer()
		if *recoverDir == "" && st.Messages != *recoverN {
			b.Fatalf("recovered %d messages, want %d", st.Messages, *recoverN)
		}
		_ = br.Close()
		b.StartTimer()
	}
	b.StopTimer()
	os.RemoveAll(work)
}
