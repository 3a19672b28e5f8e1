package crash

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// A raw STOMP 1.2 client on the broker's own frame codec: the tests need to
// see every RECEIPT and MESSAGE as it arrives, with nothing retried, buffered
// or acknowledged behind their back.

const ioTimeout = 10 * time.Second

type stompConn struct {
	nc  net.Conn
	rd  *frame.Reader
	bw  *bufio.Writer
	buf []byte
}

func dialSTOMP(addr string) (*stompConn, error) {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	c := &stompConn{nc: nc, rd: frame.NewReader(nc, frame.Limits{}), bw: bufio.NewWriterSize(nc, 64<<10)}
	c.send(frame.CmdConnect, nil, frame.HdrAcceptVersion, "1.2", frame.HdrHost, "localhost", frame.HdrHeartBeat, "0,0")
	if err := c.flush(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetReadDeadline(time.Now().Add(ioTimeout))
	f, err := c.rd.Read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading CONNECTED: %w", err)
	}
	if f.Command != frame.CmdConnected {
		nc.Close()
		return nil, fmt.Errorf("CONNECT answered by %s", describe(f))
	}
	nc.SetReadDeadline(time.Time{})
	c.rd.SetVersion(frame.V1_2)
	return c, nil
}

// send buffers one frame; kv are header key, value pairs.
func (c *stompConn) send(cmd string, body []byte, kv ...string) {
	var e frame.Encoder
	e.Begin(c.buf[:0], frame.V1_2, cmd)
	for i := 0; i+1 < len(kv); i += 2 {
		e.Header(kv[i], kv[i+1])
	}
	c.buf = e.Body(body)
	c.bw.Write(c.buf)
}

func (c *stompConn) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	return c.bw.Flush()
}

// closeOnDone closes the connection when ctx ends: the way out of a read
// that a broker gone wrong never completes.
func (c *stompConn) closeOnDone(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.nc.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}

func describe(f *frame.Frame) string {
	if f.Command == frame.CmdError {
		msg, _ := f.Get(frame.HdrMessage)
		return fmt.Sprintf("ERROR %q: %q", msg, f.Body)
	}
	return f.Command
}

// Message ids and bodies. A data message's body is its id, '|', then filler
// derived from the id, so that a delivery proves the body came back intact.
// Barrier messages (see consume) have bodies starting with "B|".

type msgID struct{ life, producer, n int }

func (m msgID) String() string { return fmt.Sprintf("L%dP%dN%d", m.life, m.producer, m.n) }

func parseID(s string) (msgID, bool) {
	var m msgID
	rest, ok := strings.CutPrefix(s, "L")
	if !ok {
		return m, false
	}
	l, rest, ok1 := strings.Cut(rest, "P")
	p, n, ok2 := strings.Cut(rest, "N")
	var e1, e2, e3 error
	m.life, e1 = strconv.Atoi(l)
	m.producer, e2 = strconv.Atoi(p)
	m.n, e3 = strconv.Atoi(n)
	return m, ok1 && ok2 && e1 == nil && e2 == nil && e3 == nil
}

// fillerLen spreads body sizes over 0..maxFiller-1 bytes, so that records
// land across segment boundaries in many ways.
func fillerLen(id string, maxFiller int) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % uint32(maxFiller))
}

func makeBody(dst []byte, id string, maxFiller int) []byte {
	dst = append(dst[:0], id...)
	dst = append(dst, '|')
	n := fillerLen(id, maxFiller)
	for i := 0; i < n; i++ {
		dst = append(dst, byte('a'+(i+len(id))%26))
	}
	return dst
}

// checkBody returns the id of a data message body, or an error if the body
// is not exactly what makeBody made for that id.
func checkBody(body []byte, maxFiller int) (string, error) {
	id, _, ok := strings.Cut(string(body), "|")
	if !ok {
		return "", fmt.Errorf("body %.40q has no id", body)
	}
	if _, ok := parseID(id); !ok {
		return "", fmt.Errorf("body %.40q has a malformed id", body)
	}
	if want := makeBody(nil, id, maxFiller); string(want) != string(body) {
		return id, fmt.Errorf("message %s: body of %d bytes differs from the %d bytes sent", id, len(body), len(want))
	}
	return id, nil
}

