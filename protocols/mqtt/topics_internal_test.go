package mqtt

import "testing"

// TestTopicMappingRoundTrips: every topic comes back from its core address
// unchanged, and no two topics share an address.
func TestTopicMappingRoundTrips(t *testing.T) {
	topics := []string{"a/b", "a.b/c", "*", ">", `\*`, `\\>`, `\`, `\\`, "x/*/y", `x/\*/y`, "x/**/y", "x/*a", `a\b/*`, "", "/", "*/>", `>\`}
	seen := map[string]string{}
	for _, topic := range topics {
		addr := topicToAddress(topic)
		if back := addressToTopic(addr); back != topic {
			t.Errorf("%q -> %q -> %q", topic, addr, back)
		}
		if other, ok := seen[addr]; ok {
			t.Errorf("%q and %q both map to %q", topic, other, addr)
		}
		seen[addr] = topic
	}
	for filter, want := range map[string]string{"x/*/y": `x.\*.y`, "x/+/y": "x.*.y", "x/>": `x.\>`, "x/#": "x.#", `x/\>/#`: `x.\\>.#`, "+/*": `*.\*`} {
		if got := filterToPattern(filter); got != want {
			t.Errorf("filterToPattern(%q) = %q, want %q", filter, got, want)
		}
	}
}
