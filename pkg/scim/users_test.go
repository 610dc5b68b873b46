package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fixtureUsers is a small, varied population for the query tests.
var fixtureUsers = []map[string]any{
	{
		"userName": "bjensen@example.com", "externalId": "ext-Bjensen", "displayName": "Babs Jensen", "title": "Tour Guide",
		"name":   map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}, map[string]any{"value": "babs@jensen.org", "type": "home"}},
		"active": true, "password": "t1meMa$heen",
		entUserURN: map[string]any{"employeeNumber": "701984", "department": "Tour Operations", "manager": map[string]any{"value": "m-1"}},
	},
	{
		"userName": "JSmith@Example.com", "externalId": "ext-jsmith", "displayName": "John Smith",
		"name":   map[string]any{"givenName": "John", "familyName": "Smith"},
		"emails": []any{map[string]any{"value": "jsmith@example.com", "type": "work"}},
		"active": false,
	},
	{
		"userName": "alice@contoso.com", "displayName": "Alice Ames", "title": "Engineer", "nickName": "Al",
		"name":     map[string]any{"givenName": "Alice", "familyName": "Ames"},
		"emails":   []any{map[string]any{"value": "alice@contoso.com", "type": "work"}, map[string]any{"value": "alice@home.example", "type": "home", "primary": true}},
		"active":   true,
		entUserURN: map[string]any{"department": "R&D"},
	},
	{
		"userName": "zed@contoso.com", "displayName": "Zed Zimmer",
		"name":   map[string]any{"givenName": "Zed"},
		"active": true,
	},
	{
		"userName": "mike@example.org", "externalId": "EXT-BJENSEN",
		"emails": []any{map[string]any{"value": "mike@example.org", "type": "other"}},
		"active": true,
	},
}

// fixture creates the fixture users and returns their ids by userName.
func (h *harness) fixture() map[string]string {
	h.t.Helper()
	ids := map[string]string{}
	for _, u := range fixtureUsers {
		ids[u["userName"].(string)] = h.createUser(u)
	}
	return ids
}

// listUserNames runs a list request and returns the userNames in order.
func (h *harness) listUserNames(t *testing.T, path string) []string {
	t.Helper()
	m := mustStatus(t, h.do(req{method: "GET", path: path}), http.StatusOK)
	return userNamesOf(t, m)
}

func userNamesOf(t *testing.T, m map[string]any) []string {
	t.Helper()
	res, _ := m["Resources"].([]any)
	out := []string{}
	for _, r := range res {
		out = append(out, r.(map[string]any)["userName"].(string))
	}
	if tr, _ := m["totalResults"].(float64); int(tr) != len(out) && m["nextCursor"] == nil {
		if ipp, _ := m["itemsPerPage"].(float64); int(ipp) != len(out) {
			t.Errorf("itemsPerPage %v for %d resources", m["itemsPerPage"], len(out))
		}
	}
	return out
}

