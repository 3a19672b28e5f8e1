package openwire_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/testkit"
	"github.com/junctionmq/junction/protocols/openwire/wire"
	"github.com/junctionmq/junction/server/servertest"
)

// FuzzCommands feeds one arbitrary frame to a connected session (after the
// handshake and ConnectionInfo, in tight cached encoding), then a flush
// that asks for a response. The server must answer it or close the
// connection, and never panic: a handler that dereferences a field the
// client left out would otherwise take the connection down with a stack
// trace, and a callback running under a queue lock the whole broker.
// The codec's own fuzz targets (wire) cover decoding; this one covers what
// the server does with whatever decodes.
func FuzzCommands(f *testing.F) {
	seeds := []wire.Command{
		&wire.SessionInfo{SessionID: &wire.SessionID{ConnectionID: "ID:fz", Value: 1}},
		&wire.ConsumerInfo{ConsumerID: &wire.ConsumerID{ConnectionID: "ID:fz", SessionID: 1, Value: 1}, Destination: &wire.Destination{Type: wire.TypeQueue, PhysicalName: "fz.q"}, PrefetchSize: 10},
		&wire.ConsumerInfo{ConsumerID: &wire.ConsumerID{ConnectionID: "ID:fz", SessionID: 1, Value: 2}, Destination: &wire.Destination{Type: wire.TypeTopic, PhysicalName: "fz.>,ActiveMQ.Advisory.TempQueue"}, Browser: true},
		&wire.ProducerInfo{ProducerID: &wire.ProducerID{ConnectionID: "ID:fz", SessionID: 1, Value: 1}, WindowSize: 1024},
		&wire.Message{Type: wire.TypeTextMessage, ProducerID: &wire.ProducerID{ConnectionID: "ID:fz", SessionID: 1, Value: 1},
			Destination: &wire.Destination{Type: wire.TypeQueue, PhysicalName: "fz.q"}, MessageID: &wire.MessageID{ProducerSequenceID: 1},
			Content: wire.AppendText(nil, "x"), TransactionID: &wire.LocalTransactionID{Value: 9}},
		&wire.MessageAck{ConsumerID: &wire.ConsumerID{ConnectionID: "ID:fz", SessionID: 1, Value: 1}, AckType: wire.AckStandard,
			FirstMessageID: &wire.MessageID{BrokerSequenceID: -5}, LastMessageID: &wire.MessageID{BrokerSequenceID: 1 << 62}, MessageCount: 3},
		&wire.MessagePull{ConsumerID: &wire.ConsumerID{ConnectionID: "ID:fz", SessionID: 1, Value: 1}, Timeout: 5},
		&wire.TransactionInfo{TransactionID: &wire.LocalTransactionID{Value: 9}, Type: wire.TxCommitOnePhase},
		&wire.DestinationInfo{Destination: &wire.Destination{Type: wire.TypeTempQueue, PhysicalName: "ID:fz:1"}, OperationType: wire.DestinationRemove},
		&wire.RemoveInfo{ObjectID: &wire.SessionID{ConnectionID: "ID:fz", Value: 1}},
		&wire.RemoveSubscriptionInfo{SubscriptionName: "nope"},
	}
	for _, cmd := range seeds {
		enc := wire.NewEncoder(wire.InitialFormat())
		b, err := enc.Encode(nil, cmd)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[4:]) // without the size prefix: the fuzzer's bytes are the frame
	}
	var logs testkit.LogBuffer
	s := servertest.Start(f, servertest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) == 0 || len(frame) > 1<<16 {
			return
		}
		nc, err := net.DialTimeout("tcp", s.Addr("openwire"), waitFor)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := &rawClient{t: t, nc: nc, br: newBufReader(nc), dec: wire.NewDecoder(wire.InitialFormat()), enc: wire.NewEncoder(wire.InitialFormat())}
		o := clientOptions()
		o.TightEncodingEnabled, o.CacheEnabled = false, false // the seeds are loose and uncached
		c.handshake(o)
		c.write(&wire.ConnectionInfo{BaseCommand: wire.BaseCommand{ResponseRequired: true}, ConnectionID: &wire.ConnectionID{Value: "ID:fz"}})
		c.expectResponse()
		c.writeBytes(append(appendSize(nil, len(frame)), frame...))
		c.write(&wire.FlushCommand{BaseCommand: wire.BaseCommand{ResponseRequired: true}})
		deadline := time.Now().Add(waitFor)
		for {
			cmd, err := c.read(time.Until(deadline))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server neither answered the flush nor closed the connection within %v", waitFor)
			}
			if err != nil {
				break // closed: acceptable for bad input
			}
			if r, ok := cmd.(*wire.Response); ok && r.CorrelationID == c.id {
				break
			}
		}
		if strings.Contains(logs.String(), "panicked") {
			t.Fatalf("the server panicked:\n%s", logs.String())
		}
	})
}
