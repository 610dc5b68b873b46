package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// grpEnv is a SCIM handler on a fresh embedded table with one token.
type grpEnv struct {
	t   testing.TB
	h   http.Handler
	env *storetest.Env
}

const grpToken = "group-test-token"

func newGrpEnv(t testing.TB) *grpEnv {
	env := storetest.New(t)
	if _, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "t1", Secret: grpToken}); err != nil {
		t.Fatal(err)
	}
	h := scim.New(scim.Config{
		Store: env.Store, Auth: auth.NewAuthenticator(env.Store, time.Hour), BaseURL: "https://scim.test/scim/v2",
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	return &grpEnv{t: t, h: h, env: env}
}

// do sends a request and decodes a JSON response body (nil when empty).
func (e *grpEnv) do(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, "https://scim.test/scim/v2"+path, rd)
	req.Header.Set("Authorization", "Bearer "+grpToken)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
		}
	}
	if ct := rec.Header().Get("Content-Type"); rec.Body.Len() > 0 && ct != "application/scim+json" {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec.Code, out
}

func (e *grpEnv) user(name string) string {
	e.t.Helper()
	code, res := e.do("POST", "/Users", map[string]any{"userName": name, "displayName": strings.ToUpper(name)})
	if code != 201 {
		e.t.Fatalf("create user %s: %d %v", name, code, res)
	}
	return res["id"].(string)
}

func memberSet(res map[string]any) []string {
	var ids []string
	ms, _ := res["members"].([]any)
	for _, m := range ms {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		if m[x] == 0 {
			return false
		}
		m[x]--
	}
	return true
}

