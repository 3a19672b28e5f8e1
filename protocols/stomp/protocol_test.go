package stomp_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/protocols/stomp/frame"
	"github.com/junctionmq/junction/server"
)

// TestMalformedFrames sends frames that break the protocol and checks that
// the server answers each with an ERROR frame carrying a message header and
// closes that connection (spec "ERROR"), while other clients carry on.
func TestMalformedFrames(t *testing.T) {
	const connect = "CONNECT\naccept-version:1.2\nhost:localhost\n\n\x00"
	tests := []struct {
		name      string
		connect   bool   // send a valid CONNECT first
		input     string // raw bytes
		wantInMsg string // expected in the ERROR's message header
	}{
		{"unknown command", true, "FROB\ndestination:/queue/x\n\n\x00", "unknown command"},
		{"lower-case command", true, "send\ndestination:/queue/x\n\nbody\x00", "unknown command"},
		{"SEND without destination", true, "SEND\ncontent-type:text/plain\n\nbody\x00", "destination"},
		{"SUBSCRIBE without destination", true, "SUBSCRIBE\nid:1\n\n\x00", "destination"},
		{"SUBSCRIBE without id (1.2)", true, "SUBSCRIBE\ndestination:/queue/x\n\n\x00", "id"},
		{"content-length not a number", true, "SEND\ndestination:/queue/x\ncontent-length:abc\n\nbody\x00", "content-length"},
		{"negative content-length", true, "SEND\ndestination:/queue/x\ncontent-length:-1\n\nbody\x00", "content-length"},
		{"content-length shorter than the body", true, "SEND\ndestination:/queue/x\ncontent-length:2\n\nbody\x00", "NUL"},
		{"oversized frame (declared content-length)", true, "SEND\ndestination:/queue/x\ncontent-length:104857601\n\n", "message too large: 104857601 bytes, limit 104857600"},
		{"oversized header line", true, "SEND\nx-big:" + strings.Repeat("a", frame.DefaultMaxHeaderLength-len("x-big:")+2), "exceeds"},
		{"invalid selector", true, "SUBSCRIBE\nid:1\ndestination:/queue/x\nselector:weight >>> 3\n\n\x00", "selector"},
		{"header injection: unescaped newline in a value", true, "SEND\ndestination:/queue/x\nx-note:one\ninjected\n\nbody\x00", "without ':'"},
		{"undefined escape sequence", true, "SEND\ndestination:/queue/x\nx-note:tab\\there\n\nbody\x00", "escape"},
		{"invalid priority", true, "SEND\ndestination:/queue/x\npriority:12\nreceipt:bad-1\n\nbody\x00", "priority"},
		{"non-numeric priority", true, "SEND\ndestination:/queue/x\npriority:high\n\nbody\x00", "priority"},
		{"invalid ack mode", true, "SUBSCRIBE\nid:1\ndestination:/queue/x\nack:sometimes\n\n\x00", "ack"},
		{"ACK for an unknown message", true, "ACK\nid:99.99\n\n\x00", "unknown"},
		{"COMMIT of an unknown transaction", true, "COMMIT\ntransaction:nope\n\n\x00", "transaction"},
		{"garbage bytes before CONNECT", false, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + connect, "invalid command"},
		{"HTTP request instead of CONNECT", false, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "invalid command"},
		{"frame before CONNECT", false, "SEND\ndestination:/queue/x\n\nbody\x00", "CONNECT"},
		{"second CONNECT", true, connect, "already connected"},
		{"header name with invalid UTF-8", true, "SEND\ndestination:/queue/x\nx-\xff:1\n\nbody\x00", "UTF-8"},
	}
	s := startBroker(t, nil)
	healthySub := dial(t, s).subscribe("/queue/healthy", stompc.AckAuto)
	healthyPub := dial(t, s)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, s.Addr("stomp"))
			if tc.connect {
				r.connect()
			}
			r.write(tc.input)
			f := r.expectError()
			msg, _ := f.Get(frame.HdrMessage)
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.wantInMsg)) {
				t.Errorf("ERROR message %q does not mention %q", msg, tc.wantInMsg)
			}
			// Spec "ERROR": the receipt-id identifies the frame at fault.
			if strings.Contains(tc.input, "\nreceipt:bad-1\n") {
				if id, _ := f.Get(frame.HdrReceiptID); id != "bad-1" {
					t.Errorf("ERROR receipt-id %q, want bad-1", id)
				}
			}
			// Nothing of the bad frame was routed.
			if q, ok := s.Core.Queue("x"); ok && q.Stats().Enqueued != 0 {
				t.Fatalf("a refused frame was routed: %+v", q.Stats())
			}
			// The other clients did not notice.
			body := "still fine " + strconv.Itoa(i)
			healthyPub.send("/queue/healthy", body)
			if m := recv(t, healthySub); string(m.Body) != body {
				t.Fatalf("healthy client got %q", m.Body)
			}
		})
	}
}

