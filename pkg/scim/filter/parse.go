package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Limits that keep hostile filters cheap to reject.
const (
	maxLength  = 4096 // bytes in a filter string
	maxNesting = 32   // nested "(", "not (" and "[" in a filter string
	maxDepth   = 64   // nesting of compiled expressions (and/or changes, not, value paths)
)

// The parser below implements the filter grammar of RFC 7644 §3.4.2.2 and
// produces the AST of github.com/scim2/filter-parser/v2, whose own parser
// (v2.3.1) is not used for filters because it rejects forms that clients
// send: "emails[type eq "work"].value eq "x"" (Microsoft Entra ID's uniqueness
// check), value filters with more than two terms or parentheses, leading or
// trailing spaces, and \u escapes with lower-case hex digits. It also wraps
// integers beyond int64 around.
//
// Like filter-parser, the parser stores a string compare value as the text
// between its quotes, JSON escapes undecoded; Compile decodes them.
//
// Deliberate leniencies, none of which changes the meaning of a filter that
// follows the RFC grammar:
//   - any run of spaces, tabs or newlines separates tokens, and none is needed
//     next to parentheses, brackets and quoted strings;
//   - a value path may be followed by a sub-attribute and a comparison,
//     "emails[type eq "work"].value eq "x"", which means
//     "emails[type eq "work" and value eq "x"]";
//   - value filters take the full filter grammar (and, or, not, parentheses),
//     but no nested value paths;
//   - a compare value that is not quoted and is not true, false, null or a
//     JSON number is taken as a string: "externalId eq jyoung", as Entra ID's
//     documentation writes it. Such a bare value ends at a space, a
//     parenthesis, a bracket or a quote and must not contain a backslash.

var (
	errBadEscape   = errors.New("invalid escape sequence")
	errNumberRange = errors.New("out of range")
)

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokString // text is the raw content between the quotes
	tokWord   // an attribute path, operator, keyword, literal or bare value
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the filter
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokLBracket:
		return `"["`
	case tokRBracket:
		return `"]"`
	case tokString:
		return strconv.Quote(`"` + truncate(t.text) + `"`)
	}
	return strconv.Quote(truncate(t.text))
}

func truncate(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func syntaxError(pos int, format string, args ...any) error {
	return scimerr.InvalidFilter("filter: syntax error at position %d: %s", pos+1, fmt.Sprintf(format, args...))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDelim(c byte) bool {
	return c == '(' || c == ')' || c == '[' || c == ']' || c == '"'
}

// lex splits s into tokens, ending with a tokEOF token.
func lex(s string) ([]token, error) {
	toks := make([]token, 0, len(s)/4+2) // a token and a space take 4 bytes or more
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == '[':
			toks = append(toks, token{tokLBracket, "[", i})
			i++
		case c == ']':
			toks = append(toks, token{tokRBracket, "]", i})
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, syntaxError(i, "unterminated string")
			}
			raw := s[i+1 : j]
			if _, err := unquote(raw); err != nil {
				return nil, syntaxError(i, "string %s: %v", strconv.Quote(`"`+truncate(raw)+`"`), err)
			}
			toks = append(toks, token{tokString, raw, i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !isSpace(s[j]) && !isDelim(s[j]) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j], i})
			i = j
		}
	}
	return append(toks, token{tokEOF, "", len(s)}), nil
}

type parser struct {
	toks    []token
	i       int
	nesting int
}

