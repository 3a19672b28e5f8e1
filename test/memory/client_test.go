package memory

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// mqttConn is a bare MQTT 3.1.1 client on the broker's own codec, cheap
// enough to publish 100,000 messages in a second or two.
type mqttConn struct {
	t  *testing.T
	nc net.Conn
	w  *bufio.Writer
	rd *packet.Reader
}

func dialMQTT(t *testing.T, addr, id string) *mqttConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &mqttConn{t: t, nc: nc, w: bufio.NewWriterSize(nc, 64<<10), rd: packet.NewReader(nc, 0)}
	c.write(&packet.Connect{Version: packet.Version311, CleanStart: true, KeepAlive: 0, ClientID: id})
	c.flush()
	if fh := c.read(); fh.Type != packet.CONNACK {
		t.Fatalf("got %v, want CONNACK", fh.Type)
	}
	return c
}

func (c *mqttConn) write(p packet.Packet) {
	c.t.Helper()
	b, err := p.Append(c.w.AvailableBuffer(), packet.Version311)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.w.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *mqttConn) flush() {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *mqttConn) read() packet.FixedHeader {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	fh, _, err := c.rd.ReadPacket()
	if err != nil {
		c.t.Fatal(err)
	}
	return fh
}

// sync waits until the broker has handled everything sent before: it
// answers a PINGREQ after the packets ahead of it.
func (c *mqttConn) sync() {
	c.t.Helper()
	c.write(&packet.Pingreq{})
	c.flush()
	for {
		if fh := c.read(); fh.Type == packet.PINGRESP {
			return
		}
	}
}

func (c *mqttConn) subscribe(filter string, qos byte) {
	c.t.Helper()
	c.write(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: qos}}})
	c.flush()
	if fh := c.read(); fh.Type != packet.SUBACK {
		c.t.Fatalf("got %v, want SUBACK", fh.Type)
	}
}
