package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

// Tenant isolation: two tenants with the same userName,
// group displayName and externalIds; tenant B aims every SCIM endpoint at
// tenant A's resources by their real ids and must neither see nor touch
// them. Every request is bracketed by a scan of the whole table, so any item
// written, changed or deleted outside the caller's own tenant keys fails the
// test at the request that did it.

const (
	isoTokenA = "iso-token-tenant-A"
	isoTokenB = "iso-token-tenant-B"
	isoExtURN = "urn:ietf:params:scim:schemas:extension:tenanta:2.0:User" // tenant A's schema extension only

	isoSameUser   = "same@example.com" // userName in both tenants
	isoSameExt    = "ext-same"         // user externalId in both tenants
	isoSameGroup  = "Same Group"       // group displayName in both tenants
	isoSameGExt   = "gext-same"        // group externalId in both tenants
	isoAOnlyUser  = "a-only@example.com"
	isoAOnlyGroup = "A Only Group"
)

// isoEnv is the shared harness plus two tenants, "A" and "B", with one token
// each, and what the test knows of their data.
type isoEnv struct {
	*harness
	t        *testing.T
	tok      map[string]store.Token // tenant → token record (for audit)
	secret   map[string]string      // tenant → bearer token
	secretsA map[string]bool        // strings only tenant A's data holds: B must never receive them
	usersA   []string               // A's user ids, creation order
	groupsA  []string
	usersB   map[string]bool // B's live user ids
	groupsB  map[string]bool
	writesB  int                // items B's requests wrote, changed or deleted (all under T#B)
	last     map[string]isoItem // the table after the last bracketed request
	covered  []string
}

func newIsoEnv(t *testing.T) *isoEnv {
	h := newHarness(t)
	e := &isoEnv{harness: h, t: t, tok: map[string]store.Token{}, secret: map[string]string{"A": isoTokenA, "B": isoTokenB},
		secretsA: map[string]bool{}, usersB: map[string]bool{}, groupsB: map[string]bool{}}
	ctx := context.Background()
	for tenant, secret := range e.secret {
		_, tok, err := auth.Issue(ctx, h.env.Store, auth.IssueOptions{Tenant: tenant, Secret: secret, Label: "iso-" + tenant})
		if err != nil {
			t.Fatalf("issue token for %s: %v", tenant, err)
		}
		e.tok[tenant] = tok
	}
	// Tenant A has a custom schema extension that tenant B does not have.
	ext := []map[string]any{{
		"id": isoExtURN, "name": "TenantAExtension", "description": "only tenant A has it", "resourceType": "User",
		"attributes": []map[string]any{{"name": "costCenterA", "type": "string", "multiValued": false, "required": false,
			"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}},
	}}
	raw, _ := json.Marshal(ext)
	if err := h.env.Store.PutSchemas(ctx, "A", raw); err != nil {
		t.Fatalf("put A's schemas: %v", err)
	}
	return e
}

// cover records one covered endpoint or behaviour for the coverage figure.
func (e *isoEnv) cover(what string) { e.covered = append(e.covered, what) }

// ---- the table, as DynamoDB holds it ----

// isoItem is one table item in plain form: strings, json.Number, bools,
// sorted sets, lists and maps; binary values that are UTF-8 (the stored JSON
// documents) as "B:" + text, so that a search for an id finds them.
type isoItem map[string]any

func (it isoItem) str(attr string) string { s, _ := it[attr].(string); return s }

func (it isoItem) key() string { return it.str(table.PartitionKey) + " | " + it.str(table.SortKey) }

// partitionKeys are the attributes that start an access path: the table's
// partition key and each index's.
func (it isoItem) partitionKeys() []string {
	out := []string{it.str(table.PartitionKey)}
	for _, ix := range table.Indexes() {
		if v := it.str(ix.PartitionKey); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (it isoItem) text() string {
	if t, ok := it[isoText].(string); ok {
		return t
	}
	b, _ := json.Marshal(map[string]any(it)) // map keys sorted: canonical
	return string(b)
}

// isoText is where scan caches an item's canonical text (no attribute can
// have this name: it is not valid UTF-8).
const isoText = "\xff"

// operatorItem reports whether an item is an operator item rather than
// tenant data: token lookups and pointers, and the tenant directory.
func (it isoItem) operatorItem() bool {
	pk := it.str(table.PartitionKey)
	return strings.HasPrefix(pk, "TOKEN#") || strings.HasPrefix(pk, "TOKID#") || pk == "TENANTS"
}

// isoOwnedBy reports whether key k lies in tenant's key space: "T#{tenant}" or
// "T#{tenant}#…" (tenant names cannot contain '#').
func isoOwnedBy(tenant, k string) bool {
	p := "T#" + tenant
	return k == p || strings.HasPrefix(k, p+"#")
}

func isoPlainAV(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return json.Number(v.Value)
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberB:
		if utf8.Valid(v.Value) {
			return "B:" + string(v.Value)
		}
		return v.Value
	case *types.AttributeValueMemberSS:
		s := slices.Clone(v.Value)
		sort.Strings(s)
		return map[string]any{"SS": s}
	case *types.AttributeValueMemberNS:
		s := slices.Clone(v.Value)
		sort.Strings(s)
		return map[string]any{"NS": s}
	case *types.AttributeValueMemberBS:
		s := make([]string, len(v.Value))
		for i, b := range v.Value {
			s[i] = string(b)
		}
		sort.Strings(s)
		return map[string]any{"BS": s}
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, x := range v.Value {
			out[i] = isoPlainAV(x)
		}
		return out
	case *types.AttributeValueMemberM:
		out := map[string]any{}
		for k, x := range v.Value {
			out[k] = isoPlainAV(x)
		}
		return out
	}
	return fmt.Sprintf("%T", av)
}

// scan reads the whole table (strongly consistent) through the raw client.
func (e *isoEnv) scan() map[string]isoItem {
	e.t.Helper()
	name := e.env.Store.TableName()
	consistent := true
	out := map[string]isoItem{}
	var start map[string]types.AttributeValue
	for {
		res, err := e.env.Client.Scan(context.Background(), &dynamodb.ScanInput{TableName: &name, ConsistentRead: &consistent, ExclusiveStartKey: start})
		if err != nil {
			e.t.Fatalf("scan: %v", err)
		}
		for _, raw := range res.Items {
			it := isoItem{}
			for k, v := range raw {
				it[k] = isoPlainAV(v)
			}
			it[isoText] = it.text()
			out[it.key()] = it
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out
		}
		start = res.LastEvaluatedKey
	}
}

// isoChanged lists the items added, changed or deleted between two scans (the
// item as it is after, or as it was before for a deletion).
func isoChanged(before, after map[string]isoItem) []isoItem {
	var out []isoItem
	for k, a := range after {
		if b, ok := before[k]; !ok || b.text() != a.text() {
			out = append(out, a)
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			out = append(out, b)
		}
	}
	return out
}

// isoPartition returns tenant's items (keys under T#{tenant}), minus those whose
// sort key starts with one of skip.
func isoPartition(items map[string]isoItem, tenant string, skip ...string) map[string]string {
	out := map[string]string{}
	for k, it := range items {
		if !isoOwnedBy(tenant, it.str(table.PartitionKey)) {
			continue
		}
		if slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(it.str(table.SortKey), p) }) {
			continue
		}
		out[k] = it.text()
	}
	return out
}

// ---- requests ----

// as sends rq with tenant's token. It checks that every item the request
// (and the authenticator's background "last used" write it started) wrote,
// changed or deleted is keyed under the tenant, and, for tenant B, that the
// response carries none of tenant A's data that B did not itself send.
//
// The table after one request is the table before the next: the requests
// made in between without as (tenant A's reads in snapshotA) write nothing,
// and if one did, it would be blamed on the next request, never missed.
func (e *isoEnv) as(tenant string, rq req) *httptest.ResponseRecorder {
	e.t.Helper()
	before := e.last
	if before == nil {
		before = e.scan()
	}
	rq.token = e.secret[tenant]
	w := e.do(rq)
	if a, ok := e.srv.auth.(interface{ Wait() }); ok {
		a.Wait()
	}
	e.last = e.scan()
	for _, it := range isoChanged(before, e.last) {
		if it.operatorItem() {
			continue
		}
		for _, k := range it.partitionKeys() {
			if !isoOwnedBy(tenant, k) {
				e.t.Errorf("ISOLATION: %s %s as tenant %s wrote outside T#%s: key %q of item %s", rq.method, rq.path, tenant, tenant, k, it.text())
			}
		}
		if tenant == "B" {
			e.writesB++
		}
	}
	if tenant == "B" {
		e.checkNoLeak(rq, w)
	}
	return w
}

// checkNoLeak fails if B's response holds a string of A's data that B's
// request did not contain itself (a 404 may echo the id B asked for).
func (e *isoEnv) checkNoLeak(rq req, w *httptest.ResponseRecorder) {
	e.t.Helper()
	sent := rq.path
	if rq.body != nil {
		b, _ := json.Marshal(rq.body)
		sent += string(b)
		if s, ok := rq.body.(string); ok {
			sent += s
		}
	}
	for _, v := range rq.headers {
		sent += v
	}
	if u, err := url.PathUnescape(sent); err == nil {
		sent += u
	}
	if u, err := url.QueryUnescape(sent); err == nil {
		sent += u
	}
	got := w.Body.String() + w.Header().Get("Location") + w.Header().Get("ETag")
	for s := range e.secretsA {
		if !strings.Contains(sent, s) && strings.Contains(got, s) {
			e.t.Errorf("ISOLATION: %s %s as B: the response reveals tenant A's %q: %s", rq.method, rq.path, s, got)
		}
	}
}

// create POSTs a resource as tenant and returns its id.
func (e *isoEnv) create(tenant, path string, body map[string]any) string {
	e.t.Helper()
	m := mustStatus(e.t, e.as(tenant, req{method: "POST", path: path, body: body}), http.StatusCreated)
	id, _ := m["id"].(string)
	if id == "" {
		e.t.Fatalf("POST %s as %s: no id", path, tenant)
	}
	return id
}

func isoUser(userName, externalID, display, title string) map[string]any {
	return map[string]any{
		"schemas": []any{coreUserURN}, "userName": userName, "externalId": externalID, "displayName": display,
		"title": title, "active": true,
		"name":   map[string]any{"givenName": display, "familyName": title},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}
}

func isoGroup(name, externalID string, members ...string) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	return map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "externalId": externalID, "members": ms}
}

