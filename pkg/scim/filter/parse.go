package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Limits that keep hostile filters and paths cheap to reject.
const (
	maxLength  = 4096 // bytes in a filter or path
	maxNesting = 32   // nested "(", "not (" and "[" in a filter or path
	maxDepth   = 64   // nesting of compiled expressions (and/or changes, not, value paths)
)

// The parser below implements the filter grammar of RFC 7644 §3.4.2.2 and
// the PATCH path grammar of §3.5.2 (Figure 1), which embeds it, with one
// set of rules for both:
//   - operators and the keywords and, or, not, true, false and null are
//     case-insensitive; operators are returned in lower case (Op);
//   - any run of spaces, tabs or newlines separates tokens, and none is needed
//     next to parentheses, brackets and quoted strings;
//   - a string is JSON's: its escapes are decoded, and an invalid escape is
//     a syntax error;
//   - a compare value that starts with a digit or "-" is a JSON number (RFC
//     8259 §6): 01, 1., 1x and numbers beyond float64's range are syntax
//     errors;
//   - a compare value that is not quoted, is not true, false, null or a
//     number, and does not start with a digit or "-" is taken as a string:
//     "externalId eq jyoung", as Microsoft Entra ID's documentation writes
//     it. Such a bare value ends at a space, a parenthesis, a bracket or a
//     quote and must not contain a backslash;
//   - value filters take the full filter grammar (and, or, not,
//     parentheses), but no nested value paths;
//   - in a filter, a value path may be followed by a sub-attribute and a
//     comparison, "emails[type eq "work"].value eq "x"", which means
//     "emails[type eq "work" and value eq "x"]" (Entra ID's uniqueness
//     check); in a PATCH path, by a sub-attribute alone;
//   - at most maxNesting parentheses and brackets are open at once.
//
// The fuzz tests compare this parser with github.com/scim2/filter-parser,
// which rejects some of the forms above (the value path form, value filters
// with more than two terms or parentheses, leading or trailing spaces, \u
// escapes with lower-case hex digits).

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
	tokString // text is the decoded content between the quotes
	tokWord   // an attribute path, operator, keyword, literal or bare value
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the input
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of " + t.text // the filter or the path
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokLBracket:
		return `"["`
	case tokRBracket:
		return `"]"`
	case tokString:
		return "string " + strconv.Quote(truncate(t.text))
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

// syntaxError is an error at a position of the input; Parse and ParsePath
// turn it into their SCIM error.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("syntax error at position %d: %s", e.pos+1, e.msg)
}

