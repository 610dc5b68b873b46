package selftest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// xaasRecords is how many source records the XaaS flow pushes.
const xaasRecords = 10

// syncStatus is what GET /xaas/v1/syncs/{id} answers.
type syncStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Error  string `json:"error"`
	Counts struct {
		Upserted    int `json:"upserted"`
		Deactivated int `json:"deactivated"`
		Groups      int `json:"groups"`
		Memberships int `json:"memberships"`
		Failed      int `json:"failed"`
	} `json:"counts"`
}

// xaasFlow pushes 10 source records to the XaaS API, starts a sync, waits
// for its final state and reports its counts. It is a skip when the XaaS
// API is not reachable or the tenant has no Okta org configured.
func (f *flow) xaasFlow(ctx context.Context) {
	r := f.r
	reachable := f.step(ctx, "XaaS API: GET /xaas/v1/users", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "/users?limit=1", Dialect: Plain, NoRetry: true}
		resp, err := f.send(ctx, r.xaas, req)
		if err != nil {
			return skipf("not reachable at %s", r.xaas.base)
		}
		switch resp.Status {
		case http.StatusOK:
			return nil
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return skipf("not deployed: GET %s/users answered %d", r.xaas.base, resp.Status)
		case http.StatusForbidden:
			return skipf("not checked: the token lacks the xaas scope (403)")
		}
		return statusError(request{Method: "GET", Path: r.xaas.base + "/users"}, resp, []int{200})
	})
	if !reachable {
		return
	}
	f.step(ctx, fmt.Sprintf("push %d records: PUT /xaas/v1/users/{externalId}", xaasRecords), func(ctx context.Context) error {
		return r.parallel(ctx, xaasRecords, func(ctx context.Context, i int) error {
			ext := fmt.Sprintf("%s-xaas-%d", r.prefix, i)
			req := request{Method: "PUT", Path: "/users/" + url.PathEscape(ext), Dialect: Plain, Body: map[string]any{
				"email": ext + "@example.com", "first_name": "Selftest", "last_name": fmt.Sprint("XaaS ", i), "title": "Selftest", "active": true,
			}}
			if _, err := f.expectOn(ctx, r.xaas, req, 200, 201); err != nil {
				return err
			}
			r.trackXaaS("users", ext)
			return nil
		})
	})
	var id string
	f.step(ctx, "trigger a sync: POST /xaas/v1/syncs", func(ctx context.Context) error {
		var err error
		id, err = f.startSync(ctx)
		return err
	})
	if id == "" {
		return
	}
	f.step(ctx, "wait until the sync ends and the records are synced", func(ctx context.Context) error {
		deadline := time.Now().Add(r.cfg.SyncWait)
		var notes []string
		for round := 1; ; round++ {
			st, err := f.waitSync(ctx, id, deadline)
			if err != nil {
				return err
			}
			c := st.Counts
			notes = append(notes, fmt.Sprintf("sync %s %s: upserted %d, deactivated %d, groups %d, memberships %d, failed %d",
				id, st.State, c.Upserted, c.Deactivated, c.Groups, c.Memberships, c.Failed))
			f.note(strings.Join(notes, "; "))
			if st.State == "failed" {
				return fmt.Errorf("sync %s failed: %s", id, clip(st.Error, 160))
			}
			states, err := f.recordStates(ctx)
			if err != nil {
				return err
			}
			if states["failed"] > 0 {
				return fmt.Errorf("%d of %d records failed to sync (GET %s/syncs/%s/failures says why)", states["failed"], xaasRecords, r.xaas.base, id)
			}
			if states["synced"] == xaasRecords {
				f.note(strings.Join(notes, "; ") + fmt.Sprintf("; %d of %d records synced", xaasRecords, xaasRecords))
				return nil
			}
			// The sync had started before the push: the records wait for
			// the next one.
			if round == 3 || time.Now().After(deadline) {
				return fmt.Errorf("after %d syncs %d of %d records are synced", round, states["synced"], xaasRecords)
			}
			if id, err = f.startSync(ctx); err != nil {
				return err
			}
		}
	})
}

// startSync starts a sync (or joins the one queued or running) and returns
// its id.
func (f *flow) startSync(ctx context.Context) (string, error) {
	r := f.r
	resp, err := f.send(ctx, r.xaas, request{Method: "POST", Path: "/syncs", Dialect: Plain})
	if err != nil {
		return "", err
	}
	o, derr := decodeObject(resp.Body)
	var id string
	switch {
	case resp.Status == http.StatusAccepted && derr == nil:
		id = o.str("id")
	case resp.Status == http.StatusConflict && derr == nil && o.str("id") != "":
		id = o.str("id") // a sync already queued or running
	case resp.Status == http.StatusBadRequest:
		return "", skipf("the tenant has no Okta org configured (%s)", scimErrorDetail(resp.Body))
	case resp.Status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "":
		return "", skipf("no sync engine here (%s)", scimErrorDetail(resp.Body))
	default:
		return "", statusError(request{Method: "POST", Path: r.xaas.base + "/syncs"}, resp, []int{202, 409})
	}
	if id == "" {
		return "", fmt.Errorf("POST %s/syncs: no sync id in the answer", r.xaas.base)
	}
	return id, nil
}

// waitSync polls a sync until it succeeds or fails.
func (f *flow) waitSync(ctx context.Context, id string, deadline time.Time) (*syncStatus, error) {
	r := f.r
	for {
		req := request{Method: "GET", Path: "/syncs/" + url.PathEscape(id), Dialect: Plain}
		resp, err := f.expectOn(ctx, r.xaas, req, 200)
		if err != nil {
			return nil, err
		}
		var st syncStatus
		if err := decodeInto(resp.Body, &st); err != nil {
			return nil, fmt.Errorf("GET %s/syncs/%s: %w", r.xaas.base, id, err)
		}
		switch st.State {
		case "succeeded", "failed":
			return &st, nil
		case "queued", "running":
		default:
			return nil, fmt.Errorf("sync %s: unknown state %q", id, st.State)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("sync %s still %s after %s", id, st.State, r.cfg.SyncWait)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// recordStates counts the pushed records by meta.sync.
func (f *flow) recordStates(ctx context.Context) (map[string]int, error) {
	r := f.r
	states := map[string]int{}
	for i := 0; i < xaasRecords; i++ {
		ext := fmt.Sprintf("%s-xaas-%d", r.prefix, i)
		req := request{Method: "GET", Path: "/users/" + url.PathEscape(ext), Dialect: Plain}
		resp, err := f.expectOn(ctx, r.xaas, req, 200)
		if err != nil {
			return nil, err
		}
		o, err := decodeObject(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("GET %s/users/%s: %w", r.xaas.base, ext, err)
		}
		states[o.str("meta.sync")]++
	}
	return states, nil
}
