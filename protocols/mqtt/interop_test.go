package mqtt_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/junctionmq/junction/protocols/mqtt/packet"
)

// TestMosquittoClients: Debian's mosquitto_pub and mosquitto_sub exchange
// messages with the broker at QoS 0, 1 and 2, in both directions, as 3.1,
// 3.1.1 and 5.0 clients.
func TestMosquittoClients(t *testing.T) {
	pubBin := requireTool(t, "/usr/bin/mosquitto_pub")
	subBin := requireTool(t, "/usr/bin/mosquitto_sub")
	t.Parallel()
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(s.Addr("mqtt"))
	versions := map[string]byte{"mqttv31": packet.Version31, "mqttv311": packet.Version311, "mqttv5": packet.Version5}

	for _, v := range []string{"mqttv31", "mqttv311", "mqttv5"} {
		for qos := range byte(3) {
			t.Run(fmt.Sprintf("mosquitto_pub %s QoS %d", v, qos), func(t *testing.T) {
				topic := fmt.Sprintf("interop/pub/%s/%d", v, qos)
				sub, _ := connectRaw(t, s.Addr("mqtt"), packet.Version5, "interop-sub-"+topic, true)
				sub.subscribe(1, packet.Subscription{Filter: topic, QoS: 2})
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				out, err := exec.CommandContext(ctx, pubBin, "-h", host, "-p", port, "-V", v, "-q", fmt.Sprint(qos),
					"-i", fmt.Sprintf("mpub-%s-%d", v, qos), "-t", topic, "-m", "from mosquitto").CombinedOutput()
				if err != nil {
					t.Fatalf("mosquitto_pub: %v: %s", err, out)
				}
				p := expectPublish(sub)
				if string(p.Payload) != "from mosquitto" || p.QoS != qos {
					t.Fatalf("got %q at QoS %d", p.Payload, p.QoS)
				}
				sub.ack(p)
			})

			t.Run(fmt.Sprintf("mosquitto_sub %s QoS %d", v, qos), func(t *testing.T) {
				topic := fmt.Sprintf("interop/sub/%s/%d", v, qos)
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				id := fmt.Sprintf("msub-%s-%d", v, qos)
				cmd := exec.CommandContext(ctx, subBin, "-h", host, "-p", port, "-V", v, "-q", fmt.Sprint(qos),
					"-i", id, "-t", topic, "-C", "1", "-F", "%q %t %p")
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// mosquitto_sub buffers its output: the subscription's queue
				// tells when it has subscribed.
				eventually(t, "mosquitto_sub subscribed", func() bool {
					_, ok := s.Core.Queue("mqtt:" + id + ":" + topic)
					return ok
				})
				pub, _ := connectRaw(t, s.Addr("mqtt"), versions[v], "interop-pub-"+topic, true)
				pub.publish(&packet.Publish{Topic: []byte(topic), QoS: qos, PacketID: 1, Payload: []byte("to mosquitto")})
				if err := cmd.Wait(); err != nil {
					t.Fatalf("mosquitto_sub: %v: %q", err, out.String())
				}
				if want := fmt.Sprintf("%d %s to mosquitto", qos, topic); strings.TrimSpace(out.String()) != want {
					t.Fatalf("mosquitto_sub printed %q, want %q", out.String(), want)
				}
			})
		}
	}

	t.Run("retained", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if out, err := exec.CommandContext(ctx, pubBin, "-h", host, "-p", port, "-V", "mqttv5", "-q", "1", "-r",
			"-t", "interop/retained", "-m", "kept").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
		out, err := exec.CommandContext(ctx, subBin, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1",
			"-t", "interop/retained", "-C", "1", "-F", "%r %p").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1 kept" {
			t.Fatalf("mosquitto_sub: %v: %q, want the retained message with RETAIN 1", err, out)
		}
	})
}
