package scim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/scimerr"
)

// DefaultRequestTimeout is how long a request may run before the handler
// answers 503 with Retry-After: below API Gateway's 29 s integration timeout,
// so the client gets a SCIM error it can retry instead of a gateway 504.
const DefaultRequestTimeout = 25 * time.Second

// tooManyRequests is the 429 a throttled request gets. Okta reschedules the
// provisioning job after Retry-After.
func tooManyRequests(wait time.Duration) *scimerr.Error {
	e := scimerr.New(http.StatusTooManyRequests, "", "too many requests for this tenant; retry after the time in Retry-After")
	e.RetryAfter = ratelimit.RetryAfterSeconds(wait)
	return e
}

// throttledClient is the 429 of a client refused for presenting too many
// unknown tokens (err wraps auth.ErrThrottled).
func throttledClient(err error) *scimerr.Error {
	e := scimerr.New(http.StatusTooManyRequests, "", "too many requests with an unknown token from this client; retry after the time in Retry-After")
	e.RetryAfter = 1
	if te, ok := errors.AsType[*auth.ThrottledError](err); ok {
		e.RetryAfter = ratelimit.RetryAfterSeconds(te.RetryAfter)
	}
	return e
}

// timedOut is the 503 of a request that ran out of time.
func (s *Server) timedOut() *scimerr.Error {
	e := scimerr.New(http.StatusServiceUnavailable, "", "the request took longer than %s and was stopped; it may or may not have been applied, retry it", s.timeout)
	e.RetryAfter = 5
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

// call is one run of a handler on a worker: the request, the buffered
// response and the channel that reports the end of the run (with what the
// handler panicked with, if it did). A call whose run ended in time is
// reused by a later request.
type call struct {
	h    http.Handler
	r    *http.Request
	w    bufferedWriter
	done chan any
	log  *slog.Logger
}

// maxPooledBody is the largest response buffer kept for another request:
// larger ones (big list pages) are left to the garbage collector rather
// than held by an idle pool.
const maxPooledBody = 64 << 10

// newCall returns a call of h on r, reused when one is free.
func (s *Server) newCall(h http.Handler, r *http.Request) *call {
	c, ok := s.calls.Get().(*call)
	if !ok {
		c = &call{w: bufferedWriter{header: http.Header{}}, done: make(chan any, 1), log: s.log}
	}
	c.h, c.r = h, r
	return c
}

// release makes c, whose run has ended and whose response has been copied
// out, available to another request.
func (s *Server) release(c *call) {
	if c.w.body.Cap() > maxPooledBody {
		return
	}
	clear(c.w.header)
	c.w.status = 0
	c.w.body.Reset()
	c.h, c.r = nil, nil
	s.calls.Put(c)
}

// run runs the handler and reports its end on c.done.
func (c *call) run() {
	// A panic is logged here, with the request id, even when the
	// request has already been answered with a timeout.
	defer func() {
		p := recover()
		if p != nil {
			ctx := c.r.Context()
			c.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "request_id", reqlog.IDFrom(ctx))
		}
		c.done <- p
	}()
	c.h.ServeHTTP(&c.w, c.r)
}

// workers runs requests' handlers on long-lived goroutines. A handler's
// call stack is deep (the DynamoDB client's middleware), so a new goroutine
// per request would grow its stack, copying it, several times on every
// request; a worker grows it once. A call goes to an idle worker, or to a
// new one when none is idle, so no request ever waits for a worker; a
// worker idle for workerIdle exits. Each call recovers its own panics.
type workers struct {
	calls chan *call
}

// workerIdle is how long a worker waits for another call before it exits.
const workerIdle = 10 * time.Second

func newWorkers() *workers { return &workers{calls: make(chan *call)} }

// run starts c on a worker and returns at once.
func (p *workers) run(c *call) {
	select {
	case p.calls <- c:
	default:
		go p.work(c)
	}
}

func (p *workers) work(c *call) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.run()
		idle.Reset(workerIdle)
		select {
		case c = <-p.calls:
		case <-idle.C:
			return
		}
	}
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
	ctx := r.Context()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.timeout {
		// ServeHTTP has already set the deadline; a caller that has not
		// gets one here.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	inner := r.WithContext(ctx)
	c := s.newCall(h, inner)
	s.workers.run(c)
	timedOut := func() { s.writeError(w, r, s.timedOut()) }
	select {
	case p := <-c.done:
		if p != nil {
			s.writeError(w, r, errors.New("panic")) // logged above
			return r
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			timedOut() // finished, but too late for its result to be trusted
			return r
		}
		for k, v := range c.w.header {
			w.Header()[k] = v
		}
		if c.w.status == 0 {
			c.w.status = http.StatusOK
		}
		w.WriteHeader(c.w.status)
		_, _ = w.Write(c.w.body.Bytes())
		s.release(c)
		if ctx == r.Context() {
			return inner
		}
		return inner.WithContext(r.Context())
	case <-ctx.Done():
		timedOut()
		return r
	}
}
