package selector

import (
	"math"
	"unicode/utf8"

	"github.com/junctionmq/junction/core/prop"
)

// styp is the type of an expression as far as it is known at parse time.
type styp uint8

const (
	sAny  styp = iota // depends on a header or property value
	sNull             // the NULL literal
	sBool
	sNum
	sStr
)

func (t styp) String() string {
	switch t {
	case sBool:
		return "boolean"
	case sNum:
		return "numeric"
	case sStr:
		return "string"
	case sNull:
		return "NULL"
	}
	return "untyped"
}

// operand is a parsed subexpression: a boolean node, a value node, or (for
// constants) both.
type operand struct {
	b   boolNode
	v   valNode
	t   styp
	h   int // height of the compiled tree
	pos int // where the subexpression starts, for error messages
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func parse(text string) (boolNode, error) {
	p := &parser{lx: lexer{src: text}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	o, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf(p.tok.pos, "unexpected "+p.tok.describe())
	}
	if o.t == sNum || o.t == sStr {
		return nil, p.errf(o.pos, "selector must be a boolean expression, not a "+o.t.String()+" one")
	}
	return p.boolOf(o)
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errf(pos int, msg string) error { return &SyntaxError{Pos: pos, Msg: msg} }

func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.errf(p.tok.pos, "expected "+what+" but found "+p.tok.describe())
	}
	return p.advance()
}

// enter guards the recursive productions against hostile nesting.
func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf(pos, "expression nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) height(h, pos int) (int, error) {
	if h > MaxDepth {
		return 0, p.errf(pos, "expression nested too deeply")
	}
	return h, nil
}

// boolOf returns o as a boolean node, rejecting a constant number or string.
func (p *parser) boolOf(o operand) (boolNode, error) {
	if o.t == sNum || o.t == sStr {
		return nil, p.errf(o.pos, "expected a boolean expression but found a "+o.t.String()+" one")
	}
	if o.b != nil {
		return o.b, nil
	}
	if c, ok := o.v.(*constVal); ok {
		return &constBool{asResult(&c.v)}, nil
	}
	return &valToBool{srcOf(o.v)}, nil
}

// valOf returns o as a value node.
func valOf(o operand) valNode {
	if o.v != nil {
		return o.v
	}
	if c, ok := o.b.(*constBool); ok {
		return &constVal{resultValue(c.r)}
	}
	return &boolToVal{o.b}
}

// resultValue is r as a value: a boolean, or NULL for UNKNOWN.
func resultValue(r Result) prop.Value {
	switch r {
	case True:
		return prop.BoolValue(true)
	case False:
		return prop.BoolValue(false)
	}
	return prop.Value{}
}

func constOf(n valNode) (prop.Value, bool) {
	if c, ok := n.(*constVal); ok {
		return c.v, true
	}
	return prop.Value{}, false
}

func constant(v prop.Value, t styp, pos int) operand {
	o := operand{v: &constVal{v}, t: t, h: 1, pos: pos}
	if t == sBool {
		o.b = &constBool{asResult(&v)}
	}
	return o
}

// logic parses a chain of AND or OR into one flattened node.
func (p *parser) logic(op tokKind, sub func() (operand, error)) (operand, error) {
	first, err := sub()
	if err != nil || p.tok.kind != op {
		return first, err
	}
	b, err := p.boolOf(first)
	if err != nil {
		return operand{}, err
	}
	xs := []boolNode{b}
	h := first.h
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		o, err := sub()
		if err != nil {
			return operand{}, err
		}
		b, err := p.boolOf(o)
		if err != nil {
			return operand{}, err
		}
		xs = append(xs, b)
		h = max(h, o.h)
	}
	if h, err = p.height(h+1, first.pos); err != nil {
		return operand{}, err
	}
	var n boolNode = &andNode{xs}
	if op == tOr {
		n = &orNode{xs}
	}
	return operand{b: n, t: sBool, h: h, pos: first.pos}, nil
}

