package frame

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestAppendFrameBytes(t *testing.T) {
	special := fr("SEND", "", "k:e\\y\r", "a\nb:c\\d\re")
	tests := []struct {
		name string
		f    *Frame
		v    Version
		want string
	}{
		{"no headers no body", fr("DISCONNECT", ""), V1_2, "DISCONNECT\n\n\x00"},
		{"body gets content-length", fr("SEND", "hi", "destination", "/q"), V1_2,
			"SEND\ndestination:/q\ncontent-length:2\n\nhi\x00"},
		{"body with NULs", fr("MESSAGE", "a\x00b"), V1_0, "MESSAGE\ncontent-length:3\n\na\x00b\x00"},
		{"wrong content-length replaced", fr("SEND", "abc", "content-length", "999", "x", "y"), V1_2,
			"SEND\nx:y\ncontent-length:3\n\nabc\x00"},
		{"explicit content-length kept for empty body", fr("SEND", "", "content-length", "7"), V1_2,
			"SEND\ncontent-length:0\n\n\x00"},
		{"repeated headers in order", fr("SEND", "", "a", "1", "a", "2"), V1_2, "SEND\na:1\na:2\n\n\x00"},
		{"1.2 escapes", special, V1_2, "SEND\nk\\ce\\\\y\\r:a\\nb\\cc\\\\d\\re\n\n\x00"},
		{"1.1 escapes, CR replaced", special, V1_1, "SEND\nk\\ce\\\\y :a\\nb\\cc\\\\d e\n\n\x00"},
		{"1.0 replaces, no escapes", special, V1_0, "SEND\nk_e\\y :a b:c\\d e\n\n\x00"},
		{"CONNECTED never escaped", fr("CONNECTED", "", "server", "a:b\\c\nd", "version", "1.2"), V1_2,
			"CONNECTED\nserver:a:b\\c d\nversion:1.2\n\n\x00"},
		{"CONNECT never escaped", fr("CONNECT", "", "passcode", "p:w\\"), V1_1, "CONNECT\npasscode:p:w\\\n\n\x00"},
		{"STOMP never escaped", fr("STOMP", "", "login", "a\nb"), V1_2, "STOMP\nlogin:a b\n\n\x00"},
		{"command cannot inject", fr("SEND\nx:y", ""), V1_2, "SEND x:y\n\n\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendFrame(nil, tc.f, tc.v))
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			prefix := "prefix"
			if got := string(AppendFrame([]byte(prefix), tc.f, tc.v)); got != prefix+tc.want {
				t.Fatalf("appending to a non-empty slice: %q", got)
			}
		})
	}
}

// TestHeaderInjection: a value carrying a raw newline must never turn into a
// second header on the wire, whatever the version and command.
func TestHeaderInjection(t *testing.T) {
	evil := "x\ndestination:/queue/evil\r\nreceipt:r\n\nbody\x00SEND\n"
	for _, v := range all {
		for _, cmd := range []string{CmdMessage, CmdSend, CmdConnected, CmdConnect, CmdError} {
			f := fr(cmd, "", "message", evil, "key\nreceipt", "v")
			wire := AppendFrame(nil, f, v)
			r := NewReader(bytes.NewReader(wire), Limits{})
			r.SetVersion(v)
			got, err := r.Read()
			if err != nil {
				t.Fatalf("%s %s: %v (wire %q)", v, cmd, err, wire)
			}
			if len(got.Headers) != 2 || got.Headers[0].Key != "message" || got.Headers[1].Value != "v" {
				t.Fatalf("%s %s: injected headers: %s (wire %q)", v, cmd, dump(got), wire)
			}
			if _, ok := got.Get("destination"); ok {
				t.Fatalf("%s %s: destination injected", v, cmd)
			}
			if _, err := r.Read(); err != io.EOF {
				t.Fatalf("%s %s: a second frame was injected: %v (wire %q)", v, cmd, err, wire)
			}
		}
	}
}

