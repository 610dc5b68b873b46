package filter

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

const testURN = "urn:example:params:scim:schemas:extension:test:2.0:User"

// userType is the User resource type with the enterprise extension and a
// test extension holding the attribute types the core schemas lack.
func userType() *schema.ResourceType {
	return schema.UserResourceType(schema.Extension{Schema: &schema.Schema{
		ID:   testURN,
		Name: "Test",
		Attributes: []*schema.Attribute{
			{Name: "age", Type: schema.Integer},
			{Name: "score", Type: schema.Decimal},
			{Name: "verified", Type: schema.Boolean},
			{Name: "tags", Type: schema.String, MultiValued: true},
			{Name: "badge", Type: schema.Binary, CaseExact: true},
		},
	}})
}

// Three users: u1 as Okta creates them, u2 as Microsoft Entra ID does
// (active as a "False" string, lower-case extension key), u3 with odd key
// case, empty and null values.
const usersJSON = `[
{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "u1",
	"externalId": "00ujl29u0le5T6Aj10h7",
	"userName": "Bjensen@Example.com",
	"name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
	"displayName": "Babs Jensen",
	"nickName": "Babs",
	"title": "Tour Guide",
	"userType": "Employee",
	"active": true,
	"emails": [
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "babs@jensen.org", "type": "home"}
	],
	"phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
	"groups": [{"value": "g1", "display": "Tour Guides"}],
	"meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\""},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"employeeNumber": "701984",
		"department": "Tour Operations",
		"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
	},
	"urn:example:params:scim:schemas:extension:test:2.0:User": {"age": 42, "score": 3.5, "verified": true, "tags": ["a", "B"], "badge": "QUJD"}
},
{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "u2",
	"externalId": "jyoung",
	"userName": "jyoung@contoso.com",
	"name": {"familyName": "Young", "givenName": "Jérôme"},
	"active": "False",
	"emails": [{"value": "jyoung@contoso.com", "type": "work", "primary": true}],
	"addresses": null,
	"meta": {"resourceType": "User", "created": "2024-03-01T10:00:00.5+01:00", "lastModified": "2024-03-01T10:00:00.5+01:00"},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"employeeNumber": "42"},
	"urn:example:params:scim:schemas:extension:test:2.0:User": {"age": 7, "verified": "TRUE"}
},
{
	"id": "u3",
	"UserName": "casey",
	"displayName": "Casey \"CJ\" O'Neil\\path",
	"title": "",
	"nickName": null,
	"phoneNumbers": [],
	"Emails": [{"Value": "casey@example.org", "Type": "other"}]
}
]`

const groupsJSON = `[
{"id": "g1", "externalId": "G-Ext", "displayName": "Tour Guides",
 "members": [{"value": "u1", "display": "Babs", "type": "User"}, {"value": "u2"}]},
{"id": "g2", "displayName": "Admins", "members": []}
]`

func decode(t testing.TB, s string) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// matching returns the ids of the resources f matches.
func matching(f *Filter, res []map[string]any) []string {
	ids := []string{}
	for _, r := range res {
		if f.Match(r) {
			ids = append(ids, r["id"].(string))
		}
	}
	return ids
}

