package crash

import (
	"context"
	"errors"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	mainQueue   = "crash"
	pinnedQueue = "crash.pinned"
	// pinEvery: in the compaction scenario every pinEvery-th message of each
	// producer goes to the pinned queue and stays there, live, while the
	// rest is acknowledged around it.
	pinEvery = 16
)

// scenario is one crash test: a configuration and a workload.
type scenario struct {
	config           string // YAML
	producers        int
	window           int // receipts outstanding per producer
	maxFiller        int // body filler bytes: 0..maxFiller-1
	prefetch         int
	barrierEvery     int
	pinned           func(n int) bool // nil: everything goes to mainQueue
	minLoad, maxLoad time.Duration    // the random kill moment, after the clients start
	earlyKillOneIn   int              // 1 in N iterations also kills a broker while it starts
	nackOneIn        int              // the consumer NACKs about 1 in N messages once (see consumer)
	// afterKill runs on each crash image (the broker is dead).
	afterKill func(t *testing.T, data string)
}

// summary is what a scenario run measured.
type summary struct {
	iterations, earlyKills int
	elapsed                time.Duration
	drained                int
}

func seed(t *testing.T) uint64 {
	s := uint64(*flagSeed)
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("kill schedule seed %d (replay with -crash.seed %d)", s, s)
	return s
}

