package openwire

import (
	"testing"

	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// TestMessageIDText: a MessageId renders as the client's toString, a
// producer's cached prefix gives the same text, and only the canonical
// text parses back (so parse then render is the identity).
func TestMessageIDText(t *testing.T) {
	id := &wire.MessageID{ProducerID: &wire.ProducerID{ConnectionID: "ID:host-1234-1700000000000-1:1", SessionID: 2, Value: 3}, ProducerSequenceID: 42}
	const want = "ID:host-1234-1700000000000-1:1:2:3:42"
	if got := messageIDString(id); got != want {
		t.Fatalf("messageIDString = %q, want %q", got, want)
	}
	p := &producer{id: *id.ProducerID}
	for range 2 { // the second call uses the cached prefix
		if got := p.messageIDString(id); got != want {
			t.Fatalf("producer messageIDString = %q, want %q", got, want)
		}
	}
	other := &wire.MessageID{ProducerID: &wire.ProducerID{ConnectionID: "ID:other", SessionID: 1, Value: 1}, ProducerSequenceID: 7}
	if got := p.messageIDString(other); got != "ID:other:1:1:7" {
		t.Fatalf("another producer's id through p = %q", got)
	}
	back, ok := parseMessageID(want)
	if !ok || messageIDString(back) != want {
		t.Fatalf("parse %q = %+v, %v", want, back, ok)
	}
	for _, bad := range []string{"ID:x:1:2:03", "ID:x:1:2:+3", "ID:x:1:2:", "ID:x:1:2:a", "3", "ID:x:-0:2:3", "ID:x:1:2:99999999999999999999"} {
		if got, ok := parseMessageID(bad); ok {
			t.Errorf("parseMessageID(%q) = %+v, want a refusal", bad, got)
		}
	}
	if got, ok := parseMessageID("ID:x:1:-2:3"); !ok || got.ProducerID.Value != -2 {
		t.Errorf("negative producer value: %+v, %v", got, ok)
	}
}