func TestMatchUsers(t *testing.T) {
	rt := userType()
	users := decode(t, usersJSON)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
	const tst = testURN + ":"
	tests := []struct {
		filter string
		want   []string
	}{
		// eq, case-insensitivity and caseExact
		{`userName eq "bjensen@example.com"`, []string{"u1"}},
		{`USERNAME Eq "BJENSEN@EXAMPLE.COM"`, []string{"u1"}},
		{`userName eq "bjensen"`, nil},
		{`userName eq "casey"`, []string{"u3"}}, // stored under "UserName"
		{`externalId eq "00ujl29u0le5T6Aj10h7"`, []string{"u1"}},
		{`externalId eq "00UJL29U0LE5T6AJ10H7"`, nil}, // caseExact
		{`id eq "u2"`, []string{"u2"}},
		{`id eq "U2"`, nil}, // caseExact
		{`meta.resourceType eq "User"`, []string{"u1", "u2"}},
		{`meta.resourceType eq "user"`, nil}, // caseExact
		{`name.givenName eq "JÉRÔME"`, []string{"u2"}},
		{`displayName eq "Casey \"CJ\" O'Neil\\path"`, []string{"u3"}},
		{`displayName co "\u0022cj\u0022"`, []string{"u3"}},
		{`externalId eq jyoung`, []string{"u2"}}, // unquoted, as in Entra ID's documentation
		{`  userName   eq  "casey"  `, []string{"u3"}},

		// ne is not eq: absent and empty values match
		{`userName ne "bjensen@example.com"`, []string{"u2", "u3"}},
		{`title ne "Tour Guide"`, []string{"u2", "u3"}},
		{`title ne "tour guide"`, []string{"u2", "u3"}},
		{`emails.type ne "home"`, []string{"u2", "u3"}},

		// co, sw, ew
		{`name.familyName co "ENS"`, []string{"u1"}},
		{`userName sw "J"`, []string{"u2"}},
		{`userName ew "@CONTOSO.COM"`, []string{"u2"}},
		{`name.givenName sw "jÉ"`, []string{"u2"}},
		{`name.givenName ew "ÔME"`, []string{"u2"}},
		{`userName co ""`, []string{"u1", "u2", "u3"}},
		{`userName sw "bjensen@example.com.x"`, nil},

		// gt, ge, lt, le on strings
		{`userName lt "c"`, []string{"u1"}},
		{`userName le "CASEY"`, []string{"u1", "u3"}},
		{`userName gt "casey"`, []string{"u2"}},
		{`userName ge "CASEY"`, []string{"u2", "u3"}},
		{`name.givenName ge "BARB"`, []string{"u1", "u2"}},
		{`externalId gt "a"`, []string{"u2"}}, // caseExact: "0" < "a" < "j"

		// pr and null
		{`title pr`, []string{"u1"}},        // u3's title is ""
		{`nickName pr`, []string{"u1"}},     // u3's is null
		{`phoneNumbers pr`, []string{"u1"}}, // u3's is []
		{`addresses pr`, nil},
		{`emails pr`, []string{"u1", "u2", "u3"}},
		{`emails.display pr`, nil},
		{`title eq null`, []string{"u2", "u3"}},
		{`title ne null`, []string{"u1"}},
		{`x509Certificates pr`, nil},

		// multi-valued: any value matches
		{`emails co "@example"`, []string{"u1", "u3"}},
		{`emails.value ew ".ORG"`, []string{"u1", "u3"}},
		{`emails.type eq "home"`, []string{"u1"}},
		{`groups.display eq "tour guides"`, []string{"u1"}},
		{`phoneNumbers.value eq "555-555-8377"`, []string{"u1"}},

		// value paths: one element must match the whole value filter
		{`emails[type eq "work" and value co "@example.com"]`, []string{"u1"}},
		{`emails[type eq "home" and value co "@example.com"]`, nil},
		{`emails[type eq "work"]`, []string{"u1", "u2"}},
		{`emails[type eq "work"].value eq "jyoung@contoso.com"`, []string{"u2"}},
		{`emails[type eq "work"].value eq "babs@jensen.org"`, nil},
		{`emails[type eq "home"].value eq "babs@jensen.org"`, []string{"u1"}},
		{`emails[type eq "work"].value pr`, []string{"u1", "u2"}},
		{`emails[not (type eq "work")]`, []string{"u1", "u3"}},
		{`emails[type eq "work" or type eq "other"]`, []string{"u1", "u2", "u3"}},
		{`emails[type eq "work" and primary eq true]`, []string{"u1", "u2"}},
		{`emails[(type eq "home" or type eq "other") and value ew ".org"]`, []string{"u1", "u3"}},
		{`emails[type eq "work" and value co "@" and primary eq true]`, []string{"u1", "u2"}},
		{`emails [ type eq "work" ] .value sw "bj"`, []string{"u1"}},

		// booleans, including Entra ID's "True" and "False" strings
		{`active eq true`, []string{"u1"}},
		{`active eq false`, []string{"u2"}},
		{`active eq "False"`, []string{"u2"}},
		{`active eq "TRUE"`, []string{"u1"}},
		{`active eq True`, []string{"u1"}},
		{`active ne true`, []string{"u2", "u3"}},

		// dateTime: chronological
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, []string{"u2"}},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, []string{"u1", "u2"}},
		{`meta.lastModified lt "2011-05-13T05:42:34+01:00"`, nil},
		{`meta.lastModified le "2011-05-13T05:42:34+01:00"`, []string{"u1"}},
		{`meta.lastModified eq "2011-05-13T06:42:34+02:00"`, []string{"u1"}},
		{`meta.lastModified eq "2011-05-13T04:42:34.000Z"`, []string{"u1"}},
		{`meta.lastModified gt "2024-03-01T09:00:00Z"`, []string{"u2"}},
		{`meta.lastModified gt "2024-03-01T09:00:01Z"`, nil}, // 10:00:00.5+01:00 is 09:00:00.5Z
		{`meta.lastModified lt "2020-01-01T00:00:00"`, []string{"u1"}},
		{`meta.created sw "2010-01"`, []string{"u1"}},
		{`meta.lastModified ne "2011-05-13T04:42:34Z"`, []string{"u2", "u3"}},

		// numbers, binary and multi-valued simple attributes (test extension)
		{tst + `age gt 10`, []string{"u1"}},
		{tst + `age le 7`, []string{"u2"}},
		{tst + `age eq 42.0`, []string{"u1"}},
		{tst + `age ne 42`, []string{"u2", "u3"}},
		{tst + `age ge -1e3`, []string{"u1", "u2"}},
		{tst + `score ge 3.5`, []string{"u1"}},
		{tst + `score lt 3.5`, nil},
		{tst + `verified eq true`, []string{"u1", "u2"}},
		{tst + `tags eq "b"`, []string{"u1"}},
		{tst + `tags eq "c"`, nil},
		{tst + `badge eq "QUJD"`, []string{"u1"}},
		{tst + `badge eq "qujd"`, nil},
		{tst + `badge co "UJ"`, []string{"u1"}},

		// URN paths
		{ent + `employeeNumber eq "701984"`, []string{"u1"}},
		{ent + `employeeNumber eq "42"`, []string{"u2"}}, // lower-case extension key
		{strings.ToUpper(ent) + `EMPLOYEENUMBER eq "42"`, []string{"u2"}},
		{ent + `manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, []string{"u1"}},
		{ent + `manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`, []string{"u1"}},
		{ent + `manager[value sw "26118915"]`, []string{"u1"}},
		{ent + `department pr`, []string{"u1"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jyoung@contoso.com"`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "young"`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:id eq "u3"`, []string{"u3"}},

		// logic and precedence: not > and > or
		{`title pr and userName sw "b" or userName sw "j"`, []string{"u1", "u2"}},
		{`userName sw "j" or title pr and userName sw "x"`, []string{"u2"}},
		{`(userName sw "j" or title pr) and userName sw "x"`, nil},
		{`not (userName sw "b") and not (userName sw "c")`, []string{"u2"}},
		{`not (title pr or nickName pr)`, []string{"u2", "u3"}},
		{`NOT(title pr)`, []string{"u2", "u3"}},
		{`not (not (title pr))`, []string{"u1"}},
		{`(userName sw "b" or userName sw "c") and emails.type eq "other"`, []string{"u3"}},
		{`userName eq "x" or not (emails[type eq "home"])`, []string{"u2", "u3"}},
		{`userName EQ "casey" OR Title PR`, []string{"u1", "u3"}},
		{`userName eq "Bjensen@Example.com" and (emails[type eq "work"] or title pr)`, []string{"u1"}},
		{`((((userName pr))))`, []string{"u1", "u2", "u3"}},
		{`userName pr and userName pr and userName pr and userName sw "c"`, []string{"u3"}},
		{`id eq "u1" or id eq "u2" or id eq "u3"`, []string{"u1", "u2", "u3"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(rt, tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := matching(f, users)
			if want := append([]string{}, tt.want...); !slices.Equal(got, want) {
				t.Errorf("matches %v, want %v (canonical %s)", got, want, f)
			}
		})
	}
}

