package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

func vname(v vector, version byte) string { return fmt.Sprintf("v%d/%s", version, v.name) }

// TestEncode encodes the decoded form of every canonical valid vector and
// expects exactly its bytes.
func TestEncode(t *testing.T) {
	for _, v := range vectors {
		if v.pkt == nil || v.decodeOnly {
			continue
		}
		for _, version := range v.vs {
			t.Run(vname(v, version), func(t *testing.T) {
				got, err := v.pkt.Append(nil, version)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if !bytes.Equal(got, v.raw) {
					t.Fatalf("Append:\n got % x\nwant % x", got, v.raw)
				}
				if n := v.pkt.Size(version); n != len(v.raw) {
					t.Errorf("Size = %d, want %d", n, len(v.raw))
				}
				// Append must append, leaving what dst held.
				prefix := []byte("prefix")
				got, err = v.pkt.Append(prefix, version)
				if err != nil || !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], v.raw) {
					t.Fatalf("Append after a prefix: % x, %v", got, err)
				}
			})
		}
	}
}

// TestDecode decodes every vector: valid ones must give the expected struct
// and consume every byte, failing ones the expected reason code.
func TestDecode(t *testing.T) {
	for _, v := range vectors {
		for _, version := range v.vs {
			t.Run(vname(v, version), func(t *testing.T) {
				p, n, err := DecodePacket(v.raw, version)
				if v.pkt == nil {
					if err == nil {
						t.Fatalf("decoded %#v, want an error with code %v", p, v.code)
					}
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("error %v is not an *Error", err)
					}
					if e.Code != v.code {
						t.Fatalf("error %q has code %v, want %v", err, e.Code, v.code)
					}
					return
				}
				if err != nil {
					t.Fatalf("DecodePacket: %v", err)
				}
				if n != len(v.raw) {
					t.Errorf("consumed %d bytes, want %d", n, len(v.raw))
				}
				if !reflect.DeepEqual(p, v.pkt) {
					t.Fatalf("decoded\n %#v\nwant\n %#v", p, v.pkt)
				}
			})
		}
	}
}

// TestDecodeReused decodes each valid vector into a struct that already
// holds another packet of the same type: nothing of the old value may leak.
func TestDecodeReused(t *testing.T) {
	structs := map[Type]Packet{}
	for _, v := range vectors {
		if v.pkt == nil {
			continue
		}
		for _, version := range v.vs {
			fh, hl, err := ParseFixedHeader(v.raw)
			if err != nil {
				t.Fatal(err)
			}
			p := structs[fh.Type]
			if p == nil {
				p = New(fh.Type)
				structs[fh.Type] = p
			}
			if err := p.Decode(fh.Flags, v.raw[hl:], version); err != nil {
				t.Fatalf("%s: %v", vname(v, version), err)
			}
			if got, want := normalize(p), normalize(v.pkt); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: decoded into a used struct\n %#v\nwant\n %#v", vname(v, version), got, want)
			}
		}
	}
}

// normalize re-encodes and re-decodes p into a fresh struct, so that slices
// emptied in place compare equal to nil ones.
func normalize(p Packet) Packet {
	version := Version5
	if c, ok := p.(*Connect); ok {
		version = c.Version
	}
	raw, err := p.Append(nil, version)
	if err != nil {
		// Some packets only exist before 5.0 in this form; try 3.1.1.
		if raw, err = p.Append(nil, Version311); err != nil {
			return p
		}
		version = Version311
	}
	q, _, err := DecodePacket(raw, version)
	if err != nil {
		return p
	}
	return q
}

// TestReaderVectors streams every valid vector of a version back to back,
// one byte per Read, through a Reader.
func TestReaderVectors(t *testing.T) {
	for _, version := range v345 {
		var stream []byte
		var want []Packet
		for _, v := range vectors {
			if v.pkt == nil || !bytes.Contains(v.vs, []byte{version}) {
				continue
			}
			stream = append(stream, v.raw...)
			want = append(want, v.pkt)
		}
		for _, mode := range []string{"one-byte", "half", "whole"} {
			t.Run(fmt.Sprintf("v%d/%s", version, mode), func(t *testing.T) {
				var r io.Reader = bytes.NewReader(stream)
				switch mode {
				case "one-byte":
					r = iotest.OneByteReader(r)
				case "half":
					r = iotest.HalfReader(r)
				}
				pr := NewReader(r, 0)
				for i, w := range want {
					fh, body, err := pr.ReadPacket()
					if err != nil {
						t.Fatalf("packet %d: %v", i, err)
					}
					p, err := Decode(fh, body, version)
					if err != nil {
						t.Fatalf("packet %d: %v", i, err)
					}
					if !reflect.DeepEqual(p, w) {
						t.Fatalf("packet %d:\n %#v\nwant\n %#v", i, p, w)
					}
				}
				if _, _, err := pr.ReadPacket(); err != io.EOF {
					t.Fatalf("after the last packet: %v, want io.EOF", err)
				}
			})
		}
	}
}

