package selftest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// listResponse is a SCIM ListResponse as Okta reads it: the counters must be
// JSON integers and Resources an array.
type listResponse struct {
	TotalResults int
	StartIndex   int
	ItemsPerPage int
	Resources    []object
}

// ids returns the ids of the page's resources.
func (l *listResponse) ids() []string {
	out := make([]string, len(l.Resources))
	for i, r := range l.Resources {
		out[i] = r.str("id")
	}
	return out
}

// parseListResponse decodes and checks a ListResponse: the schema, integer
// totalResults, startIndex and itemsPerPage, Resources an array of objects
// (absent only when the page is empty), and itemsPerPage equal to the
// resources returned.
func parseListResponse(b []byte) (*listResponse, error) {
	o, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	if !o.hasSchema(listSchema) {
		return nil, errors.New("schemas lacks " + listSchema)
	}
	var l listResponse
	for _, f := range []struct {
		name     string
		dst      *int
		required bool
	}{{"totalResults", &l.TotalResults, true}, {"startIndex", &l.StartIndex, false}, {"itemsPerPage", &l.ItemsPerPage, false}} {
		v, ok := o[f.name]
		if !ok {
			if f.required {
				return nil, fmt.Errorf("%s is missing", f.name)
			}
			*f.dst = -1
			continue
		}
		n, err := jsonInt(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = n
	}
	raw, ok := o["Resources"]
	if !ok {
		for k := range o {
			if strings.EqualFold(k, "Resources") {
				return nil, fmt.Errorf("Resources is spelt %q", k)
			}
		}
	}
	switch rs := raw.(type) {
	case nil:
		if l.TotalResults > 0 && l.ItemsPerPage != 0 {
			return nil, fmt.Errorf("Resources is missing but totalResults is %d", l.TotalResults)
		}
	case []any:
		for i, r := range rs {
			m, ok := r.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("Resources[%d] is not an object", i)
			}
			l.Resources = append(l.Resources, object(m))
		}
	default:
		return nil, errors.New("Resources is not an array")
	}
	if l.ItemsPerPage >= 0 && l.ItemsPerPage != len(l.Resources) {
		return nil, fmt.Errorf("itemsPerPage is %d but %d resources were returned", l.ItemsPerPage, len(l.Resources))
	}
	if l.TotalResults < len(l.Resources) {
		return nil, fmt.Errorf("totalResults %d is less than the %d resources returned", l.TotalResults, len(l.Resources))
	}
	return &l, nil
}

// jsonInt returns v as an int if it is a JSON integer (not a string).
func jsonInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil || i < 0 || i > 1<<40 {
			return 0, fmt.Errorf("%s is not a non-negative integer", n)
		}
		return int(i), nil
	case string:
		return 0, fmt.Errorf("%q is a string, not a number", n)
	case nil:
		return 0, errors.New("is null")
	}
	return 0, fmt.Errorf("is a %T, not a number", v)
}
