package selector

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tExact // integer literal; magnitude in token.mag
	tApprox
	tLParen
	tRParen
	tComma
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tPlus
	tMinus
	tStar
	tSlash
	// keywords
	tNull
	tTrue
	tFalse
	tNot
	tAnd
	tOr
	tBetween
	tLike
	tIn
	tIs
	tEscape
)

var keywords = [...]struct {
	word string
	kind tokKind
}{
	{"NULL", tNull}, {"TRUE", tTrue}, {"FALSE", tFalse}, {"NOT", tNot},
	{"AND", tAnd}, {"OR", tOr}, {"BETWEEN", tBetween}, {"LIKE", tLike},
	{"IN", tIn}, {"IS", tIs}, {"ESCAPE", tEscape},
}

type token struct {
	kind tokKind
	pos  int    // byte offset of the first character
	text string // source text of the token
	str  string // decoded string literal
	mag  uint64 // magnitude of an integer literal, at most 1<<63
	f    float64
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		return "identifier " + t.text
	case tString:
		return "string " + clip(t.text)
	case tExact, tApprox:
		return "number " + clip(t.text)
	}
	if t.kind >= tNull {
		return "keyword " + strings.ToUpper(t.text)
	}
	return "'" + t.text + "'"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// Java identifier rules, approximated with Unicode categories.
func isIdentStart(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '$'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Sc, r) || unicode.Is(unicode.Pc, r)
}

func isIdentPart(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '$'
	}
	return isIdentStart(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

func (l *lexer) errAt(pos int, msg string) *SyntaxError { return &SyntaxError{Pos: pos, Msg: msg} }

func (l *lexer) next() (token, *SyntaxError) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[start]
	punct := func(k tokKind, n int) (token, *SyntaxError) {
		l.pos += n
		return token{kind: k, pos: start, text: l.src[start:l.pos]}, nil
	}
	switch c {
	case '(':
		return punct(tLParen, 1)
	case ')':
		return punct(tRParen, 1)
	case ',':
		return punct(tComma, 1)
	case '=':
		return punct(tEq, 1)
	case '+':
		return punct(tPlus, 1)
	case '-':
		return punct(tMinus, 1)
	case '*':
		return punct(tStar, 1)
	case '/':
		return punct(tSlash, 1)
	case '<':
		if l.peekByte(1) == '>' {
			return punct(tNe, 2)
		}
		if l.peekByte(1) == '=' {
			return punct(tLe, 2)
		}
		return punct(tLt, 1)
	case '>':
		if l.peekByte(1) == '=' {
			return punct(tGe, 2)
		}
		return punct(tGt, 1)
	case '!':
		if l.peekByte(1) == '=' {
			return token{}, l.errAt(start, "'!=' is not a selector operator, use '<>'")
		}
	case '\'':
		return l.stringLit()
	case '.':
		if d := l.peekByte(1); d >= '0' && d <= '9' {
			return l.number()
		}
	}
	if c >= '0' && c <= '9' {
		return l.number()
	}
	r, n := utf8.DecodeRuneInString(l.src[start:])
	if r == utf8.RuneError && n <= 1 {
		return token{}, l.errAt(start, "invalid UTF-8")
	}
	if !isIdentStart(r) {
		return token{}, l.errAt(start, "unexpected character "+strconv.QuoteRune(r))
	}
	l.pos += n
	for l.pos < len(l.src) {
		r, n = utf8.DecodeRuneInString(l.src[l.pos:])
		if !isIdentPart(r) || r == utf8.RuneError && n <= 1 {
			break
		}
		l.pos += n
	}
	text := l.src[start:l.pos]
	t := token{kind: tIdent, pos: start, text: text}
	if len(text) <= len("BETWEEN") {
		for _, kw := range keywords {
			if strings.EqualFold(text, kw.word) {
				t.kind = kw.kind
				break
			}
		}
	}
	return t, nil
}

func (l *lexer) peekByte(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

func (l *lexer) stringLit() (token, *SyntaxError) {
	start := l.pos
	i := start + 1
	var b *strings.Builder // only when the literal contains a doubled quote
	seg := i
	for {
		j := strings.IndexByte(l.src[i:], '\'')
		if j < 0 {
			return token{}, l.errAt(start, "unterminated string literal")
		}
		i += j
		if i+1 < len(l.src) && l.src[i+1] == '\'' {
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(l.src[seg : i+1])
			i += 2
			seg = i
			continue
		}
		break
	}
	l.pos = i + 1
	t := token{kind: tString, pos: start, text: l.src[start:l.pos]}
	if b == nil {
		t.str = l.src[start+1 : i]
	} else {
		b.WriteString(l.src[seg:i])
		t.str = b.String()
	}
	return t, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number scans an exact or approximate numeric literal.
func (l *lexer) number() (token, *SyntaxError) {
	s := l.src
	start := l.pos
	i := start
	finish := func(t token) (token, *SyntaxError) {
		// A literal glued to an identifier ("12abc", "1.5e3x") is almost
		// certainly a typo; refuse it rather than read two tokens.
		if i < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[i:]); isIdentPart(r) || r == '.' {
				return token{}, l.errAt(start, "malformed number "+clip(s[start:i+1]))
			}
		}
		l.pos = i
		t.pos = start
		t.text = s[start:i]
		return t, nil
	}
	if s[i] == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
		i += 2
		ds := i
		var mag uint64
		for i < len(s) && isHexDigit(s[i]) {
			if mag > math.MaxUint64>>4 {
				return token{}, l.errAt(start, "integer literal out of range")
			}
			mag = mag<<4 | uint64(hexVal(s[i]))
			i++
		}
		if i == ds {
			return token{}, l.errAt(start, "malformed hexadecimal number")
		}
		if i < len(s) && (s[i] == 'l' || s[i] == 'L') {
			i++
		}
		if mag > 1<<63 {
			return token{}, l.errAt(start, "integer literal out of range")
		}
		return finish(token{kind: tExact, mag: mag})
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	approx := false
	if i < len(s) && s[i] == '.' {
		approx = true
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		approx = true
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == ds {
			return token{}, l.errAt(start, "malformed exponent in number")
		}
	}
	if !approx {
		var mag uint64
		for _, c := range []byte(s[start:intEnd]) {
			d := uint64(c - '0')
			if mag > (1<<63-d)/10 {
				return token{}, l.errAt(start, "integer literal out of range")
			}
			mag = mag*10 + d
		}
		if i < len(s) && (s[i] == 'l' || s[i] == 'L') {
			i++
		} else if i < len(s) && strings.IndexByte("fFdD", s[i]) >= 0 {
			// 5F is a float literal in Java; honour it.
			f := float64(mag)
			if s[i] == 'f' || s[i] == 'F' {
				f = float64(float32(f))
			}
			i++
			return finish(token{kind: tApprox, f: f})
		}
		return finish(token{kind: tExact, mag: mag})
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil { // only range errors are possible: the syntax was checked
		return token{}, l.errAt(start, "number out of range")
	}
	if i < len(s) && strings.IndexByte("fFdD", s[i]) >= 0 {
		if s[i] == 'f' || s[i] == 'F' {
			f32 := float32(f)
			if math.IsInf(float64(f32), 0) {
				return token{}, l.errAt(start, "number out of range of float")
			}
			f = float64(f32)
		}
		i++
	}
	return finish(token{kind: tApprox, f: f})
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