func patchOp(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func ref(id string) map[string]any { return map[string]any{"value": id} }

// TestGroupFlows replays the Okta and Entra ID group flows of okta-scim.md.
func TestGroupFlows(t *testing.T) {
	e := newGrpEnv(t)
	a, b, c := e.user("a@x"), e.user("b@x"), e.user("c@x")

	code, g := e.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Test SCIMv2", "members": []any{}})
	if code != 201 || g["id"] == "" || g["displayName"] != "Test SCIMv2" {
		t.Fatalf("create: %d %v", code, g)
	}
	gid := g["id"].(string)
	path := "/Groups/" + gid

	steps := []struct {
		name        string
		method      string
		body        any
		wantStatus  int
		wantScim    string
		wantMembers []string
		wantName    string
	}{
		{"okta pathless rename carrying id + add", "PATCH", patchOp(
			map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Renamed"}},
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": a, "display": "a@x"}, ref(b)}},
		), 204, "", []string{a, b}, "Renamed"},
		{"okta remove then add in one request", "PATCH", patchOp(
			map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Renamed"}},
			map[string]any{"op": "remove", "path": `members[value eq "` + a + `"]`},
			map[string]any{"op": "add", "path": "members", "value": []any{ref(c)}},
		), 204, "", []string{b, c}, "Renamed"},
		{"add existing member is a no-op", "PATCH", patchOp(map[string]any{"op": "add", "path": "members", "value": []any{ref(b)}}), 204, "", []string{b, c}, ""},
		{"remove non-member succeeds", "PATCH", patchOp(map[string]any{"op": "remove", "path": `members[value eq "` + a + `"]`}), 204, "", []string{b, c}, ""},
		{"entra Remove with a value list removes only those", "PATCH", patchOp(map[string]any{"op": "Remove", "path": "members", "value": []any{ref(b)}}), 204, "", []string{c}, ""},
		{"entra Add with $ref null", "PATCH", patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": a}}}), 204, "", []string{a, c}, ""},
		{"okta replace members", "PATCH", patchOp(map[string]any{"op": "replace", "path": "members", "value": []any{ref(b)}}), 204, "", []string{b}, ""},
		{"entra Replace displayName", "PATCH", patchOp(map[string]any{"op": "Replace", "path": "displayName", "value": "Entra Name"}), 204, "", []string{b}, "Entra Name"},
		{"non-user member: 400 and nothing applied", "PATCH", patchOp(
			map[string]any{"op": "replace", "path": "displayName", "value": "Should Not Apply"},
			map[string]any{"op": "add", "path": "members", "value": []any{ref(a), ref("not-a-user")}},
		), 400, "invalidValue", []string{b}, "Entra Name"},
		{"malformed member object", "PATCH", patchOp(map[string]any{"op": "add", "path": "members", "value": []any{"just-a-string"}}), 400, "invalidValue", []string{b}, ""},
		{"members of the wrong type", "PATCH", patchOp(map[string]any{"op": "add", "path": "members", "value": 42}), 400, "invalidValue", []string{b}, ""},
		{"unknown attribute path", "PATCH", patchOp(map[string]any{"op": "replace", "path": "nosuchattr", "value": "x"}), 400, "invalidPath", []string{b}, ""},
		{"AIW PUT replaces name and members", "PUT", map[string]any{"displayName": "Put Name", "members": []any{ref(a), ref(c)}}, 200, "", []string{a, c}, "Put Name"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, res := e.do(st.method, path, st.body)
			if code != st.wantStatus {
				t.Fatalf("status %d, want %d: %v", code, st.wantStatus, res)
			}
			if st.wantScim != "" && res["scimType"] != st.wantScim {
				t.Fatalf("scimType %v, want %s (%v)", res["scimType"], st.wantScim, res["detail"])
			}
			_, cur := e.do("GET", path, nil)
			if got := memberSet(cur); !sameSet(got, st.wantMembers) {
				t.Fatalf("members %v, want %v", got, st.wantMembers)
			}
			if st.wantName != "" && cur["displayName"] != st.wantName {
				t.Fatalf("displayName %v, want %s", cur["displayName"], st.wantName)
			}
		})
	}

	// Entra reads: excludedAttributes=members, filter by displayName in another case.
	if code, res := e.do("GET", path+"?excludedAttributes=members", nil); code != 200 || res["members"] != nil {
		t.Fatalf("excluded members: %d %v", code, res)
	}
	code, list := e.do("GET", `/Groups?excludedAttributes=members&filter=displayName+eq+%22PUT+NAME%22`, nil)
	if code != 200 || list["totalResults"].(float64) != 1 {
		t.Fatalf("filter displayName: %d %v", code, list)
	}
	code, list = e.do("GET", `/Groups?filter=members%5Bvalue+eq+%22`+a+`%22%5D`, nil)
	if code != 200 || list["totalResults"].(float64) != 1 {
		t.Fatalf("filter members: %d %v", code, list)
	}
	// A user's groups are returned with display names.
	_, ua := e.do("GET", "/Users/"+a, nil)
	if gs, _ := ua["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["display"] != "Put Name" {
		t.Fatalf("user groups: %v", ua["groups"])
	}
	// And in a filtered list of users.
	code, list = e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+ua["userName"].(string)+`"`), nil)
	if rs, _ := list["Resources"].([]any); code != 200 || len(rs) != 1 {
		t.Fatalf("filter userName: %d %v", code, list)
	} else if gs, _ := rs[0].(map[string]any)["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["display"] != "Put Name" {
		t.Fatalf("filtered user groups: %v", rs[0])
	}
	// Duplicate displayName, case-insensitive.
	if code, res := e.do("POST", "/Groups", map[string]any{"displayName": "put name"}); code != 409 || res["scimType"] != "uniqueness" {
		t.Fatalf("duplicate: %d %v", code, res)
	}
	// Entra hard-deletes a user: it leaves every group.
	if _, cur := e.do("GET", path, nil); !sameSet(memberSet(cur), []string{a, c}) {
		t.Fatalf("before delete: %v", memberSet(cur))
	}
	if code, _ := e.do("DELETE", "/Users/"+c, nil); code != 204 {
		t.Fatalf("delete user: %d", code)
	}
	if _, cur := e.do("GET", path, nil); !sameSet(memberSet(cur), []string{a}) {
		t.Fatalf("deleted user still a member: %v", memberSet(cur))
	}
	// Delete the group: 204, then 404; the user's groups no longer list it.
	if code, _ := e.do("DELETE", path, nil); code != 204 {
		t.Fatalf("delete group: %d", code)
	}
	if code, res := e.do("GET", path, nil); code != 404 || res["status"] != "404" {
		t.Fatalf("after delete: %d %v", code, res)
	}
	if code, _ := e.do("DELETE", path, nil); code != 404 {
		t.Fatalf("second delete: %d", code)
	}
	if _, ua := e.do("GET", "/Users/"+a, nil); ua["groups"] != nil {
		t.Fatalf("user still lists deleted group: %v", ua["groups"])
	}
	if code, _ := e.do("PATCH", "/Groups/nope", patchOp(map[string]any{"op": "add", "path": "members", "value": []any{ref(a)}})); code != 404 {
		t.Fatalf("unknown group: %d", code)
	}
}

func TestConcurrentGroupPatches(t *testing.T) {
	e := newGrpEnv(t)
	_, g := e.do("POST", "/Groups", map[string]any{"displayName": "G"})
	gid := g["id"].(string)
	var ids []string
	for i := range 20 {
		ids = append(ids, e.user(fmt.Sprintf("u%d@x", i)))
	}
	var wg sync.WaitGroup
	for _, part := range [][]string{ids[:12], ids[8:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals := make([]any, len(part))
			for i, id := range part {
				vals[i] = ref(id)
			}
			if code, res := e.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": vals})); code != 204 {
				t.Errorf("patch: %d %v", code, res)
			}
		}()
	}
	wg.Wait()
	if _, cur := e.do("GET", "/Groups/"+gid, nil); !sameSet(memberSet(cur), ids) {
		t.Fatalf("members %d, want %d", len(memberSet(cur)), len(ids))
	}
}

