package scim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim"
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
	tests := []struct {
		name      string
		cfg       scim.Config
		requests  int
		tenant    string
		wantLast  int
		wantRetry string
	}{
		{"within burst", scim.Config{RateLimit: func(context.Context, string) scim.RateLimit { return scim.RateLimit{Rate: 1, Burst: 3} }}, 3, "slow", 200, ""},
		{"over burst", scim.Config{RateLimit: func(context.Context, string) scim.RateLimit { return scim.RateLimit{Rate: 1, Burst: 3} }}, 4, "slow", 429, "1"},
		{"per-tenant limit", scim.Config{RateLimit: func(_ context.Context, tenant string) scim.RateLimit {
			if tenant == "slow" {
				return scim.RateLimit{Rate: 0.5, Burst: 1}
			}
			return scim.RateLimit{}
		}}, 2, "slow", 429, "2"},
		{"unlimited tenant", scim.Config{RateLimit: func(_ context.Context, tenant string) scim.RateLimit {
			if tenant == "slow" {
				return scim.RateLimit{Rate: 0.5, Burst: 1}
			}
			return scim.RateLimit{}
		}}, 5, "other", 200, ""},
		{"timeout", scim.Config{RequestTimeout: time.Nanosecond}, 1, "slow", 503, "5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
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
			if tc.wantLast != http.StatusOK && rec.Header().Get("Content-Type") != "application/scim+json" {
				t.Fatalf("error without SCIM body: %s", rec.Header().Get("Content-Type"))
			}
		})
	}
}
