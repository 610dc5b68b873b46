package lambdatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/scimless/scimless/pkg/lambdatest"
)

const runMainEnv = "LAMBDATEST_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// main is the function under test: it answers what it was invoked with and
// some of its environment, and fails on {"fail":true}.
func main() {
	lambda.Start(func(ctx context.Context, ev struct {
		Fail bool   `json:"fail"`
		Env  string `json:"env"`
	}) (map[string]string, error) {
		if ev.Fail {
			return nil, errors.New("asked to fail")
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return map[string]string{"request": lc.AwsRequestID, "arn": lc.InvokedFunctionArn, "env": os.Getenv(ev.Env)}, nil
	})
}

func TestInvoke(t *testing.T) {
	t.Setenv("AWS_PROFILE", "from-the-developer")
	t.Setenv("LAMBDATEST_INHERITED", "kept")
	rt := lambdatest.StartRuntime(t)
	fn := lambdatest.StartFunction(t, runMainEnv, "AWS_LAMBDA_RUNTIME_API="+rt.Addr, "AWS_REGION=us-west-2")
	tests := []struct {
		id, arn, payload string
		failed           bool
		want             map[string]string // nil: not checked
	}{
		{id: "a", payload: `{"env":"AWS_REGION"}`,
			want: map[string]string{"request": "a", "arn": lambdatest.DefaultFunctionARN, "env": "us-west-2"}},
		{id: "b", arn: "arn:aws:lambda:us-west-2:123456789012:function:other", payload: `{"env":"AWS_PROFILE"}`,
			want: map[string]string{"request": "b", "arn": "arn:aws:lambda:us-west-2:123456789012:function:other", "env": ""}},
		{id: "c", payload: `{"env":"AWS_EC2_METADATA_DISABLED"}`,
			want: map[string]string{"request": "c", "arn": "arn:aws:lambda:us-west-2:123456789012:function:other", "env": "true"}},
		{id: "d", payload: `{"env":"LAMBDATEST_INHERITED"}`,
			want: map[string]string{"request": "d", "arn": "arn:aws:lambda:us-west-2:123456789012:function:other", "env": "kept"}},
		{id: "e", payload: `{"fail":true}`, failed: true},
		{id: "f", payload: `{"env":"` + runMainEnv + `"}`,
			want: map[string]string{"request": "f", "arn": "arn:aws:lambda:us-west-2:123456789012:function:other", "env": "1"}},
	}
	for _, tc := range tests {
		if tc.arn != "" {
			rt.FunctionARN = tc.arn
		}
		res := rt.Invoke(t, fn, tc.id, []byte(tc.payload))
		if res.ID != tc.id || res.Failed != tc.failed {
			t.Errorf("%s: result %+v, want id %s failed %v", tc.id, res, tc.id, tc.failed)
			continue
		}
		if tc.failed {
			if !strings.Contains(string(res.Body), "asked to fail") {
				t.Errorf("%s: error document %s", tc.id, res.Body)
			}
			continue
		}
		var got map[string]string
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("%s: %s: %v", tc.id, res.Body, err)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.id, k, got[k], v)
			}
		}
	}
	fn.Stop()
	fn.Stop() // idempotent
}

func TestFunctionExits(t *testing.T) {
	// Not on Lambda: aws-lambda-go gives up at once.
	fn := lambdatest.StartFunction(t, runMainEnv)
	var ee *exec.ExitError
	if err := fn.Wait(); !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a failure; stderr: %s", err, fn.Stderr())
	}
	if !strings.Contains(fn.Stderr(), "AWS_LAMBDA_RUNTIME_API") {
		t.Errorf("stderr %q does not mention AWS_LAMBDA_RUNTIME_API", fn.Stderr())
	}
}

// Outside tests: NewRuntime, StartProcess, Ready and Send.
func TestProcessReadySend(t *testing.T) {
	rt, err := lambdatest.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "AWS_LAMBDA_RUNTIME_API="+rt.Addr, "AWS_REGION=eu-west-1")
	before := time.Now()
	fn, err := lambdatest.StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Stop()
	at, err := rt.Ready(fn)
	if err != nil || at.Before(before) {
		t.Fatalf("ready at %v (started %v): %v", at, before, err)
	}
	if fn.Pid() <= 0 {
		t.Fatalf("pid %d", fn.Pid())
	}
	sent := time.Now()
	res, err := rt.Send(fn, "x1", []byte(`{"env":"AWS_REGION"}`))
	if err != nil || res.ID != "x1" || res.Failed || !strings.Contains(string(res.Body), `"env":"eu-west-1"`) || res.At.Before(sent) {
		t.Fatalf("send: %+v %v", res, err)
	}
	fn.Stop() // the Runtime serves one process at a time
	// A process that exits during init is reported with its output.
	bad := exec.Command(os.Args[0], "-test.run=^$")
	bad.Env = append(os.Environ(), runMainEnv+"=1") // no runtime API: exits at once
	fn2, err := lambdatest.StartProcess(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Ready(fn2); err == nil || !strings.Contains(err.Error(), "exited during init") || !strings.Contains(err.Error(), "AWS_LAMBDA_RUNTIME_API") {
		t.Fatalf("ready of an exiting process: %v", err)
	}
	if _, err := rt.Send(fn2, "x2", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("send to an exited process: %v", err)
	}
}
