package frame

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var all = []Version{V1_0, V1_1, V1_2}

type parseCase struct {
	name     string
	versions []Version // nil: every version
	in       string
	want     []*Frame
	hbs      int   // heart-beat reports when the input is read in one piece
	err      error // category of the final error; nil means clean io.EOF
}

var parseCases = []parseCase{
	{name: "bare frame", in: "SEND\n\n\x00", want: []*Frame{fr("SEND", "")}},
	{name: "headers and body", in: "SEND\ndestination:/queue/a\nreceipt:r1\n\nhello\x00",
		want: []*Frame{fr("SEND", "hello", "destination", "/queue/a", "receipt", "r1")}},
	{name: "CRLF lines", in: "SEND\r\ndestination:/queue/a\r\n\r\nhi\x00\r\n",
		want: []*Frame{fr("SEND", "hi", "destination", "/queue/a")}},
	{name: "CRLF CONNECT read before negotiation", versions: []Version{V1_0}, in: "CONNECT\r\naccept-version:1.2\r\nhost:h\r\n\r\n\x00",
		want: []*Frame{fr("CONNECT", "", "accept-version", "1.2", "host", "h")}},
	{name: "content-length body with NULs", in: "SEND\ncontent-length:5\n\na\x00b\x00c\x00",
		want: []*Frame{fr("SEND", "a\x00b\x00c", "content-length", "5")}},
	{name: "content-length zero", in: "SEND\ncontent-length:0\n\n\x00",
		want: []*Frame{fr("SEND", "", "content-length", "0")}},
	{name: "content-length after other headers", in: "MESSAGE\nx:y\ncontent-length:3\n\n\x00\x00\x00\x00",
		want: []*Frame{fr("MESSAGE", "\x00\x00\x00", "x", "y", "content-length", "3")}},
	{name: "repeated content-length: first wins", in: "SEND\ncontent-length:2\ncontent-length:junk\n\nab\x00",
		want: []*Frame{fr("SEND", "ab", "content-length", "2", "content-length", "junk")}},
	{name: "repeated headers kept in order", in: "SEND\nfoo:1\nfoo:2\nbar:3\n\n\x00",
		want: []*Frame{fr("SEND", "", "foo", "1", "foo", "2", "bar", "3")}},
	{name: "colon in value", in: "SEND\nk:a:b::\n\n\x00", want: []*Frame{fr("SEND", "", "k", "a:b::")}},
	{name: "empty value", in: "SEND\nk:\n\n\x00", want: []*Frame{fr("SEND", "", "k", "")}},
	{name: "spaces are significant", in: "SEND\n k : v \n\n\x00", want: []*Frame{fr("SEND", "", " k ", " v ")}},
	{name: "unknown command returned", in: "FOO\n\n\x00", want: []*Frame{fr("FOO", "")}},
	{name: "trailing blanks after command", in: "SEND \t\n\n\x00", want: []*Frame{fr("SEND", "")}},
	{name: "UTF-8 header and body", in: "SEND\nnäme:wért\n\nçà\x00", want: []*Frame{fr("SEND", "çà", "näme", "wért")}},
	{name: "heart-beats between frames", in: "\n\r\n\nSEND\n\n\x00\n\n\r\nACK\nid:1\n\n\x00\n",
		want: []*Frame{fr("SEND", ""), fr("ACK", "", "id", "1")}},
	{name: "only heart-beats", in: "\n\n\r\n", hbs: 1},
	{name: "empty stream", in: ""},

	// Escapes.
	{name: "1.0 keeps backslashes", versions: []Version{V1_0}, in: "SEND\nk\\c:a\\nb\\\\c\\r\\t\\\n\n\x00",
		want: []*Frame{fr("SEND", "", "k\\c", "a\\nb\\\\c\\r\\t\\")}},
	{name: "1.1 escapes", versions: []Version{V1_1}, in: "SEND\nk\\c\\n\\\\:a\\nb\\cc\\\\d\n\n\x00",
		want: []*Frame{fr("SEND", "", "k:\n\\", "a\nb:c\\d")}},
	{name: "1.2 escapes", versions: []Version{V1_2}, in: "SEND\nk\\r:a\\nb\\cc\\\\d\\re\n\n\x00",
		want: []*Frame{fr("SEND", "", "k\r", "a\nb:c\\d\re")}},
	{name: "1.1 has no \\r escape", versions: []Version{V1_1}, in: "SEND\nk:a\\rb\n\n\x00", err: ErrMalformed},
	{name: "undefined escape \\t", versions: []Version{V1_1, V1_2}, in: "SEND\nk:a\\tb\n\n\x00", err: ErrMalformed},
	{name: "undefined escape in key", versions: []Version{V1_1, V1_2}, in: "SEND\nk\\x:v\n\n\x00", err: ErrMalformed},
	{name: "dangling backslash", versions: []Version{V1_1, V1_2}, in: "SEND\nk:ab\\\n\n\x00", err: ErrMalformed},
	{name: "CONNECT is not unescaped", versions: []Version{V1_1, V1_2}, in: "CONNECT\npasscode:a\\nb\\t\n\n\x00",
		want: []*Frame{fr("CONNECT", "", "passcode", "a\\nb\\t")}},
	{name: "STOMP is not unescaped", versions: []Version{V1_1, V1_2}, in: "STOMP\nlogin:a\\c\n\n\x00",
		want: []*Frame{fr("STOMP", "", "login", "a\\c")}},
	{name: "CONNECTED is not unescaped", versions: []Version{V1_1, V1_2}, in: "CONNECTED\nserver:x\\y\n\n\x00",
		want: []*Frame{fr("CONNECTED", "", "server", "x\\y")}},
	{name: "invalid UTF-8 refused in 1.1+", versions: []Version{V1_1, V1_2}, in: "SEND\nk:\xff\xfe\n\n\x00", err: ErrMalformed},
	{name: "invalid UTF-8 kept in 1.0", versions: []Version{V1_0}, in: "SEND\nk:\xff\xfe\n\n\x00",
		want: []*Frame{fr("SEND", "", "k", "\xff\xfe")}},

	// Malformed input.
	{name: "no NUL before EOF", in: "SEND\n\nbody", err: io.ErrUnexpectedEOF},
	{name: "EOF in headers", in: "SEND\ndestination:/q", err: io.ErrUnexpectedEOF},
	{name: "EOF in command", in: "SEN", err: io.ErrUnexpectedEOF},
	{name: "EOF after lone CR", in: "\r", err: io.ErrUnexpectedEOF},
	{name: "content-length body cut", in: "SEND\ncontent-length:10\n\nabc", err: io.ErrUnexpectedEOF},
	{name: "content-length NUL missing at EOF", in: "SEND\ncontent-length:3\n\nabc", err: io.ErrUnexpectedEOF},
	{name: "content-length shorter than body", in: "SEND\ncontent-length:2\n\nabc\x00", err: ErrMalformed},
	{name: "content-length not a number", in: "SEND\ncontent-length:abc\n\n\x00", err: ErrMalformed},
	{name: "content-length negative", in: "SEND\ncontent-length:-1\n\n\x00", err: ErrMalformed},
	{name: "content-length with blank", in: "SEND\ncontent-length: 1\n\na\x00", err: ErrMalformed},
	{name: "content-length empty", in: "SEND\ncontent-length:\n\n\x00", err: ErrMalformed},
	{name: "content-length overflow", in: "SEND\ncontent-length:99999999999999999999999999\n\n\x00", err: ErrBodyTooLarge},
	{name: "header without colon", in: "SEND\ndestination\n\n\x00", err: ErrMalformed},
	{name: "header with empty name", in: "SEND\n:v\n\n\x00", err: ErrMalformed},
	{name: "NUL in command line", in: "SE\x00ND\n\n\x00", err: ErrMalformed},
	{name: "NUL as command", in: "\x00\n\n\x00", err: ErrMalformed},
	{name: "control byte in command", in: "SEND\x01\n\n\x00", err: ErrMalformed},
	{name: "space inside command", in: "SE ND\n\n\x00", err: ErrMalformed},
	{name: "blank command line", in: "  \n\n\x00", err: ErrMalformed},
	{name: "CR not followed by LF at frame start", in: "\rSEND\n\n\x00", err: ErrMalformed},
	{name: "binary garbage", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", err: ErrMalformed},
	{name: "frame after error is not returned", in: "SEND\n\n\x00BAD\x01\n\n\x00SEND\n\n\x00",
		want: []*Frame{fr("SEND", "")}, err: ErrMalformed},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		versions := tc.versions
		if versions == nil {
			versions = all
		}
		for _, v := range versions {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				frames, hbs, err := decodeAll(strings.NewReader(tc.in), v, Limits{})
				checkFrames(t, frames, tc.want)
				if hbs != tc.hbs {
					t.Errorf("heart-beat reports = %d, want %d", hbs, tc.hbs)
				}
				if tc.err == nil {
					if err != io.EOF {
						t.Fatalf("error = %v, want io.EOF", err)
					}
				} else {
					mustCategory(t, err, tc.err)
				}
			})
		}
	}
}

