package filter

import (
	"cmp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

func (n andNode) match(m map[string]any) bool {
	for _, x := range n {
		if !x.match(m) {
			return false
		}
	}
	return true
}

func (n orNode) match(m map[string]any) bool {
	for _, x := range n {
		if x.match(m) {
			return true
		}
	}
	return false
}

func (n *notNode) match(m map[string]any) bool { return !n.n.match(m) }

func (n *valuePathNode) match(m map[string]any) bool {
	if n.ext != "" {
		if m = object(m, n.ext); m == nil {
			return false
		}
	}
	v, _ := get(m, n.name)
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if em, ok := e.(map[string]any); ok && n.inner.match(em) {
				return true
			}
		}
	case map[string]any: // a single-valued complex attribute, e.g. manager
		return n.inner.match(x)
	}
	return false
}

func (n *cmpNode) match(m map[string]any) bool {
	return n.neg != n.find(m)
}

// find reports whether some value at the node's path passes the test.
func (n *cmpNode) find(m map[string]any) bool {
	if n.ext != "" {
		if m = object(m, n.ext); m == nil {
			return false
		}
	}
	v, ok := get(m, n.name)
	if !ok {
		return false
	}
	if n.sub == "" {
		return n.any(v)
	}
	switch x := v.(type) {
	case map[string]any:
		sv, _ := get(x, n.sub)
		return n.any(sv)
	case []any:
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				if sv, ok := get(em, n.sub); ok && n.any(sv) {
					return true
				}
			}
		}
	}
	return false
}

// any tests v, or each element of v if it is an array.
func (n *cmpNode) any(v any) bool {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if n.one(e) {
				return true
			}
		}
		return false
	}
	return n.one(v)
}

// one tests a single value.
func (n *cmpNode) one(v any) bool {
	switch n.kind {
	case kPresent:
		return present(v)
	case kString:
		s, ok := v.(string)
		return ok && n.testString(s)
	case kNumber:
		f, ok := number(v)
		return ok && order(n.test, cmp.Compare(f, n.f))
	case kBool:
		b, ok := boolean(v)
		return ok && b == n.b
	case kTime:
		var t time.Time
		switch x := v.(type) {
		case string:
			var ok bool
			if t, ok = parseTime(x); !ok {
				return false
			}
		case time.Time:
			t = x
		default:
			return false
		}
		return order(n.test, t.Compare(n.t))
	}
	return false
}

func (n *cmpNode) testString(s string) bool {
	if n.exact {
		switch n.test {
		case EQ:
			return s == n.s
		case CO:
			return strings.Contains(s, n.s)
		case SW:
			return strings.HasPrefix(s, n.s)
		case EW:
			return strings.HasSuffix(s, n.s)
		}
		return order(n.test, strings.Compare(s, n.s))
	}
	switch n.test {
	case EQ:
		return compareFold(s, n.s) == 0
	case CO:
		return containsFold(s, n.s)
	case SW:
		return hasPrefixFold(s, n.s)
	case EW:
		return hasSuffixFold(s, n.s)
	}
	return order(n.test, compareFold(s, n.s))
}

// order reports whether the result c of comparing a value with the compare
// value satisfies op.
func order(op Op, c int) bool {
	switch op {
	case EQ:
		return c == 0
	case GT:
		return c > 0
	case GE:
		return c >= 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	}
	return false
}

// present reports whether v is a value: not null, an empty string, an
// empty array or an empty object (RFC 7644 §3.4.2.2, "pr").
func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		for _, e := range x {
			if present(e) {
				return true
			}
		}
		return false
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// boolean converts v to a bool, accepting "true" and "false" in any case.
func boolean(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		if strings.EqualFold(x, "true") {
			return true, true
		}
		return false, strings.EqualFold(x, "false")
	}
	return false, false
}

// get returns m[key], or if there is no such key, the value of a key equal
// to key under ASCII case folding.
func get(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// object returns the object m[key] (see get), or nil.
func object(m map[string]any, key string) map[string]any {
	v, _ := get(m, key)
	o, _ := v.(map[string]any)
	return o
}

// Case-insensitive comparison folds each rune to the lower case of its upper
// case, which identifies the runes of most case-folding orbits (such as k, K
// and the Kelvin sign), and needs no allocation.

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// firstFold returns the folded first rune of s and its size in bytes.
func firstFold(s string) (rune, int) {
	if c := s[0]; c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return rune(c), 1
	}
	r, n := utf8.DecodeRuneInString(s)
	return foldRune(r), n
}

// lastFold returns the folded last rune of s and its size in bytes.
func lastFold(s string) (rune, int) {
	if c := s[len(s)-1]; c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return rune(c), 1
	}
	r, n := utf8.DecodeLastRuneInString(s)
	return foldRune(r), n
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c
}

// compareFold compares a and b rune by rune under case folding.
func compareFold(a, b string) int {
	// Fast path for the ASCII prefix.
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca|cb >= utf8.RuneSelf {
			a, b = a[i:], b[i:]
			goto slow
		}
		if ca != cb {
			if ca, cb = lowerASCII(ca), lowerASCII(cb); ca != cb {
				if ca < cb {
					return -1
				}
				return 1
			}
		}
	}
	return cmp.Compare(len(a), len(b))
slow:
	for a != "" && b != "" {
		ra, na := firstFold(a)
		rb, nb := firstFold(b)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// hasPrefixFold is strings.HasPrefix under case folding.
func hasPrefixFold(s, prefix string) bool {
	// Fast path for the ASCII prefix.
	i := 0
	for ; i < len(prefix); i++ {
		if i >= len(s) {
			return false
		}
		cs, cp := s[i], prefix[i]
		if cs|cp >= utf8.RuneSelf {
			break
		}
		if cs != cp && lowerASCII(cs) != lowerASCII(cp) {
			return false
		}
	}
	s, prefix = s[i:], prefix[i:]
	for prefix != "" {
		if s == "" {
			return false
		}
		rs, ns := firstFold(s)
		rp, np := firstFold(prefix)
		if rs != rp {
			return false
		}
		s, prefix = s[ns:], prefix[np:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix under case folding.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		rs, ns := lastFold(s)
		rp, np := lastFold(suffix)
		if rs != rp {
			return false
		}
		s, suffix = s[:len(s)-ns], suffix[:len(suffix)-np]
	}
	return true
}

// containsFold is strings.Contains under case folding.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	first, _ := firstFold(sub)
	for s != "" {
		r, n := firstFold(s)
		if r == first && hasPrefixFold(s, sub) {
			return true
		}
		s = s[n:]
	}
	return false
}
