// Package lambdatest runs a Lambda function's main in a child process
// against a fake Lambda Runtime API, for tests.
//
// The child process is the test binary itself. The function's test file
// makes it run main instead of the tests when an environment variable of its
// choosing is "1":
//
//	const runMainEnv = "MYFUNC_TEST_RUN_MAIN"
//
//	func TestMain(m *testing.M) {
//		if os.Getenv(runMainEnv) == "1" {
//			main()
//			return
//		}
//		os.Exit(m.Run())
//	}
//
// A test then starts a [Runtime], starts the function with [StartFunction]
// pointing AWS_LAMBDA_RUNTIME_API at it, and hands it events with
// [Runtime.Invoke], one at a time, as a warm Lambda would.
package lambdatest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds each wait: for the function to ask for an invocation, to
// answer one, and to exit in [Function.Wait].
const Timeout = 15 * time.Second

// DefaultFunctionARN is the invoked-function ARN a new [Runtime] hands out.
const DefaultFunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:lambdatest"

// Runtime is the part of the Lambda Runtime API the aws-lambda-go runtime
// loop uses: it hands out invocations on .../invocation/next and collects
// what the function posts back.
type Runtime struct {
	// Addr is the host:port to set AWS_LAMBDA_RUNTIME_API to.
	Addr string
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn; change it
	// before Invoke to hand out another one.
	FunctionARN string

	invocations chan invocation
	results     chan Result
}

type invocation struct {
	id      string
	arn     string
	payload []byte
}

// Result is what the function posted back for an invocation.
type Result struct {
	// ID is the request id of the invocation.
	ID string
	// Body is the posted body: the handler's JSON answer, or the error
	// document when Failed.
	Body []byte
	// Failed is whether the function posted to .../error (a handler or init
	// error) rather than .../response.
	Failed bool
}

// StartRuntime starts a fake Runtime API on a loopback port; it is closed
// when the test ends.
func StartRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt := &Runtime{
		FunctionARN: DefaultFunctionARN,
		invocations: make(chan invocation),
		results:     make(chan Result, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-rt.invocations:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	post := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			rt.results <- Result{ID: r.PathValue("id"), Body: b, Failed: failed}
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
	rt.Addr = ln.Addr().String()
	return rt
}

// Invoke hands payload to fn as invocation id and waits for its answer. It
// fails the test if fn exits first, or does not ask or answer within
// [Timeout].
func (rt *Runtime) Invoke(t testing.TB, fn *Function, id string, payload []byte) Result {
	t.Helper()
	select {
	case rt.invocations <- invocation{id: id, arn: rt.FunctionARN, payload: payload}:
	case <-fn.exited:
		t.Fatalf("the function exited before asking for an invocation: %v\nstderr: %s", fn.err, fn.Stderr())
	case <-time.After(Timeout):
		t.Fatalf("the function never asked for an invocation\nstderr: %s", fn.Stderr())
	}
	select {
	case res := <-rt.results:
		if res.ID != id {
			t.Fatalf("answer for invocation %q, want %q", res.ID, id)
		}
		return res
	case <-fn.exited:
		t.Fatalf("the function exited during an invocation: %v\nstderr: %s", fn.err, fn.Stderr())
	case <-time.After(Timeout):
		t.Fatalf("no answer within %v", Timeout)
	}
	return Result{}
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

// Function is a function's main running in a child process.
type Function struct {
	stdout, stderr *lockedBuffer
	exited         chan struct{} // closed once it exited and its output is copied
	cmd            *exec.Cmd
	err            error // from Wait, once exited is closed
}

// StartFunction starts the test binary as a child process that runs the
// function's main: runMainEnv is the variable the test's TestMain checks,
// and it is set to "1". The process gets a Lambda-like environment: the
// inherited one without any AWS_*, _LAMBDA_* or SCIMLESS_* settings, plus
// AWS_REGION=eu-west-1 and what keeps the AWS SDK offline (no shared config
// or credentials files, no EC2 instance metadata), then env ("NAME=value"
// entries; a later entry for a name wins). The process is killed when the
// test ends.
func StartFunction(t testing.TB, runMainEnv string, env ...string) *Function {
	t.Helper()
	f := &Function{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	f.cmd = exec.Command(os.Args[0], "-test.run=^$")
	f.cmd.Env = functionEnv(runMainEnv, env)
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.err = f.cmd.Wait(); close(f.exited) }()
	t.Cleanup(f.Stop)
	return f
}

func functionEnv(runMainEnv string, extra []string) []string {
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
	)
	return append(env, extra...)
}

// Stop kills the process, if it still runs, and waits until all its output
// has been copied. It may be called more than once.
func (f *Function) Stop() {
	_ = f.cmd.Process.Kill()
	<-f.exited
}

// Wait waits up to [Timeout] for the process to exit by itself and returns
// how it exited (an *exec.ExitError for a non-zero status).
func (f *Function) Wait() error {
	select {
	case <-f.exited:
		return f.err
	case <-time.After(Timeout):
		return errors.New("still running after " + Timeout.String())
	}
}

// Stdout returns what the process wrote to its standard output so far; after
// Stop or Wait, all of it.
func (f *Function) Stdout() string { return f.stdout.String() }

// Stderr returns what the process wrote to its standard error so far; after
// Stop or Wait, all of it.
func (f *Function) Stderr() string { return f.stderr.String() }