func checkFrames(t *testing.T, got, want []*Frame) {
	t.Helper()
	if len(got) != len(want) {
		for _, f := range got {
			t.Logf("got %s", dump(f))
		}
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !equalFrame(got[i], want[i]) {
			t.Fatalf("frame %d:\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
		}
	}
}

// TestSplitReads feeds every parse case split at every byte boundary, and one
// byte per Read: the frames and the final error must not depend on how the
// stream is cut.
func TestSplitReads(t *testing.T) {
	for _, tc := range parseCases {
		versions := tc.versions
		if versions == nil {
			versions = all
		}
		for _, v := range versions {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				check := func(how string, rd io.Reader) {
					t.Helper()
					frames, _, err := decodeAll(rd, v, Limits{})
					checkFrames(t, frames, tc.want)
					if tc.err == nil && err != io.EOF || tc.err != nil && !errors.Is(err, tc.err) {
						t.Fatalf("%s: error = %v, want %v", how, err, tc.err)
					}
				}
				check("one byte per read", iotest.OneByteReader(strings.NewReader(tc.in)))
				check("data with EOF", iotest.DataErrReader(strings.NewReader(tc.in)))
				for k := 1; k < len(tc.in); k++ {
					check("split at "+itoa(k), chunks(tc.in[:k], tc.in[k:]))
				}
			})
		}
	}
}