func TestEncoder(t *testing.T) {
	var e Encoder
	e.Begin([]byte("X"), V1_2, CmdMessage)
	e.Header(HdrSubscription, "sub:1")
	e.HeaderUint(HdrMessageID, 42)
	e.HeaderInt("expires", -1)
	e.HeaderBytes(HdrDestination, []byte("/topic/a\nb"))
	e.Header(HdrContentLength, "1000") // ignored: Body writes the real one
	e.HeaderInt(HdrContentLength, 1000)
	e.HeaderUint(HdrContentLength, 1000)
	e.HeaderBytes(HdrContentLength, []byte("1000"))
	got := string(e.Body([]byte("body")))
	want := "XMESSAGE\nsubscription:sub\\c1\nmessage-id:42\nexpires:-1\ndestination:/topic/a\\nb\ncontent-length:4\n\nbody\x00"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestBodyWithoutLength(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"", "SEND\n\n\x00"},
		{"text", "SEND\n\ntext\x00"},
		{"a\x00b", "SEND\ncontent-length:3\n\na\x00b\x00"}, // a NUL needs content-length
	}
	for _, tc := range tests {
		var e Encoder
		e.Begin(nil, V1_2, CmdSend)
		if got := string(e.BodyWithoutLength([]byte(tc.body))); got != tc.want {
			t.Errorf("body %q: got %q want %q", tc.body, got, tc.want)
		}
	}
}

func TestHeartbeatBytes(t *testing.T) {
	frames, hbs, err := decodeAll(strings.NewReader(Heartbeat), V1_2, Limits{})
	if len(frames) != 0 || hbs != 1 || err != io.EOF {
		t.Fatalf("Heartbeat decodes as %d frames, %d heart-beats, %v", len(frames), hbs, err)
	}
}

// roundTripFrames are representable in every version: no CR or LF in header
// text and no ':' in names.
var roundTripFrames = []*Frame{
	fr(CmdConnect, "", "accept-version", "1.0,1.1,1.2", "host", "/", "login", "u", "passcode", "p:w\\d"),
	fr(CmdConnected, "", "version", "1.2", "heart-beat", "0,0", "server", "junction/1"),
	fr(CmdSend, "hello", "destination", "/queue/a", "content-type", "text/plain", "receipt", "r:1"),
	fr(CmdSend, "\x00\x01\x02\x00", "destination", "/queue/bin", "content-length", "4"),
	fr(CmdSubscribe, "", "id", "0", "destination", "/topic/a.b.#", "ack", "client-individual"),
	fr(CmdMessage, strings.Repeat("x", 5000), "subscription", "0", "message-id", "ID:1:2", "destination", "/topic/t", "k", "a\\b"),
	fr(CmdAck, "", "id", "m1"), fr(CmdNack, "", "id", "m1", "transaction", "tx"),
	fr(CmdBegin, "", "transaction", "tx"), fr(CmdCommit, "", "transaction", "tx"), fr(CmdAbort, "", "transaction", "tx"),
	fr(CmdReceipt, "", "receipt-id", "r:1"), fr(CmdError, "details", "message", "bad: thing"),
	fr(CmdUnsubscribe, "", "id", "0"), fr(CmdDisconnect, "", "receipt", "77"),
	fr("CUSTOM", "", "dup", "1", "dup", "2", "empty", "", "ünï", "cödé"),
}

// escapedFrames need 1.1 (LF, ':' in names) or 1.2 (CR).
var escapedFrames = map[Version][]*Frame{
	V1_1: {fr(CmdMessage, "b", "multi\nline", "a\nb", "c:olon", "x:y:z", "back\\slash", "\\\\")},
	V1_2: {
		fr(CmdMessage, "b", "multi\nline", "a\nb", "c:olon", "x:y:z", "back\\slash", "\\\\"),
		fr(CmdSend, "", "cr\r", "a\r\nb\r", "trailing", "\r"),
	},
}

func TestRoundTrip(t *testing.T) {
	for _, v := range all {
		t.Run(v.String(), func(t *testing.T) {
			frames := append(append([]*Frame{}, roundTripFrames...), escapedFrames[v]...)
			var wire []byte
			for _, f := range frames {
				wire = AppendFrame(wire, f, v)
				wire = append(wire, Heartbeat...)
			}
			for _, rd := range []io.Reader{bytes.NewReader(wire), &oneByte{wire}} {
				got, _, err := decodeAll(rd, v, Limits{})
				if err != io.EOF {
					t.Fatalf("decode: %v", err)
				}
				if len(got) != len(frames) {
					t.Fatalf("got %d frames, want %d", len(got), len(frames))
				}
				for i := range got {
					want := withoutContentLength(frames[i])
					if !equalFrame(withoutContentLength(got[i]), want) {
						t.Fatalf("frame %d:\n got %s\nwant %s", i, dump(got[i]), dump(want))
					}
					n, ok := got[i].Get(HdrContentLength)
					if (len(want.Body) > 0) != ok || ok && n != itoa(len(want.Body)) {
						t.Fatalf("frame %d: content-length %q (present %v) for a %d-byte body", i, n, ok, len(want.Body))
					}
				}
			}
		})
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}
