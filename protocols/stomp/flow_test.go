package stomp_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/stomp"
	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server/servertest"
)

// smallBlocking is a queue that fills after a few messages and blocks
// its producers.
func smallBlocking(name string, bytes int64) map[string]*core.AddressSettings {
	return map[string]*core.AddressSettings{name: {
		MaxSizeBytes: ptr(core.ByteSize(bytes)), AddressFullPolicy: ptr("BLOCK"),
	}}
}

// awaitHeld waits until n sends wait for space on address.
func awaitHeld(t *testing.T, b *core.Broker, address string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for b.HeldSends(address) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends held on %q, want %d", b.HeldSends(address), address, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A client that consumes with client acknowledgement from the queue it
// fills, on the same connection, used to deadlock: the broker parked the
// connection's reader on the SEND that did not fit, so the ACK that would
// have made room was never read. Issue 10, item 1.
//
// go-stomp holds its connection's lock while Send waits for a receipt, so
// no ACK can leave meanwhile whatever the broker does: the SENDs here go
// without receipts, and the final sync's receipt (which follows every
// SEND's admission) says they were all taken.
func TestSendToFullQueueKeepsReadingAcks(t *testing.T) {
	s := startBroker(t, smallBlocking("x", 4096))
	c := dial(t, s)
	sub := c.subscribe("/queue/x", stompc.AckClientIndividual)
	const n = 300
	want := seqBodies("m", n)
	got := make(chan []string, 1)
	go func() {
		var bodies []string
		for len(bodies) < n {
			m, ok := <-sub.C
			if !ok || m.Err != nil {
				break
			}
			bodies = append(bodies, strings.TrimRight(string(m.Body), "."))
			if err := c.Ack(m); err != nil {
				break
			}
		}
		got <- bodies
	}()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for _, body := range want {
			c.sendAsync("/queue/x", body+strings.Repeat(".", 200), "persistent", "true")
		}
		c.sync()
	}()
	select {
	case <-finished:
	case <-time.After(4 * waitFor):
		t.Fatalf("producer deadlocked: %d sends held, queue %+v", s.Core.HeldSends("x"), queueStats(t, s, "x"))
	}
	select {
	case bodies := <-got:
		sameStrings(t, "received", bodies, want)
	case <-time.After(4 * waitFor):
		t.Fatal("consumer did not receive every message")
	}
}

// The same client written frame by frame: every SEND persistent and with
// a receipt, pipelined, while the MESSAGEs it causes are acknowledged on
// the same connection as they arrive.
func TestSendWithReceiptsToFullQueueWhileAcking(t *testing.T) {
	s := startBroker(t, smallBlocking("x", 4096))
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	var wmu sync.Mutex
	write := func(cmd, body string, headers ...string) {
		wmu.Lock()
		defer wmu.Unlock()
		r.frame(cmd, body, headers...)
	}
	write(frame.CmdSubscribe, "", frame.HdrID, "s", frame.HdrDestination, "/queue/x", frame.HdrAck, "client-individual", frame.HdrReceipt, "sub")
	r.expect(frame.CmdReceipt)
	const n = 300
	go func() {
		for i := range n {
			write(frame.CmdSend, strconv.Itoa(i)+strings.Repeat(".", 200), frame.HdrDestination, "/queue/x",
				"persistent", "true", frame.HdrReceipt, "r-"+strconv.Itoa(i))
		}
	}()
	receipts, messages := 0, 0
	for receipts < n || messages < n {
		f, err := r.read()
		if err != nil {
			t.Fatalf("after %d receipts and %d messages: %v (%d sends held)", receipts, messages, err, s.Core.HeldSends("x"))
		}
		switch f.Command {
		case frame.CmdReceipt:
			if id, _ := f.Get(frame.HdrReceiptID); id != "r-"+strconv.Itoa(receipts) {
				t.Fatalf("receipt %q, want r-%d", id, receipts)
			}
			receipts++
		case frame.CmdMessage:
			if got := strings.TrimRight(string(f.Body), "."); got != strconv.Itoa(messages) {
				t.Fatalf("message %q, want %d", got, messages)
			}
			messages++
			ack, _ := f.Get(frame.HdrAck)
			write(frame.CmdAck, "", frame.HdrID, ack)
		default:
			t.Fatalf("unexpected %s %v", f.Command, f.Headers)
		}
	}
}