func TestFilters(t *testing.T) {
	h := newHarness(t)
	ids := h.fixture()
	const (
		bj = "bjensen@example.com"
		js = "JSmith@Example.com"
		al = "alice@contoso.com"
		ze = "zed@contoso.com"
		mi = "mike@example.org"
	)
	all := []string{bj, js, al, ze, mi}
	tests := []struct {
		filter string
		want   []string // any order
	}{
		// eq and the case rules.
		{`userName eq "bjensen@example.com"`, []string{bj}},
		{`userName eq "BJENSEN@EXAMPLE.COM"`, []string{bj}},
		{`userName eq "jsmith@example.com"`, []string{js}},
		{`USERNAME EQ "bjensen@example.com"`, []string{bj}},
		{`UserName Eq "bjensen@example.com"`, []string{bj}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@contoso.com"`, []string{al}},
		{`userName eq "nobody@example.com"`, nil},
		{`externalId eq "ext-Bjensen"`, []string{bj}},
		{`externalId eq "EXT-BJENSEN"`, []string{mi}},
		{`externalId eq "ext-bjensen"`, nil},
		{`id eq "` + ids[al] + `"`, []string{al}},
		{`id eq "` + strings.ToUpper(ids[al]) + `"`, nil},
		{`displayName eq "babs jensen"`, []string{bj}},
		{`active eq false`, []string{js}},
		{`active eq true`, []string{bj, al, ze, mi}},
		// ne co sw ew.
		{`active ne true`, []string{js}},
		{`title ne "Engineer"`, []string{bj, js, ze, mi}},
		{`userName co "CONTOSO"`, []string{al, ze}},
		{`displayName co "m"`, []string{js, al, ze}},
		{`userName sw "j"`, []string{js}},
		{`userName ew ".org"`, []string{mi}},
		{`name.familyName sw "J"`, []string{bj}},
		// gt ge lt le on strings and dates.
		{`userName gt "m"`, []string{mi, ze}},
		{`userName ge "mike@example.org"`, []string{mi, ze}},
		{`userName lt "b"`, []string{al}},
		{`userName le "bjensen@example.com"`, []string{al, bj}},
		{`meta.created gt "2000-01-01T00:00:00Z"`, all},
		{`meta.lastModified lt "2000-01-01T00:00:00Z"`, nil},
		// pr.
		{`title pr`, []string{bj, al}},
		{`externalId pr`, []string{bj, js, mi}},
		{`name.familyName pr`, []string{bj, js, al}},
		{`emails pr`, []string{bj, js, al, mi}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr`, []string{bj, al}},
		// Multi-valued attributes and value paths.
		{`emails.value eq "babs@jensen.org"`, []string{bj}},
		{`emails eq "babs@jensen.org"`, []string{bj}},
		{`emails.type eq "home"`, []string{bj, al}},
		{`emails[type eq "work"].value eq "ALICE@contoso.com"`, []string{al}},
		{`emails[type eq "work" and value co "example"]`, []string{bj, js}},
		{`emails[type eq "home" and primary eq true]`, []string{al}},
		{`emails[not (type eq "work")]`, []string{bj, al, mi}},
		{`emails[type eq "work" or type eq "other"]`, []string{bj, js, al, mi}},
		// Extension attributes.
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, []string{bj}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m-1"`, []string{bj}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"`, []string{al}},
		// and / or / not / precedence / parentheses.
		{`title pr and active eq true`, []string{bj, al}},
		{`userName sw "a" or userName sw "z"`, []string{al, ze}},
		{`not (active eq true)`, []string{js}},
		{`not(title pr)`, []string{js, ze, mi}},
		{`userName sw "a" or userName sw "z" and active eq false`, []string{al}},
		{`(userName sw "a" or userName sw "z") and active eq true`, []string{al, ze}},
		{`userName eq "bjensen@example.com" or userName eq "zed@contoso.com"`, []string{bj, ze}},
		{`userName eq "bjensen@example.com" and title eq "Tour Guide"`, []string{bj}},
		{`userName eq "bjensen@example.com" and title eq "Engineer"`, nil},
		{`externalId eq "ext-jsmith" and active eq false`, []string{js}},
		// Unquoted values are taken as strings, as in Entra's documentation
		// (externalId eq jyoung).
		{`externalId eq ext-jsmith`, []string{js}},
		{`id eq "` + ids[ze] + `" and displayName co "zimmer"`, []string{ze}},
		{`not (userName eq "bjensen@example.com") and not (userName eq "zed@contoso.com")`, []string{js, al, mi}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			for _, via := range []string{"GET", "POST .search"} {
				var got []string
				if via == "GET" {
					got = h.listUserNames(t, "/Users?filter="+url.QueryEscape(tc.filter))
				} else {
					m := mustStatus(t, h.do(req{method: "POST", path: "/Users/.search", body: map[string]any{
						"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": tc.filter,
					}}), http.StatusOK)
					got = userNamesOf(t, m)
				}
				sort.Strings(got)
				want := slices.Clone(tc.want)
				sort.Strings(want)
				if want == nil {
					want = []string{}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", via, got, want)
				}
			}
		})
	}

	invalid := []string{
		`bjensen@example.com`,
		`RUNSCOPE300HFLUAKLAB151@ATKO.COM`,
		`userName`,
		`userName eq`,
		`userName xx "a"`,
		`userName eq "unterminated`,
		`(userName eq "a"`,
		`userName eq "a")`,
		`userName eq "a" and`,
		`not userName eq "a"`,
		`active gt true`,
		`emails[type eq "work"`,
		`emails[]`,
		`meta.created gt "yesterday"`,
		`userName eq "a" or or userName eq "b"`,
		strings.Repeat("(", 500) + `userName eq "a"` + strings.Repeat(")", 500),
	}
	for _, f := range invalid {
		t.Run("invalid "+f[:min(len(f), 40)], func(t *testing.T) {
			w := h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(f)})
			m := mustStatus(t, w, http.StatusBadRequest)
			if m["scimType"] != "invalidFilter" {
				t.Errorf("scimType %v, want invalidFilter", m["scimType"])
			}
		})
	}
	// An attribute the schema does not define matches nothing or is refused,
	// but never fails the server.
	for _, f := range []string{`shoeSize eq "42"`, `urn:example:acme:2.0:User:badge eq "1"`, `name.nickname eq "x"`} {
		w := h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(f)})
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", f, w.Code)
		}
		if w.Code == http.StatusOK && jsonBody(t, w)["totalResults"] != float64(0) {
			t.Errorf("%s matched users: %s", f, w.Body)
		}
	}
}

