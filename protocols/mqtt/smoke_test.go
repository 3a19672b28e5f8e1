package mqtt_test

import (
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

func TestSmoke(t *testing.T) {
	s := startBroker(t, nil)
	c, _ := connectRaw(t, s.Addr("mqtt"), packet.Version311, "a", true)
	c.subscribe(1, packet.Subscription{Filter: "a/b", QoS: 1})
	c.publish(&packet.Publish{Topic: []byte("a/b"), QoS: 1, PacketID: 5, Payload: []byte("hi")})
	p := expectPublish(c)
	t.Logf("%+v", p)
	c.ack(p)
	c3 := dial3(t, s.Addr("mqtt"), "p3", nil)
	c3.sub("x/#", 2)
	c3.pub("x/y", 2, false, "hello")
	t.Logf("%+v", c3.recv())
	c5, ack := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "p5", CleanStart: true})
	t.Logf("%+v", ack.Properties)
	c5.sub(paho.SubscribeOptions{Topic: "z/+", QoS: 2})
	c5.pub(&paho.Publish{Topic: "z/1", QoS: 2, Payload: []byte("five")})
	t.Logf("%+v", c5.recv())
}
