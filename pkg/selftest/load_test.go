package selftest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func loadConfig(base string) LoadConfig {
	return LoadConfig{BaseURL: base, Token: testToken, Clients: 4, Duration: 2 * time.Second, Seed: 7}
}

func TestLoadAgainstTheSCIMHandler(t *testing.T) {
	s := newStack(t, false, nil)
	rep, err := Load(context.Background(), loadConfig(s.base))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if rep.Model.Users == 0 || rep.Requests == 0 {
		t.Fatalf("the load did not run:\n%s", text.String())
	}
	// No 5xx, no request unanswered, no 412 without If-Match, and the final
	// state is exactly the acknowledged writes.
	if rep.ServerErrors > 0 || rep.NoAnswer > 0 || rep.Unexpected > 0 || rep.Model.Lost > 0 || rep.Model.Phantom > 0 {
		t.Fatalf("load against the real handler:\n%s", text.String())
	}
	for _, c := range rep.Checks {
		if c.Failures > 0 {
			t.Fatalf("check %s failed:\n%s", c.Name, text.String())
		}
	}
	if !rep.Passed {
		t.Fatalf("the load did not pass:\n%s", text.String())
	}
	ran := 0
	for _, op := range rep.Ops {
		if op.Requests > 0 {
			ran++
		}
	}
	if ran < 5 {
		t.Errorf("only %d operations of the mix ran", ran)
	}
	if !strings.HasPrefix(rep.XaaS, "not included") {
		t.Errorf("XaaS %q: the handler alone serves no XaaS API", rep.XaaS)
	}
	if u, g := countLeft(t, s); u != 0 || g != 0 {
		t.Errorf("%d users and %d groups left after the load", u, g)
	}
	if strings.Contains(text.String(), testToken) {
		t.Error("the report shows the token")
	}
	t.Logf("\n%s", text.String())
}

// sometimes matches about one request in n of those match matches.
func sometimes(n int, match func(*http.Request) bool) func(*http.Request) bool {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	return func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		return match(r) && rng.IntN(n) == 0
	}
}

func TestLoadFindsBrokenServers(t *testing.T) {
	tests := []struct {
		name  string
		wrap  func(http.Handler) http.Handler
		check func(*LoadReport) bool
	}{
		{
			name: "user PATCHes acknowledged but not applied",
			wrap: rewriteRequest(sometimes(3, isMethod("PATCH", "/Users/")), func(r *http.Request, b []byte) []byte {
				r.Method = "GET"
				return nil
			}),
			check: func(r *LoadReport) bool { return r.Model.Lost > 0 },
		},
		{
			name: "412 to member PATCHes without If-Match, applied anyway",
			wrap: rewrite(sometimes(3, isMethod("PATCH", "/Groups/")), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return 412, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"412","detail":"version mismatch"}`)
			}),
			check: func(r *LoadReport) bool { return r.Unexpected > 0 },
		},
		{
			name: "500 to creates",
			wrap: rewrite(sometimes(2, isMethod("POST", "/Users")), func(r *http.Request, status int, h http.Header, b []byte) (int, []byte) {
				return 500, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"boom"}`)
			}),
			check: func(r *LoadReport) bool { return r.ServerErrors > 0 && r.Model.Phantom > 0 },
		},
		{
			name: "member adds acknowledged but dropped",
			wrap: rewriteRequest(isMethod("PATCH", "/Groups/"), func(r *http.Request, b []byte) []byte {
				return editJSON(b, func(m map[string]any) {
					for _, o := range m["Operations"].([]any) {
						if o.(map[string]any)["op"] == "add" {
							o.(map[string]any)["value"] = []any{}
						}
					}
				})
			}),
			check: func(r *LoadReport) bool { return r.Model.Lost > 0 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, false, tc.wrap)
			rep, err := Load(context.Background(), loadConfig(s.base))
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if rep.Passed || !tc.check(rep) {
				t.Errorf("the load did not find it:\n%s", text.String())
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}} {
		if got := percentile(l, tc.p); got != tc.want {
			t.Errorf("p%d = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 || percentile(l[:1], 99) != time.Millisecond {
		t.Error("percentile of tiny inputs")
	}
}