// TestHeartbeatReports checks that each heart-beat is reported as soon as it
// arrives, without waiting for more data.
func TestHeartbeatReports(t *testing.T) {
	type step struct {
		hb  bool
		cmd string
		err error
	}
	tests := []struct {
		name   string
		chunks []string
		steps  []step
	}{
		{"one per read", []string{"\n", "\r\n", "\n\n"},
			[]step{{hb: true}, {hb: true}, {hb: true}, {err: io.EOF}}},
		{"CR and LF in separate reads", []string{"\r", "\n"},
			[]step{{hb: true}, {err: io.EOF}}},
		{"EOLs before a frame in the same read are not reported", []string{"\n\nSEND\n\n\x00"},
			[]step{{cmd: "SEND"}, {err: io.EOF}}},
		{"EOLs after a NUL in the same read go with the frame", []string{"SEND\n\n\x00\n\r\n", "\n"},
			[]step{{cmd: "SEND"}, {hb: true}, {err: io.EOF}}},
		{"frame split from its heart-beat", []string{"SEND\n\n\x00", "\n", "ACK\nid:1\n\n\x00"},
			[]step{{cmd: "SEND"}, {hb: true}, {cmd: "ACK"}, {err: io.EOF}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(chunks(tc.chunks...), Limits{})
			for i, s := range tc.steps {
				var f Frame
				hb, err := r.ReadFrame(&f)
				if hb != s.hb || err != s.err || f.Command != s.cmd {
					t.Fatalf("step %d: hb=%v cmd=%q err=%v, want hb=%v cmd=%q err=%v", i, hb, f.Command, err, s.hb, s.cmd, s.err)
				}
			}
		})
	}
}

