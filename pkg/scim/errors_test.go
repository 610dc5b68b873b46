package scim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// TestErrorResponses drives every client error path through the handler. Each
// response must have the status, scimType and headers listed; the envelope
// (application/scim+json, Error schema, status as a string, a detail) is
// checked by harness.do for every response.
func TestErrorResponses(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(map[string]any{"userName": "exists@example.com", "name": map[string]any{"givenName": "E"}})
	h.createUser(map[string]any{"userName": "other@example.com"})
	long := strings.Repeat("x", 513)
	patchOp := func(ops string) string {
		return `{"schemas":["` + patchOpMsgURN + `"],"Operations":` + ops + `}`
	}

	tests := []struct {
		name     string
		rq       req
		status   int
		scimType string
		header   map[string]string // expected response headers
	}{
		// Bodies that are not a JSON object.
		{"bad JSON", req{method: "POST", path: "/Users", body: `{"userName":`}, 400, "invalidSyntax", nil},
		{"bad JSON syntax", req{method: "POST", path: "/Users", body: `{"userName" "x"}`}, 400, "invalidSyntax", nil},
		{"empty body", req{method: "POST", path: "/Users", body: ``}, 400, "invalidSyntax", nil},
		{"whitespace body", req{method: "POST", path: "/Users", body: " \n\t"}, 400, "invalidSyntax", nil},
		{"array body", req{method: "POST", path: "/Users", body: `[{"userName":"a@b"}]`}, 400, "invalidSyntax", nil},
		{"string body", req{method: "POST", path: "/Users", body: `"a@b"`}, 400, "invalidSyntax", nil},
		{"null body", req{method: "POST", path: "/Users", body: `null`}, 400, "invalidSyntax", nil},
		{"trailing data", req{method: "POST", path: "/Users", body: `{"userName":"t@b"} {}`}, 400, "invalidSyntax", nil},
		{"invalid UTF-8", req{method: "POST", path: "/Users", body: "{\"userName\":\"\xff\xfe\"}"}, 400, "invalidSyntax", nil},

		// Wrong types.
		{"userName number", req{method: "POST", path: "/Users", body: `{"userName":5}`}, 400, "invalidValue", nil},
		{"userName object", req{method: "POST", path: "/Users", body: `{"userName":{"a":1}}`}, 400, "invalidValue", nil},
		{"active not boolean", req{method: "POST", path: "/Users", body: `{"userName":"w1@b","active":"maybe"}`}, 400, "invalidValue", nil},
		{"active number", req{method: "POST", path: "/Users", body: `{"userName":"w2@b","active":1}`}, 400, "invalidValue", nil},
		{"name not an object", req{method: "POST", path: "/Users", body: `{"userName":"w3@b","name":"Babs Jensen"}`}, 400, "invalidValue", nil},
		{"name.givenName number", req{method: "POST", path: "/Users", body: `{"userName":"w4@b","name":{"givenName":1}}`}, 400, "invalidValue", nil},
		{"emails element not an object", req{method: "POST", path: "/Users", body: `{"userName":"w5@b","emails":["a@b"]}`}, 400, "invalidValue", nil},
		{"emails value number", req{method: "POST", path: "/Users", body: `{"userName":"w6@b","emails":[{"value":7}]}`}, 400, "invalidValue", nil},
		{"two primary emails", req{method: "POST", path: "/Users", body: `{"userName":"w7@b","emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":true}]}`}, 400, "invalidValue", nil},
		{"externalId number", req{method: "POST", path: "/Users", body: `{"userName":"w8@b","externalId":42}`}, 400, "invalidValue", nil},
		{"enterprise extension not an object", req{method: "POST", path: "/Users", body: `{"userName":"w9@b","` + entUserURN + `":"x"}`}, 400, "invalidValue", nil},
		{"manager not an object", req{method: "POST", path: "/Users", body: `{"userName":"w10@b","` + entUserURN + `":{"manager":5}}`}, 400, "invalidValue", nil},
		{"unknown extension URN", req{method: "POST", path: "/Users", body: `{"userName":"w11@b","urn:example:params:scim:schemas:extension:acme:2.0:User":{"x":1}}`}, 400, "invalidSyntax", nil},

		// userName.
		{"missing userName", req{method: "POST", path: "/Users", body: `{"name":{"givenName":"B"}}`}, 400, "invalidValue", nil},
		{"null userName", req{method: "POST", path: "/Users", body: `{"userName":null}`}, 400, "invalidValue", nil},
		{"blank userName", req{method: "POST", path: "/Users", body: `{"userName":"  "}`}, 400, "invalidValue", nil},
		{"userName over 512 bytes", req{method: "POST", path: "/Users", body: `{"userName":"` + long + `"}`}, 400, "invalidValue", nil},
		{"externalId over 512 bytes", req{method: "POST", path: "/Users", body: `{"userName":"w12@b","externalId":"` + long + `"}`}, 400, "invalidValue", nil},
		{"duplicate userName, other case", req{method: "POST", path: "/Users", body: `{"userName":"EXISTS@example.com"}`}, 409, "uniqueness", nil},

		// PUT.
		{"PUT bad JSON", req{method: "PUT", path: "/Users/" + id, body: `{`}, 400, "invalidSyntax", nil},
		{"PUT missing userName", req{method: "PUT", path: "/Users/" + id, body: `{"name":{"givenName":"B"}}`}, 400, "invalidValue", nil},
		{"PUT wrong type", req{method: "PUT", path: "/Users/" + id, body: `{"userName":"exists@example.com","active":[]}`}, 400, "invalidValue", nil},
		{"PUT id in body differs", req{method: "PUT", path: "/Users/" + id, body: `{"id":"another","userName":"exists@example.com"}`}, 400, "mutability", nil},
		{"PUT userName taken", req{method: "PUT", path: "/Users/" + id, body: `{"userName":"Other@Example.com"}`}, 409, "uniqueness", nil},

		// PATCH.
		{"PATCH bad JSON", req{method: "PATCH", path: "/Users/" + id, body: `{"Operations":[`}, 400, "invalidSyntax", nil},
		{"PATCH without PatchOp schema", req{method: "PATCH", path: "/Users/" + id, body: `{"Operations":[{"op":"add","path":"title","value":"x"}]}`}, 400, "invalidSyntax", nil},
		{"PATCH no operations", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[]`)}, 400, "invalidSyntax", nil},
		{"PATCH unknown op", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"merge","path":"title","value":"x"}]`)}, 400, "invalidSyntax", nil},
		{"PATCH op not a string", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":1,"path":"title","value":"x"}]`)}, 400, "invalidSyntax", nil},
		{"PATCH add without value", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"add","path":"title"}]`)}, 400, "invalidSyntax", nil},
		{"PATCH remove without path", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"remove"}]`)}, 400, "noTarget", nil},
		{"PATCH malformed path", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"emails[type eq","value":"x"}]`)}, 400, "invalidPath", nil},
		{"PATCH unknown attribute", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"shoeSize","value":"x"}]`)}, 400, "invalidPath", nil},
		{"PATCH wrong value type", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"active","value":"perhaps"}]`)}, 400, "invalidValue", nil},
		{"PATCH pathless with a string value", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","value":"x"}]`)}, 400, "invalidValue", nil},
		{"PATCH remove userName", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"remove","path":"userName"}]`)}, 400, "mutability", nil},
		{"PATCH read-only meta", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}]`)}, 400, "mutability", nil},
		{"PATCH userName taken", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"userName","value":"other@example.com"}]`)}, 409, "uniqueness", nil},
		{"PATCH userName blank", req{method: "PATCH", path: "/Users/" + id, body: patchOp(`[{"op":"replace","path":"userName","value":""}]`)}, 400, "", nil},

		// Unknown ids.
		{"GET unknown id", req{method: "GET", path: "/Users/does-not-exist"}, 404, "", nil},
		{"PUT unknown id", req{method: "PUT", path: "/Users/does-not-exist", body: `{"userName":"n@b"}`}, 404, "", nil},
		{"PATCH unknown id", req{method: "PATCH", path: "/Users/does-not-exist", body: patchOp(`[{"op":"replace","value":{"active":false}}]`)}, 404, "", nil},
		{"DELETE unknown id", req{method: "DELETE", path: "/Users/does-not-exist"}, 404, "", nil},
		{"GET id with a slash-like escape", req{method: "GET", path: "/Users/a%2Fb"}, 404, "", nil},

		// Query parameters.
		{"startIndex not a number", req{method: "GET", path: "/Users?startIndex=abc"}, 400, "invalidValue", nil},
		{"count not a number", req{method: "GET", path: "/Users?count=1.5"}, 400, "invalidValue", nil},
		{"bad sortOrder", req{method: "GET", path: "/Users?sortBy=userName&sortOrder=up"}, 400, "invalidValue", nil},
		{"unknown sortBy", req{method: "GET", path: "/Users?sortBy=shoeSize"}, 400, "invalidPath", nil},
		{"unknown attribute in attributes", req{method: "GET", path: "/Users?attributes=shoeSize"}, 400, "invalidPath", nil},
		{"empty filter", req{method: "GET", path: "/Users?filter="}, 400, "invalidFilter", nil},
		{"filter on discovery → 403", req{method: "GET", path: "/Schemas?filter=id+eq+%22x%22"}, 403, "", nil},
		{"cursor and startIndex", req{method: "GET", path: "/Users?cursor=&startIndex=1"}, 400, "invalidCursor", nil},
		{"cursor not issued here", req{method: "GET", path: "/Users?cursor=%21%21%21"}, 400, "invalidCursor", nil},
		{"cursor with sortBy", req{method: "GET", path: "/Users?cursor=&sortBy=userName"}, 400, "invalidCursor", nil},
		{".search bad JSON", req{method: "POST", path: "/Users/.search", body: `{`}, 400, "invalidSyntax", nil},
		{".search filter not a string", req{method: "POST", path: "/Users/.search", body: `{"filter":5}`}, 400, "invalidSyntax", nil},
		{".search count not a number", req{method: "POST", path: "/Users/.search", body: `{"count":"10"}`}, 400, "invalidSyntax", nil},
		{".search attributes not strings", req{method: "POST", path: "/Users/.search", body: `{"attributes":[1]}`}, 400, "invalidSyntax", nil},
		{".search invalid filter", req{method: "POST", path: "/Users/.search", body: `{"filter":"userName xx \"a\""}`}, 400, "invalidFilter", nil},

		// Methods and routes.
		{"PUT /Users", req{method: "PUT", path: "/Users", body: `{}`}, 405, "", map[string]string{"Allow": "GET, POST"}},
		{"DELETE /Users", req{method: "DELETE", path: "/Users"}, 405, "", map[string]string{"Allow": "GET, POST"}},
		{"POST /Users/{id}", req{method: "POST", path: "/Users/" + id, body: `{}`}, 405, "", map[string]string{"Allow": "GET, PUT, PATCH, DELETE"}},
		{"POST /ServiceProviderConfig", req{method: "POST", path: "/ServiceProviderConfig", body: "test"}, 405, "", map[string]string{"Allow": "GET"}},
		{"PUT /ResourceTypes", req{method: "PUT", path: "/ResourceTypes", body: "test"}, 405, "", map[string]string{"Allow": "GET"}},
		{"DELETE /ResourceTypes/User", req{method: "DELETE", path: "/ResourceTypes/User"}, 405, "", map[string]string{"Allow": "GET"}},
		{"POST /Schemas", req{method: "POST", path: "/Schemas", body: "test"}, 405, "", map[string]string{"Allow": "GET"}},
		{"PATCH /Schemas/{id}", req{method: "PATCH", path: "/Schemas/" + coreUserURN, body: "{}"}, 405, "", map[string]string{"Allow": "GET"}},
		{"unknown resource type", req{method: "GET", path: "/ResourceTypes/Device"}, 404, "", nil},
		{"unknown schema", req{method: "GET", path: "/Schemas/urn:example:nope"}, 404, "", nil},
		{"unknown endpoint", req{method: "GET", path: "/Devices"}, 404, "", nil},
		{"too deep", req{method: "GET", path: "/Users/" + id + "/groups"}, 404, "", nil},
		{"SCIM root", req{method: "GET", path: ""}, 404, "", nil},
		{"outside the SCIM prefix", req{method: "GET", path: "//scim/v1/Users"}, 404, "", nil},
		{"outside the SCIM prefix, no token", req{method: "GET", path: "//index.html", token: "-"}, 404, "", nil},
		{"/Me", req{method: "GET", path: "/Me"}, 501, "", nil},
		{"/Bulk", req{method: "POST", path: "/Bulk", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}`}, 501, "", nil},
		{"root .search", req{method: "POST", path: "/.search", body: `{}`}, 501, "", nil},

		// Authentication, checked before routing.
		{"no Authorization", req{method: "GET", path: "/Users", token: "-"}, 401, "", map[string]string{"WWW-Authenticate": `Bearer realm="scimless"`}},
		{"wrong token", req{method: "GET", path: "/Users", token: "not-a-token"}, 401, "", map[string]string{"WWW-Authenticate": `Bearer realm="scimless"`}},
		{"junk Authorization", req{method: "GET", path: "/Users", headers: map[string]string{"Authorization": "non-token"}}, 401, "", map[string]string{"WWW-Authenticate": `Bearer realm="scimless"`}},
		{"Basic auth", req{method: "GET", path: "/Users", headers: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}}, 401, "", nil},
		{"Bearer without token", req{method: "GET", path: "/Users", headers: map[string]string{"Authorization": "Bearer "}}, 401, "", nil},
		{"token of another case", req{method: "GET", path: "/Users", token: strings.ToUpper(harnessToken)}, 401, "", nil},
		{"401 before 404", req{method: "GET", path: "/Nothing", token: "-"}, 401, "", nil},
		{"401 before 405", req{method: "POST", path: "/Schemas", token: "-", body: "x"}, 401, "", nil},
		{"401 on a write", req{method: "POST", path: "/Users", token: "wrong", body: `{"userName":"x@y"}`}, 401, "", nil},
		{"discovery needs a token", req{method: "GET", path: "/ServiceProviderConfig", token: "-"}, 401, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(tc.rq)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			m := jsonBody(t, w)
			if tc.status >= 400 {
				if got, _ := m["scimType"].(string); tc.scimType != "" && got != tc.scimType {
					t.Errorf("scimType %q, want %q: %s", got, tc.scimType, w.Body)
				}
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	// Nothing above changed the user.
	m := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id}), 200)
	if m["userName"] != "exists@example.com" || m["meta"].(map[string]any)["version"] != `W/"1"` {
		t.Errorf("user changed by failed requests: %v", m)
	}
}

