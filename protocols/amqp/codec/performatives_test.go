package codec

import (
	"bytes"
	"reflect"
	"testing"
)

func desc(code byte) []byte { return cat(0x00, 0x53, code) }

func sym8(s string) []byte { return cat(0xa3, len(s), s) }
func str8(s string) []byte { return cat(0xa1, len(s), s) }

// perfVectors are frame bodies spelled by hand from part 2, section 2.7,
// and the structs they decode to. The encoder writes exactly these bytes
// (shortest encodings, trailing nulls elided).
var perfVectors = []struct {
	name    string
	p       Performative
	body    []byte
	payload []byte
}{
	{"open", &Open{ContainerID: "c", MaxFrameSize: 0xffffffff, ChannelMax: 0xffff},
		cat(desc(0x10), l8(0xc0, 1, str8("c"))), nil},
	{"open full", &Open{ContainerID: "c", Hostname: "h", MaxFrameSize: 512, ChannelMax: 7, IdleTimeOut: 30000,
		OfferedCapabilities: []Symbol{"ANONYMOUS-RELAY"}, Properties: Map{{Symbol("product"), "x"}}},
		cat(desc(0x10), l8(0xc0, 10, str8("c"), str8("h"), 0x70, 0, 0, 2, 0, 0x60, 0, 7, 0x70, 0, 0, 0x75, 0x30,
			0x40, 0x40, 0xe0, 18, 1, 0xa3, 15, "ANONYMOUS-RELAY", 0x40, l8(0xc1, 2, sym8("product"), str8("x")))), nil},
	{"begin", &Begin{NextOutgoingID: 1, IncomingWindow: 100, OutgoingWindow: 0x10000, HandleMax: 0xffffffff},
		cat(desc(0x11), l8(0xc0, 4, 0x40, 0x52, 1, 0x52, 100, 0x70, 0, 1, 0, 0)), nil},
	{"begin reply", &Begin{HasRemoteChannel: true, RemoteChannel: 3, IncomingWindow: 0, OutgoingWindow: 1, HandleMax: 15},
		cat(desc(0x11), l8(0xc0, 5, 0x60, 0, 3, 0x43, 0x43, 0x52, 1, 0x52, 15)), nil},
	{"attach", &Attach{Name: "a", Role: RoleReceiver, SndSettleMode: SndMixed,
		Source: &Source{Address: "q", ExpiryPolicy: ExpirySessionEnd}, Target: &Target{ExpiryPolicy: ExpirySessionEnd}},
		cat(desc(0x12), l8(0xc0, 7, str8("a"), 0x43, 0x41, 0x40, 0x40,
			desc(0x28), l8(0xc0, 1, str8("q")), desc(0x29), 0x45)), nil},
	{"attach sender", &Attach{Name: "s", Handle: 2, Role: RoleSender, SndSettleMode: SndSettled, RcvSettleMode: RcvSecond,
		Target:                  &Target{Address: "t", Durable: DurableUnsettledState, ExpiryPolicy: ExpiryNever, Capabilities: []Symbol{"queue"}},
		HasInitialDeliveryCount: true, MaxMessageSize: 1024},
		cat(desc(0x12), l8(0xc0, 11, str8("s"), 0x52, 2, 0x42, 0x50, 1, 0x50, 1, 0x40,
			desc(0x29), l8(0xc0, 7, str8("t"), 0x52, 2, sym8("never"), 0x40, 0x40, 0x40, 0xe0, 8, 1, 0xa3, 5, "queue"),
			0x40, 0x40, 0x43, 0x80, 0, 0, 0, 0, 0, 0, 4, 0)), nil},
	{"attach coordinator", &Attach{Name: "txn", Role: RoleSender, SndSettleMode: SndMixed,
		Source:      &Source{ExpiryPolicy: ExpirySessionEnd, Outcomes: []Symbol{OutcomeAccepted}},
		Coordinator: &Coordinator{Capabilities: []Symbol{TxnLocal}}, HasInitialDeliveryCount: true},
		cat(desc(0x12), l8(0xc0, 10, str8("txn"), 0x43, 0x42, 0x40, 0x40,
			desc(0x28), l8(0xc0, 10, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0xe0, 21, 1, 0xa3, 18, "amqp:accepted:list"),
			desc(0x30), l8(0xc0, 1, 0xe0, 26, 1, 0xa3, 23, "amqp:local-transactions"),
			0x40, 0x40, 0x43)), nil},
	{"attach selector", &Attach{Name: "r", Role: RoleReceiver, SndSettleMode: SndMixed,
		Source: &Source{Address: "q", ExpiryPolicy: ExpirySessionEnd, Filter: Map{SelectorFilter("a = 1"), NoLocalFilter()}},
		Target: &Target{ExpiryPolicy: ExpirySessionEnd}},
		cat(desc(0x12), l8(0xc0, 7, str8("r"), 0x43, 0x41, 0x40, 0x40,
			desc(0x28), l8(0xc0, 8, str8("q"), 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
				l8(0xc1, 4, sym8("jms-selector"), 0x00, 0x80, 0, 0, 0x46, 0x8c, 0, 0, 0, 4, str8("a = 1"),
					sym8("no-local"), 0x00, 0x80, 0, 0, 0x46, 0x8c, 0, 0, 0, 3, 0x45)),
			desc(0x29), 0x45)), nil},
	{"flow", &Flow{IncomingWindow: 2048, NextOutgoingID: 1, HasHandle: true, HasDeliveryCount: true,
		LinkCredit: 100, HasLinkCredit: true, Drain: true},
		cat(desc(0x13), l8(0xc0, 9, 0x40, 0x70, 0, 0, 8, 0, 0x52, 1, 0x43, 0x43, 0x43, 0x52, 100, 0x40, 0x41)), nil},
	{"flow session", &Flow{NextIncomingID: 5, HasNextIncomingID: true, IncomingWindow: 1, NextOutgoingID: 2, OutgoingWindow: 3, Echo: true},
		cat(desc(0x13), l8(0xc0, 10, 0x52, 5, 0x52, 1, 0x52, 2, 0x52, 3, 0x40, 0x40, 0x40, 0x40, 0x40, 0x41)), nil},
	{"transfer", &Transfer{HasDeliveryID: true, DeliveryTag: []byte{1}, HasMessageFormat: true, Settled: true, HasSettled: true},
		cat(desc(0x14), l8(0xc0, 5, 0x43, 0x43, 0xa0, 1, 1, 0x43, 0x41)), []byte("payload")},
	{"transfer continuation", &Transfer{Handle: 1, More: true},
		cat(desc(0x14), l8(0xc0, 6, 0x52, 1, 0x40, 0x40, 0x40, 0x40, 0x41)), []byte("more")},
	{"transfer transactional", &Transfer{Handle: 0, HasDeliveryID: true, DeliveryID: 9, DeliveryTag: []byte{}, HasRcvSettleMode: true, RcvSettleMode: RcvSecond,
		State: &TransactionalState{TxnID: []byte{0, 1}, Outcome: &Accepted{}}, Aborted: false, Batchable: true},
		cat(desc(0x14), l8(0xc0, 11, 0x43, 0x52, 9, 0xa0, 0, 0x40, 0x40, 0x40, 0x50, 1,
			desc(0x34), l8(0xc0, 2, 0xa0, 2, 0, 1, desc(0x24), 0x45), 0x40, 0x40, 0x41)), []byte{}},
	{"disposition", &Disposition{Role: RoleReceiver, Settled: true, State: &Accepted{}},
		cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x41, desc(0x24), 0x45)), nil},
	{"disposition range rejected", &Disposition{Role: RoleSender, First: 1, Last: 300,
		State: &Rejected{Error: &Error{Condition: CondNotAllowed, Description: "no"}}},
		cat(desc(0x15), l8(0xc0, 5, 0x42, 0x52, 1, 0x70, 0, 0, 1, 0x2c, 0x40,
			desc(0x25), l8(0xc0, 1, desc(0x1d), l8(0xc0, 2, sym8("amqp:not-allowed"), str8("no"))))), nil},
	{"disposition modified", &Disposition{Role: RoleReceiver, First: 4, Last: 4, Settled: true,
		State: &Modified{DeliveryFailed: true, MessageAnnotations: Map{{Symbol("x-opt-a"), int64(1)}}}},
		cat(desc(0x15), l8(0xc0, 5, 0x41, 0x52, 4, 0x40, 0x41,
			desc(0x27), l8(0xc0, 3, 0x41, 0x40, l8(0xc1, 2, sym8("x-opt-a"), 0x55, 1)))), nil},
	{"disposition released", &Disposition{Role: RoleReceiver, Settled: true, State: &Released{}},
		cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x41, desc(0x26), 0x45)), nil},
	{"disposition received", &Disposition{Role: RoleReceiver, State: &Received{SectionNumber: 2, SectionOffset: 10}},
		cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x40, desc(0x23), l8(0xc0, 2, 0x52, 2, 0x53, 10))), nil},
	{"disposition declared", &Disposition{Role: RoleReceiver, Settled: true, State: &Declared{TxnID: []byte("t1")}},
		cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x41, desc(0x33), l8(0xc0, 1, 0xa0, 2, "t1"))), nil},
	{"detach", &Detach{Handle: 1, Closed: true},
		cat(desc(0x16), l8(0xc0, 2, 0x52, 1, 0x41)), nil},
	{"detach error", &Detach{Handle: 0, Error: &Error{Condition: CondNotFound}},
		cat(desc(0x16), l8(0xc0, 3, 0x43, 0x40, desc(0x1d), l8(0xc0, 1, sym8("amqp:not-found")))), nil},
	{"end", &End{}, cat(desc(0x17), 0x45), nil},
	{"close", &Close{}, cat(desc(0x18), 0x45), nil},
	{"close error", &Close{Error: &Error{Condition: CondFramingError, Info: Map{{Symbol("k"), "v"}}}},
		cat(desc(0x18), l8(0xc0, 1, desc(0x1d), l8(0xc0, 3, sym8("amqp:connection:framing-error"), 0x40, l8(0xc1, 2, sym8("k"), str8("v"))))), nil},
	{"sasl-mechanisms", &SASLMechanisms{Mechanisms: []Symbol{"PLAIN", "ANONYMOUS"}},
		cat(desc(0x40), l8(0xc0, 1, 0xe0, 18, 2, 0xa3, 5, "PLAIN", 9, "ANONYMOUS")), nil},
	{"sasl-init", &SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00u\x00p"), Hostname: "h"},
		cat(desc(0x41), l8(0xc0, 3, sym8("PLAIN"), 0xa0, 4, "\x00u\x00p", str8("h"))), nil},
	{"sasl-challenge", &SASLChallenge{Challenge: []byte("c")}, cat(desc(0x42), l8(0xc0, 1, 0xa0, 1, "c")), nil},
	{"sasl-response", &SASLResponse{Response: []byte{}}, cat(desc(0x43), l8(0xc0, 1, 0xa0, 0)), nil},
	{"sasl-outcome", &SASLOutcome{Code: SASLAuth}, cat(desc(0x44), l8(0xc0, 1, 0x50, 1)), nil},
}