func (p *parser) orExpr() (operand, error) { return p.logic(tOr, p.andExpr) }

func (p *parser) andExpr() (operand, error) { return p.logic(tAnd, p.notExpr) }

func (p *parser) notExpr() (operand, error) {
	if p.tok.kind != tNot {
		return p.predicate()
	}
	pos := p.tok.pos
	if err := p.enter(pos); err != nil {
		return operand{}, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	o, err := p.notExpr()
	if err != nil {
		return operand{}, err
	}
	b, err := p.boolOf(o)
	if err != nil {
		return operand{}, err
	}
	h, err := p.height(o.h+1, pos)
	if err != nil {
		return operand{}, err
	}
	if c, ok := b.(*constBool); ok {
		return constant(resultValue(not(c.r)), sBool, pos), nil
	}
	return operand{b: &notNode{b}, t: sBool, h: h, pos: pos}, nil
}

var cmpOps = map[tokKind]cmpOp{tEq: opEq, tNe: opNe, tLt: opLt, tLe: opLe, tGt: opGt, tGe: opGe}

func (p *parser) predicate() (operand, error) {
	l, err := p.additive()
	if err != nil {
		return operand{}, err
	}
	switch p.tok.kind {
	case tEq, tNe, tLt, tLe, tGt, tGe:
		op := cmpOps[p.tok.kind]
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		r, err := p.additive()
		if err != nil {
			return operand{}, err
		}
		return p.comparison(op, l, r)
	case tIs:
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		not := false
		if p.tok.kind == tNot {
			not = true
			if err := p.advance(); err != nil {
				return operand{}, err
			}
		}
		if err := p.expect(tNull, "NULL"); err != nil {
			return operand{}, err
		}
		return p.boolResult(&isNullNode{x: srcOf(valOf(l)), not: not}, l.h+1, l.pos)
	case tNot:
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		switch p.tok.kind {
		case tBetween, tIn, tLike:
			return p.special(l, true)
		}
		return operand{}, p.errf(p.tok.pos, "expected BETWEEN, IN or LIKE after NOT but found "+p.tok.describe())
	case tBetween, tIn, tLike:
		return p.special(l, false)
	}
	return l, nil
}

// boolResult finishes a predicate node, folding it when it reads no header or
// property.
func (p *parser) boolResult(n boolNode, h, pos int) (operand, error) {
	h, err := p.height(h, pos)
	if err != nil {
		return operand{}, err
	}
	return operand{b: n, t: sBool, h: h, pos: pos}, nil
}

func (p *parser) comparison(op cmpOp, l, r operand) (operand, error) {
	if op != opEq && op != opNe {
		if err := p.orderedOperands(l, r); err != nil {
			return operand{}, err
		}
	}
	lv, rv := valOf(l), valOf(r)
	lc, lconst := constOf(lv)
	rc, rconst := constOf(rv)
	h := max(l.h, r.h) + 1
	switch {
	case lconst && rconst:
		return constant(resultValue(compare(op, &lc, &rc)), sBool, l.pos), nil
	case lconst:
		// Put the constant on the right; ordering operators flip.
		lv, rc, op = rv, lc, op.flip()
	case !rconst:
		return p.boolResult(&cmpNode{op: op, l: srcOf(lv), r: srcOf(rv)}, h, l.pos)
	}
	if rc.Kind == prop.String && (op == opEq || op == opNe) {
		return p.boolResult(&strEq{l: srcOf(lv), ne: op == opNe, c: rc}, h, l.pos)
	}
	return p.boolResult(&cmpConst{op: op, l: srcOf(lv), c: rc}, h, l.pos)
}

// orderedOperands rejects a boolean or string among the operands of <, <=,
// >, >= or BETWEEN when the parser knows its type: JMS restricts boolean and
// string comparison to = and <> (JMS 2.0 §3.8.1.1), so `TRUE > 0` and
// `color > 'a'` are errors, as in ActiveMQ and Artemis.
func (p *parser) orderedOperands(os ...operand) error {
	for _, o := range os {
		if o.t == sBool || o.t == sStr {
			return p.errf(o.pos, "a "+o.t.String()+" can only be compared with = or <>")
		}
	}
	return nil
}

// special parses the rest of [NOT] BETWEEN, IN or LIKE, with the current
// token being the keyword.
func (p *parser) special(l operand, not bool) (operand, error) {
	kw := p.tok
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	switch kw.kind {
	case tBetween:
		lo, err := p.additive()
		if err != nil {
			return operand{}, err
		}
		if err := p.expect(tAnd, "AND"); err != nil {
			return operand{}, err
		}
		hi, err := p.additive()
		if err != nil {
			return operand{}, err
		}
		if err := p.orderedOperands(l, lo, hi); err != nil {
			return operand{}, err
		}
		h := max(l.h, lo.h, hi.h) + 1
		return p.boolResult(&betweenNode{x: srcOf(valOf(l)), lo: srcOf(valOf(lo)), hi: srcOf(valOf(hi)), not: not}, h, l.pos)
	case tIn:
		if err := p.stringOperand(l, "IN"); err != nil {
			return operand{}, err
		}
		if err := p.expect(tLParen, "'('"); err != nil {
			return operand{}, err
		}
		var list []string
		for {
			if p.tok.kind != tString {
				return operand{}, p.errf(p.tok.pos, "expected a string literal in the IN list but found "+p.tok.describe())
			}
			list = append(list, p.tok.str)
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return operand{}, err
			}
		}
		if err := p.expect(tRParen, "',' or ')'"); err != nil {
			return operand{}, err
		}
		n := &inNode{x: srcOf(valOf(l)), list: list, not: not}
		if len(list) >= inSetMin {
			n.set = make(map[string]struct{}, len(list))
			for _, s := range list {
				n.set[s] = struct{}{}
			}
		}
		return p.boolResult(n, l.h+1, l.pos)
	default: // tLike
		if err := p.stringOperand(l, "LIKE"); err != nil {
			return operand{}, err
		}
		if p.tok.kind != tString {
			return operand{}, p.errf(p.tok.pos, "expected a string literal pattern after LIKE but found "+p.tok.describe())
		}
		patTok := p.tok
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		esc := rune(-1)
		if p.tok.kind == tEscape {
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			if p.tok.kind != tString {
				return operand{}, p.errf(p.tok.pos, "expected a string literal after ESCAPE but found "+p.tok.describe())
			}
			r, n := utf8.DecodeRuneInString(p.tok.str)
			if n == 0 || n != len(p.tok.str) || r == utf8.RuneError && n == 1 {
				return operand{}, p.errf(p.tok.pos, "ESCAPE must be a single character")
			}
			esc = r
			if err := p.advance(); err != nil {
				return operand{}, err
			}
		}
		pat, bad := compileLike(patTok.str, esc)
		if bad >= 0 {
			return operand{}, p.errf(patTok.pos, "LIKE pattern ends with the escape character")
		}
		return p.boolResult(&likeNode{x: srcOf(valOf(l)), pat: pat, not: not}, l.h+1, l.pos)
	}
}

