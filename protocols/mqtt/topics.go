package mqtt

import "strings"

// MQTT topics and core addresses use different separators: a topic's `/`
// becomes the address's `.`, and a `.` inside a topic level becomes `/`, so
// the mapping is its own inverse and loses nothing. In filters `+` becomes the
// core's one-word wildcard `*`; `#` is the same in both.

// swapSeparators exchanges '/' and '.'.
func swapSeparators(s string) string {
	if !strings.ContainsAny(s, "/.") {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '/':
			b[i] = '.'
		case '.':
			b[i] = '/'
		}
	}
	return string(b)
}

// topicToAddress maps a topic name to a core address: sensors/7/temp -> sensors.7.temp.
func topicToAddress(topic string) string { return swapSeparators(topic) }

// addressToTopic maps a core address back to a topic name.
func addressToTopic(addr string) string { return swapSeparators(addr) }

// filterToPattern maps a topic filter to a core address pattern:
// sensors/+/temp -> sensors.*.temp, a/# -> a.#.
func filterToPattern(filter string) string {
	s := swapSeparators(filter)
	if !strings.Contains(s, "+") {
		return s
	}
	words := strings.Split(s, ".")
	for i, w := range words {
		if w == "+" {
			words[i] = "*"
		}
	}
	return strings.Join(words, ".")
}