func TestPerformativeVectors(t *testing.T) {
	for _, tc := range perfVectors {
		t.Run(tc.name, func(t *testing.T) {
			body := cat(tc.body, tc.payload)
			p, payload, err := DecodePerformative(body)
			if err != nil {
				t.Fatalf("decode % x: %v", body, err)
			}
			if !reflect.DeepEqual(p, tc.p) {
				t.Fatalf("decode:\n got %#v\nwant %#v", p, tc.p)
			}
			if !bytes.Equal(payload, tc.payload) {
				t.Fatalf("payload %q, want %q", payload, tc.payload)
			}
			if enc := tc.p.AppendTo(nil); !bytes.Equal(enc, tc.body) {
				t.Fatalf("encode:\n got % x\nwant % x", enc, tc.body)
			}
			frame := AppendFrame([]byte{0xee}, 5, tc.p, tc.payload)[1:]
			h, fb, n, err := SplitFrame(frame, 0)
			if err != nil || n != len(frame) || h.Channel != 5 || h.DataOffset != 2 || h.Type != FrameType(tc.p) || !bytes.Equal(fb, body) {
				t.Fatalf("frame % x: %+v %d %v", frame, h, n, err)
			}
		})
	}
}

// TestSymbolicDescriptors: a peer may name a performative by its symbol.
func TestSymbolicDescriptors(t *testing.T) {
	body := cat(0x00, sym8("amqp:detach:list"), l8(0xc0, 2, 0x52, 1, 0x41))
	p, _, err := DecodePerformative(body)
	if err != nil || !reflect.DeepEqual(p, &Detach{Handle: 1, Closed: true}) {
		t.Fatalf("got %#v, %v", p, err)
	}
	src := &Source{Filter: Map{{Symbol("f"), Described{Symbol("apache.org:selector-filter:string"), "x > 1"}}}}
	if s, ok := src.Selector(); !ok || s != "x > 1" {
		t.Fatalf("Selector() = %q, %v", s, ok)
	}
	if src.NoLocal() {
		t.Fatal("NoLocal without the filter")
	}
}

