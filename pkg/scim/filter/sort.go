package filter

import (
	"cmp"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// SortKey resolves a sortBy attribute path (RFC 7644 §3.4.2.3) such as
// "userName", "name.familyName", "meta.lastModified", "emails" or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
// for resource type rt. It returns a function giving the value of that path in
// a resource, to be ordered by Compare, and the attribute the values belong to.
//
// For a multi-valued attribute the value is that of the primary element, else
// of the first one; a complex attribute stands for its value sub-attribute.
// The function returns nil when the resource has no value, a string for string,
// reference and binary attributes, a float64 for numbers, a bool for booleans
// and a time.Time for dateTimes. The error, if any, is a *scimerr.Error with
// status 400 and scimType invalidValue.
func SortKey(rt *schema.ResourceType, path string) (func(res map[string]any) any, *schema.Attribute, error) {
	path = strings.TrimSpace(path)
	if rt == nil || rt.Schema == nil {
		return nil, nil, scimerr.InvalidValue("sortBy: no resource type to sort")
	}
	if path == "" {
		return nil, nil, scimerr.InvalidValue("sortBy: empty attribute path")
	}
	ref, err := rt.LookupPath(path)
	if err != nil {
		return nil, nil, scimerr.InvalidValue("sortBy: %v", err)
	}
	attr := ref.Target()
	if attr.Returned == schema.ReturnedNever || attr.Mutability == schema.WriteOnly {
		return nil, nil, scimerr.InvalidValue("sortBy: attribute %q cannot be used for sorting", ref)
	}
	if attr.Type == schema.Complex {
		v := attr.Sub("value")
		if v == nil || ref.Sub != nil {
			return nil, nil, scimerr.InvalidValue("sortBy: attribute %q is complex; sort by one of its sub-attributes", ref)
		}
		ref.Sub, attr = v, v
	}
	var ext, name, sub string
	if ref.Extension {
		ext = ref.URN
	}
	name = ref.Attr.Name
	if ref.Sub != nil {
		sub = ref.Sub.Name
	}
	key := func(res map[string]any) any {
		m := res
		if ext != "" {
			if m = object(m, ext); m == nil {
				return nil
			}
		}
		v, _ := get(m, name)
		v = pick(v)
		if sub != "" {
			o, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v, _ = get(o, sub)
			v = pick(v)
		}
		return sortValue(attr, v)
	}
	return key, attr, nil
}

// pick returns the element of a multi-valued attribute that stands for it
// when sorting: the primary one, else the first one that is present.
func pick(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	for _, e := range a {
		if o, ok := e.(map[string]any); ok {
			if p, _ := get(o, "primary"); p != nil {
				if b, _ := boolean(p); b {
					return e
				}
			}
		}
	}
	for _, e := range a {
		if present(e) {
			return e
		}
	}
	return nil
}

// sortValue converts v to the value SortKey returns for attr: nil if absent,
// else a string, float64, bool or time.Time.
func sortValue(attr *schema.Attribute, v any) any {
	if !present(v) {
		return nil
	}
	var t schema.Type
	if attr != nil {
		t = attr.Type
	}
	switch t {
	case schema.Integer, schema.Decimal:
		if f, ok := number(v); ok {
			return f
		}
	case schema.Boolean:
		if b, ok := boolean(v); ok {
			return b
		}
	case schema.DateTime:
		if s, ok := v.(string); ok {
			if tm, ok := parseTime(s); ok {
				return tm
			}
			return nil
		}
	}
	if f, ok := number(v); ok {
		return f
	}
	return v
}

// Compare orders two values of attribute attr for sortBy, as returned by the
// function from SortKey (single values as held in a resource, such as
// dateTime strings, are accepted too): it returns -1 if a sorts before b, +1
// if after and 0 if they are equal. Strings compare
// case-insensitively unless attr is caseExact, numbers numerically, dateTimes
// chronologically and booleans with false before true. A missing value (nil,
// or an empty string, array or object) sorts after every present value, so
// that reversing the order for "descending" puts missing values first (RFC
// 7644 §3.4.2.3). Values of different types order by type: booleans, numbers,
// dateTimes, strings, then any other.
func Compare(attr *schema.Attribute, a, b any) int {
	a, b = sortValue(attr, a), sortValue(attr, b)
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if ra, rb := typeRank(a), typeRank(b); ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case float64:
		return cmp.Compare(x, b.(float64))
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		y := b.(string)
		if attr != nil && attr.CaseExact {
			return strings.Compare(x, y)
		}
		return compareFold(x, y)
	}
	return 0
}

func typeRank(v any) int {
	switch v.(type) {
	case bool:
		return 0
	case float64:
		return 1
	case time.Time:
		return 2
	case string:
		return 3
	}
	return 4
}
