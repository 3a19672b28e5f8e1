package packet

import (
	"bytes"
	"testing"
)

var benchTopic = []byte("sensors/building-1/floor-3/room-42/temperature")

func benchPublish(version byte, props bool) *Publish {
	p := &Publish{QoS: 1, PacketID: 4242, Topic: benchTopic, Payload: bytes.Repeat([]byte{'x'}, 100)}
	if props && version == Version5 {
		p.Properties = Properties{Present: set(PropMessageExpiry, PropPayloadFormat), MessageExpiry: 3600, PayloadFormat: 1}
	}
	return p
}

var benchCases = []struct {
	name    string
	version byte
	props   bool
}{
	{"v4", Version311, false},
	{"v5", Version5, false},
	{"v5-props", Version5, true}, // Message Expiry + Payload Format: fixed-size properties
}

// BenchmarkDecodePublish decodes a QoS 1 PUBLISH with a 100-byte payload into
// a reused struct, aliasing the buffer as a server does with Reader output.
func BenchmarkDecodePublish(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			raw, err := benchPublish(c.version, c.props).Append(nil, c.version)
			if err != nil {
				b.Fatal(err)
			}
			var p Publish
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				fh, hl, err := ParseFixedHeader(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Decode(fh.Flags, raw[hl:], c.version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodePublish encodes the same PUBLISH into a reused buffer.
func BenchmarkEncodePublish(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			p := benchPublish(c.version, c.props)
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(p.Size(c.version)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = p.Append(buf[:0], c.version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader serves the same bytes forever.
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

// BenchmarkReadDecodePublish is the server's inbound path: Reader.ReadPacket
// from a stream plus Decode into a reused struct.
func BenchmarkReadDecodePublish(b *testing.B) {
	for _, c := range benchCases[:2] {
		b.Run(c.name, func(b *testing.B) {
			raw, err := benchPublish(c.version, false).Append(nil, c.version)
			if err != nil {
				b.Fatal(err)
			}
			r := NewReader(&loopReader{data: raw}, 0)
			var p Publish
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				fh, body, err := r.ReadPacket()
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Decode(fh.Flags, body, c.version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPublishAllocs pins the zero-allocation goals so a regression fails the
// tests, not just the benchmark figures.
func TestPublishAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for _, c := range benchCases {
		p := benchPublish(c.version, c.props)
		raw, err := p.Append(nil, c.version)
		if err != nil {
			t.Fatal(err)
		}
		fh, hl, err := ParseFixedHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		var q Publish
		decode := testing.AllocsPerRun(100, func() {
			if err := q.Decode(fh.Flags, raw[hl:], c.version); err != nil {
				t.Fatal(err)
			}
		})
		buf := make([]byte, 0, 512)
		encode := testing.AllocsPerRun(100, func() {
			if buf, err = p.Append(buf[:0], c.version); err != nil {
				t.Fatal(err)
			}
		})
		if decode != 0 || encode != 0 {
			t.Errorf("%s: %v allocs per decode, %v per encode; want 0", c.name, decode, encode)
		}
	}
}
