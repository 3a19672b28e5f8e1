package selector

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.sel)
	}
	for _, s := range []string{
		"", "(", "'", "''''", "0x", "1e", ".", "-", "NOT NOT", "a IN (", "a LIKE '%_%' ESCAPE '%'",
		"a LIKE '\\%' ESCAPE '\\'", "JMSDeliveryMode = 'PERSISTENT' OR JMSXGroupSeq > -9223372036854775808",
		"((((((((((a))))))))))", "- - - - a = 1", "a / 0 = 1 / 0.0", "é = 'é'",
	} {
		f.Add(s)
	}
	env := newTestEnv()
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", text, err)
			}
			if se.Pos < 0 || se.Pos > len(text) {
				t.Fatalf("Parse(%q) error position %d outside the text", text, se.Pos)
			}
			if s != nil {
				t.Fatalf("Parse(%q) returned both a selector and an error", text)
			}
			return
		}
		if s == nil {
			return // blank text
		}
		if s.String() != text {
			t.Fatalf("String() = %q, want %q", s.String(), text)
		}
		r := s.Eval(env)
		if r > Unknown {
			t.Fatalf("Eval(%q) = %d", text, r)
		}
		if s.Eval(nil) > Unknown {
			t.Fatalf("Eval(%q, nil) out of range", text)
		}
		// Negation must agree with the three-valued NOT, whenever the
		// wrapped text still fits the limits.
		if ns, err := Parse("NOT (" + text + "\n)"); err == nil {
			if got := ns.Eval(env); got != not(r) {
				t.Fatalf("NOT (%q) = %v but the selector is %v", text, got, r)
			}
		}
	})
}