func isoPatch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []any{patchOpMsgURN}, "Operations": list}
}

func isoMembers(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

func isoFilterPath(resource, f string) string {
	return "/" + resource + "?filter=" + url.QueryEscape(f)
}

// isoResourceIDs returns the ids of a ListResponse's Resources.
func isoResourceIDs(w *httptest.ResponseRecorder) []string {
	var m struct {
		Resources []map[string]any
	}
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	var ids []string
	for _, r := range m.Resources {
		id, _ := r["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func isoTotal(w *httptest.ResponseRecorder) int {
	var m struct{ TotalResults int }
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return m.TotalResults
}

func isoKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isoSorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// snapshotA reads, as tenant A, what A sees of its data, byte-for-byte with
// ETags: each user (with its groups) and group (with its members) and the
// totals; with full, also the lists, the index-served filters and the
// discovery documents.
func (e *isoEnv) snapshotA(full bool) map[string]string {
	e.t.Helper()
	paths := []string{"/Users?count=0", "/Groups?count=0"}
	for _, id := range e.usersA {
		paths = append(paths, "/Users/"+id)
	}
	for _, id := range e.groupsA {
		paths = append(paths, "/Groups/"+id)
	}
	if full {
		paths = append(paths, "/Users?count=1000", "/Groups?count=1000", "/Schemas", "/ResourceTypes",
			isoFilterPath("Users", `userName eq "`+isoSameUser+`"`), isoFilterPath("Users", `externalId eq "`+isoSameExt+`"`),
			isoFilterPath("Groups", `displayName eq "`+isoSameGroup+`"`), isoFilterPath("Groups", `displayName eq "`+isoAOnlyGroup+`"`),
			isoFilterPath("Groups", `externalId eq "`+isoSameGExt+`"`))
		for _, id := range e.usersA {
			paths = append(paths, isoFilterPath("Groups", `members[value eq "`+id+`"]`))
		}
	}
	out := map[string]string{}
	for _, p := range paths {
		w := e.do(req{method: "GET", path: p, token: isoTokenA})
		out[p] = fmt.Sprintf("%d %s %s", w.Code, w.Header().Get("ETag"), w.Body)
	}
	return out
}

// checkA compares what A sees now with want (a full snapshot); full as in
// snapshotA.
func (e *isoEnv) checkA(what string, want map[string]string, full bool) {
	e.t.Helper()
	got := e.snapshotA(full)
	for p, w := range got {
		if want[p] != w {
			e.t.Errorf("ISOLATION: after %s, tenant A's %s changed:\n was %s\n now %s", what, p, want[p], w)
		}
	}
}

// isoCase is one request tenant B makes.
type isoCase struct {
	name  string // the endpoint and behaviour covered
	rq    req
	want  []int  // accepted statuses
	scim  string // scimType wanted, if any
	check func(w *httptest.ResponseRecorder) error
	after func() // bookkeeping once the request succeeded (before check)
}

// TestIsolationEveryEndpoint aims every endpoint of one tenant at another's resources.
func TestIsolationEveryEndpoint(t *testing.T) {
	start := time.Now()
	e := newIsoEnv(t)

	// ---- tenant A's data ----
	uA1 := e.create("A", "/Users", func() map[string]any {
		u := isoUser(isoSameUser, isoSameExt, "Alice A", "A-SECRET-TITLE")
		u["schemas"] = []any{coreUserURN, isoExtURN}
		u[isoExtURN] = map[string]any{"costCenterA": "A-SECRET-CC"}
		return u
	}())
	uA2 := e.create("A", "/Users", isoUser(isoAOnlyUser, "ext-a-only", "Alan A", "A-SECRET-TITLE"))
	e.usersA = []string{uA1, uA2}
	for i := 3; i <= 5; i++ {
		e.usersA = append(e.usersA, e.create("A", "/Users", isoUser(fmt.Sprintf("a%d@a.example", i), fmt.Sprintf("ext-a%d", i), fmt.Sprintf("Ann%d A", i), "A-SECRET-TITLE")))
	}
	gA := e.create("A", "/Groups", isoGroup(isoSameGroup, isoSameGExt, uA1, uA2))
	gA2 := e.create("A", "/Groups", isoGroup(isoAOnlyGroup, "gext-a-only", uA1))
	e.groupsA = []string{gA, gA2}
	// Bump the versions of A's user and group to 12, so that A's ETags
	// differ from those of B's same-named resources, which stay far below
	// (a few writes each). These writes of A's are not bracketed by scans
	// (e.last is reset after them).
	for i := range 11 {
		name := isoSameGroup
		if i%2 == 1 {
			name += " (renamed)"
		}
		mustStatus(t, e.do(req{method: "PATCH", path: "/Users/" + uA1, token: isoTokenA, body: isoPatch(map[string]any{"op": "replace", "path": "nickName", "value": fmt.Sprint("n", i)})}), http.StatusOK)
		mustStatus(t, e.do(req{method: "PATCH", path: "/Groups/" + gA, token: isoTokenA, body: isoPatch(map[string]any{"op": "replace", "path": "displayName", "value": name})}), http.StatusNoContent)
	}
	e.last = nil
	etagUA1 := e.do(req{method: "GET", path: "/Users/" + uA1, token: isoTokenA}).Header().Get("ETag")
	wGA := e.do(req{method: "GET", path: "/Groups/" + gA, token: isoTokenA})
	etagGA := wGA.Header().Get("ETag")
	if name := jsonBody(t, wGA)["displayName"]; name != isoSameGroup {
		t.Fatalf("setup: A's group is named %v", name)
	}

	for _, id := range append(slices.Clone(e.usersA), e.groupsA...) {
		e.secretsA[id] = true
	}
	for _, s := range []string{"A-SECRET-TITLE", "A-SECRET-CC", isoExtURN, "costCenterA", isoAOnlyUser, "ext-a-only", "gext-a-only",
		isoAOnlyGroup, "Alice A", "Alan A", "a3@a.example", "a4@a.example", "a5@a.example", e.tok["A"].ID} {
		e.secretsA[s] = true
	}

	// What A has before B does anything: through the API and in the table
	// (minus A's own paging cursors and its token's "last used").
	beforeA := e.snapshotA(true)
	if !strings.Contains(beforeA["/Schemas"], isoExtURN) || !strings.Contains(beforeA["/Users/"+uA1], "A-SECRET-CC") {
		t.Fatalf("setup: A's schema extension is not in force: %s", beforeA["/Schemas"])
	}
	// The audit trail is derived from the table's stream: deliver A's
	// writes to the events consumer.
	feed := NewEventFeed(t, e.env)
	feed.last = streamtest.Snapshot{}
	feed.Flush()
	beforeItemsA := isoPartition(e.scan(), "A", "CUR#", "TOK#")
	auditA, err := e.env.Store.ListTrail(context.Background(), "A", time.Time{}, store.MaxAuditLimit)
	if err != nil || len(auditA) == 0 {
		t.Fatalf("A's audit: %v (%d entries)", err, len(auditA))
	}

	// ---- tenant B: the same userName, displayName and externalIds succeed ----
	uB1 := e.create("B", "/Users", isoUser(isoSameUser, isoSameExt, "Bob B", "b-title"))
	feed.Flush() // the stream delivers its creation before B deletes it
	uB2 := e.create("B", "/Users", isoUser("b2@b.example", "ext-b2", "Bea2 B", "b-title"))
	uB3 := e.create("B", "/Users", isoUser("b3@b.example", "ext-b3", "Bea3 B", "b-title"))
	uB4 := e.create("B", "/Users", isoUser("b4@b.example", "ext-b4", "Bea4 B", "b-title"))
	for _, id := range []string{uB1, uB2, uB3, uB4} {
		e.usersB[id] = true
	}
	gB := e.create("B", "/Groups", isoGroup(isoSameGroup, isoSameGExt, uB1))
	gB2 := e.create("B", "/Groups", isoGroup("B Other Group", "gext-b2", uB2))
	e.groupsB[gB], e.groupsB[gB2] = true, true
	e.cover("POST /Users and POST /Groups: the same userName, group displayName and externalIds in both tenants (201 in each; uniqueness is per tenant)")
	etagUB1 := e.as("B", req{method: "GET", path: "/Users/" + uB1}).Header().Get("ETag")
	etagGB := e.as("B", req{method: "GET", path: "/Groups/" + gB}).Header().Get("ETag")
	if etagUB1 == etagUA1 || etagGB == etagGA {
		t.Fatalf("setup: A's and B's ETags should differ: users %s/%s groups %s/%s", etagUA1, etagUB1, etagGA, etagGB)
	}

	// ---- checks on results ----
	exactly := func(want ...string) func(w *httptest.ResponseRecorder) error {
		return func(w *httptest.ResponseRecorder) error {
			if got := isoResourceIDs(w); !slices.Equal(isoSorted(got), isoSorted(want)) {
				return fmt.Errorf("resources %v, want %v", got, want)
			}
			if n := isoTotal(w); n != len(want) {
				return fmt.Errorf("totalResults %d, want %d", n, len(want))
			}
			return nil
		}
	}
	none := exactly()
	allUsersB := func(w *httptest.ResponseRecorder) error { return exactly(isoKeys(e.usersB)...)(w) }
	allGroupsB := func(w *httptest.ResponseRecorder) error { return exactly(isoKeys(e.groupsB)...)(w) }
	noneOr400 := func(w *httptest.ResponseRecorder) error {
		if w.Code == http.StatusBadRequest {
			return nil
		}
		return none(w)
	}
	userGroups := func(want ...string) func(w *httptest.ResponseRecorder) error {
		return func(w *httptest.ResponseRecorder) error {
			var u struct{ Groups []struct{ Value string } }
			_ = json.Unmarshal(w.Body.Bytes(), &u)
			var got []string
			for _, g := range u.Groups {
				got = append(got, g.Value)
			}
			if !slices.Equal(isoSorted(got), isoSorted(want)) {
				return fmt.Errorf("user.groups %v, want %v", got, want)
			}
			return nil
		}
	}
	// groupIs reads B's group back: its name and members are as given.
	groupIs := func(gid, name string, ms ...string) func(*httptest.ResponseRecorder) error {
		return func(*httptest.ResponseRecorder) error {
			m := jsonBody(t, e.as("B", req{method: "GET", path: "/Groups/" + gid}))
			var got []string
			list, _ := m["members"].([]any)
			for _, x := range list {
				v, _ := x.(map[string]any)["value"].(string)
				got = append(got, v)
			}
			if m["displayName"] != name || !slices.Equal(isoSorted(got), isoSorted(ms)) {
				return fmt.Errorf("B's group %s is %v %v, want %q %v", gid, m["displayName"], got, name, ms)
			}
			return nil
		}
	}
	userIs := func(id, etag string) func(*httptest.ResponseRecorder) error {
		return func(*httptest.ResponseRecorder) error {
			if got := e.as("B", req{method: "GET", path: "/Users/" + id}).Header().Get("ETag"); got != etag {
				return fmt.Errorf("B's user %s changed: ETag %s, want %s", id, got, etag)
			}
			return nil
		}
	}
	ifMatch := func(etag string) map[string]string { return map[string]string{"If-Match": etag} }
	ifNoneMatch := func(etag string) map[string]string { return map[string]string{"If-None-Match": etag} }
	search := func(body map[string]any) any {
		body["schemas"] = []any{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}
		return body
	}
	deactivate := isoPatch(map[string]any{"op": "replace", "value": map[string]any{"active": false, "displayName": "Hijacked"}})

	cases := []isoCase{
		// Users, by A's real ids.
		{name: "GET /Users/{idA} → 404", rq: req{method: "GET", path: "/Users/" + uA1}, want: []int{404}},
		{name: "GET /Users/{idA}?attributes=userName,groups → 404", rq: req{method: "GET", path: "/Users/" + uA1 + "?attributes=userName,groups"}, want: []int{404}},
		{name: "GET /Users/{idA} with If-None-Match: A's ETag → 404 (not 304)", rq: req{method: "GET", path: "/Users/" + uA1, headers: ifNoneMatch(etagUA1)}, want: []int{404}},
		{name: "PUT /Users/{idA} → 404, A unchanged", rq: req{method: "PUT", path: "/Users/" + uA1, body: isoUser("hijack@example.com", isoSameExt, "Hijacked", "x")}, want: []int{404}},
		{name: "PUT /Users/{idA} keeping A's userName → 404", rq: req{method: "PUT", path: "/Users/" + uA1, body: isoUser(isoSameUser, isoSameExt, "Hijacked", "x")}, want: []int{404}},
		{name: "PUT /Users/{idA} with If-Match: A's ETag → 404 (not 412)", rq: req{method: "PUT", path: "/Users/" + uA1, body: isoUser(isoSameUser, isoSameExt, "Hijacked", "x"), headers: ifMatch(etagUA1)}, want: []int{404}},
		{name: "PATCH /Users/{idA} (deactivate, rename) → 404, A unchanged", rq: req{method: "PATCH", path: "/Users/" + uA1, body: deactivate}, want: []int{404}},
		{name: "PATCH /Users/{idA} with If-Match: A's ETag → 404", rq: req{method: "PATCH", path: "/Users/" + uA1, body: deactivate, headers: ifMatch(etagUA1)}, want: []int{404}},
		{name: "PATCH /Users/{idA} of A's extension attribute → 4xx, A unchanged", rq: req{method: "PATCH", path: "/Users/" + uA1, body: isoPatch(map[string]any{"op": "replace", "path": isoExtURN + ":costCenterA", "value": "x"})}, want: []int{404, 400}},
		{name: "DELETE /Users/{idA} → 404, A still there", rq: req{method: "DELETE", path: "/Users/" + uA1}, want: []int{404}},
		{name: "DELETE /Users/{idA} with If-Match: A's ETag → 404", rq: req{method: "DELETE", path: "/Users/" + uA1, headers: ifMatch(etagUA1)}, want: []int{404}},
		{name: "POST /Users carrying A's id in \"id\" → a new id in B (id is read-only)", rq: req{method: "POST", path: "/Users", body: func() map[string]any {
			u := isoUser("guess@b.example", "ext-guess", "Guess B", "b-title")
			u["id"] = uA1
			return u
		}()}, want: []int{201, 400}, check: func(w *httptest.ResponseRecorder) error {
			if w.Code == 201 {
				id, _ := jsonBody(t, w)["id"].(string)
				if id == uA1 || id == "" {
					return fmt.Errorf("created with id %q", id)
				}
				e.usersB[id] = true
			}
			return nil
		}},
		{name: "POST /Users with A's extension URN → 400 invalidSyntax (B has no such schema)", rq: req{method: "POST", path: "/Users", body: func() map[string]any {
			u := isoUser("ext@b.example", "ext-ext", "Ext B", "b-title")
			u["schemas"] = []any{coreUserURN, isoExtURN}
			u[isoExtURN] = map[string]any{"costCenterA": "x"}
			return u
		}()}, want: []int{400}, scim: "invalidSyntax"},

		// Groups, by A's real ids.
		{name: "GET /Groups/{gidA} → 404", rq: req{method: "GET", path: "/Groups/" + gA}, want: []int{404}},
		{name: "GET /Groups/{gidA}?excludedAttributes=members → 404", rq: req{method: "GET", path: "/Groups/" + gA + "?excludedAttributes=members"}, want: []int{404}},
		{name: "GET /Groups/{gidA} with If-None-Match: A's ETag → 404 (not 304)", rq: req{method: "GET", path: "/Groups/" + gA, headers: ifNoneMatch(etagGA)}, want: []int{404}},
		{name: "PUT /Groups/{gidA} with B's user as member → 404, A unchanged", rq: req{method: "PUT", path: "/Groups/" + gA, body: isoGroup("Hijacked", "x", uB1)}, want: []int{404}},
		{name: "PUT /Groups/{gidA} with If-Match: A's ETag → 404 (not 412)", rq: req{method: "PUT", path: "/Groups/" + gA, body: isoGroup(isoSameGroup, isoSameGExt), headers: ifMatch(etagGA)}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} adding B's own user → 404, no membership written", rq: req{method: "PATCH", path: "/Groups/" + gA, body: isoPatch(map[string]any{"op": "add", "path": "members", "value": isoMembers(uB1)})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} adding A's own user → 404", rq: req{method: "PATCH", path: "/Groups/" + gA2, body: isoPatch(map[string]any{"op": "add", "path": "members", "value": isoMembers(uA2)})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} remove members[value eq idA] → 404, member kept", rq: req{method: "PATCH", path: "/Groups/" + gA, body: isoPatch(map[string]any{"op": "remove", "path": `members[value eq "` + uA1 + `"]`})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} replace members [] → 404", rq: req{method: "PATCH", path: "/Groups/" + gA, body: isoPatch(map[string]any{"op": "replace", "path": "members", "value": []any{}})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} Okta pathless rename carrying id → 404", rq: req{method: "PATCH", path: "/Groups/" + gA, body: isoPatch(map[string]any{"op": "replace", "value": map[string]any{"id": gA, "displayName": "Hijacked"}})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA}?excludedAttributes=members (200 variant) → 404", rq: req{method: "PATCH", path: "/Groups/" + gA + "?excludedAttributes=members", body: isoPatch(map[string]any{"op": "replace", "path": "displayName", "value": "Hijacked"})}, want: []int{404}},
		{name: "PATCH /Groups/{gidA} with If-Match: A's ETag → 404", rq: req{method: "PATCH", path: "/Groups/" + gA, headers: ifMatch(etagGA), body: isoPatch(map[string]any{"op": "replace", "path": "displayName", "value": "Hijacked"})}, want: []int{404}},
		{name: "DELETE /Groups/{gidA} → 404, A's group and memberships kept", rq: req{method: "DELETE", path: "/Groups/" + gA}, want: []int{404}},
		{name: "DELETE /Groups/{gidA} with If-Match: A's ETag → 404", rq: req{method: "DELETE", path: "/Groups/" + gA, headers: ifMatch(etagGA)}, want: []int{404}},

		// B's own groups given A's user ids.
		{name: "PATCH /Groups/{gidB} rename + add [B's user, A's user] → 400 invalidValue, nothing applied", rq: req{method: "PATCH", path: "/Groups/" + gB, body: isoPatch(
			map[string]any{"op": "replace", "path": "displayName", "value": "Should Not Apply"},
			map[string]any{"op": "add", "path": "members", "value": isoMembers(uB2, uA1)})}, want: []int{400}, scim: "invalidValue", check: groupIs(gB, isoSameGroup, uB1)},
		{name: "PATCH /Groups/{gidB} replace members [A's user] → 400 invalidValue, nothing applied", rq: req{method: "PATCH", path: "/Groups/" + gB, body: isoPatch(map[string]any{"op": "replace", "path": "members", "value": isoMembers(uA2)})}, want: []int{400}, scim: "invalidValue", check: groupIs(gB, isoSameGroup, uB1)},
		{name: "PATCH /Groups/{gidB} Entra \"Add\" members [A's user] → 400 invalidValue", rq: req{method: "PATCH", path: "/Groups/" + gB, body: isoPatch(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": uA1}}})}, want: []int{400}, scim: "invalidValue", check: groupIs(gB, isoSameGroup, uB1)},
		{name: "PUT /Groups/{gidB} members [B's user, A's user] → 400 invalidValue, nothing applied", rq: req{method: "PUT", path: "/Groups/" + gB, body: isoGroup("Should Not Apply", isoSameGExt, uB1, uB3, uA1)}, want: []int{400}, scim: "invalidValue", check: groupIs(gB, isoSameGroup, uB1)},
		{name: "POST /Groups with A's user as member → 400 invalidValue, no group created", rq: req{method: "POST", path: "/Groups", body: isoGroup("New B Group", "gext-new", uB1, uA1)}, want: []int{400}, scim: "invalidValue", check: func(*httptest.ResponseRecorder) error {
			return allGroupsB(e.as("B", req{method: "GET", path: "/Groups?count=1000"}))
		}},
		{name: "PATCH /Groups/{gidB} remove members[value eq idA] → 204 no-op, A's memberships untouched", rq: req{method: "PATCH", path: "/Groups/" + gB, body: isoPatch(map[string]any{"op": "remove", "path": `members[value eq "` + uA1 + `"]`})}, want: []int{204}, check: groupIs(gB, isoSameGroup, uB1)},
		{name: "PATCH /Groups/{gidB} Entra \"Remove\" members [A's user] → 204 no-op", rq: req{method: "PATCH", path: "/Groups/" + gB, body: isoPatch(map[string]any{"op": "Remove", "path": "members", "value": isoMembers(uA2)})}, want: []int{204}, check: groupIs(gB, isoSameGroup, uB1)},

		// Filters, lists and searches as B.
		{name: "GET /Users?filter=userName eq (same in both) → only B's user, with only B's groups", rq: req{method: "GET", path: isoFilterPath("Users", `userName eq "`+isoSameUser+`"`)}, want: []int{200}, check: func(w *httptest.ResponseRecorder) error {
			if err := exactly(uB1)(w); err != nil {
				return err
			}
			var l struct{ Resources []json.RawMessage }
			_ = json.Unmarshal(w.Body.Bytes(), &l)
			rec := httptest.NewRecorder()
			_, _ = rec.Write(l.Resources[0])
			return userGroups(gB)(rec)
		}},
		{name: "GET /Users?filter=userName eq (case-insensitive, same in both) → only B's", rq: req{method: "GET", path: isoFilterPath("Users", `userName eq "SAME@EXAMPLE.COM"`)}, want: []int{200}, check: exactly(uB1)},
		{name: "GET /Users?filter=userName eq (A-only) → 0", rq: req{method: "GET", path: isoFilterPath("Users", `userName eq "`+isoAOnlyUser+`"`)}, want: []int{200}, check: none},
		{name: "GET /Users?filter=externalId eq (same in both) → only B's", rq: req{method: "GET", path: isoFilterPath("Users", `externalId eq "`+isoSameExt+`"`)}, want: []int{200}, check: exactly(uB1)},
		{name: "GET /Users?filter=externalId eq (A-only) → 0", rq: req{method: "GET", path: isoFilterPath("Users", `externalId eq "ext-a-only"`)}, want: []int{200}, check: none},
		{name: `GET /Users?filter=id eq "idA" → 0`, rq: req{method: "GET", path: isoFilterPath("Users", `id eq "`+uA1+`"`)}, want: []int{200}, check: none},
		{name: `GET /Users?filter=id eq "idA" or id eq "idB" (in memory) → only B's`, rq: req{method: "GET", path: isoFilterPath("Users", `id eq "`+uA1+`" or id eq "`+uB2+`"`)}, want: []int{200}, check: exactly(uB2)},
		{name: "GET /Users?filter=title eq (A's value, in memory) → 0", rq: req{method: "GET", path: isoFilterPath("Users", `title eq "A-SECRET-TITLE"`)}, want: []int{200}, check: none},
		{name: "GET /Users?filter=userName co \"@\" (in-memory scan) → B's users only", rq: req{method: "GET", path: isoFilterPath("Users", `userName co "@"`)}, want: []int{200}, check: allUsersB},
		{name: "GET /Users?filter=emails[type eq \"work\"] (value path) → B's users only", rq: req{method: "GET", path: isoFilterPath("Users", `emails[type eq "work"]`)}, want: []int{200}, check: allUsersB},
		{name: "GET /Users?filter=groups.value eq gidA → 0 (or 400)", rq: req{method: "GET", path: isoFilterPath("Users", `groups.value eq "`+gA+`"`)}, want: []int{200, 400}, check: noneOr400},
		{name: "GET /Users?filter=(A's extension attribute) → 0 (or 400)", rq: req{method: "GET", path: isoFilterPath("Users", isoExtURN+`:costCenterA eq "A-SECRET-CC"`)}, want: []int{200, 400}, check: noneOr400},
		{name: "GET /Users (unfiltered) → B's users only, totalResults = B's count", rq: req{method: "GET", path: "/Users"}, want: []int{200}, check: allUsersB},
		{name: "GET /Users?count=0 → totalResults = B's count", rq: req{method: "GET", path: "/Users?count=0"}, want: []int{200}, check: func(w *httptest.ResponseRecorder) error {
			if n := isoTotal(w); n != len(e.usersB) {
				return fmt.Errorf("totalResults %d, want %d", n, len(e.usersB))
			}
			return nil
		}},
		{name: "GET /Users?sortBy=userName&sortOrder=descending → B's users only", rq: req{method: "GET", path: "/Users?sortBy=userName&sortOrder=descending"}, want: []int{200}, check: allUsersB},
		{name: "GET /Groups (unfiltered) → B's groups only, totalResults = B's count", rq: req{method: "GET", path: "/Groups"}, want: []int{200}, check: allGroupsB},
		{name: "GET /Groups?excludedAttributes=members → B's groups only", rq: req{method: "GET", path: "/Groups?excludedAttributes=members"}, want: []int{200}, check: allGroupsB},
		{name: "GET /Groups?filter=displayName eq (same in both, other case) → only B's", rq: req{method: "GET", path: isoFilterPath("Groups", `displayName eq "SAME GROUP"`)}, want: []int{200}, check: exactly(gB)},
		{name: "GET /Groups?filter=displayName eq (A-only) → 0", rq: req{method: "GET", path: isoFilterPath("Groups", `displayName eq "`+isoAOnlyGroup+`"`)}, want: []int{200}, check: none},
		{name: "GET /Groups?filter=externalId eq (same in both) → only B's", rq: req{method: "GET", path: isoFilterPath("Groups", `externalId eq "`+isoSameGExt+`"`)}, want: []int{200}, check: exactly(gB)},
		{name: "GET /Groups?filter=externalId eq (A-only) → 0", rq: req{method: "GET", path: isoFilterPath("Groups", `externalId eq "gext-a-only"`)}, want: []int{200}, check: none},
		{name: `GET /Groups?filter=id eq "gidA" → 0`, rq: req{method: "GET", path: isoFilterPath("Groups", `id eq "`+gA+`"`)}, want: []int{200}, check: none},
		{name: `GET /Groups?filter=members[value eq "idA"] → 0`, rq: req{method: "GET", path: isoFilterPath("Groups", `members[value eq "`+uA1+`"]`)}, want: []int{200}, check: none},
		{name: `GET /Groups?filter=members[value eq "idA"]&excludedAttributes=members → 0`, rq: req{method: "GET", path: isoFilterPath("Groups", `members[value eq "`+uA1+`"]`) + "&excludedAttributes=members"}, want: []int{200}, check: none},
		{name: `GET /Groups?filter=members[value eq "idB"] → only B's`, rq: req{method: "GET", path: isoFilterPath("Groups", `members[value eq "`+uB1+`"]`)}, want: []int{200}, check: exactly(gB)},
		{name: `GET /Groups?filter=members.value eq "idA" → 0 (or 400)`, rq: req{method: "GET", path: isoFilterPath("Groups", `members.value eq "`+uA1+`"`)}, want: []int{200, 400}, check: noneOr400},
		{name: `GET /Groups?filter=displayName co "Group" (in memory) → B's groups only`, rq: req{method: "GET", path: isoFilterPath("Groups", `displayName co "Group"`)}, want: []int{200}, check: allGroupsB},
		{name: "POST /Users/.search userName eq (same in both) → only B's", rq: req{method: "POST", path: "/Users/.search", body: search(map[string]any{"filter": `userName eq "` + isoSameUser + `"`})}, want: []int{200}, check: exactly(uB1)},
		{name: `POST /Users/.search id eq "idA" → 0`, rq: req{method: "POST", path: "/Users/.search", body: search(map[string]any{"filter": `id eq "` + uA1 + `"`})}, want: []int{200}, check: none},
		{name: "POST /Users/.search (unfiltered) → B's users only", rq: req{method: "POST", path: "/Users/.search", body: search(map[string]any{"count": 1000})}, want: []int{200}, check: allUsersB},
		{name: "POST /Groups/.search displayName eq (same in both) → only B's", rq: req{method: "POST", path: "/Groups/.search", body: search(map[string]any{"filter": `displayName eq "` + isoSameGroup + `"`})}, want: []int{200}, check: exactly(gB)},
		{name: `POST /Groups/.search members[value eq "idA"] → 0`, rq: req{method: "POST", path: "/Groups/.search", body: search(map[string]any{"filter": `members[value eq "` + uA1 + `"]`})}, want: []int{200}, check: none},
		{name: "POST /Groups/.search (unfiltered) → B's groups only", rq: req{method: "POST", path: "/Groups/.search", body: search(map[string]any{})}, want: []int{200}, check: allGroupsB},

		// user.groups.
		{name: "GET /Users/{idB} (same userName as A's member) → groups lists only B's groups", rq: req{method: "GET", path: "/Users/" + uB1}, want: []int{200}, check: userGroups(gB)},
		{name: "GET /Users/{idB}?attributes=groups → only B's groups", rq: req{method: "GET", path: "/Users/" + uB1 + "?attributes=groups"}, want: []int{200}, check: userGroups(gB)},

		// Discovery: A's schema extension is A's alone.
		{name: "GET /Schemas → without A's extension", rq: req{method: "GET", path: "/Schemas"}, want: []int{200}},
		{name: "GET /Schemas/{A's extension URN} → 404", rq: req{method: "GET", path: "/Schemas/" + isoExtURN}, want: []int{404}},
		{name: "GET /ResourceTypes → without A's schemaExtensions", rq: req{method: "GET", path: "/ResourceTypes"}, want: []int{200}},
		{name: "GET /ResourceTypes/User → without A's schemaExtensions", rq: req{method: "GET", path: "/ResourceTypes/User"}, want: []int{200}},

		// ETags: A's version numbers mean nothing to B's resources.
		{name: "GET /Users/{idB} with If-None-Match: A's ETag → 200 (not 304)", rq: req{method: "GET", path: "/Users/" + uB1, headers: ifNoneMatch(etagUA1)}, want: []int{200}},
		{name: "PUT /Users/{idB} with If-Match: A's ETag of the same-named user → 412, B unchanged", rq: req{method: "PUT", path: "/Users/" + uB1, headers: ifMatch(etagUA1), body: isoUser(isoSameUser, isoSameExt, "Changed", "b-title")}, want: []int{412}, check: userIs(uB1, etagUB1)},
		{name: "PATCH /Users/{idB} with If-Match: A's ETag → 412", rq: req{method: "PATCH", path: "/Users/" + uB1, headers: ifMatch(etagUA1), body: deactivate}, want: []int{412}, check: userIs(uB1, etagUB1)},
		{name: "PATCH /Groups/{gidB} with If-Match: A's ETag of the same-named group → 412", rq: req{method: "PATCH", path: "/Groups/" + gB, headers: ifMatch(etagGA), body: isoPatch(map[string]any{"op": "add", "path": "members", "value": isoMembers(uB2)})}, want: []int{412}, check: groupIs(gB, isoSameGroup, uB1)},
		{name: "DELETE /Groups/{gidB} with If-Match: A's ETag → 412", rq: req{method: "DELETE", path: "/Groups/" + gB, headers: ifMatch(etagGA)}, want: []int{412}, check: groupIs(gB, isoSameGroup, uB1)},

		// Per-tenant uniqueness.
		{name: "PATCH /Groups/{gidB} rename to A's group displayName → 204 (uniqueness is per tenant)", rq: req{method: "PATCH", path: "/Groups/" + gB2, body: isoPatch(map[string]any{"op": "replace", "path": "displayName", "value": isoAOnlyGroup})}, want: []int{204},
			check: groupIs(gB2, isoAOnlyGroup, uB2), after: func() { delete(e.secretsA, isoAOnlyGroup) }},
		{name: "GET /Groups?filter=displayName eq (renamed to A's name) → only B's", rq: req{method: "GET", path: isoFilterPath("Groups", `displayName eq "`+isoAOnlyGroup+`"`)}, want: []int{200}, check: exactly(gB2)},
		{name: "POST /Groups with the renamed name again → 409 within B", rq: req{method: "POST", path: "/Groups", body: isoGroup(isoAOnlyGroup, "")}, want: []int{409}, scim: "uniqueness"},
		{name: "PUT /Users/{idB} userName → A's other userName → 200 (uniqueness is per tenant)", rq: req{method: "PUT", path: "/Users/" + uB2, body: isoUser(isoAOnlyUser, "ext-b2", "Bea2 B", "b-title")}, want: []int{200},
			after: func() { delete(e.secretsA, isoAOnlyUser) }},
		{name: "GET /Users?filter=userName eq (now in both) → only B's", rq: req{method: "GET", path: isoFilterPath("Users", `userName eq "`+isoAOnlyUser+`"`)}, want: []int{200}, check: exactly(uB2)},

		// Deletes of B's same-named resources.
		{name: "DELETE /Users/{idB} (same userName as A's) → 204, A's user untouched", rq: req{method: "DELETE", path: "/Users/" + uB1}, want: []int{204},
			after: func() { delete(e.usersB, uB1) }},
		{name: "GET /Users?filter=userName eq (same, deleted in B) → 0 for B", rq: req{method: "GET", path: isoFilterPath("Users", `userName eq "`+isoSameUser+`"`)}, want: []int{200}, check: none},
		{name: "GET /Groups/{gidB} after B's member deleted → no members (A's same-named member not shown)", rq: req{method: "GET", path: "/Groups/" + gB}, want: []int{200}, check: groupIs(gB, isoSameGroup)},
		{name: "DELETE /Groups/{gidB} (same displayName as A's) → 204, A's group untouched", rq: req{method: "DELETE", path: "/Groups/" + gB}, want: []int{204},
			after: func() { delete(e.groupsB, gB) }},
		{name: "GET /Groups?filter=displayName eq (same, deleted in B) → 0 for B", rq: req{method: "GET", path: isoFilterPath("Groups", `displayName eq "`+isoSameGroup+`"`)}, want: []int{200}, check: none},
		{name: "POST /Users the same userName again in B → 201", rq: req{method: "POST", path: "/Users", body: isoUser(isoSameUser, isoSameExt, "Bob Again", "b-title")}, want: []int{201}, check: func(w *httptest.ResponseRecorder) error {
			e.usersB[jsonBody(t, w)["id"].(string)] = true
			return nil
		}},
		{name: "GET /Users and /Groups after B's deletes → totals are B's", rq: req{method: "GET", path: "/Users?count=1000"}, want: []int{200}, check: func(w *httptest.ResponseRecorder) error {
			if err := allUsersB(w); err != nil {
				return err
			}
			return allGroupsB(e.as("B", req{method: "GET", path: "/Groups?count=1000"}))
		}},
	}

	for _, c := range cases {
		w := e.as("B", c.rq)
		e.cover(c.name)
		if !slices.Contains(c.want, w.Code) {
			t.Errorf("ISOLATION? %s: status %d, want %v: %s", c.name, w.Code, c.want, w.Body)
			continue
		}
		if c.scim != "" {
			if st, _ := jsonBody(t, w)["scimType"].(string); st != c.scim {
				t.Errorf("%s: scimType %q, want %q", c.name, st, c.scim)
			}
		}
		if c.after != nil {
			c.after()
		}
		if c.check != nil {
			if err := c.check(w); err != nil {
				t.Errorf("ISOLATION: %s: %v", c.name, err)
			}
		}
		e.checkA(c.name, beforeA, false)
	}

	// ---- index paging: the saved cursors are per tenant ----
	// A and B page the same listing ("users", "groups": the same cursor key)
	// in turns, so that each page after the first finds the other tenant's
	// cursor for the same offset, if cursors were shared.
	for _, res := range []string{"Users", "Groups"} {
		all := map[string]map[string]bool{"A": {}, "B": e.usersB}
		if res == "Groups" {
			all["B"] = e.groupsB
		}
		for _, id := range e.usersA {
			if res == "Users" {
				all["A"][id] = true
			}
		}
		for _, id := range e.groupsA {
			if res == "Groups" {
				all["A"][id] = true
			}
		}
		for _, order := range [][]string{{"A", "B"}, {"B", "A"}} {
			seen := map[string][]string{}
			for si := 1; si <= max(len(all["A"]), len(all["B"]))+1; si++ {
				for _, tenant := range order {
					w := e.as(tenant, req{method: "GET", path: fmt.Sprintf("/%s?startIndex=%d&count=1", res, si)})
					if w.Code != 200 {
						t.Errorf("paging %s as %s: %d %s", res, tenant, w.Code, w.Body)
						continue
					}
					if n := isoTotal(w); n != len(all[tenant]) {
						t.Errorf("ISOLATION: paging %s as %s: totalResults %d, want %d", res, tenant, n, len(all[tenant]))
					}
					seen[tenant] = append(seen[tenant], isoResourceIDs(w)...)
				}
			}
			for _, tenant := range order {
				if !slices.Equal(isoSorted(seen[tenant]), isoKeys(all[tenant])) {
					t.Errorf("ISOLATION: %s paged by %s (interleaved %v, startIndex 1..n+1, count=1): %v, want %v", res, tenant, order, seen[tenant], isoKeys(all[tenant]))
				}
			}
		}
	}
	e.cover("GET /Users and /Groups?startIndex=k&count=1, A and B paging in turns (either first): each sees exactly its own resources and totalResults; saved cursors never serve the other tenant's pages")

	// ---- RFC 9865 cursors: a cursor A obtained is fed to B ----
	for _, res := range []string{"Users", "Groups"} {
		own := e.usersB
		if res == "Groups" {
			own = e.groupsB
		}
		var cursorsA []string
		for cur, n := "", 0; n < 10; n++ {
			w := e.as("A", req{method: "GET", path: fmt.Sprintf("/%s?count=1&cursor=%s", res, url.QueryEscape(cur))})
			m := mustStatus(t, w, 200)
			next, _ := m["nextCursor"].(string)
			if next == "" {
				break
			}
			cursorsA = append(cursorsA, next)
			cur = next
		}
		if len(cursorsA) == 0 {
			t.Fatalf("A's %s cursor paging gave no nextCursor", res)
		}
		for _, cur := range cursorsA {
			e.secretsA[cur] = true // what B must not get back either, unless it sent it
			for _, rq := range []req{
				{method: "GET", path: fmt.Sprintf("/%s?count=10&cursor=%s", res, url.QueryEscape(cur))},
				{method: "POST", path: "/" + res + "/.search", body: search(map[string]any{"count": 10, "cursor": cur})},
			} {
				w := e.as("B", rq)
				if w.Code != 400 || !strings.Contains(w.Body.String(), `"invalidCursor"`) {
					t.Errorf("ISOLATION? B with A's cursor %s %s: %d %s, want 400 invalidCursor", rq.method, rq.path, w.Code, w.Body)
					continue
				}
				for _, id := range isoResourceIDs(w) {
					if !own[id] {
						t.Errorf("ISOLATION: B with A's cursor got %s, not B's", id)
					}
				}
			}
			delete(e.secretsA, cur)
		}
		// B's own cursor walk sees exactly its own resources.
		var got []string
		for cur, n := "", 0; n < 20; n++ {
			m := mustStatus(t, e.as("B", req{method: "GET", path: fmt.Sprintf("/%s?count=1&cursor=%s", res, url.QueryEscape(cur))}), 200)
			for _, r := range m["Resources"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string))
			}
			if cur, _ = m["nextCursor"].(string); cur == "" {
				break
			}
		}
		if !slices.Equal(isoSorted(got), isoKeys(own)) {
			t.Errorf("ISOLATION: B's cursor walk of %s: %v, want %v", res, got, isoKeys(own))
		}
	}
	e.cover("RFC 9865 cursor: every nextCursor A obtained (/Users, /Groups), fed to B via GET ?cursor= and POST /.search: 400 invalidCursor; B's own cursor walk sees exactly B's")

	// ---- the reverse: A aims at B's ids ----
	for _, rq := range []req{
		{method: "GET", path: "/Users/" + uB2},
		{method: "PUT", path: "/Users/" + uB2, body: isoUser("hijack@example.com", "x", "Hijacked", "x")},
		{method: "PATCH", path: "/Users/" + uB2, body: deactivate},
		{method: "DELETE", path: "/Users/" + uB2},
		{method: "GET", path: "/Groups/" + gB2},
		{method: "PUT", path: "/Groups/" + gB2, body: isoGroup("Hijacked", "x", uA1)},
		{method: "PATCH", path: "/Groups/" + gB2, body: isoPatch(map[string]any{"op": "add", "path": "members", "value": isoMembers(uA1)})},
		{method: "DELETE", path: "/Groups/" + gB2},
	} {
		if w := e.as("A", rq); w.Code != 404 {
			t.Errorf("ISOLATION: A %s %s on B's resource: %d, want 404: %s", rq.method, rq.path, w.Code, w.Body)
		}
	}
	for _, rq := range []req{
		{method: "PATCH", path: "/Groups/" + gA, body: isoPatch(map[string]any{"op": "add", "path": "members", "value": isoMembers(uB2)})},
		{method: "PUT", path: "/Groups/" + gA, body: isoGroup(isoSameGroup, isoSameGExt, uA1, uB2)},
	} {
		if w := e.as("A", rq); w.Code != 400 {
			t.Errorf("ISOLATION: A %s %s adding B's user: %d, want 400: %s", rq.method, rq.path, w.Code, w.Body)
		}
	}
	e.cover("reverse direction: A's GET/PUT/PATCH/DELETE of B's user and group ids → 404; A adding B's user to A's group (PATCH, PUT) → 400")

	// ---- audit: each tenant's trail holds its own writes only ----
	ctx := context.Background()
	feed.Flush()
	auditB, err := e.env.Store.ListTrail(ctx, "B", time.Time{}, store.MaxAuditLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(auditB) == 0 {
		t.Errorf("B's audit trail is empty")
	}
	sawB := false
	for _, a := range auditB {
		// (The feed collapses an item's writes between flushes, so a
		// membership removed with others of the same user may come without
		// its actor here; never with A's.)
		if a.TokenID != e.tok["B"].ID && a.TokenID != "" || e.secretsA[a.ResourceID] {
			t.Errorf("ISOLATION: B's audit trail holds %+v (A's token %s)", a, e.tok["A"].ID)
		}
		sawB = sawB || (a.Operation == "user.created" && a.ResourceID == uB1 && a.TokenID == e.tok["B"].ID)
	}
	if !sawB {
		t.Errorf("B's audit trail lacks the creation of %s: %+v", uB1, auditB)
	}
	auditAfter, err := e.env.Store.ListTrail(ctx, "A", time.Time{}, store.MaxAuditLimit)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(auditAfter, auditA) {
		t.Errorf("ISOLATION: A's audit trail changed while B worked:\n was %+v\n now %+v", auditA, auditAfter)
	}
	e.cover("audit: store.ListTrail(B) (derived from B's events) holds only B's token and none of A's resource ids; A's trail is unchanged by B's requests")

	// ---- finally: A's data is as before, in the API and in the table ----
	e.checkA("all of B's requests", beforeA, true)
	items := e.scan()
	afterItemsA := isoPartition(items, "A", "CUR#", "TOK#")
	for k, v := range beforeItemsA {
		if afterItemsA[k] != v {
			t.Errorf("ISOLATION: A's item %s changed:\n was %s\n now %s", k, v, afterItemsA[k])
		}
	}
	for k, v := range afterItemsA {
		if _, ok := beforeItemsA[k]; !ok {
			t.Errorf("ISOLATION: A's partition gained %s: %s", k, v)
		}
	}
	e.cover("A's users, groups, members, counters, guards and index items: byte-for-byte as before B's first request (API bodies with ETags, and the table items)")

	// Every tenant item lies in one tenant's key space, on every access path,
	// and no item of one tenant names a resource of the other.
	idsB := map[string]bool{uB1: true, uB2: true, uB3: true, uB4: true, gB: true, gB2: true}
	for id := range e.usersB {
		idsB[id] = true
	}
	nB := 0
	for _, it := range items {
		if it.operatorItem() {
			continue
		}
		owner := ""
		for _, tenant := range []string{"A", "B", "default", "tenant-b"} {
			if isoOwnedBy(tenant, it.str(table.PartitionKey)) {
				owner = tenant
			}
		}
		if owner == "" {
			t.Errorf("ISOLATION: item outside every tenant's key space: %s", it.text())
			continue
		}
		for _, k := range it.partitionKeys() {
			if !isoOwnedBy(owner, k) {
				t.Errorf("ISOLATION: item of %s with key %q outside T#%s: %s", owner, k, owner, it.text())
			}
		}
		text := it.text()
		switch owner {
		case "B":
			nB++
			for id := range e.secretsA {
				if strings.Contains(text, id) {
					t.Errorf("ISOLATION: B's item %s holds tenant A's %q", it.key(), id)
				}
			}
		case "A":
			for id := range idsB {
				if strings.Contains(text, id) {
					t.Errorf("ISOLATION: A's item %s holds tenant B's id %s", it.key(), id)
				}
			}
		}
	}
	e.cover(fmt.Sprintf("table scan around every request: each of the %d items B's requests wrote, changed or deleted is keyed T#B (pk and gsi1pk/gsi2pk/gsi3pk); all %d items of B are under T#B and hold none of A's ids or values; no item of A names a B id", e.writesB, nB))

	t.Logf("isolation covered: %d checks (tenants A and B; %d table cases; %.1fs)\n  - %s", len(e.covered), len(cases), time.Since(start).Seconds(), strings.Join(e.covered, "\n  - "))
}
