package xaas

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

func TestUserRoutes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	user := map[string]any{"first_name": "Ana", "email": "ana@example.com", "active": true}
	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		status  int
		outcome string
		check   func(t *testing.T, body map[string]any)
	}{
		{name: "create", method: "PUT", path: "/users/ana", body: user, status: 201, outcome: Created,
			check: func(t *testing.T, b map[string]any) {
				meta := b["meta"].(map[string]any)
				if b["externalId"] != "ana" || b["first_name"] != "Ana" || meta["version"] != 1.0 || meta["sync"] != "dirty" {
					t.Errorf("body %v", b)
				}
			}},
		{name: "same again", method: "PUT", path: "/users/ana", body: user, status: 200, outcome: Unchanged},
		{name: "update", method: "PUT", path: "/users/ana", body: map[string]any{"first_name": "Anna", "email": "ana@example.com"}, status: 200, outcome: Updated,
			check: func(t *testing.T, b map[string]any) {
				if b["first_name"] != "Anna" || b["meta"].(map[string]any)["version"] != 2.0 {
					t.Errorf("body %v", b)
				}
			}},
		{name: "get", method: "GET", path: "/users/ana", status: 200},
		{name: "key with a slash", method: "PUT", path: "/users/hr%2F42", body: map[string]any{"email": "x@example.com"}, status: 201,
			check: func(t *testing.T, b map[string]any) {
				if b["externalId"] != "hr/42" {
					t.Errorf("externalId %v", b["externalId"])
				}
			}},
		{name: "body key differs", method: "PUT", path: "/users/ana", body: map[string]any{"externalId": "bob"}, status: 400},
		{name: "nested value", method: "PUT", path: "/users/ana", body: map[string]any{"x": map[string]any{}}, status: 400},
		{name: "too large", method: "PUT", path: "/users/big", body: map[string]any{"x": strings.Repeat("x", MaxRecordBytes)}, status: 413},
		{name: "unknown", method: "GET", path: "/users/nobody", status: 404},
		{name: "delete", method: "DELETE", path: "/users/ana", status: 204},
		{name: "deleted is gone", method: "GET", path: "/users/ana", status: 404},
		{name: "delete again", method: "DELETE", path: "/users/ana", status: 204},
		{name: "delete unknown", method: "DELETE", path: "/users/nobody", status: 404},
		{name: "recreate after delete", method: "PUT", path: "/users/ana", body: user, status: 201, outcome: Created},
		{name: "method not allowed", method: "POST", path: "/users/ana", body: user, status: 405},
		{name: "no such route", method: "GET", path: "/nothing", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.doJSON(tc.method, Prefix+tc.path, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.outcome != "" && rec.Header().Get("X-Outcome") != tc.outcome {
				t.Errorf("outcome %q, want %q", rec.Header().Get("X-Outcome"), tc.outcome)
			}
			if rec.Code >= 400 {
				b := decode[map[string]any](t, rec)
				if b["status"] != float64(tc.status) || b["detail"] == "" {
					t.Errorf("error body %v", b)
				}
			}
			if tc.check != nil {
				tc.check(t, decode[map[string]any](t, rec))
			}
		})
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	if _, _, err := auth.Issue(ctx, h.st, auth.IssueOptions{Tenant: testTenant, Secret: "scim-only-token", Scopes: []string{auth.ScopeSCIM}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header string
		status int
	}{{"", 401}, {"Bearer wrong-token", 401}, {"Bearer scim-only-token", 403}, {"Bearer " + testToken, 200}} {
		req := httptest.NewRequest("GET", Prefix+"/users", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%q: %d, want %d", tc.header, rec.Code, tc.status)
		}
		if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	if strings.Contains(h.logs.String(), testToken) || strings.Contains(h.logs.String(), "wrong-token") {
		t.Errorf("a token leaked into the logs")
	}
}

func TestListUsers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.pushUsers(25, "")
	type page struct {
		Users []map[string]any `json:"users"`
		Next  string           `json:"next"`
	}
	var all []string
	cursor := ""
	for range 10 {
		p := decode[page](t, h.do("GET", Prefix+"/users?limit=10&cursor="+cursor, "", nil))
		for _, u := range p.Users {
			all = append(all, u["externalId"].(string))
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(all) != 25 || all[0] != userID(0) || all[24] != userID(24) {
		t.Fatalf("paged %d users: %v", len(all), all)
	}
	// changedSince: only what changed after t, deletions included.
	h.clock.Advance(time.Hour)
	since := h.clock.Now().Format(time.RFC3339)
	h.clock.Advance(time.Second)
	h.doJSON("PUT", Prefix+"/users/"+userID(3), map[string]any{"email": "changed@example.com"})
	h.do("DELETE", Prefix+"/users/"+userID(7), "", nil)
	p := decode[page](t, h.do("GET", Prefix+"/users?changedSince="+since, "", nil))
	if len(p.Users) != 2 || p.Users[0]["externalId"] != userID(3) || p.Users[1]["meta"].(map[string]any)["deleted"] != true {
		t.Errorf("changedSince: %v", p.Users)
	}
	if rec := h.do("GET", Prefix+"/users?changedSince=yesterday", "", nil); rec.Code != 400 {
		t.Errorf("bad changedSince: %d", rec.Code)
	}
	if rec := h.do("GET", Prefix+"/users?limit=0", "", nil); rec.Code != 400 {
		t.Errorf("limit=0: %d", rec.Code)
	}
}

func TestBulkRoute(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.srv.maxBulk = 4096
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		want        BulkResult
		errRows     []int
	}{
		{name: "csv", contentType: "text/csv", body: "id,email\na,a@example.com\nb,b@example.com\n", status: 200,
			want: BulkResult{Created: 2}},
		{name: "ndjson, one unchanged, one updated, errors", contentType: "application/x-ndjson",
			body: "{\"id\":\"a\",\"email\":\"a@example.com\"}\n{\"id\":\"b\",\"email\":\"new@example.com\"}\n{nope\n{\"email\":\"x\"}\n", status: 200,
			want: BulkResult{Updated: 1, Unchanged: 1, Failed: 2}, errRows: []int{3, 4}},
		{name: "json array with the same record twice", contentType: "application/json",
			body: `[{"id":"c","v":"1"},{"id":"c","v":"2"},{"id":"d","v":{"x":1}}]`, status: 200,
			want: BulkResult{Created: 1, Updated: 1, Failed: 1}, errRows: []int{3}},
		{name: "no content type is sniffed", body: "externalId,x\ne,1\n", status: 200, want: BulkResult{Created: 1}},
		{name: "csv without key column", contentType: "text/csv", body: "email\nx\n", status: 400},
		{name: "unsupported type", contentType: "text/plain", body: "x", status: 415},
		{name: "too large", contentType: "text/csv", body: "id,x\n" + strings.Repeat("a,b\n", 2000), status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do("POST", Prefix+"/users:bulk", tc.contentType, strings.NewReader(tc.body))
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status != 200 {
				return
			}
			got := decode[BulkResult](t, rec)
			var rows []int
			for _, e := range got.Errors {
				rows = append(rows, e.Row)
			}
			if got.Created != tc.want.Created || got.Updated != tc.want.Updated || got.Unchanged != tc.want.Unchanged ||
				got.Failed != tc.want.Failed || len(rows) != len(tc.errRows) {
				t.Errorf("result %+v rows %v, want %+v rows %v", got, rows, tc.want, tc.errRows)
			}
			for i := range tc.errRows {
				if rows[i] != tc.errRows[i] {
					t.Errorf("error rows %v, want %v", rows, tc.errRows)
				}
			}
		})
	}
	// The exact answer shape.
	rec := h.do("POST", Prefix+"/users:bulk", "text/csv", strings.NewReader("id,x\nz,1\n"))
	if got := strings.TrimSpace(rec.Body.String()); got != `{"created":1,"updated":0,"unchanged":0,"failed":0,"errors":[]}` {
		t.Errorf("body %s", got)
	}
	// Chunked body over the limit: the rows before are stored, 413.
	req := httptest.NewRequest("POST", Prefix+"/users:bulk", strings.NewReader("id,x\n"+strings.Repeat("k,1\n", 1200)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/csv")
	rec = httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked over the limit: %d %s", rec.Code, rec.Body)
	}
}

func TestGroupRoutes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	put := func(id string, body any) *httptest.ResponseRecorder {
		return h.doJSON("PUT", Prefix+"/groups/"+id, body)
	}
	if rec := put("eng", map[string]any{"displayName": "Eng", "members": []string{"b", "a"}}); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := put("eng", map[string]any{"displayName": "Eng", "members": []string{"a", "b", "a"}}); rec.Code != 200 || rec.Header().Get("X-Outcome") != Unchanged {
		t.Errorf("same members again: %d %s", rec.Code, rec.Header().Get("X-Outcome"))
	}
	g := decode[map[string]any](t, h.do("GET", Prefix+"/groups/eng", "", nil))
	if g["displayName"] != "Eng" || len(g["members"].([]any)) != 2 {
		t.Errorf("group %v", g)
	}
	if rec := put("eng", map[string]any{"members": []string{"a"}}); rec.Code != 400 {
		t.Errorf("no displayName: %d", rec.Code)
	}
	many := make([]string, MaxGroupMembers+1)
	for i := range many {
		many[i] = userID(i)
	}
	if rec := put("big", map[string]any{"displayName": "Big", "members": many}); rec.Code != 413 {
		t.Errorf("too many members: %d %s", rec.Code, rec.Body)
	}
	list := decode[map[string][]map[string]any](t, h.do("GET", Prefix+"/groups", "", nil))
	if len(list["groups"]) != 1 {
		t.Errorf("list %v", list)
	}
	if rec := h.do("DELETE", Prefix+"/groups/eng", "", nil); rec.Code != 204 {
		t.Errorf("delete: %d", rec.Code)
	}
	if rec := h.do("GET", Prefix+"/groups/eng", "", nil); rec.Code != 404 {
		t.Errorf("get deleted: %d", rec.Code)
	}
}

func TestItemsRoutes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	body := readFixture(t, "sampleUsers.csv")
	h.do("POST", Prefix+"/users:bulk", "text/csv", bytes.NewReader(body))
	items := decode[[]map[string]any](t, h.do("GET", "/items", "", nil))
	if len(items) != 10 {
		t.Fatalf("%d items", len(items))
	}
	emma := decode[map[string]any](t, h.do("GET", "/items/emma.johansen@example.com", "", nil))
	if emma["id"] != "emma.johansen@example.com" || emma["active"] != false || emma["postcode"] != "5843" || emma["externalId"] != nil {
		t.Errorf("item %v", emma)
	}
	if rec := h.doJSON("PUT", "/items", map[string]any{"first_name": "No id"}); rec.Code != 400 {
		t.Errorf("PUT /items without id: %d", rec.Code)
	}
	rec := h.do("GET", "/items?limit=4", "", nil)
	if page := decode[[]map[string]any](t, rec); len(page) != 4 || rec.Header().Get("X-Next-Cursor") == "" {
		t.Errorf("limited: %d items, cursor %q", len(page), rec.Header().Get("X-Next-Cursor"))
	}
	if rec := h.do("DELETE", "/items/emma.johansen@example.com", "", nil); rec.Code != 200 {
		t.Errorf("delete: %d", rec.Code)
	}
	if rec := h.do("GET", "/items/emma.johansen@example.com", "", nil); rec.Code != 404 {
		t.Errorf("get deleted: %d", rec.Code)
	}
	if rec := h.do("POST", "/items", "", nil); rec.Code != 405 {
		t.Errorf("POST /items: %d", rec.Code)
	}
}

