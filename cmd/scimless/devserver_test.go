package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/syncbuf"
)

// devRun is a `scimless dev` started by startDev.
type devRun struct {
	root   string // http://127.0.0.1:PORT
	host   string // 127.0.0.1:PORT
	stdout *syncbuf.Buffer
	stderr *syncbuf.Buffer
}

// startDev runs `scimless dev -addr 127.0.0.1:0 args…` until the test ends.
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &devRun{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, d.stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("runDev did not stop within 10 s")
		}
	})
	// The banner ends with the metrics URL; keep draining stdout after it
	// so runDev never blocks on the pipe.
	baseURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		base := ""
		for sc.Scan() {
			fmt.Fprintln(d.stdout, sc.Text())
			if u, ok := strings.CutPrefix(sc.Text(), "SCIM base URL: "); ok {
				base = u
			}
			if strings.HasPrefix(sc.Text(), "Metrics:") {
				baseURL <- base
			}
		}
	}()
	select {
	case base := <-baseURL:
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		d.host, d.root = u.Host, "http://"+u.Host
	case err := <-done:
		t.Fatalf("runDev returned before serving: %v\nstderr: %s", err, d.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no base URL printed; stdout: %s", d.stdout.String())
	}
	return d
}

// raw sends a request as given, byte for byte, and returns the response.
func raw(t *testing.T, host, request string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// The local server answers like the deployed API: no redirect for "//",
// the API's JSON error body even for requests net/http refuses itself, no
// per-tenant limit unless asked for.
func TestDevLikeDeployed(t *testing.T) {
	const token = "acme:abc12345xyz"
	d := startDev(t, "-token", token)
	auth := "Authorization: Bearer abc12345xyz\r\n"

	t.Run("no redirect on //", func(t *testing.T) {
		for _, path := range []string{"//scim/v2/Users", "/scim/v2//Users", "/scim/v2/Users/", "/scim/v2/./Users"} {
			resp, b := raw(t, d.host, "GET "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"\r\n")
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"Resources"`) {
				t.Errorf("GET %s: %d %s %s, want 200 with the list", path, resp.StatusCode, resp.Header.Get("Location"), b)
			}
		}
	})

	t.Run("errors net/http raises get the API's shape", func(t *testing.T) {
		tests := []struct {
			name, request string
			status        int
			xaas          bool
			detail        string
		}{
			{"control character in If-None-Match", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "If-None-Match: \"a\x01b\"\r\n\r\n", 400, false, "not valid HTTP"},
			{"space in a header name", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, false, "invalid header name"},
			{"no Host", "GET /scim/v2/Users HTTP/1.1\r\n\r\n", 400, false, "missing required host header"},
			{"unknown transfer encoding", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, false, "unsupported transfer encoding"},
			{"unknown HTTP version", "GET /scim/v2/Users HTTP/9.1\r\nHost: x\r\n\r\n", 505, false, "unsupported protocol version"},
			{"XaaS path", "GET /xaas/v1/users HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"\x7f\"\r\n\r\n", 400, true, "not valid HTTP"},
			{"headers too large", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", http.DefaultMaxHeaderBytes+8192) + "\r\n\r\n", 431, false, "not valid HTTP"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp, b := raw(t, d.host, tc.request)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
				}
				var body struct {
					Schemas []string `json:"schemas"`
					Status  any      `json:"status"`
					Detail  string   `json:"detail"`
				}
				if err := json.Unmarshal(b, &body); err != nil {
					t.Fatalf("not JSON: %q", b)
				}
				wantCT, wantStatus := "application/scim+json", any(fmt.Sprint(tc.status))
				if tc.xaas {
					wantCT, wantStatus = "application/json", any(float64(tc.status))
				} else if len(body.Schemas) != 1 || body.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
					t.Errorf("schemas %v", body.Schemas)
				}
				if ct := resp.Header.Get("Content-Type"); ct != wantCT || body.Status != wantStatus || !strings.Contains(body.Detail, tc.detail) {
					t.Errorf("%s %#v %q, want %s %#v with %q", ct, body.Status, body.Detail, wantCT, wantStatus, tc.detail)
				}
			})
		}
	})

	t.Run("no rate limit unless asked", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second}
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for range 8 {
			wg.Go(func() {
				for range 30 {
					req, _ := http.NewRequest("GET", d.root+"/scim/v2/Users?count=1", nil)
					req.Header.Set("Authorization", "Bearer abc12345xyz")
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if statuses[200] != 240 {
			t.Errorf("statuses %v, want 240 × 200", statuses)
		}
	})
}

// -rate-limit N limits every tenant; the refusal is a SCIM 429.
func TestDevRateLimit(t *testing.T) {
	// 0.01/s counts 1 request per minute: of three requests in a row at
	// least two fall in one window, so at least one is refused.
	d := startDev(t, "-token", "abc12345xyz", "-rate-limit", "0.01")
	if !strings.Contains(d.stdout.String(), "Rate limit:    0.01 requests/s per tenant") {
		t.Errorf("stdout does not show the limit: %s", d.stdout.String())
	}
	refused := 0
	for range 3 {
		resp, b := raw(t, d.host, "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc12345xyz\r\n\r\n")
		switch resp.StatusCode {
		case 200:
		case 429:
			refused++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"status":"429"`) {
				t.Errorf("429 without Retry-After or SCIM body: %v %s", resp.Header, b)
			}
		default:
			t.Errorf("status %d: %s", resp.StatusCode, b)
		}
	}
	if refused == 0 {
		t.Error("no request refused")
	}
	// The XaaS API shares the tenant's budget, which the SCIM requests above
	// have used up for this window: its refusal is in the XaaS error shape.
	resp, b := raw(t, d.host, "GET /xaas/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc12345xyz\r\n\r\n")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"status":429`) {
		t.Errorf("XaaS request: status %d, Retry-After %q, body %s; want 429 with Retry-After in the XaaS shape", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

// testDevServer serves a SCIM server and, for the XaaS bulk path, a handler
// that reads the body, through newDevServer with timeouts tm.
func testDevServer(t *testing.T, tm devTimeouts) (host string, logs *syncbuf.Buffer) {
	t.Helper()
	env := storetest.New(t)
	if _, _, err := auth.Issue(context.Background(), env.Store, auth.IssueOptions{Tenant: "acme", Secret: "abc12345xyz"}); err != nil {
		t.Fatal(err)
	}
	logs = &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	bulk := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d bytes", n)
	})
	h := devHandler(withXaaS(scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, 0), Logger: logger}), bulk), &openedTable{Metrics: env.Metrics})
	srv := newDevServer(h, tm, logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(apiErrorListener{ln}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), logs
}

// trickle sends headers then body bytes every interval, and returns how long
// until the server answered or closed the connection, and what it answered.
func trickle(t *testing.T, host, head string, chunk []byte, n int, interval time.Duration) (time.Duration, string) {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		answered <- string(b)
	}()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case got := <-answered:
			return time.Since(start), got
		case <-time.After(interval):
		}
		if _, err := c.Write(chunk); err != nil {
			break // closed by the server
		}
	}
	select {
	case got := <-answered:
		return time.Since(start), got
	case <-time.After(10 * time.Second):
		t.Fatal("the server neither answered nor closed the connection")
	}
	return 0, ""
}

func TestDevServerTimeouts(t *testing.T) {
	tm := devTimeouts{readHeader: time.Second, read: time.Second, write: 500 * time.Millisecond, idle: 500 * time.Millisecond,
		bulkWindow: 500 * time.Millisecond, bulkMinBytes: 1024}
	host, _ := testDevServer(t, tm)
	const authz = "Authorization: Bearer abc12345xyz\r\n"

	t.Run("a body at a few bytes a second is cut off", func(t *testing.T) {
		// 40 bytes, one every 250 ms, would take 10 s.
		took, got := trickle(t, host, "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"+authz+"Content-Type: application/scim+json\r\nContent-Length: 40\r\n\r\n",
			[]byte("{"), 40, 250*time.Millisecond)
		if took > 4*time.Second {
			t.Fatalf("held for %v", took)
		}
		if strings.HasPrefix(got, "HTTP/1.1 2") {
			t.Fatalf("a cut-off body was served: %q", got)
		}
	})
	t.Run("headers at a few bytes a second are cut off", func(t *testing.T) {
		took, _ := trickle(t, host, "GET /scim/v2/Users HTTP/1.1\r\n", []byte("X"), 40, 250*time.Millisecond)
		if took > 4*time.Second {
			t.Fatalf("held for %v", took)
		}
	})
	t.Run("a slow bulk push is cut off", func(t *testing.T) {
		took, got := trickle(t, host, "POST /xaas/v1/users:bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
			[]byte("abcdefgh"), 100, 100*time.Millisecond)
		if took > 4*time.Second || !strings.Contains(got, "too slowly") {
			t.Fatalf("after %v: %q", took, got)
		}
	})
	t.Run("a bulk push longer than the read timeout at a steady rate is served", func(t *testing.T) {
		chunk := []byte(strings.Repeat("x", 1024))
		const n = 18 // 18 KiB over 1.8 s: 10 KiB/s, over the 2 KiB/s minimum
		took, got := trickle(t, host, fmt.Sprintf("POST /xaas/v1/users:bulk HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", n*len(chunk)),
			chunk, n, 100*time.Millisecond)
		if !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.Contains(got, fmt.Sprintf("read %d bytes", n*len(chunk))) {
			t.Fatalf("after %v: %q", took, got)
		}
		if took < tm.read {
			t.Fatalf("took %v, not longer than the read timeout: the test proves nothing", took)
		}
	})
	t.Run("an idle connection is closed", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		start := time.Now()
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection: %v, want EOF", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("idle connection closed after %v", took)
		}
	})
}

func TestParseServerError(t *testing.T) {
	tests := []struct {
		in     string
		status int
		reason string
		ok     bool
	}{
		{"HTTP/1.1 400 Bad Request: invalid header name" + serverErrorHeaders + "400 Bad Request: invalid header name", 400, "invalid header name", true},
		{"HTTP/1.1 400 Bad Request" + serverErrorHeaders + "400 Bad Request", 400, "", true},
		{"HTTP/1.1 501 Not Implemented" + serverErrorHeaders + "Unsupported transfer encoding", 501, "Unsupported transfer encoding", true},
		{"HTTP/1.1 431 Request Header Fields Too Large" + serverErrorHeaders + "431 Request Header Fields Too Large", 431, "", true},
		// A handler's response carries other headers (Date at least).
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Mon, 07 Dec 2026 10:00:00 GMT\r\nConnection: close\r\n\r\nx", 0, "", false},
		{"HTTP/1.1 200 OK" + serverErrorHeaders + "fine", 0, "", false},
		{"HTTP/1.1 100 Continue\r\n\r\n", 0, "", false},
		{"hello", 0, "", false},
		{"", 0, "", false},
	}
	for _, tc := range tests {
		status, reason, ok := parseServerError([]byte(tc.in))
		if status != tc.status || reason != tc.reason || ok != tc.ok {
			t.Errorf("parseServerError(%q) = %d, %q, %v; want %d, %q, %v", tc.in, status, reason, ok, tc.status, tc.reason, tc.ok)
		}
	}
}

func FuzzParseServerError(f *testing.F) {
	f.Add([]byte("HTTP/1.1 400 Bad Request: invalid header name" + serverErrorHeaders + "400 Bad Request: invalid header name"))
	f.Add([]byte("HTTP/1.1 501 Not Implemented" + serverErrorHeaders + "Unsupported transfer encoding"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nDate: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		status, _, ok := parseServerError(p)
		if ok && (status < 400 || status > 599) {
			t.Fatalf("status %d accepted", status)
		}
		if ok {
			resp := apiErrorResponse(status, "r", requestPath(p))
			if r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(resp))), nil); err != nil || r.StatusCode != status {
				t.Fatalf("rewritten response %q: %v", resp, err)
			}
		}
	})
}

func TestRequestPath(t *testing.T) {
	for in, want := range map[string]string{
		"GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: x\r\n": "/scim/v2/Users",
		"POST /xaas/v1/users:bulk HTTP/1.1\r\n":              "/xaas/v1/users:bulk",
		"GARBAGE":                                            "",
		"":                                                   "",
	} {
		if got := requestPath([]byte(in)); got != want {
			t.Errorf("requestPath(%q) = %q, want %q", in, got, want)
		}
	}
}
