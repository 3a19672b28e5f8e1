package packet

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder for every protocol
// version. Decoding must never panic, and whatever decodes must encode (to
// exactly Size bytes) and decode again to the same value. The Reader gets the
// same bytes as a stream.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.raw)
	}
	f.Add(h(0x30, 0xFF, 0xFF, 0xFF, 0x7F))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, version := range v345 {
			p, n, err := DecodePacket(data, version)
			if err != nil {
				continue
			}
			if n > len(data) {
				t.Fatalf("v%d: consumed %d of %d bytes", version, n, len(data))
			}
			out, err := p.Append(nil, version)
			if err != nil {
				t.Fatalf("v%d: %#v decoded from % x does not encode: %v", version, p, data[:n], err)
			}
			if size := p.Size(version); size != len(out) {
				t.Fatalf("v%d: Size %d, encoded %d bytes", version, size, len(out))
			}
			q, m, err := DecodePacket(out, version)
			if err != nil {
				t.Fatalf("v%d: re-encoded % x (from % x) does not decode: %v", version, out, data[:n], err)
			}
			if m != len(out) {
				t.Fatalf("v%d: re-decode consumed %d of %d bytes", version, m, len(out))
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("v%d: round trip changed the packet\n %#v\n %#v", version, p, q)
			}
		}
		r := NewReader(bytes.NewReader(data), 1024)
		for {
			fh, body, err := r.ReadPacket()
			if err != nil {
				break
			}
			if len(body) != fh.Remaining || fh.Size() > 1024 {
				t.Fatalf("Reader returned %d bytes for remaining length %d", len(body), fh.Remaining)
			}
			_, _ = Decode(fh, body, Version5)
		}
	})
}
