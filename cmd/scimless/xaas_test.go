package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas"
)

// xaasReplay is what replaying one events/xaas-*.json file must give.
var xaasReplay = map[string]struct {
	status int
	check  func(t *testing.T, body string)
}{
	"xaas-put-user.json":    {status: 201, check: bodyHas(`"externalId":"nathan.king@example.com"`, `"sync":"dirty"`)},
	"xaas-get-user.json":    {status: 200, check: bodyHas(`"first_name":"Brad"`, `"active":true`)},
	"xaas-delete-user.json": {status: 204},
	"xaas-list-users.json":  {status: 200, check: bodyHas(`"users":[`, `brad.gibson@example.com`)},
	"xaas-bulk-users-csv.json": {status: 200,
		check: bodyHas(`{"created":2,"updated":0,"unchanged":0,"failed":0,"errors":[]}`)},
	"xaas-bulk-users-json.json": {status: 200,
		check: bodyHas(`{"created":1,"updated":0,"unchanged":1,"failed":0,"errors":[]}`)},
	"xaas-put-group.json":          {status: 201, check: bodyHas(`"displayName":"Sales"`)},
	"xaas-get-group.json":          {status: 200, check: bodyHas(`"members":["brad.gibson@example.com"]`)},
	"xaas-delete-group.json":       {status: 204},
	"xaas-post-sync.json":          {status: 202, check: bodyHas(`"state":"queued"`)},
	"xaas-get-syncs.json":          {status: 200, check: bodyHas(`"syncs":[]`)},
	"xaas-get-sync-not-found.json": {status: 404},
	"xaas-items-list.json":         {status: 200, check: bodyHas(`"id":"brad.gibson@example.com"`, `"id":"ida.rasmussen@example.com"`)},
	"xaas-items-get.json":          {status: 200, check: bodyHas(`"id":"brad.gibson@example.com"`, `"postcode":"93027"`)},
	"xaas-items-put.json":          {status: 200, check: bodyHas(`"Put item yasmin.rodrigues@example.com"`)},
	"xaas-items-delete.json":       {status: 200, check: bodyHas(`"Deleted item brad.gibson@example.com"`)},
	"xaas-schedule.json":           {},
}

func bodyHas(subs ...string) func(*testing.T, string) {
	return func(t *testing.T, body string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(body, s) {
				t.Errorf("body %s does not contain %s", body, s)
			}
		}
	}
}

func invokeTableFlags(t *testing.T) *tableFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var tf tableFlags
	tf.register(fs, true)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	tf.parsed(fs)
	return &tf
}

func TestXaaSEventsReplay(t *testing.T) {
	files, err := filepath.Glob("../../events/xaas-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no XaaS events: %v", err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		seen[name] = true
		want, ok := xaasReplay[name]
		if !ok {
			t.Errorf("events/%s has no expectation", name)
			continue
		}
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			res, ok, err := xaasInvoke(context.Background(), invokeTableFlags(t), invokeToken, raw, &logs)
			if !ok || err != nil {
				t.Fatalf("ok %v err %v", ok, err)
			}
			if strings.Contains(logs.String(), invokeToken) {
				t.Errorf("the token leaked into the logs")
			}
			if name == "xaas-schedule.json" {
				// The sample records were pushed; the default 15-minute schedule is
				// due at once, so the tick starts a sync and works on it.
				if res.Tick == nil || len(res.Tick.Started) != 1 || res.Tick.Stepped != 1 {
					t.Fatalf("tick report %+v", res.Tick)
				}
				return
			}
			resp := res.HTTP
			if resp == nil || resp.StatusCode != want.status {
				t.Fatalf("response %+v, want status %d", resp, want.status)
			}
			var ev events.APIGatewayV2HTTPRequest
			_ = json.Unmarshal(raw, &ev)
			if got := headerOf(resp, "X-Request-Id"); got != ev.RequestContext.RequestID {
				t.Errorf("X-Request-Id %q, want %q", got, ev.RequestContext.RequestID)
			}
			if !strings.Contains(logs.String(), `"request_id":"`+ev.RequestContext.RequestID+`"`) {
				t.Errorf("no request log line")
			}
			body := resp.Body
			if resp.IsBase64Encoded {
				b, _ := base64.StdEncoding.DecodeString(body)
				body = string(b)
			}
			if resp.StatusCode != 204 {
				if ct := headerOf(resp, "Content-Type"); ct != "application/json" || !json.Valid([]byte(body)) {
					t.Errorf("Content-Type %q body %q", ct, body)
				}
			}
			if want.check != nil {
				want.check(t, body)
			}
		})
	}
	for name := range xaasReplay {
		if !seen[name] {
			t.Errorf("expectation for %s, which events/ does not have", name)
		}
	}
	// Events of the SCIM function are not XaaS events.
	raw, _ := os.ReadFile("../../events/scim-get-users.json")
	if _, ok, _ := xaasInvoke(context.Background(), invokeTableFlags(t), invokeToken, raw, io.Discard); ok {
		t.Error("a SCIM event was taken for an XaaS one")
	}
}

