package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// allFormats lists every combination of version, encoding, cache and stack
// traces.
func allFormats() []Format {
	var fs []Format
	for v := MinVersion; v <= MaxVersion; v++ {
		for _, tight := range []bool{false, true} {
			for _, cache := range []bool{false, true} {
				for _, stack := range []bool{false, true} {
					fs = append(fs, Format{Version: v, Tight: tight, Cache: cache, CacheSize: DefaultCacheSize, StackTrace: stack})
				}
			}
		}
	}
	return fs
}

// decodeAny decodes one frame of any data structure type (Decode accepts
// commands only).
func decodeAny(d *Decoder, frame []byte) (DataStructure, error) {
	ds := &decodeState{f: d.f, cache: d.cache, r: reader{b: frame}, tight: d.f.Tight}
	t, err := ds.r.u8()
	if err != nil {
		return nil, err
	}
	v, err := ds.top(t)
	if err == nil && ds.r.left() != 0 {
		err = fmt.Errorf("%d trailing bytes", ds.r.left())
	}
	return v, err
}

// TestRoundTripEveryType encodes a filled instance of every type in every
// format as one stream (so the cache fills and hits), decodes it, and
// re-encodes the decoded values to the same bytes.
func TestRoundTripEveryType(t *testing.T) {
	for _, f := range allFormats() {
		cmds := sampleAll(f.Version, f.StackTrace)
		enc := NewEncoder(f)
		var stream []byte
		for _, c := range cmds {
			var err error
			if stream, err = enc.Encode(stream, c); err != nil {
				t.Fatalf("%+v: encode %s: %v", f, TypeName(c.DataType()), err)
			}
		}
		dec, enc2 := NewDecoder(f), NewEncoder(f)
		var again []byte
		for i, fr := range splitFrames(t, stream) {
			got, err := decodeAny(dec, fr)
			if err != nil {
				t.Fatalf("%+v: decode %s: %v", f, TypeName(cmds[i].DataType()), err)
			}
			if !reflect.DeepEqual(got, cmds[i]) {
				t.Fatalf("%+v: %s decodes to\n%s\nwant\n%s", f, TypeName(cmds[i].DataType()), dump(got), dump(cmds[i]))
			}
			if again, err = enc2.Encode(again, got); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(again, stream) {
			t.Fatalf("%+v: re-encoding differs", f)
		}
	}
}

// Golden frames, worked out by hand from the Java marshallers: they pin the
// exact layout even where the Java oracle (TestJavaEcho) cannot run.
func TestGoldenFrames(t *testing.T) {
	pid := &ProducerID{ConnectionID: "c", Value: 300, SessionID: 70000}
	cases := []struct {
		name string
		f    Format
		cmd  Command
		want string // hex, size prefix included
	}{
		{"keepalive loose", Format{Version: 12}, &KeepAliveInfo{BaseCommand{CommandID: 5, ResponseRequired: true}},
			"00000006" + "0a" + "00000005" + "01"},
		{"keepalive tight", Format{Version: 12, Tight: true}, &KeepAliveInfo{BaseCommand{CommandID: 5, ResponseRequired: true}},
			"00000007" + "0a" + "01" + "01" + "00000005"},
		{"response tight", Format{Version: 12, Tight: true}, &Response{CorrelationID: 7},
			"0000000b" + "1e" + "01" + "00" + "00000000" + "00000007"},
		// SessionInfo, loose, cached: cmd id, resp, new-entry flag, index 0,
		// present, type 121, connection id string "c", value 8 bytes.
		{"session loose cached", Format{Version: 12, Cache: true, CacheSize: 16},
			&SessionInfo{BaseCommand: BaseCommand{CommandID: 1}, SessionID: &SessionID{ConnectionID: "c", Value: 2}},
			"00000017" + "04" + "00000001" + "00" + "01" + "0000" + "01" + "79" + "01" + "000163" + "0000000000000002"},
		// ProducerAck tight: bits: resp=0, present=1, conn present=1, ascii=1,
		// value 300 -> (0,1) short, session 70000 -> (1,0) int; bit 0
		// first: 0,1,1,1,0,1,1,0 = 0x6e.
		{"producer ack tight", Format{Version: 12, Tight: true}, &ProducerAck{ProducerID: pid, Size: 9},
			"00000015" + "13" + "01" + "6e" + "00000000" + "7b" + "0001" + "63" + "012c" + "00011170" + "00000009"},
	}
	for _, c := range cases {
		got, err := NewEncoder(c.f).Encode(nil, c.cmd)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if fmt.Sprintf("%x", got) != c.want {
			t.Errorf("%s:\n got %x\nwant %s", c.name, got, c.want)
			continue
		}
		back, err := NewDecoder(c.f).Decode(got[4:])
		if err != nil || !reflect.DeepEqual(back, c.cmd) {
			t.Errorf("%s: decodes to %+v, %v", c.name, back, err)
		}
	}
}

// TestBooleanStreamHeader covers the three length forms of the tight
// encoding's boolean stream (<64, <256, larger).
func TestBooleanStreamHeader(t *testing.T) {
	f := Format{Version: 12, Tight: true}
	for _, c := range []struct {
		ids  int
		head []byte
	}{
		// 4 bits of base and id, 3 of nulls, 1 for the array, 3 per broker
		// id, 5 flags, 1 null: 14 + 3n bits.
		{5, []byte{4}}, {300, []byte{0xc0, 115}}, {1000, []byte{0x80, 0x01, 0x79}},
	} {
		ci := &ConnectionInfo{ConnectionID: &ConnectionID{"c"}}
		for i := range c.ids {
			ci.BrokerPath = append(ci.BrokerPath, &BrokerID{fmt.Sprint("b", i)})
		}
		b, err := NewEncoder(f).Encode(nil, ci)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b[5:], c.head) {
			t.Errorf("%d ids: boolean stream header %x, want %x", c.ids, b[5:9], c.head)
		}
		back, err := NewDecoder(f).Decode(b[4:])
		if err != nil || !reflect.DeepEqual(back, ci) {
			t.Errorf("%d ids: %v", c.ids, err)
		}
	}
}