func TestMatchGroups(t *testing.T) {
	rt := schema.GroupResourceType()
	groups := decode(t, groupsJSON)
	tests := []struct {
		filter string
		want   []string
	}{
		{`displayName eq "tour guides"`, []string{"g1"}},
		{`displayName eq "Admins" and members pr`, nil},
		{`members[value eq "u2"]`, []string{"g1"}},
		{`members[value eq "U2"]`, []string{"g1"}}, // members.value is not caseExact
		{`members.value eq "u2"`, []string{"g1"}},
		{`members eq "u1"`, []string{"g1"}},
		{`members[type eq "User" and value eq "u2"]`, nil},
		{`members pr`, []string{"g1"}},
		{`not (members pr)`, []string{"g2"}},
		{`externalId eq "G-Ext"`, []string{"g1"}},
		{`externalId eq "g-ext"`, nil},
		{`urn:ietf:params:scim:schemas:core:2.0:Group:displayName sw "ad"`, []string{"g2"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(rt, tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got, want := matching(f, groups), append([]string{}, tt.want...); !slices.Equal(got, want) {
				t.Errorf("matches %v, want %v", got, want)
			}
		})
	}
}

// checkInvalidFilter fails unless err is a 400 invalidFilter *scimerr.Error.
func checkInvalidFilter(t testing.TB, err error) *scimerr.Error {
	t.Helper()
	var e *scimerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *scimerr.Error", err, err)
	}
	if e.Status != http.StatusBadRequest || e.ScimType != scimerr.InvalidFilterType {
		t.Fatalf("error %v: want status 400 and scimType invalidFilter", err)
	}
	return e
}

