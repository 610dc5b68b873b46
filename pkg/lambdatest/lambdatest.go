// Package lambdatest runs a Lambda function's main in a child process
// against a fake Lambda Runtime API: the tests of the functions, and the
// lambdainit tool that times their cold start, use it.
//
// In a test, the child process is the test binary itself. The function's
// test file makes it run main instead of the tests when an environment
// variable of its choosing is "1":
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
// A test then starts a [Runtime] with [StartRuntime], starts the function
// with [StartFunction] pointing AWS_LAMBDA_RUNTIME_API at it, and hands it
// events with [Runtime.Invoke], one at a time, as a warm Lambda would.
//
// Outside tests, [NewRuntime], [StartProcess], [Runtime.Ready] and
// [Runtime.Send] do the same with errors instead of test failures.
package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/safe"
	"github.com/scimless/scimless/pkg/syncbuf"
)

// Timeout bounds each wait: for the function to ask for an invocation, to
// answer one, and to exit in [Function.Wait].
const Timeout = 15 * time.Second

// DefaultFunctionARN is the invoked-function ARN a new [Runtime] hands out.
const DefaultFunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:lambdatest"

// Runtime is the part of the Lambda Runtime API the aws-lambda-go runtime
// loop uses: it hands out invocations on .../invocation/next and collects
// what the function posts back. It serves one function process at a time.
type Runtime struct {
	// Addr is the host:port to set AWS_LAMBDA_RUNTIME_API to.
	Addr string
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn; change it
	// before Invoke or Send to hand out another one.
	FunctionARN string

	srv         *http.Server
	asked       chan time.Time // when the function asked for an invocation
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
	// At is when the answer arrived.
	At time.Time
}

// NewRuntime starts a fake Runtime API on a loopback port. Close stops it.
func NewRuntime() (*Runtime, error) {
	rt := &Runtime{
		FunctionARN: DefaultFunctionARN,
		asked:       make(chan time.Time, 1),
		invocations: make(chan invocation),
		results:     make(chan Result, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		select {
		case rt.asked <- at:
		default: // an earlier request is not taken yet
		}
		select {
		case inv := <-rt.invocations:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done(): // the process was stopped
		}
	})
	post := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			select {
			case rt.results <- Result{ID: r.PathValue("id"), Body: b, Failed: failed, At: time.Now()}:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", post(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", post(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", post(true))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake runtime API: %w", err)
	}
	rt.srv = &http.Server{Handler: mux, ReadHeaderTimeout: Timeout}
	safe.Go(context.Background(), nil, "fake runtime API", func(context.Context) { _ = rt.srv.Serve(ln) }) // until Close
	rt.Addr = ln.Addr().String()
	return rt, nil
}

// Close stops the Runtime API.
func (rt *Runtime) Close() error { return rt.srv.Close() }

// StartRuntime starts a fake Runtime API on a loopback port; it is closed
// when the test ends.
func StartRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt, err := NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// Ready waits up to [Timeout] for fn's first request for an invocation and
// returns when it came: for a new process, when its init phase ended.
func (rt *Runtime) Ready(fn *Function) (time.Time, error) {
	for {
		select {
		case at := <-rt.asked:
			if at.Before(fn.started) {
				continue // asked by a process before this one
			}
			return at, nil
		case <-fn.exited:
			return time.Time{}, fmt.Errorf("the function exited during init: %v\n%s", fn.err, fn.output())
		case <-time.After(Timeout):
			return time.Time{}, fmt.Errorf("the function was not ready within %v\n%s", Timeout, fn.output())
		}
	}
}

// Send hands payload to fn as invocation id and waits for its answer. It
// fails if fn exits first, or does not ask or answer within [Timeout].
func (rt *Runtime) Send(fn *Function, id string, payload []byte) (Result, error) {
	select {
	case rt.invocations <- invocation{id: id, arn: rt.FunctionARN, payload: payload}:
	case <-fn.exited:
		return Result{}, fmt.Errorf("the function exited before asking for an invocation: %v\n%s", fn.err, fn.output())
	case <-time.After(Timeout):
		return Result{}, fmt.Errorf("the function never asked for an invocation\n%s", fn.output())
	}
	select {
	case res := <-rt.results:
		if res.ID != id {
			return res, fmt.Errorf("answer for invocation %q, want %q", res.ID, id)
		}
		return res, nil
	case <-fn.exited:
		return Result{}, fmt.Errorf("the function exited during an invocation: %v\n%s", fn.err, fn.output())
	case <-time.After(Timeout):
		return Result{}, fmt.Errorf("no answer within %v\n%s", Timeout, fn.output())
	}
}

// Invoke is Send failing the test on an error.
func (rt *Runtime) Invoke(t testing.TB, fn *Function, id string, payload []byte) Result {
	t.Helper()
	res, err := rt.Send(fn, id, payload)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Function is a function's main running in a child process.
type Function struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	started        time.Time     // just before the process was started
	exited         chan struct{} // closed once it exited and its output is copied
	err            error         // from Wait, once exited is closed
}

// StartProcess starts cmd, whose Stdout and Stderr must be unset: the
// returned Function collects them.
func StartProcess(cmd *exec.Cmd) (*Function, error) {
	f := &Function{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = f.stdout, f.stderr
	f.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	safe.Go(context.Background(), nil, "wait for a function process", func(context.Context) {
		defer close(f.exited)
		f.err = cmd.Wait()
	})
	return f, nil
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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = functionEnv(runMainEnv, env)
	f, err := StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
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
	_ = f.cmd.Process.Kill() // an error only says it already exited
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

// Pid returns the process id.
func (f *Function) Pid() int { return f.cmd.Process.Pid }

// Stdout returns what the process wrote to its standard output so far; after
// Stop or Wait, all of it.
func (f *Function) Stdout() string { return f.stdout.String() }

// Stderr returns what the process wrote to its standard error so far; after
// Stop or Wait, all of it.
func (f *Function) Stderr() string { return f.stderr.String() }

// output is what an error about the process shows: its standard error,
// and its standard output when there is any.
func (f *Function) output() string {
	out := "stderr: " + f.Stderr()
	if s := f.Stdout(); s != "" {
		out += "\nstdout: " + s
	}
	return out
}
