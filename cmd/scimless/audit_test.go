package main

import (
	"context"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

func TestAuditCLI(t *testing.T) {
	ep, st := opTable(t)
	ctx := context.Background()
	for _, id := range []string{"acme", "globex"} {
		if err := st.CreateTenant(ctx, &store.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for _, e := range []store.AuditEntry{
		{Time: now.Add(-time.Hour), TokenID: "tok-recent", Operation: "POST /Users", ResourceType: "User", ResourceID: "u-recent", Status: 201},
		{Time: now.Add(-30 * time.Minute), TokenID: "tok-recent", Operation: "PATCH /Groups", ResourceType: "Group", ResourceID: "g1", Status: 204},
		{Time: now.Add(-48 * time.Hour), TokenID: "tok-old", Operation: "DELETE /Users", ResourceType: "User", ResourceID: "u-old", Status: 204},
	} {
		if err := st.PutAudit(ctx, "acme", e, 0); err != nil {
			t.Fatal(err)
		}
	}
	day := now.Add(-72 * time.Hour).UTC().Format("2006-01-02")
	outs := opRun(t, ep, []opStep{
		{args: []string{"audit", "acme"}, code: 0,
			stdout: []string{"TIME", "OPERATION", "POST /Users", "User u-recent", "201", "PATCH /Groups", "Group g1", "204", "tok-recent"},
			absent: []string{"u-old"}},
		{args: []string{"audit", "acme", "-since", "72h"}, code: 0, stdout: []string{"u-recent", "u-old", "tok-old"}},
		{args: []string{"audit", "-since", "3d", "acme"}, code: 0, stdout: []string{"u-old"}},
		{args: []string{"audit", "acme", "-since", day}, code: 0, stdout: []string{"u-old"}},
		{args: []string{"audit", "acme", "-since", "10m"}, code: 0, stdout: []string{"no audit entries for tenant acme"}},
		{args: []string{"audit", "acme", "-since", "72h", "-limit", "1"}, code: 0, stdout: []string{"PATCH /Groups"},
			stderr: []string{"newest 1 entries"}, absent: []string{"u-recent", "u-old"}},
		{args: []string{"audit", "globex"}, code: 0, stdout: []string{"no audit entries"}},
		{args: []string{"audit", "nobody"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"audit", "acme", "-since", "yesterday"}, code: 1, stderr: []string{`-since: invalid time "yesterday"`}},
		{args: []string{"audit", "acme", "-limit", "0"}, code: 1, stderr: []string{"-limit: want 1-1000"}},
		{args: []string{"audit", "acme", "-limit", "1001"}, code: 1, stderr: []string{"-limit: want 1-1000"}},
		{args: []string{"audit"}, code: 2, stderr: []string{"usage: scimless audit TENANT"}},
		{args: []string{"audit", "a b"}, code: 1, stderr: []string{"invalid tenant name"}},
	})
	// Newest first.
	if out := outs[1]; strings.Index(out, "PATCH /Groups") > strings.Index(out, "POST /Users") ||
		strings.Index(out, "POST /Users") > strings.Index(out, "DELETE /Users") {
		t.Fatalf("not newest first:\n%s", out)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero: an error is expected
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"2025-06-01", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-06-01T08:30:00Z", time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)},
		{"2025-06-01T08:30:00+02:00", time.Date(2025, 6, 1, 6, 30, 0, 0, time.UTC)},
		{"", time.Time{}},
		{"0d", time.Time{}},
		{"-1h", time.Time{}},
		{"June", time.Time{}},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if tc.want.IsZero() {
			if err == nil {
				t.Errorf("parseSince(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestAuditCLIFromEvents: the trail lists the changes derived from the
// table's stream, with the token and the event type, for writes that wrote
// no audit entry themselves.
func TestAuditCLIFromEvents(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	rec := streamtest.New(t, env.Client, table.DefaultName)
	wctx := store.WithActor(ctx, store.Actor{TokenID: "tok-okta", RequestID: "req-1", Via: store.ViaSCIM})
	now := time.Now().UTC()
	u := &store.User{ID: "u-ada", UserName: "ada@example.com", Active: true, Doc: []byte(`{"userName":"ada@example.com","active":true}`), Created: now, Modified: now}
	recs := rec.Write(func() error { return env.Store.CreateUser(wctx, "acme", u) }, streamtest.UserKeys("acme", u.ID, u.UserName)...)
	wctx = store.WithActor(ctx, store.Actor{TokenID: "tok-okta", RequestID: "req-2", Via: store.ViaSCIM})
	recs = append(recs, rec.Write(func() error { return env.Store.DeleteUser(wctx, "acme", u) }, streamtest.UserKeys("acme", u.ID, u.UserName)...)...)
	resp, err := consumer.New(env.Store).Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("consumer: %+v %v", resp, err)
	}
	outs := opRun(t, env.Engine.Endpoint(), []opStep{
		{args: []string{"audit", "acme"}, code: 0,
			stdout: []string{"TOKEN", "tok-okta", "user.created", "user.deleted", "User u-ada"}, absent: []string{"ada@example.com"}},
	})
	if out := outs[0]; strings.Index(out, "user.deleted") > strings.Index(out, "user.created") {
		t.Fatalf("not newest first:\n%s", out)
	}
}
