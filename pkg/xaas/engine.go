package xaas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

// Limits tune the sync engine. Zero fields take DefaultLimits' values.
type Limits struct {
	// BatchSize is the most entities per upload (Okta: 200).
	BatchSize int
	// UploadsPerSession is the most uploads per session (Okta: 50).
	UploadsPerSession int
	// EntitiesPerSession is the most entities per session (Okta: 10,000).
	EntitiesPerSession int
	// SessionGap is the least time between starting an import and creating
	// the next session (Okta: 5 minutes); negative: none.
	SessionGap time.Duration
	// PollInterval is how often a triggered import is checked.
	PollInterval time.Duration
	// RetryDelay is the wait after a transient failure (or a refused session).
	RetryDelay time.Duration
	// Lease is how long a worker owns a tenant's run without renewing.
	Lease time.Duration
	// MaxRunAge fails a run that has not finished after it.
	MaxRunAge time.Duration
	// MaxErrors fails a run after this many consecutive failed steps.
	MaxErrors int
	// Margin is the time kept free before a deadline: no upload starts later.
	Margin time.Duration
	// MaxFailures is how many failed records a run keeps with reasons.
	MaxFailures int
}

// DefaultLimits returns Okta's limits and the engine's defaults.
func DefaultLimits() Limits {
	return Limits{
		BatchSize:          okta.MaxBatchSize,
		UploadsPerSession:  okta.MaxUploadsPerSession,
		EntitiesPerSession: okta.MaxEntitiesPerSession,
		SessionGap:         okta.MinSessionGap,
		PollInterval:       15 * time.Second,
		RetryDelay:         time.Minute,
		Lease:              2 * time.Minute,
		MaxRunAge:          24 * time.Hour,
		MaxErrors:          10,
		Margin:             5 * time.Second,
		MaxFailures:        200,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	pickD := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	pick(&l.BatchSize, d.BatchSize)
	pick(&l.UploadsPerSession, d.UploadsPerSession)
	pick(&l.EntitiesPerSession, d.EntitiesPerSession)
	pick(&l.MaxErrors, d.MaxErrors)
	pick(&l.MaxFailures, d.MaxFailures)
	pickD(&l.SessionGap, d.SessionGap)
	pickD(&l.PollInterval, d.PollInterval)
	pickD(&l.RetryDelay, d.RetryDelay)
	pickD(&l.Lease, d.Lease)
	pickD(&l.MaxRunAge, d.MaxRunAge)
	pickD(&l.Margin, d.Margin)
	if l.SessionGap < 0 {
		l.SessionGap = 0
	}
	l.BatchSize = min(l.BatchSize, okta.MaxBatchSize)
	return l
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Store    *store.Store
	Resolver Resolver
	// Logger receives JSON lines about runs (never record contents).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil). Okta's session gap, polls and
	// leases are measured with it; deadlines use the real time.
	Now func() time.Time
	// Owner identifies this worker in leases (random when empty).
	Owner string
	// Limits tune the engine.
	Limits Limits
	// Interval and Debounce apply to tenants without their own schedule:
	// the time between scheduled runs (0: none) and the quiet time after a
	// push before a run starts (0: pushes do not start runs).
	Interval time.Duration
	Debounce time.Duration
	// Concurrency bounds the tenants a tick works on at once (4 when 0).
	Concurrency int
	// MetricDimensions are added to the metrics a finished run emits
	// (FunctionConfig.MetricDimensions on Lambda; none when nil).
	MetricDimensions map[string]string
	// AfterUpload, if set, is called after each upload Okta answered and
	// before the run records it; an error stops the step at once, as a
	// crash would (tests).
	AfterUpload func(ctx context.Context, tenant string, session, upload int) error
	// AfterCheckpoint, if set, is called after the run's state is written
	// following an upload; an error stops the step at once (tests).
	AfterCheckpoint func(ctx context.Context, tenant string, session, uploads int) error
}

// Engine runs the XaaS sync: per tenant, a resumable state machine
// checkpointed in the table.
//
// One run: list the identity source's sessions and cancel stale unfinished
// ones → wait out Okta's gap since the last import → create a session →
// upload the dirty users (active ones with bulk-upsert, inactive and
// deleted ones with bulk-delete, 200 per upload), then the dirty groups
// (bulk-groups-upsert/-delete) and their membership changes
// (bulk-group-memberships-upsert/-delete) → start the import when the
// session is full (50 uploads or 10,000 entities) or the data ran out →
// poll until COMPLETED → mark what the session carried as synced (only the
// versions sent: a record changed meanwhile stays dirty) → next session,
// until every record dirty when the run started is pushed.
//
// Every upload is logged (which records, which versions) before it is sent
// and the run's state is written after; a run interrupted between the two
// cannot know whether Okta got the upload, so it cancels that session and
// redoes it in a new one: no record is uploaded twice in one session, and
// none is lost. Waiting (the 5-minute gap, an import in progress, a rate
// limit) ends a step; the next tick continues.
type Engine struct {
	store    *store.Store
	resolver Resolver
	log      *slog.Logger
	now      func() time.Time
	owner    string
	lim      Limits
	interval time.Duration
	debounce time.Duration
	conc     int
	after    func(ctx context.Context, tenant string, session, upload int) error
	afterCP  func(ctx context.Context, tenant string, session, uploads int) error
	dims     map[string]string
}

// NewEngine returns an engine for cfg.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{store: cfg.Store, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now, owner: cfg.Owner,
		lim: cfg.Limits.withDefaults(), interval: cfg.Interval, debounce: cfg.Debounce, conc: cfg.Concurrency,
		after: cfg.AfterUpload, afterCP: cfg.AfterCheckpoint, dims: cfg.MetricDimensions}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.owner == "" {
		e.owner = "worker-" + randomHex(6)
	}
	if e.conc <= 0 {
		e.conc = 4
	}
	return e
}

// Limits returns the engine's limits.
func (e *Engine) Limits() Limits { return e.lim }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRunID returns a run id that sorts by creation time.
func newRunID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000Z") + "-" + randomHex(4)
}

// configured reports whether the tenant has an Okta target.
func (e *Engine) configured(ctx context.Context, tenant string) error {
	if c, ok := e.resolver.(interface {
		Configured(ctx context.Context, tenant string) error
	}); ok {
		return c.Configured(ctx, tenant)
	}
	_, err := e.resolver.Target(ctx, tenant)
	return err
}

// Configured reports whether the tenant's Okta org is configured (cheaply:
// the configuration item, not the secret).
func (r *TableResolver) Configured(ctx context.Context, tenant string) error {
	c, err := LoadOktaConfig(ctx, r.Store, tenant)
	if err != nil {
		return err
	}
	return c.Validate()
}

// StartRun queues a run of the tenant and returns its id. If a run is
// queued or running it returns a *RunActiveError with that run's id; a
// tenant without an Okta org gets ErrNotConfigured.
func (e *Engine) StartRun(ctx context.Context, tenant, trigger string) (string, error) {
	if err := e.configured(ctx, tenant); err != nil {
		return "", err
	}
	return e.startRun(ctx, tenant, trigger, time.Time{})
}

