package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	scimevents "github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// runMainEnv makes the test binary run the function's main instead of the
// tests, so the tests drive the real main (config, store, handler and the
// aws-lambda-go runtime loop) as a process, the way Lambda runs it.
const runMainEnv = "SCIMLESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // lambda.Start never returns; errors exit the process
		return
	}
	os.Exit(m.Run())
}

const (
	testTable = "scimless-fn-test" // not the default name: proves SCIMLESS_TABLE is read
	testToken = "local-dev-token"  // the token the events in events/ carry
)

func TestFunctionServesEvents(t *testing.T) {
	ctx := context.Background()
	env := storetest.NewTable(t, testTable)
	eng := env.Engine
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatal(err)
	}

	rt := lambdatest.StartRuntime(t)
	rt.FunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:scimless-scim"
	fn := lambdatest.StartFunction(t, runMainEnv,
		"SCIMLESS_TABLE="+testTable,
		"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"SCIMLESS_DYNAMODB_ENDPOINT="+eng.Endpoint(),
	)

	// One process serves them in order, as a warm Lambda would: the user
	// created by the POST is in the list that follows.
	tests := []struct {
		event  string
		status int
		body   string // substring of the response body
	}{
		{"healthz.json", 200, `{"status":"ok"}`},
		{"scim-service-provider-config.json", 200, `"patch":{"supported":true}`},
		{"scim-get-users.json", 200, `"totalResults":0`},
		{"scim-post-user.json", 201, `"userName":"mrossi@example.com"`},
		{"scim-filter-username.json", 200, `"totalResults":0`},
		{"scim-get-users.json", 200, `"totalResults":1`},
		{"scim-get-user-not-found.json", 404, `"status":"404"`},
		{"scim-unauthorized.json", 401, `"status":"401"`},
	}
	for i, tc := range tests {
		payload, err := os.ReadFile(filepath.Join("..", "..", "events", tc.event))
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("invocation-%d", i)
		res := rt.Invoke(t, fn, id, payload)
		if res.Failed {
			t.Fatalf("%s: function error %s\nstderr: %s", tc.event, res.Body, fn.Stderr())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Body, &resp); err != nil {
			t.Fatalf("%s: response %s: %v", tc.event, res.Body, err)
		}
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
			t.Errorf("%s: %d %s, want %d with %s", tc.event, resp.StatusCode, resp.Body, tc.status, tc.body)
		}
	}

	// One JSON log line per request on stdout (Lambda ships it to CloudWatch),
	// never the token. Stopping the process first makes sure all of its
	// output has been copied.
	fn.Stop()
	stdout, stderr := fn.Stdout(), fn.Stderr()
	lines := 0
	for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.RequestID != "" {
			lines++
		}
	}
	if lines != len(tests) {
		t.Errorf("%d request log lines for %d invocations:\n%s", lines, len(tests), stdout)
	}
	if strings.Contains(stdout+stderr, testToken) {
		t.Errorf("the bearer token reached the logs")
	}
}

// A tenant's rateLimit setting holds across instances: two function
// processes (two warm Lambda instances) count in the same table, so with 1
// request a minute, of four requests alternating between them exactly one
// is served and the others get a SCIM 429 with Retry-After.
func TestFunctionRateLimitAcrossInstances(t *testing.T) {
	ctx := context.Background()
	env := storetest.NewTable(t, testTable)
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetTenantSettings(ctx, "default", map[string]string{store.SettingRateLimit: "0.01"}); err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join("..", "..", "events", "scim-get-users.json"))
	if err != nil {
		t.Fatal(err)
	}
	type instance struct {
		rt *lambdatest.Runtime
		fn *lambdatest.Function
	}
	var instances []instance
	for range 2 {
		rt := lambdatest.StartRuntime(t)
		fn := lambdatest.StartFunction(t, runMainEnv, "SCIMLESS_TABLE="+testTable, "AWS_LAMBDA_RUNTIME_API="+rt.Addr,
			"SCIMLESS_DYNAMODB_ENDPOINT="+env.Engine.Endpoint())
		instances = append(instances, instance{rt, fn})
	}
	// 0.01/s counts 1 request per minute-long window aligned on the
	// minute: keep the four requests inside one window.
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 15*time.Second {
		time.Sleep(left)
	}
	statuses := map[int]int{}
	for i := range 4 {
		in := instances[i%2]
		res := in.rt.Invoke(t, in.fn, fmt.Sprintf("rate-%d", i), payload)
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Body, &resp); err != nil || res.Failed {
			t.Fatalf("response %s: %v", res.Body, err)
		}
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 && (resp.Headers["Retry-After"] == "" || !strings.Contains(resp.Body, `"status":"429"`)) {
			t.Errorf("429 without Retry-After or SCIM body: %v %s", resp.Headers, resp.Body)
		}
	}
	if statuses[200] != 1 || statuses[429] != 3 {
		t.Errorf("statuses %v, want one 200 and three 429s", statuses)
	}
}

