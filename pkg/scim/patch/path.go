package patch

import (
	"strings"

	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// path is a resolved PATCH path.
type path struct {
	urn  string            // schema of the attribute: the core schema ID or an extension URN
	ext  bool              // the attribute lives in the extension sub-object res[urn]
	attr *schema.Attribute // nil when the path names a whole extension
	sub  *schema.Attribute // sub-attribute, from "a.b" or "a[filter].b"
	expr filter.Expr       // value filter of "a[filter]", or nil
	// match selects the elements the filter matches; set when expr is.
	match func(map[string]any) bool
}

// String returns the canonical path without the filter, for error details.
func (p path) String() string {
	if p.attr == nil {
		return p.urn
	}
	s := p.attr.Name
	if p.ext {
		s = p.urn + ":" + s
	}
	if p.sub != nil {
		s += "." + p.sub.Name
	}
	return s
}

// top returns the key of the top-level member of the resource that p is in.
func (p path) top() string {
	if p.ext {
		return p.urn
	}
	return p.attr.Name
}

// parsePath resolves a PATCH path and compiles its value filter.
func parsePath(rt *schema.ResourceType, s string) (path, error) {
	p, err := resolve(rt, s)
	if err != nil || p.expr == nil {
		return p, err
	}
	ref := schema.Ref{URN: p.urn, Attr: p.attr, Extension: p.ext}
	f, err := filter.CompileValue(rt, ref, p.expr)
	if err != nil {
		detail := err.Error()
		if e, ok := scimerr.As(err); ok {
			detail = e.Detail
		}
		return p, scimerr.InvalidPath("invalid filter in path %q: %s", truncate(s), detail)
	}
	p.match = f.Match
	return p, nil
}

// resolve parses a PATCH path (RFC 7644 §3.5.2, "PATH" in Figure 1) and
// resolves its attribute names against rt, without compiling the filter.
// Besides RFC paths it accepts a bare extension URN (the whole extension
// object) and unqualified extension attribute names such as Entra's
// "manager", when no core attribute has that name and exactly one extension
// does.
func resolve(rt *schema.ResourceType, s string) (path, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return path{}, scimerr.InvalidPath("empty path")
	}
	if sch, ext := rt.SchemaByURN(s); sch != nil {
		if !ext {
			return path{}, scimerr.InvalidPath("path %q names the core schema, not an attribute", truncate(s))
		}
		return path{urn: sch.ID, ext: true}, nil
	}
	parsed, err := filter.ParsePath(s)
	if err != nil {
		return path{}, err
	}
	a := parsed.Attr
	ref, err := lookup(rt, a.URN, a.Name, a.Sub)
	if err != nil {
		if e, ok := scimerr.As(err); ok {
			return path{}, e
		}
		return path{}, scimerr.InvalidPath("invalid path %q: %v", truncate(s), err)
	}
	p := path{urn: ref.URN, ext: ref.Extension, attr: ref.Attr, sub: ref.Sub}
	if parsed.Filter == nil {
		return p, nil
	}
	if p.sub != nil {
		return path{}, scimerr.InvalidPath("invalid path %q: a filter must follow an attribute, not a sub-attribute", truncate(s))
	}
	if p.attr.Type != schema.Complex {
		return path{}, scimerr.InvalidPath("invalid path %q: %s is not a complex attribute and cannot be filtered", truncate(s), p.attr.Name)
	}
	p.expr = parsed.Filter
	if parsed.Sub != "" {
		p.sub = p.attr.Sub(parsed.Sub)
		if p.sub == nil {
			return path{}, scimerr.InvalidPath("invalid path %q: %s has no sub-attribute %q", truncate(s), p.attr.Name, truncate(parsed.Sub))
		}
	}
	return p, nil
}

// lookup resolves an attribute name like schema.ResourceType.Lookup, and
// also resolves an unqualified name that no core attribute has against the
// extensions, when exactly one of them defines it.
func lookup(rt *schema.ResourceType, urn, name, sub string) (schema.Ref, error) {
	if urn != "" {
		return rt.Lookup(urn, name, sub)
	}
	if _, err := rt.Lookup("", name, ""); err == nil {
		return rt.Lookup("", name, sub)
	}
	var found string
	for _, e := range rt.Extensions {
		if e.Schema.Attr(name) == nil {
			continue
		}
		if found != "" {
			return schema.Ref{}, scimerr.InvalidPath("attribute %q is ambiguous: qualify it with a schema URN", name)
		}
		found = e.Schema.ID
	}
	if found == "" {
		return rt.Lookup("", name, sub)
	}
	return rt.Lookup(found, name, sub)
}