func (e *Engine) startRun(ctx context.Context, tenant, trigger string, nextDue time.Time) (string, error) {
	now := e.now()
	d := runDoc{ID: newRunID(now), Tenant: tenant, Trigger: trigger, State: store.RunQueued, Created: now,
		Phase: phasePrepare, Sessions: []sessionDoc{}}
	doc, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	active, err := e.store.StartXaaSRun(ctx, tenant, &store.XaaSRun{ID: d.ID, State: d.State, Doc: doc, Created: now}, nextDue)
	if errors.Is(err, store.ErrConflict) {
		return active, &RunActiveError{ID: active}
	}
	if err != nil {
		return "", err
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas sync queued", slog.String("tenant", tenant), slog.String("run", d.ID),
		slog.String("trigger", trigger))
	return d.ID, nil
}

// TickReport says what a tick did.
type TickReport struct {
	// Tenants is how many tenants have sync state.
	Tenants int `json:"tenants"`
	// Started lists the runs the tick started (schedule or debounced push).
	Started []string `json:"started"`
	// Stepped is how many runs the tick worked on.
	Stepped int `json:"stepped"`
	// Active is how many runs are queued or running after the tick.
	Active int `json:"active"`
	// NextWake is the earliest time something is due (zero: nothing).
	NextWake time.Time `json:"nextWake,omitzero"`
}

func (r *TickReport) wake(t time.Time) {
	if t.IsZero() {
		return
	}
	if r.NextWake.IsZero() || t.Before(r.NextWake) {
		r.NextWake = t
	}
}

// Tick does what is due for every tenant: it starts the runs that the
// tenant's schedule or a debounced push calls for, and works on active runs
// whose next step is due and that no other worker holds. This is what the
// EventBridge schedule (and the local loop) calls. Work stops before ctx's
// deadline (less Limits.Margin) and is resumed by the next tick.
func (e *Engine) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	syncs, err := e.store.ListXaaSSyncs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Tenants = len(syncs)
	now := e.now()
	type job struct{ tenant, run string }
	var jobs []job
	for _, s := range syncs {
		interval, debounce := e.interval, e.debounce
		if s.Scheduled {
			interval, debounce = s.Interval, s.Debounce
		}
		if s.Run == "" {
			trigger, next := "", time.Time{}
			pushPending := debounce > 0 && s.PushAt.After(s.PushHandled)
			switch {
			case interval > 0 && !now.Before(s.NextDue):
				trigger, next = TriggerSchedule, now.Add(interval)
				if !s.PushAt.After(s.PushHandled) && !e.hasDirty(ctx, s.Tenant) {
					// Nothing to push: no run, only the next date.
					trigger = ""
					if err := e.store.SetXaaSNextDue(ctx, s.Tenant, next); err != nil {
						e.log.LogAttrs(ctx, slog.LevelError, "xaas schedule update failed", slog.String("tenant", s.Tenant), errAttr(err))
					}
					s.NextDue = next
				}
			case pushPending && (!now.Before(s.PushAt.Add(debounce)) ||
				(!s.PushFirst.IsZero() && !now.Before(s.PushFirst.Add(10*debounce)))):
				trigger = TriggerPush
			}
			if trigger != "" {
				if err := e.configured(ctx, s.Tenant); err == nil {
					id, err := e.startRun(ctx, s.Tenant, trigger, next)
					if err == nil {
						rep.Started = append(rep.Started, id)
						s.Run, s.Due = id, now
					} else if !errors.As(err, new(*RunActiveError)) {
						e.log.LogAttrs(ctx, slog.LevelError, "xaas sync start failed", slog.String("tenant", s.Tenant), errAttr(err))
					}
				} else if trigger == TriggerSchedule {
					// Not configured: move the schedule on rather than retry every tick.
					_ = e.store.SetXaaSNextDue(ctx, s.Tenant, next)
					s.NextDue = next
				}
			}
			if s.Run == "" {
				if interval > 0 {
					rep.wake(s.NextDue)
				}
				if pushPending {
					rep.wake(s.PushAt.Add(debounce))
				}
				continue
			}
		}
		rep.Active++
		switch {
		case now.Before(s.Due):
			rep.wake(s.Due)
		case s.Owner != e.owner && now.Before(s.LeaseUntil):
			rep.wake(s.LeaseUntil)
		default:
			jobs = append(jobs, job{s.Tenant, s.Run})
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, e.conc)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			due, stepped, finished := e.work(ctx, j.tenant, j.run)
			mu.Lock()
			defer mu.Unlock()
			if stepped {
				rep.Stepped++
			}
			if finished {
				rep.Active--
			} else {
				rep.wake(due)
			}
		}()
	}
	wg.Wait()
	return rep, nil
}

// hasDirty reports whether the tenant has records waiting for a push (two
// Queries of one item at most); on error it says yes.
func (e *Engine) hasDirty(ctx context.Context, tenant string) bool {
	upTo := store.ChangeKeyUpTo(e.now().Add(time.Hour))
	users, err := e.store.DirtySourceUsers(ctx, tenant, "", upTo, 1)
	if err != nil || len(users) > 0 {
		return true
	}
	groups, err := e.store.DirtySourceGroups(ctx, tenant, "", upTo, 1)
	return err != nil || len(groups) > 0
}

// work leases a tenant's run, steps it and releases the lease with when it
// is next due.
//
// A panic in the step is logged and counts as a failed step: the run is
// retried after Limits.RetryDelay (and fails after Limits.MaxErrors
// failed steps in a row).
func (e *Engine) work(ctx context.Context, tenant, run string) (due time.Time, stepped, finished bool) {
	now := e.now()
	until := now.Add(e.lim.Lease)
	ok, err := e.store.AcquireXaaSLease(ctx, tenant, run, e.owner, now, until)
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "xaas sync lease failed", slog.String("tenant", tenant), errAttr(err))
		return now.Add(e.lim.RetryDelay), false, false
	}
	if !ok {
		return now.Add(e.lim.PollInterval), false, false
	}
	due, finished, err = e.safeStep(ctx, tenant, run, until)
	if errors.Is(err, errCrashed) {
		return until, true, false // a simulated crash keeps its lease until it expires
	}
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "xaas sync step failed", slog.String("tenant", tenant), slog.String("run", run), errAttr(err))
		due = e.now().Add(e.lim.RetryDelay)
	}
	if finished {
		return time.Time{}, true, true
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.store.ReleaseXaaSLease(rctx, tenant, e.owner, due); err != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "xaas sync lease release failed", slog.String("tenant", tenant), errAttr(err))
	}
	return due, true, false
}

// safeStep is step, with a panic counted as a failed step (see
// afterPanic).
func (e *Engine) safeStep(ctx context.Context, tenant, run string, lease time.Time) (due time.Time, finished bool, err error) {
	defer func() {
		if perr := recovered(ctx, e.log, "xaas sync step panicked", recover(), slog.String("tenant", tenant), slog.String("run", run)); perr != nil {
			due, finished, err = e.afterPanic(ctx, tenant, run, lease, perr)
		}
	}()
	return e.step(ctx, tenant, run, lease)
}

