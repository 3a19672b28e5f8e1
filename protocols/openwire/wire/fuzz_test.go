package wire

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// fuzzFormat derives a format from the first input byte: bit 0 tight, bit 1
// cache, bit 2 stack traces, the rest the version.
func fuzzFormat(b byte) Format {
	return Format{Version: int(b>>3)%MaxVersion + 1, Tight: b&1 != 0, Cache: b&2 != 0, CacheSize: 64,
		StackTrace: b&4 != 0, MaxFrameSize: 1 << 20}
}

func formatByte(f Format) byte {
	b := byte(f.Version-1) << 3
	if f.Tight {
		b |= 1
	}
	if f.Cache {
		b |= 2
	}
	if f.StackTrace {
		b |= 4
	}
	return b
}

// FuzzReadCommand feeds a stream of size-prefixed frames, in a format chosen
// by the first byte, to one Decoder. Decoding must never panic; whatever
// decodes must encode again and decode to the same value.
func FuzzReadCommand(f *testing.F) {
	// Seeds: the real client's streams, each in its negotiated format, and
	// every type in several formats.
	for _, cc := range captureCases {
		b, err := os.ReadFile(fixturePath(cc.name))
		if err != nil {
			f.Fatal(err)
		}
		frames := splitFrames(f, b)
		d := NewDecoder(InitialFormat())
		w, err := d.Decode(frames[0])
		if err != nil {
			f.Fatal(err)
		}
		n, err := Negotiate(ServerOptions(0, 0), w.(*WireFormatInfo), 0)
		if err != nil {
			f.Fatal(err)
		}
		rest := b[4+len(frames[0]):]
		f.Add(append([]byte{formatByte(n.Format)}, rest[:min(len(rest), 4096)]...))
	}
	for _, fm := range []Format{{Version: 12}, {Version: 12, Tight: true, Cache: true, CacheSize: 64, StackTrace: true}, {Version: 6, Tight: true}, {Version: 1}} {
		enc := NewEncoder(fm)
		for _, c := range sampleAll(fm.Version, fm.StackTrace) {
			if !IsCommand(c.DataType()) {
				continue
			}
			b, err := enc.Encode(nil, c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte{formatByte(fm)}, b...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		fm := fuzzFormat(in[0])
		r := NewReader(bytes.NewReader(in[1:]), fm)
		enc, dec2 := NewEncoder(fm), NewDecoder(fm)
		for range 64 {
			c, err := r.ReadCommand()
			if err != nil {
				var de *DecodeError
				if errors.As(err, &de) && !de.Fatal {
					continue // the stream stays in step
				}
				return
			}
			b, err := enc.Encode(nil, c)
			if err != nil {
				if errors.Is(err, ErrEncode) {
					// Legitimately unencodable: a Latin-1 tight string that
					// outgrows the limit as UTF-8.
					enc = NewEncoder(fm)
					dec2 = NewDecoder(fm)
					continue
				}
				t.Fatalf("re-encode %s: %v", TypeName(c.DataType()), err)
			}
			back, err := dec2.Decode(b[4:])
			if err != nil {
				t.Fatalf("decode re-encoded %s: %v", TypeName(c.DataType()), err)
			}
			if !reflect.DeepEqual(back, c) {
				t.Fatalf("%s changed in a round trip:\n%s\n%s", TypeName(c.DataType()), dump(back), dump(c))
			}
		}
	})
}

// FuzzPrimitiveMap: the primitive map, stream and text decoders never panic,
// and what decodes encodes to bytes that decode and encode identically.
func FuzzPrimitiveMap(f *testing.F) {
	for _, cc := range captureCases[:4] {
		b, _ := os.ReadFile(fixturePath(cc.name))
		c := decodeCapture(f, b)
		for _, cmd := range c.cmds {
			if m, ok := cmd.(*Message); ok {
				f.Add(m.MarshalledProperties)
				if body, err := m.Body(0); err == nil {
					f.Add(body)
				}
			}
		}
	}
	f.Add([]byte{0, 0, 0, 1, 0, 1, 'k', 99})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := ParseMap(b); err == nil {
			enc, err := AppendMap(nil, m)
			if err != nil {
				t.Fatalf("re-encode map: %v", err)
			}
			m2, err := ParseMap(enc)
			if err != nil {
				t.Fatalf("decode re-encoded map: %v", err)
			}
			enc2, _ := AppendMap(nil, m2)
			if !bytes.Equal(enc, enc2) {
				t.Fatal("map encoding not stable")
			}
		}
		if vs, err := ParseStream(b); err == nil {
			enc, err := AppendStream(nil, vs)
			if err != nil {
				t.Fatalf("re-encode stream: %v", err)
			}
			vs2, err := ParseStream(enc)
			if err != nil || len(vs2) != len(vs) {
				t.Fatalf("decode re-encoded stream: %v", err)
			}
		}
		_, _, _ = DecodeText(b)
		_, _ = Inflate(b, 1<<16)
	})
}