// TestHeartBeatServerSends checks that the server sends heart-beats as
// often as the client asks (spec "Heart-beating": the client's cy; the
// CONNECTED frame carries the server's sx).
func TestHeartBeatServerSends(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	// The clock starts before CONNECT, so the lower bound below holds
	// however late this goroutine reads what the server sent.
	start := time.Now()
	connected := r.connect("heart-beat", "0,100")
	hb, _ := connected.Get(frame.HdrHeartBeat)
	sx, sy, err := frame.ParseHeartBeat(hb)
	if err != nil || sx != 100 || sy != 0 {
		t.Fatalf("CONNECTED heart-beat %q: want 100,0", hb)
	}
	// Count heart-beats; with nothing else to send, every EOL is one.
	beats := 0
	var f frame.Frame
	for beats < 5 {
		_ = r.nc.SetReadDeadline(time.Now().Add(waitFor))
		isHB, err := r.rd.ReadFrame(&f)
		if err != nil {
			t.Fatalf("after %d heart-beats: %v", beats, err)
		}
		if !isHB {
			t.Fatalf("unexpected %s frame", f.Command)
		}
		beats++
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("5 heart-beats in %v: faster than the 100 ms asked for", elapsed)
	}
}

// TestHeartBeatSilentClient connects with heart-beat:100,0 (the client
// promises a beat every 100 ms) and then sends nothing: the server must
// give up on it (spec "Heart-beating": "the remote end MAY consider the
// connection dead") with an ERROR and close, in a bounded time.
func TestHeartBeatSilentClient(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	start := time.Now()
	connected := r.connect("heart-beat", "100,0")
	hb, _ := connected.Get(frame.HdrHeartBeat)
	if _, sy, _ := frame.ParseHeartBeat(hb); sy != 100 {
		t.Fatalf("CONNECTED heart-beat %q: the server should expect a beat every 100 ms", hb)
	}
	f := r.expectError()
	elapsed := time.Since(start)
	msg, _ := f.Get(frame.HdrMessage)
	if !strings.Contains(msg, "heart-beat") {
		t.Errorf("ERROR message %q does not say heart-beat", msg)
	}
	// Twice the interval, plus slack for a loaded machine.
	if elapsed > 2*time.Second {
		t.Fatalf("silent client closed after %v, want about 200 ms", elapsed)
	}
	if elapsed < 100*time.Millisecond {
		t.Fatalf("client closed after %v, before it missed a heart-beat", elapsed)
	}
}

// TestHeartBeatKeepsAlive checks the other side of the same rule: a
// client that does send its heart-beats stays connected well past the
// timeout.
//
// The client promises a beat every 300 ms and sends one every 50 ms, leaving
// half a second of slack to a loaded scheduler; two silent marker
// connections with the same promise, one after the other, show that more
// than twice the server's timeout has passed. Catches the mutation "the
// server's tolerance is shorter than the client's promise" (it would give up
// on this client, which does keep its promise).
func TestHeartBeatKeepsAlive(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect("heart-beat", "300,0")
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_ = r.nc.SetWriteDeadline(time.Now().Add(waitFor))
			if _, err := r.nc.Write([]byte("\n")); err != nil {
				return
			}
		}
	}()
	for range 2 {
		awaitHeartBeatTimeout(t, s, "300,0")
	}
	close(stop)
	<-beating
	r.frame("SEND", "alive", "destination", "/queue/hb", "receipt", "r1")
	if got, _ := r.expect("RECEIPT").Get(frame.HdrReceiptID); got != "r1" {
		t.Fatalf("receipt-id %q", got)
	}
}

