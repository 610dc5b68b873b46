package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func bearer(secret string) string { return "Bearer " + secret }

func issue(t *testing.T, st *store.Store, o auth.IssueOptions) (string, store.Token) {
	t.Helper()
	secret, tok, err := auth.Issue(context.Background(), st, o)
	if err != nil {
		t.Fatalf("issue %+v: %v", o, err)
	}
	return secret, tok
}

func TestIssue(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "paused"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetTenantStatus(ctx, "paused", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name    string
		opts    auth.IssueOptions
		wantErr string // substring; "" means success
		is      error
	}{
		{"random secret", auth.IssueOptions{Tenant: "acme", RequireTenant: true, Label: "okta-prod"}, "", nil},
		{"given secret", auth.IssueOptions{Tenant: "acme", Secret: "fixed-secret-1", RequireTenant: true}, "", nil},
		{"same secret again is idempotent", auth.IssueOptions{Tenant: "acme", Secret: "fixed-secret-1"}, "", nil},
		{"same secret, other tenant", auth.IssueOptions{Tenant: "globex", Secret: "fixed-secret-1"}, "already issued for another tenant", nil},
		{"scopes", auth.IssueOptions{Tenant: "acme", Scopes: []string{"xaas", "scim", "xaas"}}, "", nil},
		{"unknown scope", auth.IssueOptions{Tenant: "acme", Scopes: []string{"admin"}}, `unknown scope "admin"`, nil},
		{"invalid tenant", auth.IssueOptions{Tenant: "a cme"}, "invalid tenant name", nil},
		{"short secret", auth.IssueOptions{Tenant: "acme", Secret: "short"}, "a token must be 8-512 characters long", nil},
		{"long secret", auth.IssueOptions{Tenant: "acme", Secret: strings.Repeat("x", 513)}, "a token must be 8-512 characters long", nil},
		{"secret with space", auth.IssueOptions{Tenant: "acme", Secret: "has a space"}, "must not contain spaces or line breaks", nil},
		{"secret with tab", auth.IssueOptions{Tenant: "acme", Secret: "has\ta-tab"}, "must not contain spaces or line breaks", nil},
		{"label too long", auth.IssueOptions{Tenant: "acme", Label: strings.Repeat("x", auth.MaxLabel+1)}, "label", nil},
		{"label with newline", auth.IssueOptions{Tenant: "acme", Label: "a\nb"}, "label", nil},
		{"expiry in the past", auth.IssueOptions{Tenant: "acme", Expires: now.Add(-time.Hour)}, "in the past", nil},
		{"unknown tenant refused", auth.IssueOptions{Tenant: "nobody", RequireTenant: true}, "unknown tenant", store.ErrNotFound},
		{"unknown tenant created", auth.IssueOptions{Tenant: "newco"}, "", nil},
		{"suspended tenant", auth.IssueOptions{Tenant: "paused", RequireTenant: true}, "suspended", auth.ErrSuspended},
		{"suspended tenant, create mode", auth.IssueOptions{Tenant: "paused"}, "suspended", auth.ErrSuspended},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret, tok, err := auth.Issue(ctx, st, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
				}
				if tc.opts.Secret != "" && strings.Contains(err.Error(), tc.opts.Secret) {
					t.Fatalf("error echoes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			if tok.Hash != auth.Hash(secret) || tok.Tenant != tc.opts.Tenant || tok.ID == "" || !strings.HasPrefix(secret, tok.Prefix) {
				t.Fatalf("token %+v for secret", tok)
			}
			if fmt.Sprint(tok.Scopes) != "[scim xaas]" {
				t.Fatalf("scopes = %v", tok.Scopes)
			}
		})
	}
	// acme: random, fixed (once), scopes.
	if toks, _ := st.ListTokens(ctx, "acme"); len(toks) != 3 {
		t.Fatalf("acme has %d tokens, want 3", len(toks))
	}
	if tn, err := st.GetTenant(ctx, "newco"); err != nil || tn.Status != store.TenantActive {
		t.Fatalf("newco: %+v %v", tn, err)
	}
}