// TestContentTypes checks that request bodies are read whatever their media
// type says (Okta's SPEC test sends none) and that every response is
// application/scim+json.
func TestContentTypes(t *testing.T) {
	h := newHarness(t)
	for i, ct := range []string{"", "application/scim+json", "application/scim+json; charset=utf-8", "application/json", "application/json; charset=UTF-8", "text/plain"} {
		t.Run("Content-Type "+ct, func(t *testing.T) {
			rq := req{method: "POST", path: "/Users", body: map[string]any{"userName": "ct" + string(rune('a'+i)) + "@example.com"}}
			r := h.newRequest(rq)
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, r)
			checkEnvelope(t, "POST", w)
			m := mustStatus(t, w, http.StatusCreated)
			id := m["id"].(string)
			patch := `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`
			r = h.newRequest(req{method: "PATCH", path: "/Users/" + id, body: patch})
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
			w = httptest.NewRecorder()
			h.srv.ServeHTTP(w, r)
			checkEnvelope(t, "PATCH", w)
			if m := mustStatus(t, w, http.StatusOK); m["active"] != false {
				t.Errorf("PATCH not applied: %v", m)
			}
		})
	}
	// Accept headers do not matter either.
	for _, accept := range []string{"", "application/json", "application/scim+json", "*/*", "text/html"} {
		w := h.do(req{method: "GET", path: "/Users?count=1", headers: map[string]string{"Accept": accept}})
		mustStatus(t, w, http.StatusOK)
	}
}

