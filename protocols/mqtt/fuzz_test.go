package mqtt_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/mqtt"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
	"github.com/junctionmq/junction/storage/memory"
)

// FuzzConnection feeds arbitrary bytes to a connection after a valid
// CONNECT (3.1.1 or 5.0, by the input's first byte): the server must never
// panic, and must end the connection when the input does.
func FuzzConnection(f *testing.F) {
	seed := func(ver byte, ps ...packet.Packet) {
		b := []byte{ver}
		for _, p := range ps {
			var err error
			if b, err = p.Append(b, ver); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(b)
	}
	for _, ver := range []byte{packet.Version311, packet.Version5} {
		seed(ver, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/+", QoS: 2}, {Filter: "$share/g/#", QoS: 1}}},
			&packet.Publish{Topic: []byte("a/b"), QoS: 2, PacketID: 2, Retain: true, Payload: []byte("x")},
			&packet.Pubrel{PacketID: 2}, &packet.Puback{PacketID: 1}, &packet.Pubrec{PacketID: 1}, &packet.Pubcomp{PacketID: 1},
			&packet.Unsubscribe{PacketID: 3, Filters: []string{"a/+"}}, &packet.Pingreq{}, &packet.Disconnect{})
		seed(ver, &packet.Publish{Topic: []byte("a"), QoS: 1, PacketID: 1, Payload: []byte("y")}, &packet.Publish{Topic: []byte("a"), QoS: 1, PacketID: 1, Dup: true})
	}
	p := &packet.Publish{Topic: []byte("t"), QoS: 1, PacketID: 5}
	p.Properties.TopicAlias = 1
	p.Properties.Set(packet.PropTopicAlias)
	seed(packet.Version5, p, &packet.Publish{QoS: 1, PacketID: 6, Properties: p.Properties}, &packet.Auth{ReasonCode: packet.ReAuthenticate})
	f.Add([]byte{packet.Version5, 0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{packet.Version311, 0x10, 0x00})

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cb, err := core.New(core.Config{Store: memory.New(), Logger: log})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := cb.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	m := mqtt.NewServer(mqtt.Options{Broker: cb, Logger: log, MaxPacketSize: 1 << 16, ConnectTimeout: time.Second})
	f.Cleanup(func() {
		m.Close()
		_ = cb.Close()
	})

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		ver := packet.Version311
		if in[0]&1 == 1 {
			ver = packet.Version5
		}
		client, srv := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.ServeConn(context.Background(), srv)
			srv.Close()
		}()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, client)
		}()
		connect, _ := (&packet.Connect{Version: ver, ClientID: "fuzz", CleanStart: in[0]&2 == 0, KeepAlive: 0}).Append(nil, ver)
		_ = client.SetWriteDeadline(time.Now().Add(waitFor))
		_, _ = client.Write(connect)
		_, _ = client.Write(in[1:])
		// The end of the input ends the stream; the server must notice.
		client.Close()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("the server did not end the connection")
		}
		<-drained
	})
}
