package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrimitiveMapRoundTrip(t *testing.T) {
	big := strings.Repeat("é", 9000) // more than 8191 Java chars: the int-length form
	m := Map{
		{"null", nil}, {"bool", true}, {"byte", int8(-128)}, {"char", Char(0xffff)}, {"short", int16(-2)},
		{"int", int32(math.MaxInt32)}, {"long", int64(math.MinInt64)}, {"float", float32(-0.5)},
		{"double", math.Inf(1)}, {"string", "s€\U0001D11E"}, {"big", big}, {"bytes", []byte{0, 1}},
		{"map", Map{{"inner", int32(1)}, {"list", []any{"a", int64(2), Map{}}}}}, {"", ""},
	}
	b, err := AppendMap(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMap(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %v", got)
	}
	// The big string uses type 13 with an int length.
	if i := bytes.Index(b, []byte("\x00\x03big\x0d")); i < 0 {
		t.Error("big string not written as BIG_STRING_TYPE")
	}
	// In a map, a character outside the BMP is standard UTF-8 (what the
	// Java reader decodes), not a surrogate pair.
	if !bytes.Contains(b, []byte("s€\U0001D11E")) {
		t.Error("map string not standard UTF-8")
	}
	// A nil map is count -1 and reads back as nil.
	b, _ = AppendMap(nil, nil)
	if got, err := ParseMap(b); err != nil || got != nil || !bytes.Equal(b, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("nil map: %x %v %v", b, got, err)
	}
	if _, err := AppendMap(nil, Map{{"x", struct{}{}}}); !errors.Is(err, ErrEncode) {
		t.Errorf("non-primitive value: %v", err)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	vs := []any{false, int8(5), Char('x'), int16(12), int32(-1), int64(1), float32(0.25), math.Pi, "\x00𝄞", strings.Repeat("b", 9000), []byte{9}, nil}
	b, err := AppendStream(nil, vs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStream(b)
	if err != nil || !reflect.DeepEqual(got, vs) {
		t.Fatalf("%#v %v", got, err)
	}
	// In a stream, strings are modified UTF-8 (DataInput.readUTF): NUL is
	// C0 80.
	if !bytes.Contains(b, []byte{0xc0, 0x80}) {
		t.Error("stream string not modified UTF-8")
	}
}

func TestPrimitiveBadInput(t *testing.T) {
	for name, c := range map[string]struct {
		b   []byte
		err error
	}{
		"bad type tag":         {[]byte{0, 0, 0, 1, 0, 1, 'k', 99}, ErrPrimitive},
		"count past the end":   {[]byte{0, 0x10, 0, 0, 0, 1, 'k', 1, 1}, ErrLength},
		"key past the end":     {[]byte{0, 0, 0, 1, 0, 9, 'k'}, ErrLength},
		"bytes past the end":   {[]byte{0, 0, 0, 1, 0, 1, 'k', 10, 0x7f, 0, 0, 0}, ErrLength},
		"negative bytes":       {[]byte{0, 0, 0, 1, 0, 1, 'k', 10, 0xff, 0xff, 0xff, 0xfe}, ErrLength},
		"big string past end":  {[]byte{0, 0, 0, 1, 0, 1, 'k', 13, 0, 1, 0, 0}, ErrLength},
		"list past the end":    {[]byte{0, 0, 0, 1, 0, 1, 'k', 12, 0, 1, 0, 0}, ErrLength},
		"truncated value":      {[]byte{0, 0, 0, 1, 0, 1, 'k', 6, 0}, ErrTruncated},
		"trailing bytes":       {[]byte{0, 0, 0, 0, 1}, ErrTrailing},
		"bad UTF-8 in a value": {[]byte{0, 0, 0, 1, 0, 1, 'k', 9, 0, 1, 0xff}, ErrUTF},
	} {
		if _, err := ParseMap(c.b); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", name, err, c.err)
		}
	}
	// Nesting depth is bounded.
	var b []byte
	for range 100 {
		b = append(b, 0, 0, 0, 1, 0, 1, 'k', ptMap)
	}
	b = append(b, 0, 0, 0, 0)
	if _, err := ParseMap(b); !errors.Is(err, ErrNesting) {
		t.Errorf("deep maps: %v", err)
	}
	if _, err := ParseStream([]byte{ptInt, 0}); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated stream: %v", err)
	}
}

func TestBodies(t *testing.T) {
	for _, compress := range []bool{false, true} {
		m := &Message{Type: TypeTextMessage}
		m.SetText("héllo \U0001D11E", compress)
		if m.Compressed != compress {
			t.Fatal("compressed flag")
		}
		if s, err := m.Text(0); err != nil || s != "héllo \U0001D11E" {
			t.Errorf("text %q %v", s, err)
		}
		bm := &Message{Type: TypeBytesMessage}
		bm.SetBody([]byte("some bytes"), compress)
		if b, err := bm.Body(0); err != nil || string(b) != "some bytes" {
			t.Errorf("bytes body %q %v", b, err)
		}
	}
	// The Java client deflates the buffer past the body (its capacity) and
	// inflates only the announced length.
	z := Deflate([]byte("body+garbage"))
	bm := &Message{Type: TypeBytesMessage, Compressed: true, Content: append([]byte{0, 0, 0, 4}, z...)}
	if b, err := bm.Body(0); err != nil || string(b) != "body" {
		t.Errorf("bytes body with trailing capacity: %q %v", b, err)
	}
	bm.Content = append([]byte{0, 0, 0, 40}, z...)
	if _, err := bm.Body(0); !errors.Is(err, ErrInflate) {
		t.Errorf("announced length past the stream: %v", err)
	}
	bm.Content = append([]byte{0x7f, 0, 0, 0}, z...)
	if _, err := bm.Body(1000); !errors.Is(err, ErrInflate) {
		t.Errorf("announced length past the limit: %v", err)
	}
	// A deflate bomb stops at the limit.
	bomb := Deflate(make([]byte, 10<<20))
	tm := &Message{Type: TypeTextMessage, Compressed: true, Content: bomb}
	if _, err := tm.Body(1 << 20); !errors.Is(err, ErrInflate) {
		t.Errorf("deflate bomb: %v", err)
	}
	if _, err := Inflate([]byte("not zlib"), 0); !errors.Is(err, ErrInflate) {
		t.Errorf("garbage: %v", err)
	}
	// Null text.
	if s, null, err := DecodeText([]byte{0xff, 0xff, 0xff, 0xff}); err != nil || !null || s != "" {
		t.Errorf("null text: %q %v %v", s, null, err)
	}
	if _, _, err := DecodeText([]byte{0, 0, 0, 9, 'a'}); !errors.Is(err, ErrLength) {
		t.Errorf("text length past the body: %v", err)
	}
	if got := (&Message{Content: make([]byte, 10), MarshalledProperties: make([]byte, 5)}).Size(); got != 1039 {
		t.Errorf("Size %d", got)
	}
}

func TestNegotiate(t *testing.T) {
	ours := ServerOptions(30*time.Second, 0)
	client := Options{Version: 12, StackTraceEnabled: true, CacheEnabled: true, TightEncodingEnabled: true,
		SizePrefixDisabled: true, CacheSize: 512, MaxInactivityDuration: 10 * time.Second,
		MaxInactivityInitialDelay: 5 * time.Second, Host: "h", ProviderName: "ActiveMQ", Other: Map{{"X", int32(1)}}}
	w := NewWireFormatInfo(client)
	// Through the wire, as the client sends it.
	b, err := NewEncoder(InitialFormat()).Encode(nil, w)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewDecoder(InitialFormat()).Decode(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	n, err := Negotiate(ours, c.(*WireFormatInfo), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := Format{Version: 12, Tight: true, Cache: true, CacheSize: 512, StackTrace: true, MaxFrameSize: 1 << 20}
	if n.Format != want || n.MaxInactivity != 10*time.Second || n.InitialDelay != 5*time.Second ||
		n.Remote.Host != "h" || !n.Remote.SizePrefixDisabled || len(n.Remote.Other) != 1 {
		t.Errorf("negotiated %+v", n)
	}
	// A client with a smaller frame limit: frames to it must respect it.
	w = NewWireFormatInfo(Options{Version: 12, MaxFrameSize: 1000})
	if n, err := Negotiate(ours, w, 1<<20); err != nil || n.Format.MaxFrameSize != 1000 {
		t.Errorf("client frame limit: %+v %v", n.Format, err)
	}
	// An older client, no tight encoding, no inactivity monitoring, cache size 0.
	w = NewWireFormatInfo(Options{Version: 6, CacheEnabled: true})
	n, err = Negotiate(ours, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Format.Version != 6 || n.Format.Tight || n.Format.StackTrace || n.Format.CacheSize != 1024 || n.MaxInactivity != 0 {
		t.Errorf("v6 client: %+v", n)
	}
	w = NewWireFormatInfo(Options{Version: 12, CacheEnabled: true})
	o := ours
	o.CacheSize = 0
	if n, _ := Negotiate(o, w, 0); n.Format.CacheSize != javaDefaultCacheSize {
		t.Errorf("cache size 0 on both sides: %d", n.Format.CacheSize)
	}
	// A newer client is answered with our version.
	w = NewWireFormatInfo(Options{Version: 13})
	if n, err := Negotiate(ours, w, 0); err != nil || n.Format.Version != 12 {
		t.Errorf("v13 client: %+v %v", n, err)
	}
	for _, v := range []int{0, -3} {
		w = NewWireFormatInfo(Options{})
		w.Version = int32(v)
		if _, err := Negotiate(ours, w, 0); err == nil {
			t.Errorf("version %d accepted", v)
		}
	}
	w = &WireFormatInfo{Magic: Magic, Version: 12, Properties: []byte{0, 0, 0, 1, 0, 1, 'k', 77}}
	if _, err := Negotiate(ours, w, 0); !errors.Is(err, ErrPrimitive) {
		t.Errorf("bad properties: %v", err)
	}
}
