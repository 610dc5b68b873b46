package selftest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// flow runs the steps of one flow. After a failed step the later steps of
// the flow are not run: they depend on it.
type flow struct {
	name   string
	r      *runner
	failed bool
	// detail is what the running step measured, for its row.
	detail string
}

// skipError marks a step the server cannot be checked for.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// skipf returns an error that makes the step a skip.
func skipf(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

// step runs fn as the named step and records it. It reports whether the
// step passed; a failed step stops the flow.
func (f *flow) step(ctx context.Context, name string, fn func(ctx context.Context) error) bool {
	if f.failed {
		return false
	}
	if ctx.Err() != nil {
		f.failed = true
		f.r.record(Step{Flow: f.name, Name: name, Status: Fail, Reason: "not run: " + stopReason(ctx)})
		return false
	}
	before := f.r.requests.Load()
	start := time.Now()
	err := f.safe(ctx, fn)
	s := Step{Flow: f.name, Name: name, Status: Pass, Latency: time.Since(start), Requests: int(f.r.requests.Load() - before),
		Detail: f.r.redact(f.detail)}
	f.detail = ""
	var skip *skipError
	switch {
	case errors.As(err, &skip):
		s.Status, s.Reason = Skip, f.r.redact(skip.reason)
	case err != nil:
		s.Status, s.Reason = Fail, f.r.redact(oneLine(err.Error()))
		f.failed = true
	}
	f.r.record(s)
	return err == nil
}

// safe runs fn, turning a panic into an error.
func (f *flow) safe(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn(ctx)
}

// note sets what the running step measured.
func (f *flow) note(s string) { f.detail = s }

// skip records a skipped step.
func (f *flow) skip(name, reason string) {
	f.r.record(Step{Flow: f.name, Name: name, Status: Skip, Reason: f.r.redact(reason)})
}

// fail records a failed step that ran no request.
func (f *flow) fail(name string, err error) {
	f.failed = true
	f.r.record(Step{Flow: f.name, Name: name, Status: Fail, Reason: f.r.redact(oneLine(err.Error()))})
}

// redact removes the token from a text that might echo it.
func (r *runner) redact(s string) string {
	if r.cfg.Token != "" && len(r.cfg.Token) >= 4 {
		s = strings.ReplaceAll(s, r.cfg.Token, "<token>")
	}
	return s
}

func oneLine(s string) string { return clip(s, 300) }

// do sends a SCIM request.
func (f *flow) do(ctx context.Context, req request) (*response, error) {
	return f.send(ctx, f.r.scim, req)
}

func (f *flow) send(ctx context.Context, c *client, req request) (*response, error) {
	resp, err := c.do(ctx, req)
	if err == nil && resp.Retries == 0 {
		f.r.first.once.Do(func() { f.r.first.latency, f.r.first.what = resp.Latency, req.what() })
	}
	if resp != nil {
		f.r.requests.Add(int64(1 + resp.Retries))
	} else {
		f.r.requests.Add(1)
	}
	return resp, err
}

// expect sends req and checks the status is one of want.
func (f *flow) expect(ctx context.Context, req request, want ...int) (*response, error) {
	return f.expectOn(ctx, f.r.scim, req, want...)
}

func (f *flow) expectOn(ctx context.Context, c *client, req request, want ...int) (*response, error) {
	resp, err := f.send(ctx, c, req)
	if err != nil {
		return resp, err
	}
	if !slices.Contains(want, resp.Status) {
		return resp, statusError(req, resp, want)
	}
	return resp, nil
}

// statusError describes an unexpected status.
func statusError(req request, resp *response, want []int) error {
	w := make([]string, len(want))
	for i, s := range want {
		w[i] = fmt.Sprint(s)
	}
	msg := fmt.Sprintf("%s: status %d, want %s", req.what(), resp.Status, strings.Join(w, " or "))
	if resp.Status == 429 || resp.Status == 503 {
		msg += fmt.Sprintf(" (after %d retries)", resp.Retries)
	}
	if len(resp.Body) > 0 {
		msg += ": " + scimErrorDetail(resp.Body)
	}
	return errors.New(msg)
}

// object sends req, checks the status and decodes the body as an object.
func (f *flow) object(ctx context.Context, req request, want ...int) (object, error) {
	resp, err := f.expect(ctx, req, want...)
	if err != nil {
		return nil, err
	}
	o, err := decodeObject(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.what(), err)
	}
	return o, nil
}

// list sends a list request and checks the ListResponse.
func (f *flow) list(ctx context.Context, req request) (*listResponse, error) {
	resp, err := f.expect(ctx, req, 200)
	if err != nil {
		return nil, err
	}
	l, err := parseListResponse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid ListResponse: %w", req.what(), err)
	}
	return l, nil
}

// checkf returns an error naming the request when ok is false.
func checkf(ok bool, req request, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%s: %s", req.what(), fmt.Sprintf(format, args...))
}

// parallel runs fn for 0..n-1 on the run's workers and returns the first
// error. Each worker recovers its panics.
func (r *runner) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	return r.parallelN(ctx, r.cfg.Parallel, n, fn)
}

// parallelN is parallel with the given number of workers.
func (r *runner) parallelN(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			var err error
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("internal error: %v", p)
				}
				if err != nil {
					cancel()
				}
				errc <- err
			}()
			for i := range next {
				if err = fn(ctx, i); err != nil {
					return
				}
			}
		}()
	}
	func() {
		defer close(next)
		for i := 0; i < n; i++ {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var first error
	for w := 0; w < workers; w++ {
		// A worker that failed stops reading; drain the rest.
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