// parse parses a filter string into a filter-parser expression.
func parse(s string) (fp.Expression, error) {
	if len(s) > maxLength {
		return nil, scimerr.InvalidFilter("filter: filter too long (%d bytes; the limit is %d)", len(s), maxLength)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, scimerr.InvalidFilter("filter: empty filter")
	}
	p := &parser{toks: toks}
	e, err := p.or(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, syntaxError(t.pos, `expected "and", "or" or end of filter, found %s`, t.describe())
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func (p *parser) expect(k tokenKind, what string) error {
	if t := p.next(); t.kind != k {
		return syntaxError(t.pos, "expected %s, found %s", what, t.describe())
	}
	return nil
}

func (p *parser) enter(t token) error {
	p.nesting++
	if p.nesting > maxNesting {
		return syntaxError(t.pos, "filter nested too deeply (more than %d levels)", maxNesting)
	}
	return nil
}

// or parses: and *("or" and). inValue is set inside the brackets of a value path.
func (p *parser) or(inValue bool) (fp.Expression, error) {
	left, err := p.and(inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.next()
		right, err := p.and(inValue)
		if err != nil {
			return nil, err
		}
		left = &fp.LogicalExpression{Left: left, Right: right, Operator: fp.OR}
	}
	return left, nil
}

// and parses: unary *("and" unary).
func (p *parser) and(inValue bool) (fp.Expression, error) {
	left, err := p.unary(inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.next()
		right, err := p.unary(inValue)
		if err != nil {
			return nil, err
		}
		left = &fp.LogicalExpression{Left: left, Right: right, Operator: fp.AND}
	}
	return left, nil
}

// unary parses: "(" or ")" / "not" "(" or ")" / attribute expression / value path.
func (p *parser) unary(inValue bool) (fp.Expression, error) {
	t := p.peek()
	switch {
	case t.kind == tokLParen:
		return p.group(inValue)
	case t.kind == tokWord && strings.EqualFold(t.text, "not") && p.toks[p.i+1].kind == tokLParen:
		p.next()
		e, err := p.group(inValue)
		if err != nil {
			return nil, err
		}
		return &fp.NotExpression{Expression: e}, nil
	case t.kind == tokWord:
		return p.attrExp(inValue)
	}
	return nil, syntaxError(t.pos, `expected an attribute name, "(" or "not", found %s`, t.describe())
}

// group parses: "(" or ")".
func (p *parser) group(inValue bool) (fp.Expression, error) {
	open := p.next()
	if err := p.enter(open); err != nil {
		return nil, err
	}
	e, err := p.or(inValue)
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokRParen, `")"`); err != nil {
		return nil, err
	}
	p.nesting--
	return e, nil
}

// attrExp parses: attrPath ("pr" / compareOp compValue)
// and attrPath "[" or "]" [ "." attrName ("pr" / compareOp compValue) ].
func (p *parser) attrExp(inValue bool) (fp.Expression, error) {
	t := p.next()
	path, err := parseAttrPath(t)
	if err != nil {
		return nil, err
	}
	open := p.peek()
	if open.kind != tokLBracket {
		return p.comparison(path, t)
	}
	if inValue {
		return nil, syntaxError(open.pos, "value filters cannot be nested")
	}
	p.next()
	if err := p.enter(open); err != nil {
		return nil, err
	}
	inner, err := p.or(true)
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokRBracket, `"]"`); err != nil {
		return nil, err
	}
	p.nesting--
	vp := &fp.ValuePath{AttributePath: path, ValueFilter: inner}
	if sub := p.peek(); sub.kind == tokWord && strings.HasPrefix(sub.text, ".") {
		p.next()
		name := sub.text[1:]
		if !validName(name) {
			return nil, syntaxError(sub.pos, "invalid sub-attribute name %s", sub.describe())
		}
		cmp, err := p.comparison(fp.AttributePath{AttributeName: name}, sub)
		if err != nil {
			return nil, err
		}
		vp.ValueFilter = &fp.LogicalExpression{Left: inner, Right: cmp, Operator: fp.AND}
	}
	return vp, nil
}

var compareOps = [...]fp.CompareOperator{fp.EQ, fp.NE, fp.CO, fp.SW, fp.EW, fp.GT, fp.GE, fp.LT, fp.LE, fp.PR}

