package codec

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// scriptServer plays the broker's side of one go-amqp connection with
// this codec: every frame the client sends is decoded here, and every
// frame go-amqp reads was encoded here. The client's frames are recorded
// (they seed the fuzz targets).
type scriptServer struct {
	t      *testing.T
	c      net.Conn
	buf    []byte
	frames [][]byte // bodies of the frames received
}

func (s *scriptServer) read() (FrameHeader, Performative, []byte) {
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, body, err := ReadFrame(s.c, 1<<20, &s.buf)
		if err != nil {
			panic(fmt.Sprintf("read frame: %v", err))
		}
		if len(body) == 0 {
			continue // heartbeat
		}
		s.frames = append(s.frames, append([]byte(nil), body...))
		p, payload, err := DecodePerformative(body)
		if err != nil {
			panic(fmt.Sprintf("decode % x: %v", body, err))
		}
		if FrameType(p) != h.Type {
			panic(fmt.Sprintf("%T in a frame of type %d", p, h.Type))
		}
		return h, p, append([]byte(nil), payload...)
	}
}

// expect reads frames until one of type T, skipping flows.
func expect[T Performative](s *scriptServer) (FrameHeader, T, []byte) {
	for {
		h, p, payload := s.read()
		if v, ok := p.(T); ok {
			return h, v, payload
		}
		if _, ok := p.(*Flow); !ok {
			panic(fmt.Sprintf("got %#v, want %T", p, *new(T)))
		}
	}
}

func (s *scriptServer) write(ch uint16, p Performative, payload []byte) {
	if _, err := s.c.Write(AppendFrame(nil, ch, p, payload)); err != nil {
		panic(err)
	}
}

func (s *scriptServer) header(want uint8) {
	var b [8]byte
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.c.Read(b[:]); err != nil {
		panic(err)
	}
	id, err := ParseProtocolHeader(b[:])
	if err != nil || id != want {
		panic(fmt.Sprintf("header %q: %v", b, err))
	}
	h := ProtocolHeader(id)
	s.c.Write(h[:])
}

// TestGoAMQPOracle runs a SASL PLAIN login, a send and a receive with a
// selector through go-amqp against the codec.
func TestGoAMQPOracle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *amqp.Message, 1)
	done := make(chan error, 1)
	var frames [][]byte
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		s := &scriptServer{t: t, c: c}
		defer func() {
			frames = s.frames
			if r := recover(); r != nil {
				done <- fmt.Errorf("server: %v", r)
				return
			}
			done <- nil
		}()
		s.server(got)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, "amqp://"+ln.Addr().String(), &amqp.ConnOptions{
		SASLType: amqp.SASLTypePlain("user", "pass"), ContainerID: "oracle", IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err, <-done)
	}
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := sess.NewSender(ctx, "q", &amqp.SenderOptions{TargetCapabilities: []string{"queue"}})
	if err != nil {
		t.Fatal(err)
	}
	id := "m-1"
	msg := &amqp.Message{
		Header:                &amqp.MessageHeader{Durable: true, Priority: 7, TTL: time.Minute},
		Properties:            &amqp.MessageProperties{MessageID: id, To: &[]string{"q"}[0], Subject: &[]string{"subj"}[0]},
		ApplicationProperties: map[string]any{"n": int64(42), "s": "x", "u": uint8(3)},
		Annotations:           amqp.Annotations{"x-opt-delivery-delay": int64(1000)},
		Value:                 "hello",
	}
	if err := snd.Send(ctx, msg, nil); err != nil {
		t.Fatal(err)
	}
	if err := snd.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rcv, err := sess.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Credit: 5, Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("n = 42")}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Value != "hello" || back.ApplicationProperties["n"] != int64(42) || back.Properties.MessageID != id ||
		back.Header == nil || !back.Header.Durable || back.Header.Priority != 7 {
		t.Fatalf("message back: %+v %+v %+v", back, back.Header, back.Properties)
	}
	if err := rcv.AcceptMessage(ctx, back); err != nil {
		t.Fatal(err)
	}
	if err := rcv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("server script did not finish")
	}
	if os.Getenv("AMQP_CAPTURE") != "" {
		dir := filepath.Join("testdata", "captured")
		os.MkdirAll(dir, 0o755)
		for i, f := range frames {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("goamqp-%02d.bin", i)), f, 0o644)
		}
	}
}