func TestParseErrors(t *testing.T) {
	rt := userType()
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		filter string
		detail string // substring of the error detail
	}{
		// syntax
		{``, "empty filter"},
		{"  \t ", "empty filter"},
		{`someuppercaseusername`, `position 22: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "someuppercaseusername", found end of filter`},
		{`SOMEUSER@EXAMPLE.COM`, `invalid attribute path "SOMEUSER@EXAMPLE.COM"`},
		{`userName eq`, `expected a value after "eq", found end of filter`},
		{`userName eq "x`, "position 13: unterminated string"},
		{`userName eq "x\"`, "unterminated string"},
		{`userName xx "x"`, `expected an operator`},
		{`userName eq "x" and`, `expected an attribute name, "(" or "not", found end of filter`},
		{`userName eq "x" or or title pr`, `expected an operator`},
		{`(userName eq "x"`, `expected ")", found end of filter`},
		{`userName eq "x")`, `position 16: expected "and", "or" or end of filter, found ")"`},
		{`userName eq "x" userName eq "y"`, `expected "and", "or" or end of filter, found "userName"`},
		{`title pr "x"`, `expected "and", "or" or end of filter`},
		{`not userName eq "x"`, `expected an operator`},
		{`emails[type eq "work"`, `expected "]", found end of filter`},
		{`emails[type eq "work"] eq "x"`, `expected "and", "or" or end of filter, found "eq"`},
		{`emails[type eq "work"].x.y eq "x"`, `invalid sub-attribute name ".x.y"`},
		{`emails[type eq "work"].value`, `expected an operator`},
		{`emails[type eq "x"][value eq "y"]`, `expected "and", "or" or end of filter, found "["`},
		{`emails[emails[type eq "x"]]`, "value filters cannot be nested"},
		{`a.b.c eq "x"`, `invalid attribute path "a.b.c"`},
		{`1userName eq "x"`, `invalid attribute path`},
		{`urn::x:userName eq "x"`, `invalid schema URN`},
		{`:userName eq "x"`, `invalid schema URN`},
		{`userName eq "\q"`, "invalid escape sequence"},
		{`userName eq "\u00"`, "invalid escape sequence"},
		{`userName eq a\b`, "contains a backslash"},
		{`userName eq 1e999`, "out of range"},
		{`userName eq 01`, `number "01": not a JSON number: leading zero`},
		{`userName eq -01`, `leading zero`},
		{`userName eq 1.`, `number "1.": not a JSON number`},
		{`userName eq 1x`, `number "1x": not a JSON number`},
		{`userName eq -x`, `number "-x": not a JSON number`},
		{`userName eq 00ujl29u0le5T6Aj10h7`, `not a JSON number`},
		{`[`, `expected an attribute name`},
		{`)`, `expected an attribute name`},
		{strings.Repeat(`userName pr or `, 300) + `userName pr`, "filter too long (4511 bytes; the limit is 4096)"},
		{strings.Repeat("(", 33) + "userName pr" + strings.Repeat(")", 33), "nested too deeply"},
		{strings.Repeat("not (", 33) + "userName pr" + strings.Repeat(")", 33), "nested too deeply"},

		// attributes
		{`foo eq "x"`, `unknown attribute "foo"`},
		{`name.foo eq "x"`, `unknown attribute "name.foo"`},
		{`userName.foo eq "x"`, `attribute "userName" has no sub-attributes`},
		{`employeeNumber eq "1"`, `unknown attribute "employeeNumber"`},
		{`urn:example:unknown:2.0:User:foo eq "x"`, `unknown schema "urn:example:unknown:2.0:User"`},
		{ent + ` pr`, `"` + ent + `" is a schema, not an attribute`},
		{`password eq "secret"`, `attribute "password" cannot be used in a filter`},
		{`password pr`, `cannot be used in a filter`},
		{`emails[foo eq "x"]`, `unknown attribute "emails.foo"`},
		{`emails[type eq "work"].foo eq "x"`, `unknown attribute "emails.foo"`},
		{`emails[value.x eq "a"]`, `must be a sub-attribute name`},
		{`userName[value eq "x"]`, `value filter on string attribute "userName"`},
		{`name.givenName[value eq "x"]`, `value filter on sub-attribute "name.givenName"`},

		// operators and values against attribute types
		{`active gt true`, `operator "gt" cannot be used with boolean attribute "active"`},
		{`active le false`, `operator "le" cannot be used with boolean attribute`},
		{`active co "t"`, `operator "co" cannot be used with boolean attribute`},
		{`active eq "yes"`, `attribute "active" is a boolean; the compare value "yes" is not true or false`},
		{`active eq 1`, `is not true or false`},
		{`x509Certificates.value lt "abc"`, `operator "lt" cannot be used with binary attribute "x509Certificates.value"`},
		{testURN + `:badge ge "x"`, `cannot be used with binary attribute`},
		{testURN + `:age co 1`, `operator "co" cannot be used with integer attribute`},
		{testURN + `:age eq "1"`, `is a number; the compare value "1" is not`},
		{`userName eq 1`, `attribute "userName" is a string; quote the compare value 1`},
		{`externalId eq 12345`, `quote the compare value 12345`},
		{`userName eq true`, `quote the compare value true`},
		{`meta.lastModified gt "yesterday"`, `is not an RFC 3339 date and time`},
		{`meta.lastModified gt 5`, `attribute "meta.lastModified" is a dateTime; quote the compare value 5`},
		{`name eq "x"`, `attribute "name" is complex; compare one of its sub-attributes`},
		{`userName gt null`, `operator "gt" cannot be used with null`},
		{`userName co null`, `cannot be used with null`},
	}
	for _, tt := range tests {
		name := tt.filter
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			f, err := Parse(rt, tt.filter)
			if err == nil {
				t.Fatalf("Parse succeeded (%s), want error %q", f, tt.detail)
			}
			e := checkInvalidFilter(t, err)
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", e.Detail, tt.detail)
			}
			if f != nil {
				t.Errorf("Parse returned a filter with an error")
			}
		})
	}
}

func TestParseNoResourceType(t *testing.T) {
	_, err := Parse(nil, `userName eq "x"`)
	checkInvalidFilter(t, err)
}

