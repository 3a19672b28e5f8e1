package openwire_test

// Tests at the byte level, with the wire codec as the client: the
// handshake, inactivity monitoring, and bad input, which the Java client
// never sends.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/openwire/wire"
	"github.com/junctionmq/junction/server"
	"github.com/junctionmq/junction/server/servertest"
	"github.com/junctionmq/junction/storage/faulty"
	"github.com/junctionmq/junction/storage/memory"
)

// rawClient is an OpenWire connection driven command by command.
type rawClient struct {
	t   *testing.T
	nc  net.Conn
	br  *bufio.Reader
	dec *wire.Decoder
	enc *wire.Encoder
	id  int32
}

func dialRaw(t *testing.T, s *server.Server) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr("openwire"), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc), dec: wire.NewDecoder(wire.InitialFormat()), enc: wire.NewEncoder(wire.InitialFormat())}
}

// clientOptions are what the ActiveMQ 5.17 client offers by default.
func clientOptions() wire.Options {
	return wire.Options{
		Version: 12, StackTraceEnabled: true, CacheEnabled: true, TcpNoDelayEnabled: true,
		TightEncodingEnabled: true, CacheSize: 1024, MaxInactivityDuration: 30 * time.Second,
		MaxInactivityInitialDelay: 10 * time.Second, MaxFrameSize: 100 << 20,
	}
}

func (c *rawClient) write(cmd wire.Command) {
	c.t.Helper()
	if base := cmd.Base(); base != nil && cmd.DataType() != wire.TypeWireFormatInfo {
		c.id++
		base.CommandID = c.id
	}
	b, err := c.enc.Encode(nil, cmd)
	if err != nil {
		c.t.Fatalf("encode %s: %v", wire.TypeName(cmd.DataType()), err)
	}
	c.writeBytes(b)
}

func (c *rawClient) writeBytes(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next command, failing after d.
func (c *rawClient) read(d time.Duration) (wire.Command, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	return c.dec.ReadCommand(c.br)
}

func (c *rawClient) mustRead() wire.Command {
	c.t.Helper()
	cmd, err := c.read(waitFor)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return cmd
}

// handshake exchanges WireFormatInfos and reads the BrokerInfo.
func (c *rawClient) handshake(o wire.Options) (*wire.WireFormatInfo, *wire.BrokerInfo) {
	c.t.Helper()
	cmd := c.mustRead()
	server, ok := cmd.(*wire.WireFormatInfo)
	if !ok {
		c.t.Fatalf("first command %s, want WireFormatInfo", wire.TypeName(cmd.DataType()))
	}
	c.write(wire.NewWireFormatInfo(o))
	n, err := wire.Negotiate(o, server, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	c.dec.SetFormat(n.Format)
	c.enc.SetFormat(n.Format)
	cmd = c.mustRead()
	bi, ok := cmd.(*wire.BrokerInfo)
	if !ok {
		c.t.Fatalf("after the handshake %s, want BrokerInfo", wire.TypeName(cmd.DataType()))
	}
	return server, bi
}

// expectClose reads until the server closes, and returns the
// ConnectionError it sent first (nil if none).
func (c *rawClient) expectClose() *wire.ConnectionError {
	c.t.Helper()
	var ce *wire.ConnectionError
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		cmd, err := c.read(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("the server did not close the connection")
			}
			return ce
		}
		if e, ok := cmd.(*wire.ConnectionError); ok {
			ce = e
		}
	}
	c.t.Fatal("the server did not close the connection")
	return nil
}

func (c *rawClient) connect() {
	c.t.Helper()
	c.write(&wire.ConnectionInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ConnectionID: &wire.ConnectionID{Value: "ID:raw-1"}})
	c.expectResponse()
}

func (c *rawClient) expectResponse() *wire.Response {
	c.t.Helper()
	for {
		switch r := c.mustRead().(type) {
		case *wire.Response:
			if r.CorrelationID != c.id {
				c.t.Fatalf("response to %d, want %d", r.CorrelationID, c.id)
			}
			return r
		case *wire.ExceptionResponse:
			c.t.Fatalf("exception response: %s: %s", r.Exception.Class, r.Exception.Message)
		case *wire.KeepAliveInfo:
		default:
			c.t.Fatalf("got %s, want a Response", wire.TypeName(r.DataType()))
		}
	}
}

func (c *rawClient) expectException() *wire.ExceptionResponse {
	c.t.Helper()
	for {
		switch r := c.mustRead().(type) {
		case *wire.ExceptionResponse:
			if r.CorrelationID != c.id {
				c.t.Fatalf("exception response to %d, want %d", r.CorrelationID, c.id)
			}
			return r
		case *wire.KeepAliveInfo:
		default:
			c.t.Fatalf("got %s, want an ExceptionResponse", wire.TypeName(r.DataType()))
		}
	}
}

