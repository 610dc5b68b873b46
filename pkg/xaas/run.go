package xaas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// Run triggers.
const (
	TriggerAPI      = "api"      // POST /xaas/v1/syncs
	TriggerSchedule = "schedule" // the tenant's interval elapsed
	TriggerPush     = "push"     // a push, after the debounce
	TriggerCLI      = "cli"      // scimless xaas sync
)

// Phases of a run (see Engine).
const (
	phasePrepare = "prepare" // before a session: cancel stale sessions, respect the gap, create one
	phaseUpload  = "upload"  // uploading into the current session
	phaseTrigger = "trigger" // the current session is full or the data ran out: start its import
	phasePoll    = "poll"    // waiting for Okta to finish the import
	phaseClean   = "clean"   // the import COMPLETED: mark what it carried as synced
	phaseDone    = "done"
)

// runDoc is a run's checkpointed state, stored as the run item's document.
// Every upload to Okta is followed by a conditional write of it, so a run
// interrupted anywhere resumes from its last write.
type runDoc struct {
	ID       string    `json:"id"`
	Tenant   string    `json:"tenant"`
	Trigger  string    `json:"trigger"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
	Phase    string    `json:"phase"`
	// HWM bounds the change keys the run pushes: records changed after the
	// run started wait for the next run, so the run's work is finite and no
	// record is read twice by it.
	HWM string `json:"hwm,omitempty"`
	// UserCursor is the change key up to which every dirty user was
	// uploaded (or failed) in this run's sessions.
	UserCursor  string `json:"userCursor,omitempty"`
	UsersDone   bool   `json:"usersDone,omitempty"`
	GroupCursor string `json:"groupCursor,omitempty"`
	GroupsDone  bool   `json:"groupsDone,omitempty"`
	// MidGroups is set while a page of groups is being uploaded: a run
	// resumed with it set redoes the session.
	MidGroups bool `json:"midGroups,omitempty"`
	// Clean is the next upload log of the current session to mark synced.
	Clean    int          `json:"clean,omitempty"`
	Sessions []sessionDoc `json:"sessions"`
	// Failures are the first failed records, with reasons; Failed counts
	// all of them.
	Failures []Failure `json:"failures,omitempty"`
	Failed   int       `json:"failed"`
	// Total is the number of records waiting when the run started (for
	// progress); approximate.
	Total int64 `json:"total"`
	// Errors counts consecutive steps that failed with a transient error.
	Errors int `json:"errors,omitempty"`
	// Panics counts the steps of the run that panicked; the run fails at
	// Limits.MaxErrors (a step that panics again after a phase succeeded
	// would otherwise reset Errors forever).
	Panics int `json:"panics,omitempty"`
	// Wait says what the run is waiting for, if anything.
	Wait string `json:"wait,omitempty"`
}

// sessionDoc is one Okta session of a run.
type sessionDoc struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Uploads   int       `json:"uploads"`
	Entities  int       `json:"entities"`
	Rejected  []int     `json:"rejected,omitempty"`
	Rejects   int       `json:"rejects,omitempty"`
	Abandoned bool      `json:"abandoned,omitempty"`
	Note      string    `json:"note,omitempty"`
	Counts    Counts    `json:"counts"`
	Created   time.Time `json:"created,omitzero"`
	Triggered time.Time `json:"triggered,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	// Where the session started, to redo it.
	FromUser       string `json:"fromUser,omitempty"`
	FromUsersDone  bool   `json:"fromUsersDone,omitempty"`
	FromGroup      string `json:"fromGroup,omitempty"`
	FromGroupsDone bool   `json:"fromGroupsDone,omitempty"`
}

// Counts are what a run pushed.
type Counts struct {
	// Upserted users (created or updated in Okta).
	Upserted int `json:"upserted"`
	// Deactivated users (inactive or deleted at the source).
	Deactivated int `json:"deactivated"`
	// Groups upserted or deleted.
	Groups int `json:"groups"`
	// Memberships added or removed (one per member).
	Memberships int `json:"memberships"`
	// Failed records: invalid profiles and chunks Okta refused.
	Failed int `json:"failed"`
}

// Failure is a record a run could not push, and why.
type Failure struct {
	ExternalID string `json:"externalId"`
	Kind       string `json:"kind"` // "user" or "group"
	Detail     string `json:"detail"`
	Session    int    `json:"-"`
}

