package scim

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// DefaultRequestTimeout is how long a request may run before the handler
// answers 503 with Retry-After: below API Gateway's 29 s integration timeout,
// so the client gets a SCIM error it can retry instead of a gateway 504.
const DefaultRequestTimeout = 25 * time.Second

// Default per-tenant rate limit: a token bucket refilled at DefaultRate
// requests per second holding up to DefaultBurst.
const (
	DefaultRate  = 50.0
	DefaultBurst = 100
)

// RateLimit is a per-tenant request budget.
type RateLimit struct {
	Rate  float64 // requests per second; ≤ 0 disables the limit
	Burst int     // bucket size
}

// limiter keeps one token bucket per tenant in this process. On Lambda each
// concurrent instance has its own buckets, so the effective limit of a tenant
// is up to (instances × rate): an approximation that needs no extra
// DynamoDB round trip per request. API Gateway's stage throttling caps the
// whole deployment.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{buckets: map[string]*bucket{}, now: now}
}

// allow takes one token from tenant's bucket. When empty it returns how long
// until a token is available.
func (l *limiter) allow(tenant string, rl RateLimit) (bool, time.Duration) {
	if rl.Rate <= 0 {
		return true, 0
	}
	burst := float64(max(rl.Burst, 1))
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[tenant]
	if b == nil {
		if len(l.buckets) > 100000 {
			clear(l.buckets)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[tenant] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rl.Rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rl.Rate * float64(time.Second))
	return false, wait
}

// tooManyRequests is the 429 a throttled request gets. Okta reschedules the
// provisioning job after Retry-After.
func tooManyRequests(wait time.Duration) *scimerr.Error {
	e := scimerr.New(http.StatusTooManyRequests, "", "too many requests for this tenant; retry after the time in Retry-After")
	e.RetryAfter = max(1, int(math.Ceil(wait.Seconds())))
	return e
}

// throttledClient is the 429 of a client refused for presenting too many
// unknown tokens (err wraps auth.ErrThrottled).
func throttledClient(err error) *scimerr.Error {
	e := scimerr.New(http.StatusTooManyRequests, "", "too many requests with an unknown token from this client; retry after the time in Retry-After")
	e.RetryAfter = 1
	if te, ok := errors.AsType[*auth.ThrottledError](err); ok {
		e.RetryAfter = max(1, int(math.Ceil(te.RetryAfter.Seconds())))
	}
	return e
}

// bufferedWriter holds a response until the handler finishes, so a timed-out
// request can be answered with a clean 503 instead.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// withTimeout runs h with a deadline. If h has not finished by then, the
// client gets a SCIM 503 with Retry-After; h's context is cancelled, so its
// store calls stop and a write already sent either completed or did not
// (every write is a single conditional request or transaction).
//
// It returns the request h served, which carries the matched route pattern
// and path values (r itself when the request timed out).
func (s *Server) withTimeout(w http.ResponseWriter, r *http.Request, h http.Handler) *http.Request {
	if s.timeout <= 0 {
		h.ServeHTTP(w, r)
		return r
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	bw := &bufferedWriter{header: http.Header{}}
	done := make(chan any, 1)
	inner := r.WithContext(ctx)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(bw, inner)
	}()
	timedOut := func() {
		e := scimerr.New(http.StatusServiceUnavailable, "", "the request took longer than %s and was stopped; it may or may not have been applied, retry it", s.timeout)
		e.RetryAfter = 5
		s.writeError(w, r, e)
	}
	select {
	case p := <-done:
		if p != nil {
			panic(p)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			timedOut() // finished, but too late for its result to be trusted
			return r
		}
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		if bw.status == 0 {
			bw.status = http.StatusOK
		}
		w.WriteHeader(bw.status)
		_, _ = w.Write(bw.body.Bytes())
		return inner.WithContext(r.Context())
	case <-ctx.Done():
		timedOut()
		return r
	}
}
