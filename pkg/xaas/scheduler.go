package xaas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

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
		if s.Run == "" && !e.startDue(ctx, &s, now, &rep) {
			continue
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
			defer func() {
				if recovered(ctx, e.log, "xaas tick worker panicked", recover(), slog.String("tenant", j.tenant), slog.String("run", j.run)) != nil {
					mu.Lock()
					rep.wake(e.now().Add(e.lim.RetryDelay))
					mu.Unlock()
				}
			}()
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

// startDue starts the run that the tenant's schedule or a debounced push
// calls for, if any, and notes in rep when the tenant is next due. It
// reports whether the tenant has an active run now (s.Run, s.Due set).
func (e *Engine) startDue(ctx context.Context, s *store.XaaSSync, now time.Time, rep *TickReport) bool {
	interval, debounce := e.interval, e.debounce
	if s.Scheduled {
		interval, debounce = s.Interval, s.Debounce
	}
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
	if s.Run != "" {
		return true
	}
	if interval > 0 {
		rep.wake(s.NextDue)
	}
	if pushPending {
		rep.wake(s.PushAt.Add(debounce))
	}
	return false
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