func TestDecodePacketIncomplete(t *testing.T) {
	for _, raw := range [][]byte{{}, {0x30}, {0x30, 0x80}, {0x30, 0x05, 0, 3, 'a'}} {
		if _, _, err := DecodePacket(raw, Version311); err != ErrIncomplete {
			t.Errorf("DecodePacket(% x) = %v, want ErrIncomplete", raw, err)
		}
	}
}

func TestDecodeRejectsUnknownVersion(t *testing.T) {
	for _, version := range []byte{0, 2, 6} {
		_, _, err := DecodePacket([]byte{0x40, 0x02, 0x00, 0x01}, version)
		if CodeOf(err) != UnsupportedProtocolVersion {
			t.Errorf("version %d: %v, want Unsupported Protocol Version", version, err)
		}
		if _, err := (&Puback{PacketID: 1}).Append(nil, version); CodeOf(err) != UnsupportedProtocolVersion {
			t.Errorf("encode version %d: %v, want Unsupported Protocol Version", version, err)
		}
	}
}

// TestConnectVersionAfterError: the server needs the protocol level to pick
// the CONNACK format for a CONNECT it refuses [MQTT-3.1.2-2].
func TestConnectVersionAfterError(t *testing.T) {
	var c Connect
	raw := h(0x0F, 0, 4, "MQTT", 6, 0x02, 0, 60, 0, 3, "abc")
	err := c.Decode(0, raw[1:], 0)
	if CodeOf(err) != UnsupportedProtocolVersion || c.Version != 6 {
		t.Fatalf("err %v, Version %d; want Unsupported Protocol Version and 6", err, c.Version)
	}
}

// TestRemainingLength checks the boundaries of spec table 1.5.5 (Size of
// Variable Byte Integer) in both directions.
func TestRemainingLength(t *testing.T) {
	cases := []struct {
		raw []byte
		n   int
	}{
		{[]byte{0x00}, 0},
		{[]byte{0x7F}, 127},
		{[]byte{0x80, 0x01}, 128},
		{[]byte{0xFF, 0x7F}, 16_383},
		{[]byte{0x80, 0x80, 0x01}, 16_384},
		{[]byte{0xFF, 0xFF, 0x7F}, 2_097_151},
		{[]byte{0x80, 0x80, 0x80, 0x01}, 2_097_152},
		{[]byte{0xFF, 0xFF, 0xFF, 0x7F}, 268_435_455},
	}
	for _, c := range cases {
		fh, hl, err := ParseFixedHeader(append([]byte{0x30}, c.raw...))
		if err != nil || fh.Remaining != c.n || hl != 1+len(c.raw) || fh.Type != PUBLISH {
			t.Errorf("ParseFixedHeader(% x) = %+v, %d, %v; want %d", c.raw, fh, hl, err, c.n)
		}
		if got := appendVarint(nil, uint32(c.n)); !bytes.Equal(got, c.raw) {
			t.Errorf("appendVarint(%d) = % x, want % x", c.n, got, c.raw)
		}
		if varintLen(c.n) != len(c.raw) {
			t.Errorf("varintLen(%d) = %d, want %d", c.n, varintLen(c.n), len(c.raw))
		}
	}
}

// TestEncodeErrors: the encoders refuse what would be a malformed packet.
func TestEncodeErrors(t *testing.T) {
	long := string(make([]byte, 65536))
	cases := []struct {
		name    string
		p       Packet
		version byte
		code    ReasonCode
	}{
		{"PUBLISH QoS 3", &Publish{QoS: 3, Topic: []byte("t"), PacketID: 1}, 4, MalformedPacket},
		{"PUBLISH QoS 1 without packet id", &Publish{QoS: 1, Topic: []byte("t")}, 4, ProtocolError},
		{"PUBLISH topic over 65535 bytes", &Publish{Topic: []byte(long)}, 4, MalformedPacket},
		{"PUBLISH payload over the remaining length limit", &Publish{Topic: []byte("t"), Payload: make([]byte, MaxRemainingLength)}, 4, PacketTooLarge},
		{"PUBLISH user property over 65535 bytes", &Publish{Topic: []byte("t"), Properties: Properties{User: []UserProperty{{long, ""}}}}, 5, MalformedPacket},
		{"PUBLISH Subscription Identifier 0", &Publish{Topic: []byte("t"), Properties: Properties{SubscriptionIDs: []uint32{0}}}, 5, MalformedPacket},
		{"SUBSCRIBE without filters", &Subscribe{PacketID: 1}, 4, ProtocolError},
		{"UNSUBSCRIBE without packet id", &Unsubscribe{Filters: []string{"a"}}, 4, ProtocolError},
		{"CONNECT password without user name", &Connect{Version: 4, HasPassword: true}, 4, MalformedPacket},
		{"AUTH in 3.1.1", &Auth{}, 4, MalformedPacket},
		{"PUBACK without packet id", &Puback{}, 5, ProtocolError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := c.p.Append(dst, c.version)
			if CodeOf(err) != c.code {
				t.Fatalf("Append error %v, want code %v", err, c.code)
			}
			if !bytes.Equal(got, []byte("keep")) {
				t.Fatalf("Append changed dst on error: %q", got)
			}
			if c.p.Size(c.version) != 0 {
				t.Fatalf("Size = %d for a packet that cannot be encoded", c.p.Size(c.version))
			}
		})
	}
}