// TestBodyLimit checks the 10 MB request body limit, announced by
// Content-Length or discovered while reading a chunked body.
func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	id := h.createUser(map[string]any{"userName": "limit@example.com"})
	big := `{"userName":"big@example.com","title":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		method, path string
		chunked      bool
	}{
		{"POST", "/Users", false},
		{"POST", "/Users", true},
		{"PUT", "/Users/" + id, false},
		{"PUT", "/Users/" + id, true},
		{"PATCH", "/Users/" + id, true},
		{"POST", "/Users/.search", true},
	} {
		name := tc.method + " " + tc.path
		if tc.chunked {
			name += " chunked"
		}
		t.Run(name, func(t *testing.T) {
			r := h.newRequest(req{method: tc.method, path: tc.path, body: big})
			if tc.chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(big)})
			}
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, r)
			checkEnvelope(t, name, w)
			mustStatus(t, w, http.StatusRequestEntityTooLarge)
		})
	}
	// Just under the limit is accepted (as far as size goes).
	okBody := `{"userName":"under@example.com","title":"` + strings.Repeat("a", 1000) + `"}`
	mustStatus(t, h.do(req{method: "POST", path: "/Users", body: okBody}), http.StatusCreated)
}

// TestItemSizeLimit checks that a resource over DynamoDB's 400 KB item limit
// is refused with a SCIM 400 invalidValue before it reaches DynamoDB, on
// create, replace and patch, and that nothing is stored.
func TestItemSizeLimit(t *testing.T) {
	h := newHarness(t)
	h.warm()
	big := strings.Repeat("a", 450<<10)
	fits := strings.Repeat("a", 390<<10)
	id := h.createUser(map[string]any{"userName": "fits@example.com", "title": fits})
	patchTitle := func(v string) map[string]any {
		return map[string]any{"schemas": []any{patchOpMsgURN}, "Operations": []any{map[string]any{"op": "replace", "path": "title", "value": v}}}
	}
	for _, tc := range []struct {
		name string
		rq   req
	}{
		{"create user", req{method: "POST", path: "/Users", body: map[string]any{"userName": "huge@example.com", "title": big}}},
		{"replace user", req{method: "PUT", path: "/Users/" + id, body: map[string]any{"userName": "fits@example.com", "title": big}}},
		{"patch user", req{method: "PATCH", path: "/Users/" + id, body: patchTitle(big)}},
		// Small parts that only add up to too much.
		{"patch user over the limit by a little", req{method: "PATCH", path: "/Users/" + id, body: map[string]any{
			"schemas": []any{patchOpMsgURN}, "Operations": []any{map[string]any{"op": "replace", "path": "nickName", "value": strings.Repeat("b", 20<<10)}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.env.Metrics.Snapshot()
			w := h.do(tc.rq)
			m := mustStatus(t, w, http.StatusBadRequest)
			if m["scimType"] != "invalidValue" || !strings.Contains(m["detail"].(string), "400 KB") {
				t.Errorf("error %v, want invalidValue naming the 400 KB limit", m)
			}
			if d := h.env.Metrics.Snapshot().Sub(before); d.ItemsWritten != 0 {
				t.Errorf("%d items written", d.ItemsWritten)
			}
		})
	}
	got := mustStatus(t, h.do(req{method: "GET", path: "/Users/" + id}), http.StatusOK)
	if got["title"] != fits || got["nickName"] != nil {
		t.Errorf("a refused write changed the user")
	}
}

// TestServerFaults checks that failures that are not the client's fault
// become a 500 whose body reveals nothing internal, and are logged.
func TestServerFaults(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: harnessToken}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	t.Run("store error in authentication", func(t *testing.T) {
		srv := New(Config{Store: env.Store, Auth: failingAuth{err: errors.New("operation error DynamoDB: GetItem, dial tcp 127.0.0.1:8000: connection refused")}, Logger: logger})
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", Prefix+"/Users", nil))
		checkEnvelope(t, "GET", w)
		mustStatus(t, w, http.StatusInternalServerError)
	})
	t.Run("panic", func(t *testing.T) {
		srv := New(Config{Store: env.Store, Auth: failingAuth{panic: true}, Logger: logger})
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", Prefix+"/Users/x", nil))
		checkEnvelope(t, "GET", w)
		mustStatus(t, w, http.StatusInternalServerError)
	})
	t.Run("store unreachable", func(t *testing.T) {
		// The token is accepted without the store, so every request below
		// reaches its handler and fails there. The server's own request
		// timeout bounds the SDK's retries of the refused connection: the
		// outcome is a 500 (the SDK gave up) or a 503 (the timeout), a 5xx
		// either way, however slow the machine.
		srv := New(Config{Store: env.Store, Auth: okAuth{auth.Principal{Tenant: "default", Scopes: []string{auth.ScopeSCIM}}}, Logger: logger,
			RequestTimeout: 500 * time.Millisecond})
		if err := env.Engine.Close(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/Users/u1", ""},
			{"GET", "/Users?filter=userName+eq+%22a%22", ""},
			{"POST", "/Users", `{"userName":"a@b"}`},
			{"PATCH", "/Groups/g1", `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}`},
		} {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(c.method, Prefix+c.path, body))
			checkEnvelope(t, c.method+" "+c.path, w)
			if w.Code < 500 {
				t.Errorf("%s %s with the store down: %d, want 5xx: %s", c.method, c.path, w.Code, w.Body)
			}
		}
		r := httptest.NewRequest("GET", "/healthz", nil)
		ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
		defer cancel()
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r.WithContext(ctx))
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "127.0.0.1") {
			t.Errorf("healthz with the store down: %d %s", w.Code, w.Body)
		}
	})
	if !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("server faults were not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), harnessToken) {
		t.Errorf("the log contains the bearer token")
	}
}

// okAuth accepts every request as its principal, without the store.
type okAuth struct{ p auth.Principal }

func (a okAuth) Authenticate(context.Context, string) (auth.Principal, error) { return a.p, nil }

type failingAuth struct {
	err   error
	panic bool
}

func (f failingAuth) Authenticate(ctx context.Context, header string) (auth.Principal, error) {
	if f.panic {
		panic("runtime error: index out of range [3] with length 2 (internal/secret.go:42)")
	}
	return auth.Principal{}, f.err
}

// TestScopes checks that a token without the scim scope is refused.
func TestScopes(t *testing.T) {
	h := newHarness(t)
	if _, _, err := auth.Issue(context.Background(), h.env.Store, auth.IssueOptions{Tenant: "default", Secret: "xaas-only-token", Scopes: []string{auth.ScopeXaaS}}); err != nil {
		t.Fatal(err)
	}
	w := h.do(req{method: "GET", path: "/Users", token: "xaas-only-token"})
	mustStatus(t, w, http.StatusForbidden)
}

// TestOverlongIDs checks that ids no key can hold are answered as not found
// without asking DynamoDB, which refuses keys over 1,024 bytes with a
// ValidationException (a 500 on AWS; the embedded engine does not check).
func TestOverlongIDs(t *testing.T) {
	h := newHarness(t)
	h.warm()
	long := strings.Repeat("a", 2000)
	patch := `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	for _, tc := range []struct {
		rq     req
		status int
	}{
		{req{method: "GET", path: "/Users/" + long}, 404},
		{req{method: "PUT", path: "/Users/" + long, body: `{"userName":"x@y"}`}, 404},
		{req{method: "PATCH", path: "/Users/" + long, body: patch}, 404},
		{req{method: "DELETE", path: "/Users/" + long}, 404},
		{req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`id eq "`+long+`"`)}, 200},
		{req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`userName eq "`+long+`"`)}, 200},
		{req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`externalId eq "`+long+`"`)}, 200},
	} {
		before := h.env.Metrics.Snapshot()
		w := h.do(tc.rq)
		d := h.env.Metrics.Snapshot().Sub(before)
		if w.Code != tc.status {
			t.Errorf("%s %.40s: status %d, want %d", tc.rq.method, tc.rq.path, w.Code, tc.status)
		}
		if d.Total() != 0 {
			t.Errorf("%s %.40s: %v DynamoDB requests, want none", tc.rq.method, tc.rq.path, d.Requests)
		}
		if len(w.Body.String()) > 1000 {
			t.Errorf("%s %.40s: the error echoes the whole id", tc.rq.method, tc.rq.path)
		}
	}
}
