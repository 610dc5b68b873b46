package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// TestCostReport measures the DynamoDB requests and items each SCIM
// operation costs and asserts the targets of the cost table in docs/scim.md
// (POST /Users 1 request, PUT and PATCH 2, an Okta import page 3). `make
// bench` prints its "cost" lines.
func TestCostReport(t *testing.T) {
	h := newHarness(t)
	m := h.env.Metrics
	// A warm Lambda has the token cached: make one request first.
	mustStatus(t, h.do(req{method: "GET", path: "/Users?count=1"}), http.StatusOK)
	for i := range 5 {
		h.createUser(oktaUserBody(fmt.Sprintf("filler%d@example.com", i), "Filler", strconv.Itoa(i)))
	}
	body := oktaUserBody("cost.user@example.com", "Cost", "User")
	body["externalId"] = "00ucost0000000000001"
	body[entUserURN] = map[string]any{"employeeNumber": "42", "manager": map[string]any{"value": "m-1"}}

	var id string
	measure := func(name string, rq req, status int) store.Snapshot {
		t.Helper()
		before := m.Snapshot()
		w := h.do(rq)
		d := m.Snapshot().Sub(before)
		if w.Code != status {
			t.Fatalf("%s: status %d, want %d: %s", name, w.Code, status, w.Body)
		}
		if rq.method == "POST" && w.Code == http.StatusCreated {
			id = jsonBody(t, w)["id"].(string)
		}
		t.Logf("cost %-28s requests=%v itemsRead=%d itemsWritten=%d", name, d.Requests, d.ItemsRead, d.ItemsWritten)
		return d
	}
	patchBody := `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	put := func() map[string]any {
		b := oktaUserBody("cost.user@example.com", "Changed", "User")
		b["id"] = id
		return b
	}

	type target struct {
		total    int64            // exactly this many requests in all (when > 0)
		maxTotal int64            // at most this many requests in all (when > 0)
		exactly  map[string]int64 // these operations exactly
		noScan   bool
	}
	// check asserts a target of the cost table (docs/scim.md). A write's
	// audit entry and events cost the request nothing: they are derived
	// from the table's stream.
	check := func(name string, d store.Snapshot, tg target) {
		t.Helper()
		if tg.total > 0 && d.Total() != tg.total {
			t.Errorf("%s: %d requests %v, want exactly %d", name, d.Total(), d.Requests, tg.total)
		}
		if tg.maxTotal > 0 && d.Total() > tg.maxTotal {
			t.Errorf("%s: %d requests %v, target ≤ %d", name, d.Total(), d.Requests, tg.maxTotal)
		}
		for op, n := range tg.exactly {
			if d.Requests[op] != n {
				t.Errorf("%s: %d %s, want exactly %d (%v)", name, d.Requests[op], op, n, d.Requests)
			}
		}
		if tg.noScan && d.Requests["Scan"] != 0 {
			t.Errorf("%s: %d Scans", name, d.Requests["Scan"])
		}
	}

	d := measure("POST /Users", req{method: "POST", path: "/Users", body: body}, 201)
	check("POST", d, target{total: 1, exactly: map[string]int64{"TransactWriteItems": 1}})

	d = measure("GET /Users/{id}", req{method: "GET", path: "/Users/" + id}, 200)
	check("GET by id", d, target{maxTotal: 1, exactly: map[string]int64{"GetItem": 1}, noScan: true})
	if d.ItemsRead != 1 {
		t.Errorf("GET by id read %d items, want 1", d.ItemsRead)
	}

	d = measure(`filter userName eq`, req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`userName eq "COST.user@example.com"`) + "&startIndex=1&count=100"}, 200)
	check("userName eq", d, target{maxTotal: 2, noScan: true})

	d = measure(`filter userName eq (absent)`, req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`userName eq "nobody@example.com"`)}, 200)
	check("userName eq (absent)", d, target{maxTotal: 2, noScan: true})

	d = measure(`filter externalId eq`, req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`externalId eq "00ucost0000000000001"`)}, 200)
	check("externalId eq", d, target{maxTotal: 2, noScan: true})

	d = measure(`filter id eq`, req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`id eq "`+id+`"`)}, 200)
	check("id eq", d, target{maxTotal: 1, noScan: true})

	d = measure("PUT /Users/{id}", req{method: "PUT", path: "/Users/" + id, body: put()}, 200)
	check("PUT", d, target{total: 2, exactly: map[string]int64{"GetItem": 1, "PutItem": 1}})

	d = measure("PATCH /Users/{id} deactivate", req{method: "PATCH", path: "/Users/" + id, body: patchBody}, 200)
	check("PATCH", d, target{total: 2, exactly: map[string]int64{"GetItem": 1, "PutItem": 1}})

	rename := `{"schemas":["` + patchOpMsgURN + `"],"Operations":[{"op":"replace","path":"userName","value":"renamed@example.com"}]}`
	d = measure("PATCH /Users/{id} userName", req{method: "PATCH", path: "/Users/" + id, body: rename}, 200)
	check("PATCH userName", d, target{total: 2, exactly: map[string]int64{"GetItem": 1, "TransactWriteItems": 1}})

	d = measure("list startIndex=1 count=100", req{method: "GET", path: "/Users?startIndex=1&count=100"}, 200)
	check("list page 1", d, target{maxTotal: 3, noScan: true})

	d = measure("GET /Users?filter=title pr", req{method: "GET", path: "/Users?filter=" + url.QueryEscape(`title pr`)}, 200)
	check("unindexed filter", d, target{maxTotal: 3, noScan: true})

	d = measure("DELETE /Users/{id}", req{method: "DELETE", path: "/Users/" + id}, 204)
	check("DELETE", d, target{maxTotal: 3, exactly: map[string]int64{"TransactWriteItems": 1}, noScan: true})

	// A user in a group: its groups' display names cost one BatchGetItem,
	// and deleting it removes its memberships first.
	measure("POST /Users (a group member)", req{method: "POST", path: "/Users", body: oktaUserBody("member@example.com", "Member", "User")}, 201)
	gw := h.do(req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "Cost Group", "members": []any{map[string]any{"value": id}}}})
	if gw.Code != http.StatusCreated {
		t.Fatalf("create group: %d %s", gw.Code, gw.Body)
	}
	d = measure("GET /Users/{id} (in 1 group)", req{method: "GET", path: "/Users/" + id}, 200)
	check("GET by id, 1 group", d, target{maxTotal: 2, noScan: true})
	d = measure("GET /Users/{id}?excl.=groups", req{method: "GET", path: "/Users/" + id + "?excludedAttributes=groups"}, 200)
	check("GET by id, groups excluded", d, target{maxTotal: 1, noScan: true})
	d = measure("DELETE /Users/{id} (1 group)", req{method: "DELETE", path: "/Users/" + id}, 204)
	// The membership goes in a transaction with an update of the user that
	// records who removed it, then the user goes.
	check("DELETE, 1 group", d, target{maxTotal: 4, exactly: map[string]int64{"TransactWriteItems": 2}, noScan: true})

	// An Okta import: GET /Users?startIndex=k&count=100 until totalResults.
	// A page past the first reads the count and the cursor the previous
	// page saved in one BatchGetItem, then its users (one Query), and saves
	// the next page's cursor.
	now := time.Now().UTC()
	imported := make([]*store.User, 250)
	for i := range imported {
		un := fmt.Sprintf("cost.import.%03d@example.com", i)
		imported[i] = &store.User{ID: newID(), UserName: un, Active: true, Doc: []byte(`{"userName":"` + un + `","active":true}`), Created: now, Modified: now}
	}
	if err := h.env.Store.ImportUsers(context.Background(), "default", imported); err != nil {
		t.Fatal(err)
	}
	d = measure("import page startIndex=1", req{method: "GET", path: "/Users?startIndex=1&count=100"}, 200)
	check("import page 1", d, target{total: 3, exactly: map[string]int64{"GetItem": 1, "Query": 1, "PutItem": 1}})
	d = measure("import page startIndex=101", req{method: "GET", path: "/Users?startIndex=101&count=100"}, 200)
	check("import page k", d, target{total: 3, exactly: map[string]int64{"BatchGetItem": 1, "Query": 1, "PutItem": 1}})
	d = measure("import page startIndex=201 (last)", req{method: "GET", path: "/Users?startIndex=201&count=100"}, 200)
	check("import last page", d, target{total: 2, exactly: map[string]int64{"BatchGetItem": 1, "Query": 1}})
}

// importScale is the number of users TestImportScale creates: SCIMLESS_SCALE
// or 1,000 (`make bench-scale` runs 10,000).
func importScale(t *testing.T) int {
	n := 1000
	if s := os.Getenv("SCIMLESS_SCALE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("SCIMLESS_SCALE=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

// TestImportScale measures an Okta import (GET /Users?startIndex=k&count=100
// until totalResults) over N users: every user must be returned exactly once
// and the import must read O(N) items, at most 1.1 per user.
func TestImportScale(t *testing.T) {
	n := importScale(t)
	h := newHarness(t)
	// The users are bulk-loaded through the store (set-up, not a figure):
	// creating them one by one is O(n²) on the embedded engine, which
	// snapshots the whole table for each transaction.
	start := time.Now()
	users := make([]*store.User, n)
	now := time.Now().UTC()
	for i := range users {
		userName := fmt.Sprintf("import.%07d@example.com", i+1)
		doc, _ := json.Marshal(map[string]any{
			"userName": userName, "active": true, "displayName": "Import User " + strconv.Itoa(i+1),
			"name":   map[string]any{"givenName": "Import", "familyName": "User " + strconv.Itoa(i+1)},
			"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		})
		users[i] = &store.User{ID: newID(), UserName: userName, Active: true, Doc: doc, Created: now, Modified: now}
	}
	if err := h.env.Store.ImportUsers(context.Background(), "default", users); err != nil {
		t.Fatalf("import users: %v", err)
	}
	t.Logf("loaded %d users in %v", n, time.Since(start).Round(time.Millisecond))

	// A warm token cache, as for a running import.
	h.warm()

	before := h.env.Metrics.Snapshot()
	start = time.Now()
	seen := make(map[string]bool, n)
	pages := 0
	for k := 1; ; k += 100 {
		m := mustStatus(t, h.do(req{method: "GET", path: fmt.Sprintf("/Users?startIndex=%d&count=100", k)}), http.StatusOK)
		pages++
		if m["totalResults"] != float64(n) || m["startIndex"] != float64(k) {
			t.Fatalf("page %d: totalResults %v startIndex %v", k, m["totalResults"], m["startIndex"])
		}
		res := m["Resources"].([]any)
		if want := min(100, n-k+1); len(res) != want || m["itemsPerPage"] != float64(want) {
			t.Fatalf("page startIndex=%d: %d resources (itemsPerPage %v), want %d", k, len(res), m["itemsPerPage"], want)
		}
		for _, r := range res {
			id := r.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("user %s returned twice", id)
			}
			seen[id] = true
		}
		if k+100 > n {
			break
		}
	}
	elapsed := time.Since(start)
	d := h.env.Metrics.Snapshot().Sub(before)
	if len(seen) != n {
		t.Fatalf("import returned %d distinct users, want %d", len(seen), n)
	}
	ratio := float64(d.ItemsRead) / float64(n)
	t.Logf("cost %-28s requests=%v itemsRead=%d itemsWritten=%d pages=%d itemsRead/N=%.3f elapsed=%v",
		fmt.Sprintf("Okta import of %d users", n), d.Requests, d.ItemsRead, d.ItemsWritten, pages, ratio, elapsed.Round(time.Millisecond))
	if ratio > 1.1 {
		t.Errorf("import read %.3f items per user, target ≤ 1.1", ratio)
	}
	if d.Requests["Scan"] != 0 {
		t.Errorf("import used %d Scans", d.Requests["Scan"])
	}
}
