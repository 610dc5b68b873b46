package schema

// Operator-declared schema extensions (issue 5, item 4): a tenant's extension
// file is {"schemas": [ExtensionSchema, ...]} (or a bare array of them), each
// schema in the RFC 7643 §7 representation plus the resource type it extends
// and whether resources must carry it. ParseExtensionFile validates such a
// file strictly and reports the first problem with its line, so that the CLI
// can refuse it as FILE:LINE: reason.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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

// A JSON value with the offset of one of its bytes (a value's line is the
// line of that byte: its opening delimiter or its last byte, which for a
// scalar is on the line it starts on).
type jnode struct {
	kind    jkind
	off     int
	str     string
	boolean bool
	num     string
	members []jmember
	elems   []*jnode
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

type jmember struct {
	key    string
	keyOff int
	val    *jnode
}

func (n *jnode) member(key string) *jmember {
	for i := range n.members {
		if n.members[i].key == key {
			return &n.members[i]
		}
	}
	return nil
}

// describe names a value's JSON type for error messages.
func (n *jnode) describe() string {
	switch n.kind {
	case jNull:
		return "null"
	case jBool:
		return fmt.Sprint(n.boolean)
	case jNumber:
		return "the number " + clip(n.num)
	case jString:
		return "the string " + q(n.str)
	case jObject:
		return "an object"
	}
	return "an array"
}

type fileParser struct {
	data []byte
	nl   []int // offsets of the newlines
	dec  *json.Decoder
}

// line returns the 1-based line of the byte at off.
func (p *fileParser) line(off int) int {
	return sort.SearchInts(p.nl, off) + 1
}

func (p *fileParser) errAt(off int, format string, args ...any) *FileError {
	return &FileError{Line: p.line(off), Reason: fmt.Sprintf(format, args...)}
}

// jsonError turns a syntax error of the whole file into a FileError.
func (p *fileParser) jsonError(err error) *FileError {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &FileError{Line: 1, Reason: "invalid JSON: " + err.Error()}
	}
	// Offset counts the bytes read, the offending one included.
	off := int(se.Offset) - 1
	off = max(0, min(off, len(p.data)-1))
	reason := "invalid JSON: " + se.Error()
	if int(se.Offset) >= len(p.data) && strings.Contains(se.Error(), "end of JSON input") {
		reason = "invalid JSON: the file ends before the JSON does (a missing ']' or '}'?)"
		off = len(bytes.TrimRight(p.data, " \t\r\n")) - 1
	} else {
		switch c := p.data[off]; {
		case c == '}' || c == ']':
			if prev := bytes.TrimRight(p.data[:off], " \t\r\n"); len(prev) > 0 && prev[len(prev)-1] == ',' {
				reason += " (JSON allows no comma before '" + string(c) + "')"
			}
		case c == '/' || c == '#':
			reason += " (JSON has no comments)"
		case c == '\'':
			reason += ` (JSON strings use double quotes)`
		case strings.Contains(se.Error(), "after object key:value pair"), strings.Contains(se.Error(), "after array element"):
			reason += " (a missing comma?)"
		case strings.HasSuffix(se.Error(), "after object key"):
			reason += " (a missing ':'?)"
		}
	}
	return &FileError{Line: p.line(off), Reason: reason}
}

// decErr maps a decoder error on an already validated file (not expected).
func (p *fileParser) decErr(err error) *FileError {
	return p.errAt(int(p.dec.InputOffset()), "invalid JSON: %v", err)
}

// value reads the next JSON value into a tree.
func (p *fileParser) value(depth int) (*jnode, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.decErr(err)
	}
	off := int(p.dec.InputOffset()) - 1
	if depth > maxDepth {
		return nil, p.errAt(off, "JSON nested more than %d levels deep", maxDepth)
	}
	switch t := tok.(type) {
	case nil:
		return &jnode{kind: jNull, off: off}, nil
	case bool:
		return &jnode{kind: jBool, off: off, boolean: t}, nil
	case json.Number:
		return &jnode{kind: jNumber, off: off, num: string(t)}, nil
	case string:
		return &jnode{kind: jString, off: off, str: t}, nil
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: jObject, off: off}
			seen := map[string]int{}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.decErr(err)
				}
				key, _ := kt.(string)
				koff := int(p.dec.InputOffset()) - 1
				if first, dup := seen[key]; dup {
					return nil, p.errAt(koff, "duplicate key %s (first on line %d)", q(key), p.line(first))
				}
				seen[key] = koff
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, jmember{key: key, keyOff: koff, val: v})
			}
			if _, err := p.dec.Token(); err != nil { // '}'
				return nil, p.decErr(err)
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray, off: off}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := p.dec.Token(); err != nil { // ']'
				return nil, p.decErr(err)
			}
			return n, nil
		}
	}
	return nil, p.errAt(off, "invalid JSON: unexpected %v", tok)
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

