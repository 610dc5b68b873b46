package patch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

const entURN = schema.EnterpriseUserURN

// jsonValue decodes s, failing the test on error.
func jsonValue(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func jsonMap(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := jsonValue(t, s).(map[string]any)
	if !ok {
		t.Fatalf("test JSON is not an object: %s", s)
	}
	return m
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// patchBody wraps operations (a JSON array) in a PatchOp message.
func patchBody(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
}

const oktaUser = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
	"id": "u1",
	"externalId": "00ujl29u0le5T6Aj10h7",
	"userName": "test.user@okta.local",
	"name": {"givenName": "Test", "familyName": "User"},
	"displayName": "Test User",
	"locale": "en-US",
	"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
	"active": true,
	"meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z"}
}`

const managedUser = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "u1",
	"userName": "test.user@okta.local",
	"active": true,
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"department": "Sales",
		"manager": {"value": "m1", "$ref": "https://example.com/scim/v2/Users/m1", "displayName": "Boss"}
	}
}`

const oktaGroup = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	"id": "g1",
	"displayName": "Test SCIMv2",
	"meta": {"resourceType": "Group"}
}`

// withUser returns oktaUser with the top-level members of patch (a JSON
// object) set, and members whose patch value is null deleted.
func withDoc(t testing.TB, doc, patch string) string {
	t.Helper()
	m := jsonMap(t, doc)
	for k, v := range jsonMap(t, patch) {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return toJSON(m)
}

// testRT is a User resource type with an extension exercising every type.
func testRT() *schema.ResourceType {
	ext := &schema.Schema{
		ID:   "urn:example:params:scim:schemas:extension:test:2.0:User",
		Name: "Test",
		Attributes: []*schema.Attribute{
			{Name: "badge", Type: schema.Integer, Mutability: schema.ReadWrite},
			{Name: "score", Type: schema.Decimal, Mutability: schema.ReadWrite},
			{Name: "hired", Type: schema.DateTime, Mutability: schema.ReadWrite},
			{Name: "vip", Type: schema.Boolean, Mutability: schema.ReadWrite},
			{Name: "tags", Type: schema.String, MultiValued: true, Mutability: schema.ReadWrite},
			{Name: "employeeId", Type: schema.String, Mutability: schema.Immutable},
			// Also defined by the enterprise extension: unqualified use is ambiguous.
			{Name: "department", Type: schema.String, Mutability: schema.ReadWrite},
		},
	}
	return schema.UserResourceType(schema.Extension{Schema: ext})
}

const testURN = "urn:example:params:scim:schemas:extension:test:2.0:User"

func TestApply(t *testing.T) {
	userRT := schema.UserResourceType()
	groupRT := schema.GroupResourceType()
	tests := []struct {
		name string
		rt   *schema.ResourceType // default userRT
		res  string
		ops  string // JSON array of operations
		want string // the whole resource after the PATCH
	}{
		// Okta (okta-scim.md §1.4, §1.6).
		{
			name: "okta deactivate",
			res:  oktaUser,
			ops:  `[{"op":"replace","value":{"active":false}}]`,
			want: withDoc(t, oktaUser, `{"active":false}`),
		},
		{
			name: "okta reactivate",
			res:  withDoc(t, oktaUser, `{"active":false}`),
			ops:  `[{"op":"replace","value":{"active":true}}]`,
			want: oktaUser,
		},
		{
			name: "okta password sync",
			res:  oktaUser,
			ops:  `[{"op":"replace","value":{"password":"n3w-Secret!"}}]`,
			want: withDoc(t, oktaUser, `{"password":"n3w-Secret!"}`),
		},
		{
			name: "okta group rename with id",
			rt:   groupRT,
			res:  oktaGroup,
			ops:  `[{"op":"replace","value":{"id":"g1","displayName":"New Name"}}]`,
			want: withDoc(t, oktaGroup, `{"displayName":"New Name"}`),
		},
		{
			name: "pathless schemas and meta ignored",
			res:  oktaUser,
			ops:  `[{"op":"replace","value":{"schemas":["x"],"meta":{"version":"W/\"1\""},"id":"u1","title":"CEO"}}]`,
			want: withDoc(t, oktaUser, `{"title":"CEO"}`),
		},

		// Entra ID (okta-scim.md §2.2).
		{
			name: "entra replace work email value",
			res:  oktaUser,
			ops:  `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@contoso.com"}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"primary":true,"value":"new@contoso.com","type":"work"}]}`),
		},
		{
			name: "entra replace familyName",
			res:  oktaUser,
			ops:  `[{"op":"Replace","path":"name.familyName","value":"Jensen"}]`,
			want: withDoc(t, oktaUser, `{"name":{"givenName":"Test","familyName":"Jensen"}}`),
		},
		{
			name: "entra replace userName",
			res:  oktaUser,
			ops:  `[{"op":"Replace","path":"userName","value":"bjensen@contoso.com"}]`,
			want: withDoc(t, oktaUser, `{"userName":"bjensen@contoso.com"}`),
		},
		{
			name: "entra disable with string False",
			res:  oktaUser,
			ops:  `[{"op":"Replace","path":"active","value":"False"}]`,
			want: withDoc(t, oktaUser, `{"active":false}`),
		},
		{
			name: "entra enable with string TRUE",
			res:  withDoc(t, oktaUser, `{"active":false}`),
			ops:  `[{"op":"Replace","path":"active","value":"TRUE"}]`,
			want: oktaUser,
		},
		{
			name: "entra add nickName",
			res:  oktaUser,
			ops:  `[{"op":"Add","path":"nickName","value":"Babs"}]`,
			want: withDoc(t, oktaUser, `{"nickName":"Babs"}`),
		},
		{
			name: "entra pathless replace with dotted and URN keys",
			res:  oktaUser,
			ops: `[{"op":"replace","value":{"displayName":"Barbara Jensen","name.givenName":"Barbara","name.familyName":"Jensen",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701984"}}]`,
			want: withDoc(t, oktaUser, `{"displayName":"Barbara Jensen","name":{"givenName":"Barbara","familyName":"Jensen"},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984"}}`),
		},
		{
			name: "pathless extension object",
			res:  managedUser,
			ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","costCenter":"4130"}}}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
				"department":"R&D","costCenter":"4130",
				"manager":{"value":"m1","$ref":"https://example.com/scim/v2/Users/m1","displayName":"Boss"}}}`),
		},
		{
			name: "entra manager add, old array shape with unqualified path",
			res:  oktaUser,
			ops:  `[{"op":"Add","path":"manager","value":[{"$ref":"https://example.com/scim/v2/Users/m2","value":"m2"}]}]`,
			want: withDoc(t, oktaUser, `{
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m2","$ref":"https://example.com/scim/v2/Users/m2"}}}`),
		},
		{
			name: "entra manager add, validator shape",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}}]`,
			want: withDoc(t, oktaUser, `{
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m2"}}}`),
		},
		{
			name: "entra manager as bare id",
			res:  oktaUser,
			ops:  `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"}]`,
			want: withDoc(t, oktaUser, `{
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m2"}}}`),
		},
		{
			name: "entra manager replace drops stale ref and displayName",
			res:  managedUser,
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"m2"}}}`),
		},
		{
			name: "manager replace with same value merges",
			res:  managedUser,
			ops:  `[{"op":"replace","path":"manager","value":{"value":"m1","$ref":"https://example.com/Users/m1"}}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales",
				"manager":{"value":"m1","$ref":"https://example.com/Users/m1","displayName":"Boss"}}}`),
		},
		{
			name: "entra manager remove by URN path",
			res:  managedUser,
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		},
		{
			name: "entra manager remove as replace with empty string",
			res:  managedUser,
			ops:  `[{"op":"Replace","path":"manager","value":""}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		},
		{
			name: "entra manager remove as replace with null",
			res:  managedUser,
			ops:  `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":null}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		},
		{
			name: "entra manager remove as replace with empty value object",
			res:  managedUser,
			ops:  `[{"op":"Replace","path":"manager","value":{"value":""}}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		},
		{
			name: "entra manager remove with filter on single-valued attribute",
			res:  managedUser,
			ops:  `[{"op":"remove","path":"manager[value eq \"m1\"]"}]`,
			want: withDoc(t, managedUser, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		},
		{
			name: "manager remove with non-matching filter is a no-op",
			res:  managedUser,
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"other\"]"}]`,
			want: managedUser,
		},
		{
			name: "manager remove with non-matching value is a no-op",
			res:  managedUser,
			ops:  `[{"op":"Remove","path":"manager","value":[{"value":"other"}]}]`,
			want: managedUser,
		},
		{
			name: "removing the last extension attribute drops the extension",
			res:  managedUser,
			ops:  `[{"op":"remove","path":"manager"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`,
			want: withDoc(t, managedUser, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}`),
		},
		{
			name: "remove whole extension by URN",
			res:  managedUser,
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want: withDoc(t, managedUser, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}`),
		},
		{
			name: "entra null-update clears with null and empty string",
			res:  withDoc(t, oktaUser, `{"nickName":"Babs","title":"CEO"}`),
			ops:  `[{"op":"Replace","path":"nickName","value":null},{"op":"Replace","path":"title","value":""},{"op":"replace","path":"name.givenName","value":""}]`,
			want: withDoc(t, oktaUser, `{"name":{"familyName":"User"}}`),
		},
		{
			name: "null-update in pathless value",
			res:  withDoc(t, oktaUser, `{"nickName":"Babs"}`),
			ops:  `[{"op":"replace","value":{"nickName":null,"locale":""}}]`,
			want: withDoc(t, oktaUser, `{"locale":null}`),
		},
		{
			name: "entra add on unmatched value path creates the element",
			res:  oktaUser,
			ops:  `[{"op":"Add","path":"emails[type eq \"home\"].value","value":"home@example.com"}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"},{"type":"home","value":"home@example.com"}]}`),
		},
		{
			name: "entra replace on unmatched value path acts as add",
			res:  oktaUser,
			ops:  `[{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0100"}]`,
			want: withDoc(t, oktaUser, `{"phoneNumbers":[{"type":"mobile","value":"+1 555 0100"}]}`),
		},
		{
			name: "entra several address adds land in one element",
			res:  oktaUser,
			ops: `[{"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},
				{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Springfield"},
				{"op":"Add","path":"addresses[type eq \"work\"].postalCode","value":"12345"},
				{"op":"Add","path":"addresses[type eq \"work\"].country","value":"US"}]`,
			want: withDoc(t, oktaUser, `{"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Springfield","postalCode":"12345","country":"US"}]}`),
		},
		{
			name: "entra boolean strings inside objects",
			res:  oktaUser,
			ops:  `[{"op":"Add","path":"roles","value":[{"value":"admin","primary":"True"},{"value":"user","primary":"false"}]}]`,
			want: withDoc(t, oktaUser, `{"roles":[{"value":"admin","primary":true},{"value":"user","primary":false}]}`),
		},
		{
			name: "filtered sub-attribute with boolean string constraint",
			res:  withDoc(t, oktaUser, `{"roles":[{"value":"admin","primary":true}]}`),
			ops:  `[{"op":"replace","path":"roles[primary eq \"True\"].display","value":"Administrator"}]`,
			want: withDoc(t, oktaUser, `{"roles":[{"value":"admin","primary":true,"display":"Administrator"}]}`),
		},

		// RFC 7644 §3.5.2.
		{
			name: "add to multi-valued appends and moves primary",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"emails","value":[{"value":"b@example.com","type":"home","primary":true}]}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"primary":false,"value":"test.user@okta.local","type":"work"},{"value":"b@example.com","type":"home","primary":true}]}`),
		},
		{
			name: "add duplicate element is merged, not repeated",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"emails","value":[{"value":"TEST.USER@okta.local","type":"work","display":"Work"}]}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"primary":true,"value":"TEST.USER@okta.local","type":"work","display":"Work"}]}`),
		},
		{
			name: "add single object to multi-valued is wrapped",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"phoneNumbers","value":{"value":"555","type":"work"}}]`,
			want: withDoc(t, oktaUser, `{"phoneNumbers":[{"value":"555","type":"work"}]}`),
		},
		{
			name: "pathless add merges complex and appends multi-valued",
			res:  oktaUser,
			ops:  `[{"op":"add","value":{"name":{"middleName":"Q"},"emails":[{"value":"x@example.com","type":"other"}]}}]`,
			want: withDoc(t, oktaUser, `{"name":{"givenName":"Test","familyName":"User","middleName":"Q"},
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"},{"value":"x@example.com","type":"other"}]}`),
		},
		{
			name: "replace multi-valued replaces the set",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"emails","value":[{"value":"a@example.com","type":"work","primary":true}]}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"value":"a@example.com","type":"work","primary":true}]}`),
		},
		{
			name: "null sub-attribute in a complex value clears it",
			res:  oktaUser,
			ops:  `[{"op":"replace","value":{"name":{"givenName":null,"middleName":"Q"}}}]`,
			want: withDoc(t, oktaUser, `{"name":{"familyName":"User","middleName":"Q"}}`),
		},
		{
			name: "replace complex merges sub-attributes",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"name","value":{"givenName":"Babs"}}]`,
			want: withDoc(t, oktaUser, `{"name":{"givenName":"Babs","familyName":"User"}}`),
		},
		{
			name: "replace filtered element keeps the filter's constraints",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w@example.com"}}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"value":"w@example.com","type":"work"}]}`),
		},
		{
			name: "remove filtered elements",
			res:  withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work"},{"value":"b@x.com","type":"home"}]}`),
			ops:  `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"value":"b@x.com","type":"home"}]}`),
		},
		{
			name: "remove the only filtered element removes the attribute",
			res:  oktaUser,
			ops:  `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want: withDoc(t, oktaUser, `{"emails":null}`),
		},
		{
			name: "remove filtered value drops the hollow element",
			res:  oktaUser,
			ops:  `[{"op":"remove","path":"emails[type eq \"work\"].value"}]`,
			want: withDoc(t, oktaUser, `{"emails":null}`),
		},
		{
			name: "remove sub-attribute of every element drops hollow elements",
			res:  withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work","primary":true},{"value":"b@x.com","display":"B"}]}`),
			ops:  `[{"op":"remove","path":"emails.value"}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"display":"B"}]}`),
		},
		{
			name: "replace multi-valued with empty array clears it",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"emails","value":[]}]`,
			want: withDoc(t, oktaUser, `{"emails":null}`),
		},
		{
			name: "add empty values is a no-op",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"emails","value":[]},{"op":"add","path":"name","value":{}},{"op":"add","path":"manager","value":[]}]`,
			want: oktaUser,
		},
		{
			name: "remove sub-attribute",
			res:  oktaUser,
			ops:  `[{"op":"remove","path":"name.givenName"}]`,
			want: withDoc(t, oktaUser, `{"name":{"familyName":"User"}}`),
		},
		{
			name: "remove absent attribute is a no-op",
			res:  oktaUser,
			ops:  `[{"op":"remove","path":"nickName"},{"op":"remove","path":"addresses[type eq \"work\"]"},{"op":"remove","path":"manager"}]`,
			want: oktaUser,
		},
		{
			name: "remove listed values of a multi-valued attribute",
			res:  withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work"},{"value":"b@x.com","type":"home"}]}`),
			ops:  `[{"op":"remove","path":"emails","value":[{"value":"b@x.com"}]}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work"}]}`),
		},
		{
			name: "remove multi-valued attribute",
			res:  oktaUser,
			ops:  `[{"op":"remove","path":"emails"}]`,
			want: withDoc(t, oktaUser, `{"emails":null}`),
		},
		{
			name: "paths are case-insensitive and written canonically",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"NAME.GIVENNAME","value":"Babs"},{"op":"ADD","path":"Emails[TYPE eq \"home\"].VALUE","value":"h@x.com"},{"op":"add","value":{"NickName":"B"}}]`,
			want: withDoc(t, oktaUser, `{"name":{"givenName":"Babs","familyName":"User"},"nickName":"B",
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"},{"type":"home","value":"h@x.com"}]}`),
		},
		{
			name: "core URN-qualified path",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName","value":"Babs"}]`,
			want: withDoc(t, oktaUser, `{"name":{"givenName":"Babs","familyName":"User"}}`),
		},
		{
			name: "sub-attribute of multi-valued attribute without filter sets every element",
			res:  withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work"},{"value":"b@x.com","type":"home"}]}`),
			ops:  `[{"op":"replace","path":"emails.display","value":"E"}]`,
			want: withDoc(t, oktaUser, `{"emails":[{"value":"a@x.com","type":"work","display":"E"},{"value":"b@x.com","type":"home","display":"E"}]}`),
		},
		{
			name: "non-canonical keys in the stored resource are renamed",
			res:  withDoc(t, oktaUser, `{"NickName":"old"}`),
			ops:  `[{"op":"replace","path":"nickName","value":"new"}]`,
			want: withDoc(t, oktaUser, `{"nickName":"new"}`),
		},
		{
			name: "readOnly attribute set to its current value is a no-op",
			res:  oktaUser,
			ops:  `[{"op":"replace","path":"id","value":"u1"},{"op":"add","value":{"groups":[]}}]`,
			want: oktaUser,
		},
		{
			name: "readOnly sub-attributes in values are dropped",
			res:  oktaUser,
			ops:  `[{"op":"add","path":"manager","value":{"value":"m2","displayName":"Ignored"}}]`,
			want: withDoc(t, oktaUser, `{
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m2"}}}`),
		},
		{
			name: "group members in the resource map",
			rt:   groupRT,
			res:  withDoc(t, oktaGroup, `{"members":[{"value":"u1"}]}`),
			ops:  `[{"op":"add","path":"members","value":[{"value":"u2","display":"x"},{"value":"u1","$ref":null}]}]`,
			want: withDoc(t, oktaGroup, `{"members":[{"value":"u1"},{"value":"u2"}]}`),
		},
		{
			name: "all types",
			rt:   testRT(),
			res:  `{"id":"u1","userName":"x"}`,
			ops: `[{"op":"add","path":"badge","value":42},{"op":"add","path":"score","value":1.5},
				{"op":"add","path":"hired","value":"2024-02-29T12:00:00.5+01:00"},{"op":"add","path":"vip","value":"true"},
				{"op":"add","path":"tags","value":"a"},{"op":"add","path":"tags","value":["b","a"]},
				{"op":"add","path":"employeeId","value":"E1"},{"op":"replace","path":"employeeId","value":"E1"}]`,
			want: `{"id":"u1","userName":"x","` + testURN + `":{"badge":42,"score":1.5,"hired":"2024-02-29T12:00:00.5+01:00","vip":true,"tags":["a","b"],"employeeId":"E1"}}`,
		},
		{
			name: "remove listed simple values",
			rt:   testRT(),
			res:  `{"id":"u1","userName":"x","` + testURN + `":{"tags":["a","b","c"]}}`,
			ops:  `[{"op":"remove","path":"` + testURN + `:tags","value":["a","c"]}]`,
			want: `{"id":"u1","userName":"x","` + testURN + `":{"tags":["b"]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.rt
			if rt == nil {
				rt = userRT
			}
			req, err := Decode([]byte(patchBody(tt.ops)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			res := jsonMap(t, tt.res)
			before := toJSON(res)
			got, err := Apply(context.Background(), rt, res, req.Operations)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if after := toJSON(res); after != before {
				t.Errorf("Apply modified its input:\n got %s\nwant %s", after, before)
			}
			want := jsonMap(t, tt.want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Apply:\n got %s\nwant %s", toJSON(got), toJSON(want))
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	userRT := schema.UserResourceType()
	groupRT := schema.GroupResourceType()
	tests := []struct {
		name     string
		rt       *schema.ResourceType
		res      string
		ops      []Operation
		scimType string
	}{
		{"remove without path", nil, oktaUser, []Operation{{Op: "remove"}}, scimerr.NoTargetType},
		{"replace unmatched filter without eq", nil, oktaUser,
			[]Operation{{Op: "replace", Path: `emails[value co "zzz"].type`, Value: "home"}}, scimerr.NoTargetType},
		{"replace unmatched filter with or", nil, oktaUser,
			[]Operation{{Op: "replace", Path: `emails[type eq "a" or type eq "b"].value`, Value: "x@y"}}, scimerr.NoTargetType},
		{"unknown attribute", nil, oktaUser, []Operation{{Op: "replace", Path: "shoeSize", Value: "9"}}, scimerr.InvalidPathType},
		{"unknown sub-attribute", nil, oktaUser, []Operation{{Op: "replace", Path: "name.nickName", Value: "x"}}, scimerr.InvalidPathType},
		{"unknown sub-attribute after filter", nil, oktaUser,
			[]Operation{{Op: "replace", Path: `emails[type eq "work"].street`, Value: "x"}}, scimerr.InvalidPathType},
		{"unknown attribute in filter", nil, oktaUser,
			[]Operation{{Op: "replace", Path: `emails[kind eq "work"].value`, Value: "x"}}, scimerr.InvalidPathType},
		{"unknown schema", nil, oktaUser,
			[]Operation{{Op: "replace", Path: "urn:example:nope:2.0:User:foo", Value: "x"}}, scimerr.InvalidPathType},
		{"bad path syntax", nil, oktaUser, []Operation{{Op: "replace", Path: `emails[type eq "work"`, Value: "x"}}, scimerr.InvalidPathType},
		{"bad path dots", nil, oktaUser, []Operation{{Op: "replace", Path: `name.givenName.x`, Value: "x"}}, scimerr.InvalidPathType},
		{"filter on simple attribute", nil, oktaUser, []Operation{{Op: "remove", Path: `userName[value eq "x"]`}}, scimerr.InvalidPathType},
		{"core schema as path", nil, oktaUser, []Operation{{Op: "remove", Path: schema.UserURN}}, scimerr.InvalidPathType},
		{"unknown pathless key", nil, oktaUser,
			[]Operation{{Op: "replace", Value: map[string]any{"active": false, "shoeSize": "9"}}}, scimerr.InvalidPathType},
		{"ambiguous unqualified extension attribute", testRT(), oktaUser,
			[]Operation{{Op: "replace", Path: "department", Value: "x"}}, scimerr.InvalidPathType},
		{"unknown op", nil, oktaUser, []Operation{{Op: "copy", Path: "userName", Value: "x"}}, scimerr.InvalidSyntaxType},

		{"string for boolean", nil, oktaUser, []Operation{{Op: "replace", Path: "active", Value: "yes"}}, scimerr.InvalidValueType},
		{"number for string", nil, oktaUser, []Operation{{Op: "replace", Path: "userName", Value: 5.0}}, scimerr.InvalidValueType},
		{"string for complex", nil, oktaUser, []Operation{{Op: "replace", Path: "name", Value: "Babs Jensen"}}, scimerr.InvalidValueType},
		{"string for multi-valued complex", nil, oktaUser, []Operation{{Op: "add", Path: "emails", Value: "a@example.com"}}, scimerr.InvalidValueType},
		{"unknown sub-attribute in value", nil, oktaUser,
			[]Operation{{Op: "add", Path: "name", Value: map[string]any{"nick": "x"}}}, scimerr.InvalidValueType},
		{"wrong sub-attribute type", nil, oktaUser,
			[]Operation{{Op: "add", Path: "emails", Value: []any{map[string]any{"value": "a@x", "primary": "maybe"}}}}, scimerr.InvalidValueType},
		{"array for single-valued", nil, oktaUser, []Operation{{Op: "replace", Path: "nickName", Value: []any{"a", "b"}}}, scimerr.InvalidValueType},
		{"pathless non-object", nil, oktaUser, []Operation{{Op: "replace", Value: "active"}}, scimerr.InvalidValueType},
		{"pathless null", nil, oktaUser, []Operation{{Op: "add"}}, scimerr.InvalidValueType},
		{"fraction for integer", testRT(), oktaUser, []Operation{{Op: "add", Path: "badge", Value: 1.5}}, scimerr.InvalidValueType},
		{"string for decimal", testRT(), oktaUser, []Operation{{Op: "add", Path: "score", Value: "1.5"}}, scimerr.InvalidValueType},
		{"bad dateTime", testRT(), oktaUser, []Operation{{Op: "add", Path: "hired", Value: "yesterday"}}, scimerr.InvalidValueType},
		{"extension value not an object", nil, oktaUser,
			[]Operation{{Op: "add", Value: map[string]any{entURN: "x"}}}, scimerr.InvalidValueType},

		{"change id", nil, oktaUser, []Operation{{Op: "replace", Path: "id", Value: "u2"}}, scimerr.MutabilityType},
		{"change id in pathless value", groupRT, oktaGroup,
			[]Operation{{Op: "replace", Value: map[string]any{"id": "g2", "displayName": "New"}}}, scimerr.MutabilityType},
		{"remove id", nil, oktaUser, []Operation{{Op: "remove", Path: "id"}}, scimerr.MutabilityType},
		{"set meta sub-attribute", nil, oktaUser, []Operation{{Op: "replace", Path: "meta.created", Value: "2020-01-01T00:00:00Z"}}, scimerr.MutabilityType},
		{"add groups", nil, oktaUser, []Operation{{Op: "add", Path: "groups", Value: []any{map[string]any{"value": "g1"}}}}, scimerr.MutabilityType},
		{"add groups in pathless value", nil, oktaUser,
			[]Operation{{Op: "add", Value: map[string]any{"groups": []any{map[string]any{"value": "g1"}}}}}, scimerr.MutabilityType},
		{"manager displayName", nil, managedUser, []Operation{{Op: "replace", Path: "manager.displayName", Value: "X"}}, scimerr.MutabilityType},
		{"member display", groupRT, withDoc(t, oktaGroup, `{"members":[{"value":"u1"}]}`),
			[]Operation{{Op: "replace", Path: `members[value eq "u1"].display`, Value: "X"}}, scimerr.MutabilityType},
		{"member value is immutable", groupRT, withDoc(t, oktaGroup, `{"members":[{"value":"u1"}]}`),
			[]Operation{{Op: "replace", Path: `members[value eq "u1"].value`, Value: "u2"}}, scimerr.MutabilityType},
		{"remove userName", nil, oktaUser, []Operation{{Op: "remove", Path: "userName"}}, scimerr.MutabilityType},
		{"clear userName", nil, oktaUser, []Operation{{Op: "replace", Path: "userName", Value: ""}}, scimerr.MutabilityType},
		{"clear userName in pathless value", nil, oktaUser,
			[]Operation{{Op: "replace", Value: map[string]any{"userName": nil}}}, scimerr.MutabilityType},
		{"remove group displayName", groupRT, oktaGroup, []Operation{{Op: "remove", Path: "displayName"}}, scimerr.MutabilityType},
		{"change immutable", testRT(), `{"id":"u1","userName":"x","` + testURN + `":{"employeeId":"E1"}}`,
			[]Operation{{Op: "replace", Path: "employeeId", Value: "E2"}}, scimerr.MutabilityType},
		{"remove immutable", testRT(), `{"id":"u1","userName":"x","` + testURN + `":{"employeeId":"E1"}}`,
			[]Operation{{Op: "remove", Path: testURN + ":employeeId"}}, scimerr.MutabilityType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.rt
			if rt == nil {
				rt = userRT
			}
			res := jsonMap(t, tt.res)
			before := toJSON(res)
			got, err := Apply(context.Background(), rt, res, tt.ops)
			if err == nil {
				t.Fatalf("Apply succeeded, want %s error; result %s", tt.scimType, toJSON(got))
			}
			e, ok := scimerr.As(err)
			if !ok || e.Status != http.StatusBadRequest || e.ScimType != tt.scimType {
				t.Fatalf("Apply error = %v, want 400 %s", err, tt.scimType)
			}
			if !strings.HasPrefix(e.Detail, "Operations[0]: ") {
				t.Errorf("detail %q does not name the operation", e.Detail)
			}
			if got != nil {
				t.Errorf("Apply returned a resource with its error: %s", toJSON(got))
			}
			if after := toJSON(res); after != before {
				t.Errorf("Apply modified its input:\n got %s\nwant %s", after, before)
			}
		})
	}
}

// TestApplyAllOrNothing checks that a failing operation after successful ones
// leaves the input untouched, even for in-place edits of nested values.
func TestApplyAllOrNothing(t *testing.T) {
	rt := schema.UserResourceType()
	res := jsonMap(t, managedUser)
	res["emails"] = jsonValue(t, `[{"value":"a@x.com","type":"work","primary":true}]`)
	res["name"] = jsonValue(t, `{"givenName":"A"}`)
	want := jsonMap(t, toJSON(res))
	ops := []Operation{
		{Op: "replace", Value: map[string]any{"active": false, "name.givenName": "B"}},
		{Op: "replace", Path: `emails[type eq "work"].value`, Value: "b@x.com"},
		{Op: "add", Path: "emails", Value: map[string]any{"value": "c@x.com", "primary": true}},
		{Op: "remove", Path: "manager"},
		{Op: "add", Path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Value: "Ops"},
		{Op: "replace", Path: "userName", Value: true}, // fails
	}
	got, err := Apply(context.Background(), rt, res, ops)
	if e, ok := scimerr.As(err); !ok || e.ScimType != scimerr.InvalidValueType || !strings.HasPrefix(e.Detail, "Operations[5]: ") {
		t.Fatalf("Apply error = %v, want invalidValue in Operations[5]", err)
	}
	if got != nil {
		t.Errorf("Apply returned %s with its error", toJSON(got))
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("input modified:\n got %s\nwant %s", toJSON(res), toJSON(want))
	}

	// On success too, neither the input nor the operation values are shared
	// with the result.
	ops = ops[:5]
	got, err = Apply(context.Background(), rt, res, ops)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("input modified on success:\n got %s\nwant %s", toJSON(res), toJSON(want))
	}
	got["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	if v := ops[2].Value.(map[string]any)["value"]; v != "c@x.com" {
		t.Errorf("result shares memory with the operations: %v", v)
	}
	if v := res["emails"].([]any)[0].(map[string]any)["value"]; v != "a@x.com" {
		t.Errorf("result shares memory with the input: %v", v)
	}
}

func TestApplyNilResource(t *testing.T) {
	got, err := Apply(context.Background(), schema.UserResourceType(), nil, []Operation{{Op: "add", Path: "userName", Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"userName": "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Operation
	}{
		{
			name: "okta deactivate",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: []Operation{{Op: "replace", Value: map[string]any{"active": false}}},
		},
		{
			name: "entra capitalised ops and string boolean",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"nickName","value":"Babs"},
				{"op":"Remove","path":"members","value":[{"value":"u1"}]},{"op":"REMOVE","path":" nickName "}]}`,
			want: []Operation{
				{Op: "replace", Path: "active", Value: "False"},
				{Op: "add", Path: "nickName", Value: "Babs"},
				{Op: "remove", Path: "members", Value: []any{map[string]any{"value": "u1"}}},
				{Op: "remove", Path: "nickName"},
			},
		},
		{
			name: "schema URN case, extra schemas, lower-case keys, null value",
			body: `{"schemas":["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP","urn:example:other"],"operations":[{"OP":"replace","Path":"title","Value":null}],"extra":1}`,
			want: []Operation{{Op: "replace", Path: "title"}},
		},
		{
			name: "numbers decode as float64",
			body: patchBody(`[{"op":"add","path":"x","value":{"n":1}}]`),
			want: []Operation{{Op: "add", Path: "x", Value: map[string]any{"n": 1.0}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.Operations, tt.want) {
				t.Errorf("got %#v, want %#v", req.Operations, tt.want)
			}
			if len(req.Schemas) == 0 {
				t.Errorf("schemas not kept")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":          `{"schemas":`,
		"trailing data":     patchBody(`[{"op":"remove","path":"x"}]`) + `{}`,
		"array body":        `[]`,
		"null body":         `null`,
		"missing schemas":   `{"Operations":[{"op":"remove","path":"x"}]}`,
		"wrong schema":      `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"x"}]}`,
		"schemas string":    `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"remove","path":"x"}]}`,
		"no operations":     patchBody(`[]`),
		"operations absent": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		"operations object": patchBody(`{"op":"remove","path":"x"}`),
		"missing op":        patchBody(`[{"path":"x"}]`),
		"unknown op":        patchBody(`[{"op":"move","path":"x"}]`),
		"op not a string":   patchBody(`[{"op":1,"path":"x"}]`),
		"null operation":    patchBody(`[null]`),
		"path not a string": patchBody(`[{"op":"remove","path":["x"]}]`),
		"add without value": patchBody(`[{"op":"add","path":"x"}]`),
		"replace no value":  patchBody(`[{"op":"replace"}]`),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := Decode([]byte(body))
			e, ok := scimerr.As(err)
			if !ok || e.Status != http.StatusBadRequest || e.ScimType != scimerr.InvalidSyntaxType {
				t.Fatalf("Decode = %+v, %v; want 400 invalidSyntax", req, err)
			}
		})
	}
}

