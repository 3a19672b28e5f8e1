package selector

import (
	"math"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/junctionmq/junction/core/prop"
)

// The compiled tree has two kinds of node: boolean expressions, which yield a
// three-valued Result, and value expressions, which yield a prop.Value (NULL
// standing for "no value"). Keeping them apart lets AND/OR/NOT pass a byte
// around instead of a Value, and lets the parser check boolean contexts.

type boolNode interface{ eval(env Env) Result }

type valNode interface{ val(env Env) prop.Value }

// src is an operand of a node. Property and header references and
// constants, the usual operands, are held directly rather than as a valNode:
// reading them then costs no dynamic call and no extra copy of the Value.
type src struct {
	kind srcKind
	h    Header     // srcHeader
	name string     // srcProp
	c    prop.Value // srcConst
	node valNode    // srcNode: any other expression
}

type srcKind uint8

const (
	srcProp srcKind = iota
	srcHeader
	srcConst
	srcNode
)

func srcOf(n valNode) src {
	switch n := n.(type) {
	case *propRef:
		return src{kind: srcProp, name: n.name}
	case *headerRef:
		return src{kind: srcHeader, h: n.h}
	case *constVal:
		return src{kind: srcConst, c: n.v}
	}
	return src{kind: srcNode, node: n}
}

// get evaluates the operand. It is too large to be inlined, so the hot
// nodes test for srcProp themselves and call env.Property directly, saving a
// call and a copy of the Value per operand:
//
//	if n.x.kind == srcProp { v = env.Property(n.x.name) } else { v = n.x.get(env) }
//
// ptr returns a pointer to the operand's value: to the constant itself, or
// to tmp after evaluating into it.
func (s *src) ptr(env Env, tmp *prop.Value) *prop.Value {
	if s.kind == srcConst {
		return &s.c
	}
	*tmp = s.get(env)
	return tmp
}

func (s *src) get(env Env) prop.Value {
	switch s.kind {
	case srcProp:
		return env.Property(s.name)
	case srcHeader:
		return env.Header(s.h)
	case srcConst:
		return s.c
	}
	return s.node.val(env)
}

func result(b bool) Result {
	if b {
		return True
	}
	return False
}

// ---- value nodes ----

type constVal struct{ v prop.Value }

func (n *constVal) val(Env) prop.Value { return n.v }

type propRef struct{ name string }

func (n *propRef) val(env Env) prop.Value { return env.Property(n.name) }

type headerRef struct{ h Header }

func (n *headerRef) val(env Env) prop.Value { return env.Header(n.h) }

var (
	persistent    = prop.StringValue("PERSISTENT")
	nonPersistent = prop.StringValue("NON_PERSISTENT")
)

// deliveryModeRef reads JMSDeliveryMode and normalises the representations an
// Env may reasonably use to the strings the selector language compares with.
type deliveryModeRef struct{}

func (deliveryModeRef) val(env Env) prop.Value {
	v := env.Header(JMSDeliveryMode)
	switch {
	case v.Kind == prop.Bool:
		if v.I != 0 {
			return persistent
		}
		return nonPersistent
	case v.Kind.IsExact() && v.I == 2:
		return persistent
	case v.Kind.IsExact() && v.I == 1:
		return nonPersistent
	}
	return v
}

// boolToVal lets a boolean expression stand where a value is expected, as in
// (a > 1) = TRUE or (a > 1) IS NULL; UNKNOWN becomes NULL.
type boolToVal struct{ b boolNode }

func (n *boolToVal) val(env Env) prop.Value { return resultValue(n.b.eval(env)) }

type arithNode struct {
	op   byte // + - * /
	l, r src
}

func (n *arithNode) val(env Env) prop.Value {
	var a prop.Value
	if n.l.kind == srcProp {
		a = env.Property(n.l.name)
	} else {
		a = n.l.get(env)
	}
	var b prop.Value
	if n.r.kind == srcProp {
		b = env.Property(n.r.name)
	} else {
		b = n.r.get(env)
	}
	return arith(n.op, &a, &b)
}

type negNode struct{ x src }

