package wire

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The fast path (fast.go) must be indistinguishable from the table path:
// same values decoded, same errors, same bytes encoded, same cache state
// afterwards. These tests run both on the same input and compare.

func slowDecoder(f Format) *Decoder {
	d := NewDecoder(f)
	d.slow = true
	return d
}

func slowEncoder(f Format) *Encoder {
	e := NewEncoder(f)
	e.slow = true
	return e
}

// sameDecode decodes frame with both decoders and fails unless they agree.
func sameDecode(t testing.TB, fast, slow *Decoder, frame []byte) (Command, error) {
	t.Helper()
	c1, err1 := fast.Decode(frame)
	c2, err2 := slow.Decode(frame)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("fast error %v, table error %v on %x", err1, err2, frame)
	}
	if err1 != nil {
		if !reflect.DeepEqual(err1, err2) {
			t.Fatalf("fast error %#v, table error %#v on %x", err1, err2, frame)
		}
		return nil, err1
	}
	if !reflect.DeepEqual(c1, c2) {
		t.Fatalf("%s: fast decodes to\n%s\ntable to\n%s", TypeName(c1.DataType()), dump(c1), dump(c2))
	}
	return c1, nil
}

// sameEncode encodes c with both encoders and fails unless they agree.
func sameEncode(t testing.TB, fast, slow *Encoder, c DataStructure) []byte {
	t.Helper()
	b1, err1 := fast.Encode(nil, c)
	b2, err2 := slow.Encode(nil, c)
	if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
		t.Fatalf("%s: fast error %v, table error %v", TypeName(c.DataType()), err1, err2)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("%s: fast encodes to\n%x\ntable to\n%x", TypeName(c.DataType()), b1, b2)
	}
	return b1
}

// TestFastFixtures runs every frame the real Java client sent through both
// decoders, and re-encodes each command through both encoders, expecting
// the client's own bytes.
func TestFastFixtures(t *testing.T) {
	fastFrames := 0
	for _, cc := range captureCases {
		t.Run(cc.name, func(t *testing.T) {
			b, err := os.ReadFile(fixturePath(cc.name))
			if err != nil {
				t.Fatal(err)
			}
			c := decodeCapture(t, b)
			f := c.n.Format
			fast, slow := NewDecoder(f), slowDecoder(f)
			fe, se := NewEncoder(f), slowEncoder(f)
			for i, fr := range c.frames[1:] {
				if f.Version >= fastMinVersion && fastTypes[fr[0]] {
					// The client's hot commands must take the fast path,
					// not fall back to the table.
					probe := &Decoder{f: f, cache: append([]cacheSlot(nil), fast.cache...)}
					if _, ok := probe.decodeFast(fr); !ok {
						t.Errorf("frame %d (%s) fell back to the table path", i+1, TypeName(fr[0]))
					}
					fastFrames++
				}
				cmd, err := sameDecode(t, fast, slow, fr)
				if err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				got := sameEncode(t, fe, se, cmd)
				if !bytes.Equal(got[4:], fr) {
					t.Fatalf("frame %d (%s) re-encodes differently:\n got %x\nwant %x", i+1, TypeName(fr[0]), got[4:], fr)
				}
			}
		})
	}
	if fastFrames < 20 {
		t.Errorf("only %d fixture frames exercised the fast path", fastFrames)
	}
}

// TestFastGoldenEcho encodes and decodes the sample of every type (whose
// arrays and nested objects send the hot types to the table path) through
// both paths in every version the fast path serves.
func TestFastGoldenEcho(t *testing.T) {
	for _, f := range allFormats() {
		if f.Version < fastMinVersion {
			continue
		}
		fe, se := NewEncoder(f), slowEncoder(f)
		fd, sd := NewDecoder(f), slowDecoder(f)
		for _, c := range sampleAll(f.Version, f.StackTrace) {
			b := sameEncode(t, fe, se, c)
			if !IsCommand(c.DataType()) {
				// Keep both decoders' caches in step with the encoders'.
				_, _ = decodeAny(fd, b[4:])
				_, _ = decodeAny(sd, b[4:])
				continue
			}
			if _, err := sameDecode(t, fd, sd, b[4:]); err != nil {
				t.Fatalf("%+v: %s: %v", f, TypeName(c.DataType()), err)
			}
		}
	}
}

