package mqtt_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/eclipse/paho.golang/paho"
	"github.com/junctionmq/junction/internal/browsertest"
)

const (
	// MQTT.js' browser bundle, as `make test-deps` installs it, relative to
	// the repository root and as the test page requests it.
	mqttJSPath = "testdata/js/node_modules/mqtt/dist/mqtt.min.js"
)

// browserPage connects MQTT.js (5.16.0) over WebSocket with the protocol
// version in the query, subscribes, publishes one message once subscribed,
// and records what it receives in window variables the test polls.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Junction MQTT over WebSocket</title>
<script src="/` + mqttJSPath + `"></script></head>
<body><script>
window.state = 'loading';
window.received = [];
window.errors = [];
const params = new URLSearchParams(location.search);
const v = Number(params.get('v'));
const client = mqtt.connect('ws://' + params.get('ws') + '/mqtt', {
  protocolVersion: v, clientId: 'browser-v' + v, clean: true,
  reconnectPeriod: 0, connectTimeout: 5000, keepalive: 30,
});
client.on('connect', () => {
  client.subscribe('browser/down/' + v, {qos: 1}, (err, granted) => {
    if (err || granted[0].qos !== 1) { window.errors.push('subscribe: ' + (err || JSON.stringify(granted))); return; }
    window.state = 'subscribed';
    const opts = {qos: 1};
    if (v === 5) opts.properties = {userProperties: {origin: 'browser'}, contentType: 'text/plain'};
    client.publish('browser/up/' + v, 'hello from ' + navigator.userAgent.split(' ')[0], opts, (err) => {
      if (err) window.errors.push('publish: ' + err);
    });
  });
});
client.on('message', (topic, payload, packet) => {
  const props = packet.properties || {};
  window.received.push({topic: topic, body: payload.toString(), qos: packet.qos,
    note: (props.userProperties && props.userProperties.note) || ''});
});
client.on('error', (e) => window.errors.push('error: ' + e.message));
</script></body></html>`

// TestBrowserMQTTJS runs MQTT.js in headless chromium against the broker's
// WebSocket listener, as MQTT 3.1.1 and 5.0, and exchanges messages both
// ways with a paho client on TCP.
func TestBrowserMQTTJS(t *testing.T) {
	jsFile := filepath.Join("..", "..", mqttJSPath)
	browsertest.Require(t, jsFile)
	t.Parallel()
	s := startBroker(t, nil)
	tcp, _ := dial5(t, s.Addr("mqtt"), &paho.Connect{ClientID: "browser-peer", CleanStart: true})
	tcp.sub(paho.SubscribeOptions{Topic: "browser/up/+", QoS: 1})

	webURL := browsertest.Serve(t, browserPage, map[string]string{"/" + mqttJSPath: jsFile})
	ctx := browsertest.Start(t, 60*time.Second)
	pollFor := 2 * waitFor

	for _, v := range []int{4, 5} {
		t.Run(fmt.Sprint("protocol version ", v), func(t *testing.T) {
			url := fmt.Sprintf("%s/?ws=%s&v=%d", webURL, s.Addr("ws"), v)
			if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
				t.Fatalf("navigate to %s: %v", url, err)
			}
			if _, err := browsertest.Poll[bool](ctx, `window.state === 'subscribed' || window.errors.length > 0`, pollFor); err != nil {
				t.Fatalf("MQTT.js never subscribed: %v (%s)", err, browsertest.PageErrors(ctx))
			}
			if errs := browsertest.PageErrors(ctx); errs != "" {
				t.Fatalf("MQTT.js reported: %s", errs)
			}

			// Browser -> Go.
			m := tcp.recv()
			if m.Topic != fmt.Sprint("browser/up/", v) || !strings.HasPrefix(string(m.Payload), "hello from ") || m.QoS != 1 {
				t.Fatalf("paho got %q on %s QoS %d", m.Payload, m.Topic, m.QoS)
			}
			if v == 5 && (m.Properties == nil || m.Properties.User.Get("origin") != "browser" || m.Properties.ContentType != "text/plain") {
				t.Fatalf("paho got properties %+v", m.Properties)
			}

			// Go -> browser.
			tcp.pub(&paho.Publish{Topic: fmt.Sprint("browser/down/", v), QoS: 1, Payload: []byte("hello browser"),
				Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "note", Value: "from go"}}}})
			type received struct {
				Topic string `json:"topic"`
				Body  string `json:"body"`
				QoS   int    `json:"qos"`
				Note  string `json:"note"`
			}
			got, err := browsertest.Poll[[]received](ctx, `window.received.length > 0 && window.received`, pollFor)
			if err != nil {
				t.Fatalf("the browser received nothing: %v (%s)", err, browsertest.PageErrors(ctx))
			}
			want := received{Topic: fmt.Sprint("browser/down/", v), Body: "hello browser", QoS: 1}
			if v == 5 {
				want.Note = "from go"
			}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("the browser received %+v, want %+v", got, want)
			}
			// Close the page's client cleanly before navigating away.
			if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`client.end()`)); err != nil {
				t.Errorf("client.end: %v", err)
			}
		})
	}
}
