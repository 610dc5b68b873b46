package selftest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts the first request is measured against.
const (
	oktaTimeout       = 60 * time.Second // Okta gives up on a silent request
	apiGatewayTimeout = 29 * time.Second // API Gateway's integration timeout
)

// Sizes of the near-limit body: Lambda refuses request payloads over 6 MB.
const (
	lambdaPayloadLimit = 6 << 20
	nearLimitBody      = lambdaPayloadLimit - 256<<10
)

// The 429 check sends at most burstRequests requests from burstClients
// clients at once.
const (
	burstRequests = 1500
	burstClients  = 32
)

// limits checks the first request's time against the timeouts in front of
// the server, a body near the payload limit, and that a 429 carries a
// Retry-After that, once waited out, lets requests through.
//
// It is long because it is one script of three checks sharing one client and
// one set of created resources.
func (f *flow) limits(ctx context.Context) {
	r := f.r
	f.step(ctx, "first request (cold start) within 29 s and 60 s", func(ctx context.Context) error {
		if r.first.what == "" {
			// The flow runs alone: this request is the first.
			if _, err := f.list(ctx, request{Method: "GET", Path: "/Users?startIndex=1&count=1", Dialect: Okta}); err != nil {
				return err
			}
		}
		d, what := r.first.latency, r.first.what
		f.note(fmt.Sprintf("%s answered in %s", what, d.Round(100*time.Microsecond)))
		switch {
		case d >= oktaTimeout:
			return fmt.Errorf("%s took %s: Okta times out after 60 s", what, d.Round(time.Millisecond))
		case d >= apiGatewayTimeout:
			return fmt.Errorf("%s took %s: API Gateway ends requests at 29 s", what, d.Round(time.Millisecond))
		}
		return nil
	})
	f.step(ctx, "a body near the 6 MB payload limit gets a SCIM answer", func(ctx context.Context) error {
		body := map[string]any{
			"schemas": []string{userSchema}, "userName": r.userName("limit", 1),
			"name":   map[string]any{"givenName": "Selftest", "familyName": "Limit"},
			"emails": []any{map[string]any{"primary": true, "value": r.userName("limit", 1), "type": "work"}},
			"active": true, "nickName": strings.Repeat("x", nearLimitBody),
		}
		req := request{Method: "POST", Path: "/Users", Body: body, Dialect: Okta}
		r.pend("/Users", "userName", r.userName("limit", 1), true)
		resp, err := f.do(ctx, req)
		if err != nil {
			return err
		}
		r.pend("/Users", "userName", r.userName("limit", 1), false)
		switch resp.Status {
		case http.StatusCreated:
			o, err := decodeObject(resp.Body)
			if err != nil || o.str("id") == "" {
				return checkf(false, req, "201 without a user")
			}
			r.trackUser(o.str("id"))
			// What was accepted must be readable (DynamoDB refuses items
			// over 400 KB; a store that did not would fail here).
			_, _, err = f.getUser(ctx, o.str("id"))
			return err
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			o, err := decodeObject(resp.Body)
			if err != nil || !o.hasSchema(errorSchema) {
				return checkf(false, req, "%d without a SCIM error body: %s (a gateway answered, not the server?)", resp.Status, scimErrorDetail(resp.Body))
			}
			return nil
		}
		return statusError(req, resp, []int{201, 400, 413})
	})
	f.step(ctx, "429 carries Retry-After and waiting it out works", func(ctx context.Context) error {
		var sent, limited atomic.Int64
		var mu sync.Mutex
		var got *response
		var gotErr error
		// Okta's lookup before a create: a cheap request, sent fast.
		req := request{Method: "GET", Path: "/Users?" + filterQuery("userName", r.userName("burst", 0)) + "&startIndex=1&count=100", Dialect: Okta, NoRetry: true}
		start := time.Now()
		err := r.parallelN(ctx, burstClients, burstRequests, func(ctx context.Context, i int) error {
			mu.Lock()
			done := got != nil
			mu.Unlock()
			if done {
				return nil
			}
			resp, err := f.do(ctx, req)
			sent.Add(1)
			if err != nil {
				return err
			}
			switch resp.Status {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				limited.Add(1)
				mu.Lock()
				if got == nil {
					got = resp
				}
				mu.Unlock()
			default:
				mu.Lock()
				gotErr = statusError(req, resp, []int{200, 429})
				mu.Unlock()
				return gotErr
			}
			return nil
		})
		if err != nil {
			return err
		}
		if got == nil {
			return skipf("no 429 after %d requests in %s: the limit is above that rate", sent.Load(), time.Since(start).Round(time.Millisecond))
		}
		wait, ok := retryAfter(got.Header.Get("Retry-After"), time.Now())
		if !ok {
			return checkf(false, req, "429 without a usable Retry-After (%q): Okta cannot reschedule", got.Header.Get("Retry-After"))
		}
		if o, err := decodeObject(got.Body); err != nil || !o.hasSchema(errorSchema) || o.str("status") != "429" {
			return checkf(false, req, "429 body is not a SCIM error with status \"429\"")
		}
		if wait > r.cfg.Retry.MaxWait {
			return checkf(false, req, "Retry-After %s is longer than a provisioning task waits (%s)", wait, r.cfg.Retry.MaxWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		_, err = f.expect(ctx, request{Method: "GET", Path: "/Users?startIndex=1&count=1", Dialect: Okta, NoRetry: true}, 200)
		if err != nil {
			return fmt.Errorf("after waiting the Retry-After of %s: %w", wait, err)
		}
		return nil
	})
}