func TestProjection(t *testing.T) {
	h := newHarness(t)
	ids := h.fixture()
	id := ids["bjensen@example.com"]
	keys := func(m map[string]any) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		query string
		check func(t *testing.T, u map[string]any)
	}{
		{"attributes=userName", func(t *testing.T, u map[string]any) {
			if got := keys(u); !slices.Equal(got, []string{"id", "schemas", "userName"}) {
				t.Errorf("keys %v", got)
			}
		}},
		{"attributes=USERNAME,displayName", func(t *testing.T, u map[string]any) {
			if got := keys(u); !slices.Equal(got, []string{"displayName", "id", "schemas", "userName"}) {
				t.Errorf("keys %v", got)
			}
		}},
		{"attributes=name.givenName", func(t *testing.T, u map[string]any) {
			if got := keys(u); !slices.Equal(got, []string{"id", "name", "schemas"}) {
				t.Errorf("keys %v", got)
			}
			if n := u["name"].(map[string]any); len(n) != 1 || n["givenName"] != "Barbara" {
				t.Errorf("name %v", n)
			}
		}},
		{"attributes=emails.value", func(t *testing.T, u map[string]any) {
			em := u["emails"].([]any)
			if len(em) != 2 || len(em[0].(map[string]any)) != 1 || em[0].(map[string]any)["value"] != "bjensen@example.com" {
				t.Errorf("emails %v", em)
			}
		}},
		{"attributes=emails", func(t *testing.T, u map[string]any) {
			if em := u["emails"].([]any); len(em[0].(map[string]any)) != 3 {
				t.Errorf("emails %v", em)
			}
		}},
		{"attributes=meta.version", func(t *testing.T, u map[string]any) {
			if m := u["meta"].(map[string]any); len(m) != 1 || m["version"] != `W/"1"` {
				t.Errorf("meta %v", m)
			}
		}},
		{"attributes=" + entUserURN + ":employeeNumber", func(t *testing.T, u map[string]any) {
			ext := u[entUserURN].(map[string]any)
			if len(ext) != 1 || ext["employeeNumber"] != "701984" || u["userName"] != nil {
				t.Errorf("got %v", u)
			}
		}},
		{"attributes=" + entUserURN + ":manager.value", func(t *testing.T, u map[string]any) {
			ext := u[entUserURN].(map[string]any)
			if m, _ := ext["manager"].(map[string]any); len(ext) != 1 || m["value"] != "m-1" {
				t.Errorf("got %v", u)
			}
		}},
		{"attributes=" + entUserURN, func(t *testing.T, u map[string]any) {
			ext := u[entUserURN].(map[string]any)
			if len(ext) != 3 || u["userName"] != nil {
				t.Errorf("got %v", u)
			}
		}},
		{"attributes=id", func(t *testing.T, u map[string]any) {
			if got := keys(u); !slices.Equal(got, []string{"id", "schemas"}) {
				t.Errorf("keys %v", got)
			}
		}},
		{"attributes=password", func(t *testing.T, u map[string]any) {
			if _, ok := u["password"]; ok {
				t.Errorf("password returned")
			}
		}},
		{"excludedAttributes=emails", func(t *testing.T, u map[string]any) {
			if _, ok := u["emails"]; ok {
				t.Errorf("emails returned")
			}
			for _, k := range []string{"id", "userName", "name", "meta", "displayName", entUserURN} {
				if _, ok := u[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
		}},
		{"excludedAttributes=name.givenName", func(t *testing.T, u map[string]any) {
			if n := u["name"].(map[string]any); n["givenName"] != nil || n["familyName"] != "Jensen" {
				t.Errorf("name %v", n)
			}
		}},
		{"excludedAttributes=emails.type,meta", func(t *testing.T, u map[string]any) {
			if em := u["emails"].([]any)[0].(map[string]any); em["type"] != nil || em["value"] == nil {
				t.Errorf("emails %v", em)
			}
			if u["meta"] != nil {
				t.Errorf("meta returned")
			}
		}},
		{"excludedAttributes=id,userName", func(t *testing.T, u map[string]any) {
			if u["id"] != id || u["schemas"] == nil {
				t.Errorf("returned=always attributes excluded: %v", u)
			}
			if u["userName"] != nil {
				t.Errorf("userName returned")
			}
		}},
		{"excludedAttributes=" + entUserURN + ":manager", func(t *testing.T, u map[string]any) {
			ext := u[entUserURN].(map[string]any)
			if ext["manager"] != nil || ext["employeeNumber"] != "701984" {
				t.Errorf("ext %v", ext)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			// GET by id.
			tc.check(t, mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id + "?" + tc.query}), http.StatusOK))
			// List with a filter.
			m := mustStatus(t, h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`userName eq "bjensen@example.com"`) + "&" + tc.query}), http.StatusOK)
			tc.check(t, m["Resources"].([]any)[0].(map[string]any))
			// Unfiltered list (index paging).
			m = mustStatus(t, h.do(req{method: "GET", path: "/Users?count=10&" + tc.query}), http.StatusOK)
			for _, r := range m["Resources"].([]any) {
				if r.(map[string]any)["id"] == id {
					tc.check(t, r.(map[string]any))
				}
			}
			// POST /.search with the lists as arrays.
			q, _ := url.ParseQuery(tc.query)
			body := map[string]any{"filter": `id eq "` + id + `"`}
			for k, v := range q {
				body[k] = strings.Split(v[0], ",")
			}
			m = mustStatus(t, h.do(req{method: "POST", path: "/Users/.search", body: body}), http.StatusOK)
			tc.check(t, m["Resources"].([]any)[0].(map[string]any))
		})
	}
	// attributes also apply to write responses.
	w := h.do(req{method: "PATCH", path: "/Users/" + id + "?attributes=userName", body: `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"nickName":"Babs"}}]}`})
	if got := keys(mustStatus(t, w, http.StatusOK)); !slices.Equal(got, []string{"id", "schemas", "userName"}) {
		t.Errorf("PATCH ?attributes=userName: keys %v", got)
	}
	w = h.do(req{method: "POST", path: "/Users?excludedAttributes=emails", body: map[string]any{"userName": "proj@example.com", "emails": []any{map[string]any{"value": "p@x"}}}})
	if m := mustStatus(t, w, http.StatusCreated); m["emails"] != nil || m["userName"] != "proj@example.com" {
		t.Errorf("POST ?excludedAttributes=emails: %v", m)
	}
}

