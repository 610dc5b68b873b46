package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// TestStrictInput checks that input that would be silently changed or
// wrongly accepted is refused with the right SCIM error, and that nothing is
// stored.
func TestStrictInput(t *testing.T) {
	h := newHarness(t)
	uid := h.createUser(map[string]any{"userName": "strict@example.com"})
	gid := mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "Strict"}}), http.StatusCreated)["id"].(string)
	patchOp := func(op string) string {
		return `{"schemas":["` + patchOpMsgURN + `"],"Operations":[` + op + `]}`
	}
	many := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name     string
		rq       req
		scimType string
	}{
		// Text that JSON decoding would turn into U+FFFD.
		{"invalid UTF-8 in userName", req{method: "POST", path: "/Users", body: "{\"userName\":\"a\xffb@x\"}"}, "invalidSyntax"},
		{"invalid UTF-8 in another attribute", req{method: "POST", path: "/Users", body: "{\"userName\":\"u8@x\",\"title\":\"\xc3\"}"}, "invalidSyntax"},
		{"invalid UTF-8 in a PUT", req{method: "PUT", path: "/Users/" + uid, body: "{\"userName\":\"strict@example.com\",\"nickName\":\"\xed\xa0\x80\"}"}, "invalidSyntax"},
		{"invalid UTF-8 in a PATCH", req{method: "PATCH", path: "/Users/" + uid, body: patchOp("{\"op\":\"replace\",\"path\":\"title\",\"value\":\"\xff\"}")}, "invalidSyntax"},
		{"invalid UTF-8 in a group", req{method: "POST", path: "/Groups", body: "{\"displayName\":\"\xfe\"}"}, "invalidSyntax"},
		{"invalid UTF-8 in .search", req{method: "POST", path: "/Users/.search", body: "{\"filter\":\"userName eq \\\"\xff\\\"\"}"}, "invalidSyntax"},
		{"invalid UTF-8 in a query", req{method: "GET", path: "/Users?filter=userName+eq+%22%FF%22"}, "invalidSyntax"},
		{"unpaired high surrogate escape", req{method: "POST", path: "/Users", body: `{"userName":"s1@x","title":"\ud800"}`}, "invalidSyntax"},
		{"unpaired low surrogate escape", req{method: "POST", path: "/Users", body: `{"userName":"s2@x","title":"\udc00x"}`}, "invalidSyntax"},
		{"high surrogate before a non-surrogate", req{method: "POST", path: "/Users", body: `{"userName":"s3@x","title":"\ud83d\u0041"}`}, "invalidSyntax"},

		// Control characters in identifiers.
		{"NUL in userName", req{method: "POST", path: "/Users", body: `{"userName":"nul\u0000@x"}`}, "invalidValue"},
		{"newline in userName", req{method: "POST", path: "/Users", body: `{"userName":"a\nb@x"}`}, "invalidValue"},
		{"C1 control in userName", req{method: "POST", path: "/Users", body: `{"userName":"a\u0085b@x"}`}, "invalidValue"},
		{"DEL in externalId", req{method: "POST", path: "/Users", body: `{"userName":"ext@x","externalId":"a\u007f"}`}, "invalidValue"},
		{"control in a PUT userName", req{method: "PUT", path: "/Users/" + uid, body: `{"userName":"strict\u0001@example.com"}`}, "invalidValue"},
		{"control in a PATCH userName", req{method: "PATCH", path: "/Users/" + uid, body: patchOp(`{"op":"replace","path":"userName","value":"x\u0000"}`)}, "invalidValue"},
		{"NUL in a group displayName", req{method: "POST", path: "/Groups", body: `{"displayName":"G\u0000"}`}, "invalidValue"},
		{"tab in a group externalId", req{method: "POST", path: "/Groups", body: `{"displayName":"G2","externalId":"a\tb"}`}, "invalidValue"},
		{"control in a renamed group", req{method: "PATCH", path: "/Groups/" + gid, body: patchOp(`{"op":"replace","path":"displayName","value":"S\u001b"}`)}, "invalidValue"},
		{"control in a member id", req{method: "POST", path: "/Groups", body: `{"displayName":"G3","members":[{"value":"` + uid + `\u0000"}]}`}, "invalidValue"},
		{"control in a patched member id", req{method: "PATCH", path: "/Groups/" + gid, body: patchOp(`{"op":"add","path":"members","value":[{"value":"a\u0000"}]}`)}, "invalidValue"},

		// Unknown schemas.
		{"unknown schema URN", req{method: "POST", path: "/Users", body: `{"schemas":["urn:bogus"],"userName":"bogus@x"}`}, "invalidSyntax"},
		{"a Group schema on a user", req{method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"g@x"}`}, "invalidSyntax"},
		{"unknown schema in a PUT", req{method: "PUT", path: "/Users/" + uid, body: `{"schemas":["` + coreUserURN + `","urn:bogus"],"userName":"strict@example.com"}`}, "invalidSyntax"},
		{"unknown schema on a group", req{method: "POST", path: "/Groups", body: `{"schemas":["urn:bogus"],"displayName":"G4"}`}, "invalidSyntax"},
		{"schemas not an array", req{method: "POST", path: "/Users", body: `{"schemas":"` + coreUserURN + `","userName":"sa@x"}`}, "invalidSyntax"},
		{"schemas with a number", req{method: "POST", path: "/Users", body: `{"schemas":[1],"userName":"sn@x"}`}, "invalidSyntax"},

		// Wrongly typed .search fields.
		{".search sortBy number", req{method: "POST", path: "/Users/.search", body: `{"sortBy":5}`}, "invalidSyntax"},
		{".search sortOrder object", req{method: "POST", path: "/Users/.search", body: `{"sortOrder":{}}`}, "invalidSyntax"},
		{".search cursor number", req{method: "POST", path: "/Users/.search", body: `{"cursor":7}`}, "invalidSyntax"},
		{".search count string", req{method: "POST", path: "/Users/.search", body: `{"count":"10"}`}, "invalidSyntax"},
		{".search count fraction", req{method: "POST", path: "/Users/.search", body: `{"count":1.5}`}, "invalidValue"},
		{".search startIndex bool", req{method: "POST", path: "/Groups/.search", body: `{"startIndex":true}`}, "invalidSyntax"},
		{".search attributes number", req{method: "POST", path: "/Users/.search", body: `{"attributes":3}`}, "invalidSyntax"},
		{".search excludedAttributes numbers", req{method: "POST", path: "/Users/.search", body: `{"excludedAttributes":[1]}`}, "invalidSyntax"},
		{".search filter number", req{method: "POST", path: "/Users/.search", body: `{"filter":1}`}, "invalidSyntax"},
		{".search wrong schemas", req{method: "POST", path: "/Users/.search", body: `{"schemas":["` + patchOpMsgURN + `"]}`}, "invalidValue"},

		// Control characters in precondition headers.
		{"NUL in If-Match", req{method: "PATCH", path: "/Users/" + uid, headers: map[string]string{"If-Match": "W/\"1\"\x00"}, body: patchOp(`{"op":"replace","path":"title","value":"t"}`)}, "invalidSyntax"},
		{"control in If-None-Match", req{method: "GET", path: "/Users/" + uid, headers: map[string]string{"If-None-Match": "\x01"}}, "invalidSyntax"},

		// Caps on POST and PUT.
		{"too many emails on POST", req{method: "POST", path: "/Users", body: `{"userName":"cap@x","emails":` + many(schema.MaxValues+1, func(i int) string { return fmt.Sprintf(`{"value":"e%d@x"}`, i) }) + `}`}, "invalidValue"},
		{"too many emails on PUT", req{method: "PUT", path: "/Users/" + uid, body: `{"userName":"strict@example.com","emails":` + many(schema.MaxValues+1, func(i int) string { return fmt.Sprintf(`{"value":"e%d@x"}`, i) }) + `}`}, "invalidValue"},
		{"too many members on POST", req{method: "POST", path: "/Groups", body: `{"displayName":"Big","members":` + many(schema.MaxMembersPerRequest+1, func(i int) string { return fmt.Sprintf(`{"value":"u%d"}`, i) }) + `}`}, "invalidValue"},
		{"too many members on PUT", req{method: "PUT", path: "/Groups/" + gid, body: `{"displayName":"Strict","members":` + many(schema.MaxMembersPerRequest+1, func(i int) string { return fmt.Sprintf(`{"value":"u%d"}`, i) }) + `}`}, "invalidValue"},
	}
	before := h.env.Metrics.Snapshot()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustStatus(t, h.do(tc.rq), http.StatusBadRequest)
			if m["scimType"] != tc.scimType {
				t.Errorf("scimType %v, want %s: %v", m["scimType"], tc.scimType, m["detail"])
			}
		})
	}
	if d := h.env.Metrics.Snapshot().Sub(before); d.ItemsWritten != 0 {
		t.Errorf("refused requests wrote %d items", d.ItemsWritten)
	}
	// At the caps, the same requests are accepted.
	mustStatus(t, h.do(req{method: "PUT", path: "/Users/" + uid, body: `{"userName":"strict@example.com","emails":` + many(schema.MaxValues, func(i int) string { return fmt.Sprintf(`{"value":"e%d@x"}`, i) }) + `}`}), http.StatusOK)
	// Control characters outside identifiers are text like any other.
	mustStatus(t, h.do(req{method: "POST", path: "/Users", body: `{"userName":"ok@x","title":"line1\nline2"}`}), http.StatusCreated)
	// A control character in an id in the path cannot name a resource.
	mustStatus(t, h.do(req{method: "GET", path: "/Groups/a%00b"}), http.StatusNotFound)
}

// TestSchemasPassThrough checks that a tenant that passes unknown extensions
// through also accepts their URNs in schemas.
func TestSchemasPassThrough(t *testing.T) {
	h := newHarness(t)
	if _, err := h.env.Store.SetTenantSettings(context.Background(), "tenant-b", map[string]string{store.SettingExtensionPassThrough: "true"}); err != nil {
		t.Fatal(err)
	}
	const gw = "urn:example:gateway:2.0:User"
	body := `{"schemas":["` + coreUserURN + `","` + gw + `"],"userName":"pt@x","` + gw + `":{"region":"EU"}}`
	mustStatus(t, h.do(req{method: "POST", path: "/Users", token: harnessToken2, body: body}), http.StatusCreated)
	m := mustStatus(t, h.do(req{method: "POST", path: "/Users", body: body}), http.StatusBadRequest)
	if m["scimType"] != "invalidSyntax" {
		t.Errorf("without pass-through: %v", m)
	}
}

// FuzzCheckText fuzzes the body text check: a body it accepts decodes
// without any U+FFFD that the body did not spell out, so nothing is stored
// changed; and it never accepts invalid UTF-8.
func FuzzCheckText(f *testing.F) {
	for _, s := range fuzzResourceSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`"\ud83d\ude00"`, `"\ud83d"`, `"\\ud800"`, `"\ude00\ud83d"`, "\"\xff\"", `"\uD83D\uDE00"`, `"\ufffd"`, `"\u` + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkText(b)
		if err != nil {
			if e, ok := scimerr.As(err); !ok || e.Status != 400 {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted invalid UTF-8 %q", b)
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if strings.Contains(string(b), "\ufffd") || strings.Contains(strings.ToLower(string(b)), `\ufffd`) {
			return
		}
		if out, _ := json.Marshal(v); strings.Contains(string(out), "\ufffd") {
			t.Fatalf("accepted %q decodes with U+FFFD: %s", b, out)
		}
	})
}

// FuzzParseSearchBody fuzzes the POST /.search body parser: no input may
// panic, and every refusal is a SCIM 400.
func FuzzParseSearchBody(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"a\"","startIndex":1,"count":10}`,
		`{"sortBy":"userName","sortOrder":"descending","attributes":["userName","emails.value"]}`,
		`{"excludedAttributes":"groups,members","cursor":""}`,
		`{"count":1.5}`, `{"sortBy":5}`, `{"cursor":7}`, `{"schemas":"x"}`, `{"startIndex":-3,"count":1e9}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	rt := schema.UserResourceType()
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseSearchBody(rt, b); err != nil {
			if e, ok := scimerr.As(err); !ok || e.Status != http.StatusBadRequest {
				t.Fatalf("parseSearchBody(%q): %v, want a SCIM 400", b, err)
			}
		}
	})
}
