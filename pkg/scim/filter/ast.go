package filter

import (
	"strconv"
	"strings"
)

// Op is an operator of the filter grammar, in the lower case RFC 7644
// writes it in. The parsers accept operators in any letter case and return
// these values.
type Op string

// The operators of RFC 7644 §3.4.2.2.
const (
	EQ  Op = "eq"  // equal
	NE  Op = "ne"  // not equal
	CO  Op = "co"  // contains
	SW  Op = "sw"  // starts with
	EW  Op = "ew"  // ends with
	GT  Op = "gt"  // greater than
	GE  Op = "ge"  // greater than or equal to
	LT  Op = "lt"  // less than
	LE  Op = "le"  // less than or equal to
	PR  Op = "pr"  // present: has a value
	AND Op = "and" // logical and
	OR  Op = "or"  // logical or
	NOT Op = "not" // logical not
)

// compareOps are the operators of a Comparison.
var compareOps = [...]Op{EQ, NE, CO, SW, EW, GT, GE, LT, LE, PR}

// Expr is a parsed filter expression: a *Comparison, *Logical, *Not or
// *ValuePath. String writes it back in the filter grammar.
type Expr interface {
	String() string
	expr()
}

// AttrPath is an attribute path as written: [URN ":"] Name ["." Sub].
type AttrPath struct {
	URN  string // schema URN, or ""
	Name string // attribute name
	Sub  string // sub-attribute name, or ""
}

// String returns the path in the filter grammar.
func (p AttrPath) String() string {
	s := p.Name
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// Comparison is an attribute comparison, Path Op Value, or Path pr.
type Comparison struct {
	Path AttrPath
	Op   Op // one of EQ, NE, CO, SW, EW, GT, GE, LT, LE and PR
	// Value is the compare value: a string (JSON escapes decoded), a
	// float64, true, false, or nil for null and for PR.
	Value any
}

// Logical is two or more operands joined by and or by or.
type Logical struct {
	Op       Op // AND or OR
	Operands []Expr
}

// Not is not (X).
type Not struct {
	X Expr
}

// ValuePath is Path[Filter]: the elements of complex attribute Path that
// Filter matches. Attribute paths in Filter are sub-attribute names.
type ValuePath struct {
	Path   AttrPath
	Filter Expr
}

func (*Comparison) expr() {}
func (*Logical) expr()    {}
func (*Not) expr()        {}
func (*ValuePath) expr()  {}

// String returns the comparison in the filter grammar.
func (e *Comparison) String() string {
	var b strings.Builder
	b.WriteString(e.Path.String())
	b.WriteByte(' ')
	b.WriteString(string(e.Op))
	if e.Op == PR {
		return b.String()
	}
	b.WriteByte(' ')
	switch v := e.Value.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(&b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	default:
		if f, ok := number(v); ok {
			b.WriteString(formatNumber(f))
		} else {
			b.WriteString(literal(v))
		}
	}
	return b.String()
}

// String returns the operands joined by the operator, each operand that is
// itself a Logical in parentheses.
func (e *Logical) String() string {
	var b strings.Builder
	for i, x := range e.Operands {
		if i > 0 {
			b.WriteString(" " + string(e.Op) + " ")
		}
		if _, ok := x.(*Logical); ok {
			b.WriteString("(" + x.String() + ")")
		} else {
			b.WriteString(exprString(x))
		}
	}
	return b.String()
}

// String returns not (X).
func (e *Not) String() string { return "not (" + exprString(e.X) + ")" }

// String returns Path[Filter].
func (e *ValuePath) String() string { return e.Path.String() + "[" + exprString(e.Filter) + "]" }

func exprString(e Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}

// Path is the path of a PATCH operation (RFC 7644 §3.5.2): an attribute
// path, or a value path Attr[Filter] optionally followed by "." Sub.
type Path struct {
	Attr   AttrPath
	Filter Expr   // the value filter, or nil
	Sub    string // the sub-attribute after the value filter, or ""
}

// String returns the path in the PATCH path grammar.
func (p Path) String() string {
	if p.Filter == nil {
		return p.Attr.String()
	}
	s := p.Attr.String() + "[" + p.Filter.String() + "]"
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}
