package patch

import (
	"math"
	"strconv"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// The PATCH path grammar of RFC 7644 §3.5.2 (Figure 1):
//
//	PATH      = attrPath / valuePath [subAttr]
//	valuePath = attrPath "[" valFilter "]"
//
// is parsed here by hand rather than with filter-parser's ParsePath, which
// costs about a thousand allocations per path and accepts only two terms in a
// value filter. The value filter is parsed into filter-parser's AST, with
// string compare values kept as the text between the quotes (JSON escapes
// undecoded), as filter.CompileValue expects.

// maxFilterDepth bounds the nesting of parentheses and "not" in a value
// filter.
const maxFilterDepth = 16

// splitPath splits a PATCH path into the attribute path, the text of the
// value filter and the sub-attribute name that follows the filter.
func splitPath(s string) (attr, filter, sub string, hasFilter bool, err error) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		if strings.ContainsRune(s, ']') {
			return "", "", "", false, errPath("unbalanced ]")
		}
		return s, "", "", false, nil
	}
	inString := false
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if inString {
			switch c {
			case '\\':
				j++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[':
			return "", "", "", false, errPath("nested [")
		case ']':
			rest := s[j+1:]
			switch {
			case rest == "":
			case rest[0] == '.' && validName(rest[1:]):
				sub = rest[1:]
			default:
				return "", "", "", false, errPath("a value path may only be followed by .subAttribute")
			}
			return strings.TrimSpace(s[:i]), s[i+1 : j], sub, true, nil
		}
	}
	return "", "", "", false, errPath("missing ]")
}

// errPath returns the error for a malformed path; resolve adds the path.
func errPath(reason string) error { return scimerr.InvalidPath("%s", reason) }

// validName reports whether s is an ATTRNAME of RFC 7644 (with the "$" that
// "$ref" needs).
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

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokString // text is the raw content between the quotes
	tokWord
)

type token struct {
	kind tokenKind
	text string
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func lex(s string) ([]token, bool) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{kind: tokLParen})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, false
			}
			toks = append(toks, token{kind: tokString, text: s[i+1 : j]})
			i = j + 1
		case c == '[' || c == ']':
			return nil, false
		default:
			j := i
			for j < len(s) && !isSpace(s[j]) && s[j] != '(' && s[j] != ')' && s[j] != '"' && s[j] != '[' && s[j] != ']' {
				j++
			}
			toks = append(toks, token{kind: tokWord, text: s[i:j]})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF}), true
}

type filterParser struct {
	toks  []token
	i     int
	depth int
}

// parseValueFilter parses the filter of a value path: comparisons
// ("type eq "work"", "value pr"), and, or, not and parentheses.
func parseValueFilter(s string) (fp.Expression, error) {
	toks, ok := lex(s)
	if !ok {
		return nil, errPath("unterminated string or bracket in the value filter")
	}
	p := &filterParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokEOF {
		return nil, errPath("unexpected text in the value filter")
	}
	return e, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func (p *filterParser) or() (fp.Expression, error) {
	left, err := p.and()
	for err == nil && p.keyword("or") {
		p.next()
		var right fp.Expression
		if right, err = p.and(); err == nil {
			left = &fp.LogicalExpression{Left: left, Right: right, Operator: fp.OR}
		}
	}
	return left, err
}

func (p *filterParser) and() (fp.Expression, error) {
	left, err := p.unary()
	for err == nil && p.keyword("and") {
		p.next()
		var right fp.Expression
		if right, err = p.unary(); err == nil {
			left = &fp.LogicalExpression{Left: left, Right: right, Operator: fp.AND}
		}
	}
	return left, err
}

func (p *filterParser) unary() (fp.Expression, error) {
	not := false
	if p.keyword("not") && p.toks[p.i+1].kind == tokLParen {
		p.next()
		not = true
	}
	if p.peek().kind != tokLParen {
		if not {
			return nil, errPath("missing ( after not")
		}
		return p.comparison()
	}
	p.next()
	if p.depth++; p.depth > maxFilterDepth {
		return nil, scimerr.InvalidPath("value filter nested too deeply")
	}
	e, err := p.or()
	p.depth--
	if err != nil {
		return nil, err
	}
	if p.next().kind != tokRParen {
		return nil, errPath("missing )")
	}
	if not {
		return &fp.NotExpression{Expression: e}, nil
	}
	return e, nil
}

func (p *filterParser) comparison() (fp.Expression, error) {
	t := p.next()
	if t.kind != tokWord {
		return nil, errPath("expected an attribute name in the value filter")
	}
	ap, ok := attrPath(t.text)
	if !ok {
		return nil, errPath("invalid attribute name in the value filter")
	}
	t = p.next()
	if t.kind != tokWord {
		return nil, errPath("expected a comparison operator in the value filter")
	}
	op := fp.CompareOperator(strings.ToLower(t.text))
	switch op {
	case fp.PR:
		return &fp.AttributeExpression{AttributePath: ap, Operator: op}, nil
	case fp.EQ, fp.NE, fp.CO, fp.SW, fp.EW, fp.GT, fp.LT, fp.GE, fp.LE:
	default:
		return nil, errPath("unknown comparison operator in the value filter")
	}
	v, ok := compareValue(p.next())
	if !ok {
		return nil, errPath("invalid compare value in the value filter: strings must be quoted")
	}
	return &fp.AttributeExpression{AttributePath: ap, Operator: op, CompareValue: v}, nil
}

// compareValue converts a compare value token: a string (raw), true, false,
// null or a JSON number (int when integral and in range, else float64).
func compareValue(t token) (any, bool) {
	switch t.kind {
	case tokString:
		return t.text, true
	case tokWord:
	default:
		return nil, false
	}
	switch strings.ToLower(t.text) {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	s := t.text
	if s == "" || !(isDigit(s[0]) || s[0] == '-') {
		return nil, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n == int64(int(n)) {
		return int(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	return f, true
}

// attrPath parses an attribute path inside a value filter: name,
// name.sub, or either after a schema URN and a colon.
func attrPath(s string) (fp.AttributePath, bool) {
	var ap fp.AttributePath
	rest := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		uri := s[:i]
		if !validURN(uri) {
			return ap, false
		}
		ap.URIPrefix, rest = &uri, s[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || (hasSub && !validName(sub)) {
		return ap, false
	}
	ap.AttributeName = name
	if hasSub {
		ap.SubAttribute = &sub
	}
	return ap, true
}

// validURN reports whether s looks like a schema URN: colon-separated
// segments of letters, digits and "-._~", starting with "urn".
func validURN(s string) bool {
	if len(s) < 5 || !strings.EqualFold(s[:4], "urn:") {
		return false
	}
	for _, seg := range strings.Split(s, ":") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlpha(c) && !isDigit(c) && !strings.ContainsRune("-._~", rune(c)) {
				return false
			}
		}
	}
	return true
}
