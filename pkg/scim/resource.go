package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// Resource is a SCIM resource as decoded JSON, keyed by canonical attribute
// names; extension attributes sit in a sub-object keyed by the extension URN.
type Resource = map[string]any

// readBody reads a request body, mapping an oversized body to 413 and a
// body that is not valid UTF-8 text to 400 invalidSyntax.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, scimerr.New(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", MaxBodyBytes)
		}
		return nil, scimerr.InvalidSyntax("could not read the request body")
	}
	if err := checkText(b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeObject decodes a JSON object body. Any Content-Type is accepted:
// Okta's SPEC test sends none.
func decodeObject(body []byte) (Resource, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, scimerr.InvalidSyntax("the request body is empty; a JSON object is required")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return nil, scimerr.InvalidSyntax("the request body is not valid JSON: %s", jsonErrDetail(err))
	}
	if dec.More() {
		return nil, scimerr.InvalidSyntax("the request body has data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, scimerr.InvalidSyntax("the request body must be a JSON object")
	}
	return obj, nil
}

func jsonErrDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return "malformed JSON"
}

// normalize validates a client-supplied resource against rt and returns its
// writable attributes in canonical form: names in canonical case, values of
// the declared types (Entra's "True"/"False" strings become booleans), nulls
// dropped, read-only attributes (id, meta, groups…) and schemas ignored as
// RFC 7644 §3.3 and §3.5.1 require. Unknown core attributes are ignored;
// unknown extension URNs are an error (400 invalidSyntax), and so are
// schemas the resource type does not have in "schemas".
func normalize(rt *schema.ResourceType, in Resource) (Resource, error) {
	return normalizeExt(rt, in, false)
}

