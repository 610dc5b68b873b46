package localdb

import (
	"sort"
	"strconv"
	"strings"
)

// This file parses DynamoDB's expression language (condition, filter, key
// condition, update and projection expressions) into a small AST whose
// placeholders are already resolved. Evaluation is in eval.go.

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tName  // #name
	tValue // :value
	tNumber
	tPunct
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxErr(src, i, src[i:i+1])
			}
			k := tName
			if c == ':' {
				k = tValue
			}
			out = append(out, token{k, src[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			out = append(out, token{tIdent, src[i:j], i})
			i = j
		case c == '<' && i+1 < len(src) && (src[i+1] == '>' || src[i+1] == '='):
			out = append(out, token{tPunct, src[i : i+2], i})
			i += 2
		case c == '>' && i+1 < len(src) && src[i+1] == '=':
			out = append(out, token{tPunct, src[i : i+2], i})
			i += 2
		case strings.IndexByte("=<>()[],.+-", c) >= 0:
			out = append(out, token{tPunct, src[i : i+1], i})
			i++
		default:
			return nil, syntaxErr(src, i, src[i:i+1])
		}
	}
	return append(out, token{tEOF, "<EOF>", len(src)}), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// exprErr is a syntax or reference error before the expression kind is known.
type exprErr struct{ msg string }

func (e *exprErr) Error() string { return e.msg }

func syntaxErr(src string, pos int, tok string) error {
	lo := max(0, pos-5)
	hi := min(len(src), pos+len(tok)+5)
	return &exprErr{"Syntax error; token: \"" + tok + "\", near: \"" + src[lo:hi] + "\""}
}

// ---- AST ----

type pathElem struct {
	name  string
	index int // -1 for a map key / attribute
}

type docPath []pathElem

func (p docPath) String() string {
	var b strings.Builder
	for i, e := range p {
		if e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	return b.String()
}

type operand interface{ isOperand() }

type (
	opPath  struct{ p docPath }
	opValue struct{ v value }
	opSize  struct{ x operand }
	opArith struct {
		l, r operand
		sub  bool
	}
	opIfNotExists struct {
		p docPath
		v operand
	}
	opListAppend struct{ a, b operand }
)

func (*opPath) isOperand()        {}
func (*opValue) isOperand()       {}
func (*opSize) isOperand()        {}
func (*opArith) isOperand()       {}
func (*opIfNotExists) isOperand() {}
func (*opListAppend) isOperand()  {}

type cond interface{ isCond() }

type (
	condCmp struct {
		op   string
		l, r operand
	}
	condBetween struct{ x, lo, hi operand }
	condIn      struct {
		x     operand
		items []operand
	}
	condFunc struct {
		name string
		args []operand
	}
	condAnd struct{ l, r cond }
	condOr  struct{ l, r cond }
	condNot struct{ c cond }
)

func (*condCmp) isCond()     {}
func (*condBetween) isCond() {}
func (*condIn) isCond()      {}
func (*condFunc) isCond()    {}
func (*condAnd) isCond()     {}
func (*condOr) isCond()      {}
func (*condNot) isCond()     {}

type updateAction struct {
	kind string // SET, REMOVE, ADD, DELETE
	p    docPath
	v    operand // SET value, ADD/DELETE operand
}

// ---- parser ----

// params are a request's ExpressionAttributeNames and Values; the parser
// records which were used so unused ones can be reported like DynamoDB does.
type params struct {
	names      map[string]string
	values     map[string]value
	usedNames  map[string]bool // made on first use
	usedValues map[string]bool
}

func newParams(names map[string]string, values map[string]value) *params {
	return &params{names: names, values: values}
}

// unused reports placeholders no expression used.
func (pr *params) unused() error {
	var vs, ns []string
	for k := range pr.values {
		if !pr.usedValues[k] {
			vs = append(vs, k)
		}
	}
	for k := range pr.names {
		if !pr.usedNames[k] {
			ns = append(ns, k)
		}
	}
	sort.Strings(vs)
	sort.Strings(ns)
	if len(vs) > 0 {
		return validationf("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", strings.Join(vs, ", "))
	}
	if len(ns) > 0 {
		return validationf("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", strings.Join(ns, ", "))
	}
	return nil
}

type parser struct {
	src  string
	toks []token
	i    int
	pr   *params
}

func newParser(src string, pr *params) (*parser, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	return &parser{src: src, toks: toks, pr: pr}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}
func (p *parser) fail(t token) error { return syntaxErr(p.src, t.pos, t.text) }
func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}
func (p *parser) isKeyword(s string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, s)
}
func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.fail(p.peek())
	}
	p.next()
	return nil
}

