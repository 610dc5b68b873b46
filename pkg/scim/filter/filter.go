// Package filter parses the SCIM filter and path grammar, and compiles and
// evaluates SCIM filters (RFC 7644 §3.4.2.2), such as userName eq "bjensen"
// or emails[type eq "work" and value co "@example.com"], against resources
// held as decoded JSON objects (see package schema).
//
// The grammar has one parser, for filters (ParseExpr, Parse) and for the
// paths of PATCH operations (ParsePath), including value paths such as
// emails[type eq "work"].value. It yields a small syntax tree (Expr, Path)
// whose operators are normalised to the Op constants.
//
// Filters are compiled for a resource type: attribute names are resolved
// case-insensitively, with or without a schema URN, and compare values are
// checked against the attribute types, so that a filter which cannot be
// evaluated is rejected with a 400 invalidFilter error before any resource is
// read. Evaluation follows the schema: string comparisons ignore case unless
// the attribute is caseExact, dateTimes compare chronologically, and a
// multi-valued attribute matches if any of its values does.
package filter

import (
	"strings"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Filter is a compiled SCIM filter bound to a resource type.
// A Filter is immutable and safe for concurrent use.
type Filter struct {
	root node
}

// Parse compiles a filter string (RFC 7644 §3.4.2.2) for resource type rt.
//
// Operators, attribute names and the keywords and, or, not, true, false and
// null are case-insensitive. Beyond the RFC grammar, Parse accepts the forms
// that Okta and Microsoft Entra ID are known to send: a value path followed by
// a sub-attribute comparison, emails[type eq "work"].value eq "x" (meaning
// emails[type eq "work" and value eq "x"]); an unquoted compare value that is
// not a JSON literal and does not start with a digit or "-", externalId eq
// jyoung (taken as a string); and booleans written as the strings "True" and
// "False". Numbers follow JSON: 01 is a syntax error.
//
// The error, if any, is a *scimerr.Error with status 400 and scimType
// invalidFilter whose detail says what is wrong: a syntax error and its
// position, an unknown attribute or schema, an attribute that is never
// returned (password) and so cannot be filtered on, an operator that does not apply
// to the attribute's type (gt, ge, lt or le on a boolean or binary attribute,
// co on a number…), a compare value of the wrong type, a filter longer than
// 4096 bytes or nested too deeply.
func Parse(rt *schema.ResourceType, s string) (f *Filter, err error) {
	defer recoverInvalid(&f, &err)
	e, err := ParseExpr(s)
	if err != nil {
		return nil, err
	}
	return compile(rt, nil, e)
}

// Compile compiles an already-parsed expression for resource type rt, with
// the same checks and errors as Parse. Operators must be the Op constants;
// a compare value may also be any Go integer or float type.
func Compile(rt *schema.ResourceType, e Expr) (f *Filter, err error) {
	defer recoverInvalid(&f, &err)
	return compile(rt, nil, e)
}

// CompileValue compiles the filter inside a value path such as
// emails[type eq "work"] or members[value eq "2819c223"]: attribute names in e
// are sub-attributes of parent, a complex attribute of rt. The Match method
// of the result takes one element of parent (a map[string]any). Errors are as
// for Compile.
func CompileValue(rt *schema.ResourceType, parent schema.Ref, e Expr) (f *Filter, err error) {
	defer recoverInvalid(&f, &err)
	switch {
	case parent.Attr == nil:
		return nil, invalid("value filter without an attribute")
	case parent.Sub != nil:
		return nil, invalid("value filter on sub-attribute %q; it applies to complex attributes only", parent)
	case parent.Attr.Type != schema.Complex:
		return nil, invalid("value filter on %s attribute %q; it applies to complex attributes only", parent.Attr.Type, parent)
	}
	return compile(rt, &parent, e)
}

func compile(rt *schema.ResourceType, parent *schema.Ref, e Expr) (*Filter, error) {
	if rt == nil || rt.Schema == nil {
		return nil, invalid("no resource type to filter")
	}
	c := &compiler{rt: rt, parent: parent}
	n, err := c.expr(e, 0)
	if err != nil {
		return nil, err
	}
	return &Filter{root: n}, nil
}

// internalDetail is the detail of the error returned if compiling a filter
// panics; it is a bug, which the fuzz test looks for.
const internalDetail = "filter: internal error while compiling the filter"

func recoverInvalid(f **Filter, err *error) {
	if r := recover(); r != nil {
		*f, *err = nil, scimerr.InvalidFilter(internalDetail)
	}
}

// Match reports whether res matches the filter. For a filter from
// CompileValue, res is one element of the parent attribute. A nil Filter
// matches nothing.
//
// Keys of res are looked up in canonical case, then case-insensitively.
// Values of the wrong type for their attribute do not match, except the
// strings "true" and "false" for a boolean attribute. The operator ne is the
// negation of eq: it matches a resource that lacks the attribute, and for a
// multi-valued attribute it matches when no value equals the compare value.
func (f *Filter) Match(res map[string]any) bool {
	if f == nil || f.root == nil {
		return false
	}
	return f.root.match(res)
}

// String returns the filter in canonical form, usable as a cache key: canonical
// attribute names (with the schema URN for extension attributes only), lower
// case operators and keywords, and parentheses only where needed. Filters
// that differ only in such spelling have the same String. A comparison of a
// complex attribute is written with its value sub-attribute (emails.value),
// and the sub-attribute form of a value path is written with and
// (emails[type eq "work" and value eq "x"]). The result is a filter with the
// same meaning, which Parse accepts unless it exceeds Parse's length limit.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	format(&b, f.root)
	return b.String()
}

