package scim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// Hot-path benchmarks through the handler (`make bench`). The full-request
// benchmarks include the DynamoDB round trip to the embedded engine over
// loopback HTTP; BenchmarkStoreGetUser measures that round trip alone and
// BenchmarkRenderUser the handler's own work for GET /Users/{id} without it
// (the target: ≤ 50 µs and ≤ 100 allocations per GET by id excluding
// the store).

// benchUser is a realistic provisioned user: Okta's create body plus Entra's
// enterprise attributes.
func benchUser() map[string]any {
	u := oktaUserBody("bench.user@example.com", "Bench", "User")
	u["title"] = "Engineer"
	u["phoneNumbers"] = []any{map[string]any{"value": "+1 555 0100", "type": "work"}}
	u[entUserURN] = map[string]any{"employeeNumber": "1001", "department": "R&D", "manager": map[string]any{"value": "m-1"}}
	return u
}

func newBenchHarness(b *testing.B) (*harness, string) {
	h := newHarness(b)
	id := h.createUser(benchUser())
	h.warm()
	return h, id
}

func benchServe(b *testing.B, h *harness, r *http.Request, body []byte, status int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, r)
		if w.Code != status {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetUserByID is GET /Users/{id}: auth (cached), one GetItem,
// render, JSON.
func BenchmarkGetUserByID(b *testing.B) {
	h, id := newBenchHarness(b)
	benchServe(b, h, h.newRequest(req{method: "GET", path: "/Users/" + id}), nil, http.StatusOK)
}

// BenchmarkFilterUserName is Okta's existence check
// GET /Users?filter=userName eq "…"&startIndex=1&count=100.
func BenchmarkFilterUserName(b *testing.B) {
	h, _ := newBenchHarness(b)
	path := "/Users?filter=" + url.QueryEscape(`userName eq "BENCH.user@example.com"`) + "&startIndex=1&count=100"
	benchServe(b, h, h.newRequest(req{method: "GET", path: path}), nil, http.StatusOK)
}

// BenchmarkPatchDeactivate is Okta's deactivation: a pathless replace of
// {"active":false} (the benchmark alternates false and true so that every
// request writes).
func BenchmarkPatchDeactivate(b *testing.B) {
	h, id := newBenchHarness(b)
	bodies := [][]byte{
		[]byte(`{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`),
		[]byte(`{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"active":true}}]}`),
	}
	r := h.newRequest(req{method: "PATCH", path: "/Users/" + id, body: bodies[0]})
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		body := bodies[i%2]
		i++
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkStoreGetUser is the store round trip of a GET by id alone: one
// consistent GetItem through the SDK to the embedded engine.
func BenchmarkStoreGetUser(b *testing.B) {
	h, id := newBenchHarness(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.env.Store.GetUser(ctx, "default", id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderUser is the handler's own work for GET /Users/{id} once the
// stored user is read: query parameters, the response body (the stored
// document with schemas, id, meta and groups spliced in) and writing it.
func BenchmarkRenderUser(b *testing.B) {
	h, id := newBenchHarness(b)
	u, err := h.env.Store.GetUser(context.Background(), "default", id)
	if err != nil {
		b.Fatal(err)
	}
	s := h.srv
	r := h.newRequest(req{method: "GET", path: "/Users/" + id})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		q, err := parseQuery(s.defaults.users, r.URL.Query())
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.writeUserBody(w, r, q, u, nil)
	}
}

// BenchmarkRenderUserGeneric is the same through the generic renderer
// (decode, render, project, encode), which any attributes or
// excludedAttributes parameter takes.
func BenchmarkRenderUserGeneric(b *testing.B) {
	h, id := newBenchHarness(b)
	u, err := h.env.Store.GetUser(context.Background(), "default", id)
	if err != nil {
		b.Fatal(err)
	}
	s := h.srv
	r := h.newRequest(req{method: "GET", path: "/Users/" + id})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		q, err := parseQuery(s.defaults.users, r.URL.Query())
		if err != nil {
			b.Fatal(err)
		}
		doc, err := decodeDoc(u)
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		_ = s.writeResource(w, http.StatusOK, u.Version, q.proj.apply(s.defaults.users, s.renderUser(r, u, doc)))
	}
}

// BenchmarkAuthenticateCached is the bearer-token check with a warm cache.
func BenchmarkAuthenticateCached(b *testing.B) {
	h, _ := newBenchHarness(b)
	ctx := context.Background()
	a := h.srv.auth
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, "Bearer "+harnessToken); err != nil {
			b.Fatal(err)
		}
	}
}
