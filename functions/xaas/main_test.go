package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/xaas"
)

// runMainEnv makes the test binary run the function's main instead of the
// tests, so the tests drive the real main (config, store, AWS config, server,
// engine and the aws-lambda-go runtime loop) as a process, the way Lambda
// runs it.
const runMainEnv = "SCIMLESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // lambda.Start never returns; errors exit the process
		return
	}
	os.Exit(m.Run())
}

const (
	testTable = "scimless-xaas-fn-test" // not the default name: proves SCIMLESS_TABLE is read
	testToken = "local-dev-token"       // the token the events in events/ carry
)

func TestFunctionServesEvents(t *testing.T) {
	ctx := context.Background()
	env := storetest.NewTable(t, testTable)
	eng := env.Engine
	if _, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatal(err)
	}

	rt := lambdatest.StartRuntime(t)
	rt.FunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:scimless-xaas"
	fn := lambdatest.StartFunction(t, runMainEnv,
		"SCIMLESS_TABLE="+testTable,
		"SCIMLESS_DYNAMODB_ENDPOINT="+eng.Endpoint(),
		"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=scimless-xaas",
	)

	// One process serves them in order, as a warm Lambda would, against a
	// table that starts empty: brad.gibson is only there once the bulk push
	// brought him. The tenant has no Okta org configured, so a sync cannot
	// be queued and the scheduled tick starts none.
	tests := []struct {
		event  string
		status int
		body   []string // substrings of the response body
	}{
		{"xaas-items-put.json", 200, []string{`"Put item yasmin.rodrigues@example.com"`}},
		{"xaas-items-list.json", 200, []string{`"id":"yasmin.rodrigues@example.com"`, `"first_name":"Yasmin"`}},
		{"xaas-put-user.json", 201, []string{`"externalId":"nathan.king@example.com"`, `"sync":"dirty"`}},
		{"xaas-get-user.json", 404, []string{`"status":404`, `"detail":"not found"`}},
		{"xaas-bulk-users-json.json", 200, []string{`{"created":2,"updated":0,"unchanged":0,"failed":0,"errors":[]}`}},
		{"xaas-get-user.json", 200, []string{`"first_name":"Brad"`, `"active":true`}},
		{"xaas-list-users.json", 200, []string{`"users":[`, `brad.gibson@example.com`, `nathan.king@example.com`}},
		{"xaas-post-sync.json", 400, []string{`"status":400`, xaas.ErrNotConfigured.Error()}},
		{"xaas-get-syncs.json", 200, []string{`"syncs":[]`}},
	}
	var requestIDs []string
	for i, tc := range tests {
		payload := readEvent(t, tc.event)
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatalf("%s: %v", tc.event, err)
		}
		requestIDs = append(requestIDs, ev.RequestContext.RequestID)
		res := rt.Invoke(t, fn, fmt.Sprintf("invocation-%d", i), payload)
		if res.Failed {
			t.Fatalf("%s: function error %s\nstderr: %s", tc.event, res.Body, fn.Stderr())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Body, &resp); err != nil {
			t.Fatalf("%s: response %s: %v", tc.event, res.Body, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.event, resp.StatusCode, resp.Body, tc.status)
		}
		for _, want := range tc.body {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("%s: body %s does not contain %s", tc.event, resp.Body, want)
			}
		}
	}

	// The scheduled event runs one engine tick, whose report is the answer.
	// The pushes gave the tenant sync state, but with no Okta org the due
	// schedule starts no run.
	res := rt.Invoke(t, fn, "invocation-schedule", readEvent(t, "xaas-schedule.json"))
	if res.Failed {
		t.Fatalf("xaas-schedule.json: function error %s\nstderr: %s", res.Body, fn.Stderr())
	}
	var rep xaas.TickReport
	dec := json.NewDecoder(strings.NewReader(string(res.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("xaas-schedule.json: answer %s is not a tick report: %v", res.Body, err)
	}
	if rep.Tenants != 1 || len(rep.Started) != 0 || rep.Stepped != 0 || rep.Active != 0 || rep.NextWake.IsZero() {
		t.Errorf("xaas-schedule.json: tick report %s", res.Body)
	}

	// One JSON log line per API request on stdout (Lambda ships it to
	// CloudWatch), none for the tick, and never the token. Stopping the
	// process first makes sure all of its output has been copied.
	fn.Stop()
	stdout, stderr := fn.Stdout(), fn.Stderr()
	var logged []string
	for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Tenant    string `json:"tenant"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" {
			if rec.Tenant != "default" {
				t.Errorf("request log line without the tenant: %s", line)
			}
			logged = append(logged, rec.RequestID)
		}
	}
	if !slices.Equal(logged, requestIDs) {
		t.Errorf("request log lines for requests %q, want %q:\n%s", logged, requestIDs, stdout)
	}
	if strings.Contains(stdout+stderr, testToken) {
		t.Errorf("the bearer token reached the logs")
	}
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFunctionStartupErrors(t *testing.T) {
	const onLambda = "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1"
	tests := []struct {
		name   string
		env    []string
		stderr string
	}{
		{"bad log level", []string{onLambda, "SCIMLESS_LOG_LEVEL=loud"}, "xaas: SCIMLESS_LOG_LEVEL"},
		{"bad interval", []string{onLambda, config.EnvXaaSInterval + "=often"}, "xaas: " + config.EnvXaaSInterval + ": invalid duration"},
		{"negative debounce", []string{onLambda, config.EnvXaaSDebounce + "=-1m"}, "xaas: " + config.EnvXaaSDebounce + ": invalid duration"},
		{"zero bulk size", []string{onLambda, config.EnvXaaSMaxBulkBytes + "=0"}, "xaas: " + config.EnvXaaSMaxBulkBytes + ": invalid size"},
		{"bad bulk size", []string{onLambda, config.EnvXaaSMaxBulkBytes + "=6MB"}, "xaas: " + config.EnvXaaSMaxBulkBytes + ": invalid size"},
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
