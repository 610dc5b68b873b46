package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/selftest"
	"github.com/scimless/scimless/pkg/syncbuf"
)

// devStack is `scimless dev` running in-process, as its lines on stdout
// describe it (the README's local run contract).
type devStack struct {
	lines map[string]string // "SCIM base URL" → value, …
}

// startDevStack runs runDev with args until the test ends and returns what it
// printed once it serves.
func startDevStack(t *testing.T, args ...string) *devStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, append([]string{"-addr", "127.0.0.1:0", "-log-level", "error"}, args...), pw, &stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("runDev did not stop")
		}
	})
	d := &devStack{lines: map[string]string{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		served := false
		for sc.Scan() {
			if served {
				continue // keep draining; d.lines is the test's now
			}
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				d.lines[k] = strings.TrimSpace(v)
			}
			if strings.HasPrefix(sc.Text(), "DynamoDB:") {
				served = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("runDev: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("runDev printed no DynamoDB line")
	}
	return d
}

func TestSelftestAgainstTheLocalStack(t *testing.T) {
	const secret = "selftest-cli-token-42"
	d := startDevStack(t, "-token", secret, "-fake-okta", "-fake-okta-import-delay", "200ms", "-okta-session-gap", "0", "-sync-debounce", "0")
	base := d.lines["SCIM base URL"]
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"selftest", "-url", base, "-token", secret, "-members", "150", "-json"}, &stdout, &stderr)
	elapsed := time.Since(start)
	var rep selftest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if code != 0 || !rep.Passed {
		var text bytes.Buffer
		_ = rep.WriteText(&text)
		t.Fatalf("exit %d against the local stack:\n%s\n%s", code, text.String(), stderr.String())
	}
	want := map[string]selftest.Status{"okta": selftest.Pass, "entra": selftest.Pass, "groups": selftest.Pass, "import": selftest.Pass,
		"limits": selftest.Pass, "events": selftest.Pass, "xaas": selftest.Pass, "cleanup": selftest.Pass}
	for _, f := range rep.Flows {
		if w, ok := want[f.Name]; ok && f.Status != w {
			t.Errorf("flow %s: %s (%s), want %s", f.Name, f.Status, f.Reason, w)
		}
		t.Logf("flow %-9s %-4s %2d steps  %8.1f ms", f.Name, f.Status, f.Steps, f.DurationMS)
	}
	t.Logf("full selftest against the local stack (150 members): %s", elapsed.Round(time.Millisecond))
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Error("the output shows the token")
	}
}

func TestSelftestExitCodes(t *testing.T) {
	const secret = "selftest-cli-token-43"
	d := startDevStack(t, "-token", secret)
	base := d.lines["SCIM base URL"]
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"wrong token", []string{"-url", base, "-token", "wrong-token-123", "-flows", "okta"}, 1, "status 401, want 200"},
		{"unknown flow", []string{"-url", base, "-token", secret, "-flows", "okta,bulk"}, 2, `unknown flow "bulk"`},
		{"no url", []string{"-token", secret}, 2, "-url and -token"},
		{"bad url", []string{"-url", "scim.example.com", "-token", secret}, 1, "absolute http(s) URL"},
		{"okta only", []string{"-url", base, "-token", secret, "-flows", "okta"}, 0, "PASS: every flow passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"selftest"}, tc.args...), &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.out, out)
			}
			if strings.Contains(out, secret) || strings.Contains(out, "wrong-token-123") {
				t.Error("the output shows the token")
			}
		})
	}
}

func TestSelftestLoadMode(t *testing.T) {
	const secret = "selftest-cli-token-44"
	d := startDevStack(t, "-token", secret)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"selftest", "-url", d.lines["SCIM base URL"], "-token", secret, "-load", "2", "-duration", "1s"}, &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{"2 clients for", "req/s", "OPERATION", "okta.create", "P99 MS", "model check:", "cleanup: removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("-load output lacks %q:\n%s", want, out)
		}
	}
	if passed := strings.HasSuffix(strings.TrimSpace(out), "PASS"); passed != (code == 0) {
		t.Errorf("exit %d, but the verdict says passed=%v:\n%s%s", code, passed, out, stderr.String())
	}
	if strings.Contains(out+stderr.String(), secret) {
		t.Error("the output shows the token")
	}
}