// killedBySIGKILL reports whether the process died of our SIGKILL rather
// than of something of its own (a panic, a fatal error).
func killedBySIGKILL(b *brokerProc) bool {
	var ee *exec.ExitError
	if !errors.As(b.werr, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// endedHow describes an exit that was not our SIGKILL.
func endedHow(b *brokerProc) string {
	if b.werr == nil {
		if strings.Contains(b.logTail(), "shutting down") {
			return "a clean shutdown: something outside the test sent it SIGINT or SIGTERM"
		}
		return "exit status 0"
	}
	return b.werr.Error()
}

func runScenario(t *testing.T, sc scenario) (*ledger, summary) {
	start := time.Now()
	data := dataDir(t)
	cfg := writeConfig(t, data, sc.config)
	rng := rand.New(rand.NewPCG(seed(t), 0x6a756e6374696f6e))
	l := newLedger()
	l.pinned = sc.pinned
	if sc.pinned != nil {
		l.pinnedQueue = pinnedQueue
	}
	sum := summary{iterations: *flagIterations}
	dest := func(n int) string {
		if sc.pinned != nil && sc.pinned(n) {
			return pinnedQueue
		}
		return mainQueue
	}
	checkRecovery := func(life int, b *brokerProc) {
		rec, ok := b.recovery()
		if !ok {
			t.Fatalf("life %d: no recovered line in the broker's log:\n%s", life, b.logTail())
		}
		if need := l.neverDelivered(); rec.refs < need {
			l.problem("life %d: recovered %d references, but %d confirmed messages were never delivered", life, rec.refs, need)
		}
	}

	for life := 0; life < sum.iterations; life++ {
		if sc.earlyKillOneIn > 0 && rng.IntN(sc.earlyKillOneIn) == 0 {
			// A kill while the broker opens and recovers the journal.
			addr, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			b, err := launch(data, cfg, addr)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-time.After(time.Duration(rng.IntN(60)) * time.Millisecond):
			case <-b.exited:
			}
			if err := b.kill(); err != nil {
				t.Fatal(err)
			}
			if !killedBySIGKILL(b) && !strings.Contains(b.logTail(), "address already in use") {
				t.Fatalf("life %d: the broker ended before our SIGKILL while starting (%s):\n%s", life, endedHow(b), b.logTail())
			}
			sum.earlyKills++
		}

		b := startBroker(t, data, cfg)
		checkRecovery(life, b)
		ctx, cancel := context.WithCancel(context.Background())
		crep := make(chan consumerReport, 1)
		go func() {
			crep <- consumer{addr: b.addr, life: life, queues: []string{mainQueue}, prefetch: sc.prefetch,
				maxFiller: sc.maxFiller, barrierEvery: sc.barrierEvery, barrierQueue: mainQueue, nackOneIn: sc.nackOneIn}.run(ctx)
		}()
		preps := make([]chan producerReport, sc.producers)
		for p := range preps {
			preps[p] = make(chan producerReport, 1)
			go func() {
				preps[p] <- producer{addr: b.addr, life: life, num: p, window: sc.window, maxFiller: sc.maxFiller, dest: dest}.run(ctx)
			}()
		}
		delay := sc.minLoad + time.Duration(rng.Int64N(int64(sc.maxLoad-sc.minLoad)))
		select {
		case <-time.After(delay): // the kill moment, not a synchronisation
		case <-b.exited:
		}
		if err := b.kill(); err != nil {
			t.Fatal(err)
		}
		if !killedBySIGKILL(b) {
			cancel()
			t.Fatalf("life %d: the broker ended before our SIGKILL (%s):\n%s", life, endedHow(b), b.logTail())
		}
		// The clients see their connections die; a client that does not is
		// a bug in the test, cut short.
		deadline := time.After(exitTimeout)
		for p, ch := range preps {
			select {
			case rep := <-ch:
				l.addProducer(life, p, rep)
			case <-deadline:
				cancel()
				t.Fatalf("life %d: producer %d still running %v after the kill", life, p, exitTimeout)
			}
		}
		select {
		case rep := <-crep:
			l.addConsumer(life, rep)
		case <-deadline:
			cancel()
			t.Fatalf("life %d: consumer still running %v after the kill", life, exitTimeout)
		}
		cancel()
		saveImage(t, data, life)
		if sc.afterKill != nil {
			sc.afterKill(t, data)
		}
		l.lives++
	}

	// Drain: one more start, and every reference it recovered is consumed.
	life := sum.iterations
	b := startBroker(t, data, cfg)
	checkRecovery(life, b)
	rec, _ := b.recovery()
	if rec.refs > 0 {
		queues := []string{mainQueue}
		if sc.pinned != nil {
			queues = append(queues, pinnedQueue)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		rep := consumer{addr: b.addr, life: life, queues: queues, prefetch: sc.prefetch, maxFiller: sc.maxFiller, expect: rec.refs}.run(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		l.addConsumer(life, rep)
		if !rep.clean {
			l.problem("drain: %d of the %d recovered references delivered (timed out: %v)", len(rep.recv)+rep.barriersIn, rec.refs, timedOut)
		}
		sum.drained = len(rep.recv) + rep.barriersIn
	}
	l.lives++
	// A clean stop keeps every ack: the next start must find nothing.
	if err := b.stop(); err != nil {
		l.problem("clean stop after the drain: %v\n%s", err, b.logTail())
	}
	b2 := startBroker(t, data, cfg)
	if rec, ok := b2.recovery(); !ok || rec.messages != 0 || rec.refs != 0 {
		l.problem("after the drain and a clean stop, the broker recovered %+v (found: %v); want no messages", rec, ok)
	}
	if err := b2.stop(); err != nil {
		l.problem("clean stop: %v\n%s", err, b2.logTail())
	}
	l.finish()
	sum.elapsed = time.Since(start)
	return l, sum
}

func report(t *testing.T, l *ledger, sum summary) {
	t.Helper()
	byLife := ""
	for life := 0; life < l.lives; life++ {
		if n := l.dupsByLife[life]; n > 0 {
			byLife += " L" + strconv.Itoa(life) + ":" + strconv.Itoa(n)
		}
	}
	t.Logf("%d kills under load + %d during start-up, %v in all", sum.iterations, sum.earlyKills, sum.elapsed.Round(time.Millisecond))
	t.Logf("messages: %d sent, %d confirmed by receipt (%d pinned), %d deliveries, %d drained at the end",
		l.nAttempted, l.nConfirmed, l.nPinned, l.nDeliveries, sum.drained)
	t.Logf("in-doubt (sent, no receipt before the kill) yet delivered: %d", l.inDoubtArrived)
	t.Logf("duplicates (redelivered after a kill, ack not proven durable): %d, by lifetime of the earlier delivery:%s", l.dups, byLife)
	t.Logf("acks proven durable by %d barrier receipts: %d deliveries, of which %d came back all the same", l.barriers, l.durableAcked, l.durableBack)
	t.Logf("NACKed deliveries (each redelivered with a higher delivery-count): %d", l.nacks)
	for _, p := range l.problems {
		t.Error(p)
	}
}

// TestKillUnderLoad: producers send persistent messages with receipts, a
// consumer acknowledges (NACKing some once first), the broker is killed at a
// random moment, restarted and the load resumes; at the end the queue is
// drained. No confirmed message may be lost; a message may come back only
// after a kill, and only if no barrier proved its ack durable; delivery
// counts never go backwards; each producer's messages arrive in order.
//
// It runs with the default address settings, max-delivery-attempts 10
// included, as a user who configured nothing would: kills must not push
// redelivered messages to the dead-letter queue (they would be lost to the
// consumer, and the drain would miss them).
//
// The ledger's checks catch the mutations "recovery ignores the stored
// delivery count" (a durably NACKed message comes back with count 1) and
// "recovered references in reverse order" (out of send order).
func TestKillUnderLoad(t *testing.T) {
	sc := scenario{
		config: `
store:
  sync: batch
  segment-size: 256KiB
`,
		producers:      4,
		window:         16,
		maxFiller:      400,
		prefetch:       100,
		barrierEvery:   32,
		minLoad:        300 * time.Millisecond,
		maxLoad:        800 * time.Millisecond,
		earlyKillOneIn: 5,
		nackOneIn:      8,
	}
	l, sum := runScenario(t, sc)
	report(t, l, sum)
	if l.nConfirmed == 0 {
		t.Error("no message was confirmed: the test tested nothing")
	}
	if l.nacks == 0 {
		t.Error("no message was NACKed: the delivery-count checks tested nothing")
	}
}

// copyOpsRe reads compaction's copy operations from `journal inspect`.
var copyOpsRe = regexp.MustCompile(`copy-(?:message|ref|binding)=(\d+)`)

// TestKillDuringCompaction runs the same load with the smallest segments and
// every pinEvery-th message parked in a queue nobody consumes: the segments'
// live ratio drops as the rest is acknowledged, so the journal compacts all
// the time and the kills land in the middle of it. `journal inspect` on each
// crash image shows the compaction's copies.
func TestKillDuringCompaction(t *testing.T) {
	imagesWithCopies, maxSegments, damaged := 0, 0, 0
	segRe := regexp.MustCompile(`(?m)^[0-9a-f]{16}\.seg\s`)
	sc := scenario{
		config: `
store:
  sync: batch
  segment-size: 4KiB
address-settings:
  "#":
    max-delivery-attempts: 0
`,
		producers:    4,
		window:       16,
		maxFiller:    200,
		prefetch:     100,
		barrierEvery: 32,
		pinned:       func(n int) bool { return n%pinEvery == 0 },
		minLoad:      300 * time.Millisecond,
		maxLoad:      800 * time.Millisecond,
		afterKill: func(t *testing.T, data string) {
			code, out := runToExit(t, "journal", "inspect", "--data", data)
			if code != 0 {
				t.Fatalf("journal inspect on a crash image: exit %d:\n%s", code, out)
			}
			copies := 0
			for _, m := range copyOpsRe.FindAllStringSubmatch(out, -1) {
				n, _ := strconv.Atoi(m[1])
				copies += n
			}
			if copies > 0 {
				imagesWithCopies++
			}
			maxSegments = max(maxSegments, len(segRe.FindAllString(out, -1)))
			if strings.Contains(out, "\ndamage:") {
				damaged++
			}
		},
	}
	l, sum := runScenario(t, sc)
	report(t, l, sum)
	t.Logf("crash images: %d of %d hold compaction copies; up to %d segments; %d with a torn tail", imagesWithCopies, sum.iterations, maxSegments, damaged)
	if imagesWithCopies == 0 {
		t.Error("no crash image holds compaction copies: the kills never met a compaction")
	}
	if l.nPinned == 0 {
		t.Error("no pinned message was confirmed: the test tested nothing")
	}
}