// scale returns SCIMLESS_SCALE or def.
func scale(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SCIMLESS_SCALE")); err == nil && n > 0 {
		return n
	}
	return def
}

// TestGroupCostReport measures the issue's group figures against the local
// engine and asserts their targets. make bench-scale runs it with
// SCIMLESS_SCALE=10000.
func TestGroupCostReport(t *testing.T) {
	e := newGrpEnv(t)
	ctx := context.Background()
	n := scale(1000)
	// Users bulk-loaded through the store: this is set-up, not a figure.
	ids := make([]string, n)
	users := make([]*store.User, n)
	now := time.Now()
	for i := range n {
		ids[i] = fmt.Sprintf("user-%06d", i)
		users[i] = &store.User{ID: ids[i], UserName: ids[i] + "@x", Active: true, Doc: []byte(`{"userName":"` + ids[i] + `@x","active":true}`), Created: now, Modified: now}
	}
	if err := e.env.Store.ImportUsers(ctx, "t1", users); err != nil {
		t.Fatal(err)
	}
	_, g := e.do("POST", "/Groups", map[string]any{"displayName": "Big"})
	gid := g["id"].(string)

	// PATCH adding 1,000 members (Okta's maximum batch).
	vals := make([]any, 1000)
	for i := range vals {
		vals[i] = ref(ids[i])
	}
	before := e.env.Metrics.Snapshot()
	start := time.Now()
	if code, res := e.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": vals})); code != 204 {
		t.Fatalf("patch 1000: %d %v", code, res)
	}
	d := e.env.Metrics.Snapshot().Sub(before)
	t.Logf("cost %-34s requests=%v roundTrips=%d itemsWritten=%d wall=%s", "PATCH +1000 members", d.Requests, d.Total(), d.ItemsWritten, time.Since(start).Round(time.Millisecond))
	if d.ItemsWritten > 2*1000+6 || d.Total() > 40 {
		t.Errorf("PATCH +1000: %d writes in %d round trips; want O(m): ≤ 2005 writes, ≤ 40 round trips", d.ItemsWritten, d.Total())
	}

	// The rest of the users join too, for the big-group figures.
	for start := 1000; start < n; start += 1000 {
		vals := make([]any, 0, 1000)
		for _, id := range ids[start:min(start+1000, n)] {
			vals = append(vals, ref(id))
		}
		if code, _ := e.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": vals})); code != 204 {
			t.Fatalf("patch: %d", code)
		}
	}

	// GET /Groups/{id} with n members.
	before = e.env.Metrics.Snapshot()
	start = time.Now()
	code, res := e.do("GET", "/Groups/"+gid, nil)
	d = e.env.Metrics.Snapshot().Sub(before)
	if code != 200 || len(memberSet(res)) != n {
		t.Fatalf("get big group: %d, %d members", code, len(memberSet(res)))
	}
	t.Logf("cost %-34s requests=%v itemsRead=%d wall=%s", fmt.Sprintf("GET group with %d members", n), d.Requests, d.ItemsRead, time.Since(start).Round(time.Millisecond))
	if d.ItemsRead > int64(n)+2 {
		t.Errorf("GET big group read %d items, want ≤ %d", d.ItemsRead, n+2)
	}

	// Rename with n members: O(1) writes.
	before = e.env.Metrics.Snapshot()
	if code, _ := e.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Bigger"}})); code != 204 {
		t.Fatalf("rename: %d", code)
	}
	d = e.env.Metrics.Snapshot().Sub(before)
	t.Logf("cost %-34s requests=%v itemsWritten=%d", fmt.Sprintf("rename with %d members", n), d.Requests, d.ItemsWritten)
	// The group, its old and its new name guard (its audit entry is
	// derived from the table's stream).
	if d.ItemsWritten > 3 {
		t.Errorf("rename wrote %d items, want ≤ 3", d.ItemsWritten)
	}

	// GET user: ≤ 2 round trips with groups, 1 without.
	for _, tc := range []struct {
		query string
		max   int64
	}{{"", 2}, {"?excludedAttributes=groups", 1}} {
		before = e.env.Metrics.Snapshot()
		e.do("GET", "/Users/"+ids[0]+tc.query, nil)
		d = e.env.Metrics.Snapshot().Sub(before)
		t.Logf("cost %-34s requests=%v", "GET user"+tc.query, d.Requests)
		if d.Total() > tc.max {
			t.Errorf("GET user%s: %d round trips, want ≤ %d", tc.query, d.Total(), tc.max)
		}
	}
}

