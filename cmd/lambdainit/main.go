// Command lambdainit prints the Lambda figures of a function: the size of its
// linux/arm64 deployment binary and zip, and its init time (process start to
// the first request for an invocation) measured on the machine it runs on, against a
// fake Lambda Runtime API (package lambdatest). Run it from the repository:
//
//	go run ./cmd/lambdainit [-function ./functions/scim] [-runs 20]
//
// Init time: the function is built for the host (same flags as the
// deployment build), started with AWS_LAMBDA_RUNTIME_API pointing at a fake
// Runtime API in this process, and timed from just before exec until its first
// GET /2018-06-01/runtime/invocation/next: the aws-lambda-go runtime makes
// that call once main has loaded the configuration and wired the store and
// the handler, which is when Lambda's init phase ends. The environment is a
// Lambda-like one (region, dummy credentials, no shared AWS config, IMDS
// off), so nothing waits on the network. Then one process is given -event
// twice (cold and warm invocation) against the embedded DynamoDB-compatible
// engine, to show the handler answers.
//
// It exits with status 1 when a figure misses its target (binary ≤ 15 MB,
// median init ≤ 50 ms) or the invocation fails.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
)

// Targets from the issue.
const (
	maxBinaryBytes = 15_000_000
	maxInitMedian  = 50 * time.Millisecond
)

const (
	table = "scimless-lambdainit"
	token = "local-dev-token" // the token the events in events/ carry
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lambdainit:", err)
		os.Exit(1)
	}
}

// run builds the function for linux/arm64, zips it, times cold starts and
// prints the figures. It is long because it is the tool's whole procedure in
// order, each step a few lines that feed the next.
func run() error {
	function := flag.String("function", "./functions/scim", "function package to measure")
	runs := flag.Int("runs", 20, "number of timed cold starts")
	event := flag.String("event", "events/scim-get-users.json", "event to invoke the function with (empty: skip)")
	out := flag.String("out", "", "directory for the binaries and zip (default: a temporary one, removed)")
	flag.Parse()
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lambdainit"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	name := filepath.Base(*function)
	missed := false

	// (a) The deployment artefact.
	arm := filepath.Join(dir, "linux-arm64", "bootstrap")
	took, err := build(root, *function, arm, "linux", "arm64")
	if err != nil {
		return err
	}
	binSize, zipSize, err := zipBootstrap(arm, filepath.Join(dir, "linux-arm64", name+".zip"))
	if err != nil {
		return err
	}
	fmt.Printf("%s linux/arm64 (-tags lambda.norpc -trimpath -ldflags=\"-s -w\", built in %.1f s)\n", name, took.Seconds())
	fmt.Printf("  binary  %10d bytes  %5.1f MiB  target <= 15 MB: %s\n", binSize, float64(binSize)/(1<<20), verdict(binSize <= maxBinaryBytes, &missed))
	fmt.Printf("  zip     %10d bytes  %5.1f MiB\n", zipSize, float64(zipSize)/(1<<20))

	// (b) Init time, on a host build of the same code.
	host := filepath.Join(dir, runtime.GOOS+"-"+runtime.GOARCH, "bootstrap")
	if _, err := build(root, *function, host, runtime.GOOS, runtime.GOARCH); err != nil {
		return err
	}
	rt, err := lambdatest.NewRuntime()
	if err != nil {
		return err
	}
	defer rt.Close()
	rt.FunctionARN = "arn:aws:lambda:eu-west-1:123456789012:function:scimless-scim"
	env := lambdaEnv(rt.Addr, dir)
	// A first start reads the binary from disk into the page cache; Lambda
	// keeps that in its init figure too, but it is not what varies with the
	// code, so it is shown apart.
	first, err := coldStart(rt, host, env)
	if err != nil {
		return err
	}
	var wall, cpu, queued []time.Duration
	for range *runs {
		s, err := coldStart(rt, host, env)
		if err != nil {
			return err
		}
		wall = append(wall, s.wall)
		if s.haveSched {
			cpu = append(cpu, s.cpu)
			queued = append(queued, s.runqueue)
		}
	}
	med := median(wall)
	fmt.Printf("%s init, exec to first /runtime/invocation/next (%s/%s build, %d CPUs, load average %s; %d runs after one untimed start of %s):\n",
		name, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage(), *runs, ms(first.wall))
	fmt.Printf("  wall                  %s  target median <= 50 ms: %s\n", summary(wall), verdict(med <= maxInitMedian, &missed))
	if len(cpu) > 0 {
		// On a busy machine wall time includes waiting for a CPU: these show
		// the work itself and that wait (both summed over threads).
		fmt.Printf("  CPU time              %s\n", summary(cpu))
		fmt.Printf("  run-queue wait        %s\n", summary(queued))
	}

	if *event != "" {
		payload, err := os.ReadFile(filepath.Join(root, *event))
		if err != nil {
			return err
		}
		if err := invokeTwice(rt, host, env, *event, payload); err != nil {
			return err
		}
	}
	if missed {
		return errors.New("a figure misses its target")
	}
	return nil
}

