package xaas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

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
	if doc.State == store.RunQueued {
		if err := st.begin(ctx); err != nil {
			return time.Time{}, false, err
		}
	}
	for {
		if doc.Phase == phaseDone {
			return time.Time{}, true, nil
		}
		if now := e.now(); now.Sub(doc.Started) > e.lim.MaxRunAge {
			return time.Time{}, true, st.finish(ctx, store.RunFailed, fmt.Sprintf("the run did not finish within %s", e.lim.MaxRunAge))
		}
		err := st.phase(ctx)
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

// begin moves a queued run to running: it fixes the change keys the run
// pushes (up to now) and the progress total.
func (st *stepper) begin(ctx context.Context) error {
	d, e := st.doc, st.e
	now := e.now()
	d.State, d.Started, d.Phase = store.RunRunning, now, phasePrepare
	d.HWM = store.ChangeKeyUpTo(now)
	if s, err := e.store.GetXaaSSync(ctx, st.tenant); err == nil {
		d.Total = max(s.Pending, 0)
	}
	if err := st.save(ctx); err != nil {
		return err
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas sync started", slog.String("tenant", st.tenant), slog.String("run", d.ID),
		slog.String("trigger", d.Trigger), slog.Int64("pending", d.Total))
	return nil
}

// phase runs the run's current phase once.
func (st *stepper) phase(ctx context.Context) error {
	switch st.doc.Phase {
	case phasePrepare:
		return st.prepare(ctx)
	case phaseUpload:
		return st.uploadPhase(ctx)
	case phaseTrigger:
		return st.trigger(ctx)
	case phasePoll:
		return st.poll(ctx)
	case phaseClean:
		return st.clean(ctx)
	}
	return &fatalErr{fmt.Errorf("unknown phase %q", st.doc.Phase)}
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