func TestFunctionStartupErrors(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		stderr string
	}{
		{"bad log level", []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "SCIMLESS_LOG_LEVEL=loud"}, "scim: SCIMLESS_LOG_LEVEL"},
		{"bad token cache TTL", []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "SCIMLESS_TOKEN_CACHE_TTL=-1s"}, "scim: SCIMLESS_TOKEN_CACHE_TTL"},
		{"not on Lambda", nil, "AWS_LAMBDA_RUNTIME_API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fn := lambdatest.StartFunction(t, runMainEnv, append([]string{"SCIMLESS_TABLE=" + testTable}, tc.env...)...)
			err := fn.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr: %s", err, fn.Stderr())
			}
			if !strings.Contains(fn.Stderr(), tc.stderr) {
				t.Errorf("stderr %q does not mention %q", fn.Stderr(), tc.stderr)
			}
		})
	}
}

// TestFunctionServesEventsAPI: the same function serves GET /events/v1 to a
// token with the events scope, beside the SCIM API.
func TestFunctionServesEventsAPI(t *testing.T) {
	ctx := context.Background()
	env := storetest.NewTable(t, testTable)
	const eventsToken = "local-events-token"
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: eventsToken, Scopes: []string{auth.ScopeEvents}}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).UTC()
	id, err := scimevents.NewID(at, "100000000000000000001", 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(scimevents.Event{ID: id, Type: scimevents.UserCreated, Tenant: "default", Time: at, Data: json.RawMessage(`{"id":"u1"}`)})
	if _, err := env.Store.PutEvents(ctx, []store.StoredEvent{{ID: id, Tenant: "default", Type: scimevents.UserCreated, Time: at, JSON: body}},
		func(string) time.Duration { return store.DefaultEventTTL }); err != nil {
		t.Fatal(err)
	}

	rt := lambdatest.StartRuntime(t)
	fn := lambdatest.StartFunction(t, runMainEnv, "SCIMLESS_TABLE="+testTable, "AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"SCIMLESS_DYNAMODB_ENDPOINT="+env.Engine.Endpoint())
	base, err := os.ReadFile(filepath.Join("..", "..", "events", "scim-get-users.json"))
	if err != nil {
		t.Fatal(err)
	}
	// request turns the SCIM event into a request of path?query with token.
	request := func(method, path, query, token string) []byte {
		var ev map[string]any
		if err := json.Unmarshal(base, &ev); err != nil {
			t.Fatal(err)
		}
		ev["rawPath"], ev["rawQueryString"], ev["routeKey"] = path, query, "ANY "+path
		ev["queryStringParameters"], ev["pathParameters"] = map[string]any{}, map[string]any{}
		ev["headers"].(map[string]any)["authorization"] = "Bearer " + token
		rc := ev["requestContext"].(map[string]any)
		rc["routeKey"] = "ANY " + path
		rc["http"].(map[string]any)["method"], rc["http"].(map[string]any)["path"] = method, path
		out, _ := json.Marshal(ev)
		return out
	}
	tests := []struct {
		name                     string
		method, path, query, tok string
		status                   int
		body                     string
	}{
		{"events, events token", "GET", "/events/v1", "limit=10", eventsToken, 200, `"id":"` + id + `"`},
		{"events, type filtered out", "GET", "/events/v1", "types=user.deleted", eventsToken, 200, `"data":[]`},
		{"events, bad limit", "GET", "/events/v1", "limit=0", eventsToken, 400, "limit"},
		{"events, SCIM token", "GET", "/events/v1", "", testToken, 403, "events"},
		{"events, no token", "GET", "/events/v1", "", "nope-nope-nope", 401, ""},
		{"events, wrong method", "POST", "/events/v1", "", eventsToken, 405, ""},
		{"SCIM, events token", "GET", "/scim/v2/Users", "", eventsToken, 403, `"status":"403"`},
		{"SCIM, SCIM token", "GET", "/scim/v2/Users", "count=1", testToken, 200, `"totalResults":0`},
	}
	for i, tc := range tests {
		res := rt.Invoke(t, fn, fmt.Sprintf("events-%d", i), request(tc.method, tc.path, tc.query, tc.tok))
		if res.Failed {
			t.Fatalf("%s: function error %s\nstderr: %s", tc.name, res.Body, fn.Stderr())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Body, &resp); err != nil {
			t.Fatalf("%s: response %s: %v", tc.name, res.Body, err)
		}
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, resp.StatusCode, resp.Body, tc.status, tc.body)
		}
	}
	fn.Stop()
	if out := fn.Stdout() + fn.Stderr(); strings.Contains(out, eventsToken) || strings.Contains(out, testToken) {
		t.Errorf("a bearer token reached the logs")
	}
}
