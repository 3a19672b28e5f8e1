package wildcard

import (
	"strings"
	"testing"
)

// FuzzTrieAgreesWithMatch checks the trie, which routing uses, against Match,
// which address settings and security use: both must agree on every pattern
// and name, including empty words and repeated `#`.
func FuzzTrieAgreesWithMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.pattern, c.name)
	}
	f.Add("a.#.#.b", "a.b")
	f.Add("#.*", "")
	f.Add("a..b", "a..b")
	f.Add(">.x", "x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		// Match backtracks on `#`; keep inputs small enough to stay fast.
		if strings.Count(pattern, ".") > 12 || strings.Count(name, ".") > 12 {
			return
		}
		var tr Trie[int]
		tr.Add(pattern, 1)
		got := false
		tr.Match(name, func(int) { got = true })
		if want := Match(pattern, name); got != want {
			t.Fatalf("trie says %v, Match(%q, %q) = %v", got, pattern, name, want)
		}
		if !tr.Remove(pattern, 1) || tr.Len() != 0 {
			t.Fatalf("Remove(%q) failed", pattern)
		}
	})
}
