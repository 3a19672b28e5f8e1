package codec_test

import (
	"fmt"

	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// A server reads a frame, decodes its performative and answers with one
// of its own.
func Example() {
	// What a client sends: a flow granting 10 credits on link 0.
	in := codec.AppendFrame(nil, 1, &codec.Flow{IncomingWindow: 100, NextOutgoingID: 1, OutgoingWindow: 100,
		HasHandle: true, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true}, nil)

	h, body, n, err := codec.SplitFrame(in, 65536)
	if err != nil || n == 0 {
		panic(err)
	}
	p, _, err := codec.DecodePerformative(body)
	if err != nil {
		// err is a *codec.Error: close the connection with it.
		panic(err)
	}
	if fl, ok := p.(*codec.Flow); ok {
		fmt.Printf("channel %d: flow on link %d, credit %d\n", h.Channel, fl.Handle, fl.LinkCredit)
	}
	out := codec.AppendFrame(nil, h.Channel, &codec.Detach{Handle: 0, Closed: true,
		Error: &codec.Error{Condition: codec.CondNotFound, Description: "no such queue"}}, nil)
	fmt.Printf("detach frame of %d bytes\n", len(out))
	// Output:
	// channel 1: flow on link 0, credit 10
	// detach frame of 53 bytes
}