// badPerformatives are frame bodies every receiver must refuse, with the
// condition it must give.
var badPerformatives = []struct {
	name string
	body []byte
	cond Symbol
}{
	{"empty", nil, CondDecodeError},
	{"not described", cat(0x45), CondDecodeError},
	{"unknown descriptor", cat(desc(0x70), 0x45), CondDecodeError},
	{"not a list", cat(desc(0x10), 0x40+0x01), CondDecodeError},
	{"open without container-id", cat(desc(0x10), 0x45), CondInvalidField},
	{"open container-id null", cat(desc(0x10), l8(0xc0, 1, 0x40)), CondInvalidField},
	{"open container-id not a string", cat(desc(0x10), l8(0xc0, 1, 0x43)), CondDecodeError},
	{"begin without windows", cat(desc(0x11), l8(0xc0, 2, 0x40, 0x43)), CondInvalidField},
	{"attach without role", cat(desc(0x12), l8(0xc0, 2, str8("a"), 0x43)), CondInvalidField},
	{"attach handle too big", cat(desc(0x12), l8(0xc0, 3, str8("a"), 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0x41)), CondDecodeError},
	{"attach source not a source", cat(desc(0x12), l8(0xc0, 6, str8("a"), 0x43, 0x41, 0x40, 0x40, desc(0x29), 0x45)), CondDecodeError},
	{"transfer without handle", cat(desc(0x14), 0x45), CondInvalidField},
	{"transfer unknown state", cat(desc(0x14), l8(0xc0, 8, 0x43, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, desc(0x50), 0x45)), CondInvalidField},
	{"disposition without first", cat(desc(0x15), l8(0xc0, 1, 0x41)), CondInvalidField},
	{"disposition last before first", cat(desc(0x15), l8(0xc0, 3, 0x41, 0x52, 5, 0x52, 4)), CondInvalidField},
	{"close followed by bytes", cat(desc(0x18), 0x45, 0x40), CondDecodeError},
	{"error without condition", cat(desc(0x18), l8(0xc0, 1, desc(0x1d), 0x45)), CondInvalidField},
	{"rejected error not an error", cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x41, desc(0x25), l8(0xc0, 1, desc(0x24), 0x45))), CondDecodeError},
	{"sasl-init without mechanism", cat(desc(0x41), 0x45), CondInvalidField},
	{"mechanisms not symbols", cat(desc(0x40), l8(0xc0, 1, 0xe0, 3, 1, 0x52, 1)), CondDecodeError},
	{"nested transactional state", cat(desc(0x15), l8(0xc0, 5, 0x41, 0x43, 0x40, 0x41,
		desc(0x34), l8(0xc0, 2, 0xa0, 0, desc(0x34), l8(0xc0, 1, 0xa0, 0)))), CondDecodeError},
}