// comparison parses the operator and value following the attribute path
// given by token at.
func (p *parser) comparison(path fp.AttributePath, at token) (fp.Expression, error) {
	t := p.peek()
	if t.kind == tokWord {
		for _, op := range compareOps {
			if !strings.EqualFold(t.text, string(op)) {
				continue
			}
			p.next()
			if op == fp.PR {
				return &fp.AttributeExpression{AttributePath: path, Operator: fp.PR}, nil
			}
			v, err := p.value(op)
			if err != nil {
				return nil, err
			}
			return &fp.AttributeExpression{AttributePath: path, Operator: op, CompareValue: v}, nil
		}
	}
	return nil, syntaxError(t.pos, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after %s, found %s",
		at.describe(), t.describe())
}

// value parses a compare value: a string (kept raw), true, false, null, a
// number (int when it is an integer that fits, else float64) or a bare word.
func (p *parser) value(op fp.CompareOperator) (any, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return t.text, nil
	case tokWord:
		switch {
		case strings.EqualFold(t.text, "true"):
			return true, nil
		case strings.EqualFold(t.text, "false"):
			return false, nil
		case strings.EqualFold(t.text, "null"):
			return nil, nil
		}
		if n, ok, err := parseNumber(t.text); ok {
			if err != nil {
				return nil, syntaxError(t.pos, "number %s: %v", t.describe(), err)
			}
			return n, nil
		}
		if strings.IndexByte(t.text, '\\') >= 0 {
			return nil, syntaxError(t.pos, "unquoted value %s contains a backslash; quote it", t.describe())
		}
		return t.text, nil
	}
	return nil, syntaxError(t.pos, "expected a value after %q, found %s", op, t.describe())
}

// parseNumber parses s if it is a JSON number (RFC 8259 §6); ok reports
// whether it is one.
func parseNumber(s string) (n any, ok bool, err error) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch d := digits(); {
	case d == 0:
		return nil, false, nil
	case d > 1 && s[i-d] == '0':
		return nil, false, nil // leading zero
	}
	integer := true
	if i < len(s) && s[i] == '.' {
		i++
		integer = false
		if digits() == 0 {
			return nil, false, nil
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		integer = false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false, nil
		}
	}
	if i != len(s) {
		return nil, false, nil
	}
	if integer {
		if v, err := strconv.ParseInt(s, 10, 0); err == nil {
			return int(v), true, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, true, errNumberRange
	}
	return f, true, nil
}

// parseAttrPath parses [URN ":"] attrName ["." attrName] from t.
func parseAttrPath(t token) (fp.AttributePath, error) {
	var path fp.AttributePath
	rest := t.text
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		urn := rest[:i]
		if !validURN(urn) {
			return path, syntaxError(t.pos, "invalid schema URN in attribute path %s", t.describe())
		}
		path.URIPrefix = &urn
		rest = rest[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || hasSub && !validName(sub) {
		return path, syntaxError(t.pos, "invalid attribute path %s", t.describe())
	}
	path.AttributeName = name
	if hasSub {
		path.SubAttribute = &sub
	}
	return path, nil
}

// validName reports whether s is an ATTRNAME of RFC 7644 (ALPHA *(nameChar)),
// optionally prefixed by "$" as in "$ref".
func validName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validURN reports whether s is a colon-separated list of non-empty segments
// of letters, digits, ".", "-" and "_".
func validURN(s string) bool {
	if s == "" {
		return false
	}
	for seg := range strings.SplitSeq(s, ":") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlpha(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// unquote decodes the JSON escapes in raw, the content of a quoted string.
func unquote(raw string) (string, error) {
	i := strings.IndexByte(raw, '\\')
	if i < 0 {
		return raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(raw[:i])
	for i < len(raw) {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", errBadEscape
		}
		i += 2
		switch raw[i-1] {
		case '"', '\\', '/':
			b.WriteByte(raw[i-1])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(raw[i:])
			if !ok {
				return "", errBadEscape
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if strings.HasPrefix(raw[i:], `\u`) {
					r2, ok = hex4(raw[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			return "", errBadEscape
		}
	}
	return b.String(), nil
}

func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