// TestIssueEventsScope: a token issued for the Events API alone carries that
// scope only.
func TestIssueEventsScope(t *testing.T) {
	st := storetest.New(t).Store
	ctx := context.Background()
	tests := []struct {
		scopes []string
		want   string
	}{
		{[]string{auth.ScopeEvents}, "[events]"},
		{[]string{auth.ScopeSCIM, auth.ScopeEvents, auth.ScopeXaaS}, "[events scim xaas]"},
	}
	for _, tc := range tests {
		secret, tok, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: "acme", Scopes: tc.scopes})
		if err != nil || fmt.Sprint(tok.Scopes) != tc.want {
			t.Fatalf("issue %v: %v %v, want scopes %s", tc.scopes, tok.Scopes, err, tc.want)
		}
		p, err := auth.NewAuthenticator(st, time.Minute, auth.WithoutLastUsed()).Authenticate(ctx, "Bearer "+secret)
		if err != nil || !p.Has(auth.ScopeEvents) || p.Has(auth.ScopeSCIM) != strings.Contains(tc.want, "scim") {
			t.Fatalf("authenticate %v: %+v %v", tc.scopes, p, err)
		}
	}
}

func TestAuthenticateHeader(t *testing.T) {
	env := storetest.New(t)
	secret, _ := issue(t, env.Store, auth.IssueOptions{Tenant: "acme", Scopes: []string{auth.ScopeSCIM}})
	a := auth.NewAuthenticator(env.Store, 0, auth.WithoutLastUsed())
	tests := []struct {
		name    string
		header  string
		wantErr error
	}{
		{"valid", bearer(secret), nil},
		{"scheme case", "bearer " + secret, nil},
		{"surrounding spaces", "  Bearer   " + secret + "  ", nil},
		{"empty", "", auth.ErrUnauthorized},
		{"no token", "Bearer ", auth.ErrUnauthorized},
		{"basic", "Basic " + secret, auth.ErrUnauthorized},
		{"unknown", bearer(secret + "x"), auth.ErrUnauthorized},
		{"too long", bearer(strings.Repeat("x", 513)), auth.ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), tc.header)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if errors.Is(err, auth.ErrSuspended) {
					t.Fatalf("not a suspension: %v", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error echoes the token: %v", err)
				}
				return
			}
			if p.Tenant != "acme" || !p.Has(auth.ScopeSCIM) || p.Has(auth.ScopeXaaS) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestRotateAndRevoke(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	oldSecret, oldTok := issue(t, st, auth.IssueOptions{Tenant: "acme", Label: "okta-2024", RequireTenant: true})
	a := auth.NewAuthenticator(st, time.Minute, auth.WithClock(clk.now), auth.WithoutLastUsed())
	if _, err := a.Authenticate(ctx, bearer(oldSecret)); err != nil {
		t.Fatalf("old token: %v", err)
	}
	// Rotation: a second live token, then the first is revoked.
	newSecret, _ := issue(t, st, auth.IssueOptions{Tenant: "acme", Label: "okta-2025", RequireTenant: true})
	for _, s := range []string{oldSecret, newSecret} {
		if p, err := a.Authenticate(ctx, bearer(s)); err != nil || p.Tenant != "acme" {
			t.Fatalf("both tokens live: %+v %v", p, err)
		}
	}
	if _, err := st.RevokeToken(ctx, oldTok.ID); err != nil {
		t.Fatal(err)
	}
	// Within the cache TTL the revoked token still works (documented)…
	if _, err := a.Authenticate(ctx, bearer(oldSecret)); err != nil {
		t.Fatalf("revoked token refused before the cache TTL: %v", err)
	}
	// …and after it, it is refused while the new one keeps working.
	clk.add(time.Minute + time.Second)
	if _, err := a.Authenticate(ctx, bearer(oldSecret)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked token after the TTL: %v", err)
	}
	if _, err := a.Authenticate(ctx, bearer(newSecret)); err != nil {
		t.Fatalf("new token after the rotation: %v", err)
	}
	// A fresh authenticator (another Lambda instance) refuses it at once.
	if _, err := auth.NewAuthenticator(st, 0).Authenticate(ctx, bearer(oldSecret)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked token, cold cache: %v", err)
	}
}

func TestSuspendedAndExpired(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	clk := &clock{t: time.Now()}
	live, _ := issue(t, st, auth.IssueOptions{Tenant: "acme"})
	short, _ := issue(t, st, auth.IssueOptions{Tenant: "acme", Expires: clk.now().Add(time.Hour)})
	other, _ := issue(t, st, auth.IssueOptions{Tenant: "globex"})

	if _, err := st.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	a := auth.NewAuthenticator(st, time.Minute, auth.WithClock(clk.now), auth.WithoutLastUsed())
	check := func(step, secret string, want error) {
		t.Helper()
		p, err := a.Authenticate(ctx, bearer(secret))
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("%s: err = %v, want %v", step, err, want)
		}
		if strings.HasPrefix(step, "expired") && errors.Is(err, auth.ErrSuspended) {
			t.Fatalf("%s: %v is not a suspension", step, err)
		}
		if err != nil && len(p.Scopes) != 0 {
			t.Fatalf("%s: a refused principal carries scopes", step)
		}
	}
	check("suspended", live, auth.ErrSuspended)
	check("suspended is unauthorized too", live, auth.ErrUnauthorized)
	check("suspended, store error", live, store.ErrSuspended)
	check("other tenant unaffected", other, nil)

	if _, err := st.SetTenantStatus(ctx, "acme", store.TenantActive); err != nil {
		t.Fatal(err)
	}
	check("resumed, still cached", live, auth.ErrSuspended)
	clk.add(2 * time.Minute)
	check("resumed", live, nil)
	check("not yet expired", short, nil)
	clk.add(time.Hour)
	check("expired (cached)", short, auth.ErrUnauthorized)
	clk.add(2 * time.Minute)
	check("expired (fresh lookup)", short, auth.ErrUnauthorized)
	check("live", live, nil)
}

