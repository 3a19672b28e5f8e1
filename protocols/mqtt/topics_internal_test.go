package mqtt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

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

// FuzzTopicMapping: any topic name comes back from its address unchanged,
// and the one-pass mapping agrees with the plain definition (swap the
// separators, then rewrite each word).
func FuzzTopicMapping(f *testing.F) {
	for _, s := range []string{"a/b", "a.b/c", "*", `x/\*/y`, "sensors/7/temp", "plain", "", "/", "a+b/>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		swapped := strings.Map(func(r rune) rune {
			switch r {
			case '/':
				return '.'
			case '.':
				return '/'
			}
			return r
		}, topic)
		words := strings.Split(swapped, ".")
		for i, w := range words {
			words[i] = escapeWord(w)
		}
		if want, got := strings.Join(words, "."), topicToAddress(topic); got != want && utf8.ValidString(topic) {
			t.Fatalf("topicToAddress(%q) = %q, want %q", topic, got, want)
		}
		if strings.ContainsAny(topic, "+#") {
			return // not a topic name
		}
		if back := addressToTopic(topicToAddress(topic)); back != topic {
			t.Fatalf("%q -> %q -> %q", topic, topicToAddress(topic), back)
		}
	})
}
