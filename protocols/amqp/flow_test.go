package amqp_test

import (
	"strings"
	"testing"

	"github.com/Azure/go-amqp"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// A send to a full address under address-full-policy BLOCK is held: its
// disposition waits until a consumer makes room, and then it arrives.
func TestBlockedProducerReleased(t *testing.T) {
	s := startBroker(t, func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{"flow": {MaxSizeBytes: ptr(core.ByteSize(3000)), AddressFullPolicy: ptr("BLOCK")}}
	})
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "flow", nil)
	payload := strings.Repeat("x", 1000)
	send(t, snd, amqp.NewMessage([]byte("first "+payload)))
	done := make(chan error, 1)
	go func() { done <- snd.Send(ctxFor(t), amqp.NewMessage([]byte("second "+payload)), nil) }()
	waitUntil(t, "the second send to be held", func() bool { return s.Core.HeldSends("flow") == 1 })
	select {
	case err := <-done:
		t.Fatalf("the held send was confirmed (%v) before there was room", err)
	default:
	}
	r := newReceiver(t, ss, "flow", nil)
	m := receive(t, r)
	if err := r.AcceptMessage(ctxFor(t), m); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("held send: %v", err)
	}
	if m := receive(t, r); !strings.HasPrefix(body(m), "second") {
		t.Fatalf("got %q", body(m)[:10])
	}
}

// While a link's sends are held, the broker gives it no new credit; the
// credit comes back once they are admitted.
func TestCreditWithheldWhileHeld(t *testing.T) {
	s := startBroker(t, func(c *config.Config) {
		c.AddressSettings = map[string]*core.AddressSettings{"withheld": {MaxSizeBytes: ptr(core.ByteSize(3000)), AddressFullPolicy: ptr("BLOCK")}}
	})
	r := dialRaw(t, s.Addr("amqp"))
	r.open(nil)
	r.begin(0)
	r.send(0, &codec.Attach{Name: "w", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "withheld"},
		SndSettleMode: codec.SndSettled, InitialDeliveryCount: 0, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	f := expect[*codec.Flow](r)
	payload := append([]byte{0x00, 0x53, 0x75, 0xb0, 0, 0, 0x03, 0xe8}, make([]byte, 1000)...)
	// Spend the credit down to below half: no top-up may come while held.
	n := f.LinkCredit/2 + 2
	for i := range n {
		r.send(0, &codec.Transfer{Handle: 0, DeliveryID: i, HasDeliveryID: true, DeliveryTag: []byte{byte(i), byte(i >> 8)}, Settled: true}, payload)
	}
	waitUntil(t, "held sends", func() bool { return s.Core.HeldSends("withheld") > 0 })
	// Drain the address from another connection; the held sends go in and
	// the credit comes back in a flow for the link.
	_, ss := session(t, s, nil)
	rc := newReceiver(t, ss, "withheld", &amqp.ReceiverOptions{Credit: 100})
	for range n {
		m := receive(t, rc)
		if err := rc.AcceptMessage(ctxFor(t), m); err != nil {
			t.Fatal(err)
		}
	}
	for {
		g := expect[*codec.Flow](r)
		if g.HasHandle && g.LinkCredit == f.LinkCredit {
			if g.DeliveryCount != n {
				t.Fatalf("credit came back at delivery-count %d, want %d", g.DeliveryCount, n)
			}
			return
		}
	}
}