// parseCondition parses a whole condition expression.
func parseCondition(src string, pr *params) (cond, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprErr{"The expression can not be empty;"}
	}
	p, err := newParser(src, pr)
	if err != nil {
		return nil, err
	}
	c, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.fail(t)
	}
	return c, nil
}

func (p *parser) orExpr() (cond, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &condOr{l, r}
	}
	return l, nil
}

func (p *parser) andExpr() (cond, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &condAnd{l, r}
	}
	return l, nil
}

func (p *parser) notExpr() (cond, error) {
	if p.isKeyword("NOT") {
		p.next()
		c, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &condNot{c}, nil
	}
	return p.primaryCond()
}

var condFuncs = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2}

// primaryCond parses a condition's primary: a parenthesised condition, NOT,
// a function (attribute_exists, begins_with, …), BETWEEN, IN or a comparison.
// It is long because it is one switch over the grammar's alternatives,
// each a few lines, as the DynamoDB condition grammar lists them.
func (p *parser) primaryCond() (cond, error) {
	if p.isPunct("(") {
		// A parenthesised condition; operands are never parenthesised.
		p.next()
		c, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	t := p.peek()
	if t.kind == tIdent {
		if n, ok := condFuncs[strings.ToLower(t.text)]; ok && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
			if t.text != strings.ToLower(t.text) {
				return nil, &exprErr{"Invalid function name; function: " + t.text}
			}
			p.next()
			p.next()
			var args []operand
			for {
				a, err := p.operand()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.isPunct(",") {
					p.next()
					continue
				}
				break
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			if len(args) != n {
				return nil, &exprErr{"Incorrect number of operands for operator or function; operator or function: " + t.text + ", number of operands: " + strconv.Itoa(len(args))}
			}
			if _, ok := args[0].(*opPath); !ok && t.text != "begins_with" && t.text != "contains" {
				return nil, &exprErr{"Operator or function requires a document path; operator or function: " + t.text}
			}
			return &condFunc{name: t.text, args: args}, nil
		}
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case p.isKeyword("BETWEEN"):
		p.next()
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("AND") {
			return nil, p.fail(p.peek())
		}
		p.next()
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &condBetween{l, lo, hi}, nil
	case p.isKeyword("IN"):
		p.next()
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		var list []operand
		for {
			o, err := p.operand()
			if err != nil {
				return nil, err
			}
			list = append(list, o)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return &condIn{l, list}, nil
	}
	t = p.peek()
	if t.kind == tPunct {
		switch t.text {
		case "=", "<>", "<", "<=", ">", ">=":
			p.next()
			r, err := p.operand()
			if err != nil {
				return nil, err
			}
			return &condCmp{t.text, l, r}, nil
		}
	}
	return nil, p.fail(t)
}

// operand parses a path, a :value or size(...).
func (p *parser) operand() (operand, error) {
	t := p.peek()
	switch t.kind {
	case tValue:
		p.next()
		v, ok := p.pr.values[t.text]
		if !ok {
			return nil, &exprErr{"An expression attribute value used in expression is not defined; attribute value: " + t.text}
		}
		if p.pr.usedValues == nil {
			p.pr.usedValues = map[string]bool{}
		}
		p.pr.usedValues[t.text] = true
		return &opValue{v}, nil
	case tIdent:
		if strings.EqualFold(t.text, "size") && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
			p.next()
			p.next()
			x, err := p.operand()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return &opSize{x}, nil
		}
		fallthrough
	case tName:
		dp, err := p.path()
		if err != nil {
			return nil, err
		}
		return &opPath{dp}, nil
	}
	return nil, p.fail(t)
}

// path parses a document path: name ('.' name | '[' n ']')*.
func (p *parser) path() (docPath, error) {
	var out docPath
	name, err := p.pathName()
	if err != nil {
		return nil, err
	}
	out = append(out, pathElem{name: name, index: -1})
	for {
		switch {
		case p.isPunct("."):
			p.next()
			name, err := p.pathName()
			if err != nil {
				return nil, err
			}
			out = append(out, pathElem{name: name, index: -1})
		case p.isPunct("["):
			p.next()
			t := p.next()
			if t.kind != tNumber {
				return nil, p.fail(t)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return nil, p.fail(t)
			}
			if err := p.expectPunct("]"); err != nil {
				return nil, err
			}
			out = append(out, pathElem{index: n})
		default:
			return out, nil
		}
	}
}

func (p *parser) pathName() (string, error) {
	t := p.next()
	switch t.kind {
	case tName:
		n, ok := p.pr.names[t.text]
		if !ok {
			return "", &exprErr{"An expression attribute name used in the document path is not defined; attribute name: " + t.text}
		}
		if p.pr.usedNames == nil {
			p.pr.usedNames = map[string]bool{}
		}
		p.pr.usedNames[t.text] = true
		return n, nil
	case tIdent:
		if t.text[0] >= '0' && t.text[0] <= '9' {
			return "", p.fail(t)
		}
		if reservedWords[strings.ToUpper(t.text)] {
			return "", &exprErr{"Attribute name is a reserved keyword; reserved keyword: " + t.text}
		}
		return t.text, nil
	}
	return "", p.fail(t)
}

// parseUpdate parses an update expression into its actions.
func parseUpdate(src string, pr *params) ([]updateAction, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprErr{"The expression can not be empty;"}
	}
	p, err := newParser(src, pr)
	if err != nil {
		return nil, err
	}
	var acts []updateAction
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		t := p.next()
		kw := strings.ToUpper(t.text)
		if t.kind != tIdent || (kw != "SET" && kw != "REMOVE" && kw != "ADD" && kw != "DELETE") {
			return nil, p.fail(t)
		}
		if seen[kw] {
			return nil, &exprErr{"The \"" + kw + "\" section can only be used once in an update expression;"}
		}
		seen[kw] = true
		for {
			dp, err := p.path()
			if err != nil {
				return nil, err
			}
			a := updateAction{kind: kw, p: dp}
			switch kw {
			case "SET":
				if err := p.expectPunct("="); err != nil {
					return nil, err
				}
				v, err := p.setValue()
				if err != nil {
					return nil, err
				}
				a.v = v
			case "ADD", "DELETE":
				v, err := p.operand()
				if err != nil {
					return nil, err
				}
				if _, ok := v.(*opValue); !ok {
					return nil, p.fail(p.toks[max(0, p.i-1)])
				}
				a.v = v
			}
			acts = append(acts, a)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
	}
	// Two actions on overlapping paths are refused.
	for i := range acts {
		for j := i + 1; j < len(acts); j++ {
			if overlaps(acts[i].p, acts[j].p) {
				return nil, &exprErr{"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [" + pathList(acts[i].p) + "], path two: [" + pathList(acts[j].p) + "]"}
			}
		}
	}
	return acts, nil
}

