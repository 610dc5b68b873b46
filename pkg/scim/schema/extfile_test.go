package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// doc builds a one-schema file whose k-th attribute (0-based) starts on line
// 5+k (an attribute holding newlines takes more lines):
//
//	1 {"schemas": [{
//	2   "id": "urn:…:acme:2.0:User",
//	3   "name": "AcmeUser", "resourceType": "User",
//	4   "attributes": [
//	5     attribute 0,
//	6     attribute 1 …
func doc(attrs ...string) string {
	return "{\"schemas\": [{\n" +
		"  \"id\": \"" + acmeURN + "\",\n" +
		"  \"name\": \"AcmeUser\", \"resourceType\": \"User\",\n" +
		"  \"attributes\": [\n" +
		"    " + strings.Join(attrs, ",\n    ") + "\n" +
		"  ]\n}]}\n"
}

// schemaDoc builds a file of schemas given as lines: line k+2 holds lines[k]
// (line 1 is `{"schemas": [`).
func schemaDoc(lines ...string) string {
	return "{\"schemas\": [\n" + strings.Join(lines, "\n") + "\n]}\n"
}

// schemaLine is a valid one-line schema with the given id.
func schemaLine(id string) string {
	return `{"id": "` + id + `", "name": "X", "resourceType": "User", "attributes": [{"name": "a", "type": "string"}]}`
}

const okAttr = `{"name": "ok", "type": "string"}`

