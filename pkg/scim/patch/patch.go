// Package patch implements SCIM PATCH (RFC 7644 §3.5.2): decoding PatchOp
// messages and applying their operations to a resource.
//
// Resources are plain decoded JSON objects (map[string]any with float64
// numbers, []any arrays and map[string]any objects) keyed by canonical
// attribute names, with extension attributes in a sub-object keyed by the
// extension URN, as described in package schema.
//
// Besides RFC 7644 the package accepts the dialects of the two clients that
// matter in practice, Okta and Microsoft Entra ID: capitalised op names,
// pathless operations whose value keys are attribute paths (dotted or
// URN-qualified), booleans sent as the strings "True" and "False", value
// paths that match nothing in add and replace operations (the element is
// created from the filter's eq constraints), array values for single-valued
// attributes, filters on single-valued complex attributes, null or empty
// values that clear an attribute, and group member removal by value list.
//
// Group memberships are not part of the resource map; [SplitMembers] takes
// the member operations out of a Group PATCH so that they can be stored
// separately.
package patch

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Operation names, as normalised by Decode.
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
)

// Operation is one PATCH operation. Op is "add", "remove" or "replace" (Apply
// and SplitMembers also accept other letter cases), Path is the attribute path
// ("" when absent) and Value the decoded JSON value (nil when absent or null).
type Operation struct {
	Op    string
	Path  string
	Value any
}

// Request is a decoded PatchOp message.
type Request struct {
	Schemas    []string
	Operations []Operation
}

type rawOperation struct {
	Op    *string         `json:"op"`
	Path  *string         `json:"path"`
	Value json.RawMessage `json:"value"`
}

type rawRequest struct {
	Schemas    []string       `json:"schemas"`
	Operations []rawOperation `json:"Operations"`
}

// Decode parses a PatchOp message (RFC 7644 §3.5.2). The schemas list must
// contain the PatchOp URN (any letter case; other URNs are tolerated), there
// must be at least one operation, op may be in any letter case, and add and
// replace operations must carry a value (JSON null counts as a value: it
// clears the target). Errors are 400 invalidSyntax *scimerr.Error values.
func Decode(body []byte) (*Request, error) {
	var raw rawRequest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, syntaxError(err)
	}
	found := false
	for _, s := range raw.Schemas {
		if strings.EqualFold(strings.TrimSpace(s), schema.PatchOpURN) {
			found = true
			break
		}
	}
	if !found {
		return nil, scimerr.InvalidSyntax("schemas must contain %q", schema.PatchOpURN)
	}
	if len(raw.Operations) == 0 {
		return nil, scimerr.InvalidSyntax("Operations must contain at least one operation")
	}
	req := &Request{Schemas: raw.Schemas, Operations: make([]Operation, 0, len(raw.Operations))}
	for i, ro := range raw.Operations {
		if ro.Op == nil {
			return nil, scimerr.InvalidSyntax("Operations[%d]: op is missing", i)
		}
		op, ok := normaliseOp(*ro.Op)
		if !ok {
			return nil, scimerr.InvalidSyntax("Operations[%d]: unknown op %q; want add, remove or replace", i, truncate(*ro.Op))
		}
		o := Operation{Op: op}
		if ro.Path != nil {
			o.Path = strings.TrimSpace(*ro.Path)
		}
		if len(ro.Value) == 0 {
			if op != OpRemove {
				return nil, scimerr.InvalidSyntax("Operations[%d]: %s requires a value", i, op)
			}
		} else if err := json.Unmarshal(ro.Value, &o.Value); err != nil {
			return nil, syntaxError(err)
		}
		req.Operations = append(req.Operations, o)
	}
	return req, nil
}

func normaliseOp(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case OpAdd:
		return OpAdd, true
	case OpRemove:
		return OpRemove, true
	case OpReplace:
		return OpReplace, true
	}
	return "", false
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return scimerr.InvalidSyntax("request body is not valid JSON (offset %d)", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return scimerr.InvalidSyntax("request body must be a JSON object")
		}
		return scimerr.InvalidSyntax("%s must not be a JSON %s", te.Field, te.Value)
	}
	return scimerr.InvalidSyntax("request body is not a valid PatchOp message")
}

// truncate shortens client-supplied text quoted in error details.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Changed reports the canonical top-level attributes that ops touch, sorted
// and without duplicates: attribute names such as "members", "displayName"
// or "active" for core attributes and the extension URN (for example
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") for extension
// attributes. Paths that do not resolve are left out (Apply reports them), as
// are the "id", "meta" and "schemas" keys of pathless values, which Apply
// ignores or rejects.
func Changed(rt *schema.ResourceType, ops []Operation) []string {
	seen := map[string]bool{}
	add := func(path string) {
		p, err := resolve(rt, path)
		if err != nil {
			return
		}
		if p.ext {
			seen[p.urn] = true
		} else {
			seen[p.attr.Name] = true
		}
	}
	for _, op := range ops {
		path := strings.TrimSpace(op.Path)
		if path != "" {
			add(path)
			continue
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			continue
		}
		for k := range obj {
			if isIgnoredKey(k) || strings.EqualFold(k, "id") {
				continue
			}
			add(k)
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isIgnoredKey reports whether a key of a pathless value object is ignored:
// clients echo "schemas" and "meta" from the resource they read.
func isIgnoredKey(k string) bool {
	return strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta")
}
