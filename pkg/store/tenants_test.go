package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func TestTenantLifecycle(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()

	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		id, display string
		wantErr     error
	}{
		{"acme", "Acme Inc", nil},
		{"globex", "", nil},
		{"acme", "Acme again", store.ErrConflict},
	} {
		err := s.CreateTenant(ctx, &store.Tenant{ID: tc.id, Display: tc.display, Created: created,
			Settings: map[string]string{store.SettingAuditTTLDays: "30"}})
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("create %s: err = %v, want %v", tc.id, err, tc.wantErr)
		}
	}

	got, err := s.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.ID != "acme" || got.Display != "Acme Inc" || !got.Created.Equal(created) || got.Status != store.TenantActive ||
		got.Tokens != 0 || got.Version != 1 || got.Setting(store.SettingAuditTTLDays) != "30" {
		t.Fatalf("tenant = %+v", got)
	}
	if got.AuditTTL() != 30*24*time.Hour {
		t.Fatalf("audit ttl = %v", got.AuditTTL())
	}
	if _, err := s.GetTenant(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}

	list, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list) != 2 || list[0].ID != "acme" || list[0].Display != "Acme Inc" || list[1].ID != "globex" ||
		list[1].Status != store.TenantActive {
		t.Fatalf("list = %+v", list)
	}

	// Settings merge; an empty value removes one.
	up, err := s.SetTenantSettings(ctx, "acme", map[string]string{store.SettingPasswordSync: "true", store.SettingAuditTTLDays: ""})
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	got, _ = s.GetTenant(ctx, "acme")
	if len(got.Settings) != 1 || got.Setting(store.SettingPasswordSync) != "true" || got.Version != up.Version {
		t.Fatalf("settings = %v (version %d, want %d)", got.Settings, got.Version, up.Version)
	}
	if got.AuditTTL() != store.DefaultAuditTTL {
		t.Fatalf("default audit ttl = %v", got.AuditTTL())
	}
	if _, err := s.SetTenantSettings(ctx, "nobody", map[string]string{"x": "y"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("settings of unknown tenant: %v", err)
	}

	for _, tc := range []struct {
		status  string
		wantErr error
	}{
		{store.TenantSuspended, nil},
		{store.TenantSuspended, nil}, // again: no-op
		{store.TenantActive, nil},
		{"deleted", nil}, // invalid, checked below
	} {
		_, err := s.SetTenantStatus(ctx, "globex", tc.status)
		if tc.status == "deleted" {
			if err == nil {
				t.Fatal("invalid status accepted")
			}
			continue
		}
		if err != nil {
			t.Fatalf("set %s: %v", tc.status, err)
		}
		g, _ := s.GetTenant(ctx, "globex")
		list, _ := s.ListTenants(ctx)
		if g.Status != tc.status || list[1].Status != tc.status {
			t.Fatalf("status = %s / %s, want %s", g.Status, list[1].Status, tc.status)
		}
		// The resume time is kept (through settings changes too).
		if _, err := s.SetTenantSettings(ctx, "globex", map[string]string{"x": "y"}); err != nil {
			t.Fatal(err)
		}
		g, _ = s.GetTenant(ctx, "globex")
		if resumed := !g.Resumed.IsZero(); resumed != (tc.status == store.TenantActive) {
			t.Fatalf("after %s: resumed %v", tc.status, g.Resumed)
		}
	}
	if _, err := s.SetTenantStatus(ctx, "nobody", store.TenantSuspended); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("suspend unknown: %v", err)
	}
}

func TestTenantNilSettings(t *testing.T) {
	var tn *store.Tenant
	if tn.Setting(store.SettingRateLimit) != "" || tn.AuditTTL() != store.DefaultAuditTTL {
		t.Fatal("nil tenant")
	}
	for _, v := range []string{"", "0", "-3", "x", "1.5"} {
		tn := &store.Tenant{Settings: map[string]string{store.SettingAuditTTLDays: v}}
		if tn.AuditTTL() != store.DefaultAuditTTL {
			t.Errorf("auditTTLDays %q: ttl %v", v, tn.AuditTTL())
		}
	}
}
