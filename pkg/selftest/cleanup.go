package selftest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// cleanup removes what the run created (groups first, then users, then
// XaaS records), or lists it with -keep. It records a "cleanup" step and
// returns a one-line summary.
func (r *runner) cleanup(ctx context.Context) string {
	if !r.cfg.Keep {
		r.findPending(ctx)
	}
	r.mu.Lock()
	c := created{users: slices.Clone(r.created.users), groups: slices.Clone(r.created.groups),
		xaasUsers: slices.Clone(r.created.xaasUsers), xaasGroups: slices.Clone(r.created.xaasGroups)}
	r.mu.Unlock()
	what := fmt.Sprintf("%d users, %d groups, %d XaaS records", len(c.users), len(c.groups), len(c.xaasUsers)+len(c.xaasGroups))
	if r.cfg.Keep {
		summary := fmt.Sprintf("kept %s (-keep); their names start with %s", what, r.prefix)
		r.record(Step{Flow: "cleanup", Name: "keep what the run created", Status: Skip, Reason: summary})
		return summary
	}
	start := time.Now()
	var mu sync.Mutex
	var failures []string
	var deactivated int
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, s)
	}
	var sent int64
	remove := func(cl *client, d Dialect, paths []string, fallback func(ctx context.Context, path string) bool) {
		_ = r.parallel(ctx, len(paths), func(ctx context.Context, i int) error {
			req := request{Method: "DELETE", Path: paths[i], Dialect: d}
			resp, err := cl.do(ctx, req)
			mu.Lock()
			sent++
			mu.Unlock()
			switch {
			case err != nil:
				fail(err.Error())
			case resp.Status == http.StatusNoContent || resp.Status == http.StatusOK || resp.Status == http.StatusNotFound:
			case (resp.Status == http.StatusMethodNotAllowed || resp.Status == http.StatusNotImplemented || resp.Status == http.StatusForbidden) && fallback != nil && fallback(ctx, paths[i]):
				mu.Lock()
				deactivated++
				mu.Unlock()
			default:
				fail(statusError(req, resp, []int{204, 404}).Error())
			}
			return nil // remove the rest whatever happens to one
		})
	}
	paths := func(prefix string, ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = prefix + url.PathEscape(id)
		}
		return out
	}
	remove(r.scim, Okta, paths("/Groups/", c.groups), nil)
	remove(r.scim, Entra, paths("/Users/", c.users), func(ctx context.Context, path string) bool {
		// A server without DELETE (Okta never deletes users): deactivate.
		resp, err := r.scim.do(ctx, request{Method: "PATCH", Path: path, Dialect: Okta, Body: patchOp(op("replace", "", map[string]any{"active": false}))})
		return err == nil && resp.Status < 300
	})
	remove(r.xaas, Plain, paths("/groups/", c.xaasGroups), nil)
	remove(r.xaas, Plain, paths("/users/", c.xaasUsers), nil)

	s := Step{Flow: "cleanup", Name: "remove what the run created", Status: Pass, Latency: time.Since(start), Requests: int(sent)}
	summary := "removed " + what
	if deactivated > 0 {
		summary += fmt.Sprintf(" (%d users could only be deactivated: the server refuses DELETE)", deactivated)
	}
	if len(failures) > 0 {
		s.Status = Fail
		s.Reason = r.redact(fmt.Sprintf("%d not removed (names start with %s); first: %s", len(failures), r.prefix, oneLine(failures[0])))
		summary = fmt.Sprintf("%s; %d NOT removed, their names start with %s", summary, len(failures), r.prefix)
	}
	s.Detail = summary
	r.record(s)
	return r.redact(strings.TrimSpace(summary))
}

// findPending looks up the creates whose answer never came, by the unique
// attribute they were sent with, and tracks what exists. A create the
// server is still working on may appear a moment later, so names not found
// are looked up again, three times a second apart.
func (r *runner) findPending(ctx context.Context) {
	r.mu.Lock()
	type lookup struct{ endpoint, attr, value string }
	var todo []lookup
	for endpoint, keys := range r.created.pending {
		for k := range keys {
			attr, value, _ := strings.Cut(k, "\x00")
			todo = append(todo, lookup{endpoint, attr, value})
		}
	}
	r.created.pending = nil
	r.mu.Unlock()
	for attempt := 0; attempt < pendingLookups && len(todo) > 0; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		found := make([]bool, len(todo))
		_ = r.parallel(ctx, len(todo), func(ctx context.Context, i int) error {
			l := todo[i]
			resp, err := r.scim.do(ctx, request{Method: "GET", Path: l.endpoint + "?" + filterQuery(l.attr, l.value), Dialect: Okta})
			if err != nil || resp.Status != http.StatusOK {
				return nil
			}
			if list, err := parseListResponse(resp.Body); err == nil {
				for _, id := range list.ids() {
					if id != "" {
						r.track(l.endpoint, id)
						found[i] = true
					}
				}
			}
			return nil
		})
		var left []lookup
		for i, l := range todo {
			if !found[i] {
				left = append(left, l)
			}
		}
		todo = left
	}
}

// pendingLookups is how many times a create without an answer is looked up.
const pendingLookups = 3