func TestTightLongWidths(t *testing.T) {
	f := Format{Version: 12, Tight: true}
	for _, v := range []int64{0, 1, 0xffff, 0x10000, 0xffffffff, 0x100000000, -1, -1 << 63} {
		ri := &RemoveInfo{ObjectID: &ConnectionID{"x"}, LastDeliveredSequenceID: v}
		b, err := NewEncoder(f).Encode(nil, ri)
		if err != nil {
			t.Fatal(err)
		}
		back, err := NewDecoder(f).Decode(b[4:])
		if err != nil || back.(*RemoveInfo).LastDeliveredSequenceID != v {
			t.Errorf("%d: %+v %v", v, back, err)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tight := range []bool{false, true} {
		f := Format{Version: 12, Tight: tight}
		for _, s := range []string{"ascii", "nul\x00inside", "é€", "\U0001D11E clef", strings.Repeat("x", 30000)} {
			cc := &ControlCommand{Command: s}
			b, err := NewEncoder(f).Encode(nil, cc)
			if err != nil {
				t.Fatalf("tight=%v %q: %v", tight, s[:min(len(s), 10)], err)
			}
			back, err := NewDecoder(f).Decode(b[4:])
			if err != nil || back.(*ControlCommand).Command != s {
				t.Errorf("tight=%v %q: %v", tight, s[:min(len(s), 10)], err)
			}
		}
	}
	// Java's writeUTF limit, and the tight encoding's stricter one.
	if _, err := NewEncoder(Format{Version: 12}).Encode(nil, &ControlCommand{Command: strings.Repeat("é", 40000)}); !errors.Is(err, ErrEncode) {
		t.Errorf("80000-byte string: %v", err)
	}
	if _, err := NewEncoder(Format{Version: 12, Tight: true}).Encode(nil, &ControlCommand{Command: strings.Repeat("x", 40000)}); !errors.Is(err, ErrEncode) {
		t.Errorf("40000-byte tight string: %v", err)
	}
	// Modified UTF-8 as Java writes it: NUL as C0 80, a supplementary
	// character as two 3-byte surrogates.
	s, err := decodeModifiedUTF8([]byte{'a', 0xc0, 0x80, 0xed, 0xa0, 0xb4, 0xed, 0xb4, 0x9e})
	if err != nil || s != "a\x00\U0001D11E" {
		t.Errorf("modified UTF-8: %q %v", s, err)
	}
	if got := appendModifiedUTF8(nil, "a\x00\U0001D11E"); !bytes.Equal(got, []byte{'a', 0xc0, 0x80, 0xed, 0xa0, 0xb4, 0xed, 0xb4, 0x9e}) {
		t.Errorf("encode modified UTF-8: %x", got)
	}
	for _, bad := range [][]byte{{0xc3}, {0xe2, 0x82}, {0xff}, {0x80}, {0xe2, 0x28, 0xa1}} {
		if _, err := decodeModifiedUTF8(bad); !errors.Is(err, ErrUTF) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

// TestCacheEviction: a cache smaller than the ids in use keeps both sides in
// step as slots are reused.
func TestCacheEviction(t *testing.T) {
	for _, tight := range []bool{false, true} {
		f := Format{Version: 12, Tight: tight, Cache: true, CacheSize: 3}
		enc, dec := NewEncoder(f), NewDecoder(f)
		var stream []byte
		var cmds []Command
		for i := range 40 {
			c := &ProducerInfo{ProducerID: &ProducerID{ConnectionID: "c", Value: int64(i % 7)},
				Destination: &Destination{Type: TypeQueue, PhysicalName: fmt.Sprint("q", i%5)}}
			cmds = append(cmds, c)
			var err error
			if stream, err = enc.Encode(stream, c); err != nil {
				t.Fatal(err)
			}
		}
		r := bytes.NewReader(stream)
		for i, want := range cmds {
			got, err := dec.ReadCommand(r)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("tight=%v command %d: %+v %v", tight, i, got, err)
			}
		}
	}
}

// TestEncodeFailureResetsCache: a frame that fails to encode is never sent,
// so the ids it would have cached must not be referenced later.
func TestEncodeFailureResetsCache(t *testing.T) {
	f := Format{Version: 12, Tight: true, Cache: true, CacheSize: 16}
	enc, dec := NewEncoder(f), NewDecoder(f)
	id := &ConsumerID{ConnectionID: "c", SessionID: 1, Value: 1}
	bad := &ConsumerInfo{ConsumerID: id, Selector: strings.Repeat("x", 40000)}
	if _, err := enc.Encode(nil, bad); !errors.Is(err, ErrEncode) {
		t.Fatalf("oversized selector: %v", err)
	}
	good := &ConsumerInfo{ConsumerID: id, Selector: "ok"}
	b, err := enc.Encode(nil, good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dec.Decode(b[4:])
	if err != nil || !reflect.DeepEqual(got, good) {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestReaderStream(t *testing.T) {
	f := Format{Version: 12, Tight: true}
	enc := NewEncoder(f)
	var stream []byte
	for i := range 3 {
		stream, _ = enc.Encode(stream, &KeepAliveInfo{BaseCommand{CommandID: int32(i)}})
	}
	r := NewReader(bytes.NewReader(stream), f)
	for i := range 3 {
		c, err := r.ReadCommand()
		if err != nil || c.Base().CommandID != int32(i) {
			t.Fatalf("%d: %+v %v", i, c, err)
		}
		if want := (2 - i) * 11; r.Buffered() != want {
			t.Errorf("after %d: buffered %d, want %d", i, r.Buffered(), want)
		}
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
	// A frame cut short is an unexpected EOF.
	r = NewReader(bytes.NewReader(stream[:15]), f)
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadCommand(); err != io.ErrUnexpectedEOF {
		t.Errorf("cut frame: %v", err)
	}
}

func frame(size int, body ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(size)), body...)
}

func decodeErr(t *testing.T, err error) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	return de
}

// TestBadInput: each kind of bad input yields a DecodeError of the right
// category, with the command id when it was read.
func TestBadInput(t *testing.T) {
	loose := Format{Version: 12}
	cached := Format{Version: 12, Cache: true, CacheSize: 1024}
	mustLoose := func(c Command) []byte {
		b, err := NewEncoder(loose).Encode(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return b[4:]
	}

	// Wrong magic.
	w := NewWireFormatInfo(ServerOptions(0, 0))
	w.Magic = [8]byte{'A', 'c', 't', 'i', 'v', 'e', 'M', 'X'}
	_, err := NewDecoder(InitialFormat()).Decode(mustLoose(w))
	if de := decodeErr(t, err); !errors.Is(err, ErrBadMagic) || !de.Fatal {
		t.Errorf("wrong magic: %v", err)
	}
	if _, err := Negotiate(ServerOptions(0, 0), w, 0); !errors.Is(err, ErrBadMagic) {
		t.Errorf("negotiate with wrong magic: %v", err)
	}

	// Unknown command types: an id with no marshaller, a primitive type
	// marker, a type the negotiated version lacks.
	for _, c := range []struct {
		f     Format
		frame []byte
		name  string
	}{
		{loose, []byte{200, 0, 0, 0, 1, 1}, "type 200"},
		{loose, []byte{70}, "BYTE_TYPE"},
		{Format{Version: 1}, mustLoose(&MessagePull{}), "MessagePull"},
		{Format{Version: 11}, []byte{TypeBrokerSubscriptionInfo, 0, 0, 0, 1, 0}, "BrokerSubscriptionInfo"},
	} {
		_, err := NewDecoder(c.f).Decode(c.frame)
		de := decodeErr(t, err)
		if !errors.Is(err, ErrUnknownType) || de.Fatal || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// A data structure that is not a command, at top level.
	if _, err := NewDecoder(loose).Decode(mustLoose2(t, loose, &ConnectionID{"x"})); !errors.Is(err, ErrNotCommand) {
		t.Errorf("ConnectionId frame: %v", err)
	}

	// Truncation at every byte of a command: never a panic, always a
	// DecodeError, and the command id once it was read.
	full := mustLoose(&ConsumerInfo{BaseCommand: BaseCommand{CommandID: 77, ResponseRequired: true},
		ConsumerID: &ConsumerID{"c", 1, 2}, Destination: &Destination{TypeQueue, "q"}, Selector: "a = 1",
		BrokerPath: []*BrokerID{{"b"}}})
	for n := 1; n < len(full); n++ {
		_, err := NewDecoder(loose).Decode(full[:n])
		de := decodeErr(t, err)
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrLength) {
			t.Errorf("cut at %d: %v", n, err)
		}
		if n >= 6 && (!de.HaveBase || de.CommandID != 77 || !de.ResponseRequired) {
			t.Errorf("cut at %d: base not reported: %+v", n, de)
		}
	}
	// Trailing bytes.
	if _, err := NewDecoder(loose).Decode(append(full, 0)); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing byte: %v", err)
	}

	// Cache index out of range, and a reference to an empty slot.
	for _, idx := range []uint16{1024, 0x8000, 0xfffe, 3} {
		b := []byte{TypeSessionInfo, 0, 0, 0, 9, 1, 0}
		b = binary.BigEndian.AppendUint16(b, idx)
		_, err := NewDecoder(cached).Decode(b)
		if de := decodeErr(t, err); !errors.Is(err, ErrCacheIndex) || de.CommandID != 9 {
			t.Errorf("cache index %d: %v", idx, err)
		}
	}
	// A new entry at an index outside the cache.
	b := []byte{TypeSessionInfo, 0, 0, 0, 9, 1, 1, 0x10, 0x00, 1, TypeSessionID, 0}
	b = binary.BigEndian.AppendUint64(b, 1)
	if _, err := NewDecoder(cached).Decode(b); !errors.Is(err, ErrCacheIndex) {
		t.Errorf("new entry at 4096: %v", err)
	}

	// A string length past the end of the frame.
	b = []byte{TypeControlCommand, 0, 0, 0, 1, 0, 1, 0x7f, 0xff, 'a'}
	if _, err := NewDecoder(loose).Decode(b); !errors.Is(err, ErrLength) {
		t.Errorf("string past the frame: %v", err)
	}
	// A byte array length past the end of the frame, and a negative one.
	for _, n := range []uint32{0x7fffffff, 0xffffffff} {
		b = []byte{TypeConnectionControl, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
		b = binary.BigEndian.AppendUint32(b, n)
		if _, err := NewDecoder(loose).Decode(b); !errors.Is(err, ErrLength) {
			t.Errorf("byte array of %d: %v", int32(n), err)
		}
	}
	// An array count larger than the frame could hold.
	b = []byte{TypeConnectionInfo, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0x7f, 0xff}
	if _, err := NewDecoder(loose).Decode(b); !errors.Is(err, ErrLength) {
		t.Errorf("array count: %v", err)
	}
	// A boolean stream longer than the frame.
	if _, err := NewDecoder(Format{Version: 12, Tight: true}).Decode([]byte{TypeKeepAliveInfo, 0x80, 0x7f, 0xff}); !errors.Is(err, ErrLength) {
		t.Errorf("boolean stream: %v", err)
	}
	// A nested object of a type its field cannot hold (a ConnectionId as a
	// destination).
	b = []byte{TypeProducerInfo, 0, 0, 0, 1, 0, 0, 1, TypeConnectionID, 1, 0, 1, 'x'}
	if _, err := NewDecoder(loose).Decode(b); !errors.Is(err, ErrUnknownType) {
		t.Errorf("ConnectionId as destination: %v", err)
	}
	// Nesting beyond the limit: DataResponse in DataResponse ...
	b = nil
	for range 100 {
		b = append(b, TypeDataResponse, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1)
	}
	if _, err := NewDecoder(loose).Decode(b[:len(b)-1]); !errors.Is(err, ErrNesting) {
		t.Errorf("deep nesting: %v", err)
	}
	// A marshal-aware nested object with the marshalled-form flag set.
	tight := Format{Version: 12, Tight: true}
	md, _ := NewEncoder(tight).Encode(nil, &MessageDispatch{Message: &Message{Type: TypeMessage}})
	md = md[4:]
	md[2] |= 0x10 // bits: resp, consumer, destination, message present, marshalled form
	if _, err := NewDecoder(tight).Decode(md); !errors.Is(err, ErrUnknownType) {
		t.Errorf("marshalled-form flag: %v", err)
	}
}

func mustLoose2(t *testing.T, f Format, d DataStructure) []byte {
	b, err := NewEncoder(f).Encode(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	return b[4:]
}

func TestFrameSize(t *testing.T) {
	f := Format{Version: 12, MaxFrameSize: 100}
	for _, size := range []int{101, 0, -1, 0x7fffffff} {
		_, err := NewDecoder(f).ReadFrame(bytes.NewReader(frame(size, 1, 2, 3)))
		if de := decodeErr(t, err); !errors.Is(err, ErrFrameTooLarge) || !de.Fatal {
			t.Errorf("size %d: %v", size, err)
		}
	}
	// The encoder refuses to produce a frame the limit forbids.
	if _, err := NewEncoder(f).Encode(nil, &ControlCommand{Command: strings.Repeat("x", 200)}); !errors.Is(err, ErrEncode) {
		t.Errorf("oversized frame encoded: %v", err)
	}
}

// TestThrowableIsData: the class name a peer sends is kept as a string and
// never resolved (CVE-2023-46604 sent a Spring context class here).
func TestThrowableIsData(t *testing.T) {
	for _, f := range []Format{{Version: 12}, {Version: 12, Tight: true, StackTrace: true}} {
		er := &ExceptionResponse{Response: Response{CorrelationID: 1}, Exception: &Throwable{
			Class:   "org.springframework.context.support.ClassPathXmlApplicationContext",
			Message: "http://attacker/poc.xml"}}
		b, err := NewEncoder(f).Encode(nil, er)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewDecoder(f).Decode(b[4:])
		if err != nil || !reflect.DeepEqual(got, er) {
			t.Errorf("%+v: %+v %v", f, got, err)
		}
	}
	// A stack trace count larger than the frame.
	f := Format{Version: 12, StackTrace: true}
	b := []byte{TypeExceptionResponse, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0x7f, 0xff}
	if _, err := NewDecoder(f).Decode(b); !errors.Is(err, ErrLength) {
		t.Errorf("stack trace count: %v", err)
	}
}

func TestErrorText(t *testing.T) {
	b := []byte{TypeConsumerInfo, 0, 0, 0, 1, 0, 0, 0}
	_, err := NewDecoder(Format{Version: 12}).Decode(b)
	if got := err.Error(); got != "openwire: ConsumerInfo: ConsumerInfo.Destination: need 1 bytes at offset 8, 0 left" {
		t.Errorf("error text %q", got)
	}
}

// TestAllocationBudget: a frame of many tiny nested objects (here: null
// array elements, a bit each) cannot make the decoder allocate far more than
// the frame's size.
func TestAllocationBudget(t *testing.T) {
	f := Format{Version: 12, Tight: true}
	ci := &ConnectionInfo{ConnectionID: &ConnectionID{"c"}, BrokerPath: make([]*BrokerID, 0x7fff)}
	b, err := NewEncoder(f).Encode(nil, ci)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDecoder(f).Decode(b[4:]); !errors.Is(err, ErrLength) {
		t.Fatalf("%d-byte frame with %d null elements: %v", len(b), len(ci.BrokerPath), err)
	}
	ci.BrokerPath = ci.BrokerPath[:1000]
	b, _ = NewEncoder(f).Encode(nil, ci)
	if _, err := NewDecoder(f).Decode(b[4:]); err != nil {
		t.Fatalf("1000 null elements: %v", err)
	}
	// More booleans than the tight encoding's short length can count.
	var data []DataStructure
	for range 10000 {
		data = append(data, &Message{Type: TypeMessage})
	}
	if _, err := NewEncoder(f).Encode(nil, &DataArrayResponse{Data: data}); !errors.Is(err, ErrEncode) {
		t.Errorf("oversized boolean stream: %v", err)
	}
}

func TestEncodeMistakes(t *testing.T) {
	enc := NewEncoder(Format{Version: 12, Tight: true})
	for name, c := range map[string]DataStructure{
		"nil":                  nil,
		"typed nil":            (*Message)(nil),
		"destination type 0":   &ProducerInfo{Destination: &Destination{PhysicalName: "q"}},
		"message type 0":       &MessageDispatch{Message: &Message{}},
		"MessagePull in v1":    nil,
		"cached message field": &RemoveInfo{ObjectID: &Message{Type: TypeMessage}},
	} {
		if name == "MessagePull in v1" {
			if _, err := NewEncoder(Format{Version: 1}).Encode(nil, &MessagePull{}); !errors.Is(err, ErrEncode) {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if b, err := enc.Encode([]byte("x"), c); !errors.Is(err, ErrEncode) || string(b) != "x" {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
}
