package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// TestKillDuringDeadLetterMoves kills the broker while a consumer NACKs
// messages that have used up max-delivery-attempts, so that each NACK moves
// its message to the DLQ. A move writes the copy and the ack that removes
// the message from its queue in one batch: after the restart every message
// must be in exactly one of the two queues, none lost and none in both.
func TestKillDuringDeadLetterMoves(t *testing.T) {
	const (
		perLife   = 300
		maxFiller = 200
		srcQueue  = "dl.src"
	)
	data := dataDir(t)
	cfg := writeConfig(t, data, `
store:
  segment-size: 256KiB
address-settings:
  "#":
    auto-delete-queues: false
  "dl.src":
    max-delivery-attempts: 1
`)
	rng := rand.New(rand.NewPCG(seed(t), 0))
	moved, kept := 0, 0
	for life := range *flagIterations {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b := startBroker(t, data, cfg)
		prep := producer{addr: b.addr, life: life, window: 32, maxFiller: maxFiller, limit: perLife,
			dest: func(int) string { return srcQueue }}.run(ctx)
		if prep.err != nil || len(prep.confirmed) != perLife {
			cancel()
			t.Fatalf("life %d: %d of %d sends confirmed (%v)\n%s", life, len(prep.confirmed), perLife, prep.err, b.logTail())
		}

		// Kill once the nacker has sent a random number of NACKs: the
		// moves they started are in every state from "not written" to
		// "durable and visible".
		killAt := 1 + rng.IntN(perLife)
		reached := make(chan struct{})
		nerr := make(chan error, 1)
		go func() { nerr <- nackAll(ctx, b.addr, srcQueue, killAt, reached) }()
		select {
		case <-reached:
		case err := <-nerr:
			cancel()
			t.Fatalf("life %d: the nacker stopped before %d NACKs: %v\n%s", life, killAt, err, b.logTail())
		case <-ctx.Done():
			cancel()
			t.Fatalf("life %d: %d NACKs not sent in time\n%s", life, killAt, b.logTail())
		}
		if err := b.kill(); err != nil {
			cancel()
			t.Fatal(err)
		}
		if !killedBySIGKILL(b) {
			cancel()
			t.Fatalf("life %d: the broker ended by %s, not by our SIGKILL\n%s", life, endedHow(b), b.logTail())
		}
		if err := <-nerr; err != nil {
			cancel()
			t.Fatalf("life %d: %v", life, err)
		}
		saveImage(t, data, life)

		b = startBroker(t, data, cfg)
		rec, ok := b.recovery()
		if !ok {
			cancel()
			t.Fatalf("life %d: no recovered line\n%s", life, b.logTail())
		}
		if rec.refs != perLife {
			t.Errorf("life %d: %d references recovered, want the %d messages sent, each once", life, rec.refs, perLife)
		}
		crep := consumer{addr: b.addr, life: life, queues: []string{srcQueue, "DLQ"}, prefetch: 100,
			maxFiller: maxFiller, expect: rec.refs}.run(ctx)
		cancel()
		if crep.err != nil || !crep.clean {
			t.Fatalf("life %d: draining %d recovered references: got %d (%v)\n%s", life, rec.refs, len(crep.recv), crep.err, b.logTail())
		}
		where := map[string][]string{}
		for _, r := range crep.recv {
			where[r.id] = append(where[r.id], r.queue)
		}
		for n := range perLife {
			id := msgID{life, 0, n}.String()
			switch qs := where[id]; {
			case len(qs) == 0:
				t.Errorf("life %d: message %s lost (killed after %d NACKs)", life, id, killAt)
			case len(qs) > 1:
				t.Errorf("life %d: message %s recovered %d times, in %v", life, id, len(qs), qs)
			case qs[0] == "DLQ":
				moved++
			default:
				kept++
			}
			delete(where, id)
		}
		for id, qs := range where {
			t.Errorf("life %d: unexpected message %s in %v", life, id, qs)
		}
		// Everything drained and acked: a clean stop makes the acks durable,
		// so the next life starts empty.
		if err := b.stop(); err != nil {
			t.Fatalf("life %d: clean stop: %v\n%s", life, err, b.logTail())
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d lives: %d messages found in the DLQ after the kill, %d still in %s", *flagIterations, moved, kept, srcQueue)
	if moved == 0 {
		t.Error("no move reached the disk before a kill: the test tested nothing")
	}
}

// nackAll NACKs every message of queue until the broker goes away, closing
// reached once it has sent n NACKs. It returns an error only for a broker
// that misbehaves.
func nackAll(ctx context.Context, addr, queue string, n int, reached chan<- struct{}) error {
	c, err := dialSTOMP(addr)
	if err != nil {
		return fmt.Errorf("nacker: %w", err)
	}
	defer c.nc.Close()
	defer c.closeOnDone(ctx)()
	c.send(frame.CmdSubscribe, nil, frame.HdrDestination, "/queue/"+queue, frame.HdrID, "0",
		frame.HdrAck, "client-individual", "activemq.prefetchSize", strconv.Itoa(32))
	sent := 0
	for {
		if c.rd.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return nil // the broker is gone
			}
			if sent >= n && reached != nil {
				close(reached)
				reached = nil
			}
		}
		f, err := c.rd.Read()
		if err != nil {
			return nil // the broker is gone
		}
		if f.Command != frame.CmdMessage {
			return fmt.Errorf("nacker: unexpected %s", describe(f))
		}
		ackID, _ := f.Get(frame.HdrAck)
		c.send(frame.CmdNack, nil, frame.HdrID, ackID)
		sent++
	}
}