// A SEND held by a full queue is admitted, and its receipt sent, once a
// consumer elsewhere drains the queue; meanwhile the producer's connection
// keeps handling frames, whose receipts wait their turn behind the SEND's.
func TestHeldSendReleasedWhenConsumerDrains(t *testing.T) {
	s := startBroker(t, smallBlocking("x", 2500))
	p := dialRaw(t, s.Addr("stomp"))
	p.connect()
	body := strings.Repeat("b", 1000)
	for i := range 2 {
		p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "fill-"+strconv.Itoa(i))
		p.expect(frame.CmdReceipt)
	}
	p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "held", "persistent", "true")
	awaitHeld(t, s.Core, "x", 1)
	// Still reading: BEGIN and ABORT are handled now; their receipts
	// come after the held SEND's.
	p.frame(frame.CmdBegin, "", frame.HdrTransaction, "t", frame.HdrReceipt, "begin")
	p.frame(frame.CmdAbort, "", frame.HdrTransaction, "t", frame.HdrReceipt, "abort")

	c := dial(t, s)
	sub := c.subscribeAsync("/queue/x", stompc.AckClientIndividual)
	for range 3 {
		m := recv(t, sub)
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"held", "begin", "abort"} {
		f := p.expect(frame.CmdReceipt)
		if got, _ := f.Get(frame.HdrReceiptID); got != id {
			t.Fatalf("receipt %q, want %q", got, id)
		}
	}
	if n := s.Core.HeldSends("x"); n != 0 {
		t.Errorf("%d sends still held", n)
	}
}

// STOMP 1.2 graceful disconnect: the DISCONNECT's receipt follows the
// receipt of every frame before it. It used to be written at once, and the
// connection closed, with persistent SENDs' receipts still to come. Issue
// 16, item 4.
func TestDisconnectReceiptAfterEveryEarlierReceipt(t *testing.T) {
	for _, n := range []int{10, 2000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.Store.Type = "journal" }})
			r := dialRaw(t, s.Addr("stomp"))
			r.connect()
			var out []byte
			for i := range n {
				f := frame.Frame{Command: frame.CmdSend, Body: []byte("m")}
				f.Add(frame.HdrDestination, "/queue/pipelined")
				f.Add("persistent", "true")
				f.Add(frame.HdrReceipt, "r-"+strconv.Itoa(i))
				out = frame.AppendFrame(out, &f, r.v)
			}
			d := frame.Frame{Command: frame.CmdDisconnect}
			d.Add(frame.HdrReceipt, "bye")
			out = frame.AppendFrame(out, &d, r.v)
			var wg sync.WaitGroup
			wg.Go(func() { r.write(string(out)) })
			for i := range n {
				f := r.expect(frame.CmdReceipt)
				if id, _ := f.Get(frame.HdrReceiptID); id != "r-"+strconv.Itoa(i) {
					t.Fatalf("receipt %d: %q, want r-%d", i, id, i)
				}
			}
			f := r.expect(frame.CmdReceipt)
			if id, _ := f.Get(frame.HdrReceiptID); id != "bye" {
				t.Fatalf("last receipt %q, want bye", id)
			}
			r.expectClosed()
			wg.Wait()
			if st := queueStats(t, s, "pipelined"); st.Messages != n {
				t.Errorf("queue holds %d messages, want %d", st.Messages, n)
			}
		})
	}
}

// Pipelined SENDs to a full queue are held and admitted in order as a
// consumer makes room, each receipt in turn.
func TestPipelinedHeldSendsAdmittedInOrder(t *testing.T) {
	s := startBroker(t, smallBlocking("x", 2048))
	p := dialRaw(t, s.Addr("stomp"))
	p.connect()
	const n = 40 // about 40 KiB against 2 KiB of room
	body := strings.Repeat("z", 1000)
	var out []byte
	for i := range n {
		f := frame.Frame{Command: frame.CmdSend, Body: []byte(fmt.Sprint(i, body))}
		f.Add(frame.HdrDestination, "/queue/x")
		f.Add(frame.HdrReceipt, "r-"+strconv.Itoa(i))
		out = frame.AppendFrame(out, &f, p.v)
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.write(string(out)) })
	c := dial(t, s)
	sub := c.subscribeAsync("/queue/x", stompc.AckClientIndividual)
	for i := range n {
		m := recv(t, sub)
		if got := strings.TrimRight(string(m.Body), "z"); got != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, got)
		}
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		f := p.expect(frame.CmdReceipt)
		if id, _ := f.Get(frame.HdrReceiptID); id != "r-"+strconv.Itoa(i) {
			t.Fatalf("receipt %q, want r-%d", id, i)
		}
	}
	wg.Wait()
}

