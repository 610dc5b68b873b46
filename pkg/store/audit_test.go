package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func TestAudit(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	env := storetest.New(t, store.WithClock(func() time.Time { return now }))
	s, ctx := env.Store, context.Background()

	// Times chosen so that RFC3339Nano's variable width would sort them
	// wrongly as text (":00Z" after ":00.5Z").
	entries := []struct {
		at     time.Time
		tenant string
		op     string
		ttl    time.Duration
	}{
		{now.Add(-48 * time.Hour), "acme", "POST /Users", 0},
		{now.Add(-2 * time.Hour), "acme", "PATCH /Users", 0},
		{now.Add(-2*time.Hour + 500*time.Millisecond), "acme", "PUT /Users", 0},
		{now.Add(-time.Hour), "acme", "DELETE /Groups", 0},
		{now.Add(-time.Hour), "acme", "POST /Groups", 0}, // same instant
		{now.Add(-time.Hour), "other", "POST /Users", 0},
		{now.Add(-10 * 24 * time.Hour), "acme", "POST /Users", 24 * time.Hour}, // expired, not yet deleted
	}
	for _, e := range entries {
		err := s.PutAudit(ctx, e.tenant, store.AuditEntry{Time: e.at, TokenID: "tok1", Operation: e.op,
			ResourceType: "User", ResourceID: "u1", Status: 201, RequestID: "r1"}, e.ttl)
		if err != nil {
			t.Fatal(err)
		}
	}
	// Zero time means now.
	if err := s.PutAudit(ctx, "acme", store.AuditEntry{Operation: "POST /Users/.search"}, 0); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		tenant string
		since  time.Time
		limit  int
		ops    []string
	}{
		{"all", "acme", time.Time{}, 0, []string{"POST /Users/.search", "?", "?", "PUT /Users", "PATCH /Users", "POST /Users"}},
		{"last day", "acme", now.Add(-24 * time.Hour), 0, []string{"POST /Users/.search", "?", "?", "PUT /Users", "PATCH /Users"}},
		{"since is inclusive", "acme", now.Add(-2 * time.Hour), 100, []string{"POST /Users/.search", "?", "?", "PUT /Users", "PATCH /Users"}},
		{"limit", "acme", time.Time{}, 2, []string{"POST /Users/.search", "?"}},
		{"last hour", "acme", now.Add(-time.Hour + time.Nanosecond), 0, []string{"POST /Users/.search"}},
		{"other tenant", "other", time.Time{}, 0, []string{"POST /Users"}},
		{"nobody", "nobody", time.Time{}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.tenant, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.ops) {
				t.Fatalf("got %d entries %+v, want %v", len(got), got, tc.ops)
			}
			for i, e := range got {
				if tc.ops[i] != "?" && e.Operation != tc.ops[i] {
					t.Errorf("entry %d = %q, want %q", i, e.Operation, tc.ops[i])
				}
				if i > 0 && e.Time.After(got[i-1].Time) {
					t.Errorf("entry %d is newer than entry %d", i, i-1)
				}
			}
		})
	}

	got, _ := s.ListAudit(ctx, "acme", now.Add(-24*time.Hour), 0)
	e := got[len(got)-1]
	if e.TokenID != "tok1" || e.ResourceType != "User" || e.ResourceID != "u1" || e.Status != 201 || e.RequestID != "r1" ||
		!e.Time.Equal(now.Add(-2*time.Hour)) {
		t.Fatalf("round trip: %+v", e)
	}
	if !got[0].Time.Equal(now) {
		t.Fatalf("zero time stored as %v, want now", got[0].Time)
	}

	// One Query per listing.
	before := env.Metrics.Snapshot()
	if _, err := s.ListAudit(ctx, "acme", time.Time{}, 3); err != nil {
		t.Fatal(err)
	}
	if d := env.Metrics.Snapshot().Sub(before); d.Total() != 1 || d.Requests["Query"] != 1 || d.ItemsRead != 3 {
		t.Fatalf("ListAudit cost %+v, want 1 Query reading 3 items", d)
	}
}
