package stomp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coder/websocket"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// TestWebSocketInterop speaks STOMP 1.2 over WebSocket (subprotocol
// v12.stomp, one frame per text message, as stomp.js does) and exchanges
// messages both ways with a go-stomp client on the TCP listener.
func TestWebSocketInterop(t *testing.T) {
	s := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/", &websocket.DialOptions{
		Subprotocols: []string{"v12.stomp"},
	})
	if err != nil {
		t.Fatalf("WebSocket dial: %v", err)
	}
	defer ws.CloseNow()
	if p := ws.Subprotocol(); p != "v12.stomp" {
		t.Fatalf("negotiated subprotocol %q, want v12.stomp", p)
	}

	writeFrame := func(cmd, body string, headers ...string) {
		t.Helper()
		f := frame.Frame{Command: cmd, Body: []byte(body)}
		for i := 0; i+1 < len(headers); i += 2 {
			f.Add(headers[i], headers[i+1])
		}
		if err := ws.Write(ctx, websocket.MessageText, frame.AppendFrame(nil, &f, frame.V1_2)); err != nil {
			t.Fatalf("WebSocket write %s: %v", cmd, err)
		}
	}
	// The server may put several frames, or a heart-beat, in one message:
	// decode the messages as a stream.
	rd := frame.NewReader(&wsStream{ctx: ctx, ws: ws}, frame.Limits{})
	readFrame := func(cmd string) *frame.Frame {
		t.Helper()
		f, err := rd.Read()
		if err != nil {
			t.Fatalf("waiting for %s over WebSocket: %v", cmd, err)
		}
		if f.Command != cmd {
			t.Fatalf("got %s %v %q over WebSocket, want %s", f.Command, f.Headers, f.Body, cmd)
		}
		return f
	}

	writeFrame("CONNECT", "", "accept-version", "1.2", "host", "localhost", "heart-beat", "0,0")
	if v, _ := readFrame("CONNECTED").Get("version"); v != "1.2" {
		t.Fatalf("CONNECTED version %q", v)
	}
	rd.SetVersion(frame.V1_2)
	writeFrame("SUBSCRIBE", "", "id", "ws-sub", "destination", "/queue/to.ws", "receipt", "sub")
	readFrame("RECEIPT")

	tcp := dial(t, s)
	fromWS := tcp.subscribe("/topic/from.ws", stompc.AckAuto)

	// TCP -> WebSocket, with a header that needs escaping.
	tcp.send("/queue/to.ws", "hello WebSocket", "x-note", "a:b\nc")
	m := readFrame("MESSAGE")
	if string(m.Body) != "hello WebSocket" {
		t.Fatalf("WebSocket client got %q", m.Body)
	}
	if v, _ := m.Get("x-note"); v != "a:b\nc" {
		t.Fatalf("x-note over WebSocket %q", v)
	}
	if sub, _ := m.Get("subscription"); sub != "ws-sub" {
		t.Fatalf("subscription header %q", sub)
	}

	// WebSocket -> TCP.
	writeFrame("SEND", "hello TCP", "destination", "/topic/from.ws", "content-type", "text/plain", "receipt", "send")
	readFrame("RECEIPT")
	got := recv(t, fromWS)
	if string(got.Body) != "hello TCP" {
		t.Fatalf("TCP client got %q", got.Body)
	}
	wantHeader(t, got, "content-type", "text/plain")

	writeFrame("DISCONNECT", "", "receipt", "bye")
	readFrame("RECEIPT")
	if _, data, err := ws.Read(ctx); err == nil {
		t.Fatalf("after DISCONNECT the server sent %q instead of closing", data)
	}
}

// wsStream reads a WebSocket's text messages as one byte stream.
type wsStream struct {
	ctx  context.Context
	ws   *websocket.Conn
	rest []byte
}

func (s *wsStream) Read(p []byte) (int, error) {
	for len(s.rest) == 0 {
		typ, data, err := s.ws.Read(s.ctx)
		if err != nil {
			return 0, err
		}
		if typ != websocket.MessageText {
			return 0, errBinary
		}
		s.rest = data
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

var errBinary = errors.New("STOMP server sent a binary WebSocket message for UTF-8 text")
