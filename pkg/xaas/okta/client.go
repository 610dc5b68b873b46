package okta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPDoer sends HTTP requests; *http.Client implements it.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// RetryPolicy bounds the retries of one API call.
type RetryPolicy struct {
	// MaxAttempts is how many times a request is sent at most, counting the
	// first time and retries after 429, 5xx, timeouts and connection errors.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry after a 5xx or
	// a transport error; it doubles for each further retry. Before retry n
	// (n ≥ 1) the client sleeps a uniformly random duration in
	// [0, min(MaxDelay, BaseDelay·2^(n-1))): full jitter.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling.
	MaxDelay time.Duration
	// MaxRateLimitWait is the longest the client waits for a rate-limit
	// window to reset; if a 429 asks for a longer wait, the call fails at once
	// with an *APIError whose RateLimitReset tells when to come back.
	MaxRateLimitWait time.Duration
	// AttemptTimeout bounds each attempt; negative means no bound beyond
	// the context and the HTTP client. An attempt that times out is retried.
	AttemptTimeout time.Duration
}

// DefaultRetryPolicy returns the policy of a client made without
// WithRetryPolicy: 6 attempts, backoff from 500ms up to 20s, rate-limit waits
// up to 2 minutes, 30s per attempt.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:      6,
		BaseDelay:        500 * time.Millisecond,
		MaxDelay:         20 * time.Second,
		MaxRateLimitWait: 2 * time.Minute,
		AttemptTimeout:   30 * time.Second,
	}
}

// Client calls Okta's Identity Sources API of one Okta org. It is safe for
// concurrent use.
type Client struct {
	base      string // org URL, no trailing slash
	cred      Credentials
	doer      HTTPDoer
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	jitter    func(time.Duration) time.Duration
	retry     RetryPolicy
	userAgent string
	tokens    *tokenCache // nil unless cred is a PrivateKeyJWT
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: a new http.Client).
func WithHTTPClient(d HTTPDoer) Option { return func(c *Client) { c.doer = d } }

// WithClock sets the clock used for token expiry, JWT timestamps and
// rate-limit waits (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithSleep sets how the client waits between attempts and polls (default: a
// timer that returns ctx.Err() early when ctx is done).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithJitter sets the random source of backoff: it returns a duration in
// [0, max) (default: uniformly random).
func WithJitter(jitter func(max time.Duration) time.Duration) Option {
	return func(c *Client) { c.jitter = jitter }
}