// TestHandshake: the server announces version 12, tight encoding, the
// cache, the size prefix, its inactivity duration and delay, no stack
// traces and its frame size, then a BrokerInfo, and answers a keep-alive
// that asks for a response.
func TestHandshake(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	c := dialRaw(t, s)
	server, bi := c.handshake(clientOptions())
	o, err := server.Options()
	if err != nil {
		t.Fatal(err)
	}
	if server.Magic != wire.Magic || o.Version != 12 || !o.TightEncodingEnabled || !o.CacheEnabled || o.SizePrefixDisabled ||
		o.StackTraceEnabled || o.MaxInactivityDuration != 30*time.Second || o.MaxInactivityInitialDelay <= 0 || o.MaxFrameSize <= 0 {
		t.Errorf("server WireFormatInfo %+v", o)
	}
	if bi.BrokerID == nil || bi.BrokerID.Value == "" || bi.BrokerName == "" {
		t.Errorf("BrokerInfo %+v", bi)
	}
	c.write(&wire.KeepAliveInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
	if cmd := c.mustRead(); cmd.DataType() != wire.TypeKeepAliveInfo {
		t.Errorf("answer to a keep-alive: %s", wire.TypeName(cmd.DataType()))
	}
	c.connect()
	// XA is refused with a message that says so; the connection stays.
	c.write(&wire.TransactionInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ConnectionID: &wire.ConnectionID{Value: "ID:raw-1"},
		TransactionID: &wire.XATransactionID{FormatID: 1, GlobalTransactionID: []byte{1}, BranchQualifier: []byte{2}}, Type: wire.TxBegin})
	if ex := c.expectException(); !strings.Contains(ex.Exception.Message, "XA") {
		t.Errorf("XA begin refused with %q", ex.Exception.Message)
	}
	c.write(&wire.FlushCommand{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
	c.expectResponse()
}

// TestInactivity: with a short inactivity duration the server keeps the
// connection alive with KeepAliveInfos and closes it, with a
// ConnectionError, once the client stays silent for the duration.
func TestInactivity(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	c := dialRaw(t, s)
	o := clientOptions()
	o.MaxInactivityDuration = 600 * time.Millisecond
	o.MaxInactivityInitialDelay = 0
	c.handshake(o)
	start := time.Now()
	sawKeepAlive := false
	var ce *wire.ConnectionError
	for {
		cmd, err := c.read(waitFor)
		if err != nil {
			break
		}
		switch v := cmd.(type) {
		case *wire.KeepAliveInfo:
			sawKeepAlive = true
		case *wire.ConnectionError:
			ce = v
		}
	}
	took := time.Since(start)
	if !sawKeepAlive {
		t.Error("no KeepAliveInfo from the server")
	}
	if ce == nil || ce.Exception == nil || !strings.Contains(ce.Exception.Message, "inactivity") {
		t.Errorf("closed with %+v, want a ConnectionError about inactivity", ce)
	}
	if took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("closed after %v, want about the inactivity duration", took)
	}
}

// TestBadInput: each kind of bad input gets a ConnectionError, then the
// close, and leaves other connections alone.
func TestBadInput(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	bystander := dialRaw(t, s)
	bystander.handshake(clientOptions())
	bystander.connect()

	frame := func(typ byte, body ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
		return append(append(b, typ), body...)
	}
	cases := []struct {
		name string
		send func(c *rawClient)
		want string // in the ConnectionError's message
	}{
		{"wrong magic", func(c *rawClient) {
			c.mustRead()
			w := wire.NewWireFormatInfo(clientOptions())
			copy(w.Magic[:], "NotAMQ!!")
			c.write(w)
		}, "magic"},
		{"command before WireFormatInfo", func(c *rawClient) {
			c.mustRead()
			c.write(&wire.ConnectionInfo{ConnectionID: &wire.ConnectionID{Value: "ID:x"}})
		}, "WireFormatInfo"},
		{"unknown command type", func(c *rawClient) {
			c.handshake(clientOptions())
			c.writeBytes(frame(99, 0, 0, 0, 0))
		}, ""},
		{"truncated command", func(c *rawClient) {
			c.handshake(clientOptions())
			good, err := c.enc.Encode(nil, &wire.ConnectionInfo{ConnectionID: &wire.ConnectionID{Value: "ID:truncated"}, UserName: "someone"})
			if err != nil {
				t.Fatal(err)
			}
			cut := good[:len(good)-4]
			binary.BigEndian.PutUint32(cut, uint32(len(cut)-4))
			c.writeBytes(cut)
		}, ""},
		{"cache index never filled", func(c *rawClient) {
			c.handshake(clientOptions())
			info := &wire.ConnectionInfo{ConnectionID: &wire.ConnectionID{Value: "ID:cached"}}
			if _, err := c.enc.Encode(nil, info); err != nil { // fills slot 0 on our side only
				t.Fatal(err)
			}
			ref, err := c.enc.Encode(nil, info) // refers to slot 0
			if err != nil {
				t.Fatal(err)
			}
			c.writeBytes(ref)
		}, "cache"},
		{"frame larger than allowed", func(c *rawClient) {
			c.handshake(clientOptions())
			c.writeBytes(binary.BigEndian.AppendUint32(nil, 0x7fffffff))
		}, ""},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			c := dialRaw(t, s)
			c.t = t
			tc.send(c)
			ce := c.expectClose()
			if ce == nil || ce.Exception == nil {
				t.Fatal("closed without a ConnectionError")
			}
			if !strings.Contains(strings.ToLower(ce.Exception.Message), strings.ToLower(tc.want)) {
				t.Errorf("ConnectionError %q, want it to mention %q", ce.Exception.Message, tc.want)
			}
		})
	}
	// The bystander is unaffected.
	bystander.write(&wire.FlushCommand{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
	bystander.expectResponse()
}

func newBufReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }

