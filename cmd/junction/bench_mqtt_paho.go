package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttPahoBench drives the load with paho.mqtt.golang (--client paho), the
// client most Go applications use, instead of the lean packet-level client:
// issue 18's CPU goals are stated for both. paho writes each packet with its
// own system call and hands every received message to a callback, so it
// costs the broker more syscalls per message than the lean client does.
type mqttPahoBench struct {
	f    benchFlags
	addr string
}

func (m *mqttPahoBench) name() string { return "mqtt" }

func (m *mqttPahoBench) connect(id string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + m.addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(15 * time.Second).SetKeepAlive(0).
		SetWriteTimeout(0).SetOrderMatters(true)
	if m.f.user != "" {
		o.SetUsername(m.f.user).SetPassword(m.f.password)
	}
	return mqttConnect(o)
}

type mqttPahoPublisher struct {
	c      paho.Client
	topic  string
	qos    byte
	tokens []paho.Token // QoS 1 and 2 publishes not yet acknowledged, oldest first
}

func (m *mqttPahoBench) publisher(_ context.Context, i int) (benchPublisher, error) {
	c, err := m.connect(benchClientID("pub", i))
	if err != nil {
		return nil, err
	}
	return &mqttPahoPublisher{c: c, topic: m.f.dest, qos: byte(m.f.qos)}, nil
}

func (p *mqttPahoPublisher) publish(body []byte, receipt bool) error {
	// paho keeps the payload until its writer goroutine has sent it, and
	// the load loop reuses its buffer.
	// A QoS 0 token completes once paho has written the packet, a QoS 1
	// or 2 one once it is acknowledged: up to mqttWindow are outstanding,
	// as with the lean client.
	t := p.c.Publish(p.topic, p.qos, false, append([]byte(nil), body...))
	p.tokens = append(p.tokens, t)
	if len(p.tokens) >= mqttWindow {
		if err := waitToken(p.tokens[0]); err != nil {
			return err
		}
		p.tokens = p.tokens[1:]
	}
	if receipt {
		return p.drain()
	}
	return nil
}

func waitToken(t paho.Token) error {
	if !t.WaitTimeout(60 * time.Second) {
		return errors.New("publish not acknowledged within 60s")
	}
	return t.Error()
}

func (p *mqttPahoPublisher) flush() error { return nil }

func (p *mqttPahoPublisher) drain() error {
	for _, t := range p.tokens {
		if err := waitToken(t); err != nil {
			return err
		}
	}
	p.tokens = p.tokens[:0]
	return nil
}

func (p *mqttPahoPublisher) close() { _ = p.drain(); p.c.Disconnect(250) }

type mqttPahoSubscriber struct{ c paho.Client }

func (m *mqttPahoBench) subscriber(_ context.Context, i int, got func([]byte)) (benchSubscriber, error) {
	c, err := m.connect(benchClientID("sub", i))
	if err != nil {
		return nil, err
	}
	t := c.Subscribe(m.f.dest, byte(m.f.qos), func(_ paho.Client, msg paho.Message) { got(msg.Payload()) })
	if !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("subscribe: %v", t.Error())
	}
	return &mqttPahoSubscriber{c: c}, nil
}

func (s *mqttPahoSubscriber) close() { s.c.Disconnect(250) }

func (m *mqttPahoBench) idle(ctx context.Context, i int) (io.Closer, error) {
	return (&mqttBench{f: m.f, addr: m.addr}).idle(ctx, i)
}
