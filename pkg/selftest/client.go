package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Dialect is the set of headers one identity provider's SCIM client sends.
type Dialect int

// The dialects of the SCIM clients the flows imitate.
const (
	Okta  Dialect = iota // Okta's SCIM 2.0 client
	Entra                // Microsoft Entra ID's provisioning service
	Plain                // a generic JSON client (XaaS pushes, events)
)

// headers returns the request headers the dialect's client sends.
func (d Dialect) headers(hasBody bool) map[string]string {
	switch d {
	case Okta:
		h := map[string]string{"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json", "Accept-Charset": "utf-8"}
		if hasBody {
			h["Content-Type"] = "application/scim+json; charset=utf-8"
		}
		return h
	case Entra:
		h := map[string]string{"User-Agent": "Microsoft.Identity.Provisioning", "Accept": "application/scim+json"}
		if hasBody {
			h["Content-Type"] = "application/json"
		}
		return h
	}
	h := map[string]string{"User-Agent": "scimless-selftest", "Accept": "application/json"}
	if hasBody {
		h["Content-Type"] = "application/json"
	}
	return h
}

// RetryPolicy is how a client waits out 429 and 503 answers: as Okta
// reschedules a throttled provisioning task after the time in Retry-After.
type RetryPolicy struct {
	// Attempts is the most tries of one request (1: no retry).
	Attempts int
	// MaxWait caps one wait, whatever Retry-After says.
	MaxWait time.Duration
	// Default is the wait when a 429 or 503 has no usable Retry-After.
	Default time.Duration
}

// DefaultRetry returns the retry policy of the flows and the load: up to 8
// tries, waiting what Retry-After says up to 30 s, or 1 s without it.
func DefaultRetry() RetryPolicy {
	return RetryPolicy{Attempts: 8, MaxWait: 30 * time.Second, Default: time.Second}
}

// client sends requests to one server with one bearer token. The token is
// only ever written into the Authorization header.
type client struct {
	base  string // without a trailing slash
	token string
	hc    *http.Client
	retry RetryPolicy
}

// request is one HTTP request of a flow.
type request struct {
	Method  string
	Path    string // relative to the base URL, with its query
	Body    any    // marshalled to JSON; []byte and json.RawMessage are sent as they are
	Dialect Dialect
	Header  map[string]string // overrides the dialect's headers
	NoRetry bool              // answer 429 and 503 as they come
}

// response is what a request got, after any retries.
type response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Latency time.Duration // of the last attempt
	Retries int           // attempts after the first, for 429 or 503
	// RetriedStatus counts the 429 and 503 answers that were retried.
	RetriedStatus map[int]int
}

// what names the request in a reason: "GET /Users/abc".
func (r *request) what() string {
	p := r.Path
	if i := strings.IndexByte(p, '?'); i >= 0 && len(p) > 80 {
		p = p[:i] + "?…"
	}
	return r.Method + " " + p
}

// do sends req, retrying 429 and 503 after their Retry-After.
func (c *client) do(ctx context.Context, req request) (*response, error) {
	var body []byte
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = b
	case json.RawMessage:
		body = b
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", req.what(), err)
		}
	}
	attempts := max(c.retry.Attempts, 1)
	if req.NoRetry {
		attempts = 1
	}
	out := &response{RetriedStatus: map[int]int{}}
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, req, body)
		if err != nil {
			return out, err
		}
		out.Status, out.Header, out.Body, out.Latency = resp.Status, resp.Header, resp.Body, resp.Latency
		if (resp.Status != http.StatusTooManyRequests && resp.Status != http.StatusServiceUnavailable) || attempt >= attempts {
			return out, nil
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			if resp.Status == http.StatusServiceUnavailable {
				// Without Retry-After a 503 is a failure, not a throttle.
				return out, nil
			}
			wait = c.retry.Default
		}
		wait = min(wait, c.retry.MaxWait)
		out.Retries++
		out.RetriedStatus[resp.Status]++
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return out, fmt.Errorf("%s: waiting %s after %d: %w", req.what(), wait, resp.Status, ctx.Err())
		case <-t.C:
		}
	}
}

// once sends one attempt.
func (c *client) once(ctx context.Context, req request, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.base+req.Path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.what(), err)
	}
	for k, v := range req.Dialect.headers(body != nil) {
		hr.Header.Set(k, v)
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range req.Header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	start := time.Now()
	hresp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.what(), scrubURLError(err))
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: read response: %w", req.what(), err)
	}
	return &response{Status: hresp.StatusCode, Header: hresp.Header, Body: b, Latency: time.Since(start)}, nil
}

// maxResponseBytes bounds what is read of one response (Lambda's payload
// limit is 6 MB).
const maxResponseBytes = 16 << 20

// scrubURLError drops the *url.Error wrapper's "Get URL:" prefix: the reason
// already names the request.
func scrubURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.Contains(err.Error(), "://") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// maxRetryAfter caps a Retry-After in seconds (one day).
const maxRetryAfter = 24 * 60 * 60

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		// Anything over a day is as good as never; capping also keeps
		// the multiplication from overflowing.
		return time.Duration(min(n, maxRetryAfter)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