// afterPanic counts a step that panicked as a failed step of the run, on
// the state last checkpointed (what the step held in memory may be half
// updated): the run is retried after Limits.RetryDelay, and fails once
// Limits.MaxErrors of its steps panicked.
func (e *Engine) afterPanic(ctx context.Context, tenant, runID string, lease time.Time, perr error) (time.Time, bool, error) {
	r, err := e.store.GetXaaSRun(ctx, tenant, runID)
	if err != nil {
		return time.Time{}, false, errors.Join(perr, err)
	}
	doc, err := decodeRun(r)
	if err != nil {
		return time.Time{}, false, errors.Join(perr, err)
	}
	if doc.Phase == phaseDone {
		return time.Time{}, true, e.store.FinishXaaSRun(ctx, tenant, runID)
	}
	st := &stepper{e: e, tenant: tenant, run: r, doc: doc, lease: lease, seenFor: -1}
	doc.Errors++
	doc.Panics++
	if doc.Panics >= e.lim.MaxErrors {
		return time.Time{}, true, st.finish(ctx, store.RunFailed, fmt.Sprintf("giving up after %d failed attempts: an internal error (see the logs)", doc.Panics))
	}
	doc.Wait = "retrying after an internal error"
	if err := st.saveDetached(ctx); err != nil {
		return time.Time{}, false, errors.Join(perr, err)
	}
	return e.now().Add(e.lim.RetryDelay), false, nil
}

// safeTick is Tick, with a panic turned into its error.
func (e *Engine) safeTick(ctx context.Context) (rep TickReport, err error) {
	defer func() {
		if perr := recovered(ctx, e.log, "xaas tick panicked", recover()); perr != nil {
			err = perr
		}
	}()
	return e.Tick(ctx)
}