// Past MaxHeldBytes of held SENDs a connection is no longer read; as the
// queue drains its held SENDs are admitted in order, reading resumes, and
// every receipt arrives.
func TestHeldSendsPastTheBoundStopReadingThenResume(t *testing.T) {
	addr, b := serveSTOMPWith(t, stomp.Options{MaxHeldBytes: 4096}, core.Config{AddressSettings: smallBlocking("x", 2048)})
	p := dialRaw(t, addr)
	p.connect()
	const n = 20
	body := strings.Repeat("z", 1000) // about 1.1 KiB counted: one fits in the queue
	var out []byte
	for i := range n {
		f := frame.Frame{Command: frame.CmdSend, Body: []byte(strconv.Itoa(i) + body)}
		f.Add(frame.HdrDestination, "/queue/x")
		f.Add(frame.HdrReceipt, "r-"+strconv.Itoa(i))
		out = frame.AppendFrame(out, &f, p.v)
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.write(string(out)) })
	// One SEND is in the queue; held ones pile up until they pass 4 KiB.
	awaitHeld(t, b, "x", 4)
	// The reader has stopped: nothing more joins the line. (A negative
	// can only be watched for a while.)
	time.Sleep(100 * time.Millisecond)
	if held := b.HeldSends("x"); held != 4 {
		t.Fatalf("%d SENDs held, want 4: the connection was read past MaxHeldBytes", held)
	}
	c := dialRaw(t, addr)
	c.connect()
	c.frame(frame.CmdSubscribe, "", frame.HdrID, "s", frame.HdrDestination, "/queue/x", frame.HdrAck, "client-individual")
	for i := range n {
		m := c.expect(frame.CmdMessage)
		if got := strings.TrimRight(string(m.Body), "z"); got != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, got)
		}
		ack, _ := m.Get(frame.HdrAck)
		c.frame(frame.CmdAck, "", frame.HdrID, ack)
	}
	for i := range n {
		f := p.expect(frame.CmdReceipt)
		if id, _ := f.Get(frame.HdrReceiptID); id != "r-"+strconv.Itoa(i) {
			t.Fatalf("receipt %q, want r-%d", id, i)
		}
	}
	wg.Wait()
}

// A DISCONNECT behind a SEND that stays held: after the grace period the
// SEND is withdrawn and the connection closes with neither receipt, since
// a DISCONNECT receipt would claim the SEND was processed.
func TestDisconnectBehindHeldSendGetsNoReceipt(t *testing.T) {
	addr, b := serveSTOMPWith(t, stomp.Options{DisconnectGrace: 200 * time.Millisecond}, core.Config{AddressSettings: smallBlocking("x", 2048)})
	p := dialRaw(t, addr)
	p.connect()
	body := strings.Repeat("z", 1000)
	p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "fits")
	p.expect(frame.CmdReceipt)
	p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "held")
	awaitHeld(t, b, "x", 1)
	p.frame(frame.CmdDisconnect, "", frame.HdrReceipt, "bye")
	if f, err := p.read(); err == nil {
		t.Fatalf("got %s %v, want the connection closed", f.Command, f.Headers)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("want the connection closed, got %v", err)
	}
	if held := b.HeldSends("x"); held != 0 {
		t.Errorf("%d SENDs still held after the connection closed", held)
	}
	q, _ := b.Queue("x")
	if st := q.Stats(); st.Messages != 1 {
		t.Errorf("queue holds %d messages, want 1: the withdrawn SEND went through", st.Messages)
	}
}

// A protocol error behind a held SEND still gets its ERROR frame: the held
// SEND is withdrawn, its receipt never sent, and the ERROR follows.
func TestErrorBehindHeldSend(t *testing.T) {
	addr, b := serveSTOMPWith(t, stomp.Options{}, core.Config{AddressSettings: smallBlocking("x", 2048)})
	p := dialRaw(t, addr)
	p.connect()
	body := strings.Repeat("z", 1000)
	p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "fits")
	p.expect(frame.CmdReceipt)
	p.frame(frame.CmdSend, body, frame.HdrDestination, "/queue/x", frame.HdrReceipt, "held")
	awaitHeld(t, b, "x", 1)
	p.frame("BOGUS", "")
	f := p.expectError()
	if msg, _ := f.Get(frame.HdrMessage); !strings.Contains(msg, "BOGUS") {
		t.Errorf("ERROR message %q", msg)
	}
	if held := b.HeldSends("x"); held != 0 {
		t.Errorf("%d SENDs still held after the connection closed", held)
	}
}
