package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/store"
)

// TestFastUserJSONMatchesRenderer: the spliced representation is the same
// JSON value as the generic renderer's, for every kind of stored document.
func TestFastUserJSONMatchesRenderer(t *testing.T) {
	rt := schema.UserResourceType()
	if !plainReturn(rt) {
		t.Fatal("the core user schema must allow the fast path")
	}
	s := &Server{defaults: &view{users: rt, groups: schema.GroupResourceType()}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	groups := map[string]*store.Group{"g1": {ID: "g1", DisplayName: `Ops "EU" \ </team>`}}
	docs := []string{
		`{}`,
		`{"userName":"a@x","active":true}`,
		`{"userName":"b@x","name":{"givenName":"B"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`,
		`{"userName":"c\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{","title":"\u2028 line\tsep é"}`,
	}
	for i, doc := range docs {
		u := &store.User{ID: "id-\"" + string(rune('a'+i)), Doc: []byte(doc), Version: int64(i + 1), Created: now, Modified: now.Add(time.Hour), Groups: []string{"g1", "gone"}}
		fast := appendUserJSON(nil, rt, "https://h/scim/v2", u, groups)
		r := httptest.NewRequest("GET", "https://h/scim/v2/Users/x", nil)
		s.baseURL = "https://h/scim/v2"
		res, err := s.userResource(r, u, groups)
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := json.Marshal(res)
		var a, b any
		if err := json.Unmarshal(fast, &a); err != nil {
			t.Fatalf("doc %d: fast output is not JSON: %v\n%s", i, err, fast)
		}
		_ = json.Unmarshal(slow, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("doc %d:\nfast %s\nslow %s", i, fast, slow)
		}
	}
}

// TestFilteredUserAsStored: a user a filter finds is the same resource in
// the list as GET /Users/{id} returns, whether the filter tests only id and
// userName (decided without decoding the user) or other attributes, also
// with attributes selected (TestGroupFlows checks a user in a group).
func TestFilteredUserAsStored(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(benchUser())
	for _, tc := range []struct {
		name, filter, query string
	}{
		{"as stored", `userName eq "BENCH.user@example.com"`, ""},
		{"id and userName", `id eq "` + id + `" and userName sw "bench"`, ""},
		{"a scan", `userName ew "USER@example.com" or id eq "x"`, ""},
		{"another attribute", `userName eq "bench.user@example.com" and title eq "Engineer"`, ""},
		{"attributes", `userName eq "bench.user@example.com"`, "&attributes=userName,title"},
		{"excludedAttributes", `userName eq "bench.user@example.com"`, "&excludedAttributes=emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id + "?" + tc.query[min(1, len(tc.query)):]}), http.StatusOK)
			list := mustStatus(t, h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(tc.filter) + tc.query}), http.StatusOK)
			rs, _ := list["Resources"].([]any)
			if len(rs) != 1 || !reflect.DeepEqual(rs[0], any(one)) {
				t.Fatalf("filtered:\n%v\nGET:\n%v", list, one)
			}
		})
	}
}

// TestListedUsersAsStored: an unfiltered page (Okta's import) holds each
// user as GET /Users/{id} returns it, with its groups, also with attributes
// selected.
func TestListedUsersAsStored(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for _, name := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		u := benchUser()
		u["userName"] = name
		ids = append(ids, h.createUser(u))
	}
	mustStatus(t, h.do(req{method: "POST", path: "/Groups", body: map[string]any{
		"displayName": `Ops "EU"`, "members": []any{map[string]any{"value": ids[1]}}}}), http.StatusCreated)
	for _, query := range []string{"", "&attributes=userName,groups", "&excludedAttributes=emails"} {
		list := mustStatus(t, h.do(req{method: "GET", path: "/Users?startIndex=1&count=10" + query}), http.StatusOK)
		rs, _ := list["Resources"].([]any)
		if len(rs) != len(ids) {
			t.Fatalf("%q: %d resources, want %d", query, len(rs), len(ids))
		}
		for _, res := range rs {
			id, _ := res.(map[string]any)["id"].(string)
			one := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id + "?" + query[min(1, len(query)):]}), http.StatusOK)
			if !reflect.DeepEqual(res, any(one)) {
				t.Errorf("%q: listed\n%v\nGET\n%v", query, res, one)
			}
		}
		grouped := 0
		for _, res := range rs {
			if gs, _ := res.(map[string]any)["groups"].([]any); len(gs) == 1 && res.(map[string]any)["id"] == ids[1] {
				grouped++
			}
		}
		if grouped != 1 {
			t.Errorf("%q: the group member's groups are missing: %v", query, rs)
		}
	}
}
