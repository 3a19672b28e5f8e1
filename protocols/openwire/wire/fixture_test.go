package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const captureText = "h\u00e9llo \U0001D11E w\u00f6rld \x00 end"

// TestJavaFixtures decodes the stored client captures.
func TestJavaFixtures(t *testing.T) {
	for _, cc := range captureCases {
		t.Run(cc.name, func(t *testing.T) {
			b, err := os.ReadFile(fixturePath(cc.name))
			if err != nil {
				t.Fatalf("fixture missing (run TestJavaClient with OPENWIRE_UPDATE_FIXTURES=1): %v", err)
			}
			checkFixture(t, b, cc)
		})
	}
}

type capture struct {
	n      Negotiated
	cmds   []Command
	frames [][]byte // each frame after its size prefix
}

func splitFrames(t testing.TB, b []byte) [][]byte {
	t.Helper()
	frames, err := splitFramesErr(b)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

func splitFramesErr(b []byte) ([][]byte, error) {
	var frames [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%d stray bytes at the end", len(b))
		}
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			return nil, fmt.Errorf("frame of %d bytes, %d left", n, len(b)-4)
		}
		frames = append(frames, b[4:4+n])
		b = b[4+n:]
	}
	return frames, nil
}

func decodeCapture(t testing.TB, b []byte) capture {
	t.Helper()
	var c capture
	c.frames = splitFrames(t, b)
	dec := NewDecoder(InitialFormat())
	first, err := dec.Decode(c.frames[0])
	if err != nil {
		t.Fatalf("WireFormatInfo: %v", err)
	}
	wfi, ok := first.(*WireFormatInfo)
	if !ok {
		t.Fatalf("first frame is %s", TypeName(first.DataType()))
	}
	c.n, err = Negotiate(ServerOptions(30*time.Second, 0), wfi, 0)
	if err != nil {
		t.Fatal(err)
	}
	dec.SetFormat(c.n.Format)
	c.cmds = append(c.cmds, wfi)
	for i, f := range c.frames[1:] {
		cmd, err := dec.Decode(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		c.cmds = append(c.cmds, cmd)
	}
	return c
}

func checkFixture(t *testing.T, b []byte, cc captureCase) {
	t.Helper()
	c := decodeCapture(t, b)
	wantVersion := 12
	for _, v := range []int{9, 6, 1} {
		if strings.Contains(cc.options, "version="+strconv.Itoa(v)) {
			wantVersion = v
		}
	}
	f := c.n.Format
	if f.Version != wantVersion || f.Tight == strings.Contains(cc.options, "tightEncodingEnabled=false") ||
		f.Cache == strings.Contains(cc.options, "cacheEnabled=false") || !f.StackTrace {
		t.Fatalf("negotiated %+v for %q", f, cc.options)
	}
	r := c.n.Remote
	if r.SizePrefixDisabled != strings.Contains(cc.options, "sizePrefixDisabled=true") {
		t.Errorf("client SizePrefixDisabled %v", r.SizePrefixDisabled)
	}
	if r.MaxInactivityDuration != 30*time.Second || r.MaxInactivityInitialDelay != 10*time.Second ||
		(f.Cache && r.CacheSize != 1024) || r.ProviderName != "ActiveMQ" || !r.TcpNoDelayEnabled {
		t.Errorf("client options %+v", r)
	}
	if c.n.MaxInactivity != 30*time.Second {
		t.Errorf("negotiated inactivity %v", c.n.MaxInactivity)
	}

	roundTrip(t, c)

	var msgs, txMsgs []*Message
	counts := map[byte]int{}
	var txTypes []int8
	var sawDurable, sawUnsub, sawTempAdd, sawTempRemove, sawConn bool
	for _, cmd := range c.cmds {
		counts[cmd.DataType()]++
		switch x := cmd.(type) {
		case *ConnectionInfo:
			sawConn = true
			if x.UserName != "capuser" || x.Password != "cappw" || x.ClientID != "cap-client" || x.ConnectionID == nil {
				t.Errorf("ConnectionInfo %+v", x)
			}
		case *Message:
			switch x.Destination.PhysicalName {
			case "cap.q":
				msgs = append(msgs, x)
			case "cap.tx":
				txMsgs = append(txMsgs, x)
			}
		case *TransactionInfo:
			if lt, ok := x.TransactionID.(*LocalTransactionID); !ok || lt.ConnectionID == nil {
				t.Errorf("TransactionInfo id %#v", x.TransactionID)
			}
			txTypes = append(txTypes, x.Type)
		case *ConsumerInfo:
			if x.SubscriptionName == "cap-sub" {
				sawDurable = true
				if x.Selector != "n > 1" || !x.NoLocal || x.Destination.Type != TypeTopic || x.Destination.PhysicalName != "cap.topic" {
					t.Errorf("durable ConsumerInfo %+v", x)
				}
				if wantVersion >= 10 && x.ClientID != "cap-client" {
					t.Errorf("durable ConsumerInfo client id %q", x.ClientID)
				}
			}
		case *RemoveSubscriptionInfo:
			sawUnsub = x.SubscriptionName == "cap-sub" && x.ClientID == "cap-client"
		case *DestinationInfo:
			if x.Destination.Type == TypeTempQueue {
				sawTempAdd = sawTempAdd || x.OperationType == DestinationAdd
				sawTempRemove = sawTempRemove || x.OperationType == DestinationRemove
			}
		}
	}
	if !sawConn || !sawDurable || !sawUnsub || !sawTempAdd || !sawTempRemove {
		t.Errorf("missing commands: connection %v durable %v unsubscribe %v temp add %v temp remove %v",
			sawConn, sawDurable, sawUnsub, sawTempAdd, sawTempRemove)
	}
	for _, typ := range []byte{TypeSessionInfo, TypeProducerInfo, TypeMessageAck, TypeRemoveInfo, TypeShutdownInfo} {
		if counts[typ] == 0 {
			t.Errorf("no %s in the capture", TypeName(typ))
		}
	}
	if !reflect.DeepEqual(txTypes, []int8{TxBegin, TxCommitOnePhase, TxBegin, TxRollback}) {
		t.Errorf("transaction operations %v", txTypes)
	}
	if len(txMsgs) != 2 || txMsgs[0].TransactionID == nil {
		t.Errorf("transacted messages: %d", len(txMsgs))
	}
	checkMessages(t, msgs, strings.Contains(cc.options, "useCompression=true"), wantVersion)
}

// roundTrip re-encodes every decoded command in order (so the marshalling
// cache evolves as the client's did) and expects the client's exact bytes.
func roundTrip(t *testing.T, c capture) {
	t.Helper()
	enc := NewEncoder(InitialFormat())
	for i, cmd := range c.cmds {
		if i == 1 {
			enc.SetFormat(c.n.Format)
		}
		got, err := enc.Encode(nil, cmd)
		if err != nil {
			t.Fatalf("re-encode frame %d (%s): %v", i, TypeName(cmd.DataType()), err)
		}
		if !bytes.Equal(got[4:], c.frames[i]) {
			t.Fatalf("re-encoded frame %d (%s) differs:\n got %x\nwant %x", i, TypeName(cmd.DataType()), got[4:], c.frames[i])
		}
	}
}

func checkMessages(t *testing.T, msgs []*Message, compressed bool, version int) {
	t.Helper()
	wantTypes := []byte{TypeTextMessage, TypeBytesMessage, TypeMapMessage, TypeStreamMessage, TypeObjectMessage, TypeMessage, TypeTextMessage}
	if len(msgs) != len(wantTypes) {
		t.Fatalf("%d messages to cap.q, want %d", len(msgs), len(wantTypes))
	}
	for i, m := range msgs {
		if m.Type != wantTypes[i] {
			t.Errorf("message %d is %s", i, TypeName(m.Type))
		}
		if m.MessageID == nil || m.MessageID.ProducerID == nil || m.ProducerID == nil || m.Priority != 7 || m.Expiration <= m.Timestamp ||
			m.Persistent != (i%2 == 0) {
			t.Errorf("message %d headers: %+v", i, m)
		}
		if m.Type != TypeMessage && m.Compressed != compressed {
			t.Errorf("message %d compressed=%v", i, m.Compressed)
		}
	}

	text := msgs[0]
	if s, err := text.Text(0); err != nil || s != captureText {
		t.Errorf("text %q, %v", s, err)
	}
	if text.CorrelationID != "corr-1" || text.JMSType != "cap-type" || text.GroupID != "group-a" || text.GroupSequence != 3 ||
		text.ReplyTo == nil || text.ReplyTo.Type != TypeTempQueue {
		t.Errorf("text headers: %+v", text)
	}
	props, err := ParseMap(text.MarshalledProperties)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"pbool": true, "pbyte": int8(-1), "pshort": int16(32000), "pint": int32(math.MinInt32),
		"plong": int64(math.MaxInt64), "pfloat": float32(3.5), "pdouble": 1e300, "pstring": "prop \u00e9\u20ac"}
	for k, v := range want {
		if got, _ := props.Get(k); got != v {
			t.Errorf("property %s = %#v, want %#v", k, got, v)
		}
	}
	if len(props) != len(want) {
		t.Errorf("properties %v", props)
	}

	if b, err := msgs[1].Body(0); err != nil || len(b) != 256 || b[255] != 255 {
		t.Errorf("bytes body %d bytes, %v", len(b), err)
	}

	mb, err := msgs[2].Body(0)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := ParseMap(mb)
	if err != nil {
		t.Fatal(err)
	}
	wantMap := map[string]any{"bool": true, "byte": int8(-7), "char": Char(0xe9), "short": int16(-300), "int": int32(70000),
		"long": int64(1 << 40), "float": float32(1.5), "double": -2.25, "string": "map \u00e9"}
	for k, v := range wantMap {
		if got, _ := mm.Get(k); got != v {
			t.Errorf("map %s = %#v, want %#v", k, got, v)
		}
	}
	if got, _ := mm.Get("bytes"); !bytes.Equal(got.([]byte), []byte{1, 2, 3}) {
		t.Errorf("map bytes %v", got)
	}

	sb, err := msgs[3].Body(0)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := ParseStream(sb)
	if err != nil {
		t.Fatal(err)
	}
	wantStream := []any{false, int8(5), Char('x'), int16(12), int32(-1), int64(math.MinInt64), float32(0.25), math.Pi, "stream", []byte{9, 8}, nil}
	if !reflect.DeepEqual(sv, wantStream) {
		t.Errorf("stream %#v", sv)
	}

	if ob, err := msgs[4].Body(0); err != nil || len(ob) < 2 || ob[0] != 0xac || ob[1] != 0xed {
		t.Errorf("object body %x, %v", ob, err)
	}
	if p, _ := ParseMap(msgs[5].MarshalledProperties); len(p) != 1 || p[0] != (Entry{"plain", "yes"}) {
		t.Errorf("plain message properties %v", p)
	}
	big := strings.Repeat("big\u00e9", 3000)
	if s, err := msgs[6].Text(0); err != nil || s != big {
		t.Errorf("big text: %d chars, %v", len(s), err)
	}
	if p, err := ParseMap(msgs[6].MarshalledProperties); err != nil || len(p) != 1 || p[0].Value != big {
		t.Errorf("big string property: %v", err)
	}
	_ = version
}
