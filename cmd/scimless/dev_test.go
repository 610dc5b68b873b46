package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/syncbuf"
)

func TestDevSmoke(t *testing.T) {
	const secret = "abc12345xyz"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"-addr", "127.0.0.1:0", "-token", "acme:" + secret}, pw, &stderr)
		pw.Close()
	}()

	// runDev prints the real bound address in the base URL; keep draining
	// stdout after it so runDev never blocks on the pipe.
	var stdout syncbuf.Buffer
	baseURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			stdout.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "SCIM base URL: "); ok {
				baseURL <- u
			}
		}
	}()
	var base string
	select {
	case base = <-baseURL:
	case err := <-done:
		t.Fatalf("runDev returned before serving: %v\nstderr: %s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no base URL printed; stdout: %s", stdout.String())
	}
	u, err := url.Parse(base)
	if err != nil || u.Path != "/scim/v2" || strings.HasSuffix(u.Host, ":0") {
		t.Fatalf("base URL %q: want http://127.0.0.1:PORT/scim/v2 with the bound port", base)
	}
	root := "http://" + u.Host
	if strings.Contains(stdout.String(), secret) {
		t.Errorf("stdout shows the -token secret: %s", stdout.String())
	}

	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, url, token, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	if resp, b := do("GET", root+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /healthz without auth: %d %s", resp.StatusCode, b)
	}
	before := devMetrics(t, root, do)

	requests := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"list with the token", "GET", "/Users", secret, "", 200},
		{"create with the token", "POST", "/Users", secret, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dev@example.com","active":true}`, 201},
		{"no token", "GET", "/Users", "", "", 401},
		{"token with its tenant prefix", "GET", "/Users", "acme:" + secret, "", 401},
		{"wrong token", "GET", "/Users", "abc12345xyz0", "", 401},
	}
	for _, r := range requests {
		resp, b := do(r.method, base+r.path, r.token, r.body)
		if resp.StatusCode != r.status {
			t.Errorf("%s: %s %s = %d, want %d: %s", r.name, r.method, r.path, resp.StatusCode, r.status, b)
		}
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/scim+json" {
			t.Errorf("%s: Content-Type %q", r.name, resp.Header.Get("Content-Type"))
		}
	}

	after := devMetrics(t, root, do)
	if d := after.requests["TransactWriteItems"] - before.requests["TransactWriteItems"]; d != 1 {
		t.Errorf("TransactWriteItems grew by %d over one POST, want 1", d)
	}
	if after.itemsWritten <= before.itemsWritten || after.itemsRead < before.itemsRead {
		t.Errorf("items written %d→%d, read %d→%d: want writes counted", before.itemsWritten, after.itemsWritten, before.itemsRead, after.itemsRead)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runDev after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runDev did not shut down within 10 s of cancel")
	}
	if _, err := client.Get(root + "/healthz"); err == nil {
		t.Errorf("still serving after shutdown")
	}
	logs := stderr.String()
	if strings.Contains(logs, secret) {
		t.Errorf("a token reached the logs")
	}
	if !strings.Contains(logs, `"tenant":"acme"`) {
		t.Errorf("no request logged for tenant acme (the -token acme:… binding):\n%s", logs)
	}
}

type metricsFigures struct {
	requests                map[string]int64
	itemsRead, itemsWritten int64
}

// devMetrics reads /debug/metrics and checks its documented shape:
// {"dynamodb":{"requests":{"GetItem":n,"Query":n,"TransactWriteItems":n,…},"itemsRead":n,"itemsWritten":n}}
func devMetrics(t *testing.T, root string, do func(method, url, token, body string) (*http.Response, []byte)) metricsFigures {
	t.Helper()
	resp, b := do("GET", root+"/debug/metrics", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/metrics without auth: %d %s", resp.StatusCode, b)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("/debug/metrics: %v: %s", err, b)
	}
	var db map[string]json.RawMessage
	if err := json.Unmarshal(top["dynamodb"], &db); err != nil || db == nil {
		t.Fatalf("/debug/metrics has no dynamodb object: %s", b)
	}
	var m metricsFigures
	num := func(name string, raw json.RawMessage) int64 {
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			t.Fatalf("/debug/metrics %s = %s, want a number", name, raw)
		}
		v, err := n.Int64()
		if err != nil || v < 0 {
			t.Fatalf("/debug/metrics %s = %s, want a count", name, raw)
		}
		return v
	}
	for _, k := range []string{"requests", "itemsRead", "itemsWritten"} {
		if _, ok := db[k]; !ok {
			t.Fatalf("/debug/metrics dynamodb has no %q: %s", k, b)
		}
	}
	var reqs map[string]json.RawMessage
	if err := json.Unmarshal(db["requests"], &reqs); err != nil {
		t.Fatalf("/debug/metrics requests: %v: %s", err, b)
	}
	m.requests = map[string]int64{}
	for k, v := range reqs {
		m.requests[k] = num("requests."+k, v)
	}
	for _, op := range []string{"GetItem", "Query", "TransactWriteItems"} {
		if _, ok := reqs[op]; !ok {
			t.Errorf("/debug/metrics requests has no %s: %s", op, b)
		}
	}
	m.itemsRead = num("itemsRead", db["itemsRead"])
	m.itemsWritten = num("itemsWritten", db["itemsWritten"])
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/debug/metrics Content-Type %q", ct)
	}
	return m
}