// TestHeartBeatGoStomp checks negotiation with go-stomp both ways and that
// the connection survives intervals of silence from the application longer
// than either side would tolerate without heart-beats.
//
// Each direction gets a margin that only a hung peer overruns, because a
// loaded machine (load 20 on 2 cores, -race) stalls goroutines for hundreds
// of milliseconds:
//   - server to client: the client asks for beats every 100 ms and go-stomp
//     allows 100 ms + slack of silence (the server beats every 50 ms);
//   - client to server: the client promises beats every clientEvery, which
//     go-stomp sends every clientEvery - slack (500 ms); the server allows
//     twice the promise (3 s). Promising 100 ms as before left go-stomp
//     100 ms of scheduling delay before the server closed the connection,
//     which a loaded machine overran.
//
// The silence lasts longer than both allowances, measured by the broker's
// own heart-beat timeouts (silent marker connections, about 200 ms each), so
// the mutations "the server sends no heart-beats" (go-stomp closes after
// 1.1 s) and "the server does not count the client's beats" (the server
// closes after 3 s) both fail the SEND below.
func TestHeartBeatGoStomp(t *testing.T) {
	s := startBroker(t, nil)
	const (
		slack       = time.Second
		clientEvery = 1500 * time.Millisecond
	)
	c := dial(t, s,
		stompc.ConnOpt.HeartBeat(clientEvery, 100*time.Millisecond),
		stompc.ConnOpt.HeartBeatError(slack))
	sub := c.subscribe("/queue/hb.go", stompc.AckAuto)
	silence := max(100*time.Millisecond+slack, 2*clientEvery) + slack
	for start := time.Now(); time.Since(start) < silence; {
		awaitHeartBeatTimeout(t, s, "100,0")
	}
	c.send("/queue/hb.go", "still here")
	if m := recv(t, sub); string(m.Body) != "still here" {
		t.Fatalf("got %q", m.Body)
	}
}

// awaitHeartBeatTimeout connects a client that promises heart-beats at the
// given interval ("cx,0") and never sends one, and returns when the server
// gives up on it: a measure of time the broker itself keeps.
func awaitHeartBeatTimeout(t *testing.T, s *server.Server, hb string) {
	t.Helper()
	m := dialRaw(t, s.Addr("stomp"))
	m.connect("heart-beat", hb)
	if msg, _ := m.expectError().Get(frame.HdrMessage); !strings.Contains(msg, "heart-beat") {
		t.Fatalf("marker connection ended with %q, not a heart-beat timeout", msg)
	}
}