// Attrs returns the canonical paths (as schema.Ref.String writes them) of
// the attributes the filter tests, in the order written, each as often as it
// is tested: a value path emails[type eq "work"] gives "emails" and
// "emails.type". A resource that holds these attributes as a full resource
// would is matched by the filter as the full resource is.
func (f *Filter) Attrs() []string {
	if f == nil {
		return nil
	}
	var out []string
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case andNode:
			for _, y := range x {
				walk(y)
			}
		case orNode:
			for _, y := range x {
				walk(y)
			}
		case *notNode:
			walk(x.n)
		case *valuePathNode:
			out = append(out, x.ref.String())
			walk(x.inner)
		case *cmpNode:
			out = append(out, x.ref.String())
		default:
			out = append(out, "") // a node this list does not know: no attribute names it
		}
	}
	walk(f.root)
	return out
}

// Equality is an equality constraint on a string attribute that a store can
// serve from an index.
type Equality struct {
	// Attr is the canonical attribute path, as returned by schema.Ref.String:
	// "userName", "externalId", "id", "displayName", "members.value",
	// "emails.value", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"…
	Attr string
	// Value is the compare value as written. Unless the attribute is
	// caseExact, matching resources may hold it in a different case.
	Value string
}

// IndexEquality returns an equality that every resource matching the filter
// satisfies: the filter is attr eq "string", or an and one of whose operands
// (searched recursively through and, never through or and not) is. A value
// path members[value eq "x"] yields attribute "members.value". When several
// equalities qualify, IndexEquality prefers, in order, id, userName,
// externalId, displayName and members.value, then an attribute that is
// unique, then a value sub-attribute or a simple attribute, then any other,
// the leftmost among equals. ok is false when there is none.
func (f *Filter) IndexEquality() (eq Equality, ok bool) {
	if f == nil {
		return Equality{}, false
	}
	best, rank := (*cmpNode)(nil), 0
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case andNode:
			for _, y := range x {
				walk(y)
			}
		case *valuePathNode:
			walk(x.inner)
		case *cmpNode:
			if x.test != EQ || x.neg || x.kind != kString {
				return
			}
			if r := indexRank(x.ref); best == nil || r < rank {
				best, rank = x, r
			}
		}
	}
	walk(f.root)
	if best == nil {
		return Equality{}, false
	}
	return Equality{Attr: best.ref.String(), Value: best.s}, true
}

func indexRank(ref schema.Ref) int {
	switch ref.String() {
	case "id":
		return 0
	case "userName":
		return 1
	case "externalId":
		return 2
	case "displayName":
		return 3
	case "members.value":
		return 4
	}
	t := ref.Target()
	switch {
	case t.Uniqueness == schema.UniqueServer || t.Uniqueness == schema.UniqueGlobal:
		return 5
	case ref.Sub == nil || ref.Sub.Name == "value":
		return 6
	}
	return 7
}
