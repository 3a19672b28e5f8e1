package frame

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// representable reports whether AppendFrame can carry f's header text
// unchanged in version v (see escMode).
func representable(f *Frame, v Version) bool {
	mode := modeFor(v, f.Command)
	for _, h := range f.Headers {
		for _, s := range []string{h.Key, h.Value} {
			if mode != esc12 && strings.ContainsRune(s, '\r') {
				return false
			}
			if mode == escNone && strings.ContainsRune(s, '\n') {
				return false
			}
		}
		if mode == escNone && strings.ContainsRune(h.Key, ':') {
			return false
		}
	}
	return true
}

// FuzzReader decodes arbitrary bytes in every version with small limits. It
// checks that nothing panics, that errors are the documented kinds, that
// limits hold, and that every decoded frame survives an encode/decode round
// trip.
func FuzzReader(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint8(V1_2))
		f.Add([]byte(tc.in), uint8(V1_1))
	}
	for _, fr := range roundTripFrames {
		for _, v := range all {
			f.Add(AppendFrame(nil, fr, v), uint8(v))
		}
	}
	f.Add([]byte("SEND\r\nk\\r:v\\c\\n\\\\\r\ncontent-length:3\r\n\r\na\x00b\x00\r\n\n"), uint8(V1_2))
	f.Add([]byte("MESSAGE\nk:v\nk:w\ncontent-length:0\n\n\x00\n\nERROR\nmessage:m\n\nbody\x00"), uint8(V1_0))

	lim := Limits{MaxFrameSize: 4096, MaxHeaders: 16, MaxHeaderLength: 256, MaxBodySize: 2048}
	f.Fuzz(func(t *testing.T, data []byte, vb uint8) {
		v := Version(vb % 3)
		r := NewReader(bytes.NewReader(data), lim)
		r.SetVersion(v)
		for range 64 {
			var fr Frame
			hb, err := r.ReadFrame(&fr)
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) || pe.Msg == "" || pe.Err == nil {
					t.Fatalf("error %v (%T) is not a categorised *ProtocolError", err, err)
				}
				return
			}
			if hb {
				continue
			}
			if fr.Command == "" || len(fr.Headers) > lim.MaxHeaders || len(fr.Body) > lim.MaxBodySize {
				t.Fatalf("frame breaks the limits: %s", dump(&fr))
			}
			if !representable(&fr, v) {
				continue
			}
			wire := AppendFrame(nil, &fr, v)
			r2 := NewReader(bytes.NewReader(wire), Limits{})
			r2.SetVersion(v)
			got, err := r2.Read()
			if err != nil {
				t.Fatalf("re-decoding %q: %v", wire, err)
			}
			if !equalFrame(withoutContentLength(got), withoutContentLength(&fr)) {
				t.Fatalf("round trip changed the frame:\n got %s\nwant %s\nwire %q", dump(got), dump(&fr), wire)
			}
			if again := AppendFrame(nil, got, v); !bytes.Equal(again, wire) {
				t.Fatalf("encoding is not stable:\n%q\n%q", wire, again)
			}
		}
	})
}
