package xaas

import (
	"context"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

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

// userBatcher buffers the dirty users read for the current session, the
// ones to upsert and the ones to deactivate, and sends each buffer as an
// upload when it holds a batch. The run's user cursor moves only past users
// that were sent (or skipped), so a step that ends with users buffered
// reads them again when the run resumes.
type userBatcher struct {
	st      *stepper
	sess    *sessionDoc
	up, del []pendingUser
	// scan is the change key of the last user read.
	scan string
}

// commit moves the run's user cursor to the last change key before which
// every user is sent.
func (ub *userBatcher) commit() {
	safe := ub.scan
	if len(ub.up) > 0 {
		safe = ub.up[0].prev
	}
	if len(ub.del) > 0 && (len(ub.up) == 0 || ub.del[0].prev < safe) {
		safe = ub.del[0].prev
	}
	ub.st.doc.UserCursor = safe
}

// add buffers one user and sends its buffer when it holds a batch.
func (ub *userBatcher) add(ctx context.Context, p pendingUser, deactivate bool) error {
	buf := &ub.up
	if deactivate {
		buf = &ub.del
	}
	*buf = append(*buf, p)
	if len(*buf) < ub.st.e.lim.BatchSize {
		return nil
	}
	return ub.flush(ctx, deactivate)
}

// flush sends one buffer as one upload and checkpoints the run.
func (ub *userBatcher) flush(ctx context.Context, deactivate bool) error {
	st, sess := ub.st, ub.sess
	buf := &ub.up
	kind := "users.upsert"
	if deactivate {
		buf, kind = &ub.del, "users.deactivate"
	}
	batch := *buf
	n := len(batch)
	ids, vers, dels := make([]string, n), make([]int64, n), make([]bool, n)
	for i, p := range batch {
		ids[i], vers[i], dels[i] = p.u.ExternalID, p.u.Version, p.u.Deleted
	}
	send := func(ctx context.Context) error {
		return st.target.API.DeactivateUsers(ctx, st.target.SourceID, sess.ID, ids)
	}
	if !deactivate {
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
	switch {
	case ok && deactivate:
		sess.Counts.Deactivated += n
	case ok:
		sess.Counts.Upserted += n
	}
	for _, id := range ids {
		st.seen[id] = true
	}
	*buf = (*buf)[:0]
	ub.commit()
	return st.checkpoint(ctx)
}

// flushAll sends what both buffers hold.
func (ub *userBatcher) flushAll(ctx context.Context) error {
	if len(ub.up) > 0 {
		if err := ub.flush(ctx, false); err != nil {
			return err
		}
	}
	if len(ub.del) > 0 {
		if err := ub.flush(ctx, true); err != nil {
			return err
		}
	}
	ub.commit()
	return nil
}

// uploadUsers uploads dirty users into the current session until it is
// full (true) or the users run out.
func (st *stepper) uploadUsers(ctx context.Context) (bool, error) {
	d, e := st.doc, st.e
	ub := &userBatcher{st: st, sess: st.cur(), scan: d.UserCursor}
	for {
		p := st.capacity(ub.sess, len(ub.up), len(ub.del))
		if p == 0 {
			return true, ub.flushAll(ctx)
		}
		if err := st.budget(2); err != nil {
			return false, err // buffered users are read again on resume
		}
		page, err := e.store.DirtySourceUsers(ctx, st.tenant, ub.scan, d.HWM, p)
		if err != nil {
			return false, err
		}
		for _, u := range page {
			prev := ub.scan
			ub.scan = u.ChangeKey()
			if st.seen[u.ExternalID] {
				continue
			}
			if err := st.bufferUser(ctx, ub, pendingUser{u: u, prev: prev}); err != nil {
				return false, err
			}
		}
		if len(ub.up) == 0 && len(ub.del) == 0 {
			d.UserCursor = ub.scan
		}
		if len(page) < p {
			if err := ub.flushAll(ctx); err != nil {
				return false, err
			}
			d.UsersDone, d.UserCursor = true, ub.scan
			return false, st.save(ctx)
		}
	}
}

// bufferUser maps one dirty user and buffers it for an upsert, or for a
// deactivation when it is inactive or deleted. A user whose profile cannot
// be mapped is marked failed instead.
func (st *stepper) bufferUser(ctx context.Context, ub *userBatcher, p pendingUser) error {
	u := p.u
	if u.Deleted || !u.Active {
		return ub.add(ctx, p, true)
	}
	prof, err := st.mapping.Apply(u.ExternalID, u.Attrs)
	if err != nil {
		marked, merr := st.e.store.MarkSourceUserFailed(ctx, st.tenant, u.ExternalID, u.Version, err.Error())
		if merr != nil {
			return merr
		}
		if marked {
			st.pendingDelta--
		}
		st.addFailure(u.ExternalID, "user", err.Error())
		return nil
	}
	p.prof = prof
	return ub.add(ctx, p, false)
}
