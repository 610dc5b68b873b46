package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
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

// fakeRuntime is the part of the Lambda Runtime API the aws-lambda-go
// runtime loop uses: it hands out invocations on .../invocation/next and
// collects what the function posts back.
type fakeRuntime struct {
	addr        string
	invocations chan invocation
	results     chan result
}

type invocation struct {
	id      string
	payload []byte
}

type result struct {
	id     string
	body   []byte
	failed bool // posted to .../error rather than .../response
}

func startFakeRuntime(t *testing.T) *fakeRuntime {
	t.Helper()
	rt := &fakeRuntime{invocations: make(chan invocation), results: make(chan result, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-rt.invocations:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:scimless-scim")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	post := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			rt.results <- result{id: r.PathValue("id"), body: b, failed: failed}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", post(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", post(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", post(true))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rt.addr = ln.Addr().String()
	return rt
}

// invoke hands payload to the function and waits for its answer.
func (rt *fakeRuntime) invoke(t *testing.T, id string, payload []byte, exited <-chan struct{}) result {
	t.Helper()
	select {
	case rt.invocations <- invocation{id: id, payload: payload}:
	case <-exited:
		t.Fatal("the function exited before asking for an invocation")
	case <-time.After(15 * time.Second):
		t.Fatal("the function never asked for an invocation")
	}
	select {
	case res := <-rt.results:
		if res.id != id {
			t.Fatalf("answer for invocation %q, want %q", res.id, id)
		}
		return res
	case <-exited:
		t.Fatal("the function exited during an invocation")
	case <-time.After(15 * time.Second):
		t.Fatal("no answer within 15 s")
	}
	return result{}
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// functionEnv is a Lambda-like environment: the inherited one without any
// AWS or scimless settings, plus what the CDK stack and Lambda set.
func functionEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SCIMLESS_") && !strings.HasPrefix(kv, "_LAMBDA_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		runMainEnv+"=1",
		"AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"SCIMLESS_TABLE="+testTable,
	)
	return append(env, extra...)
}

// function is the function's main running in a child process.
type function struct {
	stdout, stderr *lockedBuffer
	exited         chan struct{} // closed once it exited and its output is copied
	cmd            *exec.Cmd
	err            error // from Wait, once exited is closed
}

func startFunction(t *testing.T, env []string) *function {
	t.Helper()
	f := &function{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	f.cmd = exec.Command(os.Args[0], "-test.run=^$")
	f.cmd.Env = env
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.err = f.cmd.Wait(); close(f.exited) }()
	t.Cleanup(f.stop)
	return f
}

// stop kills the process and waits until all its output has been copied.
func (f *function) stop() {
	_ = f.cmd.Process.Kill()
	<-f.exited
}

// wait waits for the process to exit by itself.
func (f *function) wait() error {
	select {
	case <-f.exited:
		return f.err
	case <-time.After(15 * time.Second):
		return errors.New("still running after 15 s")
	}
}

func TestFunctionServesEvents(t *testing.T) {
	ctx := context.Background()
	eng, err := localdb.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, client, testTable); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Issue(ctx, store.New(client, testTable), auth.IssueOptions{Tenant: "default", Secret: testToken}); err != nil {
		t.Fatal(err)
	}

	rt := startFakeRuntime(t)
	fn := startFunction(t, functionEnv(
		"AWS_LAMBDA_RUNTIME_API="+rt.addr,
		"SCIMLESS_DYNAMODB_ENDPOINT="+eng.Endpoint(),
	))

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
		res := rt.invoke(t, id, payload, fn.exited)
		if res.failed {
			t.Fatalf("%s: function error %s\nstderr: %s", tc.event, res.body, fn.stderr.String())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.body, &resp); err != nil {
			t.Fatalf("%s: response %s: %v", tc.event, res.body, err)
		}
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
			t.Errorf("%s: %d %s, want %d with %s", tc.event, resp.StatusCode, resp.Body, tc.status, tc.body)
		}
	}

	// One JSON log line per request on stdout (Lambda ships it to CloudWatch),
	// never the token. Stopping the process first makes sure all of its
	// output has been copied.
	fn.stop()
	stdout, stderr := fn.stdout, fn.stderr
	lines := 0
	for line := range strings.SplitSeq(strings.TrimSpace(stdout.String()), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.RequestID != "" {
			lines++
		}
	}
	if lines != len(tests) {
		t.Errorf("%d request log lines for %d invocations:\n%s", lines, len(tests), stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), testToken) {
		t.Errorf("the bearer token reached the logs")
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
			fn := startFunction(t, functionEnv(tc.env...))
			err := fn.wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr: %s", err, fn.stderr.String())
			}
			if !strings.Contains(fn.stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not mention %q", fn.stderr.String(), tc.stderr)
			}
		})
	}
}