func verdict(ok bool, missed *bool) string {
	if ok {
		return "met"
	}
	*missed = true
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// summary sorts d and formats its median, p90, min and max.
func summary(d []time.Duration) string {
	slices.Sort(d)
	return fmt.Sprintf("median %8s  p90 %8s  min %8s  max %8s", ms(percentile(d, 50)), ms(percentile(d, 90)), ms(d[0]), ms(d[len(d)-1]))
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "n/a"
}

// median returns the median of d, in any order (d is not changed).
func median(d []time.Duration) time.Duration {
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return percentile(sorted, 50)
}

// percentile returns the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run this inside the scimless module")
	}
	return filepath.Dir(gomod), nil
}

// build builds pkg as Lambda runs it, for goos/goarch.
func build(root, pkg, out, goos, goarch string) (time.Duration, error) {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("build %s for %s/%s: %w", pkg, goos, goarch, err)
	}
	return time.Since(start), nil
}

// zipBootstrap writes the deployment zip (one executable "bootstrap", as the
// provided.al2023 runtime expects) and returns the binary and zip sizes.
func zipBootstrap(bin, zipPath string) (int64, int64, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, 0, err
	}
	if _, err := w.Write(b); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		return 0, 0, err
	}
	return int64(len(b)), int64(buf.Len()), nil
}

// lambdaEnv is the environment Lambda gives the function (as far as it
// matters here) plus what the CDK stack sets. No shared AWS config files, no
// instance metadata: credential and region lookups stay in memory.
func lambdaEnv(runtimeAPI, dir string) []string {
	none := filepath.Join(dir, "no-aws-config")
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_REGION=eu-west-1",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=lambdainit",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + none,
		"AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_LAMBDA_FUNCTION_NAME=scimless-scim",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"SCIMLESS_TABLE=" + table,
		"SCIMLESS_LOG_LEVEL=info",
	}
}

// initSample is one timed cold start.
type initSample struct {
	wall      time.Duration // exec to first request for an invocation
	cpu       time.Duration // CPU time of all the process's threads by then
	runqueue  time.Duration // time its threads waited for a CPU by then
	haveSched bool          // cpu and runqueue are known (Linux schedstat)
}

// start starts the function binary bin with env against rt.
func start(bin string, env []string) (*lambdatest.Function, time.Time, error) {
	cmd := exec.Command(bin)
	cmd.Env = env
	begin := time.Now()
	fn, err := lambdatest.StartProcess(cmd)
	return fn, begin, err
}

// coldStart starts the function and times it until it is ready.
func coldStart(rt *lambdatest.Runtime, bin string, env []string) (initSample, error) {
	fn, begin, err := start(bin, env)
	if err != nil {
		return initSample{}, err
	}
	defer fn.Stop()
	at, err := rt.Ready(fn)
	if err != nil {
		return initSample{}, err
	}
	s := initSample{wall: at.Sub(begin)}
	// The process now blocks in its request for an invocation, so its
	// counters hardly move between "ready" and this read.
	s.cpu, s.runqueue, s.haveSched = schedstat(fn.Pid())
	return s, nil
}

// schedstat sums /proc/PID/task/*/schedstat: nanoseconds on a CPU and
// waiting on a run queue, for every thread of the process (Linux only).
func schedstat(pid int) (cpu, wait time.Duration, ok bool) {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			continue
		}
		c, err1 := strconv.ParseInt(fields[0], 10, 64)
		w, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		cpu += time.Duration(c)
		wait += time.Duration(w)
		ok = true
	}
	return cpu, wait, ok
}

// invokeTwice runs one process against the embedded engine and gives it the
// event twice: the first invocation is cold (token lookup, new connections),
// the second warm.
func invokeTwice(rt *lambdatest.Runtime, bin string, env []string, name string, payload []byte) error {
	ctx := context.Background()
	eng, err := localdb.Start()
	if err != nil {
		return err
	}
	defer eng.Close()
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint()})
	if err != nil {
		return err
	}
	if err := store.EnsureTable(ctx, client, table); err != nil {
		return err
	}
	if _, _, err := auth.Issue(ctx, store.New(client, table), auth.IssueOptions{Tenant: "default", Secret: token, Label: "lambdainit"}); err != nil {
		return err
	}
	fn, _, err := start(bin, append(slices.Clone(env), "SCIMLESS_DYNAMODB_ENDPOINT="+eng.Endpoint()))
	if err != nil {
		return err
	}
	defer fn.Stop()
	if _, err := rt.Ready(fn); err != nil {
		return err
	}
	for i, label := range []string{"cold", "warm"} {
		sent := time.Now()
		res, err := rt.Send(fn, fmt.Sprintf("lambdainit-%d", i), payload)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if res.Failed {
			return fmt.Errorf("%s: function error: %s", name, res.Body)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Body, &resp); err != nil {
			return fmt.Errorf("%s: response %s: %w", name, res.Body, err)
		}
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%s: status %d: %s\n%s", name, resp.StatusCode, resp.Body, fn.Stderr()+fn.Stdout())
		}
		fmt.Printf("invoke %s (%s): status %d, %d-byte body, %s (embedded engine)\n", name, label, resp.StatusCode, len(resp.Body), ms(res.At.Sub(sent)))
	}
	return nil
}