func (p *parser) stringOperand(o operand, what string) error {
	if o.t == sNum || o.t == sBool {
		return p.errf(o.pos, what+" needs a string operand, not a "+o.t.String()+" one")
	}
	return nil
}

func (p *parser) numericOperand(o operand) error {
	if o.t == sStr || o.t == sBool {
		return p.errf(o.pos, "arithmetic needs numeric operands, not a "+o.t.String()+" one")
	}
	return nil
}

func (p *parser) additive() (operand, error) { return p.binary(tPlus, tMinus, p.multiplicative) }

func (p *parser) multiplicative() (operand, error) { return p.binary(tStar, tSlash, p.unary) }

func (p *parser) binary(op1, op2 tokKind, sub func() (operand, error)) (operand, error) {
	l, err := sub()
	if err != nil {
		return operand{}, err
	}
	for p.tok.kind == op1 || p.tok.kind == op2 {
		opTok := p.tok
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		r, err := sub()
		if err != nil {
			return operand{}, err
		}
		if err := p.numericOperand(l); err != nil {
			return operand{}, err
		}
		if err := p.numericOperand(r); err != nil {
			return operand{}, err
		}
		op := opTok.text[0]
		lv, rv := valOf(l), valOf(r)
		lc, lconst := constOf(lv)
		rc, rconst := constOf(rv)
		if lconst && rconst {
			l = constant(arith(op, &lc, &rc), sNum, l.pos)
			continue
		}
		h, err := p.height(max(l.h, r.h)+1, opTok.pos)
		if err != nil {
			return operand{}, err
		}
		l = operand{v: &arithNode{op: op, l: srcOf(lv), r: srcOf(rv)}, t: sNum, h: h, pos: l.pos}
	}
	return l, nil
}