type urnSeen struct {
	id      string
	off     int
	builtin bool
}

type validator struct {
	p     *fileParser
	ids   map[string]int // lower-case id → offset
	all   []urnSeen
	count int // attributes of the current schema
}

var (
	schemaKeys = []string{"id", "name", "description", "resourceType", "required", "attributes", "schemas"}
	attrKeys   = []string{"name", "type", "multiValued", "description", "required", "canonicalValues", "caseExact",
		"mutability", "returned", "uniqueness", "referenceTypes", "subAttributes"}
	types           = []string{string(String), string(Boolean), string(Decimal), string(Integer), string(DateTime), string(Binary), string(Reference), string(Complex)}
	mutabilities    = []string{ReadOnly, ReadWrite, Immutable, WriteOnly}
	returneds       = []string{ReturnedAlways, ReturnedNever, ReturnedDefault, ReturnedRequest}
	uniquenesses    = []string{UniqueNone, UniqueServer, UniqueGlobal}
	resourceTypeIDs = []string{"User", "Group"}
	referenceTypes  = []string{"User", "Group", "external", "uri"}
	typeAliases     = map[string]string{
		"str": "string", "text": "string", "char": "string", "varchar": "string",
		"int": "integer", "int32": "integer", "int64": "integer", "long": "integer", "short": "integer", "number": "integer\" or \"decimal",
		"float": "decimal", "double": "decimal", "float64": "decimal", "real": "decimal", "numeric": "decimal",
		"bool": "boolean",
		"date": "dateTime", "time": "dateTime", "timestamp": "dateTime", "datetime": "dateTime",
		"object": "complex", "map": "complex", "struct": "complex", "record": "complex",
		"uri": "reference", "url": "reference", "ref": "reference", "link": "reference",
		"bytes": "binary", "base64": "binary", "blob": "binary",
	}
	resourceTypeAliases = map[string]string{"users": "User", "groups": "Group"}
)

