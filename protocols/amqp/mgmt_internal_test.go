package amqp

import (
	"bytes"
	"testing"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// request encodes a management request as a client sends it.
func request(op string, body any) []byte {
	var b []byte
	b = codec.AppendDescriptor(b, codec.DescProperties)
	b = codec.AppendList(b, codec.List{"id-1", nil, nil, nil, "cbs-reply-to-1"})
	b = codec.AppendDescriptor(b, codec.DescApplicationProperties)
	b = codec.AppendMap(b, codec.Map{{Key: "operation", Value: op}})
	b = codec.AppendDescriptor(b, codec.DescAMQPValue)
	return codec.AppendValue(b, body)
}

func TestDecodeRequest(t *testing.T) {
	r, err := decodeRequest(request(opRenewLock, codec.Map{{Key: "lock-tokens", Value: codec.Array{codec.UUID{1}}}}))
	if err != nil {
		t.Fatal(err)
	}
	if r.messageID != "id-1" || r.replyTo != "cbs-reply-to-1" || r.props["operation"] != opRenewLock {
		t.Fatalf("decoded %+v", r)
	}
	if toks, ok := r.lockTokens(); !ok || len(toks) != 1 || toks[0] != (codec.UUID{1}) {
		t.Fatalf("lock tokens %v %v", toks, ok)
	}
	if _, err := decodeRequest(nil); err == nil {
		t.Fatal("a request without a message-id decoded")
	}
}

// A lock token is the delivery tag as the SDKs turn it into a uuid (the
// first three groups byte-swapped, .NET's GUID order); lockOf undoes it.
func TestLockTokenRoundTrip(t *testing.T) {
	sl := &sbLink{lockID: 7}
	tag := sl.lockTag(0x0102030405060708)
	var u codec.UUID
	copy(u[:], tag)
	u[0], u[3] = u[3], u[0]
	u[1], u[2] = u[2], u[1]
	u[4], u[5] = u[5], u[4]
	u[6], u[7] = u[7], u[6]
	if coreTag, id := lockOf(u); coreTag != 0x0102030405060708 || id != 7 {
		t.Fatalf("lockOf: %x %d", coreTag, id)
	}
}

// withAnnotations adds to an existing message-annotations section, or
// makes one in its place in the section order.
func TestWithAnnotations(t *testing.T) {
	add := codec.Map{{Key: codec.Symbol("x-opt-sequence-number"), Value: int64(9)}}
	var noAnn []byte
	noAnn = codec.AppendDescriptor(noAnn, codec.DescProperties)
	noAnn = codec.AppendList(noAnn, codec.List{"m"})
	noAnn = codec.AppendDescriptor(noAnn, codec.DescData)
	noAnn = codec.AppendValue(noAnn, []byte("body"))
	out, err := withAnnotations(noAnn, add)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = codec.AppendDescriptor(want, codec.DescMessageAnnotations)
	want = codec.AppendMap(want, add)
	want = append(want, noAnn...)
	if !bytes.Equal(out, want) {
		t.Fatalf("got % x\nwant % x", out, want)
	}
	again, err := withAnnotations(out, codec.Map{{Key: codec.Symbol("x-b"), Value: true}})
	if err != nil {
		t.Fatal(err)
	}
	d := codec.NewDecoder(again)
	if _, _, err := d.ReadDescriptor(); err != nil {
		t.Fatal(err)
	}
	v, err := d.ReadValue()
	if m, ok := v.(codec.Map); err != nil || !ok || len(m) != 2 {
		t.Fatalf("merged annotations %v %v", v, err)
	}
}

// Management requests and peeked messages are decoded from client bytes:
// nothing may panic, whatever they hold.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(request(opPutToken, "SharedAccessSignature sr=a&sig=b&se=1&skn=c"))
	f.Add(request(opRenewLock, codec.Map{{Key: "lock-tokens", Value: codec.Array{codec.UUID{1}, codec.UUID{2}}}}))
	f.Add(request(opPeek, codec.Map{{Key: "from-sequence-number", Value: int64(1)}, {Key: "message-count", Value: int32(5)}}))
	f.Add(request(opSchedule, codec.Map{{Key: "messages", Value: codec.List{codec.Map{{Key: "message", Value: []byte{0, 0x53, 0x77, 0xa1, 1, 'x'}}}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err == nil {
			_, _ = r.lockTokens()
			_ = r.field("messages")
		}
		_, _ = withAnnotations(b, codec.Map{{Key: codec.Symbol("x"), Value: int64(1)}})
	})
}

// Application properties go after the properties and before the body.
func TestWithSectionApplicationProperties(t *testing.T) {
	var msg []byte
	msg = codec.AppendDescriptor(msg, codec.DescProperties)
	msg = codec.AppendList(msg, codec.List{"m"})
	body := len(msg)
	msg = codec.AppendDescriptor(msg, codec.DescData)
	msg = codec.AppendValue(msg, []byte("body"))
	props := codec.Map{{Key: "DeadLetterReason", Value: "r"}}
	out, err := withSection(msg, codec.DescApplicationProperties, props)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), msg[:body]...)
	want = codec.AppendDescriptor(want, codec.DescApplicationProperties)
	want = codec.AppendMap(want, props)
	want = append(want, msg[body:]...)
	if !bytes.Equal(out, want) {
		t.Fatalf("got % x\nwant % x", out, want)
	}
}
