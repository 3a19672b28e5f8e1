package codec

import (
	"reflect"
	"testing"
)

// Decoding into a Scratch gives what DecodePerformative gives, and a
// reused struct keeps nothing of the frame before: fields absent from the
// second frame read as their defaults, not as the first frame's values.
func TestDecodeIntoScratch(t *testing.T) {
	frames := []Performative{
		&Transfer{Handle: 1, DeliveryID: 7, HasDeliveryID: true, DeliveryTag: []byte("t"), MessageFormat: 0, HasMessageFormat: true,
			Settled: true, HasSettled: true, More: true, State: &Accepted{}, RcvSettleMode: 1, HasRcvSettleMode: true},
		&Transfer{Handle: 2},
		&Disposition{Role: RoleReceiver, First: 3, Last: 9, Settled: true, State: &Rejected{Error: Errorf(CondInternalError, "x")}},
		&Disposition{Role: RoleSender, First: 4, Last: 4},
		&Flow{NextIncomingID: 1, HasNextIncomingID: true, IncomingWindow: 10, NextOutgoingID: 2, OutgoingWindow: 20,
			Handle: 3, HasHandle: true, DeliveryCount: 4, HasDeliveryCount: true, LinkCredit: 5, HasLinkCredit: true,
			Drain: true, Echo: true, Properties: Map{{Key: Symbol("k"), Value: "v"}}},
		&Flow{IncomingWindow: 1, OutgoingWindow: 2},
		&Begin{NextOutgoingID: 1, IncomingWindow: 2, OutgoingWindow: 3},
	}
	var s Scratch
	for _, f := range frames {
		var payload []byte
		if _, ok := f.(*Transfer); ok {
			payload = []byte("payload")
		}
		body := AppendFrame(nil, 0, f, payload)[FrameHeaderSize:]
		want, wantPayload, err := DecodePerformative(body)
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		got, gotPayload, err := DecodePerformativeInto(body, &s)
		if err != nil {
			t.Fatalf("%T into scratch: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) || string(gotPayload) != string(wantPayload) {
			t.Fatalf("decoded into scratch %+v, want %+v", got, want)
		}
	}
	// The hot performatives are the scratch's own; others are not.
	body := AppendFrame(nil, 0, &Transfer{Handle: 1}, nil)[FrameHeaderSize:]
	if p, _, _ := DecodePerformativeInto(body, &s); p != &s.transfer {
		t.Fatal("a transfer was not decoded into the scratch")
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = DecodePerformativeInto(body, &s) }); n != 0 {
		t.Fatalf("%v allocations per transfer decoded into a scratch, want 0", n)
	}
}
