package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func TestWebhooks(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	w := &store.Webhook{ID: "wh1", URL: "https://hooks.example.com/scim", Secret: "whsec_x", Types: []string{"user.deleted", "user.created"}}
	if err := s.CreateWebhook(ctx, "acme", w); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, "acme", w); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	got, err := s.GetWebhook(ctx, "acme", "wh1")
	if err != nil || got.URL != w.URL || got.Secret != "whsec_x" || len(got.Types) != 2 || got.Types[0] != "user.created" || got.Failing {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if !got.Wants("user.created") || got.Wants("group.created") {
		t.Fatal("Wants")
	}
	if _, err := s.GetWebhook(ctx, "other", "wh1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.MarkWebhookFailing(ctx, "acme", "wh1", "POST: 503 Service Unavailable", at); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWebhooks(ctx, "acme")
	if err != nil || len(list) != 1 || !list[0].Failing || list[0].LastError != "POST: 503 Service Unavailable" || !list[0].LastErrorAt.Equal(at) {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := s.MarkWebhookHealthy(ctx, "acme", "wh1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook(ctx, "acme", "wh1"); got.Failing {
		t.Fatal("still failing")
	}
	for i := 2; i <= store.MaxWebhooksPerTenant; i++ {
		if err := s.CreateWebhook(ctx, "acme", &store.Webhook{ID: fmt.Sprintf("wh%d", i), URL: "https://x.example.com", Secret: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateWebhook(ctx, "acme", &store.Webhook{ID: "one-too-many", URL: "https://x.example.com", Secret: "s"}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
	if err := s.DeleteWebhook(ctx, "acme", "wh1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "acme", "wh1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.MarkWebhookFailing(ctx, "acme", "wh1", "x", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mark removed: %v", err)
	}
}