// TestPasswordNeverReturned checks that a password is accepted on POST, PUT
// and PATCH, never returned, and never stored in clear.
func TestPasswordNeverReturned(t *testing.T) {
	h := newHarness(t)
	const secret = "S3cr3t-Pa55word!"
	noPassword := func(t *testing.T, what string, body []byte) {
		t.Helper()
		if bytes.Contains(body, []byte(secret)) || bytes.Contains(bytes.ToLower(body), []byte(`"password"`)) {
			t.Errorf("%s: response contains the password: %s", what, body)
		}
	}
	w := h.do(req{method: "POST", path: "/Users", body: map[string]any{"userName": "pw@example.com", "password": secret}})
	m := mustStatus(t, w, http.StatusCreated)
	noPassword(t, "POST", w.Body.Bytes())
	id := m["id"].(string)
	w = h.do(req{method: "PUT", path: "/Users/" + id, body: map[string]any{"userName": "pw@example.com", "password": secret + "2"}})
	mustStatus(t, w, http.StatusOK)
	noPassword(t, "PUT", w.Body.Bytes())
	for _, ops := range []string{
		`[{"op":"replace","value":{"password":"` + secret + `3"}}]`,
		`[{"op":"replace","path":"password","value":"` + secret + `4"}]`,
		`[{"op":"add","path":"password","value":"` + secret + `5"}]`,
	} {
		w = h.do(req{method: "PATCH", path: "/Users/" + id, body: `{"schemas":["` + patchOpMsgURN + `"],"Operations":` + ops + `}`})
		mustStatus(t, w, http.StatusOK)
		noPassword(t, "PATCH "+ops, w.Body.Bytes())
	}
	for _, path := range []string{
		"/Users/" + id, "/Users/" + id + "?attributes=password", "/Users?attributes=password,userName",
		"/Users?filter=" + url.QueryEscape(`userName eq "pw@example.com"`), "/Users?filter=password+pr",
	} {
		w = h.do(req{method: "GET", path: path})
		noPassword(t, "GET "+path, w.Body.Bytes())
	}
	if got := jsonBody(t, h.do(req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`password eq "`+secret+`5"`)})); got["totalResults"] != float64(0) && got["status"] == nil {
		t.Errorf("a filter on password finds the user: %v", got)
	}
	u, err := h.env.Store.GetUser(context.Background(), "default", id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(u.Doc, []byte(secret)) || bytes.Contains(u.Doc, []byte("password")) || strings.Contains(u.PasswordHash, secret) {
		t.Errorf("the stored user holds the password in clear: doc %s hash %q", u.Doc, u.PasswordHash)
	}
	// Nor does any other item of the table.
	table := h.env.Store.TableName()
	out, err := h.env.Client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	sawUser := false
	for _, it := range out.Items {
		for k, v := range it {
			var raw string
			switch x := v.(type) {
			case *types.AttributeValueMemberS:
				raw = x.Value
			case *types.AttributeValueMemberB:
				raw = string(x.Value)
			}
			if strings.Contains(raw, secret) {
				t.Errorf("item %v holds the password in %s", it["sk"], k)
			}
			sawUser = sawUser || strings.Contains(raw, "pw@example.com")
		}
	}
	if !sawUser {
		t.Errorf("the scan did not see the user's items")
	}
}

func TestSort(t *testing.T) {
	h := newHarness(t)
	h.fixture()
	tests := []struct {
		query string
		want  []string
	}{
		{"sortBy=userName", []string{"alice@contoso.com", "bjensen@example.com", "JSmith@Example.com", "mike@example.org", "zed@contoso.com"}},
		{"sortBy=userName&sortOrder=ascending", []string{"alice@contoso.com", "bjensen@example.com", "JSmith@Example.com", "mike@example.org", "zed@contoso.com"}},
		{"sortBy=USERNAME&sortOrder=Descending", []string{"zed@contoso.com", "mike@example.org", "JSmith@Example.com", "bjensen@example.com", "alice@contoso.com"}},
		// Missing values sort last in either order ("*": any user without one).
		{"sortBy=name.familyName", []string{"alice@contoso.com", "bjensen@example.com", "JSmith@Example.com", "*", "*"}},
		{"sortBy=name.familyName&sortOrder=descending", []string{"JSmith@Example.com", "bjensen@example.com", "alice@contoso.com", "*", "*"}},
		{"sortBy=title", []string{"alice@contoso.com", "bjensen@example.com"}},
		{"sortBy=displayName&sortOrder=descending", []string{"zed@contoso.com", "JSmith@Example.com", "bjensen@example.com", "alice@contoso.com", "mike@example.org"}},
		// A multi-valued attribute sorts by its primary (else first) value.
		{"sortBy=emails", []string{"alice@home.example", "bjensen@example.com", "jsmith@example.com", "mike@example.org"}},
		{"sortBy=meta.created", []string{"bjensen@example.com", "JSmith@Example.com", "alice@contoso.com", "zed@contoso.com", "mike@example.org"}},
		{"sortBy=" + entUserURN + ":department", []string{"alice@contoso.com", "bjensen@example.com"}},
		// Sorting with a filter and with paging.
		{"sortBy=userName&filter=" + url.QueryEscape(`userName co "contoso"`), []string{"alice@contoso.com", "zed@contoso.com"}},
		{"sortBy=userName&startIndex=2&count=2", []string{"bjensen@example.com", "JSmith@Example.com"}},
		{"sortBy=userName&sortOrder=descending&startIndex=5&count=2", []string{"alice@contoso.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			m := mustStatus(t, h.do(req{method: "GET", path: "/Users?" + tc.query}), http.StatusOK)
			var got []string
			for _, r := range m["Resources"].([]any) {
				u := r.(map[string]any)
				switch {
				case strings.Contains(tc.query, "sortBy=emails"):
					if em, ok := u["emails"].([]any); ok {
						v := em[0].(map[string]any)["value"].(string)
						for _, e := range em {
							if e.(map[string]any)["primary"] == true {
								v = e.(map[string]any)["value"].(string)
							}
						}
						got = append(got, v)
					}
				case strings.Contains(tc.query, "sortBy=title"):
					if u["title"] != nil {
						got = append(got, u["userName"].(string))
					}
				case strings.Contains(tc.query, "department"):
					if ext, ok := u[entUserURN].(map[string]any); ok && ext["department"] != nil {
						got = append(got, u["userName"].(string))
					}
				default:
					got = append(got, u["userName"].(string))
				}
			}
			if !slices.EqualFunc(got, tc.want, func(g, w string) bool { return w == "*" || g == w }) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if strings.Contains(tc.query, "startIndex=2") && m["startIndex"] != float64(2) {
				t.Errorf("startIndex %v", m["startIndex"])
			}
		})
	}
	// sortBy via POST /.search.
	m := mustStatus(t, h.do(req{method: "POST", path: "/Users/.search", body: map[string]any{"sortBy": "userName", "sortOrder": "descending", "count": 2}}), http.StatusOK)
	if got := userNamesOf(t, m); !slices.Equal(got, []string{"zed@contoso.com", "mike@example.org"}) || m["totalResults"] != float64(5) {
		t.Errorf(".search sortBy: %q %v", got, m["totalResults"])
	}
}

