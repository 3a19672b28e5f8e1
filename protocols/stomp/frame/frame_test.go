package frame

import (
	"errors"
	"testing"
)

func TestHeaderHelpers(t *testing.T) {
	base := func() *Frame { return fr("SEND", "", "a", "1", "b", "2", "a", "3", "c", "4", "a", "5") }
	tests := []struct {
		name string
		op   func(f *Frame)
		want *Frame
	}{
		{"Set replaces first and drops duplicates", func(f *Frame) { f.Set("a", "x") }, fr("SEND", "", "a", "x", "b", "2", "c", "4")},
		{"Set appends a new key", func(f *Frame) { f.Set("d", "x") }, fr("SEND", "", "a", "1", "b", "2", "a", "3", "c", "4", "a", "5", "d", "x")},
		{"Set on a single key", func(f *Frame) { f.Set("c", "x") }, fr("SEND", "", "a", "1", "b", "2", "a", "3", "c", "x", "a", "5")},
		{"Add appends a duplicate", func(f *Frame) { f.Add("b", "x") }, fr("SEND", "", "a", "1", "b", "2", "a", "3", "c", "4", "a", "5", "b", "x")},
		{"Del removes all", func(f *Frame) { f.Del("a") }, fr("SEND", "", "b", "2", "c", "4")},
		{"Del missing key", func(f *Frame) { f.Del("zz") }, base()},
		{"Reset", func(f *Frame) { f.Body = []byte("x"); f.Reset() }, &Frame{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.op(f)
			if !equalFrame(f, tc.want) {
				t.Fatalf("got %s\nwant %s", dump(f), dump(tc.want))
			}
		})
	}

	f := base()
	if v, ok := f.Get("a"); !ok || v != "1" {
		t.Fatalf("Get(a) = %q, %v; want the first occurrence", v, ok)
	}
	if v, ok := f.Get("nope"); ok || v != "" {
		t.Fatalf("Get(nope) = %q, %v", v, ok)
	}
	f.Add("e", "")
	if v, ok := f.Get("e"); !ok || v != "" {
		t.Fatalf("Get of an empty value = %q, %v", v, ok)
	}
	// Del must not leave stale strings in the backing array.
	hs := f.Headers
	f.Del("a")
	for _, h := range hs[len(f.Headers):] {
		if h != (Header{}) {
			t.Fatalf("stale header %v left after Del", h)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"", V1_0, true},
		{"1.0", V1_0, true},
		{"1.1", V1_1, true},
		{"1.2", V1_2, true},
		{"1.0,1.1,1.2", V1_2, true},
		{"1.2,1.0", V1_2, true},
		{"1.1, 1.0", V1_1, true},
		{" 1.2 , 2.0", V1_2, true},
		{"1.0,1.1,1.2,1.3", V1_2, true},
		{"2.0", 0, false},
		{"1.3,9", 0, false},
		{",", 0, false},
		{"1.20", 0, false},
	}
	for _, tc := range tests {
		v, ok := Negotiate(tc.in)
		if ok != tc.ok || ok && v != tc.want {
			t.Errorf("Negotiate(%q) = %v, %v; want %v, %v", tc.in, v, ok, tc.want, tc.ok)
		}
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[Version]string{V1_0: "1.0", V1_1: "1.1", V1_2: "1.2", 7: "Version(7)"} {
		if v.String() != want {
			t.Errorf("%d.String() = %q", v, v.String())
		}
	}
}

func TestParseHeartBeat(t *testing.T) {
	tests := []struct {
		in     string
		cx, cy int
		bad    bool
	}{
		{"", 0, 0, false},
		{"0,0", 0, 0, false},
		{"10000,10000", 10000, 10000, false},
		{"5000, 0", 5000, 0, false},
		{" 1 , 2 ", 1, 2, false},
		{"2147483647,0", 2147483647, 0, false},
		{"2147483648,0", 0, 0, true},
		{"99999999999999999999999,1", 0, 0, true},
		{"1000", 0, 0, true},
		{"a,b", 0, 0, true},
		{"-1,0", 0, 0, true},
		{"1,", 0, 0, true},
		{",1", 0, 0, true},
		{"1,2,3", 0, 0, true},
		{"1.5,2", 0, 0, true},
	}
	for _, tc := range tests {
		cx, cy, err := ParseHeartBeat(tc.in)
		if tc.bad {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Msg == "" || !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseHeartBeat(%q) error = %v, want a *ProtocolError", tc.in, err)
			}
			continue
		}
		if err != nil || cx != tc.cx || cy != tc.cy {
			t.Errorf("ParseHeartBeat(%q) = %d, %d, %v; want %d, %d", tc.in, cx, cy, err, tc.cx, tc.cy)
		}
	}
	if s := FormatHeartBeat(10000, 0); s != "10000,0" {
		t.Errorf("FormatHeartBeat = %q", s)
	}
	if cx, cy, err := ParseHeartBeat(FormatHeartBeat(123, 456)); err != nil || cx != 123 || cy != 456 {
		t.Errorf("format/parse round trip: %d %d %v", cx, cy, err)
	}
}

func TestNegotiateHeartBeat(t *testing.T) {
	tests := []struct{ send, expect, want int }{
		{0, 0, 0}, {0, 5000, 0}, {5000, 0, 0}, {1000, 5000, 5000}, {5000, 1000, 5000}, {3000, 3000, 3000},
	}
	for _, tc := range tests {
		if got := NegotiateHeartBeat(tc.send, tc.expect); got != tc.want {
			t.Errorf("NegotiateHeartBeat(%d, %d) = %d, want %d", tc.send, tc.expect, got, tc.want)
		}
	}
}
