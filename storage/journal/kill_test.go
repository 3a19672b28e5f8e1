package journal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

const killChildEnv = "JOURNAL_KILL9_DIR"

var killOpts = Options{SegmentSize: 16 << 10, CompactLiveRatio: 0.5}

// killBatch is the i-th Apply of the kill -9 workload: sends, acks that land
// far from their sends, updates, bindings, and some messages that stay, so
// that rollover, reclaim and compaction all run.
func killBatch(i int) []storage.Op {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	id := uint64(i + 1)
	switch {
	case i%13 == 0:
		return []storage.Op{putOp(kindSession, strconv.Itoa(r.IntN(5)), payload(i))}
	case i%2 == 1 && i > 40:
		// The send of 39 applies ago: acked, or (one in nine) kept and
		// updated, so that old segments keep a little live data.
		old := uint64(i - 39 + 1)
		if old%9 == 0 {
			return []storage.Op{{Kind: storage.OpUpdateRef, QueueID: 1, MsgID: old, DeliveryCount: uint32(i)}}
		}
		return []storage.Op{ackOp(1, old), delOp(old)}
	}
	return []storage.Op{msgOp(id, payload(i)), refOp(1, id)}
}

// killChild runs the workload until killed, printing the index of every
// confirmed Apply.
func killChild(dir string) {
	opts := killOpts
	opts.Logger = quietLogger()
	j, err := Open(dir, opts)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := j.Load(context.Background(), newState()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ch := make(chan error, 1)
	for i := 0; ; i++ {
		j.Apply(killBatch(i), true, func(err error) { ch <- err })
		if err := <-ch; err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}

// TestKill9 kills a process writing a journal with SIGKILL at random moments
// and checks that recovery finds every confirmed Apply and nothing else that
// was not applied in order: the state after some prefix of the workload at
// least as long as what was confirmed.
func TestKill9(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("slow")
	}
	for round := range 4 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		confirmed := make(chan int, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				n, err := strconv.Atoi(sc.Text())
				if err != nil {
					t.Errorf("child: %s", sc.Text())
					continue
				}
				confirmed <- n
			}
			close(confirmed)
		}()
		// Kill after a random number of confirmations.
		target := 500 + rand.IntN(2500)
		last := -1
		deadline := time.After(waitTimeout)
	wait:
		for last < target {
			select {
			case n, ok := <-confirmed:
				if !ok {
					break wait
				}
				last = n
			case <-deadline:
				t.Fatalf("child confirmed only %d applies", last+1)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		for n := range confirmed {
			last = n
		}
		if last < target {
			t.Fatalf("child stopped early at %d", last)
		}

		got, err := loadDir(dir, killOpts)
		if err != nil {
			t.Fatalf("round %d: recovery after kill -9: %v", round, err)
		}
		// The state after last+1 applies, or one more (in flight when killed).
		m := memory.New()
		for i := 0; i <= last; i++ {
			m.Apply(killBatch(i), true, func(error) {})
		}
		ok := false
		for extra := 0; extra <= 1 && !ok; extra++ {
			if extra == 1 {
				m.Apply(killBatch(last+1), true, func(error) {})
			}
			want := newState()
			m.Load(context.Background(), want)
			ok = got.equal(want)
		}
		if !ok {
			t.Fatalf("round %d: killed after %d confirmed applies, recovered %v", round, last+1, got)
		}
		rep, _ := Inspect(dir)
		t.Logf("round %d: killed after %d confirmed applies; recovered %v; %d segments, %d live bytes of %d",
			round, last+1, got, len(rep.Segments), rep.LiveBytes, rep.UsedBytes)
	}
}