// failureJSON is Failure as stored (with the session index).
type failureJSON struct {
	ExternalID string `json:"externalId"`
	Kind       string `json:"kind"`
	Detail     string `json:"detail"`
	Session    int    `json:"session"`
}

// MarshalJSON stores the session index too.
func (f Failure) MarshalJSON() ([]byte, error) {
	return json.Marshal(failureJSON(f))
}

// UnmarshalJSON reads a stored failure.
func (f *Failure) UnmarshalJSON(b []byte) error {
	var j failureJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Failure(j)
	return nil
}

// SessionStatus is one Okta session of a run, as the API shows it.
type SessionStatus struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Uploads   int        `json:"uploads"`
	Entities  int        `json:"entities"`
	Created   *time.Time `json:"created,omitempty"`
	Triggered *time.Time `json:"triggered,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
}

// RunStatus is a run as GET /xaas/v1/syncs/{id} shows it.
type RunStatus struct {
	ID       string          `json:"id"`
	State    string          `json:"state"`
	Sessions []SessionStatus `json:"sessions"`
	Counts   Counts          `json:"counts"`
	Error    string          `json:"error"`
	Started  *time.Time      `json:"started"`
	Finished *time.Time      `json:"finished"`
}

// RunDetail is a run with what the CLI shows besides RunStatus.
type RunDetail struct {
	Status  RunStatus
	Tenant  string
	Trigger string
	Created time.Time
	// Phase and Wait say what a running run does or waits for.
	Phase string
	Wait  string
	// Processed and Total measure progress (Total is approximate).
	Processed int64
	Total     int64
	// Failures are the first failed records with reasons.
	Failures []Failure
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// detail renders a run document.
func (d *runDoc) detail() *RunDetail {
	st := RunStatus{ID: d.ID, State: d.State, Sessions: []SessionStatus{}, Error: d.Error,
		Started: timePtr(d.Started), Finished: timePtr(d.Finished)}
	var processed int64
	for _, s := range d.Sessions {
		st.Sessions = append(st.Sessions, SessionStatus{ID: s.ID, Status: s.Status, Uploads: s.Uploads, Entities: s.Entities,
			Created: timePtr(s.Created), Triggered: timePtr(s.Triggered), Finished: timePtr(s.Finished)})
		if s.Abandoned {
			continue
		}
		st.Counts.Upserted += s.Counts.Upserted
		st.Counts.Deactivated += s.Counts.Deactivated
		st.Counts.Groups += s.Counts.Groups
		st.Counts.Memberships += s.Counts.Memberships
		processed += int64(s.Counts.Upserted + s.Counts.Deactivated)
	}
	st.Counts.Failed = d.Failed
	processed += int64(d.Failed)
	total := max(d.Total, processed)
	if d.State == store.RunSucceeded || d.State == store.RunFailed {
		total = processed
	}
	failures := d.Failures
	if failures == nil {
		failures = []Failure{}
	}
	return &RunDetail{Status: st, Tenant: d.Tenant, Trigger: d.Trigger, Created: d.Created, Phase: d.Phase, Wait: d.Wait,
		Processed: processed, Total: total, Failures: failures}
}

func decodeRun(r *store.XaaSRun) (*runDoc, error) {
	var d runDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return nil, fmt.Errorf("sync run %s: corrupt state: %w", r.ID, err)
	}
	return &d, nil
}

// ErrRunNotFound means no such run.
var ErrRunNotFound = errors.New("no such sync run")

// RunActiveError means a run of the tenant is already queued or running.
type RunActiveError struct {
	// ID is the active run.
	ID string
}

// Error says which run is active.
func (e *RunActiveError) Error() string { return "sync run " + e.ID + " is already queued or running" }

// GetRun returns one run of the tenant.
func GetRun(ctx context.Context, st *store.Store, tenant, id string) (*RunDetail, error) {
	r, err := st.GetXaaSRun(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrRunNotFound
	}
	if err != nil {
		return nil, err
	}
	d, err := decodeRun(r)
	if err != nil {
		return nil, err
	}
	return d.detail(), nil
}

// ListRuns returns up to limit runs of the tenant, newest first, before the
// run id before (from the start when empty).
func ListRuns(ctx context.Context, st *store.Store, tenant, before string, limit int) ([]*RunDetail, error) {
	runs, err := st.ListXaaSRuns(ctx, tenant, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*RunDetail, 0, len(runs))
	for _, r := range runs {
		d, err := decodeRun(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d.detail())
	}
	return out, nil
}
