package patch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/scim/schema"
)

// elemIndex finds, in constant time, the elements of a multi-valued
// attribute that a value describes in the sense of sameElem, so that adding
// or removing n values from a list of m elements costs O(n+m) rather than
// O(n·m).
//
// sameElem matches an object with a "value" by that value and, when both
// have one, by "type"; anything else by equality. The index therefore keys
// each element by its value (folded when the value sub-attribute is not
// caseExact) and keeps, per key, the first element, the elements without a
// type in order, and the first element of each type.
type elemIndex struct {
	at      *schema.Attribute
	buckets map[string]*elemBucket
}

type elemBucket struct {
	first   int            // the first element with this key
	untyped []int          // elements without a type, ascending
	typed   map[string]int // the first element of each type
}

// newElemIndex indexes list, the elements of multi-valued attribute at.
func newElemIndex(at *schema.Attribute, list []any) *elemIndex {
	ix := &elemIndex{at: at, buckets: make(map[string]*elemBucket, len(list))}
	for i, x := range list {
		ix.add(x, i)
	}
	return ix
}

// add records x as the element at index i, which is above every index
// recorded so far.
func (ix *elemIndex) add(x any, i int) {
	vk, tk, typed := elemKey(ix.at, x)
	b := ix.buckets[vk]
	if b == nil {
		b = &elemBucket{first: i}
		ix.buckets[vk] = b
	}
	if !typed {
		b.untyped = append(b.untyped, i)
		return
	}
	if b.typed == nil {
		b.typed = map[string]int{}
	}
	if _, ok := b.typed[tk]; !ok {
		b.typed[tk] = i
	}
}

// find returns the index of the first element that g describes, or -1.
func (ix *elemIndex) find(g any) int {
	vk, tk, typed := elemKey(ix.at, g)
	b := ix.buckets[vk]
	switch {
	case b == nil:
		return -1
	case !typed:
		return b.first
	}
	i := -1
	if len(b.untyped) > 0 {
		i = b.untyped[0]
	}
	if j, ok := b.typed[tk]; ok && (i < 0 || j < i) {
		i = j
	}
	return i
}

// matchesAny reports whether any indexed value describes element x.
func (ix *elemIndex) matchesAny(x any) bool {
	vk, tk, typed := elemKey(ix.at, x)
	b := ix.buckets[vk]
	if b == nil {
		return false
	}
	if !typed || len(b.untyped) > 0 {
		return true
	}
	_, ok := b.typed[tk]
	return ok
}

// merge merges g into list[i], the element find(g) returned: an object's
// members are overwritten by g's, anything else is replaced by g. Merging
// keeps the element's key; an untyped element that takes g's type moves to
// that type.
func (ix *elemIndex) merge(list []any, i int, g any) {
	xm, ok1 := list[i].(map[string]any)
	gm, ok2 := g.(map[string]any)
	if !ok1 || !ok2 {
		list[i] = g
		return
	}
	_, wasTyped := xm["type"]
	for k, v := range gm {
		xm[k] = v
	}
	vk, tk, typed := elemKey(ix.at, xm)
	if b := ix.buckets[vk]; b != nil && typed && !wasTyped {
		// find returns the front of untyped when it picks an untyped element.
		if n := len(b.untyped); n > 0 && b.untyped[0] == i {
			b.untyped = b.untyped[1:]
		} else if j := slices.Index(b.untyped, i); j >= 0 {
			b.untyped = slices.Delete(b.untyped, j, j+1)
		}
		if b.typed == nil {
			b.typed = map[string]int{}
		}
		if j, ok := b.typed[tk]; !ok || i < j {
			b.typed[tk] = i
		}
	}
}

// elemKey returns the key that sameElem matches x by: for an object with a
// "value", that value (vk) and, if typed, its "type" (tk); otherwise x
// itself, compared exactly.
func elemKey(at *schema.Attribute, x any) (vk, tk string, typed bool) {
	if m, ok := x.(map[string]any); ok {
		if v, ok := m["value"]; ok {
			vk = "v" + scalarKey(at.Sub("value"), v)
			if t, ok := m["type"]; ok {
				return vk, scalarKey(at.Sub("type"), t), true
			}
			return vk, "", false
		}
	}
	var b strings.Builder
	b.WriteByte('e')
	exactKey(&b, x)
	return b.String(), "", false
}

// scalarKey returns a key under which two values are equal if and only if
// sameScalar(a, ·, ·) reports them the same.
func scalarKey(a *schema.Attribute, v any) string {
	if s, ok := v.(string); ok && a != nil && !a.CaseExact {
		return "f" + foldKey(s)
	}
	var b strings.Builder
	exactKey(&b, v)
	return b.String()
}

// exactKey writes a key under which two decoded JSON values are equal if
// and only if equal reports them equal.
func exactKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteByte('z')
	case string:
		b.WriteByte('s')
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte(':')
		b.WriteString(x)
	case bool:
		if x {
			b.WriteString("T")
		} else {
			b.WriteString("F")
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for _, k := range keys {
			exactKey(b, k)
			exactKey(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			exactKey(b, e)
		}
		b.WriteByte(']')
	default:
		if f, ok := number(v); ok {
			if f == 0 {
				f = 0 // -0 equals 0
			}
			b.WriteByte('n')
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			b.WriteByte(';')
			return
		}
		// Values a decoder never produces, which equal compares with
		// reflect.DeepEqual.
		fmt.Fprintf(b, "?%T:%#v;", v, v)
	}
}

// foldKey returns a key under which two strings are equal if and only if
// strings.EqualFold reports them equal: each rune is replaced by the
// smallest rune of its simple case-folding orbit.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper case
		// (K and S included: their orbits add U+212A and U+017F).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