func TestIndexPagingParameters(t *testing.T) {
	h := newHarness(t)
	h.fixture()
	tests := []struct {
		query                   string
		total, startIndex, size int
	}{
		{"", 5, 1, 5},
		{"startIndex=1&count=2", 5, 1, 2},
		{"startIndex=0&count=2", 5, 1, 2},
		{"startIndex=-5&count=2", 5, 1, 2},
		{"startIndex=4&count=10", 5, 4, 2},
		{"startIndex=5", 5, 5, 1},
		{"startIndex=6", 5, 6, 0},
		{"count=0", 5, 1, 0},
		{"count=-1", 5, 1, 0},
		{"count=100000", 5, 1, 5},
		{"filter=active+eq+true&count=2", 4, 1, 2},
		{"filter=active+eq+true&startIndex=4&count=2", 4, 4, 1},
		{"filter=active+eq+true&count=0", 4, 1, 0},
		{"filter=userName+eq+%22zed@contoso.com%22&startIndex=2", 1, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			m := mustStatus(t, h.do(req{method: "GET", path: "/Users?" + tc.query}), http.StatusOK)
			res, _ := m["Resources"].([]any)
			if m["totalResults"] != float64(tc.total) || m["startIndex"] != float64(tc.startIndex) || m["itemsPerPage"] != float64(tc.size) || len(res) != tc.size {
				t.Errorf("totalResults %v startIndex %v itemsPerPage %v len %d, want %d %d %d", m["totalResults"], m["startIndex"], m["itemsPerPage"], len(res), tc.total, tc.startIndex, tc.size)
			}
			if res == nil {
				t.Errorf("Resources is not an array: %s", m["Resources"])
			}
		})
	}
}

// TestCursorPaging follows RFC 9865 nextCursor chains.
func TestCursorPaging(t *testing.T) {
	h := newHarness(t)
	want := map[string]bool{}
	for i := range 7 {
		n := fmt.Sprintf("cursor%d@example.com", i)
		want[n] = true
		body := map[string]any{"userName": n}
		if i%2 == 0 {
			body["title"] = "even"
		}
		h.createUser(body)
	}
	follow := func(t *testing.T, first string, search bool) (names []string, pages int) {
		t.Helper()
		cursor := ""
		for pages = 1; pages < 20; pages++ {
			var m map[string]any
			if search {
				body := map[string]any{"count": 3, "cursor": cursor}
				if first != "" {
					body["filter"] = first
				}
				m = mustStatus(t, h.do(req{method: "POST", path: "/Users/.search", body: body}), http.StatusOK)
			} else {
				q := url.Values{"count": {"3"}, "cursor": {cursor}}
				if first != "" {
					q.Set("filter", first)
				}
				m = mustStatus(t, h.do(req{method: "GET", path: "/Users?" + q.Encode()}), http.StatusOK)
			}
			res := m["Resources"].([]any)
			if m["itemsPerPage"] != float64(len(res)) || len(res) > 3 {
				t.Fatalf("page %d: itemsPerPage %v, %d resources", pages, m["itemsPerPage"], len(res))
			}
			if _, ok := m["previousCursor"]; ok && pages == 1 {
				t.Errorf("previousCursor on the first page")
			}
			names = append(names, userNamesOf(t, m)...)
			next, _ := m["nextCursor"].(string)
			if next == "" {
				return names, pages
			}
			if next != url.QueryEscape(next) {
				t.Errorf("nextCursor %q has reserved characters", next)
			}
			cursor = next
		}
		t.Fatalf("no end after %d pages", pages)
		return nil, 0
	}
	for _, search := range []bool{false, true} {
		t.Run(fmt.Sprintf("all search=%v", search), func(t *testing.T) {
			names, pages := follow(t, "", search)
			if len(names) != 7 || pages != 3 {
				t.Errorf("got %d users in %d pages: %q", len(names), pages, names)
			}
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n] || !want[n] {
					t.Errorf("unexpected or repeated %q", n)
				}
				seen[n] = true
			}
		})
		t.Run(fmt.Sprintf("filtered search=%v", search), func(t *testing.T) {
			names, _ := follow(t, `title eq "even"`, search)
			if len(names) != 4 {
				t.Errorf("got %q, want the 4 even users", names)
			}
		})
	}
	// An exact multiple of the page size ends without a dangling cursor or
	// with one that leads to an empty last page.
	h.do(req{method: "DELETE", path: "/Users/" + h.listIDs(t)[0]})
	names, _ := follow(t, "", false)
	if len(names) != 6 {
		t.Errorf("after a delete: %d users", len(names))
	}
}