// TestFastRandom builds hot commands of random shape (present and absent
// fields, transactions local and XA, non-ASCII and over-long strings,
// arrays, exceptions), encodes and decodes them through both paths with a
// small cache that keeps evicting, and expects the paths to agree and the
// value to survive.
func TestFastRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for _, f := range []Format{
		{Version: 12, Tight: true, Cache: true, CacheSize: 5, StackTrace: true},
		{Version: 12, Cache: true, CacheSize: 3, StackTrace: true},
		{Version: 12, Tight: true},
		{Version: 11},
		{Version: 10, Tight: true, Cache: true, CacheSize: 7},
	} {
		fe, se := NewEncoder(f), slowEncoder(f)
		fd, sd := NewDecoder(f), slowDecoder(f)
		fast := 0
		for range n {
			c := randHot(r)
			if fastEncodable(c) {
				fast++
			}
			b := sameEncode(t, fe, se, c)
			if b == nil {
				continue
			}
			got, err := sameDecode(t, fd, sd, b[4:])
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			// Round trip: equal to what was sent, once nulls are read back
			// as "" and typed nils as nil.
			again := sameEncode(t, NewEncoder(Format{Version: f.Version}), slowEncoder(Format{Version: f.Version}), got)
			want, _ := NewEncoder(Format{Version: f.Version}).Encode(nil, c)
			if !bytes.Equal(again, want) {
				t.Fatalf("%+v: %s does not survive the round trip", f, TypeName(c.DataType()))
			}
		}
		if fast < n/2 {
			t.Errorf("%+v: only %d of %d commands were fast-encodable", f, fast, n)
		}
	}
}

func randHot(r *rand.Rand) Command {
	str := func() string {
		switch r.IntN(8) {
		case 0, 1, 2:
			return ""
		case 3:
			return "caf\u00e9 \U0001D11E \x00"
		case 4:
			if r.IntN(20) == 0 {
				return strings.Repeat("\u20ac", maxFastString/3+r.IntN(3000))
			}
			return strings.Repeat("x", r.IntN(300))
		}
		return "ID:host-" + string(rune('a'+r.IntN(26)))
	}
	long := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return int64(r.IntN(1 << 16))
		case 2:
			return int64(r.Uint32())
		}
		return int64(r.Uint64())
	}
	maybe := func() bool { return r.IntN(3) != 0 }
	pid := func() *ProducerID {
		if !maybe() {
			return nil
		}
		return &ProducerID{ConnectionID: str(), Value: long() % 3, SessionID: long() % 2}
	}
	cid := func() *ConsumerID {
		if !maybe() {
			return nil
		}
		return &ConsumerID{ConnectionID: str(), SessionID: long() % 2, Value: long() % 3}
	}
	dest := func() *Destination {
		if !maybe() {
			return nil
		}
		return &Destination{Type: TypeQueue + byte(r.IntN(4)), PhysicalName: str()}
	}
	tx := func() TransactionID {
		switch r.IntN(5) {
		case 0:
			return &XATransactionID{FormatID: 1, GlobalTransactionID: []byte{1}, BranchQualifier: []byte{2}}
		case 1, 2:
			lt := &LocalTransactionID{Value: long() % 4}
			if maybe() {
				lt.ConnectionID = &ConnectionID{Value: str()}
			}
			return lt
		}
		return nil
	}
	mid := func() *MessageID {
		if !maybe() {
			return nil
		}
		return &MessageID{TextView: str(), ProducerID: pid(), ProducerSequenceID: long(), BrokerSequenceID: long()}
	}
	bs := func() []byte {
		if !maybe() {
			return nil
		}
		return bytes.Repeat([]byte{byte(r.IntN(256))}, r.IntN(200))
	}
	rare := r.IntN(10) == 0
	msg := func() *Message {
		m := &Message{Type: TypeMessage + byte(r.IntN(6)), ProducerID: pid(), Destination: dest(), TransactionID: tx(),
			OriginalDestination: dest(), MessageID: mid(), OriginalTransactionID: tx(), GroupID: str(),
			GroupSequence: r.Int32(), CorrelationID: str(), Persistent: maybe(), Expiration: long(),
			Priority: int8(r.IntN(10)), ReplyTo: dest(), Timestamp: long(), JMSType: str(), Content: bs(),
			MarshalledProperties: bs(), TargetConsumerID: cid(), Compressed: maybe(), RedeliveryCounter: r.Int32(),
			Arrival: long(), UserID: str(), ReceivedByDFBridge: maybe(), Droppable: maybe(), BrokerInTime: long(),
			BrokerOutTime: long(), JMSXGroupFirstForConsumer: maybe()}
		m.CommandID, m.ResponseRequired = r.Int32(), maybe()
		if rare {
			switch r.IntN(3) {
			case 0:
				m.BrokerPath = []*BrokerID{{Value: "b"}}
			case 1:
				m.DataStructure = &ConsumerInfo{ConsumerID: cid()}
			default:
				m.Cluster = []*BrokerID{}
			}
		}
		return m
	}
	base := BaseCommand{CommandID: r.Int32(), ResponseRequired: maybe()}
	switch r.IntN(6) {
	case 0:
		return msg()
	case 1, 2:
		d := &MessageDispatch{BaseCommand: base, ConsumerID: cid(), Destination: dest(), RedeliveryCounter: r.Int32()}
		if r.IntN(8) != 0 {
			d.Message = msg()
		}
		return d
	case 3:
		a := &MessageAck{BaseCommand: base, Destination: dest(), TransactionID: tx(), ConsumerID: cid(),
			AckType: int8(r.IntN(7)), FirstMessageID: mid(), LastMessageID: mid(), MessageCount: r.Int32()}
		if rare {
			a.PoisonCause = &Throwable{Class: "java.lang.Exception", Message: str()}
		}
		return a
	case 4:
		return &ProducerAck{BaseCommand: base, ProducerID: pid(), Size: r.Int32()}
	}
	if maybe() {
		return &Response{BaseCommand: base, CorrelationID: r.Int32()}
	}
	return &KeepAliveInfo{BaseCommand: base}
}

