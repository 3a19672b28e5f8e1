package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// mqttBench is a lean MQTT 3.1.1 client for the load tool, built on the
// broker's own packet codec so the client costs little next to the broker it
// measures. Publishers keep at most 100 QoS 1/2 messages unacknowledged.
type mqttBench struct {
	f    benchFlags
	addr string
}

const mqttWindow = 100

func (m *mqttBench) name() string { return "mqtt" }

type mqttClient struct {
	nc  net.Conn
	mu  sync.Mutex // guards w
	w   *bufio.Writer
	rd  *packet.Reader
	ver byte
}

func (m *mqttBench) dial(ctx context.Context, id string, keepAlive uint16) (*mqttClient, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return nil, err
	}
	c := &mqttClient{nc: nc, w: bufio.NewWriterSize(nc, 64<<10), rd: packet.NewReader(nc, 0), ver: packet.Version311}
	p := &packet.Connect{Version: packet.Version311, CleanStart: true, KeepAlive: keepAlive, ClientID: id}
	if m.f.user != "" {
		p.HasUsername, p.Username = true, m.f.user
		p.HasPassword, p.Password = true, []byte(m.f.password)
	}
	b, err := p.Append(nil, c.ver)
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, err
	}
	fh, body, err := c.rd.ReadPacket()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading CONNACK: %w", err)
	}
	var ack packet.Connack
	if fh.Type != packet.CONNACK || ack.Decode(fh.Flags, body, c.ver) != nil || ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("connection refused (%v, code %d)", fh.Type, ack.ReasonCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *mqttClient) write(p packet.Packet, flush bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := p.Append(c.w.AvailableBuffer(), c.ver)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	if flush {
		return c.w.Flush()
	}
	return nil
}

func (c *mqttClient) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Flush()
}

func (c *mqttClient) Close() error {
	_ = c.write(&packet.Disconnect{}, true)
	return c.nc.Close()
}

func benchClientID(kind string, i int) string {
	return "bench-" + kind + "-" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

type mqttPublisher struct {
	c      *mqttClient
	topic  []byte
	qos    byte
	nextID uint16
	window chan struct{} // one token per unacknowledged publish
	errc   chan error
}

func (m *mqttBench) publisher(ctx context.Context, i int) (benchPublisher, error) {
	c, err := m.dial(ctx, benchClientID("pub", i), 0)
	if err != nil {
		return nil, err
	}
	p := &mqttPublisher{c: c, topic: []byte(m.f.dest), qos: byte(m.f.qos), window: make(chan struct{}, mqttWindow), errc: make(chan error, 1)}
	go p.readAcks()
	return p, nil
}

// readAcks completes QoS 1 (PUBACK) and QoS 2 (PUBREC, then PUBCOMP) publishes.
func (p *mqttPublisher) readAcks() {
	for {
		fh, body, err := p.c.rd.ReadPacket()
		if err != nil {
			p.errc <- err
			return
		}
		switch fh.Type {
		case packet.PUBACK, packet.PUBCOMP:
			<-p.window
		case packet.PUBREC:
			var r packet.Pubrec
			if r.Decode(fh.Flags, body, p.c.ver) == nil {
				_ = p.c.write(&packet.Pubrel{PacketID: r.PacketID}, true)
			}
		}
	}
}

func (p *mqttPublisher) publish(body []byte, receipt bool) error {
	pub := &packet.Publish{QoS: p.qos, Topic: p.topic, Payload: body}
	if p.qos > 0 {
		select {
		case p.window <- struct{}{}:
		case err := <-p.errc:
			return err
		}
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		pub.PacketID = p.nextID
	}
	// Flush when the window is full so acknowledgements can flow.
	full := p.qos > 0 && len(p.window) == cap(p.window)
	if err := p.c.write(pub, full); err != nil {
		return err
	}
	if receipt {
		return p.drain()
	}
	return nil
}

// flush writes what is buffered.
func (p *mqttPublisher) flush() error { return p.c.flush() }

// drain writes what is buffered and waits for every publish to be acknowledged.
func (p *mqttPublisher) drain() error {
	if err := p.c.flush(); err != nil {
		return err
	}
	deadline := time.After(60 * time.Second)
	for len(p.window) > 0 {
		select {
		case err := <-p.errc:
			return err
		case <-deadline:
			return errors.New("publishes not acknowledged within 60s")
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func (p *mqttPublisher) close() { _ = p.drain(); p.c.Close() }

type mqttSubscriber struct{ c *mqttClient }

func (m *mqttBench) subscriber(ctx context.Context, i int, got func([]byte)) (benchSubscriber, error) {
	c, err := m.dial(ctx, benchClientID("sub", i), 0)
	if err != nil {
		return nil, err
	}
	sub := &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: m.f.dest, QoS: byte(m.f.qos)}}}
	if err := c.write(sub, true); err != nil {
		c.nc.Close()
		return nil, err
	}
	fh, body, err := c.rd.ReadPacket()
	if err != nil {
		c.nc.Close()
		return nil, err
	}
	var ack packet.Suback
	if fh.Type != packet.SUBACK || ack.Decode(fh.Flags, body, c.ver) != nil || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] >= 0x80 {
		c.nc.Close()
		return nil, fmt.Errorf("subscription refused")
	}
	go func() {
		var pub packet.Publish
		for {
			fh, body, err := c.rd.ReadPacket()
			if err != nil {
				return
			}
			switch fh.Type {
			case packet.PUBLISH:
				if pub.Decode(fh.Flags, body, c.ver) != nil {
					return
				}
				got(pub.Payload)
				switch pub.QoS {
				case 1:
					_ = c.write(&packet.Puback{PacketID: pub.PacketID}, c.rd.Buffered() == 0)
				case 2:
					_ = c.write(&packet.Pubrec{PacketID: pub.PacketID}, c.rd.Buffered() == 0)
				}
			case packet.PUBREL:
				var r packet.Pubrel
				if r.Decode(fh.Flags, body, c.ver) == nil {
					_ = c.write(&packet.Pubcomp{PacketID: r.PacketID}, c.rd.Buffered() == 0)
				}
			}
		}
	}()
	return &mqttSubscriber{c: c}, nil
}

func (s *mqttSubscriber) close() { s.c.Close() }

func (m *mqttBench) idle(ctx context.Context, i int) (io.Closer, error) {
	return m.dial(ctx, benchClientID("idle", i), 0)
}
