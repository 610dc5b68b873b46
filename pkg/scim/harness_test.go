package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// Test harness shared by the handler tests: a Server over a fresh embedded
// table, one bearer token per tenant, and helpers to send requests.

const (
	harnessBase   = "https://scim.example.test/scim/v2"
	harnessToken  = "test-token-default"
	harnessToken2 = "test-token-tenant-b"
	coreUserURN   = "urn:ietf:params:scim:schemas:core:2.0:User"
	entUserURN    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	errorMsgURN   = "urn:ietf:params:scim:api:messages:2.0:Error"
	patchOpMsgURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

type harness struct {
	t   testing.TB
	env *storetest.Env
	srv *Server
}

// newHarness starts a server with tokens for tenants "default"
// (harnessToken) and "tenant-b" (harnessToken2).
func newHarness(t testing.TB) *harness {
	t.Helper()
	env := storetest.New(t)
	ctx := context.Background()
	for tenant, secret := range map[string]string{"default": harnessToken, "tenant-b": harnessToken2} {
		if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: tenant, Secret: secret}); err != nil {
			t.Fatalf("issue token: %v", err)
		}
	}
	authn := auth.NewAuthenticator(env.Store, 0)
	// Let the authenticator's background writes, if it makes any, finish
	// before the engine stops (cleanups run last-in first-out).
	t.Cleanup(func() {
		if w, ok := any(authn).(interface{ Wait() }); ok {
			w.Wait()
		}
	})
	srv := New(Config{
		Store: env.Store, Auth: authn, BaseURL: harnessBase,
	})
	return &harness{t: t, env: env, srv: srv}
}

// req is a request to send through the handler. Path is relative to the
// SCIM prefix unless it starts with "//" (then it is taken as is, minus one
// slash). Body: nil (none), string or []byte (raw), anything else (JSON).
type req struct {
	method  string
	path    string
	body    any
	token   string            // "" → harnessToken; "-" → no Authorization
	headers map[string]string // extra headers
}

func (h *harness) newRequest(rq req) *http.Request {
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	target := Prefix + rq.path
	if strings.HasPrefix(rq.path, "//") {
		target = rq.path[1:]
	}
	r := httptest.NewRequest(rq.method, target, body)
	switch rq.token {
	case "":
		r.Header.Set("Authorization", "Bearer "+harnessToken)
	case "-":
	default:
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range rq.headers {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

// warm makes one request so that the token is cached, as on a warm Lambda,
// and waits for the authenticator's background work (recording when the
// token was last used, when it does that) so that it does not blur the
// DynamoDB figures measured next.
func (h *harness) warm() {
	h.t.Helper()
	mustStatus(h.t, h.do(req{method: "GET", path: "/Users?count=1"}), http.StatusOK)
	if w, ok := h.srv.auth.(interface{ Wait() }); ok {
		w.Wait()
	}
}

// newHTTPServer serves h over a real loopback HTTP server for the test.
func newHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// do sends rq through the handler and returns the recorded response.
func (h *harness) do(rq req) *httptest.ResponseRecorder {
	h.t.Helper()
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, h.newRequest(rq))
	checkEnvelope(h.t, rq.method+" "+rq.path, w)
	return w
}

// checkEnvelope checks what every SCIM response must satisfy: a body comes as
// application/scim+json, an error body is an RFC 7644 §3.12 Error with
// status as a string equal to the HTTP status, and a 5xx reveals nothing.
func checkEnvelope(t testing.TB, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code == http.StatusNoContent || w.Code == http.StatusNotModified {
		if w.Body.Len() != 0 {
			t.Errorf("%s: %d with a body: %s", what, w.Code, w.Body)
		}
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("%s: Content-Type %q, want application/scim+json", what, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Errorf("%s: body is not a JSON object: %v: %s", what, err, w.Body)
		return
	}
	if w.Code < 400 {
		return
	}
	if s, ok := m["status"].(string); !ok || s != strconv.Itoa(w.Code) {
		t.Errorf("%s: error status %#v, want string %q", what, m["status"], strconv.Itoa(w.Code))
	}
	if sc, _ := m["schemas"].([]any); len(sc) != 1 || sc[0] != errorMsgURN {
		t.Errorf("%s: error schemas %v", what, m["schemas"])
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("%s: error without detail", what)
	}
	if w.Code >= 500 {
		d, _ := m["detail"].(string)
		for _, leak := range []string{"dynamodb", "DynamoDB", "T#", "U#", "panic", "runtime", ".go:", "goroutine", "127.0.0.1", "operation error"} {
			if strings.Contains(d, leak) {
				t.Errorf("%s: 5xx detail leaks %q: %s", what, leak, d)
			}
		}
	}
}

// jsonBody decodes a response body as a JSON object.
func jsonBody(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("decode body: %v: %s", err, w.Body)
	}
	return m
}

// mustStatus fails unless w has the status; it returns the decoded body
// (nil for an empty body).
func mustStatus(t testing.TB, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if w.Body.Len() == 0 {
		return nil
	}
	return jsonBody(t, w)
}

// createUser POSTs a user and returns its id.
func (h *harness) createUser(body map[string]any) string {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/Users", body: body})
	m := mustStatus(h.t, w, http.StatusCreated)
	id, _ := m["id"].(string)
	if id == "" {
		h.t.Fatalf("created user without id: %s", w.Body)
	}
	return id
}

// oktaUserBody returns the body Okta sends to create a user.
func oktaUserBody(userName, given, family string) map[string]any {
	return map[string]any{
		"schemas":     []any{coreUserURN},
		"userName":    userName,
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": given + " " + family,
		"locale":      "en-US",
		"externalId":  "00u" + strings.ReplaceAll(given+family, " ", "") + "0h7",
		"groups":      []any{},
		"password":    "1mz050nq",
		"active":      true,
	}
}

// jsonAt returns the value at a dotted path ("Resources.0.id") in v.
func jsonAt(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, seg := range jsonPathSegs(path) {
		switch t := v.(type) {
		case map[string]any:
			x, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = x
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// jsonPathSegs splits on dots, keeping URN segments ("urn:…:2.0:User") whole
// when they are written in square brackets: a.[urn:x:2.0:User].b.
func jsonPathSegs(path string) []string {
	var out []string
	for path != "" {
		if strings.HasPrefix(path, "[") {
			end := strings.Index(path, "]")
			if end < 0 {
				return append(out, path)
			}
			out = append(out, path[1:end])
			path = strings.TrimPrefix(path[end+1:], ".")
			continue
		}
		seg, rest, _ := strings.Cut(path, ".")
		out = append(out, seg)
		path = rest
	}
	return out
}
