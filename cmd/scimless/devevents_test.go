package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/webhook"
)

// The local stack turns its own writes into directory events, served by the
// Events API and delivered, signed, to a -webhook receiver, as on AWS.
func TestDevEvents(t *testing.T) {
	got := make(chan events.Event, 16)
	var secret string
	ready := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get("Scimless-Signature"), body, 5*time.Minute); err != nil {
			t.Errorf("delivery does not verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var e events.Event
		if err := json.Unmarshal(body, &e); err != nil || r.Header.Get("Scimless-Event-Id") != e.ID {
			t.Errorf("delivery %s (id header %q): %v", body, r.Header.Get("Scimless-Event-Id"), err)
		}
		got <- e
	}))
	defer recv.Close()

	const token = "abc12345xyz"
	d := startDev(t, "-token", token, "-webhook", recv.URL)
	for _, l := range strings.Split(d.stdout.String(), "\n") {
		if _, rest, ok := strings.Cut(l, "(signing secret "); ok {
			secret = strings.TrimSuffix(rest, ")")
		}
	}
	close(ready)
	if secret == "" || !strings.Contains(d.stdout.String(), "Events API:    "+d.root+"/events/v1") {
		t.Fatalf("banner without the Events API or the webhook secret:\n%s", d.stdout.String())
	}

	req, _ := http.NewRequest(http.MethodPost, d.root+"/scim/v2/Users", bytes.NewReader([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ev@example.com"}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var user struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&user)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || user.ID == "" {
		t.Fatalf("create: %d", resp.StatusCode)
	}

	// The Events API, long-polled as an application would.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, d.root+"/events/v1?types=user.created&wait=20s", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []events.Event `json:"data"`
		Next string         `json:"next"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events/v1: %d %v", resp.StatusCode, err)
	}
	if len(page.Data) != 1 || page.Data[0].Type != "user.created" || page.Data[0].Tenant != defaultTenant || page.Next == "" {
		t.Fatalf("events %+v (next %q), want the one user.created of tenant %s", page.Data, page.Next, defaultTenant)
	}

	// The same event, delivered to the webhook.
	select {
	case e := <-got:
		if e.ID != page.Data[0].ID || e.Type != "user.created" {
			t.Errorf("delivered %s %s, want %s user.created", e.ID, e.Type, page.Data[0].ID)
		}
	case <-ctx.Done():
		t.Fatal("no webhook delivery")
	}
}