// TestReceipts checks that every client frame that carries a receipt
// header gets a RECEIPT with the same receipt-id (spec "Header receipt",
// "RECEIPT"), DISCONNECT's last.
func TestReceipts(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	expectReceipt := func(id string) {
		t.Helper()
		f := r.expect("RECEIPT")
		if got, _ := f.Get(frame.HdrReceiptID); got != id {
			t.Fatalf("receipt-id %q, want %q", got, id)
		}
	}
	r.frame("SUBSCRIBE", "", "id", "s1", "destination", "/queue/rcpt", "ack", "client-individual", "receipt", "subscribe-1")
	expectReceipt("subscribe-1")
	r.frame("SEND", "one", "destination", "/queue/rcpt", "receipt", "send-1")
	// The delivery and the RECEIPT may come in either order.
	msg := r.expectMessageAndReceipt("send-1")
	ackID, _ := msg.Get("ack")
	r.frame("NACK", "", "id", ackID, "receipt", "nack-1")
	msg = r.expectMessageAndReceipt("nack-1") // the redelivery
	if v, _ := msg.Get("redelivered"); v != "true" {
		t.Fatalf("after NACK got %v", msg.Headers)
	}
	ackID, _ = msg.Get("ack")
	r.frame("BEGIN", "", "transaction", "t1", "receipt", "begin-1")
	expectReceipt("begin-1")
	r.frame("ACK", "", "id", ackID, "transaction", "t1", "receipt", "ack-1")
	expectReceipt("ack-1")
	r.frame("COMMIT", "", "transaction", "t1", "receipt", "commit-1")
	expectReceipt("commit-1")
	r.frame("BEGIN", "", "transaction", "t2", "receipt", "begin-2")
	expectReceipt("begin-2")
	r.frame("SEND", "two", "destination", "/queue/rcpt", "transaction", "t2", "receipt", "send-2")
	expectReceipt("send-2")
	r.frame("ABORT", "", "transaction", "t2", "receipt", "abort-1")
	expectReceipt("abort-1")
	r.frame("UNSUBSCRIBE", "", "id", "s1", "receipt", "unsubscribe-1")
	expectReceipt("unsubscribe-1")
	r.frame("DISCONNECT", "", "receipt", "disconnect-1")
	expectReceipt("disconnect-1")
	r.expectClosed()
	// One message acked, one aborted: the queue is empty, so auto-deleted.
	if q, ok := s.Core.Queue("rcpt"); ok && q.Stats().Messages != 0 {
		t.Fatalf("queue after the exchange: %+v, want empty", q.Stats())
	}
}

// TestVersionNegotiation checks spec "Protocol Negotiation": the highest
// common version is chosen, no accept-version means 1.0, and no common
// version is an ERROR that lists the supported ones.
func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string // version header of CONNECTED; "" for ERROR
	}{
		{"accept-version absent means 1.0", nil, "1.0"},
		{"1.0 only", []string{"accept-version", "1.0"}, "1.0"},
		{"1.1 only", []string{"accept-version", "1.1"}, "1.1"},
		{"highest common", []string{"accept-version", "1.0,1.1,1.2"}, "1.2"},
		{"unknown versions ignored", []string{"accept-version", "1.1,3.0"}, "1.1"},
		{"unsupported only", []string{"accept-version", "2.0,2.1"}, ""},
	}
	s := startBroker(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, s.Addr("stomp"))
			f := frame.Frame{Command: "CONNECT"}
			for i := 0; i < len(tc.headers); i += 2 {
				f.Add(tc.headers[i], tc.headers[i+1])
			}
			r.write(string(frame.AppendFrame(nil, &f, frame.V1_0)))
			if tc.want == "" {
				e := r.expectError()
				if v, _ := e.Get(frame.HdrVersion); v != frame.SupportedVersions {
					t.Errorf("ERROR version header %q, want %q", v, frame.SupportedVersions)
				}
				return
			}
			got := r.expect("CONNECTED")
			if v, _ := got.Get(frame.HdrVersion); v != tc.want {
				t.Fatalf("negotiated %q, want %q", v, tc.want)
			}
			if _, ok := got.Get(frame.HdrHeartBeat); ok == (tc.want == "1.0") {
				t.Errorf("heart-beat header present=%v in a %s CONNECTED", ok, tc.want)
			}
		})
	}
	// And with go-stomp, with CONNECT and with the 1.1+ STOMP command.
	for _, v := range []stompc.Version{stompc.V10, stompc.V11, stompc.V12} {
		opts := []func(*stompc.Conn) error{stompc.ConnOpt.AcceptVersion(v)}
		if v != stompc.V10 {
			opts = append(opts, stompc.ConnOpt.UseStomp)
		}
		c := dial(t, s, opts...)
		if c.Version() != v {
			t.Errorf("go-stomp offering %s got %s", v, c.Version())
		}
		sub := c.subscribe("/queue/ver."+string(v), stompc.AckAuto)
		c.send("/queue/ver."+string(v), "hello "+string(v))
		if m := recv(t, sub); string(m.Body) != "hello "+string(v) {
			t.Errorf("STOMP %s: got %q", v, m.Body)
		}
	}
}

