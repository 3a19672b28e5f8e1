package stomp_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	stompc "github.com/go-stomp/stomp/v3"
	"github.com/junctionmq/junction/internal/browsertest"
)

const (
	// stomp.js' UMD bundle, as `make test-deps` installs it, relative to
	// this package and as the test page requests it.
	stompJSPath = "testdata/js/node_modules/@stomp/stompjs/bundles/stomp.umd.min.js"
)

// browserPage subscribes with stomp.js (7.5.0) over WebSocket, reports the
// subscription's receipt, publishes one message and records what it
// receives, all in window variables the test polls.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Junction STOMP over WebSocket</title>
<script src="/` + stompJSPath + `"></script></head>
<body><script>
window.state = 'loading';
window.received = [];
window.errors = [];
const params = new URLSearchParams(location.search);
const client = new StompJs.Client({
  brokerURL: 'ws://' + params.get('ws') + '/',
  reconnectDelay: 0,
  heartbeatIncoming: 0,
  heartbeatOutgoing: 0,
});
client.onConnect = (frame) => {
  window.version = frame.headers['version'];
  client.watchForReceipt('sub-1', () => {
    window.state = 'subscribed';
    client.publish({
      destination: '/queue/from.browser',
      body: 'hello from ' + navigator.userAgent.split(' ')[0],
      headers: {'x-origin': 'browser', 'content-type': 'text/plain'},
    });
  });
  client.subscribe('/queue/to.browser', (m) => {
    window.received.push({body: m.body, note: m.headers['x-note'] || ''});
  }, {receipt: 'sub-1'});
};
client.onStompError = (f) => window.errors.push('ERROR: ' + f.headers['message']);
client.onWebSocketError = () => window.errors.push('WebSocket error');
client.activate();
</script></body></html>`

// TestBrowserStompJS runs stomp.js in headless chromium against the
// broker's WebSocket listener and exchanges messages both ways with a
// go-stomp client on TCP.
func TestBrowserStompJS(t *testing.T) {
	jsFile := filepath.Join("..", "..", stompJSPath)
	browsertest.Require(t, jsFile)
	s := startBroker(t, nil)
	tcp := dial(t, s)
	fromBrowser := tcp.subscribe("/queue/from.browser", stompc.AckAuto)

	webURL := browsertest.Serve(t, browserPage, map[string]string{"/" + stompJSPath: jsFile})
	ctx := browsertest.Start(t, 30*time.Second)

	url := webURL + "/?ws=" + s.Addr("ws")
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	if _, err := browsertest.Poll[bool](ctx, `window.state === 'subscribed' || window.errors.length > 0`, waitFor); err != nil {
		t.Fatalf("stomp.js never subscribed: %v (%s)", err, browsertest.PageErrors(ctx))
	}
	if errs := browsertest.PageErrors(ctx); errs != "" {
		t.Fatalf("stomp.js reported: %s", errs)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.version`)); err != nil || v != "1.2" {
		t.Errorf("stomp.js negotiated STOMP %q (%v), want 1.2", v, err)
	}

	// Browser -> Go.
	m := recv(t, fromBrowser)
	if !strings.HasPrefix(string(m.Body), "hello from ") {
		t.Fatalf("go-stomp got %q from the browser", m.Body)
	}
	wantHeader(t, m, "x-origin", "browser")

	// Go -> browser, with a header stomp.js must unescape.
	tcp.send("/queue/to.browser", "hello browser", "x-note", "a:b\nc")
	type received struct {
		Body string `json:"body"`
		Note string `json:"note"`
	}
	got, err := browsertest.Poll[[]received](ctx, `window.received.length > 0 && window.received`, waitFor)
	if err != nil {
		t.Fatalf("the browser received nothing: %v (%s)", err, browsertest.PageErrors(ctx))
	}
	if len(got) != 1 || got[0].Body != "hello browser" || got[0].Note != "a:b\nc" {
		t.Fatalf("the browser received %+v", got)
	}

	// Close the page's client cleanly before the browser goes away.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`client.deactivate()`)); err != nil {
		t.Errorf("deactivate: %v", err)
	}
}
