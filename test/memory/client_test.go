package memory

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"syscall"
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
	return connectMQTT(t, nc, id)
}

// connectMQTT runs the MQTT 3.1.1 handshake on nc.
func connectMQTT(t *testing.T, nc net.Conn, id string) *mqttConn {
	t.Helper()
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

// stompConn is a bare STOMP 1.2 client: a subscriber that must never read
// and a producer that must notice when the broker stops reading are both
// easier on a plain socket than through a client library.
type stompConn struct {
	t  *testing.T
	nc net.Conn
	rd *bufio.Reader
}

func dialSTOMP(t *testing.T, addr string) *stompConn {
	t.Helper()
	return dialSTOMPWith(t, addr)
}

// dialSTOMPWith connects with extra CONNECT headers ("key:value").
func dialSTOMPWith(t *testing.T, addr string, headers ...string) *stompConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &stompConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
	c.frame("CONNECT", "", append([]string{"accept-version:1.2", "host:localhost"}, headers...)...)
	if cmd := c.readFrame(); cmd != "CONNECTED" {
		t.Fatalf("got %s, want CONNECTED", cmd)
	}
	return c
}

func (c *stompConn) frame(cmd, body string, headers ...string) {
	c.t.Helper()
	var sb strings.Builder
	sb.WriteString(cmd + "\n")
	for _, h := range headers {
		sb.WriteString(h + "\n")
	}
	sb.WriteString("\n" + body + "\x00")
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(sb.String())); err != nil {
		c.t.Fatal(err)
	}
}

// readFrame returns the next frame's command, skipping heart-beats.
func (c *stompConn) readFrame() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := c.rd.ReadString(0)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.SplitN(strings.TrimLeft(raw, "\r\n"), "\n", 2)[0]
}

// receipt sends a frame asking for a receipt and waits for it.
func (c *stompConn) receipt(id string) {
	c.t.Helper()
	c.frame("SUBSCRIBE", "", "destination:/queue/receipt-"+id, "id:r"+id, "ack:auto", "receipt:"+id)
	for {
		if cmd := c.readFrame(); cmd == "RECEIPT" {
			return
		}
	}
}

// flood writes up to n SENDs and returns how many went out before a write
// made no progress for stall.
func (c *stompConn) flood(dest, body string, n int, stall time.Duration) int {
	frame := []byte("SEND\ndestination:" + dest + "\ncontent-length:" + strconv.Itoa(len(body)) + "\n\n" + body + "\x00")
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for i := range n {
		_ = c.nc.SetWriteDeadline(time.Now().Add(stall))
		if _, err := w.Write(frame); err != nil {
			return max(i-w.Buffered()/len(frame), 0)
		}
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(stall))
	if err := w.Flush(); err != nil {
		return n - w.Buffered()/len(frame)
	}
	return n
}

// dialMQTTSmallBuffer connects with a 4 KiB receive buffer, so a client
// that never reads leaves what it is sent with the broker, not the kernel.
func dialMQTTSmallBuffer(t *testing.T, addr, id string) *mqttConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return connectMQTT(t, nc, id)
}
