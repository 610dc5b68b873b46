package xaas

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/xaas/okta"
)

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
