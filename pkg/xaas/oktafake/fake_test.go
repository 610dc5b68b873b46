package oktafake

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	token  = "test-api-token"
	src    = DefaultIdentitySource
	base   = "/api/v1/identity-sources/" + src + "/sessions"
	client = "0oaFAKECLIENT"
)

var start = time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)

var key = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type harness struct {
	t     *testing.T
	clock *Clock
	fake  *Server
	srv   *httptest.Server
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: NewClock(start)}
	opts.Now = h.clock.Now
	if opts.APITokens == nil {
		opts.APITokens = []string{token}
	}
	opts.OAuthClients = append(opts.OAuthClients, OAuthClient{ClientID: client, PublicKey: &key().PublicKey, KeyID: "k1"})
	h.fake = New(opts)
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	return h
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) code() string {
	var e struct {
		ErrorCode string `json:"errorCode"`
		Error     string `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.ErrorCode + e.Error
}

func (r resp) session() wireSession {
	var s wireSession
	_ = json.Unmarshal(r.body, &s)
	return s
}

func (h *harness) doAuth(method, path, auth string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, data}
}

func (h *harness) do(method, path string, body any) resp {
	h.t.Helper()
	return h.doAuth(method, path, "SSWS "+token, body)
}

func (h *harness) create() string {
	h.t.Helper()
	r := h.do("POST", base, nil)
	if r.status != 200 {
		h.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.session().ID
}

func userBody(ids ...string) map[string]any {
	var profiles []map[string]any
	for _, id := range ids {
		profiles = append(profiles, map[string]any{"externalId": id, "profile": map[string]any{
			"userName": id + "@example.com", "email": id + "@example.com", "firstName": "F", "title": "T",
		}})
	}
	return map[string]any{"entityType": "USERS", "profiles": profiles}
}

func deleteBody(ids ...string) map[string]any {
	var profiles []map[string]any
	for _, id := range ids {
		profiles = append(profiles, map[string]any{"externalId": id})
	}
	return map[string]any{"entityType": "USERS", "profiles": profiles}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestErrorsAndHeaders(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		code                     string
	}{
		{"no token", "GET", base, "", 401, "E0000011"},
		{"wrong token", "GET", base, "SSWS nope", 401, "E0000011"},
		{"unknown bearer", "GET", base, "Bearer nope", 401, "E0000011"},
		{"unknown source", "GET", "/api/v1/identity-sources/0oaNOPE/sessions", "SSWS " + token, 404, "E0000007"},
		{"unknown session", "GET", base + "/uisNOPE", "SSWS " + token, 404, "E0000007"},
		{"unknown path", "GET", "/api/v1/users", "SSWS " + token, 404, "E0000007"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.doAuth(tc.method, tc.path, tc.auth, nil)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			var e map[string]any
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"errorCode", "errorSummary", "errorLink", "errorId"} {
				if s, _ := e[f].(string); s == "" {
					t.Errorf("%s missing in %s", f, r.body)
				}
			}
			if c, ok := e["errorCauses"].([]any); !ok || c == nil {
				t.Errorf("errorCauses is not an array in %s", r.body)
			}
			if d, err := http.ParseTime(r.header.Get("Date")); err != nil || !d.Equal(start) {
				t.Errorf("Date %q", r.header.Get("Date"))
			}
			for _, hd := range []string{"X-Okta-Request-Id", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
				if r.header.Get(hd) == "" {
					t.Errorf("no %s", hd)
				}
			}
		})
	}
	// Unknown session as older docs describe it.
	h2 := newHarness(t, Options{UnknownSessionStatus: 400})
	if r := h2.do("GET", base+"/uisNOPE", nil); r.status != 400 || r.code() != "E0000001" {
		t.Errorf("unknown session with UnknownSessionStatus 400: %d %s", r.status, r.body)
	}
}

func TestCreateAndList(t *testing.T) {
	h := newHarness(t, Options{})
	if r := h.do("GET", base, nil); r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	r := h.do("POST", base, nil)
	s := r.session()
	if r.status != 200 || s.ID == "" || s.IdentitySourceID != src || s.Status != StatusCreated ||
		s.ImportType != "INCREMENTAL" || s.Created != "2026-03-02T09:00:10.000Z" || s.LastUpdated != s.Created {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := h.do("POST", base, nil); r.status != 400 || r.code() != "E0000001" {
		t.Fatalf("second create: %d %s", r.status, r.body)
	}
	var list []wireSession
	r = h.do("GET", base, nil)
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Fatalf("list: %s", r.body)
	}
	if r := h.do("GET", base+"/"+s.ID, nil); r.status != 200 || r.session() != s {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
}

func TestBulkValidation(t *testing.T) {
	tooMany := userBody(ids("u", 201)...)
	profileNumber := userBody("a")
	profileNumber["profiles"].([]map[string]any)[0]["profile"].(map[string]any)["age"] = 5
	unknownField := userBody("a")
	unknownField["profiles"].([]map[string]any)[0]["email"] = "flat@example.com"
	badEmail := userBody("a")
	badEmail["profiles"].([]map[string]any)[0]["profile"].(map[string]any)["email"] = "nope"
	longID := userBody(strings.Repeat("x", 513))
	for _, tc := range []struct {
		name   string
		op     string
		body   any
		status int
		code   string
	}{
		{"empty body", "bulk-upsert", nil, 400, "E0000003"},
		{"not JSON", "bulk-upsert", "{nope", 400, "E0000003"},
		{"no entityType", "bulk-upsert", map[string]any{"profiles": userBody("a")["profiles"]}, 400, "E0000003"},
		{"entityType GROUPS", "bulk-delete", map[string]any{"entityType": "GROUPS", "profiles": deleteBody("a")["profiles"]}, 400, "E0000003"},
		{"profiles missing", "bulk-upsert", map[string]any{"entityType": "USERS"}, 400, "E0000001"},
		{"profiles empty", "bulk-delete", map[string]any{"entityType": "USERS", "profiles": []any{}}, 400, "E0000001"},
		{"201 profiles", "bulk-upsert", tooMany, 400, "E0000001"},
		{"201 deletes", "bulk-delete", deleteBody(ids("u", 201)...), 400, "E0000001"},
		{"non-string attribute", "bulk-upsert", profileNumber, 400, "E0000001"},
		{"flat profile (SDK v5 shape)", "bulk-upsert", unknownField, 400, "E0000001"},
		{"bad email", "bulk-upsert", badEmail, 400, "E0000001"},
		{"externalId too long", "bulk-upsert", longID, 400, "E0000001"},
		{"delete without externalId", "bulk-delete", deleteBody(""), 400, "E0000001"},
		{"group without displayName", "bulk-groups-upsert",
			map[string]any{"profiles": []any{map[string]any{"externalId": "g", "profile": map[string]any{}}}}, 400, "E0000001"},
		{"201 group deletes", "bulk-groups-delete", map[string]any{"externalIds": ids("g", 201)}, 400, "E0000001"},
		{"membership without members", "bulk-group-memberships-upsert",
			map[string]any{"memberships": []any{map[string]any{"groupExternalId": "g", "memberExternalIds": []string{}}}}, 400, "E0000001"},
		{"200 profiles", "bulk-upsert", userBody(ids("u", 200)...), 202, ""},
		{"null attribute", "bulk-upsert", map[string]any{"entityType": "USERS", "profiles": []any{
			map[string]any{"externalId": "a", "profile": map[string]any{"userName": "a", "mobilePhone": nil}}}}, 202, ""},
		{"groups", "bulk-groups-upsert",
			map[string]any{"profiles": []any{map[string]any{"externalId": "g", "profile": map[string]any{"displayName": "G", "description": nil}}}}, 202, ""},
		{"group deletes", "bulk-groups-delete", map[string]any{"externalIds": []string{"g"}}, 202, ""},
		{"memberships", "bulk-group-memberships-delete",
			map[string]any{"memberships": []any{map[string]any{"groupExternalId": "g", "memberExternalIds": []string{"a"}}}}, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			id := h.create()
			r := h.do("POST", base+"/"+id+"/"+tc.op, tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			s, _ := h.fake.Session(id)
			if tc.status == 202 {
				if len(r.body) != 0 || s.Uploads != 1 || s.Status != StatusInProgress {
					t.Errorf("accepted: body %q, session %+v", r.body, s)
				}
			} else if s.Uploads != 0 || s.Status != StatusCreated {
				t.Errorf("refused upload changed the session: %+v", s)
			}
		})
	}
}

func TestSessionLimits(t *testing.T) {
	t.Run("50 uploads", func(t *testing.T) {
		h := newHarness(t, Options{})
		id := h.create()
		for i := range 50 {
			if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody(ids(fmt.Sprint("u", i, "-"), 200)...)); r.status != 202 {
				t.Fatalf("upload %d: %d %s", i+1, r.status, r.body)
			}
		}
		if s, _ := h.fake.Session(id); s.Uploads != 50 || s.Entities != 10000 {
			t.Fatalf("session %+v", s)
		}
		r := h.do("POST", base+"/"+id+"/bulk-delete", deleteBody("x"))
		if r.status != 400 || r.code() != "E0000001" || !strings.Contains(string(r.body), "50 bulk requests") {
			t.Fatalf("51st upload: %d %s", r.status, r.body)
		}
	})
	t.Run("10,000 entities", func(t *testing.T) {
		h := newHarness(t, Options{MaxUploads: 100})
		id := h.create()
		for i := range 50 {
			if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody(ids(fmt.Sprint("u", i, "-"), 200)...)); r.status != 202 {
				t.Fatalf("upload %d: %d %s", i+1, r.status, r.body)
			}
		}
		r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody("one-more"))
		if r.status != 400 || r.code() != "E0000001" || !strings.Contains(string(r.body), "10000 entities") {
			t.Fatalf("entity 10,001: %d %s", r.status, r.body)
		}
	})
	t.Run("body size", func(t *testing.T) {
		h := newHarness(t, Options{MaxBodyBytes: 1000})
		id := h.create()
		if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody(ids("u", 20)...)); r.status != 400 || r.code() != "E0000001" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		h := newHarness(t, Options{RejectDuplicates: true})
		id := h.create()
		if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a", "b")); r.status != 202 {
			t.Fatal(r.status)
		}
		if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody("c", "a")); r.status != 400 {
			t.Fatalf("same user again: %d", r.status)
		}
		m := map[string]any{"memberships": []any{map[string]any{"groupExternalId": "g", "memberExternalIds": []string{"a"}}}}
		for range 2 { // a group's memberships may be split over uploads
			if r := h.do("POST", base+"/"+id+"/bulk-group-memberships-upsert", m); r.status != 202 {
				t.Fatalf("memberships: %d %s", r.status, r.body)
			}
		}
	})
}

func TestStateMachine(t *testing.T) {
	h := newHarness(t, Options{ListAll: true})
	id := h.create()
	step := func(method, suffix string, body any, status int, want string) {
		t.Helper()
		r := h.do(method, base+"/"+id+suffix, body)
		if r.status != status {
			t.Fatalf("%s %s: %d %s", method, suffix, r.status, r.body)
		}
		got := r.session().Status // a GET shows the state as the client sees it
		if method != "GET" {
			s, _ := h.fake.Session(id)
			got = s.Status
		}
		if got != want {
			t.Fatalf("%s %s: status %s, want %s", method, suffix, got, want)
		}
	}
	step("POST", "/start-import", nil, 400, StatusCreated)                  // no data
	step("POST", "/bulk-delete", deleteBody("unknown"), 202, StatusCreated) // only unknown IDs
	step("POST", "/start-import", nil, 400, StatusCreated)
	h.clock.Advance(time.Second)
	step("POST", "/bulk-upsert", userBody("a"), 202, StatusInProgress)
	if s, _ := h.fake.Session(id); !s.LastUpdated.Equal(start.Add(time.Second)) {
		t.Errorf("lastUpdated %v", s.LastUpdated)
	}
	step("POST", "/bulk-delete", deleteBody("a"), 202, StatusInProgress)
	h.fake.mu.Lock()
	h.fake.opts.ImportPolls = 1
	h.fake.mu.Unlock()
	step("POST", "/start-import", nil, 200, StatusTriggered)
	step("POST", "/start-import", nil, 400, StatusTriggered)
	step("POST", "/bulk-upsert", userBody("b"), 400, StatusTriggered)
	step("DELETE", "", nil, 400, StatusTriggered)
	step("GET", "", nil, 200, StatusTriggered) // poll 1
	step("GET", "", nil, 200, StatusCompleted)
	step("DELETE", "", nil, 400, StatusCompleted)
	step("POST", "/bulk-upsert", userBody("b"), 400, StatusCompleted)
	if u := h.fake.Users()["a"]; u.Active || u.Profile["title"] != "T" {
		t.Errorf("user a after upsert+deactivate: %+v", u)
	}
	// Cancel.
	h.clock.Advance(5 * time.Minute)
	id = h.create()
	step("POST", "/bulk-upsert", userBody("c"), 202, StatusInProgress)
	step("DELETE", "", nil, 204, StatusClosed)
	step("POST", "/start-import", nil, 400, StatusClosed)
	if _, ok := h.fake.Users()["c"]; ok {
		t.Error("cancelled data was imported")
	}
	var list []wireSession
	_ = json.Unmarshal(h.do("GET", base, nil).body, &list)
	if len(list) != 2 || list[0].Status != StatusCompleted || list[1].Status != StatusClosed {
		t.Errorf("ListAll: %+v", list)
	}
}

func TestLegacyStates(t *testing.T) {
	h := newHarness(t, Options{LegacyStates: true})
	id := h.create()
	if r := h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a")); r.status != 202 {
		t.Fatal(r.status)
	}
	if s, _ := h.fake.Session(id); s.Status != StatusCreated {
		t.Fatalf("legacy upload moved to %s", s.Status)
	}
	if r := h.do("POST", base+"/"+id+"/start-import", nil); r.status != 200 || r.session().Status != StatusTriggered {
		t.Fatalf("legacy trigger: %d %s", r.status, r.body)
	}
}

func TestTimeRules(t *testing.T) {
	t.Run("gap after trigger", func(t *testing.T) {
		h := newHarness(t, Options{})
		id := h.create()
		h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a"))
		h.do("POST", base+"/"+id+"/start-import", nil)
		h.clock.Advance(5*time.Minute - time.Second)
		if r := h.do("POST", base, nil); r.status != 400 || r.code() != "E0000001" {
			t.Fatalf("within 5 min: %d %s", r.status, r.body)
		}
		h.clock.Advance(time.Second)
		h.create()
	})
	t.Run("gap disabled", func(t *testing.T) {
		h := newHarness(t, Options{SessionGap: -1})
		id := h.create()
		h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a"))
		h.do("POST", base+"/"+id+"/start-import", nil)
		h.create()
	})
	t.Run("idle expiry", func(t *testing.T) {
		h := newHarness(t, Options{})
		id := h.create()
		h.clock.Advance(23 * time.Hour)
		h.do("GET", base+"/"+id, nil) // activity keeps it alive
		h.clock.Advance(23 * time.Hour)
		if s, _ := h.fake.Session(id); s.Status != StatusCreated {
			t.Fatalf("expired early: %s", s.Status)
		}
		h.clock.Advance(time.Hour + time.Second)
		if r := h.do("GET", base+"/"+id, nil); r.session().Status != StatusExpired {
			t.Fatalf("not expired: %s", r.body)
		}
		if r := h.do("GET", base, nil); string(r.body) != "[]" {
			t.Errorf("expired session still listed: %s", r.body)
		}
		h.create()
	})
	t.Run("import delay", func(t *testing.T) {
		h := newHarness(t, Options{ImportDelay: time.Minute})
		id := h.create()
		h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a"))
		h.do("POST", base+"/"+id+"/start-import", nil)
		h.clock.Advance(59 * time.Second)
		if r := h.do("GET", base+"/"+id, nil); r.session().Status != StatusTriggered || len(h.fake.Users()) != 0 {
			t.Fatalf("finished early: %s", r.body)
		}
		h.clock.Advance(time.Second)
		if r := h.do("GET", base+"/"+id, nil); r.session().Status != StatusCompleted || len(h.fake.Users()) != 1 {
			t.Fatalf("not finished: %s", r.body)
		}
	})
	t.Run("failed import", func(t *testing.T) {
		h := newHarness(t, Options{FailImports: true})
		id := h.create()
		h.do("POST", base+"/"+id+"/bulk-upsert", userBody("a"))
		h.do("POST", base+"/"+id+"/start-import", nil)
		if r := h.do("GET", base+"/"+id, nil); r.session().Status != StatusError || len(h.fake.Users()) != 0 {
			t.Fatalf("failed import: %s", r.body)
		}
	})
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Options{RateLimit: 2})
	reset := strconv.FormatInt(start.Truncate(time.Minute).Add(time.Minute).Unix(), 10)
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}, {429, "0"}} {
		r := h.do("GET", base, nil)
		if r.status != want.status || r.header.Get("X-Rate-Limit-Remaining") != want.remaining ||
			r.header.Get("X-Rate-Limit-Limit") != "2" || r.header.Get("X-Rate-Limit-Reset") != reset {
			t.Fatalf("request %d: %d %v %s", i, r.status, r.header, r.body)
		}
		if r.status == 429 && r.code() != "E0000047" {
			t.Fatalf("429 body %s", r.body)
		}
	}
	h.clock.Advance(50 * time.Second) // to the reset
	if r := h.do("GET", base, nil); r.status != 200 || r.header.Get("X-Rate-Limit-Remaining") != "1" {
		t.Fatalf("after reset: %d %v", r.status, r.header)
	}

	h2 := newHarness(t, Options{})
	h2.fake.ThrottleNext(1)
	if r := h2.do("GET", base, nil); r.status != 429 || r.header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("ThrottleNext: %d", r.status)
	}
	h2.fake.FailNext(2, 503)
	for range 2 {
		if r := h2.do("GET", base, nil); r.status != 503 {
			t.Fatalf("FailNext: %d", r.status)
		}
	}
	if r := h2.do("GET", base, nil); r.status != 200 {
		t.Fatalf("after FailNext: %d", r.status)
	}
	var statuses []int
	for _, r := range h2.fake.Requests() {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[429 503 503 200]" {
		t.Errorf("recorded statuses %v", statuses)
	}
}

func TestImportResult(t *testing.T) {
	h := newHarness(t, Options{})
	run := func(uploads map[string]any, order ...string) {
		t.Helper()
		id := h.create()
		for _, op := range order {
			if r := h.do("POST", base+"/"+id+"/"+op, uploads[op]); r.status != 202 {
				t.Fatalf("%s: %d %s", op, r.status, r.body)
			}
		}
		h.do("POST", base+"/"+id+"/start-import", nil)
		h.do("GET", base+"/"+id, nil)
		h.clock.Advance(5 * time.Minute)
	}
	members := func(g string, m ...string) map[string]any {
		return map[string]any{"memberships": []any{map[string]any{"groupExternalId": g, "memberExternalIds": m}}}
	}
	groups := map[string]any{"profiles": []any{
		map[string]any{"externalId": "g1", "profile": map[string]any{"displayName": "One", "description": "first"}},
		map[string]any{"externalId": "g2", "profile": map[string]any{"displayName": "Two"}},
	}}
	// Memberships uploaded before their groups still apply.
	run(map[string]any{
		"bulk-group-memberships-upsert": members("g1", "a", "b"),
		"bulk-upsert":                   userBody("a", "b", "c"),
		"bulk-groups-upsert":            groups,
	}, "bulk-group-memberships-upsert", "bulk-upsert", "bulk-groups-upsert")
	run(map[string]any{
		"bulk-delete":                   deleteBody("b", "ghost"),
		"bulk-group-memberships-delete": members("g1", "a"),
		"bulk-groups-delete":            map[string]any{"externalIds": []string{"g2"}},
		"bulk-group-memberships-upsert": members("nogroup", "c"),
	}, "bulk-delete", "bulk-group-memberships-delete", "bulk-groups-delete", "bulk-group-memberships-upsert")

	u := h.fake.Users()
	if len(u) != 3 || !u["a"].Active || u["b"].Active || !u["c"].Active || u["a"].Profile["email"] != "a@example.com" {
		t.Errorf("users %+v", u)
	}
	g := h.fake.Groups()
	if len(g) != 1 || g["g1"].DisplayName != "One" || g["g1"].Description != "first" || fmt.Sprint(g["g1"].Members) != "[b]" {
		t.Errorf("groups %+v", g)
	}
	if reqs := h.fake.Requests(); len(reqs) == 0 || reqs[0].Method != "POST" || reqs[0].Path != base ||
		reqs[0].Header.Get("Authorization") != "SSWS "+token || reqs[0].Time != start {
		t.Errorf("first recorded request %+v", reqs[0])
	}
}

// signJWT builds a compact RS256 JWS.
func signJWT(k *rsa.PrivateKey, header, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	if err != nil {
		panic(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

func TestTokenEndpoint(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	type mod func(h, c map[string]any, f url.Values) *rsa.PrivateKey
	for _, tc := range []struct {
		name   string
		opts   Options
		mod    mod
		status int
		code   string
	}{
		{name: "valid", status: 200},
		{name: "audience as array", status: 200, mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			c["aud"] = []string{"x", c["aud"].(string)}
			return nil
		}},
		{name: "wrong key", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey { return other }},
		{name: "wrong kid", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey { h["kid"] = "k2"; return nil }},
		{name: "alg HS256", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey { h["alg"] = "HS256"; return nil }},
		{name: "iss not sub", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey { c["sub"] = "x"; return nil }},
		{name: "unknown client", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			c["iss"], c["sub"] = "0oaX", "0oaX"
			return nil
		}},
		{name: "wrong audience", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			c["aud"] = "https://other.okta.com/oauth2/v1/token"
			return nil
		}},
		{name: "expired", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			c["exp"] = start.Unix()
			return nil
		}},
		{name: "exp over an hour", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			c["exp"] = start.Add(61 * time.Minute).Unix()
			return nil
		}},
		{name: "grant type", status: 400, code: "unsupported_grant_type", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			f.Set("grant_type", "password")
			return nil
		}},
		{name: "assertion type", status: 401, code: "invalid_client", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			f.Set("client_assertion_type", "x")
			return nil
		}},
		{name: "scope not granted", status: 400, code: "invalid_scope", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey {
			f.Set("scope", "okta.users.manage")
			return nil
		}},
		{name: "no scope", status: 400, code: "invalid_scope", mod: func(h, c map[string]any, f url.Values) *rsa.PrivateKey { f.Del("scope"); return nil }},
		{name: "DPoP required", opts: Options{RequireDPoP: true}, status: 400, code: "invalid_dpop_proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			hdr := map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}
			claims := map[string]any{"iss": client, "sub": client, "aud": h.srv.URL + "/oauth2/v1/token",
				"iat": start.Unix(), "exp": start.Add(5 * time.Minute).Unix(), "jti": "jti-1"}
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeManage},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
			k := key()
			if tc.mod != nil {
				if o := tc.mod(hdr, claims, form); o != nil {
					k = o
				}
			}
			form.Set("client_assertion", signJWT(k, hdr, claims))
			res, err := h.srv.Client().Post(h.srv.URL+"/oauth2/v1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{res.StatusCode, res.Header, body}
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.status != 200 {
				return
			}
			var tr struct {
				TokenType   string `json:"token_type"`
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
			}
			if err := json.Unmarshal(r.body, &tr); err != nil || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != ScopeManage {
				t.Fatalf("token response %s", r.body)
			}
			if r := h.doAuth("POST", base, "Bearer "+tr.AccessToken, nil); r.status != 200 {
				t.Fatalf("using the token: %d %s", r.status, r.body)
			}
			// The same assertion cannot be used twice.
			res, _ = h.srv.Client().Post(h.srv.URL+"/oauth2/v1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("replayed assertion: %d", res.StatusCode)
			}
			// The token expires.
			h.clock.Advance(time.Hour)
			if r := h.doAuth("GET", base, "Bearer "+tr.AccessToken, nil); r.status != 401 {
				t.Errorf("expired token: %d", r.status)
			}
		})
	}
}

func TestReadOnlyScope(t *testing.T) {
	h := newHarness(t, Options{})
	h.fake.mu.Lock()
	h.fake.tokens["ro"] = accessToken{scopes: []string{ScopeRead}, expires: start.Add(time.Hour)}
	h.fake.mu.Unlock()
	if r := h.doAuth("GET", base, "Bearer ro", nil); r.status != 200 {
		t.Fatalf("read: %d", r.status)
	}
	if r := h.doAuth("POST", base, "Bearer ro", nil); r.status != 403 || r.code() != "E0000006" {
		t.Fatalf("write with read scope: %d %s", r.status, r.body)
	}
}

func FuzzVerifyAssertion(f *testing.F) {
	aud := "https://example.okta.com/oauth2/v1/token"
	valid := signJWT(key(), map[string]any{"alg": "RS256", "kid": "k1"},
		map[string]any{"iss": client, "sub": client, "aud": aud, "exp": start.Add(time.Minute).Unix()})
	f.Add(valid)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat(".", 10))
	clients := []OAuthClient{{ClientID: client, PublicKey: &key().PublicKey, KeyID: "k1"}}
	f.Fuzz(func(t *testing.T, jwt string) {
		c, claims, err := VerifyAssertion(jwt, clients, aud, start)
		if err != nil {
			return
		}
		if c.ClientID != client || claims.Iss != client || claims.Sub != client {
			t.Fatalf("accepted %q for %q", jwt, claims.Iss)
		}
		// Only the one signed token verifies: the signature covers header
		// and claims, and PKCS #1 v1.5 signatures are unique per message.
		parts := strings.Split(jwt, ".")
		vp := strings.Split(valid, ".")
		if parts[0] != vp[0] || parts[1] != vp[1] {
			hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
			vb, _ := base64.RawURLEncoding.DecodeString(vp[0])
			cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
			wb, _ := base64.RawURLEncoding.DecodeString(vp[1])
			if !bytes.Equal(hb, vb) || !bytes.Equal(cb, wb) {
				t.Fatalf("accepted a token with other content: %q", jwt)
			}
		}
	})
}

func FuzzDecodeUpload(f *testing.F) {
	f.Add("bulk-upsert", []byte(`{"entityType":"USERS","profiles":[{"externalId":"a","profile":{"userName":"a","email":"a@b.c"}}]}`))
	f.Add("bulk-delete", []byte(`{"entityType":"USERS","profiles":[{"externalId":"a"}]}`))
	f.Add("bulk-groups-upsert", []byte(`{"profiles":[{"externalId":"g","profile":{"displayName":"G","description":null}}]}`))
	f.Add("bulk-groups-delete", []byte(`{"externalIds":["g"]}`))
	f.Add("bulk-group-memberships-upsert", []byte(`{"memberships":[{"groupExternalId":"g","memberExternalIds":["a"]}]}`))
	f.Add("bulk-upsert", []byte(`{"entityType":"USERS","profiles":[{"externalId":"a","profile":{"x":[1]}}]}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		up, code, causes := decodeUpload(op, body)
		if code == "" {
			if len(causes) != 0 {
				t.Fatal("accepted with causes")
			}
			for _, k := range up.keys() {
				if k == "" {
					t.Fatalf("accepted an empty externalId: %s", body)
				}
			}
			return
		}
		if code != codeBadRequest && code != codeValidation || len(causes) == 0 {
			t.Fatalf("code %q causes %v", code, causes)
		}
	})
}

func TestRecordLimit(t *testing.T) {
	h := newHarness(t, Options{RecordLimit: 2})
	for range 3 {
		h.do("GET", base, nil)
	}
	h.create()
	reqs := h.fake.Requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "POST" {
		t.Fatalf("recorded %+v", reqs)
	}
}