func TestReadSkipsHeartbeats(t *testing.T) {
	r := NewReader(strings.NewReader("\n\nSEND\n\n\x00\n\nACK\n\n\x00"), Limits{})
	for _, want := range []string{"SEND", "ACK"} {
		f, err := r.Read()
		if err != nil || f.Command != want {
			t.Fatalf("Read = %v, %v; want %s", dump(f), err, want)
		}
	}
	if f, err := r.Read(); err != io.EOF || f != nil {
		t.Fatalf("Read at end = %v, %v; want nil, io.EOF", f, err)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		lim  Limits
		in   string
		err  error
	}{
		{"headers at the limit", Limits{MaxHeaders: 2}, "SEND\na:1\nb:2\n\n\x00", nil},
		{"too many headers", Limits{MaxHeaders: 2}, "SEND\na:1\nb:2\nc:3\n\n\x00", ErrTooManyHeaders},
		{"header line at the limit", Limits{MaxHeaderLength: 10}, "SEND\nkey:567890\n\n\x00", nil},
		{"header line at the limit with CRLF", Limits{MaxHeaderLength: 10}, "SEND\r\nkey:567890\r\n\r\n\x00", nil},
		{"header line over the limit", Limits{MaxHeaderLength: 10}, "SEND\nkey:5678901\n\n\x00", ErrHeaderTooLong},
		{"command line over the limit", Limits{MaxHeaderLength: 4}, "SUBSCRIBE\n\n\x00", ErrHeaderTooLong},
		{"body at the limit", Limits{MaxBodySize: 5}, "SEND\n\n12345\x00", nil},
		{"body over the limit", Limits{MaxBodySize: 5}, "SEND\n\n123456\x00", ErrBodyTooLarge},
		{"content-length at the limit", Limits{MaxBodySize: 5}, "SEND\ncontent-length:5\n\n12345\x00", nil},
		{"content-length over the limit", Limits{MaxBodySize: 5}, "SEND\ncontent-length:6\n\n123456\x00", ErrBodyTooLarge},
		{"frame at the limit", Limits{MaxFrameSize: 12}, "SEND\na:b\n\n1\x00", nil},
		{"frame over the limit by its body", Limits{MaxFrameSize: 12}, "SEND\na:b\n\n12\x00", ErrFrameTooLarge},
		{"frame at the limit with content-length", Limits{MaxFrameSize: 26}, "SEND\ncontent-length:2\n\n12\x00", nil},
		{"frame over the limit by content-length", Limits{MaxFrameSize: 26}, "SEND\ncontent-length:3\n\n123\x00", ErrFrameTooLarge},
		{"frame over the limit by headers", Limits{MaxFrameSize: 12}, "SEND\na:b\nc:d\n\n\x00", ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, rd := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				frames, _, err := decodeAll(rd, V1_2, tc.lim)
				if tc.err == nil {
					if err != io.EOF || len(frames) != 1 {
						t.Fatalf("got %d frames, error %v; want 1 frame", len(frames), err)
					}
					continue
				}
				mustCategory(t, err, tc.err)
			}
		})
	}
}

// TestLimitsStopReading shows limits are enforced before the data is
// buffered: an endless stream is refused after about the limit.
func TestLimitsStopReading(t *testing.T) {
	tests := []struct {
		name      string
		lim       Limits
		prefix    string
		fill      byte
		err       error
		maxServed int
	}{
		{"endless header line", Limits{MaxHeaderLength: 1000}, "SEND\nk:", 'a', ErrHeaderTooLong, minBufSize + idleReadSize},
		{"endless command line", Limits{MaxHeaderLength: 100 << 10}, "", 'A', ErrHeaderTooLong, 2 * (100 << 10)},
		{"huge content-length", Limits{}, "SEND\ncontent-length:1000000000\n\n", 'a', ErrBodyTooLarge, minBufSize},
		{"endless body", Limits{MaxBodySize: 1 << 20}, "SEND\n\n", 'a', ErrBodyTooLarge, 1<<20 + minBufSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := &countingReader{prefix: []byte(tc.prefix), fill: tc.fill}
			_, _, err := decodeAll(cr, V1_2, tc.lim)
			mustCategory(t, err, tc.err)
			if cr.served > tc.maxServed {
				t.Fatalf("read %d bytes before refusing, want at most %d", cr.served, tc.maxServed)
			}
		})
	}
	t.Run("endless headers", func(t *testing.T) {
		h := []byte("k:v\n")
		cr := &countingReader{prefix: append([]byte("SEND\n"), bytes.Repeat(h, 10000)...)}
		_, _, err := decodeAll(cr, V1_2, Limits{MaxHeaders: 50})
		mustCategory(t, err, ErrTooManyHeaders)
		if cr.served > minBufSize {
			t.Fatalf("read %d bytes before refusing", cr.served)
		}
	})
}

func TestErrorsAreSticky(t *testing.T) {
	r := NewReader(strings.NewReader("SEND\nbad\n\n\x00SEND\n\n\x00"), Limits{})
	var f Frame
	_, err1 := r.ReadFrame(&f)
	_, err2 := r.ReadFrame(&f)
	mustCategory(t, err1, ErrMalformed)
	if err2 != err1 {
		t.Fatalf("second call returned %v, want the same error %v", err2, err1)
	}
}