func appendSize(dst []byte, n int) []byte { return binary.BigEndian.AppendUint32(dst, uint32(n)) }

// TestClientIDTakeover: a second connection with a client id in use is
// refused, unless it is the same JMS connection (same connection id)
// reconnecting, as a failover client does before the broker noticed the
// old socket died: then the old connection is closed.
func TestClientIDTakeover(t *testing.T) {
	s := startBroker(t, servertest.Options{})
	open := func(connID string) *rawClient {
		c := dialRaw(t, s)
		c.handshake(clientOptions())
		c.write(&wire.ConnectionInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true},
			ConnectionID: &wire.ConnectionID{Value: connID}, ClientID: "app-1", FailoverReconnect: true})
		return c
	}
	first := open("ID:conn-a")
	first.expectResponse()
	other := open("ID:conn-b")
	if ex := other.expectException(); ex.Exception.Class != "javax.jms.InvalidClientIDException" {
		t.Errorf("a second connection with the client id got %s", ex.Exception.Class)
	}
	again := open("ID:conn-a")
	again.expectResponse()
	if ce := first.expectClose(); ce == nil {
		t.Error("the replaced connection was closed without a ConnectionError")
	}
	again.write(&wire.FlushCommand{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
	again.expectResponse()
}

// TestStoreFailure: a persistent send is confirmed only once stored: when
// the store refuses it the client gets an ExceptionResponse, not a
// Response, and a COMMIT likewise.
func TestStoreFailure(t *testing.T) {
	fs := faulty.Wrap(memory.New())
	s := startBroker(t, servertest.Options{Store: fs})
	c := dialRaw(t, s)
	c.handshake(clientOptions())
	c.connect()
	sid := &wire.SessionID{ConnectionID: "ID:raw-1", Value: 1}
	pid := &wire.ProducerID{ConnectionID: "ID:raw-1", SessionID: 1, Value: 1}
	c.write(&wire.SessionInfo{SessionID: sid})
	c.write(&wire.ProducerInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ProducerID: pid})
	c.expectResponse()
	send := func(seq int64, persistent bool, tx wire.TransactionID) {
		m := &wire.Message{BaseCommand: wire.BaseCommand{ResponseRequired: tx == nil}, Type: wire.TypeTextMessage, ProducerID: pid,
			Destination: &wire.Destination{Type: wire.TypeQueue, PhysicalName: "ow.store"}, TransactionID: tx,
			MessageID: &wire.MessageID{ProducerID: pid, ProducerSequenceID: seq}, Persistent: persistent, Priority: 4}
		m.SetText("x", false)
		c.write(m)
	}
	send(1, true, nil)
	c.expectResponse()
	fs.Set(faulty.SyncOnly())
	send(2, true, nil)
	if ex := c.expectException(); ex.Exception.Class == "" {
		t.Error("exception without a class")
	}
	send(3, false, nil)
	c.expectResponse() // a non-persistent message needs no store
	txid := &wire.LocalTransactionID{Value: 1, ConnectionID: &wire.ConnectionID{Value: "ID:raw-1"}}
	c.write(&wire.TransactionInfo{ConnectionID: &wire.ConnectionID{Value: "ID:raw-1"}, TransactionID: txid, Type: wire.TxBegin})
	send(4, true, txid)
	c.write(&wire.TransactionInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ConnectionID: &wire.ConnectionID{Value: "ID:raw-1"}, TransactionID: txid, Type: wire.TxCommitOnePhase})
	if ex := c.expectException(); ex.Exception.Class != "javax.jms.TransactionRolledBackException" {
		t.Errorf("failed commit answered with %s: %s", ex.Exception.Class, ex.Exception.Message)
	}
}
