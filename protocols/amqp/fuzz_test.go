package amqp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	server "github.com/junctionmq/junction/protocols/amqp"
	"github.com/junctionmq/junction/protocols/amqp/codec"
	"github.com/junctionmq/junction/server/servertest"
)

// panicCatcher counts the server's "panicked" log lines: the connection
// handler recovers a panic into one, which a fuzz run must see as a crash.
type panicCatcher struct{ n *atomic.Int32 }

func (h panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (h panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		h.n.Add(1)
	}
	return nil
}
func (h panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicCatcher) WithGroup(string) slog.Handler      { return h }

// fuzzSeeds are frame sequences a client sends after its open: a session,
// links both ways, flows, transfers (one in three frames), dispositions,
// detaches, a coordinator.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	f := func(ps ...codec.Performative) []byte {
		var b []byte
		for _, p := range ps {
			payload := []byte(nil)
			if _, ok := p.(*codec.Transfer); ok {
				payload = []byte{0x00, 0x53, 0x75, 0xa0, 0x02, 'h', 'i'}
			}
			b = codec.AppendFrame(b, 0, p, payload)
		}
		return b
	}
	begin := &codec.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100}
	snd := &codec.Attach{Name: "s", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "fz"}, HasInitialDeliveryCount: true}
	rcv := &codec.Attach{Name: "r", Handle: 1, Role: codec.RoleReceiver, Source: &codec.Source{Address: "fz"}, Target: &codec.Target{}}
	flow := &codec.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 100, OutgoingWindow: 100, Handle: 1, HasHandle: true,
		DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 5, HasLinkCredit: true, Drain: true, Echo: true}
	tr := &codec.Transfer{Handle: 0, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{1}}
	more := &codec.Transfer{Handle: 0, DeliveryID: 1, HasDeliveryID: true, DeliveryTag: []byte{2}, More: true}
	disp := &codec.Disposition{Role: codec.RoleReceiver, First: 0, Last: 3, Settled: true, State: &codec.Modified{DeliveryFailed: true}}
	coord := &codec.Attach{Name: "c", Handle: 2, Role: codec.RoleSender, Coordinator: &codec.Coordinator{}, HasInitialDeliveryCount: true}
	seeds = append(seeds,
		f(begin),
		f(begin, snd, tr),
		f(begin, snd, more, &codec.Transfer{Handle: 0, More: true}, &codec.Transfer{Handle: 0}),
		f(begin, rcv, flow, disp, &codec.Detach{Handle: 1, Closed: true}),
		f(begin, coord, &codec.Transfer{Handle: 2, DeliveryID: 0, HasDeliveryID: true, DeliveryTag: []byte{0}}),
		f(begin, snd, &codec.Detach{Handle: 0}, &codec.End{}, &codec.Close{}),
		f(begin, &codec.Transfer{Handle: 9, DeliveryID: 0, HasDeliveryID: true}),
		[]byte{0, 0, 0, 8, 2, 0, 0, 0},
	)
	return seeds
}

// FuzzConnection feeds arbitrary frames to a connection after a valid
// header and open: whatever comes, the server answers on the right scope,
// never panics and ends the connection cleanly.
func FuzzConnection(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add([]byte{0, 0, 1, 0, 2, 0, 0, 0, 1, 2, 3}) // a frame that never completes
	f.Add([]byte("garbage garbage garbage"))
	var panics atomic.Int32
	s := servertest.Start(f, servertest.Options{})
	// A short idle time-out ends inputs that stop mid-frame quickly.
	srv := server.NewServer(server.Options{Broker: s.Core, Logger: slog.New(panicCatcher{&panics}), ConnectTimeout: time.Second, IdleTimeout: 50 * time.Millisecond})
	hdr := codec.ProtocolHeader(codec.ProtoAMQP)
	open := codec.AppendFrame(nil, 0, &codec.Open{ContainerID: "fuzz", ChannelMax: 3}, nil)
	run := func(t *testing.T, data []byte) {
		client, conn := net.Pipe()
		done := make(chan struct{})
		go func() {
			srv.ServeConn(context.Background(), conn)
			close(done)
		}()
		go func() {
			_, _ = client.Write(hdr[:])
			_, _ = client.Write(open)
			_, _ = client.Write(data)
			_, _ = client.Write(codec.AppendFrame(nil, 0, &codec.Close{}, nil))
		}()
		// Read until the server's close (or the end): the server then
		// lingers until the client goes.
		_ = client.SetReadDeadline(time.Now().Add(3 * time.Second))
		var h [8]byte
		if _, err := io.ReadFull(client, h[:]); err == nil {
			var buf []byte
			for {
				_, body, err := codec.ReadFrame(client, 0, &buf)
				if err != nil {
					break
				}
				if p, _, _ := codec.DecodePerformative(body); p != nil {
					if _, ok := p.(*codec.Close); ok {
						break
					}
				}
			}
		}
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection did not end")
		}
		if panics.Load() > 0 {
			t.Fatalf("the connection handler panicked on % x", data)
		}
	}
	f.Fuzz(run)
}
