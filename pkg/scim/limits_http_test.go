package scim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// TestRequestLimits: a throttled tenant gets a SCIM 429 with Retry-After,
// and a request over the timeout a SCIM 503 with Retry-After (not a gateway
// 504).
func TestRequestLimits(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	for _, tenant := range []string{"slow", "other"} {
		if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: tenant, Secret: "token-" + tenant}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Store.SetTenantSettings(ctx, "slow", map[string]string{store.SettingRateLimit: "2"}); err != nil {
		t.Fatal(err)
	}
	// 0.25 s into a second: a refused request may retry in 0.75 s.
	at := time.Unix(1_700_000_000, 250_000_000)
	limiter := func(def float64) ratelimit.Limiter {
		return ratelimit.New(ratelimit.Config{Store: env.Store, Default: def, Now: func() time.Time { return at }})
	}
	tests := []struct {
		name      string
		cfg       scim.Config
		requests  int
		tenant    string
		wantLast  int
		wantRetry string
	}{
		{"no limiter", scim.Config{}, 10, "slow", 200, ""},
		{"within the tenant's limit", scim.Config{Limiter: limiter(0)}, 2, "slow", 200, ""},
		{"over the tenant's limit", scim.Config{Limiter: limiter(0)}, 3, "slow", 429, "1"},
		{"tenant without a limit", scim.Config{Limiter: limiter(0)}, 10, "other", 200, ""},
		{"within the default", scim.Config{Limiter: limiter(4)}, 4, "other", 200, ""},
		{"over the default", scim.Config{Limiter: limiter(4)}, 5, "other", 429, "1"},
		{"timeout", scim.Config{RequestTimeout: time.Nanosecond}, 1, "slow", 503, "5"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at = at.Add(time.Minute * time.Duration(i+1)) // a fresh window per case
			tc.cfg.Store, tc.cfg.Auth = env.Store, auth.NewAuthenticator(env.Store, time.Hour)
			h := scim.New(tc.cfg)
			var rec *httptest.ResponseRecorder
			for range tc.requests {
				req := httptest.NewRequest("GET", "/scim/v2/Users", nil)
				req.Header.Set("Authorization", "Bearer token-"+tc.tenant)
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
			}
			if rec.Code != tc.wantLast {
				t.Fatalf("last status %d, want %d: %s", rec.Code, tc.wantLast, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Fatalf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			if tc.wantLast != http.StatusOK && (rec.Header().Get("Content-Type") != "application/scim+json" ||
				!strings.Contains(rec.Body.String(), `"status":"`+strconv.Itoa(tc.wantLast)+`"`)) {
				t.Fatalf("error without SCIM body: %s %s", rec.Header().Get("Content-Type"), rec.Body)
			}
		})
	}
}

// TestBadTokenThrottle: a client that keeps presenting unknown tokens gets
// a SCIM 429 with Retry-After instead of a lookup each; a valid token from
// another client is not affected.
func TestBadTokenThrottle(t *testing.T) {
	env := storetest.New(t)
	if _, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "acme", Secret: "token-acme"}); err != nil {
		t.Fatal(err)
	}
	h := scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, time.Hour, auth.WithBadTokenLimit(0.25, 2))})
	send := func(client, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/scim/v2/Users", nil)
		req.RemoteAddr = client
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	steps := []struct {
		client, token string
		status        int
		retryAfter    string
	}{
		{"192.0.2.1:1000", "guess-0001", 401, ""},
		{"192.0.2.1:1001", "guess-0002", 401, ""},
		{"192.0.2.1:1002", "guess-0003", 429, "4"},
		{"192.0.2.2:1000", "token-acme", 200, ""},
		{"192.0.2.2:1000", "guess-0004", 401, ""},
	}
	for i, s := range steps {
		rec := send(s.client, s.token)
		if rec.Code != s.status || rec.Header().Get("Retry-After") != s.retryAfter {
			t.Fatalf("step %d: %d Retry-After %q, want %d %q: %s", i, rec.Code, rec.Header().Get("Retry-After"), s.status, s.retryAfter, rec.Body)
		}
		if s.status != 200 && (rec.Header().Get("Content-Type") != "application/scim+json" ||
			!strings.Contains(rec.Body.String(), `"status":"`+strconv.Itoa(s.status)+`"`)) {
			t.Fatalf("step %d: not a SCIM error: %s %s", i, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}
