package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

type fakeAuth map[string]auth.Principal

func (f fakeAuth) Authenticate(_ context.Context, header string) (auth.Principal, error) {
	switch header {
	case "Bearer suspended":
		return auth.Principal{Tenant: "acme"}, fmt.Errorf("x: %w", auth.ErrSuspended)
	}
	p, ok := f[header]
	if !ok {
		return auth.Principal{}, auth.ErrUnauthorized
	}
	return p, nil
}

var tokens = fakeAuth{
	"Bearer ev":    {Tenant: "acme", TokenID: "t1", Scopes: []string{auth.ScopeEvents}},
	"Bearer other": {Tenant: "globex", TokenID: "t2", Scopes: []string{auth.ScopeEvents}},
	"Bearer scim":  {Tenant: "acme", TokenID: "t3", Scopes: []string{auth.ScopeSCIM}},
}

func putEvents(t *testing.T, s *store.Store, tenant string, at time.Time, typs ...string) []string {
	t.Helper()
	var evs []store.StoredEvent
	var ids []string
	for i, typ := range typs {
		tm := at.Add(time.Duration(i) * time.Millisecond)
		id, err := events.NewID(tm, fmt.Sprint(tm.UnixNano()), 0)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(events.Event{ID: id, Type: typ, Tenant: tenant, Time: tm, Data: json.RawMessage(`{"id":"u1"}`)})
		evs = append(evs, store.StoredEvent{ID: id, Tenant: tenant, Type: typ, Time: tm, JSON: body})
		ids = append(ids, id)
	}
	if _, err := s.PutEvents(context.Background(), evs, func(string) time.Duration { return store.DefaultEventTTL }); err != nil {
		t.Fatal(err)
	}
	return ids
}

type page struct {
	Data []events.Event `json:"data"`
	Next string         `json:"next"`
}

func get(t *testing.T, h http.Handler, token, query string) (int, page, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, api.Path+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var p page
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("body %s: %v", rec.Body, err)
		}
	}
	return rec.Code, p, rec.Body.String()
}

func TestEventsAPI(t *testing.T) {
	env := storetest.New(t)
	h := api.New(env.Store, tokens, api.WithPoll(20*time.Millisecond))
	base := time.Now().Add(-time.Hour)
	ids := putEvents(t, env.Store, "acme", base, events.UserCreated, events.GroupCreated, events.GroupMemberAdded, events.UserDeleted, events.UserCreated)
	putEvents(t, env.Store, "globex", base, events.UserCreated)

	errCases := []struct {
		token, query string
		status       int
		detail       string
	}{
		{"", "", 401, "bearer token"},
		{"nope", "", 401, "bearer token"},
		{"scim", "", 403, `events\" scope`},
		{"suspended", "", 403, "suspended"},
		{"ev", "?after=abc", 400, "after"},
		{"ev", "?limit=0", 400, "limit"},
		{"ev", "?limit=1001", 400, "limit"},
		{"ev", "?limit=x", 400, "limit"},
		{"ev", "?types=user.created,user.exploded", 400, "user.exploded"},
		{"ev", "?wait=1h", 400, "wait"},
		{"ev", "?wait=soon", 400, "wait"},
	}
	for _, tc := range errCases {
		t.Run(fmt.Sprintf("%s%s", tc.token, tc.query), func(t *testing.T) {
			code, _, body := get(t, h, tc.token, tc.query)
			if code != tc.status || !strings.Contains(body, tc.detail) {
				t.Fatalf("%d %s, want %d containing %q", code, body, tc.status, tc.detail)
			}
		})
	}

	tests := []struct {
		name  string
		token string
		query string
		want  []string
		next  string
	}{
		{"all", "ev", "", ids, ids[4]},
		{"limit", "ev", "?limit=2", ids[:2], ids[1]},
		{"after", "ev", "?after=" + ids[1] + "&limit=2", ids[2:4], ids[3]},
		{"types", "ev", "?types=user.created,user.deleted", []string{ids[0], ids[3], ids[4]}, ids[4]},
		{"at the end", "ev", "?after=" + ids[4], nil, ids[4]},
		{"other tenant", "other", "?limit=10", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, p, body := get(t, h, tc.token, tc.query)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			var got []string
			wantTenant := map[string]string{"ev": "acme", "other": "globex"}[tc.token]
			for _, e := range p.Data {
				if e.Tenant != wantTenant {
					t.Fatalf("event of tenant %s", e.Tenant)
				}
				got = append(got, e.ID)
			}
			if tc.name == "other tenant" {
				if len(p.Data) != 1 {
					t.Fatalf("globex sees %d events", len(p.Data))
				}
				return
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || p.Next != tc.next {
				t.Fatalf("got %v next %s, want %v next %s", got, p.Next, tc.want, tc.next)
			}
			if !strings.Contains(body, `"data":[`) {
				t.Fatalf("data is not an array: %s", body)
			}
		})
	}
}

func TestEventsAPILongPoll(t *testing.T) {
	env := storetest.New(t)
	hub := &events.Hub{}
	h := api.New(env.Store, tokens, api.WithHub(hub), api.WithPoll(10*time.Second), api.WithSettle(0))
	ids := putEvents(t, env.Store, "acme", time.Now().Add(-time.Minute), events.UserCreated)

	// Nothing new: the request waits until an event is stored and the
	// consumer notifies, well before its poll interval.
	var wg sync.WaitGroup
	wg.Add(1)
	var p page
	var code int
	var took time.Duration
	go func() {
		defer wg.Done()
		start := time.Now()
		code, p, _ = get(t, h, "ev", "?wait=20s&after="+ids[0])
		took = time.Since(start)
	}()
	time.Sleep(200 * time.Millisecond)
	newIDs := putEvents(t, env.Store, "acme", time.Now(), events.UserDeleted)
	hub.Notify("acme")
	wg.Wait()
	if code != 200 || len(p.Data) != 1 || p.Data[0].ID != newIDs[0] || p.Next != newIDs[0] {
		t.Fatalf("long poll: %d %+v", code, p)
	}
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Fatalf("long poll answered after %v", took)
	}
	// wait elapses with nothing new: an empty page at the same cursor.
	start := time.Now()
	code, p, _ = get(t, h, "ev", "?wait=300ms&after="+newIDs[0])
	if code != 200 || len(p.Data) != 0 || p.Next != newIDs[0] || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("empty long poll: %d %+v after %v", code, p, time.Since(start))
	}
}

func TestEventsAPISettle(t *testing.T) {
	env := storetest.New(t)
	h := api.New(env.Store, tokens, api.WithSettle(time.Minute))
	putEvents(t, env.Store, "acme", time.Now().Add(-2*time.Minute), events.UserCreated)
	putEvents(t, env.Store, "acme", time.Now(), events.UserDeleted)
	_, p, _ := get(t, h, "ev", "")
	if len(p.Data) != 1 || p.Data[0].Type != events.UserCreated {
		t.Fatalf("settle: served %+v", p.Data)
	}
}