// Loop ticks every interval until ctx is done (the local run). A tick that
// fails or panics is logged; the next one runs as usual.
func (e *Engine) Loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := e.safeTick(ctx); err != nil && ctx.Err() == nil {
			e.log.LogAttrs(ctx, slog.LevelError, "xaas tick failed", errAttr(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Errors steering a step.
var (
	// errCrashed stops a step at once (AfterUpload's error).
	errCrashed = errors.New("crashed")
	// errLost means another worker moved the run on.
	errLost = errors.New("the run was moved on by another worker")
)

// waitErr ends a step until a time.
type waitErr struct {
	until time.Time
	why   string
}

func (w *waitErr) Error() string { return "waiting: " + w.why }

// fatalErr fails the run.
type fatalErr struct{ err error }

func (f *fatalErr) Error() string { return f.err.Error() }
func (f *fatalErr) Unwrap() error { return f.err }

// sessionGone means the session no longer takes uploads (expired, closed).
type sessionGone struct{ status string }

func (s *sessionGone) Error() string {
	return "the Okta session no longer takes uploads (" + s.status + ")"
}

// stepper is one step of one run.
type stepper struct {
	e        *Engine
	tenant   string
	run      *store.XaaSRun
	doc      *runDoc
	lease    time.Time
	target   *Target
	mapping  *Mapping
	seen     map[string]bool // users uploaded in the current session
	seenFor  int             // session index seen is for; -1 none
	slowest  time.Duration   // slowest upload of this step
	deadline time.Time
	// pendingDelta is the change of the tenant's pending count not yet
	// written (records that failed).
	pendingDelta int
}

// step works on a run until it must wait, finishes or ctx's deadline
// nears. due is when it next needs a worker.
func (e *Engine) step(ctx context.Context, tenant, runID string, lease time.Time) (due time.Time, finished bool, err error) {
	r, err := e.store.GetXaaSRun(ctx, tenant, runID)
	if errors.Is(err, store.ErrNotFound) {
		_ = e.store.FinishXaaSRun(ctx, tenant, runID)
		return time.Time{}, true, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	doc, err := decodeRun(r)
	if err != nil {
		_ = e.store.FinishXaaSRun(ctx, tenant, runID)
		return time.Time{}, true, err
	}
	st := &stepper{e: e, tenant: tenant, run: r, doc: doc, lease: lease, seenFor: -1}
	if dl, ok := ctx.Deadline(); ok {
		st.deadline = dl
	}
	if doc.State == store.RunSucceeded || doc.State == store.RunFailed {
		return time.Time{}, true, e.store.FinishXaaSRun(ctx, tenant, runID)
	}
	now := e.now()
	if doc.State == store.RunQueued {
		doc.State, doc.Started, doc.Phase = store.RunRunning, now, phasePrepare
		doc.HWM = store.ChangeKeyUpTo(now)
		if s, err := e.store.GetXaaSSync(ctx, tenant); err == nil {
			doc.Total = max(s.Pending, 0)
		}
		if err := st.save(ctx); err != nil {
			return time.Time{}, false, err
		}
		e.log.LogAttrs(ctx, slog.LevelInfo, "xaas sync started", slog.String("tenant", tenant), slog.String("run", runID),
			slog.String("trigger", doc.Trigger), slog.Int64("pending", doc.Total))
	}
	for {
		if doc.Phase == phaseDone {
			return time.Time{}, true, nil
		}
		if now := e.now(); now.Sub(doc.Started) > e.lim.MaxRunAge {
			return time.Time{}, true, st.finish(ctx, store.RunFailed, fmt.Sprintf("the run did not finish within %s", e.lim.MaxRunAge))
		}
		var err error
		switch doc.Phase {
		case phasePrepare:
			err = st.prepare(ctx)
		case phaseUpload:
			err = st.uploadPhase(ctx)
		case phaseTrigger:
			err = st.trigger(ctx)
		case phasePoll:
			err = st.poll(ctx)
		case phaseClean:
			err = st.clean(ctx)
		default:
			err = &fatalErr{fmt.Errorf("unknown phase %q", doc.Phase)}
		}
		if err == nil {
			doc.Errors, doc.Wait = 0, ""
			continue
		}
		var w *waitErr
		var fe *fatalErr
		switch {
		case errors.Is(err, errCrashed), errors.Is(err, errLost):
			return time.Time{}, false, err
		case errors.As(err, &w):
			doc.Wait = w.why
			if err := st.saveDetached(ctx); err != nil {
				return time.Time{}, false, err
			}
			return w.until, false, nil
		case errors.As(err, &fe):
			return time.Time{}, true, st.finish(ctx, store.RunFailed, fe.err.Error())
		}
		// Transient: retry later, up to MaxErrors consecutive failed steps.
		doc.Errors++
		if doc.Errors >= e.lim.MaxErrors {
			return time.Time{}, true, st.finish(ctx, store.RunFailed, fmt.Sprintf("giving up after %d failed attempts: %v", doc.Errors, err))
		}
		doc.Wait = "retrying after an error"
		e.log.LogAttrs(ctx, slog.LevelWarn, "xaas sync step will be retried", slog.String("tenant", tenant),
			slog.String("run", runID), slog.String("phase", doc.Phase), slog.Int("attempt", doc.Errors), errAttr(err))
		if serr := st.saveDetached(ctx); serr != nil {
			return time.Time{}, false, serr
		}
		return e.now().Add(e.lim.RetryDelay), false, nil
	}
}

// save writes the run's state, conditioned on the version read.
func (st *stepper) save(ctx context.Context) error {
	if st.pendingDelta != 0 {
		if err := st.e.store.AddXaaSPending(ctx, st.tenant, st.pendingDelta); err != nil {
			return err
		}
		st.pendingDelta = 0
	}
	doc, err := json.Marshal(st.doc)
	if err != nil {
		return err
	}
	prev := st.run.Version
	st.run.Doc, st.run.State = doc, st.doc.State
	err = st.e.store.UpdateXaaSRun(ctx, st.tenant, st.run, prev)
	if errors.Is(err, store.ErrVersion) {
		return errLost
	}
	return err
}

// checkpoint saves after an upload.
func (st *stepper) checkpoint(ctx context.Context) error {
	if err := st.save(ctx); err != nil {
		return err
	}
	if st.e.afterCP != nil {
		if err := st.e.afterCP(ctx, st.tenant, st.curIndex(), st.cur().Uploads); err != nil {
			return fmt.Errorf("%w: %v", errCrashed, err)
		}
	}
	return nil
}

// saveDetached saves even when ctx has just ended.
func (st *stepper) saveDetached(ctx context.Context) error {
	if ctx.Err() == nil {
		return st.save(ctx)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return st.save(sctx)
}

func (st *stepper) cur() *sessionDoc { return &st.doc.Sessions[len(st.doc.Sessions)-1] }

func (st *stepper) curIndex() int { return len(st.doc.Sessions) - 1 }

// resolve returns the tenant's Okta target and mapping.
func (st *stepper) resolve(ctx context.Context) (*Target, error) {
	if st.target != nil {
		return st.target, nil
	}
	t, err := st.e.resolver.Target(ctx, st.tenant)
	if errors.Is(err, ErrNotConfigured) {
		return nil, &fatalErr{err}
	}
	if err != nil {
		return nil, err
	}
	m, err := LoadMapping(ctx, st.e.store, st.tenant)
	if err != nil {
		return nil, &fatalErr{fmt.Errorf("profile mapping: %w", err)}
	}
	st.target, st.mapping = &t, m
	return st.target, nil
}

// budget reports whether n more uploads fit before the deadline.
func (st *stepper) budget(n int) error {
	if st.deadline.IsZero() {
		return nil
	}
	est := max(st.slowest, 2*time.Second)
	if time.Until(st.deadline) < st.e.lim.Margin+time.Duration(n)*est {
		return &waitErr{until: st.e.now(), why: "continuing in the next invocation"}
	}
	return nil
}

// oktaErr classifies an Okta error of a session call: a fatal one (bad
// credentials, missing scope, unknown identity source) fails the run.
func oktaErr(err error) error {
	var ae *okta.APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return &fatalErr{err}
		case http.StatusTooManyRequests:
			until := ae.RateLimitReset
			if until.IsZero() {
				until = time.Now().Add(time.Minute)
			}
			return &waitErr{until: until, why: "Okta rate limit"}
		}
	}
	return err
}

// prepare opens the run's next session.
func (st *stepper) prepare(ctx context.Context) error {
	d, e := st.doc, st.e
	if !d.UsersDone {
		peek, err := e.store.DirtySourceUsers(ctx, st.tenant, d.UserCursor, d.HWM, 1)
		if err != nil {
			return err
		}
		d.UsersDone = len(peek) == 0
	}
	if !d.GroupsDone {
		peek, err := e.store.DirtySourceGroups(ctx, st.tenant, d.GroupCursor, d.HWM, 1)
		if err != nil {
			return err
		}
		d.GroupsDone = len(peek) == 0
	}
	if d.UsersDone && d.GroupsDone {
		return st.finish(ctx, store.RunSucceeded, "")
	}
	t, err := st.resolve(ctx)
	if err != nil {
		return err
	}
	if s, err := e.store.GetXaaSSync(ctx, st.tenant); err == nil && e.lim.SessionGap > 0 && !s.LastTrigger.IsZero() {
		if until := s.LastTrigger.Add(e.lim.SessionGap); e.now().Before(until) {
			return &waitErr{until: until, why: "Okta's gap between an import and the next session"}
		}
	}
	sessions, err := t.API.ListSessions(ctx, t.SourceID)
	if err != nil {
		return oktaErr(err)
	}
	for _, s := range sessions {
		switch {
		case !s.Status.Active():
		case s.Status.Cancellable():
			if err := t.API.CancelSession(ctx, t.SourceID, s.ID); err != nil && !okta.HasCode(err, okta.CodeValidation) {
				return oktaErr(err)
			}
			e.log.LogAttrs(ctx, slog.LevelInfo, "xaas stale session cancelled", slog.String("tenant", st.tenant),
				slog.String("run", d.ID), slog.String("session", s.ID), slog.String("status", string(s.Status)))
		default:
			return &waitErr{until: e.now().Add(e.lim.PollInterval), why: "another import of the identity source is in progress (session " + s.ID + ")"}
		}
	}
	s, err := t.API.CreateSession(ctx, t.SourceID)
	if okta.HasCode(err, okta.CodeValidation) {
		return &waitErr{until: e.now().Add(e.lim.RetryDelay), why: "Okta refused a new session (an active session or the 5-minute gap)"}
	}
	if err != nil {
		return oktaErr(err)
	}
	d.Sessions = append(d.Sessions, sessionDoc{ID: s.ID, Status: string(s.Status), Created: e.now(),
		FromUser: d.UserCursor, FromUsersDone: d.UsersDone, FromGroup: d.GroupCursor, FromGroupsDone: d.GroupsDone})
	d.Phase, d.Clean, d.MidGroups = phaseUpload, 0, false
	st.seen, st.seenFor = map[string]bool{}, st.curIndex()
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas session created", slog.String("tenant", st.tenant), slog.String("run", d.ID),
		slog.String("session", s.ID), slog.Int("index", st.curIndex()))
	return st.save(ctx)
}

// uploadPhase fills the current session.
func (st *stepper) uploadPhase(ctx context.Context) error {
	d := st.doc
	if _, err := st.resolve(ctx); err != nil {
		return err
	}
	sess := st.cur()
	if st.seenFor != st.curIndex() {
		// Resuming: what did this session carry, and did an upload's
		// outcome get lost?
		logs, err := st.e.store.XaaSUploadLogs(ctx, st.tenant, d.ID, st.curIndex())
		if err != nil {
			return err
		}
		st.seen = map[string]bool{}
		for _, l := range logs {
			if l.Index >= sess.Uploads {
				return st.abandon(ctx, "an upload was interrupted before its outcome was recorded")
			}
			if strings.HasPrefix(l.Kind, "users.") {
				for _, id := range l.IDs {
					st.seen[id] = true
				}
			}
		}
		st.seenFor = st.curIndex()
	}
	if d.MidGroups {
		return st.abandon(ctx, "a page of groups was interrupted")
	}
	full := false
	var err error
	if !d.UsersDone {
		full, err = st.uploadUsers(ctx)
	}
	if err == nil && !full && !d.GroupsDone {
		full, err = st.uploadGroups(ctx)
	}
	var gone *sessionGone
	if errors.As(err, &gone) {
		return st.abandon(ctx, gone.Error())
	}
	if err != nil {
		return err
	}
	if sess.Uploads-len(sess.Rejected) == 0 {
		// Nothing Okta accepted: close the empty session.
		if err := st.target.API.CancelSession(ctx, st.target.SourceID, sess.ID); err != nil && !okta.HasCode(err, okta.CodeValidation) {
			return oktaErr(err)
		}
		sess.Status, sess.Finished, d.Phase = string(okta.StatusClosed), st.e.now(), phasePrepare
		return st.save(ctx)
	}
	d.Phase = phaseTrigger
	return st.save(ctx)
}

// abandon cancels the current session and rewinds the run to where the
// session started, so that a new session carries its records once.
func (st *stepper) abandon(ctx context.Context, why string) error {
	d, sess := st.doc, st.cur()
	if t, err := st.resolve(ctx); err == nil {
		if err := t.API.CancelSession(ctx, t.SourceID, sess.ID); err != nil {
			st.e.log.LogAttrs(ctx, slog.LevelWarn, "xaas session cancel failed", slog.String("tenant", st.tenant),
				slog.String("session", sess.ID), errAttr(err))
		}
	}
	idx := st.curIndex()
	sess.Status, sess.Abandoned, sess.Note, sess.Finished = string(okta.StatusClosed), true, why, st.e.now()
	d.Failed -= sess.Rejects
	d.Failures = slices.DeleteFunc(d.Failures, func(f Failure) bool {
		return f.Session == idx && f.Detail != "" && strings.HasPrefix(f.Detail, "okta:")
	})
	d.UserCursor, d.UsersDone, d.GroupCursor, d.GroupsDone = sess.FromUser, sess.FromUsersDone, sess.FromGroup, sess.FromGroupsDone
	d.MidGroups, d.Phase = false, phasePrepare
	st.seenFor = -1
	st.e.log.LogAttrs(ctx, slog.LevelWarn, "xaas session abandoned, its records go into a new session", slog.String("tenant", st.tenant),
		slog.String("run", d.ID), slog.String("session", sess.ID), slog.String("reason", why))
	return st.save(ctx)
}

// capacity returns how many more dirty users may be read into the current
// session given what is buffered: the most p such that, however they split
// between upserts and deactivations, every buffer still fits the session's
// remaining uploads and entities.
func (st *stepper) capacity(sess *sessionDoc, bu, bd int) int {
	b := st.e.lim.BatchSize
	ceil := func(n int) int { return (n + b - 1) / b }
	uploadsLeft := st.e.lim.UploadsPerSession - sess.Uploads
	entLeft := st.e.lim.EntitiesPerSession - sess.Entities - bu - bd
	for p := min(b, entLeft); p > 0; p-- {
		need := max(ceil(bu+p)+ceil(bd), ceil(bu)+ceil(bd+p))
		if need <= uploadsLeft {
			return p
		}
	}
	return 0
}

type pendingUser struct {
	u    *store.SourceUser
	prev string // the change key before it in the scan
	prof okta.User
}

// uploadUsers uploads dirty users into the current session until it is
// full (true) or the users run out.
func (st *stepper) uploadUsers(ctx context.Context) (bool, error) {
	d, e := st.doc, st.e
	sess := st.cur()
	b := e.lim.BatchSize
	var up, del []pendingUser
	scan := d.UserCursor
	commit := func() {
		safe := scan
		if len(up) > 0 {
			safe = up[0].prev
		}
		if len(del) > 0 && (len(up) == 0 || del[0].prev < safe) {
			safe = del[0].prev
		}
		d.UserCursor = safe
	}
	flush := func(deactivate bool, n int) error {
		buf := &up
		if deactivate {
			buf = &del
		}
		batch := (*buf)[:n]
		ids := make([]string, n)
		vers := make([]int64, n)
		dels := make([]bool, n)
		for i, p := range batch {
			ids[i], vers[i], dels[i] = p.u.ExternalID, p.u.Version, p.u.Deleted
		}
		var send func(context.Context) error
		kind := "users.upsert"
		if deactivate {
			kind = "users.deactivate"
			send = func(ctx context.Context) error {
				return st.target.API.DeactivateUsers(ctx, st.target.SourceID, sess.ID, ids)
			}
		} else {
			users := make([]okta.User, n)
			for i, p := range batch {
				users[i] = p.prof
			}
			send = func(ctx context.Context) error {
				return st.target.API.UpsertUsers(ctx, st.target.SourceID, sess.ID, users)
			}
		}
		ok, err := st.upload(ctx, kind, ids, vers, dels, "user", send)
		if err != nil {
			return err
		}
		if ok {
			if deactivate {
				sess.Counts.Deactivated += n
			} else {
				sess.Counts.Upserted += n
			}
		}
		for _, id := range ids {
			st.seen[id] = true
		}
		*buf = (*buf)[n:]
		commit()
		return st.checkpoint(ctx)
	}
	flushAll := func() error {
		if len(up) > 0 {
			if err := flush(false, len(up)); err != nil {
				return err
			}
		}
		if len(del) > 0 {
			if err := flush(true, len(del)); err != nil {
				return err
			}
		}
		commit()
		return nil
	}
	for {
		p := st.capacity(sess, len(up), len(del))
		if p == 0 {
			return true, flushAll()
		}
		if err := st.budget(2); err != nil {
			return false, err // buffered users are read again on resume
		}
		page, err := e.store.DirtySourceUsers(ctx, st.tenant, scan, d.HWM, p)
		if err != nil {
			return false, err
		}
		for _, u := range page {
			prev := scan
			scan = u.ChangeKey()
			if st.seen[u.ExternalID] {
				continue
			}
			if u.Deleted || !u.Active {
				del = append(del, pendingUser{u: u, prev: prev})
				if len(del) == b {
					if err := flush(true, b); err != nil {
						return false, err
					}
				}
				continue
			}
			prof, err := st.mapping.Apply(u.ExternalID, u.Attrs)
			if err != nil {
				marked, merr := e.store.MarkSourceUserFailed(ctx, st.tenant, u.ExternalID, u.Version, err.Error())
				if merr != nil {
					return false, merr
				}
				if marked {
					st.pendingDelta--
				}
				st.addFailure(u.ExternalID, "user", err.Error())
				continue
			}
			up = append(up, pendingUser{u: u, prev: prev, prof: prof})
			if len(up) == b {
				if err := flush(false, b); err != nil {
					return false, err
				}
			}
		}
		if len(up) == 0 && len(del) == 0 {
			d.UserCursor = scan
		}
		if len(page) < p {
			if err := flushAll(); err != nil {
				return false, err
			}
			d.UsersDone, d.UserCursor = true, scan
			return false, st.save(ctx)
		}
	}
}

func (st *stepper) addFailure(id, kind, detail string) {
	d := st.doc
	d.Failed++
	if len(d.Failures) < st.e.lim.MaxFailures {
		d.Failures = append(d.Failures, Failure{ExternalID: id, Kind: kind, Detail: detail, Session: max(st.curIndex(), 0)})
	}
}

// upload sends one upload of the current session: it logs what the upload
// carries, sends it, and counts it. ok is false when Okta refused it (its
// records are reported failed and stay dirty). An error whose outcome is
// unknown (5xx after retries, a timeout, an interrupted step) is returned
// with the log left in place, so that a resumed run redoes the session.
func (st *stepper) upload(ctx context.Context, kind string, ids []string, vers []int64, dels []bool, recKind string, send func(context.Context) error) (bool, error) {
	e, d, sess := st.e, st.doc, st.cur()
	idx := st.curIndex()
	n := sess.Uploads
	if err := st.renew(ctx); err != nil {
		return false, err
	}
	logEntry := store.XaaSUploadLog{Run: d.ID, Session: idx, Index: n, Kind: kind, IDs: ids, Versions: vers, Deleted: dels}
	if err := e.store.PutXaaSUploadLog(ctx, st.tenant, logEntry, e.now().Add(store.XaaSRunTTL)); err != nil {
		return false, err
	}
	start := time.Now()
	err := send(ctx)
	st.slowest = max(st.slowest, time.Since(start))
	if e.after != nil {
		if herr := e.after(ctx, st.tenant, idx, n); herr != nil {
			return false, fmt.Errorf("%w: %v", errCrashed, herr)
		}
	}
	if err == nil {
		sess.Uploads++
		sess.Entities += len(ids)
		return true, nil
	}
	drop := func() error { return e.store.DeleteXaaSUploadLog(context.WithoutCancel(ctx), st.tenant, d.ID, idx, n) }
	var ve *okta.ValidationError
	if errors.As(err, &ve) {
		// Not sent: the client refused the batch.
		if derr := drop(); derr != nil {
			return false, derr
		}
		for _, id := range ids {
			st.addFailure(id, recKind, "not sent: "+ve.Error())
		}
		return false, nil
	}
	var ae *okta.APIError
	if !errors.As(err, &ae) || ae.StatusCode >= 500 {
		return false, err // outcome unknown
	}
	switch ae.StatusCode {
	case http.StatusTooManyRequests:
		// Not processed: forget the upload and come back after the reset.
		if derr := drop(); derr != nil {
			return false, derr
		}
		return false, oktaErr(err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, &fatalErr{err}
	case http.StatusNotFound:
		return false, &sessionGone{status: "not found"}
	}
	// A 4xx refusal: is it the session, or this chunk?
	if s, gerr := st.target.API.GetSession(ctx, st.target.SourceID, sess.ID); gerr == nil && !s.Status.Cancellable() {
		return false, &sessionGone{status: string(s.Status)}
	}
	sess.Uploads++
	sess.Entities += len(ids)
	sess.Rejected = append(sess.Rejected, n)
	sess.Rejects += len(ids)
	for _, id := range ids {
		st.addFailure(id, recKind, "okta: "+apiErrorDetail(ae))
	}
	e.log.LogAttrs(ctx, slog.LevelWarn, "xaas upload refused by Okta", slog.String("tenant", st.tenant), slog.String("run", d.ID),
		slog.String("session", sess.ID), slog.String("kind", kind), slog.Int("records", len(ids)), errAttr(err))
	return false, nil
}

// renew extends the lease when half of it has passed.
func (st *stepper) renew(ctx context.Context) error {
	now := st.e.now()
	if st.lease.Sub(now) > st.e.lim.Lease/2 {
		return nil
	}
	until := now.Add(st.e.lim.Lease)
	ok, err := st.e.store.RenewXaaSLease(ctx, st.tenant, st.e.owner, until)
	if err != nil {
		return err
	}
	if !ok {
		return errLost
	}
	st.lease = until
	return nil
}

// groupPlan is what a page of groups uploads.
type groupPlan struct {
	upserts    []okta.Group
	upsertVers []int64
	deletes    []string
	deleteVers []int64
	adds       [][]okta.Membership // requests
	removes    [][]okta.Membership
	members    int
}

func (p *groupPlan) uploads() int {
	n := len(p.adds) + len(p.removes)
	if len(p.upserts) > 0 {
		n++
	}
	if len(p.deletes) > 0 {
		n++
	}
	return n
}

func (p *groupPlan) entities() int { return len(p.upserts) + len(p.deletes) + p.members }

// pack adds one group's membership changes (chunks of ids) to requests of
// at most b member ids, a group at most once per request.
func pack(reqs [][]okta.Membership, group string, ids []string, b int) [][]okta.Membership {
	for len(ids) > 0 {
		placed := false
		for i := range reqs {
			used := 0
			dup := false
			for _, m := range reqs[i] {
				used += len(m.MemberExternalIDs)
				dup = dup || m.GroupExternalID == group
			}
			if dup || used >= b || len(reqs[i]) >= b {
				continue
			}
			n := min(b-used, len(ids))
			reqs[i] = append(reqs[i], okta.Membership{GroupExternalID: group, MemberExternalIDs: ids[:n]})
			ids, placed = ids[n:], true
			break
		}
		if !placed {
			n := min(b, len(ids))
			reqs = append(reqs, []okta.Membership{{GroupExternalID: group, MemberExternalIDs: ids[:n]}})
			ids = ids[n:]
		}
	}
	return reqs
}

// diff returns a − b for sorted slices.
func diff(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j >= len(b) || a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] == b[j]:
			i++
			j++
		default:
			j++
		}
	}
	return out
}

