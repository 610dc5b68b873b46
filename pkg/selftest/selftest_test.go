package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testConfig is a run against base with fewer members than Okta's 1,000,
// so the suite stays quick; the CLI test runs the real size.
func testConfig(base string, flows ...string) Config {
	return Config{BaseURL: base, Token: testToken, Flows: flows, GroupMembers: 120, Timeout: 5 * time.Minute,
		EventWait: 3 * time.Second, SyncWait: 30 * time.Second}
}

func stepOf(rep *Report, flow, name string) *Step {
	for i := range rep.Steps {
		if rep.Steps[i].Flow == flow && strings.Contains(rep.Steps[i].Name, name) {
			return &rep.Steps[i]
		}
	}
	return nil
}

func flowOf(rep *Report, name string) *FlowResult {
	for i := range rep.Flows {
		if rep.Flows[i].Name == name {
			return &rep.Flows[i]
		}
	}
	return nil
}

func countLeft(t *testing.T, s *stack) (users, groups int) {
	t.Helper()
	ctx := context.Background()
	u, err := s.env.Store.CountUsers(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.env.Store.CountGroups(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	return u, g
}

func TestRunAgainstTheSCIMHandler(t *testing.T) {
	s := newStack(t, true, nil)
	rep, err := Run(context.Background(), testConfig(s.base))
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("selftest failed against the real handler:\n%s", text.String())
	}
	for _, f := range []string{FlowOkta, FlowEntra, FlowGroups, FlowImport, FlowLimits, "cleanup"} {
		if got := flowOf(rep, f); got == nil || got.Status != Pass || got.Failed != 0 {
			t.Errorf("flow %s: %+v, want pass", f, got)
		}
	}
	// The handler alone serves no Events or XaaS API: both are skips
	// that say why.
	if st := stepOf(rep, FlowEvents, "Events API"); st == nil || st.Status != Skip || !strings.Contains(st.Reason, "not supported") {
		t.Errorf("events: %+v, want a skip saying not supported", st)
	}
	if st := stepOf(rep, FlowXaaS, "XaaS API"); st == nil || st.Status != Skip || !strings.Contains(st.Reason, "not deployed") {
		t.Errorf("xaas: %+v, want a skip saying not deployed", st)
	}
	// The limit flow met the tenant's rate limit and waited it out.
	if st := stepOf(rep, FlowLimits, "429"); st == nil || st.Status != Pass {
		t.Errorf("429 step: %+v, want pass", st)
	}
	for _, out := range []string{text.String(), js.String()} {
		if strings.Contains(out, testToken) {
			t.Errorf("the report shows the token")
		}
	}
	if u, g := countLeft(t, s); u != 0 || g != 0 {
		t.Errorf("%d users and %d groups left after the run, want none", u, g)
	}
	var decoded Report
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || len(decoded.Steps) != len(rep.Steps) || !decoded.Passed {
		t.Errorf("-json output does not round-trip: %v", err)
	}
	t.Logf("steps per flow and time against the SCIM handler:\n%s", text.String())
}

// isList matches the list requests of a resource type.
func isList(path string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return r.Method == "GET" && strings.HasSuffix(r.URL.Path, path) }
}

func isMethod(method, part string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.Contains(r.URL.Path, part) }
}

// once matches the first request match matches (later ones, e.g. the
// cleanup's, are served normally).
func once(match func(*http.Request) bool) func(*http.Request) bool {
	var done atomic.Bool
	return func(r *http.Request) bool { return match(r) && done.CompareAndSwap(false, true) }
}

// editJSON decodes a JSON object body, lets edit change it and encodes it.
func editJSON(body []byte, edit func(m map[string]any)) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	edit(m)
	b, _ := json.Marshal(m)
	return b
}

