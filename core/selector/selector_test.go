package selector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/junctionmq/junction/core/prop"
)

// A vector's want is "T", "F" or "U" for the expected Result against
// newTestEnv, or "E<n>" for a *SyntaxError at byte position n.
type vector struct {
	sel  string
	want string
}

var vectors = []vector{
	// literals and the simplest conditions
	{"TRUE", "T"},
	{"FALSE", "F"},
	{"true", "T"},
	{"tRuE", "T"},
	{"NULL", "U"},
	{"NOT TRUE", "F"},
	{"not false", "T"},
	{"NOT NULL", "U"},

	// string equality
	{"color = 'red'", "T"},
	{"color <> 'red'", "F"},
	{"color = 'RED'", "F"},
	{"color = 'blue'", "F"},
	{"color <> 'blue'", "T"},
	{"'red' = color", "T"},
	{"quote = 'it''s'", "T"},
	{"quote = 'it'", "F"},
	{"empty = ''", "T"},
	{"COLOR = 'red'", "U"}, // identifiers are case-sensitive: COLOR is absent
	{"n = 'x'", "U"},
	{"n <> 'x'", "U"},
	{"color > 'a'", "E8"}, // strings only compare with = and <> (JMS 2.0 §3.8.1.1)
	{"color < 'z'", "E8"},
	{"'a' <= color", "E0"},
	{"color > region", "U"}, // not known before evaluation: UNKNOWN then
	{"uni = 'héllo'", "T"},
	{"color = region", "F"},
	{"color <> region", "T"},
	{"'a' = 'a'", "T"},
	{"'a' <> 'a'", "F"},

	// typed numbers
	{"i32 = 25", "T"},
	{"i32 = 25.0", "T"},
	{"i32 > 24.5", "T"},
	{"i32 >= 25", "T"},
	{"i32 < 25", "F"},
	{"i32 <= 25", "T"},
	{"i32 <> 25", "F"},
	{"i32 > 25", "F"},
	{"25 < i32", "F"},
	{"24 < i32", "T"},
	{"30 >= i32", "T"},
	{"b8 = -5", "T"},
	{"b8 < 0", "T"},
	{"s16 = 300", "T"},
	{"i64 = 10000000000", "T"},
	{"i64 = 10000000000L", "T"},
	{"i64 = 10000000000l", "T"},
	{"i64 > 2147483647", "T"},
	{"f32 = 2.5", "T"},
	{"f32 = 2.5F", "T"},
	{"f64 = 3.75", "T"},
	{"f64 > f32", "T"},
	{"f32 + f64 = 6.25", "T"},
	{"i32 = 0x19", "T"},
	{"i32 = 0X19L", "T"},
	{"i32 = 2.5e1", "T"},
	{"i32 = 25.0D", "T"},
	{"i32 = 25d", "T"},
	{"i32 = 025", "T"}, // decimal, not octal
	{"1.5E-2 = 0.015", "T"},
	{"1e3 = 1000", "T"},
	{".5 = 0.5", "T"},
	{"7. = 7", "T"},
	{"2.5D = 2.5", "T"},
	{"1.1F = 1.1", "F"}, // a float literal keeps float precision, as in Java
	{"1.1F = 1.100000023841858", "T"},
	// Non-like types compare FALSE with every operator (JMS 2.0 §3.8.1.1).
	{"i32 = '25'", "F"},
	{"numstr = 25", "F"}, // a typed string never converts
	{"numstr <> 25", "F"},
	{"NOT numstr = 25", "T"},
	{"numstr > 1", "F"},
	{"1 < numstr", "F"},
	{"color = 1", "F"},
	{"color <> 1", "F"},
	{"numstr = '25'", "T"},
	{"t = 1", "F"},
	{"t > 1", "F"},
	{"i32 = TRUE", "F"},
	{"i32 <> TRUE", "F"},
	{"nan = nan", "F"},
	{"nan <> nan", "T"},
	{"nan < 1", "F"},
	{"nan > 1", "F"},
	{"raw = 'abc'", "U"},
	{"ch = 'x'", "T"},
	{"'x' = ch", "T"},
	{"ch <> 'x'", "F"},
	{"ch = 'xy'", "F"},
	{"ch = ch", "T"},
	{"ch = uch", "F"},
	{"color = ch", "F"},
	{"ch = color", "F"},
	{"ch = t", "F"},
	{"ch > 'a'", "E5"},
	{"ch = 120", "F"},
	{"uch = 'é'", "T"},
	{"color = t", "F"},
	{"t = color", "F"},
	{"raw = t", "U"},
	{"color = raw", "U"},
	{"raw = raw", "U"},

	// arithmetic
	{"big = 9223372036854775807", "T"},
	{"small = -9223372036854775808", "T"},
	{"big + 1 = small", "T"}, // int64 wraps
	{"small - 1 = big", "T"},
	{"-small = small", "T"},
	{"small / -1 = small", "T"},
	{"big * 2 = -2", "T"},
	{"10 / 4 = 2", "T"},
	{"10 / 4.0 = 2.5", "T"},
	{"-7 / 2 = -3", "T"},
	{"i32 / zero > 0", "U"},
	{"i32 / zero IS NULL", "T"},
	{"i32 / 0 = 1", "U"},
	{"1 / 0 = 1", "U"},
	{"f64 / fzero > 0", "U"},
	{"f64 / 0.0 = 1", "U"},
	{"i32 * 2 = 50", "T"},
	{"i32 - 5 * 2 = 15", "T"},
	{"(i32 - 5) * 2 = 40", "T"},
	{"-i32 = -25", "T"},
	{"- -i32 = 25", "T"},
	{"--i32 = 25", "T"},
	{"+i32 = 25", "T"},
	{"i32 + -5 = 20", "T"},
	{"2 * 3 + 4 = 10", "T"},
	{"2 + 3 * 4 = 14", "T"},
	{"20 / 2 / 5 = 2", "T"},
	{"10 - 3 - 2 = 5", "T"},
	{"i32 * f32 = 62.5", "T"},
	{"i32 / 2 = 12", "T"},
	{"i32 / 2.0 = 12.5", "T"},
	{"b8 * s16 = -1500", "T"},
	{"n + 1 = 1", "U"},
	{"n * 0 = 0", "U"},
	{"-n = 0", "U"},
	{"+n = 0", "U"},
	{"color + 1 = 1", "U"},
	{"t + 1 = 2", "U"},
	{"-color = 1", "U"},
	{"+color IS NULL", "T"},
	{"+5 = 5", "T"},
	{"+uw = 25", "T"},
	{"-(2) = -2", "T"},
	{"-2.5 = 0 - 2.5", "T"},
	{"- 9223372036854775808 = small", "T"},
	{"1 + utext = 1", "U"},
	{"utext + 1 = 1", "U"},
	{"1 + uw = 26", "T"},
	{"ufloat * 2 = 5", "T"},
	{"-(i32 - 30) = 5", "T"},

	// booleans
	{"t", "T"},
	{"f", "F"},
	{"t = TRUE", "T"},
	{"f = FALSE", "T"},
	{"t <> f", "T"},
	{"t = f", "F"},
	{"t > f", "U"},
	{"TRUE > 0", "E0"}, // booleans compare only with = and <>
	{"0 < TRUE", "E4"},
	{"t >= FALSE", "E5"},
	{"FALSE < FALSE", "E0"},
	{"(i32 > 1) > 0", "E1"},
	{"i32 > (i32 > 1)", "E7"},
	{"TRUE = 1", "F"},
	{"TRUE <> 'true'", "F"},
	{"t AND NOT f", "T"},
	{"NOT t", "F"},
	{"JMSRedelivered", "F"},
	{"NOT JMSRedelivered", "T"},
	{"color", "U"}, // a non-boolean value used as a condition
	{"i32", "U"},
	{"n", "U"},
	{"NOT color", "U"},
	{"truestr", "U"}, // a typed string is not a boolean
	{"truestr = TRUE", "F"},
	{"TRUE = TRUE", "T"},
	{"TRUE <> FALSE", "T"},
	{"(i32 > 1) = TRUE", "T"},
	{"(i32 > 1) = (f32 > 1)", "T"},
	{"(n > 1) = TRUE", "U"},
	{"(n > 1) IS NULL", "T"},
	{"(i32 > 1) IS NOT NULL", "T"},

	// untyped (STOMP) strings
	{"uw > 10", "T"},
	{"uw = 25", "T"},
	{"uw = 25.0", "T"},
	{"uw < 10", "F"},
	{"10 < uw", "T"},
	{"uw BETWEEN 20 AND 30", "T"},
	{"uw + 5 = 30", "T"},
	{"uw * 2 = 50", "T"},
	{"-uw = -25", "T"},
	{"uw = '25'", "T"},
	{"uw = ' 25'", "F"},
	{"uspace = 25", "F"}, // no trimming: a string, and strings are not numbers
	{"uhex = 25", "F"},   // only decimal forms convert
	{"uempty = 0", "F"},
	{"ufloat > 2", "T"},
	{"ufloat = 2.5", "T"},
	{"uneg < 0", "T"},
	{"uexp = 100", "T"},
	{"ubig > 1e19", "T"},
	{"utext > 10", "F"},
	{"utext <> 10", "F"},
	{"utext = 'heavy'", "T"},
	{"uw > '10'", "E5"},
	{"uw > i32 - 1", "T"},
	{"i32 = uw", "T"},
	{"uw = i32", "T"},
	{"numstr = uw", "T"}, // both strings: compared as text
	{"uw = ufloat", "F"},
	{"utrue = TRUE", "T"},
	{"utrue", "T"},
	{"ufalse = FALSE", "T"},
	{"ufalse", "F"},
	{"NOT ufalse", "T"},
	{"utext = TRUE", "F"},
	{"utext", "U"},
	{"utrue = 1", "F"},
	{"t = utrue", "T"},
	{"f <> utrue", "T"},
	{"uw IN ('25', '26')", "T"},
	{"uw LIKE '2%'", "T"},

	// IS [NOT] NULL
	{"n IS NULL", "T"},
	{"n IS NOT NULL", "F"},
	{"n is not null", "F"},
	{"color IS NULL", "F"},
	{"color IS NOT NULL", "T"},
	{"JMSCorrelationID IS NULL", "T"},
	{"JMSType IS NOT NULL", "T"},
	{"n + 1 IS NULL", "T"},
	{"i32 + 1 IS NULL", "F"},
	{"NULL IS NULL", "T"},
	{"NOT n IS NULL", "F"},

	// BETWEEN
	{"i32 BETWEEN 20 AND 30", "T"},
	{"i32 BETWEEN 25 AND 25", "T"},
	{"i32 BETWEEN 26 AND 30", "F"},
	{"i32 NOT BETWEEN 26 AND 30", "T"},
	{"i32 NOT BETWEEN 20 AND 30", "F"},
	{"f32 BETWEEN 2 AND 3", "T"},
	{"i32 BETWEEN 24.9 AND 25.1", "T"},
	{"f64 BETWEEN 3 AND i32", "T"},
	{"i64 BETWEEN 1.0E9 AND 1.0E11", "T"},
	{"b8 BETWEEN -10 AND s16", "T"},
	{"i32 BETWEEN 30 AND 20", "F"},
	{"n BETWEEN 1 AND 2", "U"},
	{"n NOT BETWEEN 1 AND 2", "U"},
	{"i32 BETWEEN n AND 30", "U"},
	{"i32 BETWEEN n AND 20", "F"},
	{"i32 NOT BETWEEN n AND 20", "T"},
	{"i32 BETWEEN 30 AND n", "F"},
	{"color BETWEEN 'a' AND 'z'", "E14"},
	{"'m' BETWEEN 1 AND 2", "E0"},
	{"i32 BETWEEN 1 AND TRUE", "E18"},
	{"t BETWEEN 0 AND 1", "F"},
	{"color BETWEEN 0 AND 1", "F"},
	{"i32 BETWEEN 1 + 1 AND 5 * 10", "T"},
	{"i32 BETWEEN 20 AND 30 AND color = 'red'", "T"},
	{"JMSPriority BETWEEN 0 AND 4", "T"},
	{"i32 between 20 and 30", "T"},

	// IN
	{"region IN ('eu', 'us')", "T"},
	{"region IN ('us')", "F"},
	{"region NOT IN ('us', 'asia')", "T"},
	{"region NOT IN ('eu')", "F"},
	{"n IN ('a')", "U"},
	{"n NOT IN ('a')", "U"},
	{"i32 IN ('25')", "U"},
	{"quote IN ('it''s')", "T"},
	{"region in ('EU')", "F"},
	{"region IN ('a','b','c','d','e','f','g','h','i','eu')", "T"},
	{"region IN ('a','b','c','d','e','f','g','h','i','j')", "F"},
	{"region NOT IN ('a','b','c','d','e','f','g','h','i','j')", "T"},
	{"ch IN ('x', 'y')", "T"},
	{"uch IN ('é')", "T"},
	{"raw IN ('abc')", "U"},
	{"empty IN ('')", "T"},
	{"t IN ('true')", "U"},

	// LIKE
	{"color LIKE 'red'", "T"},
	{"color LIKE 'r%'", "T"},
	{"color LIKE '%d'", "T"},
	{"color LIKE '%e%'", "T"},
	{"color LIKE 'r_d'", "T"},
	{"color LIKE 'r__d'", "F"},
	{"color LIKE '___'", "T"},
	{"color LIKE '__'", "F"},
	{"color LIKE '%'", "T"},
	{"empty LIKE '%'", "T"},
	{"empty LIKE ''", "T"},
	{"empty LIKE '_'", "F"},
	{"color NOT LIKE 'b%'", "T"},
	{"color NOT LIKE 'r%'", "F"},
	{"color LIKE 'R%'", "F"},
	{"n LIKE '%'", "U"},
	{"n NOT LIKE '%'", "U"},
	{"i32 LIKE '2%'", "U"},
	{"uni LIKE 'h_llo'", "T"}, // _ is one character, not one byte
	{"uni LIKE 'h__llo'", "F"},
	{"uni LIKE 'h%o'", "T"},
	{`path LIKE 'a\%b\_c%' ESCAPE '\'`, "T"},
	{`path LIKE 'a!%b!_c!\d' ESCAPE '!'`, "T"},
	{`path LIKE 'a%b_c\d'`, "T"},
	{"path LIKE 'a%%'", "T"},
	{"color LIKE 'r!%' ESCAPE '!'", "F"},
	{"path LIKE '%!%%' ESCAPE '!'", "T"},
	{"color LIKE '%!%%' ESCAPE '!'", "F"},
	{"path LIKE '%!_%' ESCAPE '!'", "T"},
	{"path LIKE 'a!!%' ESCAPE '!'", "F"},
	{"color LIKE 'red' escape '!'", "T"},
	{"quote LIKE 'it''_'", "T"},
	{"color LIKE '%r%e%d%'", "T"},
	{"color LIKE '%x%'", "F"},
	{"color LIKE 'r%d'", "T"},
	{"color LIKE 'r%e'", "F"},
	{"color LIKE '_%_'", "T"},
	{"color LIKE '%%'", "T"},
	{"seq LIKE '%abc%abd'", "T"},
	{"seq LIKE '%abc_abd'", "F"},
	{"seq LIKE '%c_b%'", "T"},
	{"seq LIKE 'a%c_bd'", "T"},
	{"seq LIKE 'a%c_bc'", "F"},
	{"seq LIKE '%a_d'", "T"},
	{"seq LIKE '%b_d'", "F"},
	{"seq LIKE '%b%b%b%'", "T"},
	{"seq LIKE '%b%b%b%b%'", "F"},
	{"ch LIKE 'x'", "T"},
	{"uch LIKE '_'", "T"},
	{"'abc' LIKE 'a%'", "T"},
	{"color LIKE 'a%' OR color LIKE '%d'", "T"},
	{"raw LIKE '%'", "U"},

	// AMQP kinds, as JMS sees them
	{"u8 = 200", "T"},
	{"u8 > 100 AND u8 < 201", "T"},
	{"u8 + 1 = 201", "T"},
	{"-u8 = -200", "T"},
	{"u16 = 65535", "T"},
	{"u32 = 4294967295", "T"},
	{"u64 = 7", "T"},
	{"u64 BETWEEN 1 AND 10", "T"},
	{"u64big > 9223372036854775807", "T"}, // above the largest long: a double
	{"u64big > 0", "T"},
	{"uuid = '01020304-0506-0708-090a-0b0c0d0e0f10'", "T"},
	{"uuid LIKE '01020304-%'", "T"},
	{"uuid = 1", "F"},
	{"sym = 'amqp:x'", "T"},
	{"sym IN ('amqp:x', 'y')", "T"},
	{"sym LIKE 'amqp:%'", "T"},
	{"sym = color", "F"},
	{"ts = 1700000000000", "T"},
	{"ts > JMSTimestamp - 1", "T"},
	{"dec = 1", "U"}, // decimals have no JMS type
	{"dec IS NULL", "F"},

	// headers
	{"JMSPriority = 4", "T"}, // the header, not the property of that name
	{"JMSPriority > 3 AND JMSPriority < 5", "T"},
	{"JMSType = 'car'", "T"},
	{"JMSMessageID = 'ID:1'", "T"},
	{"JMSTimestamp > 0", "T"},
	{"JMSDeliveryMode = 'PERSISTENT'", "T"},
	{"JMSDeliveryMode = 'NON_PERSISTENT'", "F"},
	{"JMSExpiration = 0", "T"},
	{"JMSDestination = 'orders'", "T"},
	{"JMSReplyTo IS NULL", "T"},
	{"JMSXGroupID = 'g1'", "T"},
	{"JMSXGroupSeq = 3", "T"},
	{"JMSXDeliveryCount = 1", "T"},
	{"JMSXUserID = 'alice'", "T"},
	{"JMSCorrelationID = 'x'", "U"},
	{"jmspriority = 4", "U"},
	{"JMSXOther IS NULL", "T"},

	// precedence and logic
	{"TRUE OR TRUE AND FALSE", "T"},
	{"(TRUE OR TRUE) AND FALSE", "F"},
	{"NOT FALSE AND FALSE", "F"},
	{"NOT (FALSE AND FALSE)", "T"},
	{"FALSE AND n = 1 OR TRUE", "T"},
	{"NOT i32 = 25", "F"},
	{"not i32 = 24 and color = 'red'", "T"},
	{"FALSE or FALSE or n = 1", "U"},
	{"TRUE and TRUE and n = 1", "U"},
	{"FALSE AND n = 1", "F"},
	{"TRUE OR n = 1", "T"},
	{"((((color = 'red'))))", "T"},
	{"NOT NOT NOT t", "F"},
	{"color='red'AND(i32>1)", "T"},
	{"\tcolor\n=\r'red'\f", "T"},
	{"color = 'red' AND weight > 10 AND region IN ('eu','us')", "T"},

	// identifiers
	{"$x IS NULL", "T"},
	{"_x IS NULL", "T"},
	{"a1 IS NULL", "T"},
	{"héllo IS NULL", "T"},
	{"x$y_1 IS NULL", "T"},
	{"ANDroid = 1", "U"},
	{"nullable IS NULL", "T"},
	{"INx IS NULL", "T"},
	{"order = 1", "U"},
	{"x = null", "U"},
	{"NULL > 1", "U"},
	// TRUE, FALSE and NULL are literals, never the properties of those names.
	{"TRUE", "T"},
	{"FALSE", "F"},
	{"NULL IS NULL", "T"},
	{"TRUE = 1", "F"},
	{"True IS NOT NULL", "T"},

	// syntax errors, with the byte position reported
	{"(color = 'red'", "E14"},
	{"color = ", "E8"},
	{"color = 'red", "E8"},
	{"color == 'red'", "E7"},
	{"color != 'red'", "E6"},
	{"color = 'red' AND", "E17"},
	{"AND color = 'red'", "E0"},
	{"1 + 2", "E0"},
	{"'abc'", "E0"},
	{"i32 + 1", "E0"},
	{"-i32", "E0"},
	{"NOT 5", "E4"},
	{"5 AND TRUE", "E0"},
	{"TRUE AND 'x'", "E9"},
	{"TRUE OR 1.5", "E8"},
	{"'a' + 1 = 2", "E0"},
	{"TRUE + 1 = 2", "E0"},
	{"i32 + 'a' = 2", "E6"},
	{"-'a' = 1", "E1"},
	{"5 LIKE '5'", "E0"},
	{"TRUE IN ('a')", "E0"},
	{"color LIKE 5", "E11"},
	{"color LIKE i32", "E11"},
	{"color IN (1, 2)", "E10"},
	{"color IN ()", "E10"},
	{"color IN ('a',)", "E14"},
	{"color IN ('a' 'b')", "E14"},
	{"color IN 'a'", "E9"},
	{"color LIKE 'a' ESCAPE 'ab'", "E22"},
	{"color LIKE 'a' ESCAPE ''", "E22"},
	{"color LIKE 'a' ESCAPE", "E21"},
	{"color LIKE 'a!' ESCAPE '!'", "E11"},
	{"i32 BETWEEN 1 OR 2", "E14"},
	{"i32 BETWEEN 1", "E13"},
	{"i32 NOT 5", "E8"},
	{"i32 IS 5", "E7"},
	{"i32 IS NOT 5", "E11"},
	{"i32 = 1 = 2", "E8"},
	{"color = 'red' blue", "E14"},
	{"12abc = 1", "E0"},
	{"1.2.3 = 1", "E0"},
	{"1e = 1", "E0"},
	{"1e+ = 1", "E0"},
	{"x = 1L1", "E4"},
	{"9223372036854775808 = 1", "E0"},
	{"+9223372036854775808 = 1", "E1"},
	{"99999999999999999999 = 1", "E0"},
	{"1e400 = 1", "E0"},
	{"3.5e39F = 1", "E0"},
	{"0x = 1", "E0"},
	{"0xFFFFFFFFFFFFFFFFF = 1", "E0"},
	{"#x = 1", "E0"},
	{"x = 1 ;", "E6"},
	{"\xff = 1", "E0"},
	{"x = 'a\xff' AND \xfe", "E13"},
	{"()", "E1"},
	{"(", "E1"},
	{")", "E0"},
	{"NOT", "E3"},
	{"a = 1 OR", "E8"},
	{"AND = 1", "E0"},
	{"is IS NULL", "E0"},
	{"escape = 1", "E0"},
	{"x IN ('a') AND", "E14"},
	{"x = ", "E4"},
	{"x = 1 AND (y = 2", "E16"},
	{"x = 1)", "E5"},
	{"x.y = 1", "E1"},
	{"x = \"a\"", "E4"},
}