// TestGroupImportPaging: Okta's import of groups with excludedAttributes=members
// costs one Query per page and never reads members.
func TestGroupImportPaging(t *testing.T) {
	e := newGrpEnv(t)
	n := scale(1000) / 4
	for i := range n {
		if code, _ := e.do("POST", "/Groups", map[string]any{"displayName": fmt.Sprintf("group-%04d", i)}); code != 201 {
			t.Fatal("create group")
		}
	}
	seen := map[string]bool{}
	before := e.env.Metrics.Snapshot()
	pages := 0
	for start := 1; start <= n; start += 100 {
		b := e.env.Metrics.Snapshot()
		code, list := e.do("GET", fmt.Sprintf("/Groups?startIndex=%d&count=100&excludedAttributes=members", start), nil)
		if code != 200 || int(list["totalResults"].(float64)) != n {
			t.Fatalf("page %d: %d %v", start, code, list["totalResults"])
		}
		for _, r := range list["Resources"].([]any) {
			id := r.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("group %s on two pages", id)
			}
			seen[id] = true
		}
		if q := e.env.Metrics.Snapshot().Sub(b).Requests["Query"]; q != 1 {
			t.Fatalf("page %d: %d queries, want 1", start, q)
		}
		pages++
	}
	d := e.env.Metrics.Snapshot().Sub(before)
	t.Logf("cost %-34s pages=%d requests=%v itemsRead=%d (%.3f per group)", fmt.Sprintf("import of %d groups", n), pages, d.Requests, d.ItemsRead, float64(d.ItemsRead)/float64(n))
	if len(seen) != n {
		t.Fatalf("saw %d groups, want %d", len(seen), n)
	}
}

// TestAuditTrail: every successful write is in the audit trail, derived
// from the events of the table's stream, with who (the token, the request),
// what and when; reads and failed writes are not. The requests themselves
// write no audit entry.
func TestAuditTrail(t *testing.T) {
	e := newGrpEnv(t)
	feed := scim.NewEventFeed(t, e.env)
	ctx := context.Background()
	toks, err := e.env.Store.ListTokens(ctx, "t1")
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	tok := toks[0]
	uid := e.user("audited@x")
	feed.Flush()
	steps := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/Users/" + uid, nil, 200},
		{"POST", "/Users", map[string]any{"userName": "audited@x"}, 409}, // not audited
		{"PATCH", "/Users/" + uid, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": false}}), 200},
		{"PATCH", "/Users/" + uid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 200}, // no change: no event
		{"DELETE", "/Users/" + uid, nil, 204},
	}
	for _, st := range steps {
		if code, body := e.do(st.method, st.path, st.body); code != st.status {
			t.Fatalf("%s %s: %d %v, want %d", st.method, st.path, code, body, st.status)
		}
		feed.Flush()
	}
	if direct, err := e.env.Store.ListAudit(ctx, "t1", time.Time{}, 10); err != nil || len(direct) != 0 {
		t.Fatalf("requests wrote %d audit entries directly (%v), want none", len(direct), err)
	}
	entries, err := e.env.Store.ListTrail(ctx, "t1", time.Now().Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user.deleted", "user.deactivated", "user.created"}
	if len(entries) != len(want) {
		t.Fatalf("%d audit entries, want %d: %+v", len(entries), len(want), entries)
	}
	reqs := map[string]bool{}
	for i, en := range entries {
		if en.Operation != want[i] || en.ResourceID != uid || en.ResourceType != "User" || en.TokenID != tok.ID || en.RequestID == "" {
			t.Fatalf("entry %d = %+v, want %s on %s by token %s", i, en, want[i], uid, tok.ID)
		}
		if time.Since(en.Time) > time.Minute || en.Time.After(time.Now()) {
			t.Errorf("entry %d time %v, want the time of the write", i, en.Time)
		}
		reqs[en.RequestID] = true
	}
	if len(reqs) != len(want) {
		t.Errorf("request ids %v: want one per request", reqs)
	}
}

// TestSuspendedTenant: a suspended tenant's tokens get a SCIM 403 that says
// why, and work again once it is resumed.
func TestSuspendedTenant(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "acme", Secret: "acme-token-1"}); err != nil {
		t.Fatal(err)
	}
	get := func() (int, string) {
		h := scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, 0)}) // cold cache
		req := httptest.NewRequest("GET", "/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer acme-token-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, step := range []struct {
		status string
		want   int
	}{{"", 200}, {store.TenantSuspended, 403}, {store.TenantActive, 200}} {
		if step.status != "" {
			if _, err := env.Store.SetTenantStatus(ctx, "acme", step.status); err != nil {
				t.Fatal(err)
			}
		}
		if code, body := get(); code != step.want || (code == 403 && !strings.Contains(body, `"status":"403"`)) {
			t.Fatalf("after %q: %d %s, want %d", step.status, code, body, step.want)
		}
	}
}
