package selector

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// likeRegexp is an independent, slow reference for LIKE: % is .*, _ is one
// character, with the escape character quoting what follows.
func likeRegexp(pattern string, esc rune) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case esc >= 0 && r == esc && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case r == '%':
			b.WriteString(`.*`)
		case r == '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func TestLikeAgainstRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	patAlphabet := []string{"a", "b", "é", "%", "_", "!", "ab", "%a", "b_"}
	strAlphabet := []string{"a", "b", "é", "!", "%", "_", "ab", "ba"}
	gen := func(alpha []string, max int) string {
		var b strings.Builder
		for n := rng.IntN(max); n > 0; n-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		pattern := gen(patAlphabet, 7)
		esc := rune(-1)
		if i%2 == 0 {
			esc = '!'
		}
		lp, bad := compileLike(pattern, esc)
		if bad >= 0 {
			if !strings.HasSuffix(pattern, "!") || esc < 0 {
				t.Fatalf("compileLike(%q) rejected the pattern", pattern)
			}
			continue
		}
		re := likeRegexp(pattern, esc)
		for j := 0; j < 10; j++ {
			s := gen(strAlphabet, 10)
			if got, want := lp.match(s), re.MatchString(s); got != want {
				t.Fatalf("%q LIKE %q (escape %q) = %v, want %v", s, pattern, esc, got, want)
			}
		}
	}
}

func TestLikeShapes(t *testing.T) {
	cases := []struct {
		pattern string
		shape   likeShape
	}{
		{"", likeExact},
		{"abc", likeExact},
		{"a!%", likeExact},
		{"%", likePrefix},
		{"%%%", likePrefix},
		{"abc%", likePrefix},
		{"%abc", likeSuffix},
		{"%abc%", likeContains},
		{"%!%%", likeContains},
		{"a_c", likeGeneral},
		{"a%c", likeGeneral},
		{"%a%b%", likeGeneral},
	}
	for _, c := range cases {
		lp, _ := compileLike(c.pattern, '!')
		if lp.shape != c.shape {
			t.Errorf("compileLike(%q) shape %d, want %d", c.pattern, lp.shape, c.shape)
		}
	}
}

// TestLikeLongInput guards the cost of a pathological pattern: the matcher
// is polynomial, never exponential, so this finishes at once.
func TestLikeLongInput(t *testing.T) {
	lp, _ := compileLike(strings.Repeat("%a", 50)+"%b", -1)
	s := strings.Repeat("a", 10000)
	if lp.match(s) {
		t.Fatal("matched a string without b")
	}
	if !lp.match(s + "b") {
		t.Fatal("did not match")
	}
}

// FuzzLike compares the LIKE matcher with the regexp reference.
func FuzzLike(f *testing.F) {
	f.Add("a%b_c", "axxbyc", true)
	f.Add("%!%%", "50%", true)
	f.Add("_é_", "aéb", false)
	f.Add("%ab%ab", "abab", false)
	f.Fuzz(func(t *testing.T, pattern, s string, useEsc bool) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) || len(pattern) > 64 {
			return
		}
		esc := rune(-1)
		if useEsc {
			esc = '!'
		}
		lp, bad := compileLike(pattern, esc)
		if bad >= 0 {
			return
		}
		if got, want := lp.match(s), likeRegexp(pattern, esc).MatchString(s); got != want {
			t.Fatalf("%q LIKE %q (escape %q) = %v, want %v", s, pattern, esc, got, want)
		}
	})
}
