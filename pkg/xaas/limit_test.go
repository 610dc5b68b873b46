package xaas

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
)

// budgetLimiter allows each tenant budget requests, then refuses them.
type budgetLimiter struct {
	mu     sync.Mutex
	budget int
	seen   map[string]int
}

func (l *budgetLimiter) Allow(_ context.Context, tenant string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[tenant]++
	return l.seen[tenant] <= l.budget, 1500 * time.Millisecond
}

// TestRateLimit: every XaaS and /items route asks the limiter, per tenant,
// once the request is authenticated; a refused request gets 429 with
// Retry-After in the XaaS error shape.
func TestRateLimit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	routes := []struct{ method, path, ctype, body string }{
		{"GET", Prefix + "/users", "", ""},
		{"PUT", Prefix + "/users/u1", "application/json", `{"email":"a@example.com"}`},
		{"POST", Prefix + "/users:bulk", "text/csv", "id,email\nu2,b@example.com\n"},
		{"GET", Prefix + "/groups/g1", "", ""},
		{"GET", Prefix + "/syncs", "", ""},
		{"GET", "/items", "", ""},
		{"PUT", "/items", "application/json", `{"id":"u3"}`},
		{"DELETE", "/items/u3", "", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			lim := &budgetLimiter{budget: 1, seen: map[string]int{}}
			srv := NewServer(Config{Store: h.st, Auth: auth.NewAuthenticator(h.st, 0), Limiter: lim, RequestTimeout: -1})
			send := func(token string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(rt.body))
				req.Header.Set("Authorization", "Bearer "+token)
				if rt.ctype != "" {
					req.Header.Set("Content-Type", rt.ctype)
				}
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				return rec
			}
			if rec := send("not-a-token"); rec.Code != http.StatusUnauthorized || len(lim.seen) != 0 {
				t.Fatalf("unauthenticated: %d, limiter asked %v", rec.Code, lim.seen)
			}
			if rec := send(testToken); rec.Code == http.StatusTooManyRequests || rec.Code >= 500 {
				t.Fatalf("first request: %d %s", rec.Code, rec.Body)
			}
			rec := send(testToken)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
				t.Fatalf("second request: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if b := decode[map[string]any](t, rec); b["status"] != 429.0 || b["detail"] == "" {
				t.Errorf("429 body %v", b)
			}
			if lim.seen[testTenant] != 2 || len(lim.seen) != 1 {
				t.Errorf("limiter asked %v, want tenant %s twice", lim.seen, testTenant)
			}
		})
	}
}