// FuzzFastDecode feeds the same frames to a fast and a table decoder, in a
// format chosen by the first byte (version 10-12): both must agree on
// success, value and error, frame after frame (so their caches stay equal).
func FuzzFastDecode(f *testing.F) {
	for _, cc := range captureCases {
		b, err := os.ReadFile(fixturePath(cc.name))
		if err != nil {
			f.Fatal(err)
		}
		c := decodeCapture(f, b)
		if c.n.Format.Version < fastMinVersion {
			continue
		}
		rest := b[4+len(c.frames[0]):]
		f.Add(append([]byte{fastFuzzByte(c.n.Format)}, rest[:min(len(rest), 8192)]...))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, fm := range []Format{{Version: 12, Tight: true, Cache: true, CacheSize: 64}, {Version: 12, Cache: true, CacheSize: 64}, {Version: 11, Tight: true}} {
		enc := NewEncoder(fm)
		var in []byte
		for range 12 {
			in, _ = enc.Encode(in, randHot(r))
		}
		f.Add(append([]byte{fastFuzzByte(fm)}, in...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		fm := fuzzFormat(in[0])
		fm.Version = fastMinVersion + fm.Version%(MaxVersion-fastMinVersion+1)
		frames, _ := splitFramesErr(in[1:])
		fast, slow := NewDecoder(fm), slowDecoder(fm)
		for _, fr := range frames {
			if len(fr) == 0 {
				continue
			}
			_, _ = sameDecode(t, fast, slow, fr)
		}
	})
}

// fastFuzzByte is formatByte for FuzzFastDecode's version mapping.
func fastFuzzByte(f Format) byte {
	g := f
	g.Version = f.Version - fastMinVersion + 1
	return formatByte(g)
}

// A JMS TextMessage of 100 characters as the broker dispatches it to a
// consumer, and as the producer sent it, in the client's default format.
func bench100() *MessageDispatch {
	md := benchMessage()
	md.Message.MarshalledProperties = nil
	md.Message.Content = AppendText(nil, strings.Repeat("x", 100))
	return md
}

var defaultFormat = Format{Version: 12, Tight: true, Cache: true, CacheSize: 1024, StackTrace: true}

func BenchmarkEncodeDispatch100(b *testing.B) {
	for _, path := range []string{"table", "fast"} {
		b.Run(path, func(b *testing.B) {
			enc := NewEncoder(defaultFormat)
			enc.slow = path == "table"
			md := bench100()
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = enc.Encode(buf[:0], md); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkDecodeDispatch100(b *testing.B) {
	for _, path := range []string{"table", "fast"} {
		b.Run(path, func(b *testing.B) {
			enc := NewEncoder(defaultFormat)
			md := bench100()
			first, _ := enc.Encode(nil, md)
			again, _ := enc.Encode(nil, md) // ids by cache reference, as in a stream
			dec := NewDecoder(defaultFormat)
			dec.slow = path == "table"
			if _, err := dec.Decode(first[4:]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(again)))
			for b.Loop() {
				if _, err := dec.Decode(again[4:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeSend100 is the producer's side: a TextMessage frame.
func BenchmarkDecodeSend100(b *testing.B) {
	for _, path := range []string{"table", "fast"} {
		b.Run(path, func(b *testing.B) {
			enc := NewEncoder(defaultFormat)
			m := bench100().Message
			m.ResponseRequired = true
			first, _ := enc.Encode(nil, m)
			again, _ := enc.Encode(nil, m)
			dec := NewDecoder(defaultFormat)
			dec.slow = path == "table"
			if _, err := dec.Decode(first[4:]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(again)))
			for b.Loop() {
				if _, err := dec.Decode(again[4:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestIsASCII(t *testing.T) {
	naive := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 || s[i] >= 0x80 {
				return false
			}
		}
		return true
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(1 + r.IntN(127))
		}
		if len(b) > 0 && r.IntN(2) == 0 {
			b[r.IntN(len(b))] = []byte{0, 0x80, 0xff, 0x7f, 1}[r.IntN(5)]
		}
		if got, want := isASCII(string(b)), naive(string(b)); got != want {
			t.Fatalf("isASCII(%x) = %v", b, got)
		}
	}
}

// FuzzTextBytes checks the byte-slice text helpers against the string ones.
func FuzzTextBytes(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "caf\u00e9", "\x00nul", "\U0001D11E", "\xff\xfe bad utf-8", strings.Repeat("x", 100)} {
		f.Add([]byte(s))
		f.Add(AppendText(nil, s))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 9, 'a'})
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := AppendTextBytes([]byte{1}, in), AppendText([]byte{1}, string(in)); !bytes.Equal(got, want) {
			t.Fatalf("AppendTextBytes(%q) = %x, AppendText %x", in, got, want)
		}
		s, null, err := DecodeText(in)
		b, null2, err2 := DecodeTextBytes(in)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || null != null2 {
			t.Fatalf("DecodeTextBytes(%x): %v %v, DecodeText %v %v", in, null2, err2, null, err)
		}
		if err == nil && string(b) != s {
			t.Fatalf("DecodeTextBytes(%x) = %q, DecodeText %q", in, b, s)
		}
		if null2 && b != nil {
			t.Fatalf("null text as %q", b)
		}
	})
}

// TestReadBuffered reads the same streams through a buffered reader (frames
// decoded in its buffer, or, when larger than it, through ReadFrame) and a
// plain one, whole and cut short at every length: same commands, same
// errors.
func TestReadBuffered(t *testing.T) {
	f := Format{Version: 12, Tight: true, Cache: true, CacheSize: 16, MaxFrameSize: 1 << 16}
	enc := NewEncoder(f)
	r := rand.New(rand.NewPCG(7, 8))
	var stream []byte
	for range 40 {
		stream, _ = enc.Encode(stream, randHot(r))
	}
	stream = append(stream, 0, 0, 0, 9, TypeKeepAliveInfo, 1, 2) // truncated frame
	for _, cut := range []int{len(stream), len(stream) - 3, len(stream) - 7, len(stream) - 8, len(stream) - 9} {
		for _, bufSize := range []int{16, 256, 64 << 10} {
			in := stream[:cut]
			plain, buffered := NewDecoder(f), NewDecoder(f)
			pr := bytes.NewReader(in)
			br := bufio.NewReaderSize(bytes.NewReader(in), bufSize)
			// All read before any is compared: a decoded command that
			// still pointed into the reader's buffer would have changed.
			var got1, got2 []Command
			var err1, err2 error
			for err1 == nil {
				var c Command
				if c, err1 = plain.ReadCommand(pr); err1 == nil {
					got1 = append(got1, c)
				}
			}
			for err2 == nil {
				var c Command
				if c, err2 = buffered.ReadCommand(br); err2 == nil {
					got2 = append(got2, c)
				}
			}
			if !reflect.DeepEqual(err1, err2) || !reflect.DeepEqual(got1, got2) || len(got1) < 39 {
				t.Fatalf("cut %d buffer %d: plain %d commands then %v, buffered %d then %v", cut, bufSize, len(got1), err1, len(got2), err2)
			}
			if err1 == io.EOF && cut != len(stream)-7 {
				t.Fatalf("cut %d: clean EOF inside a frame", cut)
			}
		}
	}
	// A bad size prefix is refused the same way too.
	for _, pfx := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0, 2, 0, 0}} {
		_, err1 := NewDecoder(f).ReadCommand(bytes.NewReader(pfx))
		_, err2 := NewDecoder(f).ReadCommand(bufio.NewReader(bytes.NewReader(pfx)))
		if err1 == nil || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("prefix %x: plain %v, buffered %v", pfx, err1, err2)
		}
	}
}