func wantString(r Result) string { return r.String()[:1] }

func TestVectors(t *testing.T) {
	env := newTestEnv()
	for _, v := range vectors {
		t.Run(v.sel, func(t *testing.T) {
			s, err := Parse(v.sel)
			if strings.HasPrefix(v.want, "E") {
				pos, _ := strconv.Atoi(v.want[1:])
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) = %v, %v; want syntax error at %d", v.sel, s, err, pos)
				}
				if se.Pos != pos {
					t.Fatalf("Parse(%q) error at %d (%v); want at %d", v.sel, se.Pos, se, pos)
				}
				if s != nil {
					t.Fatalf("Parse(%q) returned a selector with an error", v.sel)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", v.sel, err)
			}
			if got := wantString(s.Eval(env)); got != v.want {
				t.Fatalf("Eval(%q) = %s, want %s", v.sel, s.Eval(env), v.want)
			}
			if s.Matches(env) != (v.want == "T") {
				t.Fatalf("Matches(%q) = %v", v.sel, s.Matches(env))
			}
			if s.String() != v.sel {
				t.Fatalf("String() = %q", s.String())
			}
		})
	}
	if len(vectors) < 200 {
		t.Fatalf("only %d vectors", len(vectors))
	}
}

// TestTruthTables checks AND, OR and NOT over every combination of TRUE,
// FALSE and UNKNOWN, with the operands given as literals, as boolean
// properties and as comparisons.
func TestTruthTables(t *testing.T) {
	operands := map[Result][]string{
		True:    {"TRUE", "t", "i32 = 25", "utrue"},
		False:   {"FALSE", "f", "i32 = 1", "ufalse"},
		Unknown: {"NULL", "n", "n = 1", "t > f"},
	}
	and := [3][3]Result{ // indexed False, True, Unknown
		False:   {False, False, False},
		True:    {False, True, Unknown},
		Unknown: {False, Unknown, Unknown},
	}
	or := [3][3]Result{
		False:   {False, True, Unknown},
		True:    {True, True, True},
		Unknown: {Unknown, True, Unknown},
	}
	notT := [3]Result{False: True, True: False, Unknown: Unknown}
	env := newTestEnv()
	check := func(sel string, want Result) {
		t.Helper()
		s, err := Parse(sel)
		if err != nil {
			t.Fatalf("Parse(%q): %v", sel, err)
		}
		if got := s.Eval(env); got != want {
			t.Errorf("Eval(%q) = %v, want %v", sel, got, want)
		}
	}
	n := 0
	for a, as := range operands {
		for _, x := range as {
			check("NOT ("+x+")", notT[a])
			n++
			for b, bs := range operands {
				for _, y := range bs {
					check("("+x+") AND ("+y+")", and[a][b])
					check("("+x+") OR ("+y+")", or[a][b])
					check("("+x+") AND ("+y+") AND TRUE", and[a][b])
					check("FALSE OR ("+x+") OR ("+y+")", or[a][b])
					n += 4
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d combinations", n)
	}
}

// TestEquivalences cross-checks constructs that the language defines in terms
// of each other, over many operand combinations.
func TestEquivalences(t *testing.T) {
	env := newTestEnv()
	values := []string{"i32", "f32", "b8", "n", "uw", "utext", "color", "25", "2.5", "-5", "NULL", "nan", "t", "i64"}
	eval := func(sel string) Result {
		t.Helper()
		s, err := Parse(sel)
		if err != nil {
			t.Fatalf("Parse(%q): %v", sel, err)
		}
		return s.Eval(env)
	}
	for _, x := range values {
		for _, lo := range values {
			for _, hi := range values {
				b := eval(x + " BETWEEN " + lo + " AND " + hi)
				e := eval(x + " >= " + lo + " AND " + x + " <= " + hi)
				if b != e {
					t.Errorf("%s BETWEEN %s AND %s = %v, but the expansion gives %v", x, lo, hi, b, e)
				}
				nb := eval(x + " NOT BETWEEN " + lo + " AND " + hi)
				if nb != not(b) {
					t.Errorf("%s NOT BETWEEN %s AND %s = %v, want %v", x, lo, hi, nb, not(b))
				}
			}
			for _, op := range [][2]string{{"<", ">"}, {"<=", ">="}, {"=", "="}, {"<>", "<>"}} {
				l := eval(x + " " + op[0] + " " + lo)
				r := eval(lo + " " + op[1] + " " + x)
				if l != r {
					t.Errorf("%s %s %s = %v but %s %s %s = %v", x, op[0], lo, l, lo, op[1], x, r)
				}
			}
			// De Morgan holds in three-valued logic too.
			p, q := x+" > "+lo, x+" = "+lo
			if a, b := eval("NOT ("+p+" AND "+q+")"), eval("NOT ("+p+") OR NOT ("+q+")"); a != b {
				t.Errorf("De Morgan fails for %q, %q: %v vs %v", p, q, a, b)
			}
		}
		if _, err := strconv.ParseFloat(x, 64); err == nil {
			continue // IN rejects a numeric literal operand at parse time
		}
		in := eval(x + " IN ('25', 'red')")
		if nin := eval(x + " NOT IN ('25', 'red')"); nin != not(in) {
			t.Errorf("%s NOT IN = %v, IN = %v", x, nin, in)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("(a = 10")
	want := "selector: at position 7: expected ')' but found end of input"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	for sel, frag := range map[string]string{
		"color != 'x'":         "use '<>'",
		"1 + 2":                "boolean",
		"color IN (1)":         "string literal",
		"i32 NOT 5":            "BETWEEN, IN or LIKE",
		"x = 'abc":             "unterminated",
		"x = 1 y":              "identifier y",
		"x = 1 AND":            "end of input",
		"x LIKE 'a' ESCAPE 'b": "unterminated",
	} {
		_, err := Parse(sel)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", sel, err, frag)
		}
	}
}

func TestEmptySelector(t *testing.T) {
	for _, text := range []string{"", " ", "\t\r\n\f "} {
		s, err := Parse(text)
		if s != nil || err != nil {
			t.Fatalf("Parse(%q) = %v, %v; want nil, nil", text, s, err)
		}
		if !s.Matches(newTestEnv()) || s.Eval(nil) != True || s.String() != "" {
			t.Fatalf("nil selector does not behave as 'match all'")
		}
	}
}

func TestNilEnv(t *testing.T) {
	for sel, want := range map[string]Result{
		"x IS NULL":                 True,
		"x = 1":                     Unknown,
		"JMSPriority IS NULL":       True,
		"NOT (x = 1) OR TRUE":       True,
		"x LIKE '%' AND y IN ('a')": Unknown,
	} {
		if got := MustParse(sel).Eval(nil); got != want {
			t.Errorf("Eval(%q, nil) = %v, want %v", sel, got, want)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		if _, ok := r.(*SyntaxError); !ok {
			t.Fatalf("recovered %v, want *SyntaxError", r)
		}
	}()
	MustParse("a =")
}

func TestLimits(t *testing.T) {
	deep := func(n int, open, mid, close string) string {
		return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
	}
	cases := []struct {
		name string
		sel  string
		ok   bool
	}{
		{"parens at limit", deep(MaxDepth-1, "(", "a = 1", ")"), true},
		{"parens over limit", deep(MaxDepth+1, "(", "a = 1", ")"), false},
		{"parens far over limit", deep(60000, "(", "", ""), false},
		{"NOT chain over limit", deep(MaxDepth+1, "NOT ", "t", ""), false},
		{"NOT chain far over limit", deep(15000, "NOT ", "t", ""), false},
		{"sign chain over limit", deep(MaxDepth+1, "-", "a", "") + " = 1", false},
		{"sign chain far over limit", deep(30000, "- ", "a", "") + " = 1", false},
		{"long arithmetic chain", "a" + strings.Repeat(" + a", MaxDepth+1) + " = 1", false},
		{"long constant arithmetic chain", "1" + strings.Repeat(" + 1", 5000) + " = 5001", true},
		{"long OR chain", "a = 0" + strings.Repeat(" OR a = 1", 5000), true},
		{"long IN list", "a IN ('x'" + strings.Repeat(", 'x'", 5000) + ")", true},
		{"too long", "a = '" + strings.Repeat("x", MaxLength) + "'", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse(c.sel)
			if c.ok {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				s.Eval(newTestEnv())
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a syntax error", err)
			}
		})
	}
	if s := MustParse("1" + strings.Repeat(" + 1", 5000) + " = 5001"); s.Eval(nil) != True {
		t.Fatal("constant chain folded wrongly")
	}
}

// deliveryEnv reports JMSDeliveryMode in a representation other than the
// canonical string.
type deliveryEnv struct{ mode prop.Value }

func (e deliveryEnv) Header(h Header) prop.Value {
	if h == JMSDeliveryMode {
		return e.mode
	}
	return prop.Value{}
}
func (deliveryEnv) Property(string) prop.Value { return prop.Value{} }

func TestDeliveryModeForms(t *testing.T) {
	persistent := MustParse("JMSDeliveryMode = 'PERSISTENT'")
	nonPersistent := MustParse("JMSDeliveryMode = 'NON_PERSISTENT'")
	cases := []struct {
		mode          prop.Value
		pers, nonPers Result
	}{
		{prop.StringValue("PERSISTENT"), True, False},
		{prop.StringValue("NON_PERSISTENT"), False, True},
		{prop.BoolValue(true), True, False},
		{prop.BoolValue(false), False, True},
		{prop.Int32Value(2), True, False},
		{prop.Int8Value(1), False, True},
		{prop.Int32Value(7), False, False}, // a number is not like the string 'PERSISTENT'

		{prop.Value{}, Unknown, Unknown},
	}
	for _, c := range cases {
		env := deliveryEnv{c.mode}
		if got := persistent.Eval(env); got != c.pers {
			t.Errorf("%v: PERSISTENT test = %v, want %v", c.mode, got, c.pers)
		}
		if got := nonPersistent.Eval(env); got != c.nonPers {
			t.Errorf("%v: NON_PERSISTENT test = %v, want %v", c.mode, got, c.nonPers)
		}
	}
}

func TestHeaderNames(t *testing.T) {
	for h := Header(1); int(h) < numHeaders; h++ {
		got, ok := LookupHeader(h.String())
		if !ok || got != h {
			t.Errorf("LookupHeader(%q) = %v, %v", h.String(), got, ok)
		}
	}
	for _, name := range []string{"JMSFoo", "jmspriority", "Priority", "", "JMSX"} {
		if h, ok := LookupHeader(name); ok {
			t.Errorf("LookupHeader(%q) = %v", name, h)
		}
	}
	if s := Header(0).String(); s != "Header(0)" {
		t.Errorf("Header(0).String() = %q", s)
	}
	if s := Result(9).String(); s != "Result(9)" {
		t.Errorf("Result(9).String() = %q", s)
	}
}

// TestZeroAllocs holds evaluation to its promise: ordinary selectors allocate
// nothing per message.
func TestZeroAllocs(t *testing.T) {
	env := newTestEnv()
	sels := []string{
		"color = 'red' AND weight > 10 AND region IN ('eu','us')",
		"i32 + 1 > f32 * 2 AND n IS NULL AND uw * 2 = 50 AND -ufloat < 0",
		"uw BETWEEN 20 AND 30 AND ufloat < 3.5 AND uexp = 100",
		"region IN ('a','b','c','d','e','f','g','h','i','eu')",
		"color LIKE 'r%' AND seq LIKE '%a_d' AND uni LIKE 'h_llo' AND path LIKE '%!_%' ESCAPE '!'",
		"ch LIKE 'x' AND uch IN ('é') AND ch = 'x' AND uch LIKE '_'",
		"NOT (t AND utrue) OR JMSDeliveryMode = 'PERSISTENT'",
		"i32 BETWEEN 20 AND 30 AND i32 NOT BETWEEN f32 AND 10 AND ubig > 1",
		"(i32 > 1) = TRUE AND -i32 < 0 AND i32 / zero IS NULL",
		"JMSPriority > 3 AND JMSType <> 'x' AND JMSXGroupSeq = 3",
	}
	for _, sel := range sels {
		s := MustParse(sel)
		if s.Eval(env) != True {
			t.Errorf("Eval(%q) is not TRUE, so not every clause is measured", sel)
		}
		if n := testing.AllocsPerRun(200, func() { s.Eval(env) }); n != 0 {
			t.Errorf("Eval(%q) allocates %v times", sel, n)
		}
	}
}

// TestConcurrentEval shares one selector between goroutines; run with -race.
func TestConcurrentEval(t *testing.T) {
	s := MustParse("color = 'red' AND weight > 10 AND region IN ('eu','us') AND seq LIKE '%a_d'")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			env := newTestEnv()
			for i := 0; i < 2000; i++ {
				want := True
				if i%2 == 1 {
					env.props[len(env.props)-1].Value = prop.UntypedValue("5")
					want = False
				} else {
					env.props[len(env.props)-1].Value = prop.UntypedValue(strconv.Itoa(11 + g))
				}
				if got := s.Eval(env); got != want {
					errs <- fmt.Errorf("goroutine %d iteration %d: %v, want %v", g, i, got, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseNumber(t *testing.T) {
	cases := []struct {
		in   string
		kind prop.Kind
		i    int64
		f    float64
	}{
		{"0", prop.Int64, 0, 0},
		{"-0", prop.Int64, 0, 0},
		{"+42", prop.Int64, 42, 0},
		{"-9223372036854775808", prop.Int64, -9223372036854775808, 0},
		{"9223372036854775807", prop.Int64, 9223372036854775807, 0},
		{"9223372036854775808", prop.Float64, 0, 9223372036854775808},
		{"123456789012345678", prop.Int64, 123456789012345678, 0},
		{"1.5", prop.Float64, 0, 1.5},
		{"-.5", prop.Float64, 0, -0.5},
		{"5.", prop.Float64, 0, 5},
		{"1e3", prop.Float64, 0, 1000},
		{"1E-3", prop.Float64, 0, 0.001},
		{"2.5e+2", prop.Float64, 0, 250},
		{"", prop.Null, 0, 0},
		{"-", prop.Null, 0, 0},
		{".", prop.Null, 0, 0},
		{"+.", prop.Null, 0, 0},
		{"e5", prop.Null, 0, 0},
		{"1e", prop.Null, 0, 0},
		{"1e+", prop.Null, 0, 0},
		{"1.2.3", prop.Null, 0, 0},
		{" 1", prop.Null, 0, 0},
		{"1 ", prop.Null, 0, 0},
		{"0x10", prop.Null, 0, 0},
		{"NaN", prop.Null, 0, 0},
		{"Inf", prop.Null, 0, 0},
		{"1_000", prop.Null, 0, 0},
		{"12L", prop.Null, 0, 0},
		{"--1", prop.Null, 0, 0},
	}
	for _, c := range cases {
		v, ok := parseNumber(c.in)
		if ok != (c.kind != prop.Null) || v.Kind != c.kind || (v.Kind.IsApprox() && v.Float() != c.f) || (!v.Kind.IsApprox() && v.I != c.i) {
			t.Errorf("parseNumber(%q) = %+v, %v; want kind %v i %d f %g", c.in, v, ok, c.kind, c.i, c.f)
		}
	}
}
