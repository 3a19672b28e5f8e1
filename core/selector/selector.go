// Package selector implements JMS 1.1/2.0 message selectors: the SQL-92
// conditional expression subset with three-valued logic.
//
// A selector is parsed once into a tree of typed nodes and then evaluated
// against many messages. Evaluation allocates nothing for ordinary selectors
// and a compiled Selector is immutable, so one may be shared by any number of
// goroutines.
//
// Language summary (keywords are case-insensitive, identifiers are not):
//
//	literals     'it''s'  42  42L  0x2A  1.5  1e3  1.5E-2  2.5F  TRUE  FALSE  NULL
//	arithmetic   + - * /  and unary + -
//	comparison   = <> < <= > >=
//	predicates   [NOT] BETWEEN a AND b   [NOT] IN ('a', 'b')
//	             [NOT] LIKE 'pat%' [ESCAPE '!']   IS [NOT] NULL
//	logic        NOT AND OR, parentheses
//
// Type rules follow the JMS specification, with these choices where the
// specification is silent or implementations differ:
//
//   - NULL, TRUE and FALSE are literals (keywords, in any case), never
//     identifiers: no property of those names can be read.
//   - A comparison between values of different types (string with number,
//     boolean with number, string with boolean) is FALSE, with every
//     operator, as JMS 2.0 §3.8.1.1 says ("the value of the operation is
//     false"): `s <> 5` is FALSE while `NOT s = 5` is TRUE. A comparison
//     with NULL stays UNKNOWN.
//   - Strings and booleans compare only with = and <>. Ordering them (<, <=,
//     >, >=, BETWEEN) is a syntax error when the parser can see the type (a
//     literal, a boolean expression: `TRUE > 0`, `color > 'a'`), as in
//     ActiveMQ and Artemis, and UNKNOWN at run time otherwise.
//   - AMQP kinds are compared as the JMS type a JMS client sees
//     (prop.Value.JMS): unsigned integers and timestamps as numbers, uuid
//     and symbol as strings; binary and decimal values compare with
//     nothing (UNKNOWN).
//   - Exact numerics (int8..int64) compare and compute as int64; mixed with an
//     approximate numeric they are promoted to float64, as in Java.
//   - Integer arithmetic wraps around on int64 overflow (Java long semantics).
//     Unlike ActiveMQ, small integers are not computed in 32 bits.
//   - Division by zero, exact or approximate, yields NULL (so the enclosing
//     comparison is UNKNOWN) rather than an error or an infinity.
//   - Arithmetic or comparison involving NULL yields NULL / UNKNOWN.
//   - A string marked Untyped (it came from a text-only protocol such as STOMP)
//     that is compared with, or used in arithmetic with, a number is converted
//     to a number when it has the form of a decimal number literal
//     ([+-]digits[.digits][e[+-]digits]); otherwise it is a string, and the
//     comparison FALSE (arithmetic NULL). This
//     is what lets `weight > 10` match a STOMP header weight:25, as ActiveMQ
//     does. Likewise an untyped 'true' or 'false' (any case) compares equal to a
//     boolean, and is a boolean when used as a condition. A typed string never
//     converts. Two untyped strings compare as strings.
//   - Char values behave as one-character strings.
//   - IN lists and LIKE patterns must be string literals; their left operand
//     must be a string at run time, otherwise the predicate is UNKNOWN.
//   - Integer literals are decimal or 0x hexadecimal; a leading zero does not
//     make them octal. A literal that does not fit in int64 is a syntax error.
//
// Operators whose operands the grammar requires to be of one type reject
// constant operands of another type at parse time: `1 + 'a'`, `NOT 5`,
// `5 LIKE 'x'`, and a selector that is a bare number or string, are syntax
// errors. An identifier is allowed anywhere; its value is checked when the
// selector is evaluated, and a non-boolean value used as a condition is
// UNKNOWN.
package selector

import (
	"strconv"
	"strings"

	"github.com/junctionmq/junction/core/prop"
)

// Limits that keep a hostile selector from exhausting the stack or memory.
const (
	// MaxLength is the longest selector text accepted, in bytes.
	MaxLength = 64 << 10
	// MaxDepth bounds both the nesting of the source (parentheses, NOT and
	// unary sign chains) and the height of the compiled tree, so neither the
	// parser nor the evaluator can recurse deeper than this.
	MaxDepth = 256
)

// Header identifies a JMS header field or JMSX property that a selector may
// reference. Such identifiers are resolved once, at parse time, so that
// evaluation does not compare names. The zero Header is not a valid header.
type Header uint8

