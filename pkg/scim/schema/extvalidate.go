package schema

// The validator of an extension file's JSON tree: RFC 7643 §7 schemas and
// attributes, with the characteristics' defaults, checked strictly with
// suggestions for near misses.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

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
		if err := v.schemaMember(m, &es, label); err != nil {
			return es, err
		}
		switch m.key {
		case "resourceType":
			rtm = m
		case "name":
			namem = m
		case "attributes":
			attrm = m
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

// schemaMember validates one member of a schema object into es.
func (v *validator) schemaMember(m *jmember, es *ExtensionSchema, label string) error {
	p := v.p
	switch m.key {
	case "id":
	case "name":
		s, err := v.str(m, label)
		if err != nil {
			return err
		}
		es.Name = s
	case "description":
		s, err := v.str(m, label)
		if err != nil {
			return err
		}
		es.Description = s
	case "resourceType":
		s, err := v.str(m, label)
		if err != nil {
			return err
		}
		if err := v.enum(m, label, "resourceType", s, resourceTypeIDs, resourceTypeAliases); err != nil {
			return err
		}
		es.ResourceType = s
	case "required":
		b, err := v.bool(m, label)
		if err != nil {
			return err
		}
		es.Required = b
	case "attributes":
		if m.val.kind != jArray {
			return p.errAt(m.val.off, `%s: "attributes" must be an array, not %s`, label, m.val.describe())
		}
	case "schemas": // as GET /Schemas shows it; ignored
		if m.val.kind != jArray {
			return p.errAt(m.val.off, `%s: "schemas" must be [%q], not %s`, label, SchemaURN, m.val.describe())
		}
		for _, e := range m.val.elems {
			if e.kind != jString || e.str != SchemaURN {
				return p.errAt(e.off, `%s: "schemas" may only list %q, not %s`, label, SchemaURN, e.describe())
			}
		}
	default:
		return p.errAt(m.keyOff, "%s: unknown key %s%s", label, q(m.key), didYouMean(m.key, schemaKeys, nil))
	}
	return nil
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
	var ms attrMembers
	for j := range n.members {
		m := &n.members[j]
		if err := v.attrMember(m, a, label); err != nil {
			return nil, 0, err
		}
		switch m.key {
		case "type":
			ms.typ = m
		case "subAttributes":
			ms.sub = m
		case "canonicalValues":
			ms.canon = m
		case "referenceTypes":
			ms.ref = m
		case "mutability":
			ms.mut = m
		case "returned":
			ms.ret = m
		}
	}
	if err := v.checkAttr(a, ms, nameOff, parent, label); err != nil {
		return nil, 0, err
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
		subs, err := v.attributes(ms.sub.val, a, schemaLabel)
		if err != nil {
			return nil, 0, err
		}
		a.SubAttributes = subs
	}
	return a, nameOff, nil
}

// attrMembers are the members of an attribute object that its checks
// point at.
type attrMembers struct{ typ, sub, canon, ref, mut, ret *jmember }

// attrMember validates one member of an attribute object into a.
func (v *validator) attrMember(m *jmember, a *Attribute, label string) error {
	p := v.p
	var err error
	switch m.key {
	case "name":
	case "type":
		var s string
		if s, err = v.str(m, label); err == nil {
			err = v.enum(m, label, "type", s, types, typeAliases)
		}
		a.Type = Type(s)
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
	case "referenceTypes":
		a.ReferenceTypes, err = v.strs(m, label, referenceTypes, map[string]string{"users": "User", "groups": "Group", "url": "uri"})
	case "mutability":
		if a.Mutability, err = v.str(m, label); err == nil {
			err = v.enum(m, label, "mutability", a.Mutability, mutabilities, map[string]string{"readonly": ReadOnly, "read-only": ReadOnly, "writeonly": WriteOnly, "write-only": WriteOnly, "readwrite": ReadWrite, "read-write": ReadWrite})
		}
	case "returned":
		if a.Returned, err = v.str(m, label); err == nil {
			err = v.enum(m, label, "returned", a.Returned, returneds, nil)
		}
	case "uniqueness":
		if a.Uniqueness, err = v.str(m, label); err == nil {
			err = v.enum(m, label, "uniqueness", a.Uniqueness, uniquenesses, map[string]string{"unique": "server\" or \"global"})
		}
	case "subAttributes":
		if m.val.kind != jArray {
			err = p.errAt(m.val.off, `%s: "subAttributes" must be an array, not %s`, label, m.val.describe())
		}
	default:
		err = p.errAt(m.keyOff, "%s: unknown key %s%s", label, q(m.key), didYouMean(m.key, attrKeys, nil))
	}
	return err
}

// checkAttr checks that an attribute's characteristics agree with each
// other and with RFC 7643 (one level of sub-attributes, canonicalValues
// only for strings, …).
func (v *validator) checkAttr(a *Attribute, ms attrMembers, nameOff int, parent *Attribute, label string) error {
	p := v.p
	if ms.typ == nil {
		return p.errAt(nameOff, `%s has no "type" (one of %s)`, label, strings.Join(types, ", "))
	}
	switch {
	case a.Name == "$ref" && a.Type != Reference:
		return p.errAt(ms.typ.val.off, `%s: "$ref" must be of type "reference", not %q`, label, a.Type)
	case ms.sub != nil && a.Type != Complex:
		return p.errAt(ms.sub.val.off, `%s: "subAttributes" are only for type "complex", not %q`, label, a.Type)
	case a.Type == Complex && parent != nil:
		return p.errAt(ms.typ.val.off, "%s: a sub-attribute cannot be complex (SCIM allows one level of sub-attributes)", label)
	case a.Type == Complex && ms.sub == nil:
		return p.errAt(nameOff, `%s: a complex attribute needs "subAttributes"`, label)
	case a.Type == Complex && len(ms.sub.val.elems) == 0:
		return p.errAt(ms.sub.val.off, `%s: "subAttributes" is empty: a complex attribute needs at least one`, label)
	case ms.canon != nil && a.Type != String:
		return p.errAt(ms.canon.val.off, `%s: "canonicalValues" are only for type "string", not %q`, label, a.Type)
	case ms.ref != nil && a.Type != Reference:
		return p.errAt(ms.ref.val.off, `%s: "referenceTypes" are only for type "reference", not %q`, label, a.Type)
	case a.Type == Reference && ms.ref == nil:
		return p.errAt(nameOff, `%s: a reference attribute needs "referenceTypes" (e.g. ["external"] or ["uri"], or ["User"])`, label)
	case a.Type == Reference && len(a.ReferenceTypes) == 0:
		return p.errAt(ms.ref.val.off, `%s: "referenceTypes" is empty`, label)
	case a.Mutability == WriteOnly && ms.ret != nil && a.Returned != ReturnedNever:
		return p.errAt(ms.ret.val.off, `%s: a writeOnly attribute is never returned: "returned" must be "never", not %q`, label, a.Returned)
	case a.Required && a.Mutability == ReadOnly:
		return p.errAt(ms.mut.val.off, "%s: a readOnly attribute cannot be required: clients cannot set it, and scimless does not", label)
	}
	return nil
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