func TestSplitMembers(t *testing.T) {
	groupRT := schema.GroupResourceType()
	tests := []struct {
		name string
		ops  string
		rest []Operation
		mc   MemberChange
	}{
		{
			name: "okta rename plus remove then add",
			ops: `[{"op":"replace","value":{"id":"g1","displayName":"Test SCIMv2"}},
				{"op":"remove","path":"members[value eq \"u1\"]"},
				{"op":"add","path":"members","value":[{"value":"u2","display":"u2@example.com"},{"value":"u3","display":"u3@example.com"}]}]`,
			rest: []Operation{{Op: "replace", Value: map[string]any{"id": "g1", "displayName": "Test SCIMv2"}}},
			mc:   MemberChange{Add: []string{"u2", "u3"}, Remove: []string{"u1"}},
		},
		{
			name: "okta replace members",
			ops:  `[{"op":"replace","path":"members","value":[{"value":"u1","display":"a"},{"value":"u2","display":"b"},{"value":"u1"}]}]`,
			mc:   MemberChange{Add: []string{"u1", "u2"}, ReplaceAll: true},
		},
		{
			name: "replace then add and remove",
			ops:  `[{"op":"replace","path":"members","value":[{"value":"u1"}]},{"op":"add","path":"members","value":[{"value":"u2"}]},{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			mc:   MemberChange{Add: []string{"u2"}, ReplaceAll: true},
		},
		{
			name: "entra remove listed members only",
			ops:  `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			mc:   MemberChange{Remove: []string{"u1", "u2"}},
		},
		{
			name: "entra add member with null ref",
			ops:  `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]}]`,
			mc:   MemberChange{Add: []string{"u1"}},
		},
		{
			name: "remove all members",
			ops:  `[{"op":"add","path":"members","value":[{"value":"u9"}]},{"op":"remove","path":"members"}]`,
			mc:   MemberChange{Add: []string{}, ReplaceAll: true},
		},
		{
			name: "replace with empty list empties the group",
			ops:  `[{"op":"replace","path":"members","value":[]}]`,
			mc:   MemberChange{Add: []string{}, ReplaceAll: true},
		},
		{
			name: "remove then add same member",
			ops:  `[{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
			mc:   MemberChange{Add: []string{"u1"}, Remove: []string{}},
		},
		{
			name: "add then remove same member",
			ops:  `[{"op":"add","path":"members","value":{"value":"u1"}},{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			mc:   MemberChange{Add: []string{}, Remove: []string{"u1"}},
		},
		{
			name: "or filter and qualified path",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:core:2.0:Group:Members[value eq \"a\" or value eq \"b\"]"}]`,
			mc:   MemberChange{Remove: []string{"a", "b"}},
		},
		{
			name: "replace filtered member",
			ops:  `[{"op":"replace","path":"members[value eq \"a\"]","value":[{"value":"b"}]}]`,
			mc:   MemberChange{Add: []string{"b"}, Remove: []string{"a"}},
		},
		{
			name: "pathless replace with members and displayName",
			ops:  `[{"op":"replace","value":{"displayName":"New","members":[{"value":"u1"}]}}]`,
			rest: []Operation{{Op: "replace", Value: map[string]any{"displayName": "New"}}},
			mc:   MemberChange{Add: []string{"u1"}, ReplaceAll: true},
		},
		{
			name: "pathless add with members only",
			ops:  `[{"op":"Add","value":{"members":[{"value":"u1"}]}}]`,
			mc:   MemberChange{Add: []string{"u1"}},
		},
		{
			name: "no member operations",
			ops:  `[{"op":"Replace","path":"displayName","value":"New"},{"op":"remove","path":"externalId"}]`,
			rest: []Operation{{Op: "replace", Path: "displayName", Value: "New"}, {Op: "remove", Path: "externalId"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(patchBody(tt.ops)))
			if err != nil {
				t.Fatal(err)
			}
			rest, mc, err := SplitMembers(groupRT, req.Operations)
			if err != nil {
				t.Fatal(err)
			}
			if len(rest) != len(tt.rest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.rest)) {
				t.Errorf("rest = %#v, want %#v", rest, tt.rest)
			}
			if !sameIDs(mc.Add, tt.mc.Add) || !sameIDs(mc.Remove, tt.mc.Remove) || mc.ReplaceAll != tt.mc.ReplaceAll {
				t.Errorf("change = %#v, want %#v", mc, tt.mc)
			}
			if tt.mc.ReplaceAll && mc.Add == nil {
				t.Errorf("ReplaceAll with nil Add; want an empty, non-nil slice")
			}
		})
	}
}

func sameIDs(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestSplitMembersErrors(t *testing.T) {
	groupRT := schema.GroupResourceType()
	tests := []struct {
		name, ops, scimType string
	}{
		{"member without value", `[{"op":"add","path":"members","value":[{"display":"x"}]}]`, scimerr.InvalidValueType},
		{"member empty value", `[{"op":"add","path":"members","value":[{"value":""}]}]`, scimerr.InvalidValueType},
		{"member value not a string", `[{"op":"add","path":"members","value":[{"value":5}]}]`, scimerr.InvalidValueType},
		{"member as string", `[{"op":"add","path":"members","value":["u1"]}]`, scimerr.InvalidValueType},
		{"members as string", `[{"op":"replace","path":"members","value":"u1"}]`, scimerr.InvalidValueType},
		{"entra remove malformed list", `[{"op":"Remove","path":"members","value":[{"id":"u1"}]}]`, scimerr.InvalidValueType},
		{"pathless malformed", `[{"op":"replace","value":{"members":[null]}}]`, scimerr.InvalidValueType},
		{"unsupported filter", `[{"op":"remove","path":"members[display eq \"x\"]"}]`, scimerr.InvalidFilterType},
		{"sub-attribute path", `[{"op":"replace","path":"members.value","value":"x"}]`, scimerr.MutabilityType},
		{"filtered sub-attribute path", `[{"op":"replace","path":"members[value eq \"a\"].display","value":"x"}]`, scimerr.MutabilityType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(patchBody(tt.ops)))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = SplitMembers(groupRT, req.Operations)
			if e, ok := scimerr.As(err); !ok || e.Status != http.StatusBadRequest || e.ScimType != tt.scimType {
				t.Fatalf("SplitMembers error = %v, want 400 %s", err, tt.scimType)
			}
		})
	}
}

func TestSplitMembersUser(t *testing.T) {
	ops := []Operation{{Op: "add", Path: "members", Value: []any{map[string]any{"value": "x"}}}}
	rest, mc, err := SplitMembers(schema.UserResourceType(), ops)
	if err != nil || !mc.Empty() || !reflect.DeepEqual(rest, ops) {
		t.Fatalf("SplitMembers(User) = %v, %+v, %v; want ops unchanged", rest, mc, err)
	}
	if _, err := Apply(context.Background(), schema.UserResourceType(), jsonMap(t, oktaUser), rest); err == nil {
		t.Fatal("Apply accepted members on a User")
	}
}

// TestSplitThenApply runs a full Okta group PATCH the way the handler does.
func TestSplitThenApply(t *testing.T) {
	rt := schema.GroupResourceType()
	req, err := Decode([]byte(patchBody(`[{"op":"replace","value":{"id":"g1","displayName":"Renamed"}},
		{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2","display":"u2@x"}]}]`)))
	if err != nil {
		t.Fatal(err)
	}
	rest, mc, err := SplitMembers(rt, req.Operations)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(context.Background(), rt, jsonMap(t, oktaGroup), rest)
	if err != nil {
		t.Fatal(err)
	}
	if got["displayName"] != "Renamed" || got["members"] != nil {
		t.Errorf("got %s", toJSON(got))
	}
	if !reflect.DeepEqual(mc, MemberChange{Add: []string{"u2"}, Remove: []string{"u1"}}) {
		t.Errorf("change = %+v", mc)
	}
}

func TestChanged(t *testing.T) {
	tests := []struct {
		rt   *schema.ResourceType
		ops  string
		want []string
	}{
		{schema.UserResourceType(), `[{"op":"replace","value":{"active":false}}]`, []string{"active"}},
		{schema.GroupResourceType(), `[{"op":"replace","value":{"id":"g1","displayName":"x","meta":{}}},{"op":"remove","path":"members[value eq \"u\"]"},{"op":"add","path":"MEMBERS","value":[]}]`,
			[]string{"displayName", "members"}},
		{schema.UserResourceType(), `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x"},{"op":"Add","path":"manager","value":"m"},
			{"op":"replace","value":{"name.givenName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1"}},
			{"op":"remove","path":"bogus"}]`,
			[]string{"emails", "name", entURN}},
	}
	for _, tt := range tests {
		req, err := Decode([]byte(patchBody(tt.ops)))
		if err != nil {
			t.Fatal(err)
		}
		if got := Changed(tt.rt, req.Operations); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Changed(%s) = %q, want %q", tt.ops, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	rt := schema.UserResourceType()
	tests := []struct {
		path   string
		want   string // canonical attribute path
		filter string // the value filter, as filter.Expr's String writes it
	}{
		{"userName", "userName", ""},
		{" NAME.givenname ", "name.givenName", ""},
		{"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "name.givenName", ""},
		{"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager.Value", entURN + ":manager.value", ""},
		{"manager", entURN + ":manager", ""},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", entURN, ""},
		{"id", "id", ""},
		{"meta.lastModified", "meta.lastModified", ""},
		{`emails[type eq "work"]`, "emails", `type eq "work"`},
		{`emails[type eq "work"].value`, "emails.value", `type eq "work"`},
		{`emails [ TYPE EQ "work" ].Value`, "emails.value", `TYPE eq "work"`},
		{`emails[type eq "work" and value co "@x" and primary eq true]`, "emails", `type eq "work" and value co "@x" and primary eq true`},
		{`emails[(type eq "work" or type eq "home") and not (primary eq false)]`, "emails", `(type eq "work" or type eq "home") and not (primary eq false)`},
		{`emails[value pr]`, "emails", `value pr`},
		{`emails[value eq "a]b\"c"]`, "emails", `value eq "a]b\"c"`},
		{`emails[type eq work]`, "emails", `type eq "work"`}, // a bare word, as in filters
		{`x509Certificates[value eq "x"].value`, "x509Certificates.value", `value eq "x"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m1"]`, entURN + ":manager", `value eq "m1"`},
		{`roles[primary eq "True"].display`, "roles.display", `primary eq "True"`},
		{`name[givenName eq "a"].familyName`, "name.familyName", `givenName eq "a"`},
		{`addresses[type eq "work"].postalCode`, "addresses.postalCode", `type eq "work"`},
	}
	for _, tt := range tests {
		p, err := parsePath(rt, tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("parsePath(%q) = %q, want %q", tt.path, got, tt.want)
		}
		var filter string
		if p.expr != nil {
			filter = fmt.Sprint(p.expr)
		}
		if filter != tt.filter {
			t.Errorf("parsePath(%q) filter = %s, want %s", tt.path, filter, tt.filter)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	rt := schema.UserResourceType()
	for _, path := range []string{
		"", " ", "userName.", ".userName", "name..givenName", "name.givenName.x", "user name", "nick-Name!", "1abc",
		"emails[", "emails]", `emails[type eq "work"`, `emails[type eq "work"]x`, `emails[type eq "work"].`,
		`emails[type eq "work"].value.x`, `emails[type eq "work"][value pr]`, `emails[type[x eq 1]]`,
		`emails[type eq 01]`, `emails[type eq -work]`, `emails[type eq w\x]`, `emails[type eq "work]`, `emails[type eq]`, `emails[type xx "a"]`, `emails[type eq "a" and]`,
		`emails[not type eq "a"]`, `emails[(type eq "a"]`, `emails[type eq "a")]`, `emails[]`, `emails[type eq "a" "b"]`,
		`emails[type eq 1e999]`, `emails[urn:x:type eq "a"]`, `emails[foo eq "a"]`, `emails[type gt true]`,
		`emails[primary eq 1]`, `userName[value eq "a"]`, `name.givenName[value eq "a"]`,
		"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:User:", "urn::x", "foo:bar",
		"urn:example:unknown:1.0:attr", "password[value eq \"x\"]",
		"emails[" + strings.Repeat("(", 40) + `type eq "a"` + strings.Repeat(")", 40) + "]",
		strings.Repeat("a", 4097),
	} {
		p, err := parsePath(rt, path)
		if e, ok := scimerr.As(err); !ok || e.ScimType != scimerr.InvalidPathType {
			t.Errorf("parsePath(%q) = %v, %v; want invalidPath", path, p, err)
		}
	}
}

func TestEqConstraints(t *testing.T) {
	rt := schema.UserResourceType()
	tests := []struct {
		path string
		want map[string]any // nil: no constraints
	}{
		{`emails[type eq "work"]`, map[string]any{"type": "work"}},
		{`emails[TYPE eq "work" and value eq "a\"b@x"]`, map[string]any{"type": "work", "value": `a"b@x`}},
		{`emails[type eq "work" and primary eq "True"]`, map[string]any{"type": "work", "primary": true}},
		{`emails[type eq "work" and type eq "home"]`, nil},
		{`emails[type eq "work" or type eq "home"]`, nil},
		{`emails[type eq "work" and value co "x"]`, nil},
		{`emails[not (type eq "work")]`, nil},
		{`emails[type eq null]`, nil},
	}
	for _, tt := range tests {
		p, err := parsePath(rt, tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		got, ok := eqConstraints(p.attr, p.expr)
		if !ok {
			got = nil
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("eqConstraints(%q) = %v, %v; want %v", tt.path, got, ok, tt.want)
		}
	}
}

func TestApplyHandBuiltResource(t *testing.T) {
	res := map[string]any{
		"schemas":  []string{schema.UserURN},
		"id":       "u1",
		"userName": "x",
		"emails":   []any{map[string]any{"value": "a@x.com", "type": "work"}},
	}
	got, err := Apply(context.Background(), schema.UserResourceType(), res, []Operation{
		{Op: "add", Path: "manager", Value: map[string]any{"value": "m"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schemas":  []any{schema.UserURN, entURN},
		"id":       "u1",
		"userName": "x",
		"emails":   []any{map[string]any{"value": "a@x.com", "type": "work"}},
		entURN:     map[string]any{"manager": map[string]any{"value": "m"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s, want %s", toJSON(got), toJSON(want))
	}
	if s := res["schemas"].([]string); len(s) != 1 {
		t.Errorf("input schemas modified: %v", s)
	}
}
