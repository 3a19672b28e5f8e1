package testkit

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Paho5 is a paho.golang MQTT 5.0 client whose received PUBLISHes and
// server DISCONNECTs wait in channels for the test.
type Paho5 struct {
	*paho.Client
	Msgs        chan *paho.Publish
	Disconnects chan *paho.Disconnect
}

// ConnectPaho5 runs the MQTT 5.0 handshake on nc, each step bounded by
// within, and disconnects the client when the test ends. A refusal returns
// its CONNACK with the error. cfg, when set, adjusts the client's
// configuration before it is made.
func ConnectPaho5(t testing.TB, nc net.Conn, cp *paho.Connect, within time.Duration, cfg func(*paho.ClientConfig)) (*Paho5, *paho.Connack, error) {
	t.Helper()
	cl := &Paho5{Msgs: make(chan *paho.Publish, 1000), Disconnects: make(chan *paho.Disconnect, 1)}
	conf := paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			cl.Msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case cl.Disconnects <- d:
			default:
			}
		},
		PacketTimeout: within,
	}
	if cfg != nil {
		cfg(&conf)
	}
	cl.Client = paho.NewClient(conf)
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	ack, err := cl.Connect(ctx, cp)
	if err != nil {
		nc.Close()
		return nil, ack, err
	}
	t.Cleanup(func() {
		_ = cl.Disconnect(&paho.Disconnect{ReasonCode: 0})
		select {
		case <-cl.Done():
		case <-time.After(within):
			t.Errorf("paho 5.0 client %q did not shut down", cp.ClientID)
		}
	})
	return cl, ack, nil
}