func TestString(t *testing.T) {
	rt := userType()
	tests := []struct{ filter, want string }{
		{`USERNAME EQ "x"`, `userName eq "x"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `userName eq "x"`},
		{`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER Sw "1"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw "1"`},
		{`(title pr OR nickName pr) AND userName pr`, `(title pr or nickName pr) and userName pr`},
		{`title pr or nickName pr and userName pr`, `title pr or nickName pr and userName pr`},
		{`title pr and (nickName pr and (userName pr))`, `title pr and nickName pr and userName pr`},
		{`(title pr or nickName pr) or userName pr`, `title pr or nickName pr or userName pr`},
		{`not(title pr)`, `not (title pr)`},
		{`EMAILS[TYPE eq "work"].VALUE eq "x"`, `emails[type eq "work" and value eq "x"]`},
		{`emails[type eq "work" or type eq "home"].value eq "x"`, `emails[(type eq "work" or type eq "home") and value eq "x"]`},
		{`emails co "x"`, `emails.value co "x"`},
		{`active eq "True"`, `active eq true`},
		{`active ne FALSE`, `active ne false`},
		{`userName eq "a\"b\\c\u00e9\n"`, `userName eq "a\"b\\cé\n"`},
		{`title eq NULL`, `title eq null`},
		{`title ne null`, `title ne null`},
		{testURN + `:age gt 1e3`, testURN + `:age gt 1000`},
		{testURN + `:score lt -2.50`, testURN + `:score lt -2.5`},
		{`externalId eq jyoung`, `externalId eq "jyoung"`},
		{"userName eq \"a\xe9\xff\"", "userName eq \"a\ufffd\ufffd\""},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(rt, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := f.String()
			if got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			g, err := Parse(rt, got)
			if err != nil {
				t.Fatalf("Parse(String()): %v", err)
			}
			if g.String() != got {
				t.Errorf("String() does not round-trip: %s, then %s", got, g)
			}
		})
	}
}

func TestIndexEquality(t *testing.T) {
	users, groups := userType(), schema.GroupResourceType()
	tests := []struct {
		rt     *schema.ResourceType
		filter string
		want   Equality // zero: none
	}{
		{users, `userName eq "x"`, Equality{"userName", "x"}},
		{users, `userName eq "x" and externalId eq "y"`, Equality{"userName", "x"}},
		{users, `externalId eq "y" and userName eq "x"`, Equality{"userName", "x"}},
		{users, `externalId eq "y" and (title pr and (userName eq "x" and nickName pr))`, Equality{"userName", "x"}},
		{users, `id eq "1" and userName eq "x"`, Equality{"id", "1"}},
		{users, `title eq "t" and nickName eq "n"`, Equality{"title", "t"}},
		{users, `userName eq "x" or externalId eq "y"`, Equality{}},
		{users, `title pr and (externalId eq "x" or id eq "y")`, Equality{}},
		{users, `not (userName eq "x")`, Equality{}},
		{users, `userName ne "x"`, Equality{}},
		{users, `userName co "x"`, Equality{}},
		{users, `userName eq null`, Equality{}},
		{users, `active eq true`, Equality{}},
		{users, `active eq "true"`, Equality{}},
		{users, `meta.lastModified eq "2011-05-13T04:42:34Z"`, Equality{}},
		{users, `externalId eq "a\"b"`, Equality{"externalId", `a"b`}},
		{users, `externalId eq jyoung`, Equality{"externalId", "jyoung"}},
		{users, `emails eq "a@b"`, Equality{"emails.value", "a@b"}},
		{users, `emails[type eq "work"].value eq "a@b"`, Equality{"emails.value", "a@b"}},
		{users, `emails[type eq "work" and value eq "a@b"] and displayName eq "d"`, Equality{"displayName", "d"}},
		{users, `emails[type eq "work" or value eq "a@b"]`, Equality{}},
		{users, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
			Equality{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "1"}},
		{groups, `displayName eq "G"`, Equality{"displayName", "G"}},
		{groups, `members[value eq "m1"]`, Equality{"members.value", "m1"}},
		{groups, `members.value eq "m1" and externalId eq "e"`, Equality{"externalId", "e"}},
		{groups, `displayName eq "G" and members[value eq "m1"]`, Equality{"displayName", "G"}},
		{groups, `members[type eq "User"] and members[value eq "m1"]`, Equality{"members.value", "m1"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(tt.rt, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.IndexEquality()
			if ok != (tt.want != Equality{}) || got != tt.want {
				t.Errorf("IndexEquality() = %+v, %v; want %+v", got, ok, tt.want)
			}
		})
	}
}

func TestNilFilter(t *testing.T) {
	var f *Filter
	if f.Match(map[string]any{"userName": "x"}) {
		t.Error("nil Filter matches")
	}
	if s := f.String(); s != "" {
		t.Errorf("nil Filter String() = %q", s)
	}
	if _, ok := f.IndexEquality(); ok {
		t.Error("nil Filter has an index equality")
	}
}

// TestCompile checks parsed expressions and hand-built ones.
func TestCompile(t *testing.T) {
	rt := userType()
	users := decode(t, usersJSON)
	parsed := func(s string) func() (Expr, error) {
		return func() (Expr, error) { return ParseExpr(s) }
	}
	tests := []struct {
		name string
		e    func() (Expr, error)
		want []string // nil with err
		err  string
	}{
		{"parsed", parsed(`userName eq "bjensen@example.com" and emails[type eq "work"]`), []string{"u1"}, ""},
		{"parsed escapes", parsed(`displayName eq "Casey \"CJ\" O'Neil\\path"`), []string{"u3"}, ""},
		{"parsed numbers", parsed(testURN + `:age gt 10`), []string{"u1"}, ""},
		{"hand-built", func() (Expr, error) {
			return &Logical{Op: OR, Operands: []Expr{
				&Comparison{Path: AttrPath{Name: "USERNAME"}, Op: EQ, Value: "casey"},
				&Not{X: &Comparison{Path: AttrPath{Name: "name", Sub: "givenName"}, Op: SW, Value: "B"}},
			}}, nil
		}, []string{"u2", "u3"}, ""},
		{"hand-built int64", func() (Expr, error) {
			return &Comparison{Path: AttrPath{URN: testURN, Name: "age"}, Op: LT, Value: int64(8)}, nil
		}, []string{"u2"}, ""},
		{"hand-built string with a backslash", func() (Expr, error) {
			return &Comparison{Path: AttrPath{Name: "displayName"}, Op: EQ, Value: `Casey "CJ" O'Neil\path`}, nil
		}, []string{"u3"}, ""},
		{"nil", func() (Expr, error) { return nil, nil }, nil, "empty expression"},
		{"nil comparison", func() (Expr, error) { return (*Comparison)(nil), nil }, nil, "empty expression"},
		{"empty logical expression", func() (Expr, error) { return &Logical{}, nil }, nil, `unknown logical operator ""`},
		{"logical expression without operands", func() (Expr, error) {
			return &Logical{Op: AND}, nil
		}, nil, "empty expression"},
		{"empty not", func() (Expr, error) { return &Not{}, nil }, nil, "empty expression"},
		{"empty value path", func() (Expr, error) {
			return &ValuePath{Path: AttrPath{Name: "emails"}}, nil
		}, nil, `empty value filter on "emails"`},
		{"unknown operator", func() (Expr, error) {
			return &Comparison{Path: AttrPath{Name: "userName"}, Op: "xx", Value: "x"}, nil
		}, nil, `unknown operator "xx"`},
		{"operator not normalised", func() (Expr, error) {
			return &Comparison{Path: AttrPath{Name: "userName"}, Op: "EQ", Value: "x"}, nil
		}, nil, `unknown operator "EQ"`},
		{"unsupported value", func() (Expr, error) {
			return &Comparison{Path: AttrPath{Name: "active"}, Op: EQ, Value: []string{"x"}}, nil
		}, nil, "is not true or false"},
		{"deep", func() (Expr, error) {
			var e Expr = &Comparison{Path: AttrPath{Name: "userName"}, Op: PR}
			for range 100 {
				e = &Not{X: e}
			}
			return e, nil
		}, nil, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.e()
			if err != nil {
				t.Fatal(err)
			}
			f, err := Compile(rt, e)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("Compile succeeded (%s), want error %q", f, tt.err)
				}
				if d := checkInvalidFilter(t, err).Detail; !strings.Contains(d, tt.err) {
					t.Errorf("detail %q does not contain %q", d, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(f, users); !slices.Equal(got, tt.want) {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCompileLongChain checks that a long chain of and, built as a
// left-deep tree of binary operations, is not limited by the nesting depth.
func TestCompileLongChain(t *testing.T) {
	var e Expr = &Comparison{Path: AttrPath{Name: "userName"}, Op: PR}
	for range 10000 {
		e = &Logical{Op: AND, Operands: []Expr{e, &Comparison{Path: AttrPath{Name: "id"}, Op: PR}}}
	}
	f, err := Compile(userType(), e)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(map[string]any{"userName": "x", "id": "1"}) || f.Match(map[string]any{"userName": "x"}) {
		t.Error("wrong result")
	}
}

func TestCompileValue(t *testing.T) {
	users, groups := userType(), schema.GroupResourceType()
	emails, err := users.LookupPath("emails")
	if err != nil {
		t.Fatal(err)
	}
	members, err := groups.LookupPath("members")
	if err != nil {
		t.Fatal(err)
	}
	manager, err := users.LookupPath("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rt      *schema.ResourceType
		parent  schema.Ref
		path    string // a PATCH path
		element string
		want    bool
		str     string
		index   Equality
	}{
		{groups, members, `members[value eq "2819c223"]`, `{"value": "2819c223", "display": "Babs"}`, true, `value eq "2819c223"`, Equality{"members.value", "2819c223"}},
		{groups, members, `members[value eq "2819c223"]`, `{"value": "other"}`, false, "", Equality{}},
		{groups, members, `members[value eq "x\"y"]`, `{"value": "x\"y"}`, true, `value eq "x\"y"`, Equality{"members.value", `x"y`}},
		{groups, members, `MEMBERS[VALUE EQ "A"]`, `{"Value": "a"}`, true, `value eq "A"`, Equality{"members.value", "A"}},
		{users, emails, `emails[type eq "work"].value`, `{"type": "Work", "value": "a@b"}`, true, `type eq "work"`, Equality{"emails.type", "work"}},
		{users, emails, `emails[type eq "work" and value co "@example.com"]`, `{"type": "work", "value": "b@example.com"}`, true, "", Equality{}},
		{users, emails, `emails[type eq "work" and value co "@example.com"]`, `{"type": "home", "value": "b@example.com"}`, false, "", Equality{}},
		{users, emails, `emails[not (primary eq true)]`, `{"primary": "False"}`, true, `not (primary eq true)`, Equality{}},
		{users, manager, `manager[value eq "26118915"]`, `{"value": "26118915"}`, true, `value eq "26118915"`,
			Equality{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "26118915"}},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.element, func(t *testing.T) {
			p, err := ParsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := CompileValue(tt.rt, tt.parent, p.Filter)
			if err != nil {
				t.Fatal(err)
			}
			var elem map[string]any
			if err := json.Unmarshal([]byte(tt.element), &elem); err != nil {
				t.Fatal(err)
			}
			if got := f.Match(elem); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if tt.str != "" && f.String() != tt.str {
				t.Errorf("String() = %s, want %s", f, tt.str)
			}
			if tt.index != (Equality{}) {
				if got, _ := f.IndexEquality(); got != tt.index {
					t.Errorf("IndexEquality() = %+v, want %+v", got, tt.index)
				}
			}
		})
	}
}

func TestCompileValueErrors(t *testing.T) {
	rt := userType()
	ref := func(path string) schema.Ref {
		r, err := rt.LookupPath(path)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	value := func(s string) Expr {
		p, err := ParsePath("x[" + s + "]")
		if err != nil {
			t.Fatal(err)
		}
		return p.Filter
	}
	tests := []struct {
		parent schema.Ref
		e      Expr
		detail string
	}{
		{ref("userName"), value(`value eq "x"`), `value filter on string attribute "userName"`},
		{ref("name.givenName"), value(`value eq "x"`), `value filter on sub-attribute "name.givenName"`},
		{schema.Ref{}, value(`value eq "x"`), "value filter without an attribute"},
		{ref("emails"), value(`foo eq "x"`), `unknown attribute "emails.foo"`},
		{ref("emails"), value(`primary gt true`), `operator "gt" cannot be used with boolean attribute "emails.primary"`},
		{ref("emails"), &ValuePath{Path: AttrPath{Name: "emails"}, Filter: value(`type pr`)}, "cannot be nested"},
	}
	for _, tt := range tests {
		t.Run(tt.detail, func(t *testing.T) {
			_, err := CompileValue(rt, tt.parent, tt.e)
			if err == nil {
				t.Fatal("no error")
			}
			if d := checkInvalidFilter(t, err).Detail; !strings.Contains(d, tt.detail) {
				t.Errorf("detail %q does not contain %q", d, tt.detail)
			}
		})
	}
}

func TestSortKey(t *testing.T) {
	rt := userType()
	users := decode(t, usersJSON)
	tests := []struct {
		path string
		want []string // ascending
		ties bool     // some resources sort equal
	}{
		{"userName", []string{"u1", "u3", "u2"}, false},
		{"USERNAME", []string{"u1", "u3", "u2"}, false},
		{"name.familyName", []string{"u1", "u2", "u3"}, false},
		{"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", []string{"u1", "u2", "u3"}, false},
		{"emails", []string{"u1", "u3", "u2"}, false},     // primary, else first, value
		{"emails.type", []string{"u3", "u1", "u2"}, true}, // other < work = work
		{"meta.lastModified", []string{"u1", "u2", "u3"}, false},
		{"active", []string{"u2", "u1", "u3"}, false}, // "False" < true < missing
		{"title", []string{"u1", "u2", "u3"}, true},   // "" is missing
		{"externalId", []string{"u1", "u2", "u3"}, false},
		{testURN + ":age", []string{"u2", "u1", "u3"}, false},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", []string{"u2", "u1", "u3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			key, attr, err := SortKey(rt, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			sorted := slices.Clone(users)
			sort.SliceStable(sorted, func(i, j int) bool {
				return Compare(attr, key(sorted[i]), key(sorted[j])) < 0
			})
			var got []string
			for _, u := range sorted {
				got = append(got, u["id"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ascending order %v, want %v", got, tt.want)
			}
			// Descending: the reverse, missing values first.
			sort.SliceStable(sorted, func(i, j int) bool {
				return Compare(attr, key(sorted[i]), key(sorted[j])) > 0
			})
			got = got[:0]
			for _, u := range sorted {
				got = append(got, u["id"].(string))
			}
			rev := slices.Clone(tt.want)
			slices.Reverse(rev)
			if !tt.ties && !slices.Equal(got, rev) {
				t.Errorf("descending order %v, want %v", got, rev)
			}
		})
	}
}

func TestSortKeyValues(t *testing.T) {
	rt := userType()
	u := decode(t, usersJSON)[0]
	tests := []struct {
		path string
		want any
	}{
		{"userName", "Bjensen@Example.com"},
		{"emails", "bjensen@example.com"},
		{"phoneNumbers.type", "work"},
		{"active", true},
		{testURN + ":score", 3.5},
		{testURN + ":tags", "a"},
		{"meta.lastModified", time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC)},
		{"nickName", "Babs"},
		{"locale", nil},
		{"addresses.locality", nil},
	}
	for _, tt := range tests {
		key, _, err := SortKey(rt, tt.path)
		if err != nil {
			t.Fatal(err)
		}
		got := key(u)
		if tm, ok := got.(time.Time); ok {
			if !tm.Equal(tt.want.(time.Time)) {
				t.Errorf("%s: %v, want %v", tt.path, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("%s: %#v, want %#v", tt.path, got, tt.want)
		}
	}
}

func TestSortKeyErrors(t *testing.T) {
	rt := userType()
	for _, path := range []string{"", "  ", "foo", "name", "password", "emails[type eq \"work\"]", "userName.x"} {
		_, _, err := SortKey(rt, path)
		var e *scimerr.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.ScimType != scimerr.InvalidValueType {
			t.Errorf("SortKey(%q): error %v, want 400 invalidValue", path, err)
		}
	}
	if _, _, err := SortKey(nil, "userName"); err == nil {
		t.Error("SortKey(nil rt): no error")
	}
}

func TestCompare(t *testing.T) {
	rt := userType()
	attr := func(path string) *schema.Attribute {
		r, err := rt.LookupPath(path)
		if err != nil {
			t.Fatal(err)
		}
		return r.Target()
	}
	userName, id, active, modified := attr("userName"), attr("id"), attr("active"), attr("meta.lastModified")
	age := attr(testURN + ":age")
	tests := []struct {
		attr *schema.Attribute
		a, b any
		want int
	}{
		{userName, "B", "a", 1},
		{userName, "a", "B", -1},
		{userName, "ABC", "abc", 0},
		{userName, "é", "É", 0},
		{userName, "ab", "abc", -1},
		{id, "B", "a", -1}, // caseExact
		{id, "a", "a", 0},
		{userName, nil, "a", 1},
		{userName, "a", nil, -1},
		{userName, nil, nil, 0},
		{userName, "", "a", 1}, // empty is missing
		{userName, []any{}, "a", 1},
		{active, false, true, -1},
		{active, true, "false", 1},
		{active, true, true, 0},
		{age, 2.0, 10.0, -1},
		{age, 10, 2.0, 1},
		{age, json.Number("3"), 3.0, 0},
		{modified, "2011-05-13T06:42:34+02:00", "2011-05-13T04:42:35Z", -1},
		{modified, "2011-05-13T06:42:34+02:00", time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC), 0},
		{modified, "garbage", "2011-05-13T04:42:35Z", 1},
		{nil, "B", "a", 1},
		{userName, 1.0, "a", -1}, // mixed types order by type
	}
	for _, tt := range tests {
		if got := Compare(tt.attr, tt.a, tt.b); got != tt.want {
			name := "<nil>"
			if tt.attr != nil {
				name = tt.attr.Name
			}
			t.Errorf("Compare(%s, %#v, %#v) = %d, want %d", name, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		s, sub              string
		contains, pre, post bool
	}{
		{"Hello World", "o w", true, false, false},
		{"Hello World", "HELLO", true, true, false},
		{"Hello World", "WORLD", true, false, true},
		{"Jérôme", "ÉRÔ", true, false, false},
		{"Jérôme", "jÉ", true, true, false},
		{"Jérôme", "ÔME", true, false, true},
		{"Kelvin", "\u212aEL", true, true, false}, // Kelvin sign
		{"abc", "abcd", false, false, false},
		{"abc", "", true, true, true},
		{"", "a", false, false, false},
		{"aaab", "aab", true, false, true},
		{"abC", "c", true, false, true},
		{"é", "É", true, true, true},
	}
	for _, tt := range tests {
		if got := containsFold(tt.s, tt.sub); got != tt.contains {
			t.Errorf("containsFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
		if got := hasPrefixFold(tt.s, tt.sub); got != tt.pre {
			t.Errorf("hasPrefixFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
		if got := hasSuffixFold(tt.s, tt.sub); got != tt.post {
			t.Errorf("hasSuffixFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\"b`, `a"b`},
		{`\\\/\b\f\n\r\t`, "\\/\b\f\n\r\t"},
		{`\u00e9\u00C9`, "éÉ"},
		{`\ud83d\ude00`, "😀"},
		{`\ud83d`, "\ufffd"},
		{`\ud83dx`, "\ufffdx"},
	}
	for _, tt := range tests {
		got, err := unquote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("unquote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`\`, `\x`, `\u12`, `\u12G4`} {
		if _, err := unquote(bad); err == nil {
			t.Errorf("unquote(%q): no error", bad)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
	}{
		{"userName", Path{Attr: AttrPath{Name: "userName"}}},
		{" name.givenName ", Path{Attr: AttrPath{Name: "name", Sub: "givenName"}}},
		{"$ref", Path{Attr: AttrPath{Name: "$ref"}}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
			Path{Attr: AttrPath{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", Name: "manager"}}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
			Path{Attr: AttrPath{URN: "urn:ietf:params:scim:schemas:core:2.0:User", Name: "name", Sub: "familyName"}}},
		{`emails[type eq "work"]`, Path{Attr: AttrPath{Name: "emails"},
			Filter: &Comparison{Path: AttrPath{Name: "type"}, Op: EQ, Value: "work"}}},
		{`emails [ TYPE EQ "w\u00f6rk" ].Value`, Path{Attr: AttrPath{Name: "emails"}, Sub: "Value",
			Filter: &Comparison{Path: AttrPath{Name: "TYPE"}, Op: EQ, Value: "wörk"}}},
		{`emails[type eq work and primary eq TRUE or value ew 1.5e3]`, Path{Attr: AttrPath{Name: "emails"},
			Filter: &Logical{Op: OR, Operands: []Expr{
				&Logical{Op: AND, Operands: []Expr{
					&Comparison{Path: AttrPath{Name: "type"}, Op: EQ, Value: "work"},
					&Comparison{Path: AttrPath{Name: "primary"}, Op: EQ, Value: true},
				}},
				&Comparison{Path: AttrPath{Name: "value"}, Op: EW, Value: 1500.0},
			}}}},
		{`x[not (a pr) and b eq null]`, Path{Attr: AttrPath{Name: "x"},
			Filter: &Logical{Op: AND, Operands: []Expr{
				&Not{X: &Comparison{Path: AttrPath{Name: "a"}, Op: PR}},
				&Comparison{Path: AttrPath{Name: "b"}, Op: EQ},
			}}}},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePath(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, tt := range []struct{ in, detail string }{
		{"", `invalid path "": empty path`},
		{"userName.", `invalid attribute path "userName."`},
		{"user name", `expected "[" or end of path, found "name"`},
		{"emails[", `expected an attribute name, "(" or "not", found end of path`},
		{"emails]", `expected "[" or end of path, found "]"`},
		{`emails[type eq "work"]x`, `expected "." and a sub-attribute name or end of path after "]", found "x"`},
		{`emails[type eq "work"].`, `invalid sub-attribute name "."`},
		{`emails[type eq "work"] . value`, `invalid sub-attribute name "."`},
		{`emails[type eq "work"][value pr]`, `found "["`},
		{`emails[type[x eq 1]]`, "value filters cannot be nested"},
		{`emails[type eq 01]`, "leading zero"},
		{`emails[type eq "\q"]`, "invalid escape sequence"},
		{"emails[" + strings.Repeat("(", 32) + `type pr` + strings.Repeat(")", 32) + "]", "nested too deeply (more than 32 levels)"},
		{strings.Repeat("a", 4097), "path too long (4097 bytes; the limit is 4096)"},
	} {
		_, err := ParsePath(tt.in)
		e, ok := scimerr.As(err)
		if !ok || e.ScimType != scimerr.InvalidPathType || !strings.Contains(e.Detail, tt.detail) {
			t.Errorf("ParsePath(%.40q): %v; want invalidPath containing %q", tt.in, err, tt.detail)
		}
	}
}

// TestBareWords checks the one rule for unquoted compare values: JSON
// literals and numbers, else a string unless it starts like a number.
func TestBareWords(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want any
	}{
		{"TRUE", true}, {"False", false}, {"null", nil}, {"0", 0.0}, {"-0.5e1", -5.0}, {"10", 10.0},
		{"jyoung", "jyoung"}, {"+15551234", "+15551234"}, {".5", ".5"}, {"a-1", "a-1"},
	} {
		e, err := ParseExpr("x eq " + tt.in)
		if err != nil {
			t.Errorf("ParseExpr(x eq %s): %v", tt.in, err)
			continue
		}
		if got := e.(*Comparison).Value; got != tt.want {
			t.Errorf("ParseExpr(x eq %s) value = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// TestAttrs: the attributes a filter tests, in canonical spelling.
func TestAttrs(t *testing.T) {
	rt := schema.UserResourceType()
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "a"`, []string{"userName"}},
		{`USERNAME Eq "a" and id eq "x"`, []string{"userName", "id"}},
		{`not (userName eq "a") or active eq true`, []string{"userName", "active"}},
		{`emails[type eq "work" and value co "@x"]`, []string{"emails", "emails.type", "emails.value"}},
		{`name.givenName sw "A"`, []string{"name.givenName"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}},
	} {
		f, err := Parse(rt, tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := f.Attrs(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Attrs %q, want %q", tc.filter, got, tc.want)
		}
	}
}
