package amqp_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// raw is an AMQP connection driven frame by frame, for what well-behaved
// clients never send.
type raw struct {
	t   *testing.T
	nc  net.Conn
	buf []byte
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	return &raw{t: t, nc: nc}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *raw) send(ch uint16, p codec.Performative, payload []byte) {
	r.t.Helper()
	r.write(codec.AppendFrame(nil, ch, p, payload))
}

// header reads the server's protocol header.
func (r *raw) header() [8]byte {
	r.t.Helper()
	var h [8]byte
	if _, err := io.ReadFull(r.nc, h[:]); err != nil {
		r.t.Fatalf("reading protocol header: %v", err)
	}
	return h
}

// next reads the next performative, skipping empty frames; channel is the
// frame's.
func (r *raw) next() (codec.Performative, uint16) {
	r.t.Helper()
	for {
		h, body, err := codec.ReadFrame(r.nc, 0, &r.buf)
		if err != nil {
			r.t.Fatalf("reading frame: %v", err)
		}
		if len(body) == 0 {
			continue
		}
		p, _, err := codec.DecodePerformative(body)
		if err != nil {
			r.t.Fatalf("decoding frame: %v", err)
		}
		return p, h.Channel
	}
}

// expectEOF reads until the server closes the connection.
func (r *raw) expectEOF() {
	r.t.Helper()
	buf := make([]byte, 4096)
	for {
		_, err := r.nc.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("the server did not close the connection")
			}
			return // reset: closed too
		}
	}
}

// open runs the header exchange (no SASL) and the open.
func (r *raw) open(o *codec.Open) *codec.Open {
	r.t.Helper()
	hdr := codec.ProtocolHeader(codec.ProtoAMQP)
	r.write(hdr[:])
	if h := r.header(); h != hdr {
		r.t.Fatalf("server header % x", h)
	}
	if o == nil {
		o = &codec.Open{ContainerID: "raw", ChannelMax: 15}
	}
	r.send(0, o, nil)
	p, _ := r.next()
	so, ok := p.(*codec.Open)
	if !ok {
		r.t.Fatalf("want open, got %T", p)
	}
	return so
}

// begin begins a session on ch.
func (r *raw) begin(ch uint16) {
	r.t.Helper()
	r.send(ch, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 1000, OutgoingWindow: 1000}, nil)
	p, _ := r.next()
	if _, ok := p.(*codec.Begin); !ok {
		r.t.Fatalf("want begin, got %T", p)
	}
}

// expect reads performatives until one of type T arrives.
func expect[T codec.Performative](r *raw) T {
	r.t.Helper()
	for {
		p, _ := r.next()
		if v, ok := p.(T); ok {
			return v
		}
	}
}

// condition is the error condition of a close, end or detach.
func condition(e *codec.Error) codec.Symbol {
	if e == nil {
		return ""
	}
	return e.Condition
}
