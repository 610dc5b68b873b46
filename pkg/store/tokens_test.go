package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func testToken(tenant, id string) store.Token {
	return store.Token{Hash: strings.Repeat(id, 64/len(id)+1)[:64], ID: id, Tenant: tenant, Label: "lbl-" + id,
		Prefix: "scim_" + id[:2], Scopes: []string{"scim"}, Created: time.Now().UTC().Truncate(time.Millisecond)}
}

func TestCreateToken(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	if err := s.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, &store.Tenant{ID: "paused"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTenantStatus(ctx, "paused", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name         string
		tok          store.Token
		createTenant bool
		wantErr      error
	}{
		{"existing tenant", testToken("acme", "aa01"), false, nil},
		{"second token", testToken("acme", "aa02"), false, nil},
		{"unknown tenant", testToken("nobody", "bb01"), false, store.ErrNotFound},
		{"unknown tenant created", testToken("newco", "cc01"), true, nil},
		{"created tenant again", testToken("newco", "cc02"), true, nil},
		{"suspended", testToken("paused", "dd01"), false, store.ErrSuspended},
		{"suspended, create mode", testToken("paused", "dd02"), true, store.ErrSuspended},
		{"same hash", func() store.Token { t := testToken("acme", "aa03"); t.Hash = testToken("", "aa01").Hash; return t }(), false, store.ErrConflict},
		{"same id", func() store.Token { t := testToken("acme", "aa01"); t.Hash = strings.Repeat("f", 64); return t }(), false, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateToken(ctx, tc.tok, tc.createTenant)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}

	for _, tc := range []struct {
		tenant string
		ids    []string
	}{
		{"acme", []string{"aa01", "aa02"}},
		{"newco", []string{"cc01", "cc02"}},
		{"paused", nil},
		{"nobody", nil},
	} {
		toks, err := s.ListTokens(ctx, tc.tenant)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tok := range toks {
			if tok.Hash != "" {
				t.Fatalf("ListTokens returned a hash")
			}
			ids = append(ids, tok.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.ids) {
			t.Errorf("%s tokens = %v, want %v", tc.tenant, ids, tc.ids)
		}
		if tn, err := s.GetTenant(ctx, tc.tenant); err == nil && tn.Tokens != len(tc.ids) {
			t.Errorf("%s token count = %d, want %d", tc.tenant, tn.Tokens, len(tc.ids))
		}
	}
	// The tenant created with its first token is listed.
	list, _ := s.ListTenants(ctx)
	if len(list) != 3 || list[1].ID != "newco" || list[1].Status != store.TenantActive {
		t.Fatalf("tenants = %+v", list)
	}

	tok, err := s.TokenByHash(ctx, testToken("", "aa01").Hash)
	if err != nil || tok.ID != "aa01" || tok.Tenant != "acme" || tok.Label != "lbl-aa01" || tok.Suspended {
		t.Fatalf("by hash: %+v %v", tok, err)
	}
}

func TestTokenLimitPerTenant(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	for i := range store.MaxTokensPerTenant {
		if err := s.CreateToken(ctx, testToken("acme", fmt.Sprintf("t%03d", i)), true); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if err := s.CreateToken(ctx, testToken("acme", "full"), true); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("token over the limit: %v", err)
	}
	// Suspending flags every token in one transaction.
	if _, err := s.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.TokenByHash(ctx, testToken("", "t049").Hash); err != nil || !tok.Suspended {
		t.Fatalf("last token not suspended: %+v %v", tok, err)
	}
	if _, err := s.RevokeToken(ctx, "t000"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTenantStatus(ctx, "acme", store.TenantActive); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, testToken("acme", "full"), false); err != nil {
		t.Fatalf("token after a revoke: %v", err)
	}
}

func TestRevokeAndSuspendTokens(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	for _, id := range []string{"aa01", "aa02"} {
		if err := s.CreateToken(ctx, testToken("acme", id), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateToken(ctx, testToken("other", "bb01"), true); err != nil {
		t.Fatal(err)
	}

	suspended := func(id string) bool {
		t.Helper()
		tok, err := s.TokenByHash(ctx, testToken("", id).Hash)
		if err != nil {
			t.Fatalf("token %s: %v", id, err)
		}
		return tok.Suspended
	}
	if _, err := s.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	if !suspended("aa01") || !suspended("aa02") || suspended("bb01") {
		t.Fatal("suspension flags wrong")
	}
	if _, err := s.SetTenantStatus(ctx, "acme", store.TenantActive); err != nil {
		t.Fatal(err)
	}
	if suspended("aa01") || suspended("aa02") {
		t.Fatal("resume left flags")
	}

	tests := []struct {
		id      string
		wantErr error
	}{
		{"aa01", nil},
		{"aa01", store.ErrNotFound}, // already revoked
		{"zz99", store.ErrNotFound},
	}
	for _, tc := range tests {
		got, err := s.RevokeToken(ctx, tc.id)
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("revoke %s: %v, want %v", tc.id, err, tc.wantErr)
		}
		if err == nil && (got.ID != tc.id || got.Tenant != "acme") {
			t.Fatalf("revoked %+v", got)
		}
	}
	if _, err := s.TokenByHash(ctx, testToken("", "aa01").Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}
	if toks, _ := s.ListTokens(ctx, "acme"); len(toks) != 1 || toks[0].ID != "aa02" {
		t.Fatalf("tokens after revoke: %+v", toks)
	}
	if tn, _ := s.GetTenant(ctx, "acme"); tn.Tokens != 1 {
		t.Fatalf("count after revoke: %d", tn.Tokens)
	}
	// Touching a revoked token does not bring it back.
	if err := s.TouchToken(ctx, "acme", "aa01", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch revoked: %v", err)
	}
	if toks, _ := s.ListTokens(ctx, "acme"); len(toks) != 1 {
		t.Fatalf("touch resurrected a token: %+v", toks)
	}
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.TouchToken(ctx, "acme", "aa02", at); err != nil {
		t.Fatal(err)
	}
	if toks, _ := s.ListTokens(ctx, "acme"); !toks[0].LastUsed.Equal(at) {
		t.Fatalf("last used = %v", toks[0].LastUsed)
	}
	// A suspension after a revoke flags only the live tokens.
	if _, err := s.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, testToken("", "aa01").Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("suspension resurrected a revoked token: %v", err)
	}
}

// A token issued while the tenant is being suspended is either refused or
// flagged: never a live token of a suspended tenant.
func TestSuspendRacesIssue(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	if err := s.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		if _, err := s.SetTenantStatus(ctx, "acme", store.TenantActive); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				err := s.CreateToken(ctx, testToken("acme", fmt.Sprintf("r%02di%d", round, i)), false)
				if err != nil && !errors.Is(err, store.ErrSuspended) {
					t.Errorf("issue: %v", err)
				}
			})
		}
		wg.Go(func() {
			if _, err := s.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
				t.Errorf("suspend: %v", err)
			}
		})
		wg.Wait()
		toks, err := s.ListTokens(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			got, err := s.TokenByHash(ctx, testToken("", tok.ID).Hash)
			if err != nil || !got.Suspended {
				t.Fatalf("round %d: token %s of a suspended tenant is live: %+v %v", round, tok.ID, got, err)
			}
		}
	}
}