func TestBrokenServers(t *testing.T) {
	tests := []struct {
		name       string
		flows      []string
		wrap       func(http.Handler) http.Handler
		flow, step string
		reason     string // a regular expression the failure's reason matches
	}{
		{
			name: "create answers 200 instead of 201", flows: []string{FlowOkta},
			wrap: rewrite(isMethod("POST", "/Users"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				if status == 201 {
					status = 200
				}
				return status, b
			}),
			flow: FlowOkta, step: "create: POST", reason: `POST /Users: status 200, want 201`,
		},
		{
			name: "list without totalResults", flows: []string{FlowOkta},
			wrap: rewrite(isList("/Users"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return status, editJSON(b, func(m map[string]any) { delete(m, "totalResults") })
			}),
			flow: FlowOkta, step: "test connector", reason: `not a valid ListResponse: totalResults is missing`,
		},
		{
			name: "totalResults as a string", flows: []string{FlowOkta},
			wrap: rewrite(isList("/Users"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return status, editJSON(b, func(m map[string]any) { m["totalResults"] = fmt.Sprint(m["totalResults"]) })
			}),
			flow: FlowOkta, step: "test connector", reason: `totalResults: ".*" is a string, not a number`,
		},
		{
			name: "unstable paging order", flows: []string{FlowImport},
			wrap: rewriteRequest(isList("/Users"), func(r *http.Request, b []byte) []byte {
				q := r.URL.Query()
				if q.Get("startIndex") == "101" {
					q.Set("startIndex", "100") // repeats the last user of page 1
					r.URL.RawQuery = q.Encode()
				}
				return b
			}),
			flow: FlowImport, step: "page /Users", reason: `startIndex 100 echoed, want 101|repeated across pages`,
		},
		{
			name: "412 to a PATCH without If-Match", flows: []string{FlowOkta},
			wrap: rewrite(func(r *http.Request) bool { return r.Method == "PATCH" && r.Header.Get("If-Match") == "" }, func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return 412, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"412","detail":"version mismatch"}`)
			}),
			flow: FlowOkta, step: "pathless PATCH", reason: `PATCH /Users/\S+: status 412, want 200 or 204: version mismatch`,
		},
		{
			name: "PATCH answered but ignored", flows: []string{FlowOkta},
			wrap: rewriteRequest(isMethod("PATCH", "/Users/"), func(r *http.Request, b []byte) []byte {
				r.Method = "GET"
				return nil
			}),
			flow: FlowOkta, step: "pathless PATCH", reason: `PATCH ignored`,
		},
		{
			name: "401 without a SCIM body", flows: []string{FlowOkta},
			wrap: rewrite(func(r *http.Request) bool { return strings.Contains(r.Header.Get("Authorization"), "sst-not-a-token") }, func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return status, []byte(`{"message":"Unauthorized"}`)
			}),
			flow: FlowOkta, step: "bad token", reason: `401 body is not a SCIM error`,
		},
		{
			name: "429 without Retry-After", flows: []string{FlowLimits},
			wrap: rewrite(func(r *http.Request) bool { return true }, func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				h.Del("Retry-After")
				return status, b
			}),
			flow: FlowLimits, step: "429", reason: `429 without a usable Retry-After`,
		},
		{
			name: "a group PATCH keeps only 100 members", flows: []string{FlowGroups},
			wrap: rewriteRequest(isMethod("PATCH", "/Groups/"), func(r *http.Request, b []byte) []byte {
				return editJSON(b, func(m map[string]any) {
					for _, o := range m["Operations"].([]any) {
						if v, ok := o.(map[string]any)["value"].([]any); ok && len(v) > 100 {
							o.(map[string]any)["value"] = v[:100]
						}
					}
				})
			}),
			flow: FlowGroups, step: "add 120 members", reason: `120 members: 20 missing|100 members, want 120: 20 missing`,
		},
		{
			name: "remove by value removes every member", flows: []string{FlowGroups},
			wrap: rewriteRequest(isMethod("PATCH", "/Groups/"), func(r *http.Request, b []byte) []byte {
				return editJSON(b, func(m map[string]any) {
					for _, o := range m["Operations"].([]any) {
						op := o.(map[string]any)
						if op["op"] == "Remove" && op["path"] == "members" {
							delete(op, "value")
						}
					}
				})
			}),
			flow: FlowGroups, step: "Remove members by value", reason: `0 members, want 119: 119 missing`,
		},
		{
			name: "userName filter is case-sensitive", flows: []string{FlowOkta},
			wrap: rewrite(isList("/Users"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				f := r.URL.Query().Get("filter")
				if strings.Contains(f, "SST-") {
					return 200, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`)
				}
				return status, b
			}),
			flow: FlowOkta, step: "other case", reason: `case-insensitively`,
		},
		{
			name: "dotted keys stored literally", flows: []string{FlowEntra},
			wrap: rewriteRequest(isMethod("PATCH", "/Users/"), func(r *http.Request, b []byte) []byte {
				return editJSON(b, func(m map[string]any) {
					for _, o := range m["Operations"].([]any) {
						if v, ok := o.(map[string]any)["value"].(map[string]any); ok {
							delete(v, "name.givenName")
						}
					}
				})
			}),
			flow: FlowEntra, step: "dotted and URN keys", reason: `givenName "Selftest"`,
		},
		{
			name: "hard delete answers 200 and keeps the user", flows: []string{FlowEntra},
			wrap: rewriteRequest(once(isMethod("DELETE", "/Users/")), func(r *http.Request, b []byte) []byte {
				r.Method = "GET"
				return nil
			}),
			flow: FlowEntra, step: "hard delete", reason: `DELETE /Users/\S+: status 200, want 204`,
		},
		{
			name: "the password echoed in a PATCH answer", flows: []string{FlowOkta},
			wrap: rewrite(isMethod("PATCH", "/Users/"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return status, editJSON(b, func(m map[string]any) { m["password"] = "Sst-echoed" })
			}),
			flow: FlowOkta, step: "password sync", reason: `the response contains the password`,
		},
		{
			name: "ServiceProviderConfig without etag", flows: []string{FlowOkta},
			wrap: rewrite(isMethod("GET", "/ServiceProviderConfig"), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return status, editJSON(b, func(m map[string]any) { delete(m, "etag") })
			}),
			flow: "discovery", step: "ServiceProviderConfig", reason: `missing or not a boolean: etag.supported`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, tc.flow == FlowLimits, tc.wrap)
			rep, err := Run(context.Background(), testConfig(s.base, tc.flows...))
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if rep.Passed {
				t.Fatalf("passed against a broken server:\n%s", text.String())
			}
			st := stepOf(rep, tc.flow, tc.step)
			if st == nil || st.Status != Fail {
				t.Fatalf("step %s/%q: %+v, want a failure\n%s", tc.flow, tc.step, st, text.String())
			}
			if !regexp.MustCompile(tc.reason).MatchString(st.Reason) {
				t.Errorf("reason %q, want it to match %q", st.Reason, tc.reason)
			}
			if u, g := countLeft(t, s); u != 0 || g != 0 {
				t.Errorf("%d users and %d groups left after a failed run, want none", u, g)
			}
		})
	}
}