func (n *negNode) val(env Env) prop.Value {
	var v prop.Value
	if n.x.kind == srcProp {
		v = env.Property(n.x.name)
	} else {
		v = n.x.get(env)
	}
	return negate(v)
}

// plusNode is unary plus: the identity on numbers, NULL on anything else.
type plusNode struct{ x src }

func (n *plusNode) val(env Env) prop.Value {
	v, _ := toNumber(n.x.get(env))
	return v
}

// toNumber returns v as a numeric Value, converting an untyped string that
// reads as a number. ok is false (and the Value NULL) otherwise.
func toNumber(v prop.Value) (prop.Value, bool) {
	if v.Kind > prop.Char {
		v = v.JMS()
	}
	if v.Kind.IsNumeric() {
		return v, true
	}
	if v.Kind == prop.String && v.Untyped {
		return parseNumber(v.S)
	}
	return prop.Value{}, false
}

func arith(op byte, a, b *prop.Value) prop.Value {
	if a.Kind > prop.Char || b.Kind > prop.Char {
		x, y := a.JMS(), b.JMS()
		return arith(op, &x, &y)
	}
	if !a.Kind.IsNumeric() {
		x, ok := untypedNumber(a)
		if !ok {
			return prop.Value{}
		}
		a = &x
	}
	if !b.Kind.IsNumeric() {
		y, ok := untypedNumber(b)
		if !ok {
			return prop.Value{}
		}
		b = &y
	}
	if a.Kind.IsExact() && b.Kind.IsExact() {
		var r int64
		switch op {
		case '+':
			r = a.I + b.I
		case '-':
			r = a.I - b.I
		case '*':
			r = a.I * b.I
		default:
			if b.I == 0 {
				return prop.Value{}
			}
			// MinInt64 / -1 wraps to MinInt64 in Go rather than trapping.
			r = a.I / b.I
		}
		return prop.Value{Kind: prop.Int64, I: r}
	}
	x, y := a.AsFloat(), b.AsFloat()
	var r float64
	switch op {
	case '+':
		r = x + y
	case '-':
		r = x - y
	case '*':
		r = x * y
	default:
		if y == 0 {
			return prop.Value{}
		}
		r = x / y
	}
	return prop.Float64Value(r)
}

func negate(v prop.Value) prop.Value {
	v, ok := toNumber(v)
	switch {
	case !ok:
		return prop.Value{}
	case v.Kind.IsExact():
		return prop.Value{Kind: prop.Int64, I: -v.I}
	default:
		return prop.Value{Kind: v.Kind, I: int64(math.Float64bits(-v.Float()))}
	}
}

// ---- boolean nodes ----

type constBool struct{ r Result }

func (n *constBool) eval(Env) Result { return n.r }

// valToBool uses a value as a condition: booleans (and untyped 'true' /
// 'false') are themselves, anything else is UNKNOWN.
type valToBool struct{ v src }

func (n *valToBool) eval(env Env) Result {
	var v prop.Value
	if n.v.kind == srcProp {
		v = env.Property(n.v.name)
	} else {
		v = n.v.get(env)
	}
	return asResult(&v)
}

func asResult(v *prop.Value) Result {
	switch {
	case v.Kind == prop.Bool:
		return result(v.I != 0)
	case v.Kind == prop.String && v.Untyped:
		if b, ok := parseBool(v.S); ok {
			return result(b)
		}
	}
	return Unknown
}

type notNode struct{ x boolNode }

func (n *notNode) eval(env Env) Result { return not(n.x.eval(env)) }