// normalizeExt is normalize; with passThrough, an object under an unknown
// extension URN is kept as sent instead of refused (a tenant setting for
// gateways that add their own extensions).
func normalizeExt(rt *schema.ResourceType, in Resource, passThrough bool) (Resource, error) {
	out := Resource{}
	for k, v := range in {
		if v == nil {
			continue
		}
		if strings.EqualFold(k, "schemas") {
			if err := checkSchemas(rt, v, passThrough); err != nil {
				return nil, err
			}
			continue
		}
		if strings.EqualFold(k, "id") || strings.EqualFold(k, "meta") {
			continue
		}
		if len(k) > 4 && strings.EqualFold(k[:4], "urn:") {
			s, ext := rt.SchemaByURN(k)
			if s == nil {
				// A full attribute path such as "urn:…:User:userName".
				ref, err := rt.LookupPath(k)
				if err != nil {
					if obj, ok := v.(map[string]any); ok && passThrough {
						out[k] = obj
						continue
					}
					return nil, scimerr.InvalidSyntax("unknown schema extension %q (declare it with scimless schema set, or allow pass-through with tenant setting extensionPassThrough=true)", k)
				}
				if err := setRef(out, ref, v); err != nil {
					return nil, err
				}
				continue
			}
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, scimerr.InvalidValue("%s must be an object", s.ID)
			}
			if !ext {
				// Core attributes nested under the core URN.
				for ak, av := range obj {
					if err := putAttr(out, s, ak, av); err != nil {
						return nil, err
					}
				}
				continue
			}
			sub := Resource{}
			for ak, av := range obj {
				if err := putAttr(sub, s, ak, av); err != nil {
					return nil, err
				}
			}
			if len(sub) > 0 {
				out[s.ID] = sub
			}
			continue
		}
		a := rt.Schema.Attr(k)
		if a == nil {
			if strings.EqualFold(k, "externalId") {
				s, ok := v.(string)
				if !ok {
					return nil, scimerr.InvalidValue("externalId must be a string")
				}
				if s != "" {
					out["externalId"] = s
				}
			}
			continue // unknown attribute: ignored
		}
		if err := putAttr(out, rt.Schema, k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func setRef(out Resource, ref schema.Ref, v any) error {
	if ref.Sub != nil {
		return scimerr.InvalidSyntax("%s: sub-attribute paths are not allowed as resource keys", ref)
	}
	if ref.Extension {
		sub, _ := out[ref.URN].(map[string]any)
		if sub == nil {
			sub = Resource{}
		}
		if err := putValue(sub, ref.Attr, v); err != nil {
			return err
		}
		// No empty extension object (a value that is empty or read-only
		// only): it would be rendered as {} and listed in schemas.
		if len(sub) > 0 {
			out[ref.URN] = sub
		}
		return nil
	}
	if ref.Attr.Name == "externalId" {
		s, ok := v.(string)
		if !ok {
			return scimerr.InvalidValue("externalId must be a string")
		}
		if s != "" { // as for an unqualified externalId: "" is no value
			out["externalId"] = s
		}
		return nil
	}
	if ref.Attr.Mutability == schema.ReadOnly {
		return nil
	}
	return putValue(out, ref.Attr, v)
}

func putAttr(out Resource, s *schema.Schema, name string, v any) error {
	a := s.Attr(name)
	if a == nil {
		return nil
	}
	return putValue(out, a, v)
}

func putValue(out Resource, a *schema.Attribute, v any) error {
	if a.Mutability == schema.ReadOnly || v == nil {
		return nil
	}
	cv, err := coerce(a, v, a.Name)
	if err != nil {
		return err
	}
	if cv != nil {
		out[a.Name] = cv
	}
	return nil
}

// coerce checks v against a (multi-valued or single) and returns the canonical
// value, or nil when it is empty.
func coerce(a *schema.Attribute, v any, path string) (any, error) {
	if !a.MultiValued {
		return coerceSingle(a, v, path)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v} // a single value for a multi-valued attribute
	}
	if len(list) > schema.MaxValues {
		return nil, scimerr.InvalidValue("%s has %d values; at most %d are accepted", path, len(list), schema.MaxValues)
	}
	out := make([]any, 0, len(list))
	primaries := 0
	for i, e := range list {
		if e == nil {
			continue
		}
		cv, err := coerceSingle(a, e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if cv == nil {
			continue
		}
		if m, ok := cv.(map[string]any); ok && m["primary"] == true {
			primaries++
		}
		out = append(out, cv)
	}
	if primaries > 1 {
		return nil, scimerr.InvalidValue("%s: at most one value may be primary", path)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// coerceSingle checks one value of attribute a against its type and returns
// it in stored form (Entra's "True"/"False" strings become booleans,
// dateTimes are validated, complex values recurse into sub-attributes). It is
// long because it is one switch over the SCIM types, each with its own rule.
func coerceSingle(a *schema.Attribute, v any, path string) (any, error) {
	bad := func(want string) error {
		return scimerr.InvalidValue("%s must be %s", path, want)
	}
	switch a.Type {
	case schema.String, schema.Reference, schema.Binary:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		if len(a.CanonicalValues) > 0 && a.Name == "type" {
			// Canonical "type" values are advisory (RFC 7643 §2.3.1); keep as sent.
			return s, nil
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	case schema.Boolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(b) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, bad("a boolean")
	case schema.Integer:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, bad("an integer")
		}
		return f, nil
	case schema.Decimal:
		f, ok := v.(float64)
		if !ok {
			return nil, bad("a number")
		}
		return f, nil
	case schema.DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a dateTime string")
		}
		if s == "" {
			return nil, nil
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, bad("an RFC 3339 dateTime")
		}
		return s, nil
	case schema.Complex:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad("an object")
		}
		out := Resource{}
		for k, sv := range obj {
			sa := a.Sub(k)
			if sa == nil || sv == nil {
				continue
			}
			if sa.Mutability == schema.ReadOnly && a.Mutability != schema.ReadOnly {
				continue
			}
			cv, err := coerceSingle(sa, sv, path+"."+sa.Name)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				out[sa.Name] = cv
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return nil, bad("a valid value")
}

// checkRequired enforces the required characteristic of extension
// schemas: a required extension must be present, and a present extension
// must carry its required attributes. (Core required attributes, userName
// and displayName, are checked by the resource handlers.)
func checkRequired(rt *schema.ResourceType, doc Resource) error {
	for _, e := range rt.Extensions {
		obj, present := doc[e.Schema.ID].(map[string]any)
		if !present {
			if e.Required {
				return scimerr.InvalidValue("the extension %s is required", e.Schema.ID)
			}
			continue
		}
		for _, a := range e.Schema.Attributes {
			if a.Required && obj[a.Name] == nil {
				return scimerr.InvalidValue("%s:%s is required", e.Schema.ID, a.Name)
			}
		}
	}
	return nil
}

// meta describes the stored state a rendered resource carries.
type meta struct {
	ID       string
	Created  time.Time
	Modified time.Time
	Version  int64
}

func etag(version int64) string { return fmt.Sprintf(`W/"%d"`, version) }

// render returns the full resource (before projection): the stored document
// plus schemas, id and meta.
func render(rt *schema.ResourceType, base string, doc Resource, m meta) Resource {
	res := make(Resource, len(doc)+3)
	for k, v := range doc {
		res[k] = v
	}
	schemas := []any{rt.Schema.ID}
	for _, e := range rt.Extensions {
		if _, ok := doc[e.Schema.ID]; ok {
			schemas = append(schemas, e.Schema.ID)
		}
	}
	for k, v := range doc {
		if _, isObj := v.(map[string]any); isObj && strings.HasPrefix(k, "urn:") {
			if sc, _ := rt.SchemaByURN(k); sc == nil {
				schemas = append(schemas, k) // a passed-through extension
			}
		}
	}
	res["schemas"] = schemas
	res["id"] = m.ID
	res["meta"] = map[string]any{
		"resourceType": rt.Name,
		"created":      m.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": m.Modified.UTC().Format(time.RFC3339Nano),
		"location":     base + rt.Endpoint + "/" + m.ID,
		"version":      etag(m.Version),
	}
	return res
}

// projection selects the attributes returned (RFC 7644 §3.4.2.5).
type projection struct {
	include map[string]bool // canonical paths; nil: default set
	exclude map[string]bool
}

// parseProjection resolves the attributes / excludedAttributes lists.
func parseProjection(rt *schema.ResourceType, attributes, excluded []string) (projection, error) {
	var p projection
	resolve := func(list []string) (map[string]bool, error) {
		if len(list) == 0 {
			return nil, nil
		}
		set := map[string]bool{}
		for _, raw := range list {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
			if s, _ := rt.SchemaByURN(raw); s != nil {
				set[s.ID] = true // a whole extension
				continue
			}
			ref, err := rt.LookupPath(raw)
			if err != nil {
				return nil, scimerr.InvalidPath("attributes: %v", err)
			}
			set[ref.String()] = true
			if ref.Sub != nil {
				set[schema.Ref{URN: ref.URN, Attr: ref.Attr, Extension: ref.Extension}.String()+".*"] = true
			}
		}
		return set, nil
	}
	var err error
	if p.include, err = resolve(attributes); err != nil {
		return p, err
	}
	if p.exclude, err = resolve(excluded); err != nil {
		return p, err
	}
	return p, nil
}

// excludes reports whether the top-level attribute name is certainly not
// returned (used to skip reading members or groups).
func (p projection) excludes(name string) bool {
	if p.include != nil {
		return !p.include[name] && !p.include[name+".*"]
	}
	return p.exclude[name]
}

// apply returns the projected resource.
func (p projection) apply(rt *schema.ResourceType, res Resource) Resource {
	out := make(Resource, len(res))
	for k, v := range res {
		if k == "schemas" {
			out[k] = v
			continue
		}
		if s, ext := rt.SchemaByURN(k); s != nil && ext {
			obj, _ := v.(map[string]any)
			sub := Resource{}
			for ak, av := range obj {
				a := s.Attr(ak)
				if a == nil {
					continue
				}
				if keep, subs := p.keep(s.ID+":"+a.Name, a, p.include != nil && p.include[s.ID]); keep {
					sub[ak] = pickSubs(av, subs)
				}
			}
			if len(sub) > 0 {
				out[k] = sub
			}
			continue
		}
		ref, err := rt.Lookup("", k, "")
		if err != nil {
			if _, isObj := v.(map[string]any); isObj && strings.HasPrefix(k, "urn:") && p.include == nil && !p.exclude[k] {
				out[k] = v // a passed-through extension, returned as stored
			}
			continue
		}
		if keep, subs := p.keep(ref.Attr.Name, ref.Attr, false); keep {
			out[k] = pickSubs(v, subs)
		}
	}
	return out
}

// keep decides whether attribute a at canonical path is returned, and which
// of its sub-attributes (nil: all).
func (p projection) keep(path string, a *schema.Attribute, wholeExt bool) (bool, map[string]bool) {
	switch a.Returned {
	case schema.ReturnedNever:
		return false, nil
	case schema.ReturnedAlways:
		return true, nil
	}
	if p.include != nil {
		if p.include[path] || wholeExt {
			return true, nil
		}
		if !p.include[path+".*"] {
			return false, nil
		}
		subs := map[string]bool{}
		for _, sa := range a.SubAttributes {
			if p.include[path+"."+sa.Name] || sa.Returned == schema.ReturnedAlways {
				subs[sa.Name] = true
			}
		}
		return true, subs
	}
	if a.Returned == schema.ReturnedRequest {
		return false, nil
	}
	if p.exclude[path] {
		return false, nil
	}
	var subs map[string]bool
	for _, sa := range a.SubAttributes {
		if p.exclude[path+"."+sa.Name] || sa.Returned == schema.ReturnedNever {
			if subs == nil {
				subs = map[string]bool{}
				for _, x := range a.SubAttributes {
					subs[x.Name] = true
				}
			}
			delete(subs, sa.Name)
		}
	}
	return true, subs
}

func pickSubs(v any, subs map[string]bool) any {
	if subs == nil {
		return v
	}
	pick := func(m map[string]any) map[string]any {
		o := make(map[string]any, len(subs))
		for k, x := range m {
			if subs[k] {
				o[k] = x
			}
		}
		return o
	}
	switch t := v.(type) {
	case map[string]any:
		return pick(t)
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				if pm := pick(m); len(pm) > 0 {
					out = append(out, pm)
				}
			} else {
				out = append(out, e)
			}
		}
		return out
	}
	return v
}
