package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttBench drives MQTT 3.1.1 brokers with the paho client.
type mqttBench struct {
	f    benchFlags
	addr string
}

func (m *mqttBench) name() string { return "mqtt" }

func (m *mqttBench) connect(id string, setup func(*paho.ClientOptions)) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + m.addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(15 * time.Second).SetKeepAlive(60 * time.Second).
		SetOrderMatters(true).SetMaxResumePubInFlight(100)
	if m.f.user != "" {
		o.SetUsername(m.f.user).SetPassword(m.f.password)
	}
	if setup != nil {
		setup(o)
	}
	c := paho.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(20*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("connect: %v", t.Error())
	}
	return c, nil
}

type mqttPublisher struct {
	c      paho.Client
	topic  string
	qos    byte
	window chan paho.Token
}

func (m *mqttBench) publisher(ctx context.Context, i int) (benchPublisher, error) {
	c, err := m.connect("bench-pub-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), nil)
	if err != nil {
		return nil, err
	}
	return &mqttPublisher{c: c, topic: m.f.dest, qos: byte(m.f.qos), window: make(chan paho.Token, 100)}, nil
}

// publish keeps at most 100 QoS>0 publishes unacknowledged.
func (p *mqttPublisher) publish(body []byte, receipt bool) error {
	t := p.c.Publish(p.topic, p.qos, false, append([]byte(nil), body...))
	if p.qos == 0 {
		return nil
	}
	if len(p.window) == cap(p.window) {
		if err := waitToken(<-p.window); err != nil {
			return err
		}
	}
	p.window <- t
	if receipt {
		return p.flush()
	}
	return nil
}

func waitToken(t paho.Token) error {
	if !t.WaitTimeout(60 * time.Second) {
		return fmt.Errorf("publish not acknowledged within 60s")
	}
	return t.Error()
}

func (p *mqttPublisher) flush() error {
	for len(p.window) > 0 {
		if err := waitToken(<-p.window); err != nil {
			return err
		}
	}
	return nil
}

func (p *mqttPublisher) close() { p.flush(); p.c.Disconnect(100) }

type mqttSubscriber struct{ c paho.Client }

func (m *mqttBench) subscriber(ctx context.Context, i int, got func([]byte)) (benchSubscriber, error) {
	c, err := m.connect("bench-sub-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), nil)
	if err != nil {
		return nil, err
	}
	t := c.Subscribe(m.f.dest, byte(m.f.qos), func(_ paho.Client, msg paho.Message) { got(msg.Payload()) })
	if !t.WaitTimeout(20*time.Second) || t.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("subscribe: %v", t.Error())
	}
	return &mqttSubscriber{c: c}, nil
}

func (s *mqttSubscriber) close() { s.c.Disconnect(100) }

type pahoCloser struct{ c paho.Client }

func (p pahoCloser) Close() error { p.c.Disconnect(0); return nil }

func (m *mqttBench) idle(ctx context.Context, i int) (io.Closer, error) {
	c, err := m.connect("idle-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), func(o *paho.ClientOptions) { o.SetKeepAlive(300 * time.Second) })
	if err != nil {
		return nil, err
	}
	return pahoCloser{c}, nil
}
