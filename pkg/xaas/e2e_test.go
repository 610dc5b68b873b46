package xaas

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

// TestEndToEnd is the local end-to-end test: the sample users
// pushed as CSV and through /items, a group, a sync against the fake Okta,
// then changes (an update, a deactivation, a deletion, a membership change)
// and a second sync that pushes only those.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	csvBody := readFixture(t, "sampleUsers.csv")

	rec := h.do(http.MethodPost, Prefix+"/users:bulk", "text/csv", bytes.NewReader(csvBody))
	if rec.Code != http.StatusOK {
		t.Fatalf("bulk: %d %s", rec.Code, rec.Body)
	}
	res := decode[BulkResult](t, rec)
	if res.Created != 10 || res.Failed != 0 || res.Updated != 0 || res.Unchanged != 0 {
		t.Fatalf("bulk result %+v, want 10 created", res)
	}
	// The same body again changes nothing.
	res = decode[BulkResult](t, h.do(http.MethodPost, Prefix+"/users:bulk", "text/csv", bytes.NewReader(csvBody)))
	if res.Unchanged != 10 || res.Created+res.Updated+res.Failed != 0 {
		t.Fatalf("second bulk %+v, want 10 unchanged", res)
	}
	// One more user through the sample items API's /items.
	item := map[string]any{"id": "ana.lima@example.com", "active": true, "title": "Ms", "first_name": "Ana",
		"last_name": "Lima", "street_number": "7", "street_name": "Rua Dois", "city": "Recife", "state": "PE",
		"country": "BR", "postcode": "50000", "email": "ana.lima@example.com", "phone": "81-5555-0000",
		"cell": "81-9999-0000", "dob": "1985-03-03T00:00:00.000Z"}
	if rec := h.doJSON(http.MethodPut, "/items", item); rec.Code != http.StatusOK || rec.Body.String() != "\"Put item ana.lima@example.com\"\n" {
		t.Fatalf("PUT /items: %d %q", rec.Code, rec.Body)
	}
	items := decode[[]map[string]any](t, h.do(http.MethodGet, "/items", "", nil))
	if len(items) != 11 {
		t.Fatalf("GET /items: %d items, want 11", len(items))
	}
	rec = h.doJSON(http.MethodPut, Prefix+"/groups/engineering", map[string]any{"displayName": "Engineering",
		"description": "Builders", "members": []string{"brad.gibson@example.com", "ida.rasmussen@example.com"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT group: %d %s", rec.Code, rec.Body)
	}

	run := h.sync(ctx)
	if run.Status.State != store.RunSucceeded {
		t.Fatalf("run %+v", run.Status)
	}
	want := Counts{Upserted: 10, Deactivated: 1, Groups: 1, Memberships: 2}
	if run.Status.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Status.Counts, want)
	}
	users := h.fake.Users()
	if len(users) != 10 { // the inactive user was never in Okta: its deactivation is ignored
		t.Errorf("okta has %d users, want 10", len(users))
	}
	louane := users["louane.vidal@example.com"]
	wantProfile := map[string]string{"userName": "louane.vidal@example.com", "email": "louane.vidal@example.com",
		"firstName": "Louane", "lastName": "Vidal", "mobilePhone": "06-07-80-83-11", "primaryPhone": "02-62-35-18-98",
		"displayName": "Louane Vidal", "title": "Mademoiselle", "streetAddress": "2479 Place du 8 Février 1962",
		"city": "Avignon", "state": "Vaucluse", "zipCode": "78276", "countryCode": "FR"}
	if !louane.Active || !mapsEqual(louane.Profile, wantProfile) {
		t.Errorf("louane in okta = %+v, want active with %v", louane, wantProfile)
	}
	if g := h.fake.Groups()["engineering"]; g.DisplayName != "Engineering" || strings.Join(g.Members, ",") != "brad.gibson@example.com,ida.rasmussen@example.com" {
		t.Errorf("group in okta = %+v", g)
	}
	if s := h.fake.Sessions(oktafake.DefaultIdentitySource); len(s) != 1 || s[0].Status != oktafake.StatusCompleted {
		t.Errorf("sessions %+v, want one COMPLETED", s)
	}
	// Everything is synced now: the dirty index is empty.
	if d, _ := h.st.DirtySourceUsers(ctx, testTenant, "", store.ChangeKeyUpTo(h.clock.Now()), 10); len(d) != 0 {
		t.Errorf("%d users still dirty", len(d))
	}

	// Changes: an update, a deactivation, a deletion, a membership change.
	brad := readCSVRow(t, csvBody, "brad.gibson@example.com")
	brad["title"] = "Dr"
	if rec := h.doJSON(http.MethodPut, Prefix+"/users/brad.gibson@example.com", brad); rec.Code != http.StatusOK {
		t.Fatalf("PUT user: %d %s", rec.Code, rec.Body)
	}
	nathan := readCSVRow(t, csvBody, "nathan.king@example.com")
	nathan["active"] = "false"
	if rec := h.doJSON(http.MethodPut, "/items", nathan); rec.Code != http.StatusOK {
		t.Fatalf("PUT item: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do(http.MethodDelete, "/items/amelia.wright@example.com", "", nil); rec.Code != http.StatusOK {
		t.Fatalf("DELETE item: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do(http.MethodGet, Prefix+"/users/amelia.wright@example.com", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET deleted user: %d", rec.Code)
	}
	rec = h.doJSON(http.MethodPut, Prefix+"/groups/engineering", map[string]any{"displayName": "Engineering",
		"description": "Builders", "members": []string{"ida.rasmussen@example.com", "leon.schmitt@example.com"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT group: %d %s", rec.Code, rec.Body)
	}
	h.api.reset()
	run = h.sync(ctx)
	if run.Status.State != store.RunSucceeded {
		t.Fatalf("second run %+v", run.Status)
	}
	want = Counts{Upserted: 1, Deactivated: 2, Groups: 1, Memberships: 2}
	if run.Status.Counts != want {
		t.Errorf("second run counts %+v, want %+v", run.Status.Counts, want)
	}
	users = h.fake.Users()
	if users["brad.gibson@example.com"].Profile["title"] != "Dr" || users["nathan.king@example.com"].Active ||
		users["amelia.wright@example.com"].Active || !users["louane.vidal@example.com"].Active {
		t.Errorf("okta users after the second sync: %+v", users)
	}
	if g := h.fake.Groups()["engineering"]; strings.Join(g.Members, ",") != "ida.rasmussen@example.com,leon.schmitt@example.com" {
		t.Errorf("group members in okta = %v", g.Members)
	}
	// list, create, 1 upsert, 1 deactivate, 1 group upsert, 1 add, 1 remove, start, poll.
	if n := h.api.total(); n > 10 {
		t.Errorf("%d Okta calls for 4 changes: %v", n, h.api.calls)
	}
	// A third sync has nothing to do and makes no Okta call.
	h.api.reset()
	if run := h.sync(ctx); run.Status.State != store.RunSucceeded || len(run.Status.Sessions) != 0 || h.api.total() != 0 {
		t.Errorf("idle run %+v made %d Okta calls", run.Status, h.api.total())
	}
}

// readCSVRow returns one row of a CSV fixture as a JSON-able record.
func readCSVRow(t *testing.T, body []byte, id string) map[string]any {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r[0] == id {
			m := map[string]any{}
			for i, h := range rows[0] {
				m[h] = r[i]
			}
			return m
		}
	}
	t.Fatalf("no row %s", id)
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var errCrash = errors.New("simulated crash")