func errorAt(pos int, format string, args ...any) error {
	return &syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDelim(c byte) bool {
	return c == '(' || c == ')' || c == '[' || c == ']' || c == '"'
}

// punctuation holds the bytes that are tokens of their own, in the order of
// their kinds tokLParen to tokRBracket.
const punctuation = "()[]"

// lex splits s into tokens, ending with a tokEOF token.
func lex(s string) ([]token, error) {
	toks := make([]token, 0, len(s)/4+2) // a token and a space take 4 bytes or more
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case strings.IndexByte(punctuation, c) >= 0:
			kind := tokLParen + tokenKind(strings.IndexByte(punctuation, c))
			toks = append(toks, token{kind, s[i : i+1], i})
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
				return nil, errorAt(i, "unterminated string")
			}
			raw := s[i+1 : j]
			text, err := unquote(raw)
			if err != nil {
				return nil, errorAt(i, "string %s: %v", strconv.Quote(`"`+truncate(raw)+`"`), err)
			}
			toks = append(toks, token{tokString, text, i})
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

// newParser lexes s, which must be at most maxLength bytes and not blank.
// what names the input in errors: "filter" or "path".
func newParser(s, what string) (*parser, error) {
	if len(s) > maxLength {
		return nil, fmt.Errorf("%s too long (%d bytes; the limit is %d)", what, len(s), maxLength)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, fmt.Errorf("empty %s", what)
	}
	toks[len(toks)-1].text = what
	return &parser{toks: toks}, nil
}

// ParseExpr parses a filter (RFC 7644 §3.4.2.2) without resolving its
// attribute names; see Parse for the grammar. The error, if any, is a 400
// invalidFilter *scimerr.Error.
func ParseExpr(s string) (Expr, error) {
	e, err := parseExpr(s)
	if err != nil {
		return nil, scimerr.InvalidFilter("filter: %v", err)
	}
	return e, nil
}

func parseExpr(s string) (Expr, error) {
	p, err := newParser(s, "filter")
	if err != nil {
		return nil, err
	}
	e, err := p.or(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, errorAt(t.pos, `expected "and", "or" or end of filter, found %s`, t.describe())
	}
	return e, nil
}

// ParsePath parses the path of a PATCH operation (RFC 7644 §3.5.2):
//
//	PATH      = attrPath / valuePath [subAttr]
//	valuePath = attrPath "[" valFilter "]"
//
// such as "userName", "name.givenName", `emails[type eq "work"].value` or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
// with the filter grammar of Parse in the brackets. It does not resolve
// attribute names. The error, if any, is a 400 invalidPath *scimerr.Error
// that quotes the path.
func ParsePath(s string) (Path, error) {
	path, err := parsePath(s)
	if err != nil {
		return Path{}, scimerr.InvalidPath("invalid path %q: %v", truncate(s), err)
	}
	return path, nil
}

func parsePath(s string) (Path, error) {
	var path Path
	if s != "" && len(s) <= maxLength && !strings.ContainsAny(s, "[]()\" \t\r\n") {
		// A plain attribute path, the common case: one word.
		var err error
		path.Attr, err = parseAttrPath(token{tokWord, s, 0})
		return path, err
	}
	p, err := newParser(s, "path")
	if err != nil {
		return path, err
	}
	t := p.next()
	if t.kind != tokWord {
		return path, errorAt(t.pos, "expected an attribute name, found %s", t.describe())
	}
	if path.Attr, err = parseAttrPath(t); err != nil {
		return path, err
	}
	if p.peek().kind == tokLBracket {
		if path.Filter, err = p.valueFilter(); err != nil {
			return path, err
		}
		if sub, ok := p.subAttr(); ok {
			if !validName(sub.text[1:]) {
				return path, errorAt(sub.pos, "invalid sub-attribute name %s", sub.describe())
			}
			path.Sub = sub.text[1:]
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		if path.Filter != nil {
			return path, errorAt(t.pos, `expected "." and a sub-attribute name or end of path after "]", found %s`, t.describe())
		}
		return path, errorAt(t.pos, `expected "[" or end of path, found %s`, t.describe())
	}
	return path, nil
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
		return errorAt(t.pos, "expected %s, found %s", what, t.describe())
	}
	return nil
}

func (p *parser) enter(t token) error {
	p.nesting++
	if p.nesting > maxNesting {
		return errorAt(t.pos, "nested too deeply (more than %d levels)", maxNesting)
	}
	return nil
}

// or parses: and *("or" and). inValue is set inside the brackets of a value path.
func (p *parser) or(inValue bool) (Expr, error) {
	return p.logical(OR, inValue)
}

// and parses: unary *("and" unary).
func (p *parser) and(inValue bool) (Expr, error) {
	return p.logical(AND, inValue)
}

// logical parses the operands of op, or's operands being and expressions
// and and's unary ones, into one Logical when there are several.
func (p *parser) logical(op Op, inValue bool) (Expr, error) {
	operand := p.unary
	if op == OR {
		operand = p.and
	}
	first, err := operand(inValue)
	if err != nil || !p.keyword(string(op)) {
		return first, err
	}
	l := &Logical{Op: op, Operands: []Expr{first}}
	for p.keyword(string(op)) {
		p.next()
		x, err := operand(inValue)
		if err != nil {
			return nil, err
		}
		l.Operands = append(l.Operands, x)
	}
	return l, nil
}

// unary parses: "(" or ")" / "not" "(" or ")" / attribute expression / value path.
func (p *parser) unary(inValue bool) (Expr, error) {
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
		return &Not{X: e}, nil
	case t.kind == tokWord:
		return p.attrExp(inValue)
	}
	return nil, errorAt(t.pos, `expected an attribute name, "(" or "not", found %s`, t.describe())
}

// group parses: "(" or ")".
func (p *parser) group(inValue bool) (Expr, error) {
	return p.enclosed(inValue, tokRParen, `")"`)
}

