package stomp_test

import (
	"context"
	"fmt"
	"github.com/junctionmq/junction/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server/servertest"
)

// refuseWithin bounds how long a client waits to learn that its message is
// too large. Before max-message-size reached the adapter, a 12 MB SEND met
// a fixed 10 MiB limit and a reset: the client saw only a broken pipe.
const refuseWithin = 2 * time.Second

// TestMaxMessageSize: the configured max-message-size is the STOMP body
// limit. A go-stomp SEND of 12 MB to a broker limited to 64 KiB gets an
// ERROR naming both sizes, quickly; only that connection closes; a message
// within the limit still goes through, and nothing of the big one is
// routed.
func TestMaxMessageSize(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.MaxMessageSize = 64 << 10 }})
	other := dial(t, s)
	sub := other.subscribe("/queue/sized", stompc.AckAuto)

	big := dial(t, s)
	start := time.Now()
	err := big.Send("/queue/sized", "application/octet-stream", make([]byte, 12<<20), stompc.SendOpt.Receipt)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("a 12 MB SEND over a 64 KiB limit was accepted")
	}
	if want := fmt.Sprintf("message too large: %d bytes, limit %d", 12<<20, 64<<10); !strings.Contains(err.Error(), want) {
		t.Errorf("SEND error %q, want the ERROR frame's %q", err, want)
	}
	if elapsed > refuseWithin {
		t.Errorf("the refusal took %v, want under %v", elapsed, refuseWithin)
	}

	// The other connection carries on, and a body within the limit passes.
	body := strings.Repeat("x", 60<<10)
	other.send("/queue/sized", body)
	if m := recv(t, sub); len(m.Body) != len(body) {
		t.Fatalf("got %d bytes, want %d", len(m.Body), len(body))
	}
	if n := queueStats(t, s, "sized").Messages; n != 0 {
		t.Errorf("queue holds %d messages, want 0", n)
	}
}

// TestMaxMessageSizeOverWebSocket: the same limit and the same ERROR for
// go-stomp over WebSocket (subprotocol v12.stomp). The message is smaller
// than over TCP because the race detector slows WebSocket masking enough
// that draining 12 MB would outlast the linger.
func TestMaxMessageSizeOverWebSocket(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.MaxMessageSize = 64 << 10 }})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/", &websocket.DialOptions{Subprotocols: []string{"v12.stomp"}})
	if err != nil {
		t.Fatalf("WebSocket dial: %v", err)
	}
	ws.SetReadLimit(-1)
	nc := websocket.NetConn(ctx, ws, websocket.MessageText)
	defer nc.Close()
	conn, err := stompc.Connect(nc, stompc.ConnOpt.Logger(testkit.QuietLogger{}), stompc.ConnOpt.MsgSendTimeout(waitFor))
	if err != nil {
		t.Fatalf("go-stomp over WebSocket: %v", err)
	}
	start := time.Now()
	err = conn.Send("/queue/sized", "text/plain", []byte(strings.Repeat("w", 1<<20)), stompc.SendOpt.Receipt)
	if want := fmt.Sprintf("message too large: %d bytes, limit %d", 1<<20, 64<<10); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("SEND error %v, want the ERROR frame's %q", err, want)
	}
	if elapsed := time.Since(start); elapsed > refuseWithin {
		t.Errorf("the refusal took %v, want under %v", elapsed, refuseWithin)
	}
}

// TestMaxMessageSizeRefusedBeforeTheBody: the ERROR comes as soon as the
// content-length header is read; the server does not wait for the body.
func TestMaxMessageSizeRefusedBeforeTheBody(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Config: func(c *config.Config) { c.MaxMessageSize = 64 << 10 }})
	r := dialRaw(t, s.Addr("stomp"))
	r.connect()
	start := time.Now()
	r.write("SEND\ndestination:/queue/sized\ncontent-length:12582912\n\n")
	f := r.expectError()
	if msg, _ := f.Get("message"); msg != "message too large: 12582912 bytes, limit 65536" {
		t.Errorf("ERROR message %q", msg)
	}
	if elapsed := time.Since(start); elapsed > refuseWithin {
		t.Errorf("ERROR after %v, want under %v", elapsed, refuseWithin)
	}
	r.expectClosed()
}
