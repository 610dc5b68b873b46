package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

func putTestEvents(t *testing.T, st *store.Store, tenant string, at time.Time, types ...string) []string {
	t.Helper()
	var evs []store.StoredEvent
	var ids []string
	for i, typ := range types {
		tm := at.Add(time.Duration(i) * time.Second)
		id, _ := events.NewID(tm, fmt.Sprint(100+i), 0)
		body, _ := json.Marshal(events.Event{ID: id, Type: typ, Tenant: tenant, Time: tm, Data: json.RawMessage(`{"id":"u1"}`)})
		evs = append(evs, store.StoredEvent{ID: id, Tenant: tenant, Type: typ, Time: tm, JSON: body})
		ids = append(ids, id)
	}
	if _, err := st.PutEvents(context.Background(), evs, func(string) time.Duration { return store.DefaultEventTTL }); err != nil {
		t.Fatal(err)
	}
	return ids
}

type testReceiver struct {
	mu     sync.Mutex
	secret string
	ids    []string
	status int
}

func (rc *testReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, time.Minute); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	rc.ids = append(rc.ids, r.Header.Get(webhook.EventIDHeader))
}

func TestWebhookCLI(t *testing.T) {
	ep, st := opTable(t)
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	outs := opRun(t, ep, []opStep{
		{args: []string{"webhook", "add", "acme", "http://127.0.0.1:9/hook", "-types", "user.created,user.deleted"}, code: 0,
			stdout: []string{"added for tenant acme: http://127.0.0.1:9/hook (user.created, user.deleted)", "signing secret", "whsec_"}},
		{args: []string{"webhook", "add", "acme", "ftp://example.com/x"}, code: 1, stderr: []string{"webhook url refused", "must start with https://"}},
		{args: []string{"webhook", "add", "acme", "https://user:pw@example.com/"}, code: 1, stderr: []string{"credentials"}},
		{args: []string{"webhook", "add", "acme", "http://127.0.0.1:9/", "-types", "user.exploded"}, code: 1, stderr: []string{`-types: unknown event type "user.exploded"`}},
		{args: []string{"webhook", "add", "nobody", "http://127.0.0.1:9/"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"webhook", "add", "acme"}, code: 2, stderr: []string{"usage: scimless webhook add"}},
		{args: []string{"webhook", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`}},
		{args: []string{"webhook", "list", "acme"}, code: 0, stdout: []string{"ID", "http://127.0.0.1:9/hook", "user.created,user.deleted", "ok"}, absent: []string{"whsec_"}},
	})
	id := strings.Fields(strings.TrimPrefix(outs[0], "webhook "))[0]
	if err := st.MarkWebhookFailing(ctx, "acme", id, "POST http://127.0.0.1:9/hook: connection refused", time.Now()); err != nil {
		t.Fatal(err)
	}
	opRun(t, ep, []opStep{
		{args: []string{"webhook", "list", "acme"}, code: 0, stdout: []string{"failing", "connection refused"}},
		{args: []string{"webhook", "remove", "acme", id}, code: 0, stdout: []string{"removed"}},
		{args: []string{"webhook", "remove", "acme", id}, code: 1, stderr: []string{"has no webhook"}},
		{args: []string{"webhook", "list", "acme"}, code: 0, stdout: []string{"no webhooks for tenant acme"}},
	})
}

func TestWebhookReplayAndTail(t *testing.T) {
	ep, st := opTable(t)
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	rc := &testReceiver{secret: "whsec_replay"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := st.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh_ok", URL: srv.URL, Secret: rc.secret}); err != nil {
		t.Fatal(err)
	}
	putTestEvents(t, st, "acme", time.Now().Add(-3*time.Hour), events.UserCreated)
	ids := putTestEvents(t, st, "acme", time.Now().Add(-30*time.Minute), events.UserCreated, events.GroupMemberAdded)
	opRun(t, ep, []opStep{
		{args: []string{"webhook", "replay", "acme", "-since", "1h"}, code: 0, stdout: []string{"replayed 2 events to 1 webhooks: 2 deliveries succeeded, 0 failed"}},
		{args: []string{"webhook", "replay", "acme", "-since", "1h", "-webhook", "wh_nope"}, code: 1, stderr: []string{`no webhook "wh_nope"`}},
		{args: []string{"webhook", "replay", "acme", "-since", "5m"}, code: 0, stdout: []string{"no events of tenant acme since"}},
		{args: []string{"events", "tail", "acme", "-since", "1h", "-count", "2"}, code: 0, stdout: []string{ids[0], ids[1], `"type":"group.member_added"`}},
		{args: []string{"events", "tail", "acme", "-since", "1h", "-types", "group.member_added", "-count", "1"}, code: 0, stdout: []string{ids[1]}, absent: []string{ids[0]}},
		{args: []string{"events", "tail", "acme", "-types", "nope"}, code: 1, stderr: []string{"-types: unknown event type"}},
		{args: []string{"events", "tail"}, code: 2, stderr: []string{"usage: scimless events tail"}},
		{args: []string{"events", "head", "acme"}, code: 2, stderr: []string{`unknown subcommand "head"`}},
	})
	rc.mu.Lock()
	got := strings.Join(rc.ids, ",")
	rc.mu.Unlock()
	if got != ids[0]+","+ids[1] && got != ids[1]+","+ids[0] {
		t.Fatalf("receiver got %s, want %v", got, ids)
	}
	// A receiver that keeps failing: the replay gives up at -timeout and the
	// webhook is marked failing.
	rc.mu.Lock()
	rc.status = http.StatusBadGateway
	rc.mu.Unlock()
	opRun(t, ep, []opStep{
		{args: []string{"webhook", "replay", "acme", "-since", "1h", "-timeout", "1500ms"}, code: 1,
			stdout: []string{"0 deliveries succeeded, 2 failed"}, stderr: []string{"502 Bad Gateway", "2 deliveries failed"}},
		{args: []string{"webhook", "list", "acme"}, code: 0, stdout: []string{"failing", "502 Bad Gateway"}},
	})
}

func TestWebhookPolicy(t *testing.T) {
	c := newCommand("webhook add", webhookUsage, io.Discard)
	if err := c.parse([]string{"acme", "https://x"}, 2, 2); err != nil {
		t.Fatal(err)
	}
	if c.policy() != delivery.Strict {
		t.Fatal("AWS table: want the strict policy")
	}
	c = newCommand("webhook add", webhookUsage, io.Discard)
	if err := c.parse([]string{"acme", "https://x", "-dynamodb-endpoint", "http://127.0.0.1:8000"}, 2, 2); err != nil {
		t.Fatal(err)
	}
	if c.policy() != delivery.Local {
		t.Fatal("local table: want the local policy")
	}
}