const (
	JMSDestination Header = iota + 1
	JMSDeliveryMode
	JMSExpiration
	JMSPriority
	JMSMessageID
	JMSTimestamp
	JMSCorrelationID
	JMSReplyTo
	JMSType
	JMSRedelivered
	JMSXGroupID
	JMSXGroupSeq
	JMSXDeliveryCount
	JMSXUserID

	numHeaders = int(JMSXUserID) + 1
)

var headerNames = [numHeaders]string{
	JMSDestination:    "JMSDestination",
	JMSDeliveryMode:   "JMSDeliveryMode",
	JMSExpiration:     "JMSExpiration",
	JMSPriority:       "JMSPriority",
	JMSMessageID:      "JMSMessageID",
	JMSTimestamp:      "JMSTimestamp",
	JMSCorrelationID:  "JMSCorrelationID",
	JMSReplyTo:        "JMSReplyTo",
	JMSType:           "JMSType",
	JMSRedelivered:    "JMSRedelivered",
	JMSXGroupID:       "JMSXGroupID",
	JMSXGroupSeq:      "JMSXGroupSeq",
	JMSXDeliveryCount: "JMSXDeliveryCount",
	JMSXUserID:        "JMSXUserID",
}

// String returns the identifier that names the header in a selector.
func (h Header) String() string {
	if int(h) < numHeaders && h != 0 {
		return headerNames[h]
	}
	return "Header(" + strconv.Itoa(int(h)) + ")"
}

// LookupHeader returns the Header a selector identifier names, if any. Names
// are case-sensitive, as all JMS identifiers are.
func LookupHeader(name string) (Header, bool) {
	if !strings.HasPrefix(name, "JMS") {
		return 0, false
	}
	for h := Header(1); int(h) < numHeaders; h++ {
		if headerNames[h] == name {
			return h, true
		}
	}
	return 0, false
}

// Env supplies the values a selector reads. Both methods return the zero
// prop.Value (NULL) for an absent field. They are called on the hot path and
// should not allocate.
//
// JMSDeliveryMode should be reported as the string 'PERSISTENT' or
// 'NON_PERSISTENT'; for convenience a Bool (true = persistent) or the JMS
// integer constants 2 (PERSISTENT) and 1 (NON_PERSISTENT) are converted to
// those strings.
type Env interface {
	Header(h Header) prop.Value
	Property(name string) prop.Value
}

// Result is the outcome of a three-valued logical expression.
type Result uint8

const (
	False Result = iota
	True
	Unknown
)

func (r Result) String() string {
	switch r {
	case False:
		return "FALSE"
	case True:
		return "TRUE"
	case Unknown:
		return "UNKNOWN"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Selector is a compiled selector. The nil *Selector stands for "no selector"
// and matches every message.
type Selector struct {
	text string
	root boolNode
}

// SyntaxError reports why a selector was rejected. Pos is the byte offset in
// the selector text where the problem was found.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return "selector: at position " + strconv.Itoa(e.Pos) + ": " + e.Msg
}

// Parse compiles a selector. Text that is empty or only whitespace is not a
// selector at all: Parse returns (nil, nil), and callers treat the nil
// *Selector as "no selector" (it matches everything). Any other failure is a
// *SyntaxError.
func Parse(text string) (*Selector, error) {
	if len(text) > MaxLength {
		return nil, &SyntaxError{Pos: MaxLength, Msg: "selector longer than " + strconv.Itoa(MaxLength) + " bytes"}
	}
	if strings.TrimLeft(text, " \t\n\r\f") == "" {
		return nil, nil
	}
	root, err := parse(text)
	if err != nil {
		return nil, err
	}
	return &Selector{text: text, root: root}, nil
}

// MustParse is Parse for selectors known to be valid, such as constants in
// code; it panics on a syntax error.
func MustParse(text string) *Selector {
	s, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return s
}

// Eval evaluates the selector against env. A nil selector is True; a nil env
// behaves as a message with no headers and no properties.
func (s *Selector) Eval(env Env) Result {
	if s == nil {
		return True
	}
	if env == nil {
		env = emptyEnv{}
	}
	return s.root.eval(env)
}

// Matches reports whether the selector selects the message: only True does,
// False and Unknown do not.
func (s *Selector) Matches(env Env) bool { return s.Eval(env) == True }

// String returns the selector text as given to Parse.
func (s *Selector) String() string {
	if s == nil {
		return ""
	}
	return s.text
}

type emptyEnv struct{}

func (emptyEnv) Header(Header) prop.Value   { return prop.Value{} }
func (emptyEnv) Property(string) prop.Value { return prop.Value{} }