func (h *harness) listIDs(t *testing.T) []string {
	m := mustStatus(t, h.do(req{method: "GET", path: "/Users?count=1000"}), http.StatusOK)
	var ids []string
	for _, r := range m["Resources"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

func TestETags(t *testing.T) {
	h := newHarness(t)
	w := h.do(req{method: "POST", path: "/Users", body: map[string]any{"userName": "etag@example.com"}})
	m := mustStatus(t, w, http.StatusCreated)
	id := m["id"].(string)
	if w.Header().Get("ETag") != `W/"1"` || m["meta"].(map[string]any)["version"] != `W/"1"` {
		t.Fatalf("POST ETag %q meta.version %v", w.Header().Get("ETag"), m["meta"])
	}
	patch := `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","path":"title","value":"T"}]}`
	tests := []struct {
		name    string
		rq      req
		status  int
		version string // ETag after the request
	}{
		{"GET", req{method: "GET", path: "/Users/" + id}, 200, `W/"1"`},
		{"GET If-None-Match current", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `W/"1"`}}, 304, `W/"1"`},
		{"GET If-None-Match strong form", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `"1"`}}, 304, `W/"1"`},
		{"GET If-None-Match list", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `W/"7", W/"1"`}}, 304, `W/"1"`},
		{"GET If-None-Match *", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `*`}}, 304, `W/"1"`},
		{"GET If-None-Match old", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `W/"0"`}}, 200, `W/"1"`},
		{"GET If-Match stale", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-Match": `W/"9"`}}, 412, ""},
		{"PUT If-Match stale", req{method: "PUT", path: "/Users/" + id, body: `{"userName":"etag@example.com"}`, headers: map[string]string{"If-Match": `W/"0"`}}, 412, ""},
		{"PATCH If-Match stale", req{method: "PATCH", path: "/Users/" + id, body: patch, headers: map[string]string{"If-Match": `W/"2"`}}, 412, ""},
		{"DELETE If-Match stale", req{method: "DELETE", path: "/Users/" + id, headers: map[string]string{"If-Match": `W/"5"`}}, 412, ""},
		{"PATCH If-Match current", req{method: "PATCH", path: "/Users/" + id, body: patch, headers: map[string]string{"If-Match": `W/"1"`}}, 200, `W/"2"`},
		{"PUT If-Match current", req{method: "PUT", path: "/Users/" + id, body: `{"userName":"etag@example.com","title":"U"}`, headers: map[string]string{"If-Match": `W/"2"`}}, 200, `W/"3"`},
		{"PUT If-Match *", req{method: "PUT", path: "/Users/" + id, body: `{"userName":"etag@example.com"}`, headers: map[string]string{"If-Match": `*`}}, 200, `W/"4"`},
		{"PATCH without If-Match", req{method: "PATCH", path: "/Users/" + id, body: patch}, 200, `W/"5"`},
		{"GET after writes", req{method: "GET", path: "/Users/" + id, headers: map[string]string{"If-None-Match": `W/"1"`}}, 200, `W/"5"`},
		{"DELETE If-Match current", req{method: "DELETE", path: "/Users/" + id, headers: map[string]string{"If-Match": `W/"5"`}}, 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(tc.rq)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.version != "" {
				if got := w.Header().Get("ETag"); got != tc.version {
					t.Errorf("ETag %q, want %q", got, tc.version)
				}
				if w.Code == 200 {
					if v := jsonBody(t, w)["meta"].(map[string]any)["version"]; v != tc.version {
						t.Errorf("meta.version %v, want %s", v, tc.version)
					}
				}
			}
			if w.Code == 412 && jsonBody(t, w)["status"] != "412" {
				t.Errorf("412 body %s", w.Body)
			}
		})
	}
}

