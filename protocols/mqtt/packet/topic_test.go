package packet

import (
	"strings"
	"testing"
)

func TestValidTopicName(t *testing.T) {
	cases := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"/", true},
		{"a//b/", true},
		{"$SYS/broker/load", true},
		{"sport/tennis/player1", true},
		{"ü/日本", true},
		{"", false},                         // [MQTT-4.7.3-1]
		{"a/+", false},                      // [MQTT-4.7.0-1]
		{"a/#", false},                      // [MQTT-4.7.0-1]
		{"a+b", false},                      // a wildcard anywhere
		{"a\x00b", false},                   // [MQTT-4.7.3-2]
		{"a\xffb", false},                   // [MQTT-1.5.4-1]
		{strings.Repeat("a", 65535), true},  // [MQTT-4.7.3-3]
		{strings.Repeat("a", 65536), false}, // [MQTT-4.7.3-3]
	}
	for _, c := range cases {
		if got := ValidTopicName(c.s); got != c.want {
			t.Errorf("ValidTopicName(%.20q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestValidTopicFilter(t *testing.T) {
	cases := []struct {
		s    string
		want bool
	}{
		// Examples of spec 4.7.1.
		{"sport/tennis/player1/#", true},
		{"sport/#", true},
		{"#", true},
		{"sport/tennis#", false}, // [MQTT-4.7.1-1]
		{"sport/tennis/#/ranking", false},
		{"+", true},
		{"+/tennis/#", true},
		{"sport+", false}, // [MQTT-4.7.1-2]
		{"sport/+/player1", true},
		{"/+", true},
		{"+/+", true},
		{"a/++", false},
		{"a/+b", false},
		{"##", false},
		{"a/#/", false},
		{"$SYS/#", true},
		{"$share/g/a/#", true},
		{"", false},      // [MQTT-4.7.3-1]
		{"a\x00", false}, // [MQTT-4.7.3-2]
		{"\xc0\x80", false},
	}
	for _, c := range cases {
		if got := ValidTopicFilter(c.s); got != c.want {
			t.Errorf("ValidTopicFilter(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		// Spec 4.7.1.2: "sport/tennis/player1/#" matches these three.
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"#", "a/b/c", true},
		{"#", "/", true},
		// Spec 4.7.1.3.
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player2", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+/#", "a", true},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/b", "A/b", false}, // case sensitive [MQTT-4.7.3-4]
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		// [MQTT-4.7.2-1]: wildcard-first filters skip $ topics.
		{"#", "$SYS/broker", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"a/#", "a/$x", true},
	}
	for _, c := range cases {
		if got := MatchTopic(c.filter, c.topic); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestParseShared(t *testing.T) {
	cases := []struct {
		in            string
		group, filter string
		ok            bool
	}{
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true},
		{"$share/consumer2/sport/tennis/+", "consumer2", "sport/tennis/+", true},
		{"$share/g/#", "g", "#", true},
		{"$share/g//", "g", "/", true},
		{"sport/tennis", "", "", false},
		{"$share/", "", "", false},     // [MQTT-4.8.2-1] empty ShareName
		{"$share//a", "", "", false},   // [MQTT-4.8.2-1]
		{"$share/g", "", "", false},    // [MQTT-4.8.2-2] no "/" after ShareName
		{"$share/g/", "", "", false},   // [MQTT-4.8.2-2] no Topic Filter
		{"$share/g+/a", "", "", false}, // [MQTT-4.8.2-2]
		{"$share/#/a", "", "", false},  // [MQTT-4.8.2-2]
		{"$share/g/a#", "", "", false}, // invalid Topic Filter
		{"$sharex/g/a", "", "", false},
	}
	for _, c := range cases {
		group, filter, ok := ParseShared(c.in)
		if group != c.group || filter != c.filter || ok != c.ok {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q, %v", c.in, group, filter, ok, c.group, c.filter, c.ok)
		}
		if IsShared(c.in) != strings.HasPrefix(c.in, "$share/") {
			t.Errorf("IsShared(%q) wrong", c.in)
		}
	}
}

func TestValidUTF8(t *testing.T) {
	cases := []struct {
		b    string
		want bool
	}{
		{"", true},
		{"ascii", true},
		{"h\u00e9llo \u65e5\u672c \U0001F600", true},
		{"\ufeff", true}, // BOM is a character, kept [MQTT-1.5.4-3]
		{"\x00", false},
		{"\u00e9\x00", false},       // U+0000 after a multi-byte character
		{"\xed\xa0\x80", false},     // U+D800
		{"\xed\xbf\xbf", false},     // U+DFFF
		{"\xc0\xaf", false},         // overlong
		{"\xf4\x90\x80\x80", false}, // above U+10FFFF
		{"\xe2\x82", false},         // truncated
	}
	for _, c := range cases {
		if validUTF8([]byte(c.b)) != c.want || validUTF8String(c.b) != c.want {
			t.Errorf("validUTF8(%q) != %v", c.b, c.want)
		}
	}
}

// TestClassifyBytes checks the word-at-a-time classifier against the
// byte-at-a-time one, with every interesting byte at every offset.
func TestClassifyBytes(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0x00, 0x01, '+', '#', 0x22, 0x24, 0x2A, 0x2C, 0x7F, 0x80, 0xFF} {
				b := []byte(strings.Repeat("a", n))
				b[pos] = c
				if got, want := classifyBytes(b), classify(b); got != want {
					t.Fatalf("classifyBytes(% x) = %b, want %b", b, got, want)
				}
			}
		}
	}
}