func TestKeep(t *testing.T) {
	s := newStack(t, false, nil)
	cfg := testConfig(s.base, FlowOkta)
	cfg.Keep = true
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || !strings.Contains(rep.Cleanup, "kept 1 users") || !strings.Contains(rep.Cleanup, rep.Prefix) {
		t.Errorf("passed %v, cleanup %q", rep.Passed, rep.Cleanup)
	}
	if u, _ := countLeft(t, s); u != 1 {
		t.Errorf("%d users left with -keep, want 1", u)
	}
}

func TestInterruptedRunCleansUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var creates atomic.Int64
	s := newStack(t, false, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/Users") && creates.Add(1) == 50 {
				cancel() // Ctrl-C while the groups flow creates its members
			}
			h.ServeHTTP(w, r)
		})
	})
	rep, err := Run(ctx, testConfig(s.base, FlowGroups))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed {
		t.Error("an interrupted run passed")
	}
	if f := flowOf(rep, "cleanup"); f == nil || f.Status != Pass {
		t.Errorf("cleanup after the interruption: %+v", f)
	}
	if u, g := countLeft(t, s); u != 0 || g != 0 {
		t.Errorf("%d users and %d groups left after Ctrl-C, want none", u, g)
	}
}

// eventLog is a minimal Events API over the SCIM handler's writes:
// GET /events/v1?after=&limit=&types= with {"data":[…],"next":"…"}.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	drop   string // an event type never logged
}

