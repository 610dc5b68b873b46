package xaas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

// pushUsers pushes n generated users through the bulk API.
func (h *harness) pushUsers(n int, variant string) BulkResult {
	h.t.Helper()
	var buf bytes.Buffer
	genCSV(&buf, n, variant)
	rec := h.do(http.MethodPost, Prefix+"/users:bulk", "text/csv", &buf)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("bulk: %d %s", rec.Code, rec.Body)
	}
	return decode[BulkResult](h.t, rec)
}

// sessionAudit checks the recorded Okta traffic: per session at most
// maxUploads uploads of at most batch entities, no user twice in a
// session, the order list → create → uploads → start-import, and at least
// gap between an import start and the next session. It returns the number
// of sessions with uploads and of upload requests.
func (h *harness) sessionAudit(maxUploads, batch int, gap time.Duration) (sessions, uploads int) {
	h.t.Helper()
	type sess struct {
		uploads   int
		users     map[string]bool
		triggered bool
	}
	byID := map[string]*sess{}
	var lastTrigger time.Time
	for _, r := range h.fake.Requests() {
		if r.Status >= 400 {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(r.Path, "/api/v1/identity-sources/"), "/")
		switch {
		case r.Method == http.MethodPost && len(parts) == 2:
			if !lastTrigger.IsZero() && r.Time.Sub(lastTrigger) < gap {
				h.t.Errorf("session created %s after an import start, want ≥ %s", r.Time.Sub(lastTrigger), gap)
			}
		case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "start-import":
			s := byID[parts[2]]
			if s == nil || s.uploads == 0 {
				h.t.Errorf("start-import of session %s without uploads", parts[2])
				continue
			}
			s.triggered, lastTrigger = true, r.Time
		case r.Method == http.MethodPost && len(parts) == 4:
			s := byID[parts[2]]
			if s == nil {
				s = &sess{users: map[string]bool{}}
				byID[parts[2]] = s
				sessions++
			}
			if s.triggered {
				h.t.Errorf("upload to session %s after its import started", parts[2])
			}
			s.uploads++
			uploads++
			if s.uploads > maxUploads {
				h.t.Errorf("session %s: upload %d, limit %d", parts[2], s.uploads, maxUploads)
			}
			var body struct {
				Profiles []struct {
					ExternalID string `json:"externalId"`
				} `json:"profiles"`
				ExternalIDs []string `json:"externalIds"`
				Memberships []struct {
					MemberExternalIDs []string `json:"memberExternalIds"`
				} `json:"memberships"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				h.t.Fatal(err)
			}
			n := len(body.Profiles) + len(body.ExternalIDs)
			for _, m := range body.Memberships {
				n += len(m.MemberExternalIDs)
			}
			if n > batch {
				h.t.Errorf("session %s: %s with %d entities, limit %d", parts[2], parts[3], n, batch)
			}
			if parts[3] == "bulk-upsert" || parts[3] == "bulk-delete" {
				for _, p := range body.Profiles {
					if s.users[p.ExternalID] {
						h.t.Errorf("session %s: user %s uploaded twice", parts[2], p.ExternalID)
					}
					s.users[p.ExternalID] = true
				}
			}
		}
	}
	return sessions, uploads
}

func TestSyncSessionsAtOktaLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("10,450 users")
	}
	ctx := context.Background()
	h := newHarness(t, harnessOpts{fake: oktafake.Options{RejectDuplicates: true}})
	const n = 10450
	if res := h.pushUsers(n, ""); res.Created != n {
		t.Fatalf("push: %+v", res)
	}
	start := h.clock.Now()
	run := h.sync(ctx)
	if run.Status.State != store.RunSucceeded || run.Status.Counts.Upserted != n {
		t.Fatalf("run %+v", run.Status)
	}
	sessions, uploads := h.sessionAudit(50, 200, 5*time.Minute)
	if sessions != 2 || uploads != 53 {
		t.Errorf("%d sessions, %d uploads; want 2 (10,000 + 450 users) and 53", sessions, uploads)
	}
	if got := len(h.fake.Users()); got != n {
		t.Errorf("okta has %d users, want %d", got, n)
	}
	if el := h.clock.Now().Sub(start); el < 5*time.Minute {
		t.Errorf("two sessions in %s of (fake) time: the 5-minute gap was not kept", el)
	}
	if c := h.api.get("CreateSession"); c != 2 {
		t.Errorf("%d CreateSession calls, want 2 (none refused)", c)
	}
}

// smallLimits make sessions of 5 uploads of 10 entities (50 per session),
// on the engine and the fake alike.
func smallLimits() (Limits, oktafake.Options) {
	return Limits{BatchSize: 10, UploadsPerSession: 5, EntitiesPerSession: 50, PollInterval: 10 * time.Second},
		oktafake.Options{MaxBatch: 10, MaxUploads: 5, MaxEntities: 50, RejectDuplicates: true}
}

func TestSyncCrashAndResume(t *testing.T) {
	tests := []struct {
		name string
		// crash after Okta answered upload `upload` of session `session`
		// (before the run recorded it), or after the checkpoint that
		// recorded it.
		session, upload int
		afterCheckpoint bool
		otherWorker     bool
		wantAbandoned   int
	}{
		{name: "before checkpoint, first session", session: 0, upload: 2, wantAbandoned: 1},
		{name: "before checkpoint, third session", session: 2, upload: 4, wantAbandoned: 1},
		{name: "after checkpoint, resumes the session", session: 1, upload: 1, afterCheckpoint: true},
		{name: "before checkpoint, another worker after the lease", session: 1, upload: 0, otherWorker: true, wantAbandoned: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			lim, fo := smallLimits()
			var crashed atomic.Bool
			crash := func(_ context.Context, _ string, session, n int) error {
				if session == tc.session && n == tc.upload && crashed.CompareAndSwap(false, true) {
					return errCrash
				}
				return nil
			}
			o := harnessOpts{fake: fo, limits: lim}
			if tc.afterCheckpoint {
				o.afterCP = func(ctx context.Context, tenant string, session, uploads int) error {
					return crash(ctx, tenant, session, uploads-1)
				}
			} else {
				o.after = crash
			}
			h := newHarness(t, o)
			const n = 230 // 5 sessions at 50 per session
			h.pushUsers(n, "")
			id, err := h.engine.StartRun(ctx, testTenant, TriggerAPI)
			if err != nil {
				t.Fatal(err)
			}
			if tc.otherWorker {
				// The crashed worker never comes back; another one takes
				// over once its lease has expired.
				for !crashed.Load() {
					rep, err := h.engine.Tick(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if !rep.NextWake.IsZero() && rep.NextWake.After(h.clock.Now()) {
						h.clock.Set(rep.NextWake)
					}
				}
				other := NewEngine(EngineConfig{Store: h.st, Resolver: StaticResolver{T: Target{API: h.api, SourceID: oktafake.DefaultIdentitySource}},
					Now: h.clock.Now, Limits: lim, Owner: "worker-b"})
				if rep, _ := other.Tick(ctx); rep.Stepped != 0 {
					t.Fatalf("the other worker stepped the run while the lease was held: %+v", rep)
				}
				h.engine = other
			}
			h.drive(ctx, 1000)
			if !crashed.Load() {
				t.Fatal("the crash did not happen")
			}
			run, err := GetRun(ctx, h.st, testTenant, id)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status.State != store.RunSucceeded || run.Status.Counts.Upserted != n || run.Status.Counts.Failed != 0 {
				t.Fatalf("run %+v", run.Status)
			}
			abandoned := 0
			for _, s := range run.Status.Sessions {
				if s.Status == string(okta.StatusClosed) {
					abandoned++
				}
			}
			if abandoned != tc.wantAbandoned {
				t.Errorf("%d sessions cancelled and redone, want %d: %+v", abandoned, tc.wantAbandoned, run.Status.Sessions)
			}
			h.sessionAudit(5, 10, 5*time.Minute)
			users := h.fake.Users()
			if len(users) != n {
				t.Errorf("okta has %d users, want %d", len(users), n)
			}
			if d, _ := h.st.DirtySourceUsers(ctx, testTenant, "", store.ChangeKeyUpTo(h.clock.Now()), 10); len(d) != 0 {
				t.Errorf("%d users still dirty", len(d))
			}
		})
	}
}

// TestSyncCancelledContext kills a step midway through its context (as a
// Lambda timeout would) and resumes.
func TestSyncCancelledContext(t *testing.T) {
	ctx := context.Background()
	lim, fo := smallLimits()
	h := newHarness(t, harnessOpts{fake: fo, limits: lim})
	h.pushUsers(120, "")
	if _, err := h.engine.StartRun(ctx, testTenant, TriggerAPI); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	h.api.fail = func(method string, n int) error {
		if method == "UpsertUsers" && n == 3 {
			cancel()
		}
		return nil
	}
	if _, err := h.engine.Tick(cctx); err != nil {
		t.Logf("tick: %v", err)
	}
	h.api.fail = nil
	h.clock.Advance(h.engine.Limits().RetryDelay + time.Minute)
	h.drive(ctx, 1000)
	runs, _ := ListRuns(ctx, h.st, testTenant, "", 1)
	if runs[0].Status.State != store.RunSucceeded || runs[0].Status.Counts.Upserted != 120 {
		t.Fatalf("run %+v", runs[0].Status)
	}
	if len(h.fake.Users()) != 120 {
		t.Errorf("okta has %d users", len(h.fake.Users()))
	}
	h.sessionAudit(5, 10, 5*time.Minute)
}

func TestSyncRateLimitsAndServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		retry okta.RetryPolicy
		fake  oktafake.Options
	}{
		{name: "429s retried by the client", setup: func(h *harness) { h.fake.ThrottleNext(4) }},
		{name: "a per-minute budget, waits beyond the client's", fake: oktafake.Options{RateLimit: 6},
			retry: okta.RetryPolicy{MaxRateLimitWait: time.Second}},
		{name: "503s retried by the client", setup: func(h *harness) { h.fake.FailNext(3, 503) }},
		{name: "500s beyond the client's retries", setup: func(h *harness) { h.fake.FailNext(8, 500) },
			retry: okta.RetryPolicy{MaxAttempts: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			lim, fo := smallLimits()
			fo.RateLimit = tc.fake.RateLimit
			h := newHarness(t, harnessOpts{fake: fo, limits: lim, retry: tc.retry})
			h.pushUsers(75, "")
			if tc.setup != nil {
				tc.setup(h)
			}
			run := h.sync(ctx)
			if run.Status.State != store.RunSucceeded || run.Status.Counts.Upserted != 75 {
				t.Fatalf("run %+v\n%s", run.Status, tail(h.logs.String(), 3000))
			}
			if len(h.fake.Users()) != 75 {
				t.Errorf("okta has %d users", len(h.fake.Users()))
			}
			throttled := 0
			for _, r := range h.fake.Requests() {
				if r.Status == http.StatusTooManyRequests || r.Status >= 500 {
					throttled++
				}
			}
			if throttled == 0 {
				t.Errorf("no 429 or 5xx was answered: the test did not exercise them")
			}
			h.sessionAudit(5, 10, 5*time.Minute)
		})
	}
}

func TestSyncImportError(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{fake: oktafake.Options{FailImports: true}})
	h.pushUsers(5, "")
	run := h.sync(ctx)
	if run.Status.State != store.RunFailed || !strings.Contains(run.Status.Error, "ERROR") {
		t.Fatalf("run %+v, want failed with the import ERROR", run.Status)
	}
	if d, _ := h.st.DirtySourceUsers(ctx, testTenant, "", store.ChangeKeyUpTo(h.clock.Now()), 10); len(d) != 5 {
		t.Errorf("%d users dirty after a failed import, want all 5", len(d))
	}
	if !strings.Contains(h.logs.String(), `"XaaSSyncFailed":1`) {
		t.Errorf("no alarm metric in the logs")
	}
}

func TestSyncStaleSessions(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	// Someone else (an old Workflows flow) left a session with data.
	client := h.api.OktaAPI
	stale, err := client.CreateSession(ctx, oktafake.DefaultIdentitySource)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.UpsertUsers(ctx, oktafake.DefaultIdentitySource, stale.ID, []okta.User{{ExternalID: "x", Profile: okta.UserProfile{UserName: "x@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	h.pushUsers(3, "")
	if run := h.sync(ctx); run.Status.State != store.RunSucceeded {
		t.Fatalf("run %+v", run.Status)
	}
	if s, _ := h.fake.Session(stale.ID); s.Status != oktafake.StatusClosed {
		t.Errorf("stale session %s, want CLOSED", s.Status)
	}
	if _, ok := h.fake.Users()["x"]; ok {
		t.Errorf("the stale session's data was imported")
	}

	// A triggered import of someone else is waited for, then the gap.
	other, _ := client.CreateSession(ctx, oktafake.DefaultIdentitySource)
	h.clock.Advance(10 * time.Minute)
	other, _ = client.CreateSession(ctx, oktafake.DefaultIdentitySource)
	_ = client.UpsertUsers(ctx, oktafake.DefaultIdentitySource, other.ID, []okta.User{{ExternalID: "y", Profile: okta.UserProfile{UserName: "y@example.com"}}})
	if _, err := client.StartImport(ctx, oktafake.DefaultIdentitySource, other.ID); err != nil {
		t.Fatal(err)
	}
	h.pushUsers(4, "b")
	start := h.clock.Now()
	if run := h.sync(ctx); run.Status.State != store.RunSucceeded || run.Status.Counts.Upserted != 4 {
		t.Fatalf("run %+v", run.Status)
	}
	if h.clock.Now().Sub(start) < 5*time.Minute {
		t.Errorf("the next session did not wait for the gap after the other import")
	}
}

func TestSyncInvalidProfilesAndRefusedChunks(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	h.pushUsers(5, "")
	// No email: the default mapping has no userName for it.
	h.doJSON(http.MethodPut, Prefix+"/users/broken", map[string]any{"first_name": "No", "last_name": "Email"})
	// A last name over Okta's 50 characters.
	h.doJSON(http.MethodPut, Prefix+"/users/long", map[string]any{"email": "long@example.com", "last_name": strings.Repeat("x", 51)})
	run := h.sync(ctx)
	if run.Status.State != store.RunSucceeded || run.Status.Counts.Upserted != 5 || run.Status.Counts.Failed != 2 {
		t.Fatalf("run %+v", run.Status)
	}
	fails := decode[struct {
		Failures []Failure `json:"failures"`
	}](t, h.do(http.MethodGet, Prefix+"/syncs/"+run.Status.ID+"/failures", "", nil))
	if len(fails.Failures) != 2 || !strings.Contains(fails.Failures[0].Detail+fails.Failures[1].Detail, "userName is empty") {
		t.Errorf("failures %+v", fails.Failures)
	}
	failed := decode[struct {
		Users []map[string]any `json:"users"`
	}](t, h.do(http.MethodGet, Prefix+"/users?failed=true", "", nil))
	if len(failed.Users) != 2 {
		t.Errorf("failed users %v", failed.Users)
	}
	// A mapping that fixes them requeues them.
	m, err := NewMapping(map[string]string{"userName": "{email}", "lastName": "{last_name}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SaveMapping(ctx, h.st, testTenant, m); err != nil {
		t.Fatal(err)
	}
	h.doJSON(http.MethodPut, Prefix+"/users/broken", map[string]any{"email": "broken@example.com"})
	run = h.sync(ctx)
	if run.Status.Counts.Upserted != 1 || run.Status.Counts.Failed != 1 {
		t.Errorf("after the mapping change %+v, want broken upserted and long failing again", run.Status.Counts)
	}

	// Okta refuses a chunk: its records are reported and stay dirty.
	h.pushUsers(3, "changed")
	h.api.fail = func(method string, n int) error {
		if method == "UpsertUsers" {
			return &okta.APIError{StatusCode: 400, ErrorCode: okta.CodeValidation, ErrorSummary: "Api validation failed"}
		}
		return nil
	}
	h.clock.Advance(10 * time.Minute)
	run = h.sync(ctx)
	h.api.fail = nil
	if run.Status.State != store.RunSucceeded || run.Status.Counts.Failed != 3 || run.Status.Counts.Upserted != 0 {
		t.Errorf("refused chunk: %+v", run.Status)
	}
	if d, _ := h.st.DirtySourceUsers(ctx, testTenant, "", store.ChangeKeyUpTo(h.clock.Now()), 10); len(d) != 3 {
		t.Errorf("%d users dirty after the refusal, want 3", len(d))
	}
}

func TestSyncGroupsAtSmallLimits(t *testing.T) {
	ctx := context.Background()
	lim, fo := smallLimits()
	h := newHarness(t, harnessOpts{fake: fo, limits: lim})
	h.pushUsers(60, "")
	members := func(from, to int) []string {
		var m []string
		for i := from; i < to; i++ {
			m = append(m, userID(i))
		}
		return m
	}
	for g := range 12 {
		rec := h.doJSON(http.MethodPut, fmt.Sprintf("%s/groups/g%02d", Prefix, g), map[string]any{
			"displayName": fmt.Sprintf("Group %d", g), "members": members(g, g+3+g%4)})
		if rec.Code != http.StatusCreated {
			t.Fatalf("group: %d %s", rec.Code, rec.Body)
		}
	}
	run := h.sync(ctx)
	if run.Status.State != store.RunSucceeded || run.Status.Counts.Groups != 12 {
		t.Fatalf("run %+v", run.Status)
	}
	groups := h.fake.Groups()
	for g := range 12 {
		want := strings.Join(members(g, g+3+g%4), ",")
		if got := strings.Join(groups[fmt.Sprintf("g%02d", g)].Members, ","); got != want {
			t.Errorf("g%02d members %s, want %s", g, got, want)
		}
	}
	// Change two groups' members, delete one.
	h.doJSON(http.MethodPut, Prefix+"/groups/g00", map[string]any{"displayName": "Group 0", "members": members(40, 55)})
	h.doJSON(http.MethodPut, Prefix+"/groups/g01", map[string]any{"displayName": "Group 1 renamed", "members": members(1, 2)})
	h.do(http.MethodDelete, Prefix+"/groups/g02", "", nil)
	run = h.sync(ctx)
	if run.Status.State != store.RunSucceeded || run.Status.Counts.Groups != 3 {
		t.Fatalf("run %+v", run.Status)
	}
	groups = h.fake.Groups()
	if got := strings.Join(groups["g00"].Members, ","); got != strings.Join(members(40, 55), ",") {
		t.Errorf("g00 members %s", got)
	}
	if g := groups["g01"]; g.DisplayName != "Group 1 renamed" || strings.Join(g.Members, ",") != userID(1) {
		t.Errorf("g01 %+v", g)
	}
	if _, ok := groups["g02"]; ok {
		t.Errorf("g02 was not deleted")
	}
	h.sessionAudit(5, 10, 5*time.Minute)
}

func TestTriggers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	// Debounced pushes: 2 minutes of quiet after the last push.
	if err := h.st.SetXaaSSchedule(ctx, testTenant, 0, 2*time.Minute, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.pushUsers(3, "")
	if rep, _ := h.engine.Tick(ctx); len(rep.Started) != 0 || rep.NextWake.Sub(h.clock.Now()) != 2*time.Minute {
		t.Fatalf("tick right after a push: %+v", rep)
	}
	h.clock.Advance(time.Minute)
	h.pushUsers(4, "")
	h.clock.Advance(90 * time.Second)
	if rep, _ := h.engine.Tick(ctx); len(rep.Started) != 0 {
		t.Fatalf("a run started 90 s after the last push: %+v", rep)
	}
	h.clock.Advance(31 * time.Second)
	rep, _ := h.engine.Tick(ctx)
	if len(rep.Started) != 1 {
		t.Fatalf("no run 2 minutes after the last push: %+v", rep)
	}
	h.drive(ctx, 100)
	if len(h.fake.Users()) != 4 {
		t.Errorf("okta has %d users, want 4", len(h.fake.Users()))
	}
	// A scheduled interval: nothing to push, no run.
	if err := h.st.SetXaaSSchedule(ctx, testTenant, time.Hour, 0, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if rep, _ := h.engine.Tick(ctx); len(rep.Started) != 0 || !rep.NextWake.Equal(h.clock.Now().Add(time.Hour)) {
		t.Fatalf("a scheduled run with nothing to push: %+v", rep)
	}
	h.pushUsers(6, "v2")
	if rep, _ := h.engine.Tick(ctx); len(rep.Started) != 0 {
		t.Fatalf("a run started before the interval: %+v", rep)
	}
	h.clock.Advance(time.Hour)
	if rep, _ := h.engine.Tick(ctx); len(rep.Started) != 1 {
		t.Fatalf("no scheduled run: %+v", rep)
	}
	h.drive(ctx, 100)
	if u := h.fake.Users()[userID(5)]; u.Profile["lastName"] != "Lastv2" {
		t.Errorf("user 5 in okta %+v", u)
	}

	// On demand: 202, then 409 with the running id.
	rec := h.do(http.MethodPost, Prefix+"/syncs", "", nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /syncs: %d %s", rec.Code, rec.Body)
	}
	started := decode[map[string]any](t, rec)
	if len(started) != 2 || started["state"] != "queued" || started["id"] == "" {
		t.Errorf("POST /syncs body %v", started)
	}
	rec = h.do(http.MethodPost, Prefix+"/syncs", "", nil)
	if conflict := decode[map[string]any](t, rec); rec.Code != http.StatusConflict || conflict["id"] != started["id"] {
		t.Errorf("second POST /syncs: %d %v", rec.Code, conflict)
	}
	h.drive(ctx, 100)
	got := decode[map[string]any](t, h.do(http.MethodGet, Prefix+"/syncs/"+started["id"].(string), "", nil))
	keys := []string{}
	for k := range got {
		keys = append(keys, k)
	}
	if len(got) != 7 || got["state"] != "succeeded" || got["started"] == nil || got["finished"] == nil {
		t.Errorf("GET /syncs/{id} = %v (keys %v), want exactly id, state, sessions, counts, error, started, finished", got, keys)
	}
	counts := got["counts"].(map[string]any)
	if len(counts) != 5 {
		t.Errorf("counts %v, want upserted, deactivated, groups, memberships, failed", counts)
	}
	list := decode[struct {
		Syncs []RunStatus `json:"syncs"`
	}](t, h.do(http.MethodGet, Prefix+"/syncs", "", nil))
	if len(list.Syncs) != 3 || list.Syncs[0].ID != started["id"] {
		t.Errorf("GET /syncs: %+v", list.Syncs)
	}
}

func TestLeaseKeepsOneWorker(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	h.pushUsers(3, "")
	id, err := h.engine.StartRun(ctx, testTenant, TriggerAPI)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := h.st.AcquireXaaSLease(ctx, testTenant, id, "someone-else", h.clock.Now(), h.clock.Now().Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if rep, _ := h.engine.Tick(ctx); rep.Stepped != 0 {
		t.Fatalf("stepped a run leased by another worker: %+v", rep)
	}
	if _, err := h.engine.StartRun(ctx, testTenant, TriggerAPI); !errors.As(err, new(*RunActiveError)) {
		t.Fatalf("a second run started: %v", err)
	}
	h.clock.Advance(time.Minute + time.Second)
	h.drive(ctx, 100)
	if d, _ := GetRun(ctx, h.st, testTenant, id); d.Status.State != store.RunSucceeded {
		t.Fatalf("run %+v", d.Status)
	}
}
