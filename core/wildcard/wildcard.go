// Package wildcard implements Junction's address patterns: dot-separated words
// where `*` matches exactly one word and `#` (or its ActiveMQ alias `>`) matches
// zero or more words. Address settings, security permissions and wildcard
// subscriptions all use these rules, so they live in one leaf package.
package wildcard

import "strings"

const (
	// Separator divides the words of an address.
	Separator = '.'
	// AnyWord matches exactly one word.
	AnyWord = "*"
	// AnyWords matches zero or more words.
	AnyWords = "#"
	// AnyWordsAlias is ActiveMQ's spelling of AnyWords.
	AnyWordsAlias = ">"
)

// Normalize rewrites the ActiveMQ alias `>` to `#` so patterns compare equal.
func Normalize(pattern string) string {
	if !strings.Contains(pattern, AnyWordsAlias) {
		return pattern
	}
	words := strings.Split(pattern, ".")
	for i, w := range words {
		if w == AnyWordsAlias {
			words[i] = AnyWords
		}
	}
	return strings.Join(words, ".")
}

// IsPattern reports whether s contains a wildcard word.
func IsPattern(s string) bool {
	for w := range strings.SplitSeq(s, ".") {
		if w == AnyWord || w == AnyWords || w == AnyWordsAlias {
			return true
		}
	}
	return false
}

// Match reports whether name matches pattern.
func Match(pattern, name string) bool {
	return matchWords(strings.Split(Normalize(pattern), "."), strings.Split(name, "."))
}

func matchWords(pat, words []string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case AnyWords:
			for k := 0; k <= len(words); k++ {
				if matchWords(pat[1:], words[k:]) {
					return true
				}
			}
			return false
		case AnyWord:
			if len(words) == 0 {
				return false
			}
		default:
			if len(words) == 0 || words[0] != pat[0] {
				return false
			}
		}
		pat, words = pat[1:], words[1:]
	}
	return len(words) == 0
}

// Compare orders two patterns by specificity: it returns >0 when a is more
// specific than b, <0 when less, 0 when equal. Words are compared from the left:
// a literal word beats `*`, which beats `#`; when one pattern is a prefix of the
// other in that sense, the longer one wins. This is the order Artemis uses to
// pick the address-settings and security-settings match.
func Compare(a, b string) int {
	// An exact name beats every pattern, whatever their lengths (a.b over a.b.#).
	if pa, pb := IsPattern(a), IsPattern(b); pa != pb {
		if pa {
			return -1
		}
		return 1
	}
	aw := strings.Split(Normalize(a), ".")
	bw := strings.Split(Normalize(b), ".")
	for i := 0; i < len(aw) && i < len(bw); i++ {
		ca, cb := class(aw[i]), class(bw[i])
		if ca != cb {
			return ca - cb
		}
	}
	return len(aw) - len(bw)
}

func class(w string) int {
	switch w {
	case AnyWords, AnyWordsAlias:
		return 0
	case AnyWord:
		return 1
	}
	return 2
}

// Best returns the most specific of the patterns matching name, or "" and false.
func Best(patterns []string, name string) (string, bool) {
	best, found := "", false
	for _, p := range patterns {
		if !Match(p, name) {
			continue
		}
		if !found || Compare(p, best) > 0 {
			best, found = p, true
		}
	}
	return best, found
}
