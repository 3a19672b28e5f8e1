package mqtt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coder/websocket"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestWebSocket runs MQTT over the WebSocket listener (binary messages,
// subprotocol "mqtt", or "mqttv3.1" for 3.1) and exchanges messages with a
// client on the TCP listener.
func TestWebSocket(t *testing.T) {
	s := startBroker(t, nil)
	tcp, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "ws-tcp", true)
	tcp.subscribe(1, packet.Subscription{Filter: "ws/up/#", QoS: 2})

	for _, tc := range []struct {
		subprotocol string
		ver         byte
	}{{"mqtt", packet.Version311}, {"mqtt", packet.Version5}, {"mqttv3.1", packet.Version31}} {
		t.Run(fmt.Sprintf("%s v%d", tc.subprotocol, tc.ver), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr("ws")+"/mqtt", &websocket.DialOptions{Subprotocols: []string{tc.subprotocol}})
			if err != nil {
				t.Fatalf("WebSocket dial: %v", err)
			}
			defer ws.CloseNow()
			if p := ws.Subprotocol(); p != tc.subprotocol {
				t.Fatalf("negotiated subprotocol %q, want %q", p, tc.subprotocol)
			}
			c := newRaw(t, websocket.NetConn(ctx, ws, websocket.MessageBinary), tc.ver)
			id := fmt.Sprint("ws-", tc.ver)
			c.mustConnect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
			down := fmt.Sprint("ws/down/", tc.ver)
			c.subscribe(1, packet.Subscription{Filter: down, QoS: 2})

			// WebSocket -> TCP.
			up := fmt.Sprint("ws/up/", tc.ver)
			c.publish(&packet.Publish{Topic: []byte(up), QoS: 1, PacketID: 2, Payload: []byte("over ws")})
			p := expectPublish(tcp)
			if string(p.Topic) != up || string(p.Payload) != "over ws" || p.QoS != 1 {
				t.Fatalf("TCP got %q on %s QoS %d", p.Payload, p.Topic, p.QoS)
			}
			tcp.ack(p)
			// TCP -> WebSocket, QoS 2 both ways.
			tcp.publish(&packet.Publish{Topic: []byte(down), QoS: 2, PacketID: 3, Payload: []byte("to ws")})
			p = expectPublish(c)
			if string(p.Payload) != "to ws" || p.QoS != 2 {
				t.Fatalf("WebSocket got %q QoS %d", p.Payload, p.QoS)
			}
			c.ack(p)
			c.write(&packet.Disconnect{})
			c.expectClosed()
		})
	}

	t.Run("paho over ws://", func(t *testing.T) {
		cl := dial3(t, s.Addr("ws"), "ws-paho", func(o *mqtt3.ClientOptions) {
			o.Servers = nil
			o.AddBroker("ws://" + s.Addr("ws") + "/mqtt")
		})
		cl.sub("ws/paho", 1)
		cl.pub("ws/up/paho", 2, false, "paho ws")
		if p := expectPublish(tcp); string(p.Payload) != "paho ws" {
			t.Fatalf("got %q", p.Payload)
		} else {
			tcp.ack(p)
		}
		tcp.publish(&packet.Publish{Topic: []byte("ws/paho"), QoS: 1, PacketID: 4, Payload: []byte("to paho")})
		if m := cl.recv(); m.payload != "to paho" || m.qos != 1 {
			t.Fatalf("got %+v", m)
		}
	})
}
