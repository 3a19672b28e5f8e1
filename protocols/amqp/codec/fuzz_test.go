package codec

import (
	"bytes"
	"reflect"
	"testing"
)

// Each fuzz target decodes arbitrary bytes, and when they decode, checks
// that encoding the result and decoding it again gives the same value: the
// decoder never panics, and what it accepts the encoder can say.

func FuzzValue(f *testing.F) {
	for _, v := range valueVectors {
		f.Add(v.enc)
	}
	for _, v := range badValues {
		f.Add(v.enc)
	}
	for _, b := range captured(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		v, err := d.ReadValue()
		if err != nil {
			return
		}
		raw := b[:len(b)-d.Len()]
		d2 := NewDecoder(b)
		if r, err := d2.ReadRaw(); err != nil || !bytes.Equal(r, raw) {
			t.Fatalf("ReadRaw % x, %v; ReadValue took % x", r, err, raw)
		}
		enc, ok := encodable(v)
		if !ok {
			return
		}
		d3 := NewDecoder(enc)
		v2, err := d3.ReadValue()
		if err != nil || d3.Len() != 0 {
			t.Fatalf("re-decode % x of %#v: %v", enc, v, err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(v2)) {
			t.Fatalf("round trip %#v -> % x -> %#v", v, enc, v2)
		}
	})
}

// encodable encodes v unless it holds an array the encoder cannot write
// as decoded (mixed element types after widening cannot happen in decoded
// input, but NaN floats compare unequal: they are skipped by normalize).
func encodable(v any) (enc []byte, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return AppendValue(nil, v), true
}

// normalize makes decoded values comparable: []Symbol and Array of
// symbols are one thing, and NaNs are equal.
func normalize(v any) any {
	switch v := v.(type) {
	case float32:
		if v != v {
			return "NaN32"
		}
	case float64:
		if v != v {
			return "NaN64"
		}
	case List:
		out := make(List, len(v))
		for i := range v {
			out[i] = normalize(v[i])
		}
		return out
	case Array:
		out := make(Array, len(v))
		for i := range v {
			out[i] = normalize(v[i])
		}
		return out
	case Map:
		out := make(Map, len(v))
		for i := range v {
			out[i] = MapEntry{normalize(v[i].Key), normalize(v[i].Value)}
		}
		return out
	case Described:
		return Described{normalize(v.Descriptor), normalize(v.Value)}
	case []byte:
		return string(v) + "\x00bin"
	}
	return v
}

func FuzzPerformative(f *testing.F) {
	for _, v := range perfVectors {
		f.Add(cat(v.body, v.payload))
	}
	for _, v := range badPerformatives {
		f.Add(v.body)
	}
	for _, b := range captured(f) {
		f.Add(b)
	}
	var scratch Scratch
	f.Fuzz(func(t *testing.T, b []byte) {
		p, payload, err := DecodePerformative(b)
		// Decoded into a reused scratch, the same frame gives the same
		// result, whatever the scratch held before.
		ps, payloadS, errS := DecodePerformativeInto(b, &scratch)
		if (err == nil) != (errS == nil) || (err == nil && (!bytes.Equal(p.AppendTo(nil), ps.AppendTo(nil)) || !bytes.Equal(payload, payloadS))) {
			t.Fatalf("into a scratch: %#v, %v; without: %#v, %v", ps, errS, p, err)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		enc := p.AppendTo(nil)
		p2, payload2, err := DecodePerformative(append(enc, payload...))
		if err != nil {
			t.Fatalf("re-decode % x of %#v: %v", enc, p, err)
		}
		if !bytes.Equal(payload, payload2) {
			t.Fatal("payload changed")
		}
		if enc2 := p2.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: % x then % x", enc, enc2)
		}
	})
}

func FuzzFrame(f *testing.F) {
	for _, v := range perfVectors {
		f.Add(AppendFrame(nil, 1, v.p, v.payload), uint32(0))
	}
	for _, b := range captured(f) {
		f.Add(AppendFrame(nil, 0, nil, b), uint32(512))
	}
	f.Add([]byte{0, 0, 0, 8, 2, 0, 0, 0}, uint32(0))
	f.Add([]byte{0, 0, 0, 16, 4, 1, 0, 0, 1, 2, 3, 4, 0x00, 0x53, 0x17, 0x45}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, max uint32) {
		h, body, n, err := SplitFrame(b, max)
		if err != nil || n == 0 {
			return
		}
		if n < FrameHeaderSize || n > len(b) || uint32(n) != h.Size || (max != 0 && h.Size > max) {
			t.Fatalf("frame of %d bytes from %d, header %+v", n, len(b), h)
		}
		var buf []byte
		h2, body2, err := ReadFrame(bytes.NewReader(b), max, &buf)
		if err != nil || h2 != h || !bytes.Equal(body, body2) {
			t.Fatalf("ReadFrame %+v % x %v; SplitFrame %+v % x", h2, body2, err, h, body)
		}
		if len(body) == 0 {
			return
		}
		if _, _, err := DecodePerformative(body); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
		}
	})
}
