package amqp_test

import (
	"testing"
	"time"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// TestConfiguredLimits: the amqp: section of the configuration reaches the
// frames the broker announces — open (max-frame-size, channel-max,
// idle-time-out), begin (handle-max, incoming-window) and the credit a
// client's sender gets — and the broker holds clients to them.
func TestConfiguredLimits(t *testing.T) {
	s := startBroker(t, func(c *config.Config) {
		c.AMQP = config.AMQP{MaxFrameSize: 4096, ChannelMax: 3, HandleMax: 9, IdleTimeout: 90 * time.Second, LinkCredit: 7, SessionWindow: 33}
	})
	r := dialRaw(t, s.Addr("amqp"))
	o := r.open(nil)
	if o.MaxFrameSize != 4096 || o.ChannelMax != 3 || o.IdleTimeOut != 90000 {
		t.Fatalf("open: max-frame-size %d channel-max %d idle-time-out %d, want 4096 3 90000", o.MaxFrameSize, o.ChannelMax, o.IdleTimeOut)
	}
	r.send(0, &codec.Begin{IncomingWindow: 1000, OutgoingWindow: 1000}, nil)
	b := expect[*codec.Begin](r)
	if b.HandleMax != 9 || b.IncomingWindow != 33 {
		t.Fatalf("begin: handle-max %d incoming-window %d, want 9 33", b.HandleMax, b.IncomingWindow)
	}
	r.send(0, &codec.Attach{Name: "s", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "cfg"}, HasInitialDeliveryCount: true}, nil)
	expect[*codec.Attach](r)
	if f := expect[*codec.Flow](r); !f.HasLinkCredit || f.LinkCredit != 7 {
		t.Fatalf("sender's credit %d (set %v), want 7", f.LinkCredit, f.HasLinkCredit)
	}
	// Handle 10 is above handle-max 9: the session ends.
	r.send(0, &codec.Attach{Name: "s2", Handle: 10, Role: codec.RoleSender, Target: &codec.Target{Address: "cfg"}, HasInitialDeliveryCount: true}, nil)
	if e := expect[*codec.End](r); condition(e.Error) != codec.CondNotAllowed {
		t.Fatalf("attach above handle-max: end %v, want amqp:not-allowed", e.Error)
	}
	// A frame above max-frame-size closes the connection with a framing error.
	r.send(1, &codec.Begin{IncomingWindow: 1000, OutgoingWindow: 1000, Properties: codec.Map{{Key: codec.Symbol("pad"), Value: string(make([]byte, 5000))}}}, nil)
	if c := expect[*codec.Close](r); condition(c.Error) != codec.CondFramingError {
		t.Fatalf("frame above max-frame-size: close %v, want amqp:connection:framing-error", c.Error)
	}
}