// TestEncodeSkipsDisallowedProperties: a property set on a struct but not
// allowed in the packet is left out rather than producing a Malformed Packet.
func TestEncodeSkipsDisallowedProperties(t *testing.T) {
	p := &Puback{PacketID: 1, Properties: Properties{
		Present: set(PropContentType, PropReasonString), ContentType: "x", ReasonString: "e"}}
	got, err := p.Append(nil, Version5)
	want := h(0x40, 0x08, 0x00, 0x01, 0x00, 4, 0x1F, 0, 1, "e")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Append = % x, %v; want % x", got, err, want)
	}
	// Properties are not encoded at all before 5.0.
	got, err = (&Publish{Topic: []byte("t"), Properties: Properties{Present: set(PropTopicAlias), TopicAlias: 1}}).Append(nil, Version311)
	if want := h(0x30, 0x03, 0, 1, "t"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("3.1.1 Append = % x, %v; want % x", got, err, want)
	}
}

// TestDecodeAliasesBody documents the aliasing contract: []byte fields point
// into the decoded body, string fields do not.
func TestDecodeAliasesBody(t *testing.T) {
	raw := h(0x32, 0x14, 0, 1, "t", 0, 1, 11, 0x09, 0, 2, "cd", 0x26, 0, 1, "k", 0, 0, "pay")
	var p Publish
	if err := p.Decode(raw[0]&0x0f, raw[2:], Version5); err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = 'X'
	}
	if string(p.Topic) != "X" || string(p.Payload) != "XXX" || string(p.Properties.CorrelationData) != "XX" {
		t.Errorf("[]byte fields do not alias the body: %q %q %q", p.Topic, p.Payload, p.Properties.CorrelationData)
	}
	if p.Properties.User[0].Key != "k" {
		t.Errorf("string field changed with the body: %q", p.Properties.User[0].Key)
	}
}

func TestReasonCodeNames(t *testing.T) {
	if MalformedPacket.String() != "Malformed Packet" || ReasonCode(0x03).String() != "reason code 0x3" {
		t.Fatal(MalformedPacket.String(), ReasonCode(0x03).String())
	}
	err := error(malformed("x"))
	if err.Error() != "mqtt: Malformed Packet: x" || CodeOf(err) != MalformedPacket || CodeOf(io.EOF) != UnspecifiedError {
		t.Fatal(err, CodeOf(err))
	}
	for rc, want := range map[ReasonCode]ReasonCode{
		Success: ConnAccepted, UnsupportedProtocolVersion: ConnRefusedProtocolVersion,
		ClientIdentifierNotValid: ConnRefusedIdentifierRejected, BadUserNameOrPassword: ConnRefusedBadUserNameOrPassword,
		NotAuthorized: ConnRefusedNotAuthorized, Banned: ConnRefusedNotAuthorized, ServerBusy: ConnRefusedServerUnavailable,
	} {
		if got := ConnackCodeV4(rc); got != want {
			t.Errorf("ConnackCodeV4(%v) = %d, want %d", rc, got, want)
		}
	}
}

func TestNewTypes(t *testing.T) {
	if New(0) != nil {
		t.Fatal("New(0) is not nil")
	}
	for ty := CONNECT; ty <= AUTH; ty++ {
		p := New(ty)
		if p == nil || p.Type() != ty {
			t.Fatalf("New(%v) = %#v", ty, p)
		}
		if ty.String() == "" || Type(16).String() != "type 16" {
			t.Fatal("Type.String")
		}
	}
	if !NotAuthorized.IsError() || GrantedQoS2.IsError() {
		t.Fatal("IsError")
	}
}
