package packet

import (
	"strings"
	"unicode/utf8"
)

// ValidTopicName reports whether s may be used as a Topic Name in PUBLISH:
// 1 to 65535 bytes [MQTT-4.7.3-1] [MQTT-4.7.3-3] of well-formed UTF-8
// without U+0000 [MQTT-4.7.3-2], and no wildcard characters [MQTT-4.7.0-1]
// (3.1.1: [MQTT-4.7.1-1]).
func ValidTopicName(s string) bool {
	if len(s) == 0 || len(s) > 0xffff {
		return false
	}
	cls := classify(s)
	return cls&(clsNul|clsWild) == 0 && (cls&clsHigh == 0 || utf8.ValidString(s))
}

// ValidTopicFilter reports whether s is a syntactically valid Topic Filter:
// 1 to 65535 bytes of well-formed UTF-8 without U+0000, '+' occupying a whole
// level [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-3]) and '#' occupying the last
// level [MQTT-4.7.1-1] (3.1.1: [MQTT-4.7.1-2]). A "$share/" filter is checked
// as a whole string here; use ParseShared to check its parts for MQTT 5.0.
func ValidTopicFilter(s string) bool {
	if len(s) == 0 || len(s) > 0xffff || !validUTF8String(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && s[i-1] != '/') || i+1 != len(s) {
				return false
			}
		}
	}
	return true
}

// MatchTopic reports whether the Topic Name topic matches the Topic Filter
// filter (both assumed valid): '+' matches exactly one level, '#' matches
// the parent level and any number of levels below it ("a/#" matches "a"),
// and a filter starting with a wildcard does not match a topic starting with
// '$' [MQTT-4.7.2-1]. Matching is byte-for-byte with no normalisation
// [MQTT-4.7.3-4]. A shared subscription's filter must first be stripped of
// its "$share/{ShareName}/" prefix (see ParseShared).
func MatchTopic(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		if filter == "#" {
			return true
		}
		fl, frest, fmore := strings.Cut(filter, "/")
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case fmore && tmore:
			filter, topic = frest, trest
		case !fmore && !tmore:
			return true
		case fmore && !tmore:
			// The topic ended: only a trailing "/#" still matches ("a/#" ~ "a").
			return frest == "#"
		default:
			return false
		}
	}
}

// SharePrefix starts every MQTT 5.0 shared subscription filter.
const SharePrefix = "$share/"

// IsShared reports whether filter names a shared subscription. MQTT 5.0
// defines "$share/"; the server gives it the same meaning for 3.1.1 clients,
// as Mosquitto, HiveMQ and EMQX do (docs/MQTT.md).
func IsShared(filter string) bool { return strings.HasPrefix(filter, SharePrefix) }

// ParseShared splits a shared subscription filter "$share/{ShareName}/{filter}"
// into its ShareName and Topic Filter. ok is false when filter does not start
// with "$share/", when the ShareName is empty or contains '+' or '#'
// [MQTT-4.8.2-1] [MQTT-4.8.2-2], or when no valid Topic Filter follows it.
func ParseShared(filter string) (group, topicFilter string, ok bool) {
	rest, found := strings.CutPrefix(filter, SharePrefix)
	if !found {
		return "", "", false
	}
	group, topicFilter, found = strings.Cut(rest, "/")
	if !found || group == "" || strings.ContainsAny(group, "+#") || !ValidTopicFilter(topicFilter) {
		return "", "", false
	}
	return group, topicFilter, true
}