func TestParseExtensionFileErrors(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		var out []string
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	tests := []struct {
		name string
		file string
		line int
		want []string // substrings of the reason
	}{
		// JSON syntax, with the line of the offending byte.
		{"empty", "", 1, []string{"empty"}},
		{"blank", "\n\n  \n", 1, []string{"empty"}},
		{"not JSON", "schemas:\n  - id: x\n", 1, []string{"invalid JSON", "invalid character 's'"}},
		{"trailing comma", doc(okAttr + ",\n  "), 7, []string{"invalid JSON", "no comma before ']'"}},
		{"missing comma", doc(okAttr + "\n" + okAttr), 6, []string{"invalid JSON", "missing comma"}},
		{"missing colon", "{\"schemas\"\n [] }", 2, []string{"invalid JSON", "missing ':'"}},
		{"truncated", doc(okAttr)[:60], 2, []string{"the file ends before the JSON does"}},
		{"truncated after newline", "{\"schemas\": [\n  {\"id\": \"x\"\n\n", 2, []string{"ends before"}},
		{"comment", "{\n  // extensions\n  \"schemas\": []\n}", 2, []string{"no comments"}},
		{"single quotes", "{\n'schemas': []}", 2, []string{"double quotes"}},
		{"newline in string", doc(`{"name": "ok` + "\n" + `", "type": "string"}`), 5, []string{"in string literal"}},
		{"bad literal", doc(`{"name": "a", "type": "string", "required": tru}`), 5, []string{"invalid JSON", "literal true"}},
		{"after top-level value", doc(okAttr) + "\n{}", 9, []string{"after top-level value"}},
		{"invalid UTF-8", doc(okAttr, `{"name": "b", "type": "string", "description": "caf`+"\xe9"+`"}`), 6, []string{"invalid UTF-8", "0xe9"}},
		{"too deep", doc(`{"name": "a", "type": "string", "description":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), 5, []string{"nested more than 32"}},
		{"duplicate key", doc(`{"name": "a",` + "\n" + `"type": "string",` + "\n" + `"type": "integer"}`), 7, []string{`duplicate key "type"`, "first on line 6"}},
		{"too large", `{"schemas": [` + strings.Repeat(" ", MaxExtensionFileSize) + `]}`, 1, []string{"limit is 262144"}},

		// The top level.
		{"top-level string", "\n\"schemas\"", 2, []string{`must hold {"schemas": [ ... ]}`, "not the string"}},
		{"top-level unknown key", "{\"schemas\": [],\n \"schema\": []}", 2, []string{`unknown key "schema"`}},
		{"top-level typo", "{\"Schemas\": []}", 1, []string{`unknown key "Schemas"`, `did you mean "schemas"`}},
		{"no schemas key", "{}", 1, []string{`no "schemas"`}},
		{"single schema", "\n" + schemaLine(acmeURN), 2, []string{"single schema", `wrap it as {"schemas"`}},
		{"schemas not array", "{\"schemas\":\n {}}", 2, []string{`"schemas" must be an array`}},
		{"no schemas", "{\"schemas\": [\n]}", 1, []string{"no schemas"}},
		{"empty bare array", "\n[]", 2, []string{"no schemas"}},
		{"too many schemas", "[\n" + strings.Join(many(21, func(i int) string { return schemaLine(fmt.Sprintf("urn:acme:s%d", i)) }), ",\n") + "\n]", 22, []string{"more than 20 schemas"}},

		// A schema.
		{"schema not object", schemaDoc(`"urn:acme:User"`), 2, []string{"schemas[0] must be an object"}},
		{"no id", schemaDoc(`{"name": "X",`, ` "resourceType": "User", "attributes": [`+okAttr+`]}`), 2, []string{`schemas[0] has no "id"`}},
		{"id not string", schemaDoc(`{"id":`, ` 42}`), 3, []string{`"id" must be a string`, "the number 42"}},
		{"id not URN", schemaDoc(schemaLine("acme:2.0:User")), 2, []string{`schema id "acme:2.0:User" is not a URN`}},
		{"id upper-case URN", schemaDoc(schemaLine("URN:acme:User")), 2, []string{`"urn:" prefix in lower case`}},
		{"id too short", schemaDoc(schemaLine("urn:acme")), 2, []string{"is not a URN"}},
		{"id underscore", schemaDoc(schemaLine("urn:acme:my_ext:User")), 2, []string{`character '_' is not allowed`, "filter and PATCH paths"}},
		{"id space", schemaDoc(schemaLine("urn:acme:my ext")), 2, []string{`character ' ' is not allowed`}},
		{"id empty segment", schemaDoc(schemaLine("urn:acme::User")), 2, []string{"empty segment"}},
		{"id trailing colon", schemaDoc(schemaLine("urn:acme:User:")), 2, []string{"empty segment"}},
		{"id bad NID", schemaDoc(schemaLine("urn:a:User")), 2, []string{`namespace "a"`}},
		{"id NID hyphen", schemaDoc(schemaLine("urn:-acme:User")), 2, []string{`namespace "-acme"`}},
		{"id too long", schemaDoc(schemaLine("urn:acme:" + strings.Repeat("x", 300))), 2, []string{"longer than 256"}},
		{"id core User", schemaDoc(schemaLine(UserURN)), 2, []string{"core schema", "already provides"}},
		{"id core Group other case", schemaDoc(schemaLine(strings.ToLower(GroupURN))), 2, []string{"core schema"}},
		{"id enterprise", schemaDoc(schemaLine(EnterpriseUserURN)), 2, []string{"enterprise User extension"}},
		{"id message URN", schemaDoc(schemaLine(PatchOpURN)), 2, []string{"SCIM message URN"}},
		{"id core namespace", schemaDoc(schemaLine("urn:ietf:params:scim:schemas:core:2.0:Device")), 2, []string{"reserved by RFC 7643"}},
		{"id duplicate", schemaDoc(schemaLine(acmeURN)+",", schemaLine("urn:"+strings.ToUpper(acmeURN[4:]))),
			3, []string{"declared twice", "first on line 2"}},
		{"id prefix of builtin", schemaDoc(schemaLine(EnterpriseUserURN + ":Badge")), 2, []string{"prefixes of each other", "built-in schema"}},
		{"id prefix in file", schemaDoc(schemaLine("urn:acme:User:Extra")+",", schemaLine("urn:acme:User")), 3, []string{"prefixes of each other", "line 2"}},
		{"no resourceType", schemaDoc(`{"id": "urn:acme:User", "name": "X",`, ` "attributes": [`+okAttr+`]}`), 2, []string{`schema "urn:acme:User" has no "resourceType"`}},
		{"resourceType case", schemaDoc(`{"id": "urn:acme:User", "name": "X",`, ` "resourceType": "user", "attributes": [`+okAttr+`]}`), 3,
			[]string{`schema "urn:acme:User": resourceType "user" is not one of User, Group`, `did you mean "User"`}},
		{"resourceType plural", schemaDoc(`{"id": "urn:acme:User", "name": "X",`, ` "resourceType": "Users", "attributes": [`+okAttr+`]}`), 3, []string{`did you mean "User"`}},
		{"resourceType not string", schemaDoc(`{"id": "urn:acme:User", "name": "X",`, ` "resourceType": ["User"]}`), 3, []string{`"resourceType" must be a string, not an array`}},
		{"no name", schemaDoc(`{"id": "urn:acme:User",`, ` "resourceType": "User", "attributes": [`+okAttr+`]}`), 2, []string{`has no "name"`}},
		{"empty name", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User",`, ` "name": " ", "attributes": [`+okAttr+`]}`), 3, []string{`"name" is empty`}},
		{"no attributes", schemaDoc(`{"id": "urn:acme:User",`, ` "resourceType": "User", "name": "X"}`), 2, []string{`has no "attributes"`}},
		{"empty attributes", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User", "name": "X",`, ` "attributes": []}`), 3, []string{`"attributes" is empty`}},
		{"attributes not array", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User", "name": "X",`, ` "attributes": {}}`), 3, []string{`"attributes" must be an array, not an object`}},
		{"schema unknown key", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User", "name": "X",`, ` "attribute": []}`), 3,
			[]string{`schema "urn:acme:User": unknown key "attribute"`, `did you mean "attributes"`}},
		{"schema required not bool", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User", "name": "X",`, ` "required": "true"}`), 3,
			[]string{`"required" must be true or false, not the string "true"`}},
		{"schema meta-schemas wrong", schemaDoc(`{"id": "urn:acme:User", "resourceType": "User", "name": "X",`, ` "schemas": ["urn:acme:Other"]}`), 3,
			[]string{`"schemas" may only list`}},
		{"too many attributes", doc(many(MaxExtensionAttributes+1, func(i int) string { return fmt.Sprintf(`{"name": "a%d", "type": "string"}`, i) })...), 5 + MaxExtensionAttributes,
			[]string{"more than 200 attributes"}},
		{"too many attributes with subs", doc(`{"name": "c", "type": "complex", "subAttributes": [` + strings.Join(many(MaxExtensionAttributes, func(i int) string { return fmt.Sprintf(`{"name": "a%d", "type": "string"}`, i) }), ",") + `]}`), 5,
			[]string{"more than 200 attributes (sub-attributes included)"}},

		// An attribute.
		{"attr not object", doc(okAttr, `"badgeNumber"`), 6, []string{"attributes[1] of schema", "must be an object"}},
		{"attr no name", doc(okAttr, `{"type": "string"}`), 6, []string{`attributes[1] of schema "` + acmeURN + `" has no "name"`}},
		{"attr name not string", doc(`{"name":` + "\n" + ` 7, "type": "string"}`), 6, []string{`"name" must be a string, not the number 7`}},
		{"attr name empty", doc(`{"name": "", "type": "string"}`), 5, []string{`attributes[0] of schema "` + acmeURN + `": "name" is empty`}},
		{"attr name digit", doc(okAttr, `{"name": "2fa", "type": "string"}`), 6, []string{`attribute "2fa"`, "must start with a letter"}},
		{"attr name dot", doc(`{"name": "cost.center", "type": "string"}`), 5, []string{`attribute "cost.center"`, `character '.' is not allowed`, "subAttributes"}},
		{"attr name space", doc(`{"name": "cost center", "type": "string"}`), 5, []string{`attribute "cost center"`, `character ' '`}},
		{"attr name dollar", doc(`{"name": "a$b", "type": "string"}`), 5, []string{`attribute "a$b"`, `character '$'`}},
		{"attr name too long", doc(`{"name": "` + strings.Repeat("a", 129) + `", "type": "string"}`), 5, []string{"longer than 128"}},
		{"attr $ref top level", doc(`{"name": "$ref", "type": "reference", "referenceTypes": ["uri"]}`), 5, []string{`attribute "$ref"`, "only as a sub-attribute"}},
		{"attr $REF", doc(`{"name": "c", "type": "complex", "subAttributes": [` + "\n" + `{"name": "$Ref", "type": "reference", "referenceTypes": ["uri"]}]}`), 6,
			[]string{`attribute "c.$Ref"`, `did you mean "$ref"`}},
		{"attr $ref not reference", doc(`{"name": "c", "type": "complex", "subAttributes": [{"name": "$ref",` + "\n" + ` "type": "string"}]}`), 6,
			[]string{`attribute "c.$ref"`, `must be of type "reference"`}},
		{"attr duplicate", doc(`{"name": "badgeNumber", "type": "integer"}`, okAttr, `{"name": "BadgeNumber", "type": "string"}`), 7,
			[]string{`attribute "BadgeNumber" is declared twice`, `first as "badgeNumber" on line 5`, "case-insensitive"}},
		{"sub duplicate", doc(`{"name": "licenses", "type": "complex", "subAttributes": [` + "\n" + `{"name": "seat", "type": "integer"},` + "\n" + `{"name": "SEAT", "type": "integer"}]}`), 7,
			[]string{`attribute "licenses.SEAT" is declared twice`, "line 6"}},
		{"attr no type", doc(okAttr, `{"name": "badgeNumber",`+"\n"+` "multiValued": false}`), 6, []string{`attribute "badgeNumber" has no "type"`, "string, boolean, decimal"}},
		{"type String", doc(`{"name": "costCenterCode",` + "\n" + ` "type": "String"}`), 6,
			[]string{`attribute "costCenterCode": type "String" is not one of string, boolean`, `did you mean "string"? case matters`}},
		{"type int", doc(okAttr, `{"name": "badgeNumber", "type": "int"}`), 6, []string{`attribute "badgeNumber": type "int"`, `did you mean "integer"`}},
		{"type bool", doc(`{"name": "isContractor", "type": "bool"}`), 5, []string{`attribute "isContractor"`, `did you mean "boolean"`}},
		{"type datetime", doc(`{"name": "hireDate", "type": "datetime"}`), 5, []string{`attribute "hireDate"`, `did you mean "dateTime"`}},
		{"type date", doc(`{"name": "hireDate", "type": "date"}`), 5, []string{`did you mean "dateTime"`}},
		{"type number", doc(`{"name": "n", "type": "number"}`), 5, []string{`did you mean "integer" or "decimal"`}},
		{"type typo", doc(`{"name": "n", "type": "strin"}`), 5, []string{`did you mean "string"`}},
		{"type unknown", doc(`{"name": "n", "type": "array"}`), 5, []string{`attribute "n": type "array" is not one of`}},
		{"type not string", doc(`{"name": "n", "type": 1}`), 5, []string{`attribute "n": "type" must be a string, not the number 1`}},
		{"subAttributes on string", doc(`{"name": "n", "type": "string",` + "\n" + ` "subAttributes": [` + okAttr + `]}`), 6,
			[]string{`attribute "n": "subAttributes" are only for type "complex", not "string"`}},
		{"subAttributes not array", doc(`{"name": "n", "type": "complex",` + "\n" + ` "subAttributes": {}}`), 6, []string{`attribute "n": "subAttributes" must be an array`}},
		{"complex without subAttributes", doc(okAttr, `{"name": "licenses",`+"\n"+` "type": "complex"}`), 6, []string{`attribute "licenses": a complex attribute needs "subAttributes"`}},
		{"complex empty subAttributes", doc(`{"name": "licenses", "type": "complex",` + "\n" + ` "subAttributes": []}`), 6, []string{`attribute "licenses": "subAttributes" is empty`}},
		{"complex in complex", doc(`{"name": "licenses", "type": "complex", "subAttributes": [` + "\n" +
			`{"name": "pool", "type":` + "\n" + ` "complex", "subAttributes": [` + okAttr + `]}]}`), 7,
			[]string{`attribute "licenses.pool": a sub-attribute cannot be complex`}},
		{"sub-attribute error names path", doc(`{"name": "licenses", "type": "complex", "subAttributes": [` + "\n" +
			okAttr + ",\n" + `{"name": "seat", "type": "int"}]}`), 7, []string{`attribute "licenses.seat": type "int"`}},
		{"sub-attribute not object", doc(`{"name": "licenses", "type": "complex", "subAttributes": [` + "\n" + `"seat"]}`), 6,
			[]string{`subAttributes[0] of attribute "licenses" must be an object`}},
		{"sub-attribute no name", doc(`{"name": "licenses", "type": "complex", "subAttributes": [` + "\n" + `{"type": "string"}]}`), 6,
			[]string{`subAttributes[0] of attribute "licenses" has no "name"`}},
		{"unknown key typo", doc(`{"name": "badgeNumber", "type": "integer",` + "\n" + ` "mutabilty": "readWrite"}`), 6,
			[]string{`attribute "badgeNumber": unknown key "mutabilty"`, `did you mean "mutability"`}},
		{"unknown key case", doc(`{"name": "badgeNumber", "type": "integer",` + "\n" + ` "MultiValued": true}`), 6,
			[]string{`attribute "badgeNumber": unknown key "MultiValued"`, `did you mean "multiValued"? case matters`}},
		{"unknown key", doc(`{"name": "badgeNumber", "type": "integer",` + "\n" + ` "format": "int64"}`), 6, []string{`attribute "badgeNumber": unknown key "format"`}},
		{"unknown key in sub-attribute", doc(`{"name": "licenses", "type": "complex", "subAttributes": [{"name": "seat", "type": "integer",` + "\n" + ` "requried": true}]}`), 6,
			[]string{`attribute "licenses.seat": unknown key "requried"`, `did you mean "required"`}},
		{"multiValued not bool", doc(`{"name": "tags", "type": "string",` + "\n" + ` "multiValued": "yes"}`), 6, []string{`attribute "tags": "multiValued" must be true or false, not the string "yes"`}},
		{"required not bool", doc(`{"name": "tags", "type": "string", "required": 1}`), 5, []string{`attribute "tags": "required" must be true or false`}},
		{"caseExact null", doc(`{"name": "tags", "type": "string", "caseExact": null}`), 5, []string{`attribute "tags": "caseExact" must be true or false, not null`}},
		{"description not string", doc(`{"name": "tags", "type": "string", "description": false}`), 5, []string{`attribute "tags": "description" must be a string, not false`}},
		{"mutability", doc(`{"name": "badgeNumber", "type": "integer",` + "\n" + ` "mutability": "readonly"}`), 6,
			[]string{`attribute "badgeNumber": mutability "readonly" is not one of readOnly, readWrite, immutable, writeOnly`, `did you mean "readOnly"`}},
		{"mutability dashed", doc(`{"name": "b", "type": "integer", "mutability": "read-write"}`), 5, []string{`did you mean "readWrite"`}},
		{"returned", doc(`{"name": "b", "type": "integer",` + "\n" + ` "returned": "sometimes"}`), 6, []string{`attribute "b": returned "sometimes" is not one of always, never, default, request`}},
		{"returned case", doc(`{"name": "b", "type": "integer", "returned": "Always"}`), 5, []string{`did you mean "always"`}},
		{"uniqueness", doc(`{"name": "b", "type": "integer",` + "\n" + ` "uniqueness": "unique"}`), 6,
			[]string{`attribute "b": uniqueness "unique" is not one of none, server, global`, `did you mean "server" or "global"`}},
		{"canonicalValues on integer", doc(`{"name": "b", "type": "integer",` + "\n" + ` "canonicalValues": ["1"]}`), 6,
			[]string{`attribute "b": "canonicalValues" are only for type "string", not "integer"`}},
		{"canonicalValues not array", doc(`{"name": "b", "type": "string", "canonicalValues": "a,b"}`), 5, []string{`attribute "b": "canonicalValues" must be an array of strings`}},
		{"canonicalValues number", doc(`{"name": "b", "type": "string", "canonicalValues": ["a",` + "\n" + ` 2]}`), 6, []string{`attribute "b": "canonicalValues" must hold strings, not the number 2`}},
		{"canonicalValues empty string", doc(`{"name": "b", "type": "string", "canonicalValues": [""]}`), 5, []string{`attribute "b": "canonicalValues" holds an empty string`}},
		{"canonicalValues twice", doc(`{"name": "b", "type": "string", "canonicalValues": ["a",` + "\n" + ` "a"]}`), 6, []string{`attribute "b": "canonicalValues" lists "a" twice`}},
		{"referenceTypes on string", doc(`{"name": "b", "type": "string",` + "\n" + ` "referenceTypes": ["uri"]}`), 6,
			[]string{`attribute "b": "referenceTypes" are only for type "reference", not "string"`}},
		{"reference without referenceTypes", doc(okAttr, `{"name": "profile", "type": "reference"}`), 6, []string{`attribute "profile": a reference attribute needs "referenceTypes"`}},
		{"reference empty referenceTypes", doc(`{"name": "profile", "type": "reference",` + "\n" + ` "referenceTypes": []}`), 6, []string{`attribute "profile": "referenceTypes" is empty`}},
		{"referenceTypes value", doc(`{"name": "profile", "type": "reference", "referenceTypes": ["external",` + "\n" + ` "user"]}`), 6,
			[]string{`attribute "profile": referenceTypes "user" is not one of User, Group, external, uri`, `did you mean "User"`}},
		{"writeOnly returned", doc(`{"name": "pin", "type": "string", "mutability": "writeOnly",` + "\n" + ` "returned": "default"}`), 6,
			[]string{`attribute "pin": a writeOnly attribute is never returned`}},
		{"readOnly required", doc(`{"name": "score", "type": "integer", "required": true,` + "\n" + ` "mutability": "readOnly"}`), 6,
			[]string{`attribute "score": a readOnly attribute cannot be required`}},
		{"error in second schema", schemaDoc(schemaLine("urn:acme:A")+",", `{"id": "urn:acme:B", "name": "B", "resourceType": "Group", "attributes": [`,
			`{"name": "x", "type": "integr"}]}`), 4, []string{`attribute "x": type "integr"`, `did you mean "integer"`}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		if seen[tc.name] {
			t.Fatalf("duplicate test name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			list, err := ParseExtensionFile([]byte(tc.file))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, %v; want a *FileError\nfile:\n%s", list, err, tc.file)
			}
			if fe.Line != tc.line {
				t.Errorf("line %d, want %d: %s\nfile:\n%s", fe.Line, tc.line, fe.Reason, numbered(tc.file))
			}
			for _, w := range tc.want {
				if !strings.Contains(fe.Reason, w) {
					t.Errorf("reason %q does not contain %q", fe.Reason, w)
				}
			}
			if got, want := err.Error(), fmt.Sprintf("line %d: %s", fe.Line, fe.Reason); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func numbered(s string) string {
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	return b.String()
}

func TestParseExtensionFileExamples(t *testing.T) {
	files, err := filepath.Glob("../../../examples/schemas/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		list, err := ParseExtensionFile(data)
		if err != nil {
			t.Fatalf("%s:%v", f, err)
		}
		roundTrip(t, list)
	}
	data, _ := os.ReadFile("../../../examples/schemas/acme.json")
	list, _ := ParseExtensionFile(data)
	if len(list) != 1 || list[0].ID != acmeURN || list[0].ResourceType != "User" || list[0].Required || len(list[0].Attributes) != 5 {
		t.Fatalf("acme: %+v", list)
	}
	lic := list[0].Attr("licenses")
	if lic == nil || lic.Type != Complex || !lic.MultiValued || lic.Sub("seat") == nil || lic.Sub("seat").Type != Integer || lic.Sub("name").CanonicalValues == nil {
		t.Fatalf("licenses: %+v", lic)
	}
	want := map[string]Type{"costCenterCode": String, "badgeNumber": Integer, "hireDate": DateTime, "isContractor": Boolean}
	for n, ty := range want {
		if a := list[0].Attr(n); a == nil || a.Type != ty {
			t.Errorf("%s: %+v", n, a)
		}
	}
	data, _ = os.ReadFile("../../../examples/schemas/ian.json")
	list, _ = ParseExtensionFile(data)
	if len(list) != 1 || list[0].ID != "urn:ietf:params:scim:schemas:ian:2.0:User" {
		t.Fatalf("ian: %+v", list)
	}
}

func roundTrip(t testing.TB, list []ExtensionSchema) {
	t.Helper()
	canon, err := MarshalExtensionFile(list)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseExtensionFile(canon)
	if err != nil {
		t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
	}
	if !reflect.DeepEqual(list, again) {
		t.Fatalf("round trip changed the schemas:\n%s", canon)
	}
	canon2, _ := MarshalExtensionFile(again)
	if !bytes.Equal(canon, canon2) {
		t.Fatalf("canonical form not stable:\n%s\n%s", canon, canon2)
	}
}

func TestParseExtensionFileDefaults(t *testing.T) {
	file := "\xef\xbb\xbf[\r\n" + // a byte order mark, a bare array and CRLF line ends
		`{"id": "urn:acme:User", "name": "A", "resourceType": "User", "required": true,` + "\r\n" +
		`"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "attributes": [` + "\r\n" +
		`{"name": "plain", "type": "string"},` + "\r\n" +
		`{"name": "pin", "type": "string", "mutability": "writeOnly"},` + "\r\n" +
		`{"name": "site", "type": "reference", "referenceTypes": ["external", "uri"], "caseExact": true, "returned": "request", "uniqueness": "global", "mutability": "immutable", "multiValued": true, "required": true, "description": "d"},` + "\r\n" +
		`{"name": "mgr", "type": "complex", "subAttributes": [{"name": "value", "type": "string"}, {"name": "$ref", "type": "reference", "referenceTypes": ["User"]}]},` + "\r\n" +
		`{"name": "kind", "type": "string", "canonicalValues": []}]},` + "\r\n" +
		`{"id": "urn:acme:Group", "name": "G", "resourceType": "Group", "description": "group ext", "attributes": [{"name": "code", "type": "decimal"}]}` + "\r\n" +
		`]`
	list, err := ParseExtensionFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, list)
	if len(list) != 2 || !list[0].Required || list[1].Required || list[1].ResourceType != "Group" || list[1].Description != "group ext" {
		t.Fatalf("%+v", list)
	}
	u := list[0]
	check := func(a *Attribute, want Attribute) {
		t.Helper()
		if a == nil {
			t.Fatalf("missing %s", want.Name)
		}
		got := *a
		got.SubAttributes = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", want.Name, got, want)
		}
	}
	check(u.Attr("plain"), Attribute{Name: "plain", Type: String, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone})
	check(u.Attr("pin"), Attribute{Name: "pin", Type: String, Mutability: WriteOnly, Returned: ReturnedNever, Uniqueness: UniqueNone})
	check(u.Attr("site"), Attribute{Name: "site", Type: Reference, ReferenceTypes: []string{"external", "uri"}, CaseExact: true, Returned: ReturnedRequest,
		Uniqueness: UniqueGlobal, Mutability: Immutable, MultiValued: true, Required: true, Description: "d"})
	check(u.Attr("kind"), Attribute{Name: "kind", Type: String, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone})
	check(u.Attr("mgr").Sub("$ref"), Attribute{Name: "$ref", Type: Reference, ReferenceTypes: []string{"User"}, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone})

	// Extensions: per resource type, deep copies.
	users, groups := Extensions(list, "User"), Extensions(list, "Group")
	if len(users) != 1 || users[0].Schema.ID != "urn:acme:User" || !users[0].Required || len(groups) != 1 || groups[0].Schema.ID != "urn:acme:Group" {
		t.Fatalf("Extensions: %+v %+v", users, groups)
	}
	if len(Extensions(list, "user")) != 0 || len(Extensions(nil, "User")) != 0 {
		t.Fatal("Extensions matches resource types exactly")
	}
	users[0].Schema.Attr("mgr").Sub("value").Name = "changed"
	users[0].Schema.Attr("site").ReferenceTypes[0] = "changed"
	if list[0].Attr("mgr").Sub("value").Name != "value" || list[0].Attr("site").ReferenceTypes[0] != "external" {
		t.Fatal("Extensions shares memory with the parsed list")
	}

	// A resource type built from them resolves extension paths.
	rt := UserResourceType(Extensions(list, "User")...)
	ref, err := rt.LookupPath("urn:acme:User:mgr.$ref")
	if err != nil || !ref.Extension || ref.Sub.Type != Reference {
		t.Fatalf("LookupPath: %+v %v", ref, err)
	}
}

func TestParseExtensionFileCanonicalTooLarge(t *testing.T) {
	// Small input whose canonical form (every default spelled out) is over the limit.
	var schemas []string
	for s := range MaxExtensionSchemas {
		var attrs []string
		for a := range MaxExtensionAttributes {
			attrs = append(attrs, fmt.Sprintf(`{"name":"a%d","type":"string"}`, a))
		}
		schemas = append(schemas, fmt.Sprintf(`{"id":"urn:acme:s%d","name":"S","resourceType":"User","attributes":[%s]}`, s, strings.Join(attrs, ",")))
	}
	file := "[" + strings.Join(schemas, ",") + "]"
	if len(file) > MaxExtensionFileSize {
		t.Fatalf("test file too large: %d", len(file))
	}
	_, err := ParseExtensionFile([]byte(file))
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 1 || !strings.Contains(fe.Reason, "with every default spelled out") {
		t.Fatalf("got %v", err)
	}
}

func TestMarshalExtensionFileEmpty(t *testing.T) {
	b, err := MarshalExtensionFile(nil)
	if err != nil || string(b) != `{"schemas":[]}` {
		t.Fatalf("%s %v", b, err)
	}
}

func FuzzParseExtensionFile(f *testing.F) {
	for _, p := range []string{"acme.json", "ian.json"} {
		if data, err := os.ReadFile(filepath.Join("../../../examples/schemas", p)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(doc(okAttr, `{"name": "licenses", "type": "complex", "multiValued": true, "subAttributes": [{"name": "seat", "type": "integer"}, {"name": "$ref", "type": "reference", "referenceTypes": ["User"]}]}`)))
	f.Add([]byte(doc(`{"name": "pin", "type": "string", "mutability": "writeOnly", "canonicalValues": ["a"]}`)))
	f.Add([]byte(schemaDoc(schemaLine("urn:acme:A")+",", schemaLine("urn:acme:A:B"))))
	f.Add([]byte("[" + schemaLine("urn:acme:x") + "]"))
	f.Add([]byte("{\"schemas\": [\n"))
	f.Add([]byte("\xef\xbb\xbf[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseExtensionFile(data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FileError", err, err)
			}
			if fe.Line < 1 || fe.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("line %d outside the file (%d lines): %v", fe.Line, bytes.Count(data, []byte("\n"))+1, err)
			}
			if fe.Reason == "" {
				t.Fatal("empty reason")
			}
			return
		}
		if len(list) == 0 || len(list) > MaxExtensionSchemas {
			t.Fatalf("%d schemas accepted", len(list))
		}
		roundTrip(t, list)
	})
}
