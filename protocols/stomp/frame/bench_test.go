package frame

import (
	"bytes"
	"testing"
)

// loopReader serves the same bytes forever, copying whole frames per Read the
// way a socket delivers a burst.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

var sendFrame = []byte("SEND\ndestination:/queue/orders\ncontent-type:text/plain\nreceipt:r-1234\ncontent-length:100\n\n" +
	string(bytes.Repeat([]byte("x"), 100)) + "\x00")

// BenchmarkReadFrame: a typical SEND, 4 headers and a 100-byte body, into a
// reused Frame. The allocations are the header string and the body.
func BenchmarkReadFrame(b *testing.B) {
	for _, v := range []Version{V1_0, V1_2} {
		b.Run(v.String(), func(b *testing.B) {
			r := NewReader(&loopReader{data: sendFrame}, Limits{})
			r.SetVersion(v)
			var f Frame
			b.SetBytes(int64(len(sendFrame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadFrame(&f); err != nil {
					b.Fatal(err)
				}
			}
			if f.Command != CmdSend || len(f.Body) != 100 || len(f.Headers) != 4 {
				b.Fatalf("decoded %s", dump(&f))
			}
		})
	}
}

// BenchmarkReadFrameNoLength: the same frame without content-length, so the
// body is found by scanning for NUL.
func BenchmarkReadFrameNoLength(b *testing.B) {
	data := []byte("SEND\ndestination:/queue/orders\ncontent-type:text/plain\nreceipt:r-1234\nx-priority:4\n\n" +
		string(bytes.Repeat([]byte("x"), 100)) + "\x00")
	r := NewReader(&loopReader{data: data}, Limits{})
	r.SetVersion(V1_2)
	var f Frame
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadFrame(&f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeMessage: the server's delivery path, a MESSAGE with the
// usual headers and a 100-byte body appended to a reused buffer.
func BenchmarkEncodeMessage(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 100)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	var n int
	for i := uint64(0); b.Loop(); i++ {
		var e Encoder
		e.Begin(buf[:0], V1_2, CmdMessage)
		e.Header(HdrSubscription, "sub-0")
		e.HeaderUint(HdrMessageID, i)
		e.Header(HdrDestination, "/queue/orders")
		e.Header(HdrContentType, "text/plain")
		e.Header("ack", "m-1234")
		buf = e.Body(body)
		n = len(buf)
	}
	b.SetBytes(int64(n))
}

// BenchmarkAppendFrame: the same MESSAGE through the generic Frame path.
func BenchmarkAppendFrame(b *testing.B) {
	f := fr(CmdMessage, string(bytes.Repeat([]byte("x"), 100)),
		HdrSubscription, "sub-0", HdrMessageID, "123456", HdrDestination, "/queue/orders", HdrContentType, "text/plain", "ack", "m-1234")
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], f, V1_2)
	}
	b.SetBytes(int64(len(buf)))
}