// schema validates one element of "schemas".
func (v *validator) schema(n *jnode, i int) (ExtensionSchema, error) {
	p := v.p
	var es ExtensionSchema
	if n.kind != jObject {
		return es, p.errAt(n.off, "schemas[%d] must be an object, not %s", i, n.describe())
	}
	idm := n.member("id")
	if idm == nil {
		return es, p.errAt(n.off, `schemas[%d] has no "id" (its URN, e.g. "urn:ietf:params:scim:schemas:extension:acme:2.0:User")`, i)
	}
	if idm.val.kind != jString {
		return es, p.errAt(idm.val.off, `schemas[%d]: "id" must be a string (a URN), not %s`, i, idm.val.describe())
	}
	es.ID = idm.val.str
	label := "schema " + q(es.ID)
	if err := v.urn(idm.val); err != nil {
		return es, err
	}
	var rtm, namem, attrm *jmember
	for j := range n.members {
		m := &n.members[j]
		switch m.key {
		case "id":
		case "name":
			s, err := v.str(m, label)
			if err != nil {
				return es, err
			}
			es.Name, namem = s, m
		case "description":
			s, err := v.str(m, label)
			if err != nil {
				return es, err
			}
			es.Description = s
		case "resourceType":
			s, err := v.str(m, label)
			if err != nil {
				return es, err
			}
			if err := v.enum(m, label, "resourceType", s, resourceTypeIDs, resourceTypeAliases); err != nil {
				return es, err
			}
			es.ResourceType, rtm = s, m
		case "required":
			b, err := v.bool(m, label)
			if err != nil {
				return es, err
			}
			es.Required = b
		case "attributes":
			if m.val.kind != jArray {
				return es, p.errAt(m.val.off, `%s: "attributes" must be an array, not %s`, label, m.val.describe())
			}
			attrm = m
		case "schemas": // as GET /Schemas shows it; ignored
			if m.val.kind != jArray {
				return es, p.errAt(m.val.off, `%s: "schemas" must be [%q], not %s`, label, SchemaURN, m.val.describe())
			}
			for _, e := range m.val.elems {
				if e.kind != jString || e.str != SchemaURN {
					return es, p.errAt(e.off, `%s: "schemas" may only list %q, not %s`, label, SchemaURN, e.describe())
				}
			}
		default:
			return es, p.errAt(m.keyOff, "%s: unknown key %s%s", label, q(m.key), didYouMean(m.key, schemaKeys, nil))
		}
	}
	if rtm == nil {
		return es, p.errAt(idm.val.off, `%s has no "resourceType" ("User" or "Group")`, label)
	}
	if namem == nil {
		return es, p.errAt(idm.val.off, `%s has no "name" (e.g. "AcmeUser")`, label)
	}
	if strings.TrimSpace(es.Name) == "" {
		return es, p.errAt(namem.val.off, `%s: "name" is empty`, label)
	}
	if attrm == nil {
		return es, p.errAt(idm.val.off, `%s has no "attributes"`, label)
	}
	if len(attrm.val.elems) == 0 {
		return es, p.errAt(attrm.val.off, `%s: "attributes" is empty: declare at least one attribute`, label)
	}
	v.count = 0
	attrs, err := v.attributes(attrm.val, nil, label)
	if err != nil {
		return es, err
	}
	es.Attributes = attrs
	return es, nil
}

// urn validates a schema id: its syntax, that it is not reserved, and that it
// is unique and unambiguous in the file.
func (v *validator) urn(n *jnode) error {
	p, id := v.p, n.str
	const example = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
	if !strings.HasPrefix(id, "urn:") {
		if strings.HasPrefix(strings.ToLower(id), "urn:") {
			return p.errAt(n.off, `schema id %s: write the "urn:" prefix in lower case`, q(id))
		}
		return p.errAt(n.off, "schema id %s is not a URN: want urn:NID:NSS, e.g. %q", q(id), example)
	}
	if len(id) > maxURNLen {
		return p.errAt(n.off, "schema id %s is longer than %d characters", q(id), maxURNLen)
	}
	segs := strings.Split(id, ":")
	if len(segs) < 3 {
		return p.errAt(n.off, "schema id %s is not a URN: want urn:NID:NSS, e.g. %q", q(id), example)
	}
	for k, s := range segs[1:] {
		if s == "" {
			return p.errAt(n.off, "schema id %s has an empty segment (\"::\" or a trailing ':')", q(id))
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return p.errAt(n.off, "schema id %s: character %q is not allowed: segments hold letters, digits, '.' and '-', so that filter and PATCH paths can name the URN", q(id), c)
			}
		}
		if k == 0 { // the namespace identifier (RFC 8141)
			nid := s
			if len(nid) < 2 || len(nid) > 32 || strings.Contains(nid, ".") || nid[0] == '-' || nid[len(nid)-1] == '-' {
				return p.errAt(n.off, "schema id %s: namespace %q is not a URN namespace identifier (2-32 letters, digits or inner '-', e.g. \"ietf\")", q(id), nid)
			}
		}
	}
	lower := strings.ToLower(id)
	switch {
	case lower == strings.ToLower(UserURN), lower == strings.ToLower(GroupURN):
		return p.errAt(n.off, "schema id %s is a core schema, which scimless already provides: give the extension its own URN", q(id))
	case lower == strings.ToLower(EnterpriseUserURN):
		return p.errAt(n.off, "schema id %s is the enterprise User extension, which scimless already provides: give the extension its own URN", q(id))
	case strings.HasPrefix(lower, "urn:ietf:params:scim:api:"):
		return p.errAt(n.off, "schema id %s is a SCIM message URN (urn:ietf:params:scim:api:…), not a schema", q(id))
	case strings.HasPrefix(lower, "urn:ietf:params:scim:schemas:core:"):
		return p.errAt(n.off, "schema id %s is in the namespace of the SCIM core schemas (urn:ietf:params:scim:schemas:core:…), reserved by RFC 7643", q(id))
	}
	if first, dup := v.ids[lower]; dup {
		return p.errAt(n.off, "schema id %s is declared twice (first on line %d; ids are case-insensitive)", q(id), p.line(first))
	}
	for _, o := range v.all {
		lo := strings.ToLower(o.id)
		if strings.HasPrefix(lower, lo+":") || strings.HasPrefix(lo, lower+":") {
			where := "the built-in schema"
			if !o.builtin {
				where = fmt.Sprintf("the schema on line %d", p.line(o.off))
			}
			return p.errAt(n.off, "schema id %s and %s %s are prefixes of each other, so attribute paths such as %q would be ambiguous", q(id), where, q(o.id), o.id+":x")
		}
	}
	v.ids[lower] = n.off
	v.all = append(v.all, urnSeen{id: id, off: n.off})
	return nil
}

