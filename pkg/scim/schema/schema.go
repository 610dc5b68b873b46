// Package schema describes SCIM resources (RFC 7643 §2, §7): attribute
// definitions, schemas, resource types and the lookup of attribute paths
// (case-insensitive, with or without a schema URN). Resources themselves are
// plain decoded JSON objects (map[string]any) keyed by canonical attribute
// names; extension attributes sit in a sub-object keyed by the extension URN.
package schema

import (
	"fmt"
	"strings"
)

// Type is an attribute data type (RFC 7643 §2.3).
type Type string

// Attribute data types.
const (
	String    Type = "string"
	Boolean   Type = "boolean"
	Decimal   Type = "decimal"
	Integer   Type = "integer"
	DateTime  Type = "dateTime"
	Binary    Type = "binary"
	Reference Type = "reference"
	Complex   Type = "complex"
)

// Mutability values (RFC 7643 §2.2).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"
)

// Returned values (RFC 7643 §2.2).
const (
	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Uniqueness values (RFC 7643 §2.2).
const (
	UniqueNone   = "none"
	UniqueServer = "server"
	UniqueGlobal = "global"
)

// Well-known schema URNs.
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ServiceConfigURN  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeURN   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaURN         = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	ListResponseURN   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpURN        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchRequestURN  = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	ErrorURN          = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Attribute defines one attribute of a schema (RFC 7643 §7).
type Attribute struct {
	Name            string       `json:"name"`
	Type            Type         `json:"type"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
}

// Sub returns the sub-attribute named name (case-insensitive), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Schema is a named set of attributes (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr returns the attribute named name (case-insensitive), or nil.
func (s *Schema) Attr(name string) *Attribute {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Extension is a schema extension of a resource type.
type Extension struct {
	Schema   *Schema
	Required bool
}

// ResourceType binds an endpoint to a core schema and its extensions
// (RFC 7643 §6).
type ResourceType struct {
	ID          string
	Name        string
	Endpoint    string
	Description string
	Schema      *Schema
	Extensions  []Extension

	common []*Attribute // Common(), built once by the constructors
}

// commonAttr returns the common attribute named name (case-insensitive).
func (rt *ResourceType) commonAttr(name string) *Attribute {
	list := rt.common
	if list == nil {
		list = Common()
	}
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Common returns the attributes every resource has (RFC 7643 §3.1): id,
// externalId and meta. They are not part of any schema's attribute list.
func Common() []*Attribute {
	return []*Attribute{
		{Name: "id", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedAlways, Uniqueness: UniqueServer,
			Description: "Unique identifier for the resource, assigned by the service provider."},
		{Name: "externalId", Type: String, CaseExact: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone,
			Description: "Identifier of the resource as defined by the provisioning client."},
		{Name: "meta", Type: Complex, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone,
			Description: "Resource metadata.",
			SubAttributes: []*Attribute{
				{Name: "resourceType", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone},
				{Name: "created", Type: DateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone},
				{Name: "lastModified", Type: DateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone},
				{Name: "location", Type: Reference, ReferenceTypes: []string{"uri"}, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone},
				{Name: "version", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone},
			}},
	}
}

// Ref is a resolved attribute path: the schema that defines the attribute
// (URN), the attribute and, for a sub-attribute path, the sub-attribute.
type Ref struct {
	// URN is the schema of the attribute. For core and common attributes it is
	// the resource type's core schema ID; for extension attributes the
	// extension URN, which is also the key of the sub-object holding them.
	URN  string
	Attr *Attribute
	Sub  *Attribute
	// Extension is true when the attribute lives in an extension sub-object.
	Extension bool
}

// Target returns the attribute the path ends at: Sub if set, else Attr.
func (r Ref) Target() *Attribute {
	if r.Sub != nil {
		return r.Sub
	}
	return r.Attr
}

// String returns the canonical path, e.g. "name.givenName" or
// "urn:…:enterprise:2.0:User:manager.value".
func (r Ref) String() string {
	s := r.Attr.Name
	if r.Extension {
		s = r.URN + ":" + s
	}
	if r.Sub != nil {
		s += "." + r.Sub.Name
	}
	return s
}

// SchemaByURN returns the core schema or the extension with the given URN
// (case-insensitive), and whether it is an extension.
func (rt *ResourceType) SchemaByURN(urn string) (s *Schema, extension bool) {
	if strings.EqualFold(rt.Schema.ID, urn) {
		return rt.Schema, false
	}
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.Schema.ID, urn) {
			return e.Schema, true
		}
	}
	return nil, false
}

// Lookup resolves an attribute path given as an optional schema URN, an
// attribute name and an optional sub-attribute name, all case-insensitive.
// An unknown attribute yields a 400 invalidPath-compatible error.
func (rt *ResourceType) Lookup(urn, name, sub string) (Ref, error) {
	var ref Ref
	if urn != "" {
		s, ext := rt.SchemaByURN(urn)
		if s == nil {
			return ref, fmt.Errorf("unknown schema %q", urn)
		}
		ref.URN, ref.Extension = s.ID, ext
		if !ext {
			ref.Attr = s.Attr(name)
			if ref.Attr == nil {
				ref.Attr = rt.commonAttr(name)
			}
		} else {
			ref.Attr = s.Attr(name)
		}
	} else {
		ref.URN = rt.Schema.ID
		ref.Attr = rt.Schema.Attr(name)
		if ref.Attr == nil {
			ref.Attr = rt.commonAttr(name)
		}
	}
	if ref.Attr == nil {
		return ref, fmt.Errorf("unknown attribute %q", joinPath(urn, name, ""))
	}
	if sub != "" {
		if ref.Attr.Type != Complex {
			return ref, fmt.Errorf("attribute %q has no sub-attributes", ref.Attr.Name)
		}
		ref.Sub = ref.Attr.Sub(sub)
		if ref.Sub == nil {
			return ref, fmt.Errorf("unknown attribute %q", joinPath(urn, name, sub))
		}
	}
	return ref, nil
}

// LookupPath resolves a dotted attribute path such as "name.givenName",
// "emails", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
// or "urn:ietf:params:scim:schemas:core:2.0:User:userName".
func (rt *ResourceType) LookupPath(path string) (Ref, error) {
	urn, name, sub := rt.SplitPath(path)
	return rt.Lookup(urn, name, sub)
}

// SplitPath splits a dotted attribute path into schema URN, attribute name and
// sub-attribute name. A URN prefix is recognised when it names one of the
// resource type's schemas (or any "urn:" prefix ending before the last colon).
func (rt *ResourceType) SplitPath(path string) (urn, name, sub string) {
	rest := path
	if len(path) > 4 && strings.EqualFold(path[:4], "urn:") {
		for _, s := range rt.allSchemaIDs() {
			if len(path) > len(s) && strings.EqualFold(path[:len(s)], s) && path[len(s)] == ':' {
				urn, rest = path[:len(s)], path[len(s)+1:]
				break
			}
		}
		if urn == "" {
			// Unknown URN: everything up to the last colon is the URN.
			i := strings.LastIndexByte(path, ':')
			urn, rest = path[:i], path[i+1:]
		}
	}
	name, sub, _ = strings.Cut(rest, ".")
	return urn, name, sub
}

func (rt *ResourceType) allSchemaIDs() []string {
	ids := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		ids = append(ids, e.Schema.ID)
	}
	return ids
}

func joinPath(urn, name, sub string) string {
	s := name
	if urn != "" {
		s = urn + ":" + s
	}
	if sub != "" {
		s += "." + sub
	}
	return s
}