func (p *groupPlan) add(g *store.SourceGroup, b int) {
	if g.Deleted {
		p.deletes = append(p.deletes, g.ExternalID)
		p.deleteVers = append(p.deleteVers, g.Version)
		return
	}
	p.upserts = append(p.upserts, okta.Group{ExternalID: g.ExternalID, DisplayName: g.DisplayName, Description: g.Description})
	p.upsertVers = append(p.upsertVers, g.Version)
	if add := diff(g.Members, g.Pushed); len(add) > 0 {
		p.adds = pack(p.adds, g.ExternalID, add, b)
		p.members += len(add)
	}
	if rm := diff(g.Pushed, g.Members); len(rm) > 0 {
		p.removes = pack(p.removes, g.ExternalID, rm, b)
		p.members += len(rm)
	}
}

// uploadGroups uploads dirty groups page by page into the current session
// until it is full (true) or the groups run out. A page is uploaded whole
// within one step.
func (st *stepper) uploadGroups(ctx context.Context) (bool, error) {
	d, e := st.doc, st.e
	sess := st.cur()
	b := e.lim.BatchSize
	for {
		uploadsLeft := e.lim.UploadsPerSession - sess.Uploads
		entLeft := e.lim.EntitiesPerSession - sess.Entities
		if uploadsLeft <= 0 || entLeft <= 0 {
			return true, nil
		}
		page, err := e.store.DirtySourceGroups(ctx, st.tenant, d.GroupCursor, d.HWM, b)
		if err != nil {
			return false, err
		}
		if len(page) == 0 {
			d.GroupsDone = true
			return false, st.save(ctx)
		}
		var plan groupPlan
		k := 0
		for i, g := range page {
			next := plan
			next.upserts, next.upsertVers = slices.Clone(plan.upserts), slices.Clone(plan.upsertVers)
			next.deletes, next.deleteVers = slices.Clone(plan.deletes), slices.Clone(plan.deleteVers)
			next.adds, next.removes = cloneReqs(plan.adds), cloneReqs(plan.removes)
			next.add(g, b)
			if next.uploads() > uploadsLeft || next.entities() > entLeft {
				break
			}
			plan, k = next, i+1
		}
		if k == 0 {
			if sess.Uploads > 0 {
				return true, nil
			}
			// One group larger than a session: report it and move on.
			st.addFailure(page[0].ExternalID, "group", "the group's membership changes do not fit one Okta session")
			d.GroupCursor = page[0].ChangeKey()
			continue
		}
		if err := st.budget(plan.uploads()); err != nil {
			return false, err
		}
		d.MidGroups = true
		if len(plan.upserts) > 0 {
			ids := make([]string, len(plan.upserts))
			for i, g := range plan.upserts {
				ids[i] = g.ExternalID
			}
			ok, err := st.upload(ctx, "groups.upsert", ids, plan.upsertVers, nil, "group", func(ctx context.Context) error {
				return st.target.API.UpsertGroups(ctx, st.target.SourceID, sess.ID, plan.upserts)
			})
			if err != nil {
				return false, err
			}
			if ok {
				sess.Counts.Groups += len(ids)
			}
			if err := st.checkpoint(ctx); err != nil {
				return false, err
			}
		}
		if len(plan.deletes) > 0 {
			ok, err := st.upload(ctx, "groups.delete", plan.deletes, plan.deleteVers, nil, "group", func(ctx context.Context) error {
				return st.target.API.DeleteGroups(ctx, st.target.SourceID, sess.ID, plan.deletes)
			})
			if err != nil {
				return false, err
			}
			if ok {
				sess.Counts.Groups += len(plan.deletes)
			}
			if err := st.checkpoint(ctx); err != nil {
				return false, err
			}
		}
		for _, set := range []struct {
			kind string
			reqs [][]okta.Membership
			fn   func(ctx context.Context, src, sess string, ms []okta.Membership) error
		}{
			{"memberships.upsert", plan.adds, st.target.API.UpsertGroupMemberships},
			{"memberships.delete", plan.removes, st.target.API.DeleteGroupMemberships},
		} {
			for _, req := range set.reqs {
				ids := make([]string, len(req))
				n := 0
				for i, m := range req {
					ids[i] = m.GroupExternalID
					n += len(m.MemberExternalIDs)
				}
				ok, err := st.upload(ctx, set.kind, ids, nil, nil, "group", func(ctx context.Context) error {
					return set.fn(ctx, st.target.SourceID, sess.ID, req)
				})
				if err != nil {
					return false, err
				}
				if ok {
					sess.Counts.Memberships += n
					sess.Entities += n - len(ids)
				}
				if err := st.checkpoint(ctx); err != nil {
					return false, err
				}
			}
		}
		d.MidGroups = false
		d.GroupCursor = page[k-1].ChangeKey()
		if err := st.save(ctx); err != nil {
			return false, err
		}
		if k < len(page) {
			return true, nil
		}
	}
}

