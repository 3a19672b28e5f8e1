package stomp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
	stompc "github.com/go-stomp/stomp/v3"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// quietFor is longer than the server's hand-off wait, so the connections
// below are parked (plain TCP: without a goroutine) or waiting in a fresh
// goroutine (WebSocket) when they speak again. The wait is the scenario
// under test, not synchronisation.
const quietFor = 400 * time.Millisecond

// TestQuietConnectionsWakeUp: a subscriber and a producer that both went
// quiet (parked) still exchange a message, and a parked subscriber still
// gets deliveries written to it.
func TestQuietConnectionsWakeUp(t *testing.T) {
	s := startBroker(t, nil)
	sub := dial(t, s)
	defer sub.close()
	subscription := sub.subscribe("/queue/quiet", stompc.AckAuto)
	prod := dial(t, s)
	defer prod.close()
	time.Sleep(quietFor)
	prod.send("/queue/quiet", "after the quiet")
	if got := string(recv(t, subscription).Body); got != "after the quiet" {
		t.Fatalf("got %q", got)
	}
	time.Sleep(quietFor)
	prod.send("/queue/quiet", "again")
	if got := string(recv(t, subscription).Body); got != "again" {
		t.Fatalf("got %q", got)
	}
}

// TestQuietWebSocketStaysOpen: a WebSocket connection cannot be parked, and a
// read deadline expiring inside its Read would break it; a quiet one must
// carry on.
func TestQuietWebSocketStaysOpen(t *testing.T) {
	s := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/", &websocket.DialOptions{Subprotocols: []string{"v12.stomp"}})
	if err != nil {
		t.Fatalf("WebSocket dial: %v", err)
	}
	defer ws.CloseNow()
	write := func(f *frame.Frame) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, frame.AppendFrame(nil, f, frame.V1_2)); err != nil {
			t.Fatalf("write %s: %v", f.Command, err)
		}
	}
	rd := frame.NewReader(&wsStream{ctx: ctx, ws: ws}, frame.Limits{})
	connect := &frame.Frame{Command: frame.CmdConnect}
	connect.Add(frame.HdrAcceptVersion, "1.2")
	connect.Add(frame.HdrHeartBeat, "0,0")
	write(connect)
	if f, err := rd.Read(); err != nil || f.Command != frame.CmdConnected {
		t.Fatalf("CONNECTED: %v %v", f, err)
	}
	time.Sleep(quietFor)
	sub := &frame.Frame{Command: frame.CmdSubscribe}
	sub.Add(frame.HdrID, "1")
	sub.Add(frame.HdrDestination, "/queue/quiet.ws")
	write(sub)
	send := &frame.Frame{Command: frame.CmdSend, Body: []byte("still here")}
	send.Add(frame.HdrDestination, "/queue/quiet.ws")
	write(send)
	f, err := rd.Read()
	if err != nil || f.Command != frame.CmdMessage || string(f.Body) != "still here" {
		t.Fatalf("after a quiet period: %v %v", f, err)
	}
}

// TestParkedConnectionsHoldNoGoroutine: clients that connected and went
// quiet are parked without a goroutine each, and still answer when they
// speak (a RECEIPT for a DISCONNECT).
func TestParkedConnectionsHoldNoGoroutine(t *testing.T) {
	s := startBroker(t, nil)
	const n = 20
	type rawConn struct {
		nc net.Conn
		rd *frame.Reader
	}
	var conns []rawConn
	for i := 0; i < n; i++ {
		nc, err := net.DialTimeout("tcp", s.Addr("stomp"), waitFor)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(waitFor))
		connect := &frame.Frame{Command: frame.CmdConnect}
		connect.Add(frame.HdrAcceptVersion, "1.2")
		connect.Add(frame.HdrHost, "/")
		connect.Add(frame.HdrHeartBeat, "0,0")
		if _, err := nc.Write(frame.AppendFrame(nil, connect, frame.V1_2)); err != nil {
			t.Fatal(err)
		}
		rd := frame.NewReader(nc, frame.Limits{})
		if f, err := rd.Read(); err != nil || f.Command != frame.CmdConnected {
			t.Fatalf("CONNECTED: %v %v", f, err)
		}
		conns = append(conns, rawConn{nc, rd})
	}
	perConn := []string{"protocols/stomp.(*conn)", "transport.(*Waiter)"}
	deadline := time.Now().Add(waitFor)
	for testkit.GoroutinesIn(perConn...) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still serve %d quiet connections", testkit.GoroutinesIn(perConn...), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, c := range conns {
		disconnect := &frame.Frame{Command: frame.CmdDisconnect}
		disconnect.Add(frame.HdrReceipt, "bye")
		_ = c.nc.SetDeadline(time.Now().Add(waitFor))
		if _, err := c.nc.Write(frame.AppendFrame(nil, disconnect, frame.V1_2)); err != nil {
			t.Fatal(err)
		}
		if f, err := c.rd.Read(); err != nil || f.Command != frame.CmdReceipt {
			t.Fatalf("connection %d after parking: %v %v, want RECEIPT", i, f, err)
		}
	}
}