// producer sends persistent messages with receipts, keeping up to window
// receipts outstanding, until its connection dies or ctx ends.
type producer struct {
	addr      string
	life, num int
	window    int
	maxFiller int
	// dest picks the queue of message n (a name, without /queue/).
	dest func(n int) string
	// limit > 0: send that many messages, wait for their receipts and return.
	limit int
}

type producerReport struct {
	attempted int   // messages 0..attempted-1 were (or may have been) written
	confirmed []int // message numbers whose RECEIPT arrived
	err       error // the broker misbehaved: a test failure
}

func (p producer) run(ctx context.Context) producerReport {
	var rep producerReport
	c, err := dialSTOMP(p.addr)
	if err != nil {
		rep.err = fmt.Errorf("producer %d: %w", p.num, err)
		return rep
	}
	defer c.nc.Close()
	defer c.closeOnDone(ctx)()

	slots := make(chan struct{}, p.window)
	readerDone := make(chan struct{})
	var confirmed []int
	var rerr error
	go func() {
		defer close(readerDone)
		for {
			f, err := c.rd.Read()
			if err != nil {
				return // the broker is gone
			}
			if f.Command != frame.CmdReceipt {
				rerr = fmt.Errorf("producer %d: unexpected %s", p.num, describe(f))
				c.nc.Close()
				return
			}
			rid, _ := f.Get(frame.HdrReceiptID)
			n, err := strconv.Atoi(strings.TrimPrefix(rid, "r-"))
			if err != nil || !strings.HasPrefix(rid, "r-") {
				rerr = fmt.Errorf("producer %d: RECEIPT for unknown receipt %q", p.num, rid)
				c.nc.Close()
				return
			}
			confirmed = append(confirmed, n)
			<-slots
			if len(confirmed) == p.limit {
				return
			}
		}
	}()

	var body []byte
send:
	for n := 0; ; n++ {
		select {
		case slots <- struct{}{}:
		case <-readerDone:
			break send // the broker is gone
		case <-ctx.Done():
			break send
		}
		if n == p.limit && p.limit > 0 {
			<-readerDone // every receipt in, or the broker gone
			break
		}
		id := msgID{p.life, p.num, n}.String()
		body = makeBody(body, id, p.maxFiller)
		// Counted before the write: a message may be stored even if the
		// write reports an error.
		rep.attempted = n + 1
		c.send(frame.CmdSend, body,
			frame.HdrDestination, "/queue/"+p.dest(n), "persistent", "true",
			frame.HdrReceipt, "r-"+strconv.Itoa(n), frame.HdrContentType, "text/plain")
		if err := c.flush(); err != nil {
			break
		}
	}
	c.nc.Close()
	<-readerDone
	rep.confirmed, rep.err = confirmed, rerr
	return rep
}

// consumer receives from queues in client-individual mode and acknowledges
// every message at once. Every barrierEvery acknowledgements it sends a
// persistent barrier message with a receipt on the same connection: the
// broker handles a connection's frames in order and hands an ACK's journal
// operations to the store before it reads the next frame, so when the
// barrier's receipt arrives (after its sync), the acknowledgements written
// before it are durable, and their messages must never come back.
type consumer struct {
	addr         string
	life         int
	queues       []string
	prefetch     int
	maxFiller    int
	barrierEvery int    // 0: no barriers
	barrierQueue string // where barriers go
	// expect > 0: after that many messages, DISCONNECT (with a receipt, so
	// that every ack is handled) and return.
	expect int
	// nackOneIn > 0: about one message in nackOneIn (chosen by its id) is
	// NACKed at its first delivery on this connection, then acknowledged
	// when it comes back: delivery counts above 1 reach the store, so the
	// ledger can check that they never go backwards across kills.
	nackOneIn int
}

type reception struct {
	id     string
	queue  string
	ack    int    // index in this connection's sequence of ACKs
	mid    string // the broker's message-id, for failure reports
	count  string // the broker's delivery-count
	nacked bool   // answered with NACK, not ACK
}