func cloneReqs(r [][]okta.Membership) [][]okta.Membership {
	out := make([][]okta.Membership, len(r))
	for i := range r {
		out[i] = slices.Clone(r[i])
	}
	return out
}

// trigger starts the import of the current session.
func (st *stepper) trigger(ctx context.Context) error {
	d, e := st.doc, st.e
	t, err := st.resolve(ctx)
	if err != nil {
		return err
	}
	sess := st.cur()
	s, err := t.API.StartImport(ctx, t.SourceID, sess.ID)
	if okta.HasCode(err, okta.CodeValidation) {
		cur, gerr := t.API.GetSession(ctx, t.SourceID, sess.ID)
		if gerr != nil {
			return oktaErr(gerr)
		}
		switch cur.Status {
		case okta.StatusCreated:
			// Okta took no data (only deactivations of users it does not
			// know): nothing to import, so nothing to wait for.
			if err := t.API.CancelSession(ctx, t.SourceID, sess.ID); err != nil && !okta.HasCode(err, okta.CodeValidation) {
				return oktaErr(err)
			}
			sess.Status, sess.Finished, d.Phase = string(okta.StatusClosed), e.now(), phaseClean
			return st.save(ctx)
		case okta.StatusTriggered, okta.StatusCompleted, okta.StatusError:
			s = cur // triggered before an interruption
		default:
			return &fatalErr{fmt.Errorf("okta refused to start the import of session %s (%s): %w", sess.ID, cur.Status, err)}
		}
	} else if err != nil {
		return oktaErr(err)
	}
	now := e.now()
	sess.Status, sess.Triggered, d.Phase = string(s.Status), now, phasePoll
	if err := e.store.SetXaaSLastTrigger(ctx, st.tenant, now); err != nil {
		return err
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas import started", slog.String("tenant", st.tenant), slog.String("run", d.ID),
		slog.String("session", sess.ID), slog.Int("uploads", sess.Uploads), slog.Int("entities", sess.Entities))
	if err := st.save(ctx); err != nil {
		return err
	}
	if s.Status == okta.StatusTriggered {
		return &waitErr{until: now.Add(e.lim.PollInterval), why: "waiting for Okta's import of session " + sess.ID}
	}
	return nil
}

