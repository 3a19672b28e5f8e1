package crash

import (
	"context"
	"testing"
	"time"
)

// TestAckedStayAckedAfterCleanRestart needs no kill: producers send
// persistent messages with receipts while a consumer acknowledges each one;
// once every message is confirmed and consumed, a clean stop (SIGTERM) and a
// restart must find an empty journal. An acknowledgement that reaches the
// store before the message it settles would leave a live ghost that comes
// back at every start.
func TestAckedStayAckedAfterCleanRestart(t *testing.T) {
	const producers, perProducer, maxFiller = 4, 10000, 200
	data := dataDir(t)
	// The queue must outlive its consumer, so that a ghost comes back as a
	// delivery naming the message rather than as an orphan.
	cfg := writeConfig(t, data, `
store:
  segment-size: 1MiB
address-settings:
  "#":
    auto-delete-queues: false
`)
	b := startBroker(t, data, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	crep := make(chan consumerReport, 1)
	go func() {
		crep <- consumer{addr: b.addr, queues: []string{mainQueue}, prefetch: 100, maxFiller: maxFiller,
			expect: producers * perProducer}.run(ctx)
	}()
	l := newLedger()
	preps := make([]chan producerReport, producers)
	for p := range preps {
		preps[p] = make(chan producerReport, 1)
		go func() {
			preps[p] <- producer{addr: b.addr, num: p, window: 16, maxFiller: maxFiller, limit: perProducer,
				dest: func(int) string { return mainQueue }}.run(ctx)
		}()
	}
	for p, ch := range preps {
		l.addProducer(0, p, <-ch)
	}
	rep := <-crep
	l.addConsumer(0, rep)
	if l.nConfirmed != producers*perProducer || !rep.clean {
		t.Fatalf("%d of %d messages confirmed, %d consumed (clean end: %v); problems: %v",
			l.nConfirmed, producers*perProducer, len(rep.recv), rep.clean, l.problems)
	}
	if err := b.stop(); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, b.logTail())
	}
	saveImage(t, data, 0)

	b = startBroker(t, data, cfg)
	rec, ok := b.recovery()
	if !ok {
		t.Fatalf("no recovered line:\n%s", b.logTail())
	}
	if rec.messages != 0 || rec.refs != 0 {
		// Name them: consume what came back.
		var back []string
		if rec.refs > 0 {
			r := consumer{addr: b.addr, queues: []string{mainQueue}, prefetch: 100, maxFiller: maxFiller, expect: rec.refs}.run(ctx)
			for _, x := range r.recv {
				back = append(back, x.id+"("+x.mid+")")
			}
		}
		t.Errorf("all %d messages were acknowledged before a clean stop, yet the restart recovered %d messages and %d references: %v",
			producers*perProducer, rec.messages, rec.refs, back)
	}
	for _, p := range l.problems {
		t.Error(p)
	}
	if err := b.stop(); err != nil {
		t.Errorf("clean stop: %v", err)
	}
}