func not(r Result) Result {
	switch r {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

// andNode and orNode hold a flattened chain so that a long generated
// selector (a = 1 OR a = 2 OR ...) is evaluated by a loop, not by recursion.
type andNode struct{ xs []boolNode }

func (n *andNode) eval(env Env) Result {
	r := True
	for _, x := range n.xs {
		switch x.eval(env) {
		case False:
			return False
		case Unknown:
			r = Unknown
		}
	}
	return r
}

type orNode struct{ xs []boolNode }

func (n *orNode) eval(env Env) Result {
	r := False
	for _, x := range n.xs {
		switch x.eval(env) {
		case True:
			return True
		case Unknown:
			r = Unknown
		}
	}
	return r
}

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

// flip gives the operator that yields the same result with operands swapped.
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

type cmpNode struct {
	op   cmpOp
	l, r src
}

func (n *cmpNode) eval(env Env) Result {
	var a prop.Value
	if n.l.kind == srcProp {
		a = env.Property(n.l.name)
	} else {
		a = n.l.get(env)
	}
	var b prop.Value
	if n.r.kind == srcProp {
		b = env.Property(n.r.name)
	} else {
		b = n.r.get(env)
	}
	return compare(n.op, &a, &b)
}

// cmpConst is a comparison with a constant on one side, by far the common
// shape; it saves a node visit.
type cmpConst struct {
	op cmpOp
	l  src
	c  prop.Value
}

func (n *cmpConst) eval(env Env) Result {
	var v prop.Value
	if n.l.kind == srcProp {
		v = env.Property(n.l.name)
	} else {
		v = n.l.get(env)
	}
	if v.Kind.IsExact() && n.c.Kind.IsExact() {
		return compareInts(n.op, v.I, n.c.I)
	}
	return compare(n.op, &v, &n.c)
}

// strEq is `x = 'literal'` (or <>): the commonest predicate of all, worth a
// path that skips the general type dispatch when x is a plain string.
type strEq struct {
	l  src
	ne bool
	c  prop.Value // the literal
}

func (n *strEq) eval(env Env) Result {
	var v prop.Value
	if n.l.kind == srcProp {
		v = env.Property(n.l.name)
	} else {
		v = n.l.get(env)
	}
	if v.Kind == prop.String {
		return result((v.S == n.c.S) != n.ne)
	}
	op := opEq
	if n.ne {
		op = opNe
	}
	return compare(op, &v, &n.c)
}

// compare applies op to a and b. They are passed by pointer because a Value
// is eight words; compare does not retain or modify them.
//
// Values of different types ("non-like" in JMS 2.0 §3.8.1.1: a string or a
// boolean against a number, a string against a boolean) compare FALSE, with
// every operator. Values of one type that has no order (strings, booleans)
// compare UNKNOWN with an ordering operator; the parser already rejects
// such a comparison with a literal. Binary values have no JMS type and
// compare UNKNOWN with anything.
func compare(op cmpOp, a, b *prop.Value) Result {
	if a.Kind == prop.Null || b.Kind == prop.Null {
		return Unknown
	}
	if a.Kind > prop.Char || b.Kind > prop.Char {
		// AMQP kinds: compare what a JMS client sees.
		x, y := a.JMS(), b.JMS()
		return compare(op, &x, &y)
	}
	if a.Kind == prop.Bytes || b.Kind == prop.Bytes {
		return Unknown
	}
	an, bn := a.Kind.IsNumeric(), b.Kind.IsNumeric()
	if an || bn {
		if !an {
			x, ok := untypedNumber(a)
			if !ok {
				return False
			}
			return compareNumbers(op, &x, b)
		}
		if !bn {
			y, ok := untypedNumber(b)
			if !ok {
				return False
			}
			return compareNumbers(op, a, &y)
		}
		return compareNumbers(op, a, b)
	}
	var eq bool
	switch {
	case a.Kind == prop.Bool || b.Kind == prop.Bool:
		x, okx := boolOf(a)
		y, oky := boolOf(b)
		if !okx || !oky {
			return False
		}
		eq = x == y
	default: // String and Char: both text
		var buf [utf8.UTFMax]byte
		x, _ := text(a, &buf)
		var buf2 [utf8.UTFMax]byte
		y, _ := text(b, &buf2)
		eq = x == y
	}
	// Only equality is defined for strings and booleans.
	if op != opEq && op != opNe {
		return Unknown
	}
	return result(eq == (op == opEq))
}

// untypedNumber converts the non-numeric side of a comparison with a number.
func untypedNumber(v *prop.Value) (prop.Value, bool) {
	if v.Kind == prop.String && v.Untyped {
		return parseNumber(v.S)
	}
	return prop.Value{}, false
}

// boolOf reads v as a boolean for comparison with a boolean.
func boolOf(v *prop.Value) (bool, bool) {
	switch {
	case v.Kind == prop.Bool:
		return v.I != 0, true
	case v.Kind == prop.String && v.Untyped:
		return parseBool(v.S)
	}
	return false, false
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

func compareNumbers(op cmpOp, a, b *prop.Value) Result {
	if a.Kind.IsExact() && b.Kind.IsExact() {
		return compareInts(op, a.I, b.I)
	}
	// IEEE semantics: NaN is unequal to everything and unordered.
	x, y := a.AsFloat(), b.AsFloat()
	switch op {
	case opEq:
		return result(x == y)
	case opNe:
		return result(x != y)
	case opLt:
		return result(x < y)
	case opLe:
		return result(x <= y)
	case opGt:
		return result(x > y)
	default:
		return result(x >= y)
	}
}

func compareInts(op cmpOp, x, y int64) Result {
	switch op {
	case opEq:
		return result(x == y)
	case opNe:
		return result(x != y)
	case opLt:
		return result(x < y)
	case opLe:
		return result(x <= y)
	case opGt:
		return result(x > y)
	default:
		return result(x >= y)
	}
}

// betweenNode is x [NOT] BETWEEN lo AND hi, i.e. x >= lo AND x <= hi with x
// evaluated once.
type betweenNode struct {
	x, lo, hi src
	not       bool
}

func (n *betweenNode) eval(env Env) Result {
	var tmp prop.Value
	var x prop.Value
	if n.x.kind == srcProp {
		x = env.Property(n.x.name)
	} else {
		x = n.x.get(env)
	}
	r := compare(opGe, &x, n.lo.ptr(env, &tmp))
	if r != False {
		switch compare(opLe, &x, n.hi.ptr(env, &tmp)) {
		case False:
			r = False
		case Unknown:
			r = Unknown
		}
	}
	if n.not {
		return not(r)
	}
	return r
}

type isNullNode struct {
	x   src
	not bool
}

func (n *isNullNode) eval(env Env) Result {
	var v prop.Value
	if n.x.kind == srcProp {
		v = env.Property(n.x.name)
	} else {
		v = n.x.get(env)
	}
	return result((v.Kind == prop.Null) != n.not)
}

// text returns the string content of a String or Char value. For a Char the
// string is built in buf, which must outlive the result; callers keep buf on
// their stack so that nothing is allocated.
func text(v *prop.Value, buf *[utf8.UTFMax]byte) (string, bool) {
	switch v.Kind {
	case prop.String, prop.Symbol:
		return v.S, true
	case prop.Char:
		n := utf8.EncodeRune(buf[:], rune(v.I))
		return unsafe.String(&buf[0], n), true
	case prop.UUID:
		return v.Text(), true
	}
	return "", false
}

// inSetMin is the list length from which a map beats a linear scan.
const inSetMin = 8

type inNode struct {
	x    src
	list []string
	set  map[string]struct{} // for long lists
	not  bool
}

func (n *inNode) eval(env Env) Result {
	var v prop.Value
	if n.x.kind == srcProp {
		v = env.Property(n.x.name)
	} else {
		v = n.x.get(env)
	}
	if v.Kind == prop.String {
		return n.contains(v.S)
	}
	var buf [utf8.UTFMax]byte
	s, ok := text(&v, &buf)
	if !ok {
		return Unknown
	}
	return n.contains(s)
}

func (n *inNode) contains(s string) Result {
	found := false
	if n.set != nil {
		_, found = n.set[s]
	} else {
		for _, e := range n.list {
			if e == s {
				found = true
				break
			}
		}
	}
	return result(found != n.not)
}

type likeNode struct {
	x   src
	pat likePattern
	not bool
}

func (n *likeNode) eval(env Env) Result {
	var v prop.Value
	if n.x.kind == srcProp {
		v = env.Property(n.x.name)
	} else {
		v = n.x.get(env)
	}
	var buf [utf8.UTFMax]byte
	s, ok := text(&v, &buf)
	if !ok {
		return Unknown
	}
	return result(n.pat.match(s) != n.not)
}
