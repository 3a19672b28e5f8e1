package transport

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzMatchSubprotocol checks the Sec-WebSocket-Protocol parser against a
// naive reference: the first offered token that is registered wins.
func FuzzMatchSubprotocol(f *testing.F) {
	for _, seed := range []string{
		"v12.stomp, v11.stomp, v10.stomp",
		"mqtt",
		"mqttv3.1",
		" ,, MQTT\t,",
		"amqp, V10.STOMP",
		"",
		",",
		"v12.stomp,mqtt",
	} {
		f.Add(seed, "")
		f.Add(seed, "mqtt, x")
	}
	ws := NewWebSocket(nil)
	if err := ws.HandleSTOMP(echo); err != nil {
		f.Fatal(err)
	}
	if err := ws.HandleMQTT(echo); err != nil {
		f.Fatal(err)
	}
	registered := []string{SubprotocolSTOMP10, SubprotocolSTOMP11, SubprotocolSTOMP12, SubprotocolMQTT, SubprotocolMQTT31}

	f.Fuzz(func(t *testing.T, v1, v2 string) {
		values := []string{v1, v2}
		reg, tok := ws.match(values)

		var wantTok, wantProto string
	search:
		for _, v := range values {
			for _, part := range strings.Split(v, ",") {
				part = strings.Trim(part, " \t")
				for _, p := range registered {
					if part != "" && strings.EqualFold(part, p) {
						wantTok, wantProto = part, p
						break search
					}
				}
			}
		}
		switch {
		case wantTok == "" && reg != nil:
			t.Fatalf("match(%q) = %q, want no match", values, tok)
		case wantTok != "" && (reg == nil || tok != wantTok || !strings.EqualFold(reg.proto, wantProto)):
			t.Fatalf("match(%q) = %v %q, want %q", values, reg, tok, wantTok)
		}

		h := http.Header{"Upgrade": values}
		got := headerHasToken(h, "Upgrade", "websocket")
		want := false
		for _, v := range values {
			for _, part := range strings.Split(v, ",") {
				if strings.EqualFold(strings.Trim(part, " \t"), "websocket") {
					want = true
				}
			}
		}
		if got != want {
			t.Fatalf("headerHasToken(%q) = %v, want %v", values, got, want)
		}
	})
}