func headerOf(resp *events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// xaasRun runs `scimless xaas ARGS -dynamodb-endpoint EP`.
func xaasRun(t *testing.T, ep string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runXaaS(context.Background(), append(args, "-dynamodb-endpoint", ep), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestXaaSCLI(t *testing.T) {
	ep, st := opTable(t)
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.json")
	_ = os.WriteFile(mapping, []byte(`{"attributes":{"userName":"{login}","department":"{dept}"}}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"attributes":{"firstName":"{first}"}}`), 0o600)

	steps := []struct {
		args    []string
		wantErr string
		stdout  []string
	}{
		{args: []string{"sync", "acme"}, wantErr: "not configured"},
		{args: []string{"config", "set", "acme", "-org-url", "https://example.okta.com", "-identity-source", "0oa1",
			"-secret-ref", "env:OKTA_TOKEN", "-interval", "1h", "-debounce", "30s"},
			stdout: []string{"tenant acme syncs to https://example.okta.com", "every 1h0m0s", "after a push: 30s"}},
		{args: []string{"config", "set", "nobody", "-org-url", "https://example.okta.com", "-identity-source", "0oa1", "-secret-ref", "x"}, wantErr: "not found"},
		{args: []string{"config", "set", "acme", "-org-url", "https://example.okta.com", "-identity-source", "0oa1",
			"-secret-ref", "x", "-auth", "oauth"}, wantErr: "clientId is required"},
		{args: []string{"config", "get", "acme"}, stdout: []string{`"orgUrl": "https://example.okta.com"`, `"interval": "1h0m0s"`}},
		{args: []string{"mapping", "get", "acme"}, stdout: []string{`"streetAddress": "{street_number} {street_name}"`}},
		{args: []string{"mapping", "set", "acme", mapping}, stdout: []string{"2 Okta attributes"}},
		{args: []string{"mapping", "set", "acme", bad}, wantErr: "userName must be mapped"},
		{args: []string{"mapping", "get", "acme"}, stdout: []string{`"department": "{dept}"`}},
		{args: []string{"status", "acme"}, wantErr: "no syncs yet"},
		{args: []string{"sync", "acme"}, stdout: []string{"queued"}},
		{args: []string{"sync", "acme"}, wantErr: "already queued or running (scimless xaas status acme -run 2"},
		{args: []string{"status", "acme"}, stdout: []string{": queued (trigger cli", "[------", "0 upserted"}},
		{args: []string{"status", "acme", "-json"}, stdout: []string{`"state": "queued"`, `"counts"`}},
		{args: []string{"frob"}, wantErr: "usage"},
	}
	for _, s := range steps {
		stdout, stderr, err := xaasRun(t, ep, s.args...)
		name := strings.Join(s.args, " ")
		if s.wantErr != "" {
			msg := stderr
			if err != nil {
				msg += err.Error()
			}
			if err == nil || !strings.Contains(msg, s.wantErr) {
				t.Errorf("%s: err %v stderr %q, want %q", name, err, stderr, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, stderr)
			continue
		}
		for _, want := range s.stdout {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: stdout %q does not contain %q", name, stdout, want)
			}
		}
	}
	if s, err := st.GetXaaSSync(ctx, "acme"); err != nil || s.Interval != time.Hour || s.Debounce != 30*time.Second || s.Run == "" {
		t.Errorf("sync state %+v %v", s, err)
	}
}

func TestXaaSDevWithFakeOkta(t *testing.T) {
	_, st := opTable(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: defaultTenant, Secret: "dev-token-123"}); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	opts := xaasDevFlags(fs)
	if err := fs.Parse([]string{"-fake-okta", "-sync-debounce", "0", "-okta-session-gap", "0",
		"-fake-okta-import-delay", "10ms", "-sync-tick", "20ms"}); err != nil {
		t.Fatal(err)
	}
	var banner bytes.Buffer
	xh, stop, err := startXaaSDev(ctx, opts, st, slog.New(slog.DiscardHandler), &banner)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.Contains(banner.String(), "Fake Okta:") {
		t.Errorf("banner %q", banner.String())
	}
	scim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := withXaaS(scim, xh)
	do := func(method, path, ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer dev-token-123")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("GET", "/scim/v2/Users", "", ""); rec.Code != http.StatusTeapot {
		t.Errorf("SCIM paths go elsewhere: %d", rec.Code)
	}
	csvBody, err := os.ReadFile("../../pkg/xaas/testdata/sampleUsers.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rec := do("POST", xaas.Prefix+"/users:bulk", "text/csv", string(csvBody)); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"created":10`) {
		t.Fatalf("bulk: %d %s", rec.Code, rec.Body)
	}
	rec := do("POST", xaas.Prefix+"/syncs", "", "")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /syncs: %d %s", rec.Code, rec.Body)
	}
	var started map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &started); err != nil || started["id"] == "" {
		t.Fatalf("POST /syncs body %s: %v", rec.Body, err)
	}
	// The dev stack's own loop runs the sync; wait for it to end, for as
	// long as the test may run.
	run := waitForRun(t, func() *httptest.ResponseRecorder { return do("GET", xaas.Prefix+"/syncs/"+started["id"], "", "") })
	if run.State != "succeeded" || run.Counts.Upserted != 9 || run.Counts.Deactivated != 1 {
		t.Errorf("run %+v, want succeeded with 9 upserted and 1 deactivated", run)
	}
	var out bytes.Buffer
	if err := xaasStatus(ctx, st, defaultTenant, "", false, false, time.Second, &out); err != nil || !strings.Contains(out.String(), "9 upserted, 1 deactivated") {
		t.Errorf("status: %v\n%s", err, out.String())
	}
	// Bad flag combinations.
	for _, args := range [][]string{{"-okta-url", "http://x"}, {"-okta-url", "http://x", "-identity-source", "s"}, {"-fake-okta", "-okta-url", "http://x"}} {
		fs := flag.NewFlagSet("dev", flag.ContinueOnError)
		o := xaasDevFlags(fs)
		_ = fs.Parse(args)
		if _, _, err := startXaaSDev(ctx, o, st, slog.New(slog.DiscardHandler), io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// waitForRun polls get until the sync it answers has ended, and returns
// it. It fails the test on an answer that is not a sync, and gives up only
// when the test's context ends (go test's -timeout), never on a wall clock
// of its own: a slow machine makes it slower, not wrong.
func waitForRun(t *testing.T, get func() *httptest.ResponseRecorder) xaas.RunStatus {
	t.Helper()
	for {
		rec := get()
		var run xaas.RunStatus
		if rec.Code != http.StatusOK {
			t.Fatalf("GET sync: %d %s", rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &run); err != nil || run.ID == "" {
			t.Fatalf("GET sync: body %s: %v", rec.Body, err)
		}
		if run.State == "succeeded" || run.State == "failed" {
			return run
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the test ended before the sync: %+v", run)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestProgressLine(t *testing.T) {
	d := &xaas.RunDetail{Processed: 2500, Total: 10000, Phase: "upload"}
	if got := progressLine(d); !strings.HasPrefix(got, "[########----------------------]  25%  2500/10000 records  upload") {
		t.Errorf("progress %q", got)
	}
	d = &xaas.RunDetail{Processed: 5, Total: 0, Wait: "Okta's gap between an import and the next session"}
	if got := progressLine(d); !strings.Contains(got, "0%") || !strings.Contains(got, "Okta's gap") {
		t.Errorf("progress %q", got)
	}
}
