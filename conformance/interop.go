package conformance

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
	"github.com/go-stomp/stomp/v3"
)

// Interop checks send on one protocol and receive on another through a
// topic, the one kind of address all these brokers share across
// protocols: STOMP /topic/a.b, MQTT a/b, AMQP's topic address and the JMS
// topic a.b name one topic on each of them.
var interopProtocols = []string{"stomp", "mqtt", "amqp", "openwire"}

func init() {
	for _, s := range interopProtocols {
		for _, r := range interopProtocols {
			if s == r {
				continue
			}
			register(check{protocol: "interop", feature: s + " -> " + r, sender: s, receiver: r, run: func(ctx context.Context, e *env) error {
				return interop(ctx, e, s, r)
			}})
		}
	}
}

// subscriber waits for one message on a topic.
type subscriber struct {
	next  func(context.Context) ([]byte, error)
	close func()
}

func interop(ctx context.Context, e *env, from, to string) error {
	name := e.name("interop" + from + to)
	sub, err := subscribe(ctx, e, to, name)
	if err != nil {
		return fmt.Errorf("%s subscriber: %w", to, err)
	}
	defer sub.close()
	body := []byte("from " + from + " to " + to)
	if err := publish(ctx, e, from, name, body); err != nil {
		return fmt.Errorf("%s publisher: %w", from, err)
	}
	got, err := sub.next(ctx)
	if err != nil {
		return fmt.Errorf("%s subscriber: %w", to, err)
	}
	if string(got) != string(body) {
		return fmt.Errorf("%s received %q, want %q", to, got, body)
	}
	return nil
}

func subscribe(ctx context.Context, e *env, proto, name string) (*subscriber, error) {
	switch proto {
	case "stomp":
		c, err := stompConn(ctx, e)
		if err != nil {
			return nil, err
		}
		s, err := c.Subscribe(stompTopic(name), stomp.AckAuto)
		if err != nil {
			c.Disconnect()
			return nil, err
		}
		// The receipt of a later frame on the same connection says the
		// SUBSCRIBE before it was handled.
		if err := c.Send(stompQueue(name+".barrier"), "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
			c.Disconnect()
			return nil, err
		}
		return &subscriber{
			next: func(ctx context.Context) ([]byte, error) {
				m, err := readMsg(ctx, s)
				if err != nil {
					return nil, err
				}
				return m.Body, nil
			},
			close: func() { c.Disconnect() },
		}, nil
	case "mqtt":
		c, msgs, err := mqttClient(ctx, e, e.clientID("isub"), true, nil)
		if err != nil {
			return nil, err
		}
		if err := subscribe3(ctx, c, mqttTopic(name), 1); err != nil {
			c.Disconnect(100)
			return nil, err
		}
		return &subscriber{
			next: func(ctx context.Context) ([]byte, error) {
				m, err := recv3(ctx, msgs)
				if err != nil {
					return nil, err
				}
				return m.Payload(), nil
			},
			close: func() { c.Disconnect(100) },
		}, nil
	case "amqp":
		s, done, err := amqpSession(ctx, e)
		if err != nil {
			return nil, err
		}
		r, err := s.NewReceiver(ctx, e.prof.amqpTopic(name), &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}})
		if err != nil {
			done()
			return nil, err
		}
		return &subscriber{
			next: func(ctx context.Context) ([]byte, error) {
				m, err := r.Receive(ctx, nil)
				if err != nil {
					return nil, err
				}
				_ = r.AcceptMessage(ctx, m)
				return []byte(text(m)), nil
			},
			close: done,
		}, nil
	case "openwire":
		return openwireSubscriber(ctx, e, name)
	}
	return nil, fmt.Errorf("no %s subscriber", proto)
}

func publish(ctx context.Context, e *env, proto, name string, body []byte) error {
	switch proto {
	case "stomp":
		c, err := stompConn(ctx, e)
		if err != nil {
			return err
		}
		defer c.Disconnect()
		return c.Send(stompTopic(name), "text/plain", body, stomp.SendOpt.Receipt)
	case "mqtt":
		c, _, err := mqttClient(ctx, e, e.clientID("ipub"), true, nil)
		if err != nil {
			return err
		}
		defer c.Disconnect(100)
		return wait(ctx, c.Publish(mqttTopic(name), 1, false, body))
	case "amqp":
		s, done, err := amqpSession(ctx, e)
		if err != nil {
			return err
		}
		defer done()
		snd, err := s.NewSender(ctx, e.prof.amqpTopic(name), &amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
		if err != nil {
			return err
		}
		return snd.Send(ctx, amqp.NewMessage(body), nil)
	case "openwire":
		return e.javaCheck(ctx, "interop-send", name, string(body))
	}
	return fmt.Errorf("no %s publisher", proto)
}