// poll checks the triggered import.
func (st *stepper) poll(ctx context.Context) error {
	d, e := st.doc, st.e
	t, err := st.resolve(ctx)
	if err != nil {
		return err
	}
	sess := st.cur()
	s, err := t.API.GetSession(ctx, t.SourceID, sess.ID)
	if err != nil {
		return oktaErr(err)
	}
	sess.Status = string(s.Status)
	switch s.Status {
	case okta.StatusCompleted:
		sess.Finished, d.Phase, d.Clean = e.now(), phaseClean, 0
		return st.save(ctx)
	case okta.StatusError:
		sess.Finished = e.now()
		return &fatalErr{fmt.Errorf("Okta's import of session %s ended in ERROR; its records stay dirty for the next run", sess.ID)}
	case okta.StatusClosed, okta.StatusExpired:
		sess.Finished = e.now()
		return &fatalErr{fmt.Errorf("Okta's session %s ended %s without importing", sess.ID, s.Status)}
	}
	if err := st.save(ctx); err != nil {
		return err
	}
	return &waitErr{until: e.now().Add(e.lim.PollInterval), why: "waiting for Okta's import of session " + sess.ID}
}

// clean marks what the completed session carried as synced: each record
// only at the version uploaded.
func (st *stepper) clean(ctx context.Context) error {
	d, e := st.doc, st.e
	sess := st.cur()
	logs, err := e.store.XaaSUploadLogs(ctx, st.tenant, d.ID, st.curIndex())
	if err != nil {
		return err
	}
	now := e.now()
	tombTTL := now.Add(30 * 24 * time.Hour)
	for _, l := range logs {
		if l.Index < d.Clean || l.Index >= sess.Uploads || slices.Contains(sess.Rejected, l.Index) {
			continue
		}
		if l.Index%10 == 0 {
			if err := st.renew(ctx); err != nil {
				return err
			}
		}
		cleaned := 0
		for i, id := range l.IDs {
			if i >= len(l.Versions) {
				break
			}
			var expires time.Time
			if i < len(l.Deleted) && l.Deleted[i] {
				expires = tombTTL
			}
			var ok bool
			switch l.Kind {
			case "users.upsert", "users.deactivate":
				ok, err = e.store.MarkSourceUserSynced(ctx, st.tenant, id, l.Versions[i], now, expires)
			case "groups.upsert":
				ok, err = e.store.MarkSourceGroupSynced(ctx, st.tenant, id, l.Versions[i], now, time.Time{})
			case "groups.delete":
				ok, err = e.store.MarkSourceGroupSynced(ctx, st.tenant, id, l.Versions[i], now, tombTTL)
			}
			if err != nil {
				return err
			}
			if ok && strings.HasPrefix(l.Kind, "users.") {
				cleaned++
			}
		}
		if err := e.store.AddXaaSPending(ctx, st.tenant, -cleaned); err != nil {
			return err
		}
		d.Clean = l.Index + 1
		if err := st.save(ctx); err != nil {
			return err
		}
	}
	d.Phase, d.Clean = phasePrepare, 0
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas import completed", slog.String("tenant", st.tenant), slog.String("run", d.ID),
		slog.String("session", sess.ID), slog.Int("upserted", sess.Counts.Upserted), slog.Int("deactivated", sess.Counts.Deactivated),
		slog.Int("groups", sess.Counts.Groups), slog.Int("memberships", sess.Counts.Memberships))
	return st.save(ctx)
}