// WithRetryPolicy sets the retry policy (default DefaultRetryPolicy()). Zero
// fields take the default's value.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithUserAgent sets the User-Agent header (default "scimless-okta-xaas").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the Okta org at orgURL (such as
// "https://example.okta.com") that authenticates with cred.
func New(orgURL string, cred Credentials, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(orgURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("okta: invalid org URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("okta: org URL must be http(s)://host[/prefix] without credentials, query or fragment")
	}
	c := &Client{
		base:      u.String(),
		doer:      &http.Client{},
		now:       time.Now,
		sleep:     sleepContext,
		jitter:    randomJitter,
		retry:     DefaultRetryPolicy(),
		userAgent: "scimless-okta-xaas",
	}
	for _, o := range opts {
		o(c)
	}
	c.retry = c.retry.withDefaults()
	switch cr := cred.(type) {
	case APIToken:
		if cr == "" {
			return nil, errors.New("okta: empty API token")
		}
		c.cred = cr
	case PrivateKeyJWT:
		tc, err := newTokenCache(c, cr)
		if err != nil {
			return nil, err
		}
		c.cred, c.tokens = cr, tc
	case *PrivateKeyJWT:
		if cr == nil {
			return nil, errors.New("okta: nil credentials")
		}
		tc, err := newTokenCache(c, *cr)
		if err != nil {
			return nil, err
		}
		c.cred, c.tokens = *cr, tc
	default:
		return nil, errors.New("okta: unsupported credentials")
	}
	return c, nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRateLimitWait <= 0 {
		p.MaxRateLimitWait = d.MaxRateLimitWait
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = d.AttemptTimeout
	}
	return p
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randomJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// request is one logical API call, sent up to RetryPolicy.MaxAttempts times.
type request struct {
	method      string
	url         string // absolute
	path        string // for errors
	body        []byte
	contentType string
	auth        bool // send the Authorization header
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// maxResponseBody bounds how much of a response body is read.
const maxResponseBody = 8 << 20

// errPermanent wraps a failure that send returns without retrying: building
// the request, or obtaining an access token (the token request has its own
// retries).
type errPermanent struct{ err error }

func (e *errPermanent) Error() string { return e.err.Error() }
func (e *errPermanent) Unwrap() error { return e.err }

// send sends r, retrying as RetryPolicy says, and returns the first 2xx
// response. Other outcomes are errors: *APIError for HTTP errors.
func (c *Client) send(ctx context.Context, r request) (*response, error) {
	refreshed := false
	lastID := "" // X-Okta-Request-Id of the previous attempt
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, r, attempt, lastID)
		if err != nil {
			var ea *errPermanent
			if errors.As(err, &ea) {
				return nil, ea.err
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("okta: %s %s: %w", r.method, r.path, ctx.Err())
			}
			if attempt >= c.retry.MaxAttempts {
				return nil, fmt.Errorf("okta: %s %s: giving up after %d attempts: %w", r.method, r.path, attempt, err)
			}
			if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
				return nil, fmt.Errorf("okta: %s %s: %w", r.method, r.path, err)
			}
			continue
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		ae := decodeError(resp.status, resp.body)
		ae.Method, ae.Path, ae.Attempts = r.method, r.path, attempt
		ae.RequestID = resp.header.Get("X-Okta-Request-Id")
		lastID = ae.RequestID
		if reset, ok := parseEpoch(resp.header.Get("X-Rate-Limit-Reset")); ok {
			ae.RateLimitReset = reset
		}
		var wait time.Duration
		switch {
		case resp.status == http.StatusTooManyRequests:
			wait = c.rateLimitWait(resp.header, attempt)
			if wait > c.retry.MaxRateLimitWait {
				return nil, ae
			}
		case resp.status >= 500:
			wait = c.backoff(attempt)
		case resp.status == http.StatusUnauthorized && r.auth && c.tokens != nil && !refreshed:
			// The cached access token may have been revoked or expired
			// early: fetch a new one and try once more.
			c.tokens.invalidate()
			refreshed = true
			if attempt < c.retry.MaxAttempts {
				continue
			}
			return nil, ae
		default:
			return nil, ae
		}
		if attempt >= c.retry.MaxAttempts {
			return nil, ae
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w (while waiting to retry: %w)", ae, err)
		}
	}
}

// attempt sends r once and reads the whole response. Retries carry Okta's
// X-Okta-Retry-Count and X-Okta-Retry-For (the previous attempt's request
// ID), as Okta's SDKs send them.
func (c *Client) attempt(ctx context.Context, r request, n int, retryFor string) (*response, error) {
	actx := ctx
	if c.retry.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.retry.AttemptTimeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.url, body)
	if err != nil {
		return nil, &errPermanent{fmt.Errorf("okta: %s %s: %w", r.method, r.path, err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if n > 1 {
		req.Header.Set("X-Okta-Retry-Count", strconv.Itoa(n-1))
		if retryFor != "" {
			req.Header.Set("X-Okta-Retry-For", retryFor)
		}
	}
	if r.body != nil || r.method == http.MethodPost {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.auth {
		h, err := c.authorization(ctx)
		if err != nil {
			return nil, &errPermanent{err}
		}
		req.Header.Set("Authorization", h)
	}
	resp, err := c.doer.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// authorization returns the Authorization header value.
func (c *Client) authorization(ctx context.Context) (string, error) {
	if c.tokens != nil {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "SSWS " + string(c.cred.(APIToken)), nil
}

// backoff is the full-jitter delay before retry number attempt.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.BaseDelay
	for i := 1; i < attempt && d < c.retry.MaxDelay; i++ {
		d *= 2
	}
	if d > c.retry.MaxDelay {
		d = c.retry.MaxDelay
	}
	return c.jitter(d)
}

// rateLimitWait is how long to wait after a 429: until X-Rate-Limit-Reset,
// measured from the response's Date header (the server's clock) or, without
// one, from the client's clock. Without a usable reset it backs off.
func (c *Client) rateLimitWait(h http.Header, attempt int) time.Duration {
	reset, ok := parseEpoch(h.Get("X-Rate-Limit-Reset"))
	if !ok {
		return c.backoff(attempt)
	}
	now := c.now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	wait := reset.Sub(now)
	if wait <= 0 {
		// The window already reset (or the reset is only an estimate, as
		// for concurrency limits): retry after a short jittered pause.
		return c.jitter(c.retry.BaseDelay)
	}
	return wait
}

// parseEpoch parses Unix seconds.
func parseEpoch(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}