// valueFilter parses: "[" or "]", with no value path inside.
func (p *parser) valueFilter() (Expr, error) {
	return p.enclosed(true, tokRBracket, `"]"`)
}

// enclosed parses an opening token, an or expression and the closing token
// close, named what.
func (p *parser) enclosed(inValue bool, close tokenKind, what string) (Expr, error) {
	if err := p.enter(p.next()); err != nil {
		return nil, err
	}
	e, err := p.or(inValue)
	if err != nil {
		return nil, err
	}
	if err := p.expect(close, what); err != nil {
		return nil, err
	}
	p.nesting--
	return e, nil
}

// subAttr consumes and returns a ".name" word after a "]".
func (p *parser) subAttr() (token, bool) {
	if sub := p.peek(); sub.kind != tokWord || !strings.HasPrefix(sub.text, ".") {
		return token{}, false
	}
	return p.next(), true
}

// attrExp parses: attrPath ("pr" / compareOp compValue)
// and attrPath "[" or "]" [ "." attrName ("pr" / compareOp compValue) ].
func (p *parser) attrExp(inValue bool) (Expr, error) {
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
		return nil, errorAt(open.pos, "value filters cannot be nested")
	}
	inner, err := p.valueFilter()
	if err != nil {
		return nil, err
	}
	vp := &ValuePath{Path: path, Filter: inner}
	if sub, ok := p.subAttr(); ok {
		name := sub.text[1:]
		if !validName(name) {
			return nil, errorAt(sub.pos, "invalid sub-attribute name %s", sub.describe())
		}
		cmp, err := p.comparison(AttrPath{Name: name}, sub)
		if err != nil {
			return nil, err
		}
		vp.Filter = &Logical{Op: AND, Operands: []Expr{inner, cmp}}
	}
	return vp, nil
}

// comparison parses the operator and value following the attribute path
// given by token at.
func (p *parser) comparison(path AttrPath, at token) (Expr, error) {
	t := p.peek()
	if t.kind == tokWord {
		for _, op := range compareOps {
			if !strings.EqualFold(t.text, string(op)) {
				continue
			}
			p.next()
			if op == PR {
				return &Comparison{Path: path, Op: PR}, nil
			}
			v, err := p.value(op)
			if err != nil {
				return nil, err
			}
			return &Comparison{Path: path, Op: op, Value: v}, nil
		}
	}
	return nil, errorAt(t.pos, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after %s, found %s",
		at.describe(), t.describe())
}

// value parses a compare value: a string, true, false, null, a JSON number
// or a bare word.
func (p *parser) value(op Op) (any, error) {
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
		case t.text[0] == '-' || isDigit(t.text[0]):
			f, err := parseNumber(t.text)
			if err != nil {
				return nil, errorAt(t.pos, "number %s: %v", t.describe(), err)
			}
			return f, nil
		case strings.IndexByte(t.text, '\\') >= 0:
			return nil, errorAt(t.pos, "unquoted value %s contains a backslash; quote it", t.describe())
		}
		return t.text, nil
	}
	return nil, errorAt(t.pos, "expected a value after %q, found %s", op, t.describe())
}

// parseNumber parses s as a JSON number (RFC 8259 §6).
func parseNumber(s string) (float64, error) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i - j
	}
	invalid := errors.New("not a JSON number (quote a string)")
	switch d := digits(); {
	case d == 0:
		return 0, invalid
	case d > 1 && s[i-d] == '0':
		return 0, errors.New("not a JSON number: leading zero (quote a string)")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, invalid
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, invalid
		}
	}
	if i != len(s) {
		return 0, invalid
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errNumberRange
	}
	return f, nil
}

// parseAttrPath parses [URN ":"] attrName ["." attrName] from t.
func parseAttrPath(t token) (AttrPath, error) {
	var path AttrPath
	rest := t.text
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		path.URN = rest[:i]
		if !validURN(path.URN) {
			return path, errorAt(t.pos, "invalid schema URN in attribute path %s", t.describe())
		}
		rest = rest[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || hasSub && !validName(sub) {
		return path, errorAt(t.pos, "invalid attribute path %s", t.describe())
	}
	path.Name, path.Sub = name, sub
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