func (s *scriptServer) server(got chan<- *amqp.Message) {
	s.header(ProtoSASL)
	s.write(0, &SASLMechanisms{Mechanisms: []Symbol{"PLAIN", "ANONYMOUS"}}, nil)
	_, init, _ := expect[*SASLInit](s)
	if init.Mechanism != "PLAIN" || string(init.InitialResponse) != "\x00user\x00pass" {
		panic(fmt.Sprintf("sasl-init %+v", init))
	}
	s.write(0, &SASLOutcome{Code: SASLOK}, nil)
	s.header(ProtoAMQP)
	_, open, _ := expect[*Open](s)
	if open.ContainerID != "oracle" || open.IdleTimeOut != 30000 {
		panic(fmt.Sprintf("open %+v", open))
	}
	s.write(0, &Open{ContainerID: "srv", MaxFrameSize: 65536, ChannelMax: 9, IdleTimeOut: 120000,
		OfferedCapabilities: []Symbol{"ANONYMOUS-RELAY"}, Properties: Map{{Symbol("product"), "junction-test"}}}, nil)
	h, begin, _ := expect[*Begin](s)
	ch := h.Channel
	s.write(ch, &Begin{HasRemoteChannel: true, RemoteChannel: ch, NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 63}, nil)
	_ = begin

	// The sender's link.
	_, att, _ := expect[*Attach](s)
	if att.Role != RoleSender || att.Target == nil || att.Target.Address != "q" || len(att.Target.Capabilities) != 1 {
		panic(fmt.Sprintf("sender attach %+v target %+v", att, att.Target))
	}
	s.write(ch, &Attach{Name: att.Name, Handle: 7, Role: RoleReceiver, SndSettleMode: att.SndSettleMode,
		RcvSettleMode: att.RcvSettleMode, Source: att.Source, Target: att.Target, MaxMessageSize: 1 << 20}, nil)
	s.write(ch, &Flow{HasNextIncomingID: true, NextIncomingID: 0, IncomingWindow: 5000, NextOutgoingID: 0, OutgoingWindow: 5000,
		HasHandle: true, Handle: 7, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true}, nil)
	_, tr, payload := expect[*Transfer](s)
	if tr.Handle != att.Handle || !tr.HasDeliveryID || tr.More || len(tr.DeliveryTag) == 0 {
		panic(fmt.Sprintf("transfer %+v", tr))
	}
	message := payload
	s.write(ch, &Disposition{Role: RoleReceiver, First: tr.DeliveryID, Last: tr.DeliveryID, Settled: true, State: &Accepted{}}, nil)
	_, det, _ := expect[*Detach](s)
	s.write(ch, &Detach{Handle: 7, Closed: det.Closed}, nil)

	// The receiver's link, with a selector.
	_, att, _ = expect[*Attach](s)
	if sel, ok := att.Source.Selector(); att.Role != RoleReceiver || !ok || sel != "n = 42" {
		panic(fmt.Sprintf("receiver attach %+v source %+v", att, att.Source))
	}
	s.write(ch, &Attach{Name: att.Name, Handle: 3, Role: RoleSender, Source: att.Source, Target: att.Target,
		SndSettleMode: SndUnsettled, HasInitialDeliveryCount: true}, nil)
	_, fl, _ := expect[*Flow](s)
	if !fl.HasHandle || fl.LinkCredit != 5 {
		panic(fmt.Sprintf("flow %+v", fl))
	}
	s.write(ch, &Transfer{Handle: 3, HasDeliveryID: true, DeliveryID: 0, DeliveryTag: []byte("t0"),
		HasMessageFormat: true, MessageFormat: 0}, message)
	_, disp, _ := expect[*Disposition](s)
	if _, ok := disp.State.(*Accepted); !ok || disp.Role != RoleReceiver || disp.First != 0 {
		panic(fmt.Sprintf("disposition %+v", disp))
	}
	_, det, _ = expect[*Detach](s)
	s.write(ch, &Detach{Handle: 3, Closed: det.Closed}, nil)
	expect[*End](s)
	s.write(ch, &End{}, nil)
	expect[*Close](s)
	s.write(0, &Close{}, nil)
}

// captured returns the frame bodies go-amqp sent in TestGoAMQPOracle, kept
// in testdata/captured (AMQP_CAPTURE=1 go test -run Oracle rewrites them).
func captured(tb testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "captured", "*.bin"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		tb.Fatal("no captured frames in testdata/captured")
	}
	return out
}