func TestAuthenticateRoundTrips(t *testing.T) {
	env := storetest.New(t)
	st, ctx := env.Store, context.Background()
	secret, tok := issue(t, st, auth.IssueOptions{Tenant: "acme"})

	tests := []struct {
		name     string
		opts     []auth.Option
		header   string
		lastUsed bool
	}{
		{"valid, last used recorded", nil, bearer(secret), true},
		{"valid, last used off", []auth.Option{auth.WithoutLastUsed()}, bearer(secret), false},
		{"unknown token", nil, bearer("scim_unknown-token-123"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := auth.NewAuthenticator(st, time.Minute, tc.opts...)
			before := env.Metrics.Snapshot()
			_, _ = a.Authenticate(ctx, tc.header)
			// On the request path: exactly one GetItem. The last-used update
			// (an UpdateItem) runs asynchronously and is counted apart.
			cold := env.Metrics.Snapshot().Sub(before)
			if cold.Requests["GetItem"] != 1 || cold.Total()-cold.Requests["UpdateItem"] != 1 {
				t.Fatalf("cold cache: %v, want 1 GetItem", cold.Requests)
			}
			a.Wait()
			mid := env.Metrics.Snapshot()
			if n := mid.Sub(before).Requests["UpdateItem"]; (n == 1) != tc.lastUsed || n > 1 {
				t.Fatalf("last-used updates = %d, want %v", n, tc.lastUsed)
			}
			for range 3 {
				_, _ = a.Authenticate(ctx, tc.header)
			}
			a.Wait()
			if warm := env.Metrics.Snapshot().Sub(mid); warm.Total() != 0 {
				t.Fatalf("warm cache: %v, want no request", warm.Requests)
			}
		})
	}
	toks, err := st.ListTokens(ctx, "acme")
	if err != nil || len(toks) != 1 || toks[0].ID != tok.ID || toks[0].LastUsed.IsZero() {
		t.Fatalf("last used not recorded: %+v %v", toks, err)
	}
}

func TestValidTenant(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"acme", true}, {"Acme-Prod.eu_1", true}, {strings.Repeat("a", 64), true},
		{"", false}, {strings.Repeat("a", 65), false}, {"a cme", false}, {"a/b", false}, {"a#b", false}, {"é", false},
	} {
		if got := auth.ValidTenant(tc.name); got != tc.ok {
			t.Errorf("ValidTenant(%q) = %v", tc.name, got)
		}
	}
}
