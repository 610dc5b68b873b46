package scim

import (
	"net/http"
	"strings"
	"testing"
)

// TestEndpointNamesCaseInsensitive checks that resource endpoint names are
// matched in any case, as third-party SCIM test suites expect, while ids
// stay case-sensitive.
func TestEndpointNamesCaseInsensitive(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(map[string]any{"userName": "case@example.com"})
	gid := mustStatus(t, h.do(req{method: "POST", path: "/groups", body: map[string]any{"displayName": "Case"}}), http.StatusCreated)["id"].(string)
	for _, tc := range []struct {
		rq     req
		status int
	}{
		{req{method: "GET", path: "/users"}, 200},
		{req{method: "GET", path: "/USERS?count=1"}, 200},
		{req{method: "GET", path: "/uSeRs/" + id}, 200},
		{req{method: "GET", path: "/users/" + strings.ToUpper(id)}, 404},
		{req{method: "PATCH", path: "/users/" + id, body: map[string]any{"schemas": []any{patchOpMsgURN}, "Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "t"}}}}, 200},
		{req{method: "POST", path: "/Users/.SEARCH", body: `{"count":1}`}, 200},
		{req{method: "POST", path: "/users/.search", body: `{"count":1}`}, 200},
		{req{method: "GET", path: "/GROUPS"}, 200},
		{req{method: "GET", path: "/groups/" + gid}, 200},
		{req{method: "POST", path: "/groups/.search", body: `{}`}, 200},
		{req{method: "GET", path: "/serviceproviderconfig"}, 200},
		{req{method: "GET", path: "/SERVICEPROVIDERCONFIG"}, 200},
		{req{method: "GET", path: "/resourcetypes"}, 200},
		{req{method: "GET", path: "/resourcetypes/user"}, 200},
		{req{method: "GET", path: "/schemas"}, 200},
		{req{method: "GET", path: "//SCIM/V2/Users"}, 200},
		{req{method: "POST", path: "/bulk", body: `{}`}, 501},
		{req{method: "GET", path: "/me"}, 501},
		{req{method: "GET", path: "/usersx"}, 404},
		{req{method: "POST", path: "/serviceproviderconfig", body: "x"}, 405},
		{req{method: "DELETE", path: "/users/" + id}, 204},
	} {
		if w := h.do(tc.rq); w.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.rq.method, tc.rq.path, w.Code, tc.status, w.Body)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/scim/v2/users":                  "/scim/v2/Users",
		"/SCIM/v2/GROUPS/abc/":            "/scim/v2/Groups/abc/",
		"/scim/v2/Users/AbC":              "/scim/v2/Users/AbC",
		"/scim/v2/users/.SEARCH":          "/scim/v2/Users/.search",
		"/scim/v2/.Search":                "/scim/v2/.search",
		"/scim/v2/resourcetypes/user":     "/scim/v2/ResourceTypes/user",
		"/scim/v2":                        "/scim/v2",
		"/scim/v2x/users":                 "/scim/v2x/users",
		"/healthz":                        "/healthz",
		"/scim/v2/unknown/users":          "/scim/v2/unknown/users",
		"/scim/v2/schemas/urn:x:2.0:USER": "/scim/v2/Schemas/urn:x:2.0:USER",
	} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}
