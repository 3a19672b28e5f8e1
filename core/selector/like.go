package selector

import (
	"strings"
	"unicode/utf8"
)

// likePattern is a LIKE pattern compiled at parse time. The common shapes
// (no wildcard, 'abc%', '%abc', '%abc%') reduce to one strings call; the rest
// run a backtracking matcher over literal runs, '_' and '%' that needs no
// allocation and no regular expression.
type likePattern struct {
	shape likeShape
	lit   string     // for the simple shapes
	elems []likeElem // for likeGeneral
}

type likeShape uint8

const (
	likeExact likeShape = iota
	likePrefix
	likeSuffix
	likeContains
	likeGeneral
)

type elemKind uint8

const (
	elemLit  elemKind = iota // a literal run
	elemOne                  // _ : exactly one character
	elemMany                 // % : any run of characters, possibly empty
)

type likeElem struct {
	kind elemKind
	lit  string
}

// compileLike compiles pattern; esc < 0 means no ESCAPE clause. It returns
// the byte offset within pattern of a dangling escape character, or -1.
func compileLike(pattern string, esc rune) (likePattern, int) {
	var elems []likeElem
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			elems = append(elems, likeElem{kind: elemLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		switch {
		case esc >= 0 && r == esc && !(r == utf8.RuneError && n == 1):
			if i+n >= len(pattern) {
				return likePattern{}, i
			}
			// Whatever follows the escape character is literal. SQL only
			// defines escaping %, _ and the escape itself; accepting any
			// character is what ActiveMQ and Artemis do.
			_, m := utf8.DecodeRuneInString(pattern[i+n:])
			lit.WriteString(pattern[i+n : i+n+m])
			n += m
		case r == '%':
			flush()
			if len(elems) == 0 || elems[len(elems)-1].kind != elemMany {
				elems = append(elems, likeElem{kind: elemMany})
			}
		case r == '_':
			flush()
			elems = append(elems, likeElem{kind: elemOne})
		default:
			lit.WriteString(pattern[i : i+n])
		}
		i += n
	}
	flush()
	return classify(elems), -1
}

func classify(elems []likeElem) likePattern {
	kinds := make([]elemKind, len(elems))
	for i, e := range elems {
		kinds[i] = e.kind
	}
	is := func(ks ...elemKind) bool {
		if len(ks) != len(kinds) {
			return false
		}
		for i := range ks {
			if ks[i] != kinds[i] {
				return false
			}
		}
		return true
	}
	switch {
	case len(elems) == 0:
		return likePattern{shape: likeExact}
	case is(elemLit):
		return likePattern{shape: likeExact, lit: elems[0].lit}
	case is(elemMany):
		return likePattern{shape: likePrefix}
	case is(elemLit, elemMany):
		return likePattern{shape: likePrefix, lit: elems[0].lit}
	case is(elemMany, elemLit):
		return likePattern{shape: likeSuffix, lit: elems[1].lit}
	case is(elemMany, elemLit, elemMany):
		return likePattern{shape: likeContains, lit: elems[1].lit}
	}
	return likePattern{shape: likeGeneral, elems: elems}
}

func (p *likePattern) match(s string) bool {
	switch p.shape {
	case likeExact:
		return s == p.lit
	case likePrefix:
		return strings.HasPrefix(s, p.lit)
	case likeSuffix:
		return strings.HasSuffix(s, p.lit)
	case likeContains:
		return strings.Contains(s, p.lit)
	}
	return matchElems(p.elems, s)
}

// matchElems is the classic wildcard algorithm: advance greedily and, on a
// mismatch, retry from the most recent % with it swallowing one more
// character. Each non-% element has a fixed length, which makes going back
// to only the latest % sufficient. Time is O(len(s) * len(elems)) at worst.
func matchElems(elems []likeElem, s string) bool {
	pi, si := 0, 0
	star, starSi := -1, 0
	for {
		if pi < len(elems) {
			e := &elems[pi]
			switch e.kind {
			case elemMany:
				if pi+1 == len(elems) {
					return true // a trailing % takes the rest
				}
				star, starSi = pi, si
				pi++
				continue
			case elemOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			case elemLit:
				if strings.HasPrefix(s[si:], e.lit) {
					si += len(e.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if star < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		// When a literal follows the %, only the places where it occurs
		// are worth trying: jump to the next with a fast substring search.
		if e := &elems[star+1]; e.kind == elemLit && utf8.RuneStart(e.lit[0]) {
			i := strings.Index(s[starSi:], e.lit)
			if i < 0 {
				return false
			}
			starSi += i
		}
		pi, si = star+1, starSi
	}
}
