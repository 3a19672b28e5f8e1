package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// countingReader counts the bytes handed out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func publishBytes(t testing.TB, payloadLen int) []byte {
	t.Helper()
	raw, err := (&Publish{Topic: []byte("t"), Payload: bytes.Repeat([]byte{'p'}, payloadLen)}).Append(nil, Version311)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestReaderRefusesLargePacketFromHeader: the body of an oversized packet is
// never read; the Reader stops at its fixed header.
func TestReaderRefusesLargePacketFromHeader(t *testing.T) {
	stream := publishBytes(t, 1<<20)
	cr := &countingReader{r: bytes.NewReader(stream)}
	r := NewReader(cr, 64<<10)
	_, _, err := r.ReadPacket()
	if CodeOf(err) != PacketTooLarge {
		t.Fatalf("ReadPacket: %v, want Packet too large", err)
	}
	if cr.n > readerBufSize {
		t.Fatalf("read %d bytes of a refused 1 MiB packet; want at most one buffer (%d)", cr.n, readerBufSize)
	}
}

func TestReaderMaximumPacketSizeBoundary(t *testing.T) {
	raw := publishBytes(t, 100)
	if _, _, err := NewReader(bytes.NewReader(raw), len(raw)).ReadPacket(); err != nil {
		t.Fatalf("a packet of exactly the maximum: %v", err)
	}
	if _, _, err := NewReader(bytes.NewReader(raw), len(raw)-1).ReadPacket(); CodeOf(err) != PacketTooLarge {
		t.Fatalf("a packet one byte over the maximum: %v", err)
	}
}

// TestReaderLargePackets reads packets larger than the initial and than the
// kept buffer, interleaved with small ones, split at every Read.
func TestReaderLargePackets(t *testing.T) {
	sizes := []int{10, 5000, 3, 200_000, 7, 70_000, 1}
	var stream []byte
	for _, n := range sizes {
		stream = append(stream, publishBytes(t, n)...)
	}
	r := NewReader(iotest.HalfReader(bytes.NewReader(stream)), 0)
	for i, n := range sizes {
		fh, body, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		var p Publish
		if err := p.Decode(fh.Flags, body, Version311); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if len(p.Payload) != n || (n > 0 && p.Payload[n-1] != 'p') {
			t.Fatalf("packet %d: payload of %d bytes, want %d", i, len(p.Payload), n)
		}
		if cap(body) != len(body) {
			t.Fatalf("packet %d: body has spare capacity %d; an append by the caller would overwrite the next packet", i, cap(body)-len(body))
		}
	}
	// After the big packets the Reader holds no buffer at all: an idle
	// connection keeps only its small array.
	if _, _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if len(r.buf) != 0 {
		t.Fatalf("buffer of %d bytes kept after large packets, want none", len(r.buf))
	}
}

func TestReaderEndOfStream(t *testing.T) {
	raw := publishBytes(t, 10)
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"empty stream", nil, io.EOF},
		{"inside the fixed header", raw[:1], io.ErrUnexpectedEOF},
		{"inside the body", raw[:len(raw)-1], io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := NewReader(bytes.NewReader(c.stream), 0).ReadPacket()
			if err != c.want {
				t.Fatalf("ReadPacket: %v, want %v", err, c.want)
			}
		})
	}
	// Data returned together with io.EOF is still delivered.
	r := NewReader(iotest.DataErrReader(bytes.NewReader(raw)), 0)
	if _, _, err := r.ReadPacket(); err != nil {
		t.Fatalf("packet delivered with EOF: %v", err)
	}
	if _, _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("after it: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := NewReader(iotest.ErrReader(boom), 0).ReadPacket()
	if !errors.Is(err, boom) {
		t.Fatalf("ReadPacket: %v, want it to wrap %v", err, boom)
	}
	_, _, err = NewReader(bytes.NewReader(h(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01)), 0).ReadPacket()
	if CodeOf(err) != MalformedPacket {
		t.Fatalf("five-byte remaining length: %v, want Malformed Packet", err)
	}
	_, _, err = NewReader(bytes.NewReader(h(0x00, 0x00)), 0).ReadPacket()
	if CodeOf(err) != MalformedPacket {
		t.Fatalf("packet type 0: %v, want Malformed Packet", err)
	}
}

// zeroReader returns (0, nil) forever, which io.Reader discourages.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, _, err := NewReader(zeroReader{}, 0).ReadPacket(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("ReadPacket: %v, want io.ErrNoProgress", err)
	}
}

func TestReaderBuffered(t *testing.T) {
	a, b := publishBytes(t, 1), publishBytes(t, 2)
	r := NewReader(bytes.NewReader(append(append([]byte{}, a...), b...)), 0)
	if _, _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != len(b) {
		t.Fatalf("Buffered = %d, want %d", r.Buffered(), len(b))
	}
	if _, _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered = %d, want 0", r.Buffered())
	}
}

// TestReaderCompacts streams many packets of odd sizes so that packets and
// fixed headers straddle the end of the buffer, which the Reader must move
// to its front.
func TestReaderCompacts(t *testing.T) {
	var stream []byte
	var sizes []int
	for i := range 300 {
		n := 50 + i%97
		sizes = append(sizes, n)
		stream = append(stream, publishBytes(t, n)...)
	}
	for _, mode := range []string{"whole", "half", "one-byte"} {
		var src io.Reader = bytes.NewReader(stream)
		switch mode {
		case "half":
			src = iotest.HalfReader(src)
		case "one-byte":
			src = iotest.OneByteReader(src)
		}
		r := NewReader(src, 0)
		for i, n := range sizes {
			fh, body, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("%s: packet %d: %v", mode, i, err)
			}
			var p Publish
			if err := p.Decode(fh.Flags, body, Version311); err != nil || len(p.Payload) != n {
				t.Fatalf("%s: packet %d: %v, payload %d bytes, want %d", mode, i, err, len(p.Payload), n)
			}
		}
		if len(r.buf) != readerBufSize {
			t.Fatalf("%s: buffer grew to %d bytes for small packets", mode, len(r.buf))
		}
	}
}

// TestReaderComplete: a whole packet behind the one read counts as more
// input, the start of one whose rest has not arrived does not.
func TestReaderComplete(t *testing.T) {
	a, b := publishBytes(t, 1), publishBytes(t, 200)
	for cut := 0; cut <= len(b); cut++ {
		r := NewReader(bytes.NewReader(append(append([]byte{}, a...), b[:cut]...)), 0)
		if _, _, err := r.ReadPacket(); err != nil {
			t.Fatal(err)
		}
		if got, want := r.Complete(), cut == len(b); got != want {
			t.Fatalf("%d of %d bytes of the next packet buffered: Complete = %v", cut, len(b), got)
		}
	}
	// A header the Reader refuses is complete: ReadPacket fails without reading.
	r := NewReader(bytes.NewReader(append(append([]byte{}, a...), 0x30, 0xff, 0xff, 0xff, 0x7f)), 10)
	if _, _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if !r.Complete() {
		t.Fatal("an oversized packet's header is not complete")
	}
}