// A read error at a frame boundary (a deadline, say) leaves the Reader usable;
// one inside a frame does not.
func TestReadErrorAtBoundary(t *testing.T) {
	rd := &errAfterReader{chunkReader: *chunks("SEND\n\n\x00"), err: errTimeout}
	r := NewReader(rd, Limits{})
	var f Frame
	if _, err := r.ReadFrame(&f); err != nil || f.Command != "SEND" {
		t.Fatalf("first frame: %v %v", dump(&f), err)
	}
	if _, err := r.ReadFrame(&f); !errors.Is(err, errTimeout) {
		t.Fatalf("error = %v, want the reader's error wrapped", err)
	}
	rd.err = io.EOF
	rd.chunks = [][]byte{[]byte("ACK\nid:1\n\n\x00")}
	if _, err := r.ReadFrame(&f); err != nil || f.Command != "ACK" {
		t.Fatalf("after a boundary error: %v %v", dump(&f), err)
	}

	rd = &errAfterReader{chunkReader: *chunks("SEND\n\nhal"), err: errTimeout}
	r = NewReader(rd, Limits{})
	_, err1 := r.ReadFrame(&f)
	if !errors.Is(err1, errTimeout) {
		t.Fatalf("error = %v, want the reader's error wrapped", err1)
	}
	rd.chunks = [][]byte{[]byte("f\x00")}
	if _, err := r.ReadFrame(&f); err != err1 {
		t.Fatalf("after a mid-frame error: %v, want the sticky %v", err, err1)
	}
}

// ReadFrame reuses the Headers array but never a body or header string the
// caller may have kept.
func TestReadFrameReuse(t *testing.T) {
	r := NewReader(strings.NewReader("SEND\na:1\nb:2\nc:3\n\nfirst\x00MESSAGE\nx:9\n\nsecond\x00"), Limits{})
	var f Frame
	if _, err := r.ReadFrame(&f); err != nil {
		t.Fatal(err)
	}
	body, hdr, old := f.Body, f.Headers[0], f.Headers
	if _, err := r.ReadFrame(&f); err != nil {
		t.Fatal(err)
	}
	if string(body) != "first" || hdr != (Header{"a", "1"}) {
		t.Fatalf("kept data changed: body %q header %v", body, hdr)
	}
	if !equalFrame(&f, fr("MESSAGE", "second", "x", "9")) {
		t.Fatalf("second frame %s", dump(&f))
	}
	if &old[0] != &f.Headers[0] {
		t.Fatalf("Headers array not reused")
	}
	if old[1:3][0] != (Header{}) || old[1:3][1] != (Header{}) {
		t.Fatalf("stale headers beyond the new length not cleared: %v", old[:3])
	}
}

func TestReset(t *testing.T) {
	r := NewReader(strings.NewReader("SEND\nbad\n\n\x00"), Limits{})
	r.SetVersion(V1_2)
	if _, err := r.Read(); err == nil {
		t.Fatal("want an error")
	}
	r.Reset(strings.NewReader("SEND\nk:a\\nb\n\n\x00"))
	if r.Version() != V1_0 {
		t.Fatalf("version after Reset = %v", r.Version())
	}
	f, err := r.Read()
	if err != nil || !equalFrame(f, fr("SEND", "", "k", "a\\nb")) {
		t.Fatalf("after Reset: %s %v", dump(f), err)
	}
}

func TestBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("SEND\n\n\x00ACK\n\n\x00"), Limits{})
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if n := r.Buffered(); n != len("ACK\n\n\x00") {
		t.Fatalf("Buffered = %d", n)
	}
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if n := r.Buffered(); n != 0 {
		t.Fatalf("Buffered = %d", n)
	}
}