func (l *eventLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events/v1" {
			l.serve(w, r)
			return
		}
		rec := &recorded{status: 200, header: http.Header{}}
		h.ServeHTTP(rec, r)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		if rec.status >= 300 || r.Method == "GET" {
			return
		}
		kind := "user"
		if strings.Contains(r.URL.Path, "/Groups") {
			kind = "group"
		}
		id := r.PathValue("id")
		if id == "" {
			parts := strings.Split(r.URL.Path, "/")
			id = parts[len(parts)-1]
		}
		verb := map[string]string{"POST": "created", "PUT": "updated", "PATCH": "updated", "DELETE": "deleted"}[r.Method]
		if r.Method == "POST" {
			var o struct{ ID string }
			_ = json.Unmarshal(rec.body.Bytes(), &o)
			id = o.ID
		}
		typ := kind + "." + verb
		if typ == l.drop {
			return
		}
		data, _ := json.Marshal(map[string]string{"id": id})
		l.mu.Lock()
		l.events = append(l.events, Event{ID: fmt.Sprint(len(l.events) + 1), Type: typ, Tenant: "default", Time: time.Now().UTC().Format(time.RFC3339Nano), Data: data})
		l.mu.Unlock()
	})
}

func (l *eventLog) serve(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	after := 0
	if a := r.URL.Query().Get("after"); a != "" {
		fmt.Sscan(a, &after)
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		fmt.Sscan(s, &limit)
	}
	page := EventPage{Data: []Event{}, Next: fmt.Sprint(after)}
	for i := after; i < len(l.events) && len(page.Data) < limit; i++ {
		page.Data = append(page.Data, l.events[i])
		page.Next = fmt.Sprint(i + 1)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func TestEventsFlow(t *testing.T) {
	for _, tc := range []struct {
		name, drop string
		pass       bool
	}{
		{"every operation has its event", "", true},
		{"deletes of users are not logged", "user.deleted", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{drop: tc.drop}
			s := newStack(t, false, log.wrap)
			rep, err := Run(context.Background(), testConfig(s.base, FlowEvents))
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if rep.Passed != tc.pass {
				t.Fatalf("passed %v, want %v:\n%s", rep.Passed, tc.pass, text.String())
			}
			if st := stepOf(rep, FlowEvents, "event: user deleted"); st == nil || (st.Status == Pass) != tc.pass {
				t.Errorf("user deleted event step: %+v", st)
			}
			if f := flowOf(rep, FlowEvents); f.Steps < 7 {
				t.Errorf("events flow ran %d steps, want the probe, the operations and 6 events", f.Steps)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		base, token, want string
	}{
		{"", "t", "absolute http(s) URL"},
		{"ftp://x/scim/v2", "t", "absolute http(s) URL"},
		{"https://user:pw@x/scim/v2", "t", "credentials in -token"},
		{"https://x/scim/v2?a=b", "t", "no query"},
		{"https://x/scim/v2", "", "no token"},
	} {
		_, err := Run(context.Background(), Config{BaseURL: tc.base, Token: tc.token})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%q): %v, want %q", tc.base, err, tc.want)
		}
	}
}

func TestSiblingURL(t *testing.T) {
	for _, tc := range []struct{ base, explicit, want string }{
		{"https://h/scim/v2", "", "https://h/xaas/v1"},
		{"https://h/prod/scim/v2", "", "https://h/prod/xaas/v1"},
		{"https://h/custom", "", "https://h/xaas/v1"},
		{"https://h/scim/v2", "https://x/y/", "https://x/y"},
	} {
		if got := siblingURL(tc.base, tc.explicit, "/xaas/v1"); got != tc.want {
			t.Errorf("siblingURL(%q, %q) = %q, want %q", tc.base, tc.explicit, got, tc.want)
		}
	}
}

func TestUnreachableServer(t *testing.T) {
	rep, err := Run(context.Background(), Config{BaseURL: "http://127.0.0.1:1/scim/v2", Token: testToken, Flows: []string{FlowOkta},
		HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	st := stepOf(rep, FlowOkta, "test connector")
	if rep.Passed || st == nil || st.Status != Fail || !strings.Contains(st.Reason, "connection refused") {
		t.Errorf("unreachable server: passed %v, step %+v", rep.Passed, st)
	}
	if _, err := url.Parse(rep.BaseURL); err != nil {
		t.Error(err)
	}
}