// TestPutSemantics checks PUT as Okta uses it: read-only input ignored, an
// omitted active kept, other omitted attributes cleared, userName moves.
func TestPutSemantics(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(map[string]any{"userName": "put@example.com", "title": "Boss", "active": false, "externalId": "x1",
		entUserURN: map[string]any{"department": "D"}})
	other := h.createUser(map[string]any{"userName": "taken@example.com"})
	before := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id}), 200)

	w := h.do(req{method: "PUT", path: "/Users/" + id, body: map[string]any{
		"schemas":  []any{coreUserURN, entUserURN},
		"id":       id,
		"userName": "Put@Example.com",
		"meta":     map[string]any{"resourceType": "Group", "created": "1999-01-01T00:00:00Z", "version": `W/"99"`, "location": "https://evil.example/x"},
		"groups":   []any{map[string]any{"value": "g1", "display": "Admins"}},
		"name":     map[string]any{"givenName": "P"},
		"manager":  "ignored: not a core attribute",
		"password": "pw-123456",
	}})
	m := mustStatus(t, w, http.StatusOK)
	meta := m["meta"].(map[string]any)
	switch {
	case m["id"] != id:
		t.Errorf("id changed: %v", m["id"])
	case meta["resourceType"] != "User" || meta["created"] != before["meta"].(map[string]any)["created"] || meta["version"] != `W/"2"` || meta["location"] != harnessBase+"/Users/"+id:
		t.Errorf("read-only meta taken from the body: %v", meta)
	case m["groups"] != nil:
		t.Errorf("read-only groups stored: %v", m["groups"])
	case m["active"] != false:
		t.Errorf("omitted active not kept: %v", m["active"])
	case m["title"] != nil || m["externalId"] != nil || m[entUserURN] != nil:
		t.Errorf("omitted attributes not cleared: %v", m)
	case m["userName"] != "Put@Example.com":
		t.Errorf("userName case change not applied: %v", m["userName"])
	}
	// A userName change moves the guard: the old name is free, the new taken.
	mustStatus(t, h.do(req{method: "PUT", path: "/Users/" + id, body: map[string]any{"userName": "moved@example.com"}}), 200)
	mustStatus(t, h.do(req{method: "POST", path: "/Users", body: map[string]any{"userName": "put@example.com"}}), 201)
	mustStatus(t, h.do(req{method: "POST", path: "/Users", body: map[string]any{"userName": "MOVED@example.com"}}), 409)
	mustStatus(t, h.do(req{method: "PUT", path: "/Users/" + other, body: map[string]any{"userName": "moved@EXAMPLE.com"}}), 409)
	if names := h.listUserNames(t, "/Users?filter="+url.QueryEscape(`userName eq "moved@example.com"`)); !slices.Equal(names, []string{"moved@example.com"}) {
		t.Errorf("filter after move: %q", names)
	}
	// PUT with an explicit active changes it.
	if m := mustStatus(t, h.do(req{method: "PUT", path: "/Users/" + id, body: map[string]any{"userName": "moved@example.com", "active": true}}), 200); m["active"] != true {
		t.Errorf("active not set: %v", m["active"])
	}
	if m := mustStatus(t, h.do(req{method: "PUT", path: "/Users/" + id, body: map[string]any{"userName": "moved@example.com", "active": "False"}}), 200); m["active"] != false {
		t.Errorf(`active "False" not applied: %v`, m["active"])
	}
}

// TestTenantIsolation checks that two tenants share nothing.
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t)
	const name = "same@example.com"
	ida := h.createUser(map[string]any{"userName": name, "externalId": "e1", "title": "A"})
	w := h.do(req{method: "POST", path: "/Users", token: harnessToken2, body: map[string]any{"userName": name, "externalId": "e1", "title": "B"}})
	idb := mustStatus(t, w, http.StatusCreated)["id"].(string)
	h.do(req{method: "POST", path: "/Users", token: harnessToken2, body: map[string]any{"userName": "only-b@example.com"}})
	for _, tc := range []struct {
		token, own, foreign string
		total               int
	}{{harnessToken, ida, idb, 1}, {harnessToken2, idb, ida, 2}} {
		do := func(method, path string, body any) map[string]any {
			w := h.do(req{method: method, path: path, token: tc.token, body: body})
			if w.Body.Len() == 0 {
				return map[string]any{"code": float64(w.Code)}
			}
			m := jsonBody(t, w)
			m["code"] = float64(w.Code)
			return m
		}
		if m := do("GET", "/Users", nil); m["totalResults"] != float64(tc.total) {
			t.Errorf("list: totalResults %v, want %d", m["totalResults"], tc.total)
		}
		for _, q := range []string{`userName eq "` + name + `"`, `externalId eq "e1"`, `title pr`, `id eq "` + tc.own + `"`} {
			m := do("GET", "/Users?filter="+url.QueryEscape(q), nil)
			res := m["Resources"].([]any)
			if len(res) != 1 || res[0].(map[string]any)["id"] != tc.own {
				t.Errorf("filter %s: %v", q, res)
			}
		}
		if m := do("GET", "/Users?filter="+url.QueryEscape(`id eq "`+tc.foreign+`"`), nil); m["totalResults"] != float64(0) {
			t.Errorf("filter on the other tenant's id found it")
		}
		if m := do("GET", "/Users/"+tc.foreign, nil); m["code"] != float64(404) {
			t.Errorf("GET other tenant's user: %v", m["code"])
		}
		if m := do("PATCH", "/Users/"+tc.foreign, `{"schemas":["`+patchOpMsgURN+`"],"Operations":[{"op":"replace","value":{"active":false}}]}`); m["code"] != float64(404) {
			t.Errorf("PATCH other tenant's user: %v", m["code"])
		}
		if m := do("PUT", "/Users/"+tc.foreign, map[string]any{"userName": "hijack@example.com"}); m["code"] != float64(404) {
			t.Errorf("PUT other tenant's user: %v", m["code"])
		}
		if m := do("DELETE", "/Users/"+tc.foreign, nil); m["code"] != float64(404) {
			t.Errorf("DELETE other tenant's user: %v", m["code"])
		}
		if m := do("GET", "/Users/"+tc.own, nil); m["code"] != float64(200) || m["active"] != true {
			t.Errorf("own user changed: %v", m)
		}
	}
}

