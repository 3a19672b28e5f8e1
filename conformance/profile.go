package conformance

import (
	"context"
	"net"
	"strings"

	"github.com/go-stomp/stomp/v3"
)

// profile is how one broker names queues and topics on each protocol: the
// one thing a client must know of its broker. Names given to it are dotted
// words ("conformance.ab12.queue3").
type profile struct {
	name string
	// amqpQueue and amqpTopic address a queue and a topic from AMQP 1.0.
	amqpQueue, amqpTopic func(string) string
	// openwire names are the dotted words on every broker that speaks it.
}

func stompQueue(n string) string { return "/queue/" + n }
func stompTopic(n string) string { return "/topic/" + n }

// mqttTopic turns dotted words into MQTT levels: every broker here maps
// MQTT's "/" to its own "." (ActiveMQ, RabbitMQ's amq.topic, Junction).
func mqttTopic(n string) string { return strings.ReplaceAll(n, ".", "/") }

var profiles = map[string]profile{
	"junction": {
		name:      "junction",
		amqpQueue: func(n string) string { return "queue://" + n },
		amqpTopic: func(n string) string { return "topic://" + n },
	},
	// ActiveMQ Classic's AMQP transport (when installed) takes the same
	// prefixes as Junction.
	"activemq": {
		name:      "activemq",
		amqpQueue: func(n string) string { return "queue://" + n },
		amqpTopic: func(n string) string { return "topic://" + n },
	},
	// RabbitMQ's AMQP 1.0 plugin: /queue/NAME and /topic/ROUTING-KEY (the
	// amq.topic exchange, where its STOMP /topic/ and MQTT topics go too).
	"rabbitmq": {
		name:      "rabbitmq",
		amqpQueue: func(n string) string { return "/queue/" + n },
		amqpTopic: func(n string) string { return "/topic/" + n },
	},
	"mosquitto": {
		name:      "mosquitto",
		amqpQueue: func(n string) string { return n },
		amqpTopic: func(n string) string { return n },
	},
}

// profileFor picks the profile asked for, else the one the detected
// broker's name suggests, else Junction's.
func profileFor(asked, broker string) profile {
	if p, ok := profiles[strings.ToLower(asked)]; ok {
		return p
	}
	b := strings.ToLower(broker)
	for _, name := range []string{"activemq", "rabbitmq", "mosquitto", "junction"} {
		if strings.Contains(b, name) {
			return profiles[name]
		}
	}
	return profiles["junction"]
}

// detect names the broker from what it says of itself: the STOMP CONNECTED
// frame's server header. Without STOMP it stays "unknown" (or the profile
// asked for).
func detect(ctx context.Context, e *env) string {
	if e.STOMP != "" {
		c, err := dialSTOMP(ctx, e)
		if err == nil {
			s := c.Server()
			_ = c.Disconnect()
			if s != "" {
				return s
			}
		}
	}
	if e.AMQP != "" {
		if p := amqpProduct(ctx, e); p != "" {
			return p
		}
	}
	if e.Profile != "" {
		return e.Profile
	}
	if e.STOMP == "" && e.AMQP == "" && e.OpenWire == "" && e.MQTT != "" {
		return "unknown (MQTT only)"
	}
	return "unknown"
}

// dialSTOMP opens a STOMP 1.2 connection with go-stomp's default options
// (as a user would), logging in when a user is given. The host header is
// "/", RabbitMQ's default virtual host, which the others ignore.
func dialSTOMP(ctx context.Context, e *env, opts ...func(*stomp.Conn) error) (*stomp.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", e.STOMP)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	all := []func(*stomp.Conn) error{stomp.ConnOpt.Host("/")}
	if e.User != "" {
		all = append(all, stomp.ConnOpt.Login(e.User, e.Password))
	}
	c, err := stomp.Connect(nc, append(all, opts...)...)
	if err != nil {
		nc.Close()
		return nil, err
	}
	// The deadline was for the handshake; checks bound their own waits.
	_ = nc.SetDeadline(timeZero)
	return c, nil
}