// TestWritesRecordXaaSActor: a record pushed through the API records the
// request's token and request id with via "xaas", so its directory event
// and audit entry say who pushed it.
func TestWritesRecordXaaSActor(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct{ path, sk string }{
		{"/users/ana", "SRC#U#ana"},
		{"/groups/eng", "SRC#G#eng"},
	} {
		body := map[string]any{"email": "ana@example.com"}
		if strings.HasPrefix(tc.path, "/groups/") {
			body = map[string]any{"displayName": "Eng", "members": []string{"ana"}}
		}
		rec := h.doJSON("PUT", Prefix+tc.path, body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", tc.path, rec.Code, rec.Body)
		}
		out, err := h.env.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(h.st.TableName()),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#" + testTenant}, "sk": &types.AttributeValueMemberS{Value: tc.sk}}})
		if err != nil {
			t.Fatal(err)
		}
		str := func(name string) string {
			v, _ := out.Item[name].(*types.AttributeValueMemberS)
			if v == nil {
				return ""
			}
			return v.Value
		}
		if str(table.ActorVia) != store.ViaXaaS || str(table.ActorToken) == "" || str(table.ActorRequest) != rec.Header().Get("X-Request-Id") {
			t.Errorf("%s records actor via=%q token=%q request=%q (response request id %q)", tc.sk, str(table.ActorVia), str(table.ActorToken),
				str(table.ActorRequest), rec.Header().Get("X-Request-Id"))
		}
	}
}