// TestHeaderEscaping checks spec "Value Encoding": a header value holding
// ':', '\' and newline (and CR, in 1.2) survives a round trip; in 1.0,
// which has no escapes, a newline cannot break the framing.
func TestHeaderEscaping(t *testing.T) {
	s := startBroker(t, nil)
	tests := []struct {
		version stompc.Version
		value   string
	}{
		{stompc.V11, "a:b\nc\\d: e"},
		{stompc.V12, "a:b\nc\\d\re: f"},
	}
	for _, tc := range tests {
		t.Run("STOMP "+string(tc.version), func(t *testing.T) {
			c := dial(t, s, stompc.ConnOpt.AcceptVersion(tc.version))
			sub := c.subscribe("/queue/esc", stompc.AckAuto)
			c.send("/queue/esc", "escaped", "x-tricky", tc.value, "x:key", "v")
			m := recv(t, sub)
			wantHeader(t, m, "x-tricky", tc.value)
			wantHeader(t, m, "x:key", "v")
		})
	}

	t.Run("STOMP 1.2 raw", func(t *testing.T) {
		r := dialRaw(t, s.Addr("stomp"))
		r.connect()
		r.write("SUBSCRIBE\nid:1\ndestination:/queue/esc.raw\nreceipt:r\n\n\x00")
		r.expect("RECEIPT")
		r.write("SEND\ndestination:/queue/esc.raw\nx-tricky:a\\cb\\nc\\\\d\\re\n\nbody\x00")
		m := r.expect("MESSAGE")
		if v, _ := m.Get("x-tricky"); v != "a:b\nc\\d\re" {
			t.Fatalf("decoded value %q", v)
		}
	})

	t.Run("STOMP 1.0 raw", func(t *testing.T) {
		// A 1.1 sender puts a newline in a value; a 1.0 receiver must
		// still get well-formed frames (the newline becomes a space).
		r := dialRaw(t, s.Addr("stomp"))
		r.connect("accept-version", "1.0")
		r.write("SUBSCRIBE\ndestination:/queue/esc.10\nreceipt:r\n\n\x00")
		r.expect("RECEIPT")
		c := dial(t, s, stompc.ConnOpt.AcceptVersion(stompc.V11))
		c.send("/queue/esc.10", "body", "x-tricky", "line1\nline2:x")
		m := r.expect("MESSAGE")
		if v, _ := m.Get("x-tricky"); v != "line1 line2:x" {
			t.Fatalf("1.0 value %q", v)
		}
		if string(m.Body) != "body" {
			t.Fatalf("body %q", m.Body)
		}
	})
}

// TestStomp10 runs a STOMP 1.0 session the 1.0 way: no subscription id
// (the destination names it), ACK by message-id, UNSUBSCRIBE by
// destination, and no NACK (STOMP 1.0 specification).
func TestStomp10(t *testing.T) {
	s := startBroker(t, nil)
	dial(t, s).send("/queue/v10", "old school")
	r := dialRaw(t, s.Addr("stomp"))
	r.connect("accept-version", "1.0")
	r.write("SUBSCRIBE\ndestination:/queue/v10\nack:client\n\n\x00")
	m := r.expect("MESSAGE")
	if sub, _ := m.Get("subscription"); sub != "/queue/v10" {
		t.Errorf("subscription header %q, want the destination", sub)
	}
	if _, ok := m.Get("ack"); ok {
		t.Error("STOMP 1.0 MESSAGE carries a 1.2 ack header")
	}
	id, _ := m.Get("message-id")
	r.write("ACK\nmessage-id:" + id + "\nreceipt:ack\n\n\x00")
	r.expect("RECEIPT")
	if st := queueStats(t, s, "v10"); st.Messages != 0 {
		t.Fatalf("after ACK by message-id: %+v", st)
	}
	r.write("UNSUBSCRIBE\ndestination:/queue/v10\nreceipt:unsub\n\n\x00")
	r.expect("RECEIPT")
	r.write("NACK\nmessage-id:" + id + "\n\n\x00")
	if msg, _ := r.expectError().Get("message"); !strings.Contains(msg, "1.0") {
		t.Errorf("ERROR for a 1.0 NACK says %q", msg)
	}
}