// attributes validates a list of attributes (parent nil) or sub-attributes.
func (v *validator) attributes(list *jnode, parent *Attribute, schemaLabel string) ([]*Attribute, error) {
	var out []*Attribute
	names := map[string]*Attribute{}
	nameOff := map[*Attribute]int{}
	for i, n := range list.elems {
		v.count++
		if v.count > MaxExtensionAttributes {
			return nil, v.p.errAt(n.off, "%s has more than %d attributes (sub-attributes included)", schemaLabel, MaxExtensionAttributes)
		}
		a, off, err := v.attribute(n, i, parent, schemaLabel)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(a.Name)
		if first, dup := names[key]; dup {
			return nil, v.p.errAt(off, "attribute %s is declared twice (first as %q on line %d; names are case-insensitive)",
				q(attrPath(parent, a.Name)), first.Name, v.p.line(nameOff[first]))
		}
		names[key], nameOff[a] = a, off
		out = append(out, a)
	}
	return out, nil
}

func attrPath(parent *Attribute, name string) string {
	if parent != nil {
		return parent.Name + "." + name
	}
	return name
}

// attribute validates one attribute and returns it with the offset of its
// name.
func (v *validator) attribute(n *jnode, i int, parent *Attribute, schemaLabel string) (*Attribute, int, error) {
	p := v.p
	where := fmt.Sprintf("attributes[%d] of %s", i, schemaLabel)
	if parent != nil {
		where = fmt.Sprintf("subAttributes[%d] of attribute %s", i, q(parent.Name))
	}
	if n.kind != jObject {
		return nil, 0, p.errAt(n.off, "%s must be an object, not %s", where, n.describe())
	}
	nm := n.member("name")
	if nm == nil {
		return nil, 0, p.errAt(n.off, `%s has no "name"`, where)
	}
	if nm.val.kind != jString {
		return nil, 0, p.errAt(nm.val.off, `%s: "name" must be a string, not %s`, where, nm.val.describe())
	}
	if nm.val.str == "" {
		return nil, 0, p.errAt(nm.val.off, `%s: "name" is empty`, where)
	}
	a := &Attribute{Name: nm.val.str}
	nameOff := nm.val.off
	label := "attribute " + q(attrPath(parent, a.Name))
	if err := v.attrName(nm.val, parent, label); err != nil {
		return nil, 0, err
	}
	var typem, subm, canonm, refm, mutm, retm *jmember
	for j := range n.members {
		m := &n.members[j]
		var err error
		switch m.key {
		case "name":
		case "type":
			var s string
			if s, err = v.str(m, label); err == nil {
				err = v.enum(m, label, "type", s, types, typeAliases)
			}
			a.Type, typem = Type(s), m
		case "multiValued":
			a.MultiValued, err = v.bool(m, label)
		case "required":
			a.Required, err = v.bool(m, label)
		case "caseExact":
			a.CaseExact, err = v.bool(m, label)
		case "description":
			a.Description, err = v.str(m, label)
		case "canonicalValues":
			a.CanonicalValues, err = v.strs(m, label, nil, nil)
			canonm = m
		case "referenceTypes":
			a.ReferenceTypes, err = v.strs(m, label, referenceTypes, map[string]string{"users": "User", "groups": "Group", "url": "uri"})
			refm = m
		case "mutability":
			if a.Mutability, err = v.str(m, label); err == nil {
				err = v.enum(m, label, "mutability", a.Mutability, mutabilities, map[string]string{"readonly": ReadOnly, "read-only": ReadOnly, "writeonly": WriteOnly, "write-only": WriteOnly, "readwrite": ReadWrite, "read-write": ReadWrite})
			}
			mutm = m
		case "returned":
			if a.Returned, err = v.str(m, label); err == nil {
				err = v.enum(m, label, "returned", a.Returned, returneds, nil)
			}
			retm = m
		case "uniqueness":
			if a.Uniqueness, err = v.str(m, label); err == nil {
				err = v.enum(m, label, "uniqueness", a.Uniqueness, uniquenesses, map[string]string{"unique": "server\" or \"global"})
			}
		case "subAttributes":
			if m.val.kind != jArray {
				err = p.errAt(m.val.off, `%s: "subAttributes" must be an array, not %s`, label, m.val.describe())
			}
			subm = m
		default:
			err = p.errAt(m.keyOff, "%s: unknown key %s%s", label, q(m.key), didYouMean(m.key, attrKeys, nil))
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if typem == nil {
		return nil, 0, p.errAt(nameOff, `%s has no "type" (one of %s)`, label, strings.Join(types, ", "))
	}
	switch {
	case a.Name == "$ref" && a.Type != Reference:
		return nil, 0, p.errAt(typem.val.off, `%s: "$ref" must be of type "reference", not %q`, label, a.Type)
	case subm != nil && a.Type != Complex:
		return nil, 0, p.errAt(subm.val.off, `%s: "subAttributes" are only for type "complex", not %q`, label, a.Type)
	case a.Type == Complex && parent != nil:
		return nil, 0, p.errAt(typem.val.off, "%s: a sub-attribute cannot be complex (SCIM allows one level of sub-attributes)", label)
	case a.Type == Complex && subm == nil:
		return nil, 0, p.errAt(nameOff, `%s: a complex attribute needs "subAttributes"`, label)
	case a.Type == Complex && len(subm.val.elems) == 0:
		return nil, 0, p.errAt(subm.val.off, `%s: "subAttributes" is empty: a complex attribute needs at least one`, label)
	case canonm != nil && a.Type != String:
		return nil, 0, p.errAt(canonm.val.off, `%s: "canonicalValues" are only for type "string", not %q`, label, a.Type)
	case refm != nil && a.Type != Reference:
		return nil, 0, p.errAt(refm.val.off, `%s: "referenceTypes" are only for type "reference", not %q`, label, a.Type)
	case a.Type == Reference && refm == nil:
		return nil, 0, p.errAt(nameOff, `%s: a reference attribute needs "referenceTypes" (e.g. ["external"] or ["uri"], or ["User"])`, label)
	case a.Type == Reference && len(a.ReferenceTypes) == 0:
		return nil, 0, p.errAt(refm.val.off, `%s: "referenceTypes" is empty`, label)
	case a.Mutability == WriteOnly && retm != nil && a.Returned != ReturnedNever:
		return nil, 0, p.errAt(retm.val.off, `%s: a writeOnly attribute is never returned: "returned" must be "never", not %q`, label, a.Returned)
	case a.Required && a.Mutability == ReadOnly:
		return nil, 0, p.errAt(mutm.val.off, "%s: a readOnly attribute cannot be required: clients cannot set it, and scimless does not", label)
	}
	if a.Mutability == "" {
		a.Mutability = ReadWrite
	}
	if a.Returned == "" {
		a.Returned = ReturnedDefault
		if a.Mutability == WriteOnly {
			a.Returned = ReturnedNever
		}
	}
	if a.Uniqueness == "" {
		a.Uniqueness = UniqueNone
	}
	if len(a.CanonicalValues) == 0 {
		a.CanonicalValues = nil
	}
	if a.Type == Complex {
		subs, err := v.attributes(subm.val, a, schemaLabel)
		if err != nil {
			return nil, 0, err
		}
		a.SubAttributes = subs
	}
	return a, nameOff, nil
}

// attrName validates an attribute name: RFC 7643 ATTRNAME, with "$ref"
// allowed as a sub-attribute.
func (v *validator) attrName(n *jnode, parent *Attribute, label string) error {
	name := n.str
	if name == "$ref" {
		if parent == nil {
			return v.p.errAt(n.off, `%s: "$ref" is allowed only as a sub-attribute of a complex attribute`, label)
		}
		return nil
	}
	if len(name) > maxAttrNameLen {
		return v.p.errAt(n.off, "%s: the name is longer than %d characters", label, maxAttrNameLen)
	}
	if strings.EqualFold(name, "$ref") {
		return v.p.errAt(n.off, `%s: invalid name (did you mean "$ref"?)`, label)
	}
	for k, c := range name {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if k == 0 && !alpha {
			return v.p.errAt(n.off, "%s: a name must start with a letter (RFC 7643 ATTRNAME), not %q", label, c)
		}
		if !alpha && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			hint := ""
			if c == '.' || c == ':' {
				hint = "; declare sub-attributes under \"subAttributes\" of a complex attribute"
			}
			return v.p.errAt(n.off, "%s: character %q is not allowed in a name: letters, digits, '-' and '_' only (RFC 7643 ATTRNAME)%s", label, c, hint)
		}
	}
	return nil
}

func (v *validator) str(m *jmember, label string) (string, error) {
	if m.val.kind != jString {
		return "", v.p.errAt(m.val.off, "%s: %q must be a string, not %s", label, m.key, m.val.describe())
	}
	return m.val.str, nil
}

func (v *validator) bool(m *jmember, label string) (bool, error) {
	if m.val.kind != jBool {
		return false, v.p.errAt(m.val.off, "%s: %q must be true or false, not %s", label, m.key, m.val.describe())
	}
	return m.val.boolean, nil
}

// strs reads an array of non-empty, distinct strings, each one of valid when
// valid is not nil.
func (v *validator) strs(m *jmember, label string, valid []string, aliases map[string]string) ([]string, error) {
	if m.val.kind != jArray {
		return nil, v.p.errAt(m.val.off, "%s: %q must be an array of strings, not %s", label, m.key, m.val.describe())
	}
	out := make([]string, 0, len(m.val.elems))
	seen := map[string]bool{}
	for _, e := range m.val.elems {
		if e.kind != jString {
			return nil, v.p.errAt(e.off, "%s: %q must hold strings, not %s", label, m.key, e.describe())
		}
		if e.str == "" {
			return nil, v.p.errAt(e.off, "%s: %q holds an empty string", label, m.key)
		}
		if valid != nil {
			if err := v.enum(&jmember{key: m.key, val: e}, label, m.key, e.str, valid, aliases); err != nil {
				return nil, err
			}
		}
		if seen[e.str] {
			return nil, v.p.errAt(e.off, "%s: %q lists %s twice", label, m.key, q(e.str))
		}
		seen[e.str] = true
		out = append(out, e.str)
	}
	return out, nil
}

// enum checks that s is one of valid (case-sensitive, as RFC 7643 spells
// them), suggesting the value meant.
func (v *validator) enum(m *jmember, label, what, s string, valid []string, aliases map[string]string) error {
	for _, x := range valid {
		if s == x {
			return nil
		}
	}
	return v.p.errAt(m.val.off, "%s: %s %s is not one of %s%s", label, what, q(s), strings.Join(valid, ", "), didYouMean(s, valid, aliases))
}

// didYouMean suggests the valid value s was probably meant to be, or "".
func didYouMean(s string, valid []string, aliases map[string]string) string {
	for _, x := range valid {
		if strings.EqualFold(s, x) {
			return fmt.Sprintf(" (did you mean %q? case matters)", x)
		}
	}
	if a, ok := aliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return ` (did you mean "` + a + `"?)`
	}
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, x := range valid {
		if d := editDistance(strings.ToLower(s), strings.ToLower(x)); d < bestD && d <= max(1, len(x)/3) {
			best, bestD = x, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// q quotes a value from the file for a message, shortened if long.
func q(s string) string { return fmt.Sprintf("%q", clip(s)) }

func clip(s string) string {
	const limit = 80
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit]) + "…"
}