// TestConcurrentCreate sends 20 POSTs of one userName at once over real
// HTTP: exactly one is created, the other nineteen get 409 uniqueness.
func TestConcurrentCreate(t *testing.T) {
	h := newHarness(t)
	ts := newHTTPServer(t, h.srv)
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	types := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different letter cases of one userName: the guard is case-insensitive.
			userName := "race@example.com"
			if i%2 == 1 {
				userName = "RACE@example.com"
			}
			body, _ := json.Marshal(map[string]any{"schemas": []any{coreUserURN}, "userName": userName, "externalId": fmt.Sprint("ext-", i)})
			r, _ := http.NewRequest("POST", ts.URL+Prefix+"/Users", bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+harnessToken)
			r.Header.Set("Content-Type", "application/scim+json")
			<-start
			resp, err := ts.Client().Do(r)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			types[i], _ = m["scimType"].(string)
			if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
				t.Errorf("request %d: Content-Type %q", i, ct)
			}
		}()
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for i, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
			if types[i] != "uniqueness" {
				t.Errorf("409 with scimType %q", types[i])
			}
		default:
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("%d created, %d conflicts; want 1 and %d (codes %v)", created, conflicts, n-1, codes)
	}
	m := mustStatus(t, h.do(req{method: "GET", path: "/Users"}), http.StatusOK)
	if m["totalResults"] != float64(1) || len(m["Resources"].([]any)) != 1 {
		t.Errorf("after the race: %v users", m["totalResults"])
	}
}

// TestCreateNormalisation checks how POST stores what clients send: names in
// canonical case, Entra's string booleans, URN-qualified keys resolved, empty
// and read-only values dropped, and no empty extension left behind.
func TestCreateNormalisation(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		body string
		want map[string]any // expected attributes; nil value: absent
	}{
		{"canonical case", `{"USERNAME":"n1@x","DisplayName":"D","NAME":{"GIVENNAME":"G"},"Active":"FALSE"}`,
			map[string]any{"userName": "n1@x", "displayName": "D", "name": map[string]any{"givenName": "G"}, "active": false}},
		{"active defaults to true", `{"userName":"n2@x"}`, map[string]any{"active": true}},
		{"Entra nulls and empty roles", `{"userName":"n3@x","title":null,"addresses":null,"roles":[],"nickName":""}`,
			map[string]any{"title": nil, "addresses": nil, "roles": nil, "nickName": nil}},
		{"URN-qualified core keys", `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"n4@x","urn:ietf:params:scim:schemas:core:2.0:User:externalId":"E4"}`,
			map[string]any{"userName": "n4@x", "externalId": "E4"}},
		{"URN-qualified empty externalId", `{"userName":"n5@x","urn:ietf:params:scim:schemas:core:2.0:User:externalId":""}`,
			map[string]any{"externalId": nil, "schemas": []any{coreUserURN}}},
		{"core attributes under the core URN", `{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"n6@x","title":"T"}}`,
			map[string]any{"userName": "n6@x", "title": "T"}},
		{"URN-qualified extension attribute", `{"userName":"n7@x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}`,
			map[string]any{entUserURN: map[string]any{"department": "D"}, "schemas": []any{coreUserURN, entUserURN}}},
		{"read-only manager.displayName only", `{"userName":"n8@x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"displayName":"Boss"}}`,
			map[string]any{entUserURN: nil, "schemas": []any{coreUserURN}}},
		{"empty extension object", `{"userName":"n9@x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":null,"department":""}}`,
			map[string]any{entUserURN: nil, "schemas": []any{coreUserURN}}},
		{"extension URN in any case", `{"userName":"n10@x","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"EmployeeNumber":"7"}}`,
			map[string]any{entUserURN: map[string]any{"employeeNumber": "7"}}},
		{"read-only input ignored", `{"userName":"n11@x","id":"mine","meta":{"created":"2001-01-01T00:00:00Z"},"groups":[{"value":"g"}],"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`,
			map[string]any{"groups": nil, "schemas": []any{coreUserURN}}},
		{"single value for a multi-valued attribute", `{"userName":"n12@x","emails":{"value":"a@b","type":"work"}}`,
			map[string]any{"emails": []any{map[string]any{"value": "a@b", "type": "work"}}}},
		{"null elements dropped", `{"userName":"n13@x","emails":[null,{"value":"a@b"}],"phoneNumbers":[null]}`,
			map[string]any{"emails": []any{map[string]any{"value": "a@b"}}, "phoneNumbers": nil}},
		{"unknown core attribute ignored", `{"userName":"n14@x","shoeSize":42}`, map[string]any{"shoeSize": nil}},
		{"string booleans in sub-attributes", `{"userName":"n15@x","emails":[{"value":"a@b","primary":"True"}]}`,
			map[string]any{"emails": []any{map[string]any{"value": "a@b", "primary": true}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustStatus(t, h.do(req{method: "POST", path: "/Users", body: tc.body}), http.StatusCreated)
			got := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + m["id"].(string)}), http.StatusOK)
			for _, res := range []map[string]any{m, got} {
				if res["id"] == "mine" {
					t.Errorf("id taken from the body")
				}
				for k, want := range tc.want {
					v, ok := res[k]
					if want == nil {
						if ok {
							t.Errorf("%s = %v, want absent", k, v)
						}
						continue
					}
					if d := matchJSON(k, want, v, ok); len(d) > 0 {
						t.Errorf("%v", d)
					}
				}
			}
		})
	}
}