type consumerReport struct {
	recv            []reception
	barriersIn      int // barrier messages received (and acked)
	acks            int
	durableAcks     int  // acks with index < durableAcks were durable
	barriersOut     int  // barriers sent
	barrierReceipts int  // their receipts
	clean           bool // expect was reached and DISCONNECT confirmed
	err             error
}

func (cs consumer) run(ctx context.Context) consumerReport {
	var rep consumerReport
	c, err := dialSTOMP(cs.addr)
	if err != nil {
		rep.err = fmt.Errorf("consumer: %w", err)
		return rep
	}
	defer c.nc.Close()
	defer c.closeOnDone(ctx)()

	for i, q := range cs.queues {
		c.send(frame.CmdSubscribe, nil, frame.HdrDestination, "/queue/"+q, frame.HdrID, strconv.Itoa(i),
			frame.HdrAck, "client-individual", "activemq.prefetchSize", strconv.Itoa(cs.prefetch))
	}
	barrierAt := map[string]int{} // receipt id → acks written before the barrier
	nacked := map[string]bool{}   // ids NACKed on this connection
	sinceBarrier := 0
	got := 0
	disconnecting := false
	for {
		if c.rd.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return rep
			}
		}
		f, err := c.rd.Read()
		if err != nil {
			return rep // the broker is gone
		}
		switch f.Command {
		case frame.CmdMessage:
			ackID, _ := f.Get(frame.HdrAck)
			if ackID == "" {
				rep.err = fmt.Errorf("consumer: MESSAGE without an ack header")
				return rep
			}
			if strings.HasPrefix(string(f.Body), "B|") {
				rep.barriersIn++
			} else {
				id, err := checkBody(f.Body, cs.maxFiller)
				if err != nil {
					rep.err = err
					return rep
				}
				dest, _ := f.Get(frame.HdrDestination)
				mid, _ := f.Get(frame.HdrMessageID)
				count, _ := f.Get("delivery-count")
				nack := cs.nackOneIn > 0 && !nacked[id] && !disconnecting && fillerLen(id, cs.nackOneIn) == 0
				rep.recv = append(rep.recv, reception{id: id, queue: strings.TrimPrefix(dest, "/queue/"), ack: rep.acks, mid: mid, count: count, nacked: nack})
				sinceBarrier++
				if nack {
					// A NACK's store update is ordered like an ACK's: the
					// next barrier proves it durable.
					nacked[id] = true
					c.send(frame.CmdNack, nil, frame.HdrID, ackID)
					rep.acks++
					continue
				}
			}
			if disconnecting {
				continue // recorded; the session is closing
			}
			c.send(frame.CmdAck, nil, frame.HdrID, ackID)
			rep.acks++
			if cs.barrierEvery > 0 && sinceBarrier >= cs.barrierEvery {
				sinceBarrier = 0
				rid := "b-" + strconv.Itoa(rep.barriersOut)
				barrierAt[rid] = rep.acks
				rep.barriersOut++
				c.send(frame.CmdSend, []byte("B|"+strconv.Itoa(cs.life)+"|"+rid),
					frame.HdrDestination, "/queue/"+cs.barrierQueue, "persistent", "true", frame.HdrReceipt, rid)
			}
			got++
			if cs.expect > 0 && got == cs.expect && !disconnecting {
				disconnecting = true
				c.send(frame.CmdDisconnect, nil, frame.HdrReceipt, "bye")
			}
		case frame.CmdReceipt:
			rid, _ := f.Get(frame.HdrReceiptID)
			if rid == "bye" {
				rep.clean = true
				return rep
			}
			n, ok := barrierAt[rid]
			if !ok {
				rep.err = fmt.Errorf("consumer: RECEIPT for unknown receipt %q", rid)
				return rep
			}
			delete(barrierAt, rid)
			rep.barrierReceipts++
			rep.durableAcks = max(rep.durableAcks, n)
		default:
			rep.err = fmt.Errorf("consumer: unexpected %s", describe(f))
			return rep
		}
	}
}