func (p *parser) unary() (operand, error) {
	if p.tok.kind != tPlus && p.tok.kind != tMinus {
		return p.primary()
	}
	opTok := p.tok
	if err := p.enter(opTok.pos); err != nil {
		return operand{}, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	// -9223372036854775808 is the one integer literal whose magnitude only
	// fits once negated.
	if opTok.kind == tMinus && p.tok.kind == tExact && p.tok.mag == 1<<63 {
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		return constant(prop.Int64Value(math.MinInt64), sNum, opTok.pos), nil
	}
	x, err := p.unary()
	if err != nil {
		return operand{}, err
	}
	if err := p.numericOperand(x); err != nil {
		return operand{}, err
	}
	xv := valOf(x)
	if c, ok := constOf(xv); ok {
		if opTok.kind == tMinus {
			return constant(negate(c), sNum, opTok.pos), nil
		}
		c, _ = toNumber(c)
		return constant(c, sNum, opTok.pos), nil
	}
	h, err := p.height(x.h+1, opTok.pos)
	if err != nil {
		return operand{}, err
	}
	if opTok.kind == tMinus {
		return operand{v: &negNode{srcOf(xv)}, t: sNum, h: h, pos: opTok.pos}, nil
	}
	return operand{v: &plusNode{srcOf(xv)}, t: sNum, h: h, pos: opTok.pos}, nil
}

func (p *parser) primary() (operand, error) {
	t := p.tok
	var o operand
	switch t.kind {
	case tString:
		o = constant(prop.StringValue(t.str), sStr, t.pos)
	case tExact:
		if t.mag > math.MaxInt64 {
			return operand{}, p.errf(t.pos, "integer literal out of range")
		}
		o = constant(prop.Int64Value(int64(t.mag)), sNum, t.pos)
	case tApprox:
		o = constant(prop.Float64Value(t.f), sNum, t.pos)
	case tTrue, tFalse:
		o = constant(prop.BoolValue(t.kind == tTrue), sBool, t.pos)
	case tNull:
		o = constant(prop.Value{}, sNull, t.pos)
	case tIdent:
		o = operand{t: sAny, h: 1, pos: t.pos}
		switch h, ok := LookupHeader(t.text); {
		case !ok:
			o.v = &propRef{t.text}
		case h == JMSDeliveryMode:
			o.v = deliveryModeRef{}
		default:
			o.v = &headerRef{h}
		}
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return operand{}, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		o, err := p.orExpr()
		if err != nil {
			return operand{}, err
		}
		if err := p.expect(tRParen, "')'"); err != nil {
			return operand{}, err
		}
		return o, nil
	default:
		return operand{}, p.errf(t.pos, "expected an expression but found "+t.describe())
	}
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	return o, nil
}