func pathList(p docPath) string {
	parts := make([]string, len(p))
	for i, e := range p {
		if e.index >= 0 {
			parts[i] = "[" + strconv.Itoa(e.index) + "]"
		} else {
			parts[i] = e.name
		}
	}
	return strings.Join(parts, ", ")
}

func overlaps(a, b docPath) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (p *parser) setValue() (operand, error) {
	l, err := p.setOperand()
	if err != nil {
		return nil, err
	}
	if p.isPunct("+") || p.isPunct("-") {
		sub := p.next().text == "-"
		r, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		return &opArith{l, r, sub}, nil
	}
	return l, nil
}

func (p *parser) setOperand() (operand, error) {
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "if_not_exists":
			p.next()
			p.next()
			dp, err := p.path()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
			v, err := p.setValue()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return &opIfNotExists{dp, v}, nil
		case "list_append":
			p.next()
			p.next()
			a, err := p.setValue()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
			b, err := p.setValue()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return &opListAppend{a, b}, nil
		default:
			return nil, &exprErr{"Invalid function name; function: " + t.text}
		}
	}
	return p.operand()
}

// parseProjection parses a comma-separated list of document paths.
func parseProjection(src string, pr *params) ([]docPath, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprErr{"The expression can not be empty;"}
	}
	p, err := newParser(src, pr)
	if err != nil {
		return nil, err
	}
	var out []docPath
	for {
		dp, err := p.path()
		if err != nil {
			return nil, err
		}
		out = append(out, dp)
		if p.isPunct(",") {
			p.next()
			continue
		}
		break
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.fail(t)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if overlaps(out[i], out[j]) {
				return nil, &exprErr{"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [" + pathList(out[i]) + "], path two: [" + pathList(out[j]) + "]"}
			}
		}
	}
	return out, nil
}