// finish ends the run.
func (st *stepper) finish(ctx context.Context, state, msg string) error {
	d, e := st.doc, st.e
	if state == store.RunFailed && len(d.Sessions) > 0 && st.target != nil {
		// Do not leave an untriggered session with uploads behind.
		if s := st.cur(); okta.SessionStatus(s.Status).Cancellable() {
			if err := st.target.API.CancelSession(context.WithoutCancel(ctx), st.target.SourceID, s.ID); err == nil {
				s.Status = string(okta.StatusClosed)
			}
		}
	}
	d.State, d.Finished, d.Phase, d.Error, d.Wait = state, e.now(), phaseDone, msg, ""
	if err := st.saveDetached(ctx); err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.store.FinishXaaSRun(fctx, st.tenant, d.ID); err != nil {
		return err
	}
	det := d.detail()
	level := slog.LevelInfo
	if state == store.RunFailed {
		level = slog.LevelError
	}
	failed := 0
	if state == store.RunFailed {
		failed = 1
	}
	attrs := []slog.Attr{
		slog.String("tenant", st.tenant), slog.String("run", d.ID), slog.String("state", state),
		slog.String("trigger", d.Trigger), slog.Int("sessions", len(d.Sessions)),
		slog.Int("upserted", det.Status.Counts.Upserted), slog.Int("deactivated", det.Status.Counts.Deactivated),
		slog.Int("groups", det.Status.Counts.Groups), slog.Int("memberships", det.Status.Counts.Memberships),
		slog.Int("failed", det.Status.Counts.Failed), slog.Float64("duration_s", d.Finished.Sub(d.Started).Seconds()),
		slog.String("error", safeMessage(msg)),
	}
	e.log.LogAttrs(ctx, level, "xaas sync finished", append(attrs, e.metricAttrs(failed, det.Status.Counts.Failed)...)...)
	return nil
}

// CloudWatch metrics the engine emits (embedded metric format) when a run
// finishes: alarm on MetricSyncFailed ≥ 1. Package config defines them for
// the infrastructure's alarms.
const (
	MetricNamespace     = config.MetricNamespace
	MetricSyncRuns      = config.MetricXaaSSyncRuns
	MetricSyncFailed    = config.MetricXaaSSyncFailed
	MetricRecordsFailed = config.MetricXaaSRecordsFailed
)

// metricAttrs are the log attributes that make a run's "finished" line a
// CloudWatch embedded-metric-format record: the _aws directive, the metric
// values and the engine's dimensions. CloudWatch creates the metrics from
// the log line, so an alarm needs no metric filter and no API call is made.
func (e *Engine) metricAttrs(syncFailed, recordsFailed int) []slog.Attr {
	dimNames := make([]string, 0, len(e.dims))
	for k := range e.dims {
		dimNames = append(dimNames, k)
	}
	slices.Sort(dimNames)
	attrs := []slog.Attr{
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{dimNames},
				"Metrics": []map[string]string{
					{"Name": MetricSyncRuns, "Unit": "Count"},
					{"Name": MetricSyncFailed, "Unit": "Count"},
					{"Name": MetricRecordsFailed, "Unit": "Count"},
				},
			}},
		}),
		slog.Int(MetricSyncRuns, 1), slog.Int(MetricSyncFailed, syncFailed), slog.Int(MetricRecordsFailed, recordsFailed),
	}
	for _, k := range dimNames {
		attrs = append(attrs, slog.String(k, e.dims[k]))
	}
	return attrs
}

// apiErrorDetail is an Okta refusal as reported for the records it
// concerns (through the API, not the logs).
func apiErrorDetail(ae *okta.APIError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", ae.StatusCode, ae.ErrorCode)
	if ae.ErrorSummary != "" {
		b.WriteString(": " + ae.ErrorSummary)
	}
	for _, c := range ae.ErrorCauses {
		b.WriteString("; " + c.ErrorSummary)
	}
	return b.String()
}

// errAttr logs an error without record contents: for Okta errors only the
// status, code and request path.
func errAttr(err error) slog.Attr {
	return slog.String("err", safeMessage(errMessage(err)))
}

func errMessage(err error) string {
	if err == nil {
		return ""
	}
	var ae *okta.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("okta: %s %s: %d %s", ae.Method, ae.Path, ae.StatusCode, ae.ErrorCode)
	}
	var ve *okta.ValidationError
	if errors.As(err, &ve) {
		return "okta: invalid batch: " + ve.Field + ": " + ve.Reason
	}
	return err.Error()
}

// safeMessage cuts a message that might quote a record (Okta's error
// causes) down to its first clause.
func safeMessage(s string) string {
	if i := strings.Index(s, " ["); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
