package patch

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// coerce checks v against the type of a single value of attribute a and
// returns it in canonical form: a fresh copy for objects, bool for the
// strings "true" and "false" (any case) of boolean attributes, float64 for
// numbers. Sub-attribute keys of objects are canonicalised; null and ""
// sub-values are dropped (they mean "no value"), and so are readOnly
// sub-attributes unless keepRO is set. name is the attribute path used in
// error details.
func coerce(a *schema.Attribute, v any, name string, keepRO bool) (any, error) {
	switch a.Type {
	case schema.Complex:
		if m, ok := v.(map[string]any); ok {
			return coerceComplex(a, m, name, keepRO)
		}
	case schema.Boolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Entra ID sends booleans as "True" and "False".
			switch {
			case strings.EqualFold(strings.TrimSpace(x), "true"):
				return true, nil
			case strings.EqualFold(strings.TrimSpace(x), "false"):
				return false, nil
			}
		}
	case schema.Integer:
		if f, ok := number(v); ok && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	case schema.Decimal:
		if f, ok := number(v); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	case schema.DateTime:
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err == nil {
				return s, nil
			}
		}
	default: // string, reference, binary
		if s, ok := v.(string); ok {
			return s, nil
		}
	}
	return nil, scimerr.InvalidValue("attribute %q must be %s, not %s", name, typeName(a.Type), jsonKind(v))
}

func coerceComplex(a *schema.Attribute, m map[string]any, name string, keepRO bool) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, sv := range m {
		sub := a.Sub(k)
		if sub == nil {
			return nil, scimerr.InvalidValue("attribute %q has no sub-attribute %q", name, truncate(k))
		}
		if isNull(sv) || (sub.Mutability == schema.ReadOnly && !keepRO) {
			continue
		}
		subName := name + "." + sub.Name
		if sub.MultiValued {
			vals, err := coerceMulti(sub, sv, subName, keepRO)
			if err != nil {
				return nil, err
			}
			if len(vals) > 0 {
				out[sub.Name] = vals
			}
			continue
		}
		sv, err := unwrapSingle(sv, subName)
		if err != nil {
			return nil, err
		}
		if isNull(sv) {
			continue
		}
		cv, err := coerce(sub, sv, subName, keepRO)
		if err != nil {
			return nil, err
		}
		out[sub.Name] = cv
	}
	return out, nil
}

// coerceMulti coerces the values of multi-valued attribute a. A single value
// is treated as a one-element array; null, "" and empty objects are dropped.
func coerceMulti(a *schema.Attribute, v any, name string, keepRO bool) ([]any, error) {
	var in []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		in = x
	default:
		in = []any{x}
	}
	out := make([]any, 0, len(in))
	for _, e := range in {
		if isNull(e) {
			continue
		}
		ce, err := coerce(a, e, name, keepRO)
		if err != nil {
			return nil, err
		}
		if m, ok := ce.(map[string]any); ok && len(m) == 0 {
			continue
		}
		out = append(out, ce)
	}
	return out, nil
}

// unwrapSingle returns the element of a one-element array given for a
// single-valued attribute (Entra ID sends manager as [{"value": …}]); an empty
// array becomes nil.
func unwrapSingle(v any, name string) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return v, nil
	}
	switch len(arr) {
	case 0:
		return nil, nil
	case 1:
		return arr[0], nil
	}
	return nil, scimerr.InvalidValue("attribute %q is single-valued, not an array of %d values", name, len(arr))
}

// isNull reports whether v means "no value": JSON null or "".
func isNull(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// isEmpty reports whether v is null, "", an empty array or an empty object.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return isNull(v)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	return 0, false
}

func typeName(t schema.Type) string {
	switch t {
	case schema.Complex:
		return "an object"
	case schema.Boolean:
		return "a boolean"
	case schema.Integer:
		return "an integer"
	case schema.Decimal:
		return "a number"
	case schema.DateTime:
		return "an RFC 3339 date-time string"
	}
	return "a string"
}

// jsonKind names the JSON type of v for error details.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	if _, ok := number(v); ok {
		return "a number"
	}
	return "an unsupported value"
}

// copyValue returns a deep copy of a decoded JSON value. []string and
// map[string]string values, which callers may build by hand, become []any
// and map[string]any.
func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	}
	return v
}

// copyMap returns a deep copy of m (a non-nil map even when m is nil).
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

// equal reports whether two decoded JSON values are equal, comparing numbers
// by value.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if xf, ok := number(a); ok {
		yf, ok := number(b)
		return ok && xf == yf
	}
	return reflect.DeepEqual(a, b)
}

// equalOrAbsent is equal, except that a missing value equals an empty one.
func equalOrAbsent(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	return equal(a, b)
}

// get returns m's member name, looking it up case-insensitively when there is
// no exact match; a member found that way is renamed to name.
func get(m map[string]any, name string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
			m[name] = v
			return v, true
		}
	}
	return nil, false
}

// del deletes name from m, in any letter case.
func del(m map[string]any, name string) {
	delete(m, name)
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}
