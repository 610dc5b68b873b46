package schema

// Operator-declared schema extensions: a tenant's extension file is
// {"schemas": [ExtensionSchema, ...]} (or a bare array of them), each
// schema in the RFC 7643 §7 representation plus the resource type it extends
// and whether resources must carry it. ParseExtensionFile validates such a
// file strictly and reports the first problem with its line, so that the CLI
// can refuse it as FILE:LINE: reason. The file is read into a line-numbered
// JSON tree (jsontree.go), which the validator (extvalidate.go) checks.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Limits of an extension file.
const (
	// MaxExtensionFileSize bounds the file and its canonical form (the stored
	// document), well below DynamoDB's 400 KB item limit.
	MaxExtensionFileSize = 256 << 10
	// MaxExtensionSchemas bounds the schemas of one file (one tenant).
	MaxExtensionSchemas = 20
	// MaxExtensionAttributes bounds the attributes of one schema,
	// sub-attributes included.
	MaxExtensionAttributes = 200
	// maxAttrNameLen bounds an attribute name; maxURNLen a schema id.
	maxAttrNameLen = 128
	maxURNLen      = 256
	// maxDepth bounds JSON nesting; a valid file nests 7 levels deep.
	maxDepth = 32
)

// ExtensionSchema is one operator-declared schema extension of a resource type.
type ExtensionSchema struct {
	Schema              // id (the URN), name, description, attributes: the RFC 7643 §7 representation
	ResourceType string `json:"resourceType"` // "User" or "Group"
	Required     bool   `json:"required"`     // whether resources must carry the extension
}

// FileError is a problem in a schema file, with the 1-based line it is on.
type FileError struct {
	Line   int
	Reason string
}

func (e *FileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Extensions returns the Extension values for resource type id ("User" or
// "Group") from parsed schemas, in file order. The schemas are deep copies,
// so callers may keep or change them without touching list.
func Extensions(list []ExtensionSchema, resourceType string) []Extension {
	var out []Extension
	for i := range list {
		if list[i].ResourceType == resourceType {
			out = append(out, Extension{Schema: cloneSchema(&list[i].Schema), Required: list[i].Required})
		}
	}
	return out
}

// MarshalExtensionFile returns the canonical form of parsed schemas: the
// file format ({"schemas": [...]}) with every default spelled out. It parses
// back to the same list.
func MarshalExtensionFile(list []ExtensionSchema) ([]byte, error) {
	if list == nil {
		list = []ExtensionSchema{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Schemas []ExtensionSchema `json:"schemas"`
	}{list}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func cloneSchema(s *Schema) *Schema {
	c := *s
	c.Attributes = cloneAttrs(s.Attributes)
	return &c
}

func cloneAttrs(list []*Attribute) []*Attribute {
	if list == nil {
		return nil
	}
	out := make([]*Attribute, len(list))
	for i, a := range list {
		c := *a
		c.CanonicalValues = append([]string(nil), a.CanonicalValues...)
		c.ReferenceTypes = append([]string(nil), a.ReferenceTypes...)
		c.SubAttributes = cloneAttrs(a.SubAttributes)
		out[i] = &c
	}
	return out
}

// ParseExtensionFile parses and validates an extension file:
// {"schemas": [ExtensionSchema, ...]} or a bare array of them. Every error is
// a *FileError. Omitted attribute characteristics get their RFC 7643 defaults:
// multiValued, required and caseExact false, mutability readWrite, returned
// default (never for a writeOnly attribute), uniqueness none.
func ParseExtensionFile(data []byte) ([]ExtensionSchema, error) {
	if len(data) > MaxExtensionFileSize {
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("the file is %d bytes; the limit is %d (256 KB)", len(data), MaxExtensionFileSize)}
	}
	p := &fileParser{data: data}
	for i, c := range data {
		if c == '\n' {
			p.nl = append(p.nl, i)
		}
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) { // a UTF-8 byte order mark, as some editors write
		data = append([]byte("   "), data[3:]...)
		p.data = data
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FileError{Line: 1, Reason: `the file is empty: want {"schemas": [ ... ]}`}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, p.errAt(off, "invalid UTF-8 (byte 0x%02x): save the file as UTF-8", data[off])
	}
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, p.jsonError(err)
	}
	p.dec = json.NewDecoder(bytes.NewReader(data))
	p.dec.UseNumber()
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	list, err := p.file(root)
	if err != nil {
		return nil, err
	}
	canon, err := MarshalExtensionFile(list)
	if err != nil {
		return nil, &FileError{Line: 1, Reason: err.Error()}
	}
	if len(canon) > MaxExtensionFileSize {
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("with every default spelled out the schemas take %d bytes, over the %d (256 KB) limit: remove attributes or descriptions", len(canon), MaxExtensionFileSize)}
	}
	return list, nil
}

// file validates the top-level value.
func (p *fileParser) file(root *jnode) ([]ExtensionSchema, error) {
	list := root
	switch root.kind {
	case jArray:
	case jObject:
		if root.member("id") != nil || root.member("attributes") != nil {
			return nil, p.errAt(root.off, `the file holds a single schema: wrap it as {"schemas": [ ... ]}`)
		}
		for _, m := range root.members {
			if m.key != "schemas" {
				return nil, p.errAt(m.keyOff, "unknown key %s at the top level%s: want {\"schemas\": [ ... ]}", q(m.key), didYouMean(m.key, []string{"schemas"}, nil))
			}
		}
		m := root.member("schemas")
		if m == nil {
			return nil, p.errAt(root.off, `no "schemas": want {"schemas": [ ... ]}`)
		}
		if m.val.kind != jArray {
			return nil, p.errAt(m.val.off, `"schemas" must be an array of schemas, not %s`, m.val.describe())
		}
		list = m.val
	default:
		return nil, p.errAt(root.off, `the file must hold {"schemas": [ ... ]} or an array of schemas, not %s`, root.describe())
	}
	if len(list.elems) == 0 {
		return nil, p.errAt(list.off, "no schemas: declare at least one extension schema")
	}
	v := &validator{p: p, ids: map[string]int{}}
	for _, urn := range []string{UserURN, GroupURN, EnterpriseUserURN} {
		v.all = append(v.all, urnSeen{id: urn, builtin: true})
	}
	var out []ExtensionSchema
	for i, n := range list.elems {
		if i == MaxExtensionSchemas {
			return nil, p.errAt(n.off, "more than %d schemas in one file", MaxExtensionSchemas)
		}
		es, err := v.schema(n, i)
		if err != nil {
			return nil, err
		}
		out = append(out, es)
	}
	return out, nil
}
