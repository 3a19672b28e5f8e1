package amqp_test

import (
	"encoding/binary"
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// A protocol header we do not speak is answered with ours, then the
// connection closes (part 2, 2.2).
func TestWrongProtocolHeader(t *testing.T) {
	s := startBroker(t, nil)
	for _, h := range []string{"AMQP\x00\x00\x09\x01", "GET / HTTP/1.1\r\n"} {
		r := dialRaw(t, s.Addr("amqp"))
		r.write([]byte(h))
		if got, want := r.header(), codec.ProtocolHeader(codec.ProtoAMQP); got != want {
			t.Fatalf("after %q the server answered % x, want % x", h, got, want)
		}
		r.expectEOF()
	}
}

// An AMQP frame where the SASL exchange expects sasl-init ends it with a
// failed outcome and the connection closes.
func TestSASLOutOfOrder(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	hdr := codec.ProtocolHeader(codec.ProtoSASL)
	r.write(hdr[:])
	if got := r.header(); got != hdr {
		t.Fatalf("server header % x", got)
	}
	if _, ok := expectAny(r).(*codec.SASLMechanisms); !ok {
		t.Fatal("no sasl-mechanisms")
	}
	r.send(0, &codec.Open{ContainerID: "early"}, nil)
	out, ok := expectAny(r).(*codec.SASLOutcome)
	if !ok || out.Code == codec.SASLOK {
		t.Fatalf("want a failed sasl-outcome, got %+v", out)
	}
	r.expectEOF()
}

func expectAny(r *raw) codec.Performative {
	r.t.Helper()
	p, _ := r.next()
	return p
}

// A frame larger than our max-frame-size closes the connection with
// framing-error, before its body is read.
func TestFrameOverMaxFrameSize(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	so := r.open(nil)
	var h [8]byte
	binary.BigEndian.PutUint32(h[:], so.MaxFrameSize+1)
	h[4], h[5] = 2, 0
	r.write(h[:])
	c := expect[*codec.Close](r)
	if condition(c.Error) != codec.CondFramingError {
		t.Fatalf("close with %v, want framing-error", c.Error)
	}
	r.expectEOF()
}

// A transfer on a handle that is not attached ends that session with
// unattached-handle; another session of the connection goes on.
func TestTransferOnUnattachedHandle(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.begin(1)
	r.send(0, &codec.Transfer{Handle: 7, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{1}, Settled: true}, []byte{0x00, 0x53, 0x75, 0xa0, 0x01, 'x'})
	e := expect[*codec.End](r)
	if condition(e.Error) != codec.CondUnattachedHandle {
		t.Fatalf("end with %v, want unattached-handle", e.Error)
	}
	// Session 1 still works: attach a sender and get credit.
	r.send(1, &codec.Attach{Name: "after", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "still-ok"},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	f := expect[*codec.Flow](r)
	if !f.HasLinkCredit || f.LinkCredit == 0 {
		t.Fatalf("no credit on the other session: %+v", f)
	}
}

// A disposition with a delivery state nobody defined ends the session
// with invalid-field.
func TestUnknownDispositionState(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	// disposition(role=receiver, first=0, settled=true, state=described(0x99, list0))
	body := []byte{0x00, 0x53, 0x15, 0xc0, 0x09, 0x05, 0x41, 0x43, 0x40, 0x41, 0x00, 0x53, 0x99, 0x45}
	frame := append(codec.AppendFrameHeader(nil, codec.FrameAMQP, 0, len(body)), body...)
	r.write(frame)
	e := expect[*codec.End](r)
	if condition(e.Error) != codec.CondInvalidField {
		t.Fatalf("end with %v, want invalid-field", e.Error)
	}
}

// A sender that goes on sending after its credit ran out (it is withheld
// while the address is full) is detached with transfer-limit-exceeded.
func TestCreditOverrun(t *testing.T) {
	s := startBroker(t, func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{"full": {MaxSizeBytes: ptr(core.ByteSize(3000)), AddressFullPolicy: ptr("BLOCK")}}
	})
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "flood", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "full"},
		SndSettleMode: codec.SndSettled, InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	f := expect[*codec.Flow](r)
	// A data section of 1000 bytes: one fits the address, two do not.
	payload := append([]byte{0x00, 0x53, 0x75, 0xb0, 0, 0, 0x03, 0xe8}, make([]byte, 1000)...)
	// The first message fills the address and is held; the credit then
	// stays where it is. Sending all of it and one more overruns.
	for i := range f.LinkCredit + 1 {
		r.send(0, &codec.Transfer{Handle: 0, DeliveryID: i, HasDeliveryID: true, DeliveryTag: binary.BigEndian.AppendUint32(nil, i), Settled: true}, payload)
	}
	d := expect[*codec.Detach](r)
	if condition(d.Error) != codec.CondTransferLimitExceeded {
		t.Fatalf("detach with %v, want transfer-limit-exceeded", d.Error)
	}
}

// Bad input on one connection leaves the others alone.
func TestBadInputIsolated(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.write([]byte{0, 0, 0, 4, 2, 0, 0, 0})
	if c := expect[*codec.Close](r); condition(c.Error) != codec.CondFramingError {
		t.Fatalf("close with %v, want framing-error", c.Error)
	}
	send(t, newSender(t, ss, "isolated", nil), amqp.NewMessage([]byte("ok")))
}

// A message that does not decode is rejected with decode-error when the
// sender waits for an outcome; a pre-settled one, which has no outcome to
// carry the error, detaches its link with it.
func TestUndecodableMessage(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "bad", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "bad"},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	garbage := []byte{0x00, 0x53, 0x75, 0xb0, 0xff, 0xff, 0xff, 0xff} // a data section claiming 4 GiB
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{0}}, garbage)
	d := expect[*codec.Disposition](r)
	rej, ok := d.State.(*codec.Rejected)
	if !ok || condition(rej.Error) != codec.CondDecodeError {
		t.Fatalf("unsettled undecodable message answered with %#v, want rejected decode-error", d.State)
	}
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: 1, HasDeliveryID: true, DeliveryTag: []byte{1}, Settled: true}, garbage)
	det := expect[*codec.Detach](r)
	if condition(det.Error) != codec.CondDecodeError {
		t.Fatalf("pre-settled undecodable message: detach with %v, want decode-error", det.Error)
	}
}