func TestBadPerformatives(t *testing.T) {
	for _, tc := range badPerformatives {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := DecodePerformative(tc.body)
			e, ok := err.(*Error)
			if !ok || e.Condition != tc.cond {
				t.Fatalf("DecodePerformative(% x) = %#v, %v; want %s", tc.body, p, err, tc.cond)
			}
		})
	}
}

func TestTxnRequests(t *testing.T) {
	for _, tc := range []struct {
		v   Encoder
		enc []byte
	}{
		{&Declare{}, cat(desc(0x31), 0x45)},
		{&Discharge{TxnID: []byte("t"), Fail: true}, cat(desc(0x32), l8(0xc0, 2, 0xa0, 1, "t", 0x41))},
		{&Discharge{TxnID: []byte("t")}, cat(desc(0x32), l8(0xc0, 1, 0xa0, 1, "t"))},
	} {
		if enc := tc.v.AppendTo(nil); !bytes.Equal(enc, tc.enc) {
			t.Fatalf("%T: % x, want % x", tc.v, enc, tc.enc)
		}
		v, err := DecodeTxnRequest(tc.enc)
		if err != nil || !reflect.DeepEqual(v, tc.v) {
			t.Fatalf("decode % x = %#v, %v", tc.enc, v, err)
		}
	}
	if _, err := DecodeTxnRequest(cat(desc(0x32), 0x45)); err == nil {
		t.Fatal("discharge without txn-id decoded")
	}
}

func TestFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		max  uint32
	}{
		{"doff below 2", cat(0, 0, 0, 8, 1, 0, 0, 0), 0},
		{"size below header", cat(0, 0, 0, 7, 2, 0, 0, 0), 0},
		{"size below doff", cat(0, 0, 0, 12, 4, 0, 0, 0), 0},
		{"over max", cat(0, 0, 2, 1, 2, 0, 0, 0), 512},
		{"unknown type", cat(0, 0, 0, 8, 2, 9, 0, 0), 0},
	} {
		_, _, _, err := SplitFrame(tc.b, tc.max)
		if e, ok := err.(*Error); !ok || e.Condition != CondFramingError {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// An extended header is skipped; a partial frame asks for more.
	frame := cat(0, 0, 0, 14, 3, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0x40, 0x41)
	if _, _, n, err := SplitFrame(frame[:13], 0); n != 0 || err != nil {
		t.Fatalf("partial frame: %d %v", n, err)
	}
	h, body, n, err := SplitFrame(frame, 0)
	if err != nil || n != 14 || h.Channel != 1 || !bytes.Equal(body, []byte{0x40, 0x41}) {
		t.Fatalf("extended header: %+v % x %d %v", h, body, n, err)
	}
	var buf []byte
	r := bytes.NewReader(cat(frame, 0, 0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 9))
	if _, body, err := ReadFrame(r, 0, &buf); err != nil || !bytes.Equal(body, []byte{0x40, 0x41}) {
		t.Fatalf("ReadFrame: % x %v", body, err)
	}
	if _, body, err := ReadFrame(r, 0, &buf); err != nil || len(body) != 0 {
		t.Fatalf("ReadFrame empty frame: % x %v", body, err)
	}
	if _, _, err := ReadFrame(r, 0, &buf); err == nil {
		t.Fatal("ReadFrame of a truncated header")
	}
	// A frame claiming 4 GiB is refused before anything is allocated.
	if _, _, err := ReadFrame(bytes.NewReader(cat(0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0)), 1<<20, &buf); err == nil {
		t.Fatal("ReadFrame over max")
	}
	if id, err := ParseProtocolHeader([]byte("AMQP\x03\x01\x00\x00")); err != nil || id != ProtoSASL {
		t.Fatalf("SASL header: %d %v", id, err)
	}
	if _, err := ParseProtocolHeader([]byte("AMQP\x00\x00\x09\x01")); err == nil {
		t.Fatal("AMQP 0-9-1 header accepted")
	}
	if h := ProtocolHeader(ProtoAMQP); string(h[:]) != "AMQP\x00\x01\x00\x00" {
		t.Fatalf("header %q", h)
	}
}
