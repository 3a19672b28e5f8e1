package mqtt

import (
	"strings"
	"unsafe"
)

// MQTT topics and core addresses use different separators: a topic's `/`
// becomes the address's `.`, and a `.` inside a topic level becomes `/`, so
// the mapping is its own inverse and loses nothing. In filters `+` becomes the
// core's one-word wildcard `*`; `#` is the same in both.
//
// `*` and `>` are ordinary characters in MQTT but wildcard words in the core
// (`>` is ActiveMQ's `#`). A level that is exactly `*` or `>`, after any
// number of backslashes, gets one more backslash in the core: `x/*/y` is the
// address `x.\*.y`, `x/\*` is `x.\\*`. Going back one backslash is removed
// from such a word. Only those words change, so the escape cannot collide
// with another topic and every other address reads the same in STOMP and
// AMQP. (`#` and `+` cannot appear in an MQTT topic name, and in a filter
// they are MQTT's own wildcards, so they need no escape.)

// escapedWord reports whether w is zero or more backslashes followed by a
// single `*` or `>`: the words the mapping escapes.
func escapedWord(w string) bool {
	n := len(w)
	if n == 0 || (w[n-1] != '*' && w[n-1] != '>') {
		return false
	}
	for i := 0; i < n-1; i++ {
		if w[i] != '\\' {
			return false
		}
	}
	return true
}

// mapWords exchanges '/' and '.' in s and rewrites each resulting word with
// fn when it matters; fn sees the word in the target form, whose separator
// is sep. It runs for every publish and every delivery, so the common cases
// take one pass and at most one allocation: no separator at all (s itself),
// and separators without a wildcard character (one new string).
func mapWords(s string, sep string, fn func(string) string) string {
	var seps, wild bool
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '.':
			seps = true
		case '*', '>', '+':
			wild = true
		}
	}
	if !seps && !wild {
		return s
	}
	out := s
	if seps {
		b := make([]byte, len(s))
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '/':
				b[i] = '.'
			case '.':
				b[i] = '/'
			default:
				b[i] = c
			}
		}
		// b is not used after this: the string takes it over.
		out = unsafe.String(&b[0], len(b))
	}
	if !wild {
		return out
	}
	words := strings.Split(out, sep)
	for i, w := range words {
		words[i] = fn(w)
	}
	return strings.Join(words, sep)
}

// escapeWord turns an MQTT level into a core word.
func escapeWord(w string) string {
	if escapedWord(w) {
		return `\` + w
	}
	return w
}

// unescapeWord turns a core word back into an MQTT level.
func unescapeWord(w string) string {
	if len(w) > 1 && w[0] == '\\' && escapedWord(w) {
		return w[1:]
	}
	return w
}

// topicToAddress maps a topic name to a core address: sensors/7/temp ->
// sensors.7.temp, x/*/y -> x.\*.y.
func topicToAddress(topic string) string { return mapWords(topic, ".", escapeWord) }

// addressToTopic maps a core address back to a topic name.
func addressToTopic(addr string) string { return mapWords(addr, "/", unescapeWord) }

// filterToPattern maps a topic filter to a core address pattern:
// sensors/+/temp -> sensors.*.temp, a/# -> a.#, x/*/# -> x.\*.#.
func filterToPattern(filter string) string {
	return mapWords(filter, ".", func(w string) string {
		if w == "+" {
			return "*"
		}
		return escapeWord(w)
	})
}