// Bodies around and beyond the read buffer size, with and without
// content-length, each followed by another frame that must still decode.
func TestLargeBodies(t *testing.T) {
	for _, size := range []int{minBufSize - 40, minBufSize, 3 * minBufSize, 1 << 20} {
		body := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		withLen := append([]byte("SEND\ncontent-length:"+itoa(len(body))+"\n\n"), body...)
		withLen = append(withLen, "\x00\nACK\nid:1\n\n\x00"...)
		noLen := append(append([]byte("SEND\n\n"), body...), "\x00ACK\nid:1\n\n\x00"...)
		for name, in := range map[string][]byte{"content-length": withLen, "NUL-terminated": noLen} {
			t.Run(name+"/"+itoa(size), func(t *testing.T) {
				readers := map[string]io.Reader{
					"whole": bytes.NewReader(in),
					"half":  iotest.HalfReader(bytes.NewReader(in)),
					"split": chunks(string(in[:len(in)/3]), string(in[len(in)/3:])),
				}
				for how, rd := range readers {
					frames, _, err := decodeAll(rd, V1_2, Limits{})
					if err != io.EOF || len(frames) != 2 {
						t.Fatalf("%s: %d frames, error %v", how, len(frames), err)
					}
					if !bytes.Equal(frames[0].Body, body) || frames[1].Command != CmdAck {
						t.Fatalf("%s: body intact %v, second frame %s", how, bytes.Equal(frames[0].Body, body), dump(frames[1]))
					}
				}
			})
		}
	}
}

// A truncated body, with the end of stream reported together with the last
// data, is an unexpected EOF whichever path reads the body.
func TestTruncatedBodies(t *testing.T) {
	for _, size := range []int{100, minBufSize - 40, 3 * minBufSize, 1 << 20} {
		in := append([]byte("SEND\ncontent-length:"+itoa(size)+"\n\n"), bytes.Repeat([]byte("x"), size-1)...)
		for how, rd := range map[string]io.Reader{
			"data with EOF": iotest.DataErrReader(bytes.NewReader(in)),
			"one byte":      iotest.OneByteReader(bytes.NewReader(in)),
		} {
			_, _, err := decodeAll(rd, V1_2, Limits{})
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("size %d, %s: error %v, want unexpected EOF", size, how, err)
			}
		}
	}
}

// A frame with unusually large headers must not pin its scratch space.
func TestScratchReleased(t *testing.T) {
	big := strings.Repeat("v", 100<<10)
	in := "SEND\nk:" + big + "\n\n\x00SEND\nk:small\n\n\x00"
	r := NewReader(strings.NewReader(in), Limits{MaxHeaderLength: 200 << 10})
	f, err := r.Read()
	if err != nil || len(f.Headers) != 1 || f.Headers[0].Value != big {
		t.Fatalf("big header: %v", err)
	}
	if r.hdr.scratch != nil {
		t.Fatalf("scratch of %d bytes kept", cap(r.hdr.scratch))
	}
	if f, err = r.Read(); err != nil || !equalFrame(f, fr("SEND", "", "k", "small")) {
		t.Fatalf("next frame: %s %v", dump(f), err)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		in   string
		v    Version
		lim  Limits
		want string
	}{
		{"SEND\nk:a\\tb\n\n\x00", V1_2, Limits{}, `undefined escape sequence "\\t" in header "k"`},
		{"SEND\nk:a\\rb\n\n\x00", V1_1, Limits{}, `undefined escape sequence \r in header "k" (STOMP 1.1)`},
		{"SEND\nnocolon\n\n\x00", V1_2, Limits{}, `header line without ':': "nocolon"`},
		{"SEND\ncontent-length:x\n\n\x00", V1_2, Limits{}, `invalid content-length "x": not a non-negative integer`},
		{"SEND\ncontent-length:11\n\n\x00", V1_2, Limits{MaxBodySize: 10}, `message too large: 11 bytes, limit 10`},
		{"SE\x00D\n\n\x00", V1_2, Limits{}, `invalid command line "SE\x00D"`},
		{"SEND\n\nx", V1_2, Limits{}, `connection closed in the middle of a frame`},
		{"SEND\n" + strings.Repeat("a", 100) + "\n\n\x00", V1_2, Limits{}, `header line without ':': "` + strings.Repeat("a", 64) + `..."`},
	}
	for _, tc := range tests {
		r := NewReader(strings.NewReader(tc.in), tc.lim)
		r.SetVersion(tc.v)
		_, err := r.Read()
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Msg != tc.want {
			t.Errorf("%q: error %v, want message %q", tc.in, err, tc.want)
		}
	}
}

func TestZeroReadsAreNotForever(t *testing.T) {
	_, err := NewReader(zeroReader{}, Limits{}).Read()
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("error = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }
