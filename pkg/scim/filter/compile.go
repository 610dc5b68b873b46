package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// A node is a compiled filter expression.
type node interface {
	match(m map[string]any) bool
}

// andNode and orNode hold two or more operands; nested operations of the
// same kind are flattened into one node.
type (
	andNode []node
	orNode  []node
)

type notNode struct{ n node }

// valuePathNode is attr[filter]: it matches when some element of the
// complex attribute matches the inner filter.
type valuePathNode struct {
	ref   schema.Ref // the complex attribute
	ext   string     // key of the extension sub-object holding it, or ""
	name  string     // key of the attribute
	inner node       // evaluated on one element
}

// kind is how a cmpNode tests one value.
type kind uint8

const (
	kPresent kind = iota // pr, and comparisons with null
	kString              // string attributes; co, sw and ew on dateTime
	kNumber
	kBool
	kTime
)

// cmpNode is an attribute expression: path op value.
type cmpNode struct {
	ref  schema.Ref // full path, for IndexEquality and String
	rel  bool       // the path is relative to a value path: print the sub-attribute only
	ext  string     // key of the extension sub-object, or ""
	name string     // key of the attribute (of the element, when rel)
	sub  string     // key of the sub-attribute, or ""

	op   Op   // as written, for String
	test Op   // what one value is tested with: pr, eq, co, sw, ew, gt, ge, lt or le
	neg  bool // negate the result (ne, eq null)
	kind kind
	null bool // the compare value is null

	exact bool      // kString: compare case-sensitively
	s     string    // kString, kTime: the compare value as written
	f     float64   // kNumber
	b     bool      // kBool
	t     time.Time // kTime
}

// compiler compiles expressions for one resource type. With a
// parent, attribute names are sub-attributes of parent and the compiled
// filter is evaluated on one element of it.
type compiler struct {
	rt     *schema.ResourceType
	parent *schema.Ref
}

func invalid(format string, args ...any) error {
	return scimerr.InvalidFilter("filter: "+format, args...)
}

func (c *compiler) expr(e Expr, depth int) (node, error) {
	if depth > maxDepth {
		return nil, invalid("filter nested too deeply (more than %d levels)", maxDepth)
	}
	switch x := e.(type) {
	case *Comparison:
		if x != nil {
			return c.attrExp(x)
		}
	case *Logical:
		if x != nil {
			return c.logical(x, depth)
		}
	case *Not:
		if x != nil && x.X != nil {
			n, err := c.expr(x.X, depth+1)
			if err != nil {
				return nil, err
			}
			return &notNode{n}, nil
		}
	case *ValuePath:
		if x != nil {
			return c.valuePath(x, depth)
		}
	case nil:
	default:
		return nil, invalid("unsupported expression %T", e)
	}
	return nil, invalid("empty expression")
}

// logical compiles an and or an or, with the operands of nested operations
// of the same kind, into one n-ary node.
func (c *compiler) logical(e *Logical, depth int) (node, error) {
	if e.Op != AND && e.Op != OR {
		return nil, invalid("unknown logical operator %q", e.Op)
	}
	if len(e.Operands) == 0 {
		return nil, invalid("empty expression")
	}
	// Walk nested operations of the same kind left to right without
	// recursion: hand-built trees may be deep chains.
	var nodes []node
	stack := []Expr{e}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if l, ok := x.(*Logical); ok && l != nil && l.Op == e.Op && len(l.Operands) > 0 {
			for i := len(l.Operands) - 1; i >= 0; i-- {
				stack = append(stack, l.Operands[i])
			}
			continue
		}
		n, err := c.expr(x, depth+1)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if e.Op == AND {
		return andNode(nodes), nil
	}
	return orNode(nodes), nil
}

func (c *compiler) valuePath(e *ValuePath, depth int) (node, error) {
	if c.parent != nil {
		return nil, invalid("value filters cannot be nested (%s[…] inside %s[…])", e.Path, c.parent)
	}
	ref, err := c.resolve(e.Path)
	if err != nil {
		return nil, err
	}
	if ref.Sub != nil {
		return nil, invalid("value filter on sub-attribute %q; it applies to complex attributes only", ref)
	}
	if ref.Attr.Type != schema.Complex {
		return nil, invalid("value filter on %s attribute %q; it applies to complex attributes only", ref.Attr.Type, ref)
	}
	if e.Filter == nil {
		return nil, invalid("empty value filter on %q", ref)
	}
	inner := &compiler{rt: c.rt, parent: &ref}
	n, err := inner.expr(e.Filter, depth+1)
	if err != nil {
		return nil, err
	}
	vp := &valuePathNode{ref: ref, name: ref.Attr.Name, inner: n}
	if ref.Extension {
		vp.ext = ref.URN
	}
	return vp, nil
}

// resolve looks up an attribute path.
func (c *compiler) resolve(p AttrPath) (schema.Ref, error) {
	var ref schema.Ref
	if c.parent != nil {
		if p.URN != "" || p.Sub != "" {
			return ref, invalid("%q inside the value filter of %q must be a sub-attribute name", p, c.parent)
		}
		ref = *c.parent
		ref.Sub = c.parent.Attr.Sub(p.Name)
		if ref.Sub == nil {
			return ref, invalid("unknown attribute %q", c.parent.String()+"."+p.Name)
		}
	} else {
		if p.URN != "" && p.Sub == "" {
			if s, _ := c.rt.SchemaByURN(p.URN + ":" + p.Name); s != nil {
				return ref, invalid("%q is a schema, not an attribute", s.ID)
			}
		}
		var err error
		ref, err = c.rt.Lookup(p.URN, p.Name, p.Sub)
		if err != nil {
			return ref, invalid("%v", err)
		}
	}
	if t := ref.Target(); t.Returned == schema.ReturnedNever || t.Mutability == schema.WriteOnly {
		return ref, invalid("attribute %q cannot be used in a filter", ref)
	}
	return ref, nil
}

func (c *compiler) attrExp(e *Comparison) (node, error) {
	ref, err := c.resolve(e.Path)
	if err != nil {
		return nil, err
	}
	op := e.Op
	switch op {
	case EQ, NE, CO, SW, EW, GT, GE, LT, LE, PR:
	default:
		return nil, invalid("unknown operator %q", e.Op)
	}
	n := &cmpNode{op: op, test: op}
	switch {
	case op == PR:
		n.setRef(ref, c.parent != nil)
		return n, nil
	case e.Value == nil:
		// "eq null" matches when the attribute has no value; "ne null"
		// when it has one.
		switch op {
		case EQ:
			n.test, n.neg = PR, true
		case NE:
			n.test = PR
		default:
			return nil, invalid("operator %q cannot be used with null (attribute %q)", op, ref)
		}
		n.null = true
		n.setRef(ref, c.parent != nil)
		return n, nil
	case op == NE:
		// "ne" is the negation of "eq": it also matches when the attribute
		// has no value, and a multi-valued attribute matches when none of
		// its values equals the compare value.
		n.test, n.neg = EQ, true
	}

	attr := ref.Target()
	if attr.Type == schema.Complex {
		// "emails co "@example.com"" compares emails.value (RFC 7644 §3.4.2.2).
		v := attr.Sub("value")
		if v == nil || ref.Sub != nil {
			return nil, invalid("attribute %q is complex; compare one of its sub-attributes", ref)
		}
		ref.Sub, attr = v, v
	}
	n.setRef(ref, c.parent != nil)
	if err := n.setValue(attr, e.Value); err != nil {
		return nil, err
	}
	return n, nil
}

// setRef sets the path of n and the keys used to find its values.
func (n *cmpNode) setRef(ref schema.Ref, rel bool) {
	n.ref, n.rel = ref, rel
	switch {
	case rel:
		n.name = ref.Sub.Name
	default:
		if ref.Extension {
			n.ext = ref.URN
		}
		n.name = ref.Attr.Name
		if ref.Sub != nil {
			n.sub = ref.Sub.Name
		}
	}
}

// setValue checks the compare value v against attr and the operator and
// stores it in the form the test needs.
func (n *cmpNode) setValue(attr *schema.Attribute, v any) error {
	op := n.test
	ordering := op == GT || op == GE || op == LT || op == LE
	substring := op == CO || op == SW || op == EW
	notAllowed := func() error {
		return invalid("operator %q cannot be used with %s attribute %q", n.op, attr.Type, n.ref)
	}
	switch attr.Type {
	case schema.Boolean:
		if op != EQ {
			return notAllowed()
		}
		b, ok := v.(bool)
		if s, isStr := v.(string); isStr {
			// Microsoft Entra ID sends booleans as "True" and "False".
			b, ok = strings.EqualFold(s, "true"), strings.EqualFold(s, "true") || strings.EqualFold(s, "false")
		}
		if !ok {
			return invalid("attribute %q is a boolean; the compare value %s is not true or false", n.ref, literal(v))
		}
		n.kind, n.b = kBool, b
	case schema.Integer, schema.Decimal:
		if substring {
			return notAllowed()
		}
		f, ok := number(v)
		if !ok {
			return invalid("attribute %q is a number; the compare value %s is not", n.ref, literal(v))
		}
		n.kind, n.f = kNumber, f
	case schema.DateTime:
		s, err := stringValue(n.ref, v)
		if err != nil {
			return err
		}
		n.s = s
		if substring {
			// co, sw and ew compare the text, e.g. meta.created sw "2024-05".
			n.kind = kString
			return nil
		}
		t, ok := parseTime(s)
		if !ok {
			return invalid("attribute %q is a dateTime; the compare value %s is not an RFC 3339 date and time", n.ref, literal(s))
		}
		n.kind, n.t = kTime, t
	default: // string, reference, binary
		if attr.Type == schema.Binary && ordering {
			return notAllowed()
		}
		s, err := stringValue(n.ref, v)
		if err != nil {
			return err
		}
		n.kind, n.s, n.exact = kString, s, attr.CaseExact
	}
	return nil
}

// stringValue returns the string compare value v.
func stringValue(ref schema.Ref, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalid("attribute %q is a %s; quote the compare value %s", ref, ref.Target().Type, literal(v))
	}
	return validUTF8(s), nil
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does when it decodes the resources compared with s.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// number converts a numeric compare value to float64.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// literal formats a compare value for an error message.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(truncate(x))
	case nil:
		return "null"
	}
	return truncate(fmt.Sprint(v))
}

// parseTime parses an xsd:dateTime (RFC 7643 §2.3.5): RFC 3339, or without a
// time zone, which is taken as UTC.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
