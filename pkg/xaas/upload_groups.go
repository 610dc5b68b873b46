package xaas

import (
	"context"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

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

// groupChange is what one dirty group changes in Okta: the group itself,
// and the members to add and to remove since the last confirmed import.
type groupChange struct {
	g           *store.SourceGroup
	add, remove []string
}

func changeOf(g *store.SourceGroup) groupChange {
	c := groupChange{g: g}
	if !g.Deleted {
		c.add, c.remove = diff(g.Members, g.Pushed), diff(g.Pushed, g.Members)
	}
	return c
}

// newRequests returns how many membership requests pack would add to reqs
// to place n member ids of a group that is in none of them.
func newRequests(reqs [][]okta.Membership, n, b int) int {
	for _, req := range reqs {
		if n == 0 {
			return 0
		}
		used := 0
		for _, m := range req {
			used += len(m.MemberExternalIDs)
		}
		if used < b && len(req) < b {
			n -= min(b-used, n)
		}
	}
	return (n + b - 1) / b
}

// fits reports whether the plan with c added still needs at most
// uploadsLeft uploads and entitiesLeft entities, without building it.
func (p *groupPlan) fits(c groupChange, b, uploadsLeft, entitiesLeft int) bool {
	uploads, entities := p.uploads(), p.entities()+1
	switch {
	case c.g.Deleted && len(p.deletes) == 0, !c.g.Deleted && len(p.upserts) == 0:
		uploads++
	}
	uploads += newRequests(p.adds, len(c.add), b) + newRequests(p.removes, len(c.remove), b)
	entities += len(c.add) + len(c.remove)
	return uploads <= uploadsLeft && entities <= entitiesLeft
}

// add puts c into the plan.
func (p *groupPlan) add(c groupChange, b int) {
	g := c.g
	if g.Deleted {
		p.deletes = append(p.deletes, g.ExternalID)
		p.deleteVers = append(p.deleteVers, g.Version)
		return
	}
	p.upserts = append(p.upserts, okta.Group{ExternalID: g.ExternalID, DisplayName: g.DisplayName, Description: g.Description})
	p.upsertVers = append(p.upsertVers, g.Version)
	if len(c.add) > 0 {
		p.adds = pack(p.adds, g.ExternalID, c.add, b)
		p.members += len(c.add)
	}
	if len(c.remove) > 0 {
		p.removes = pack(p.removes, g.ExternalID, c.remove, b)
		p.members += len(c.remove)
	}
}

// planGroups plans the uploads of the longest prefix of page that fits
// uploadsLeft uploads and entitiesLeft entities; k is its length.
func planGroups(page []*store.SourceGroup, b, uploadsLeft, entitiesLeft int) (plan groupPlan, k int) {
	for _, g := range page {
		c := changeOf(g)
		if !plan.fits(c, b, uploadsLeft, entitiesLeft) {
			break
		}
		plan.add(c, b)
		k++
	}
	return plan, k
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
		plan, k := planGroups(page, b, uploadsLeft, entLeft)
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
		if err := st.uploadPlan(ctx, &plan); err != nil {
			return false, err
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

// uploadPlan sends a page's plan: its group upserts, its group deletions,
// then its membership additions and removals, checkpointing after each.
func (st *stepper) uploadPlan(ctx context.Context, plan *groupPlan) error {
	sess := st.cur()
	api, src := st.target.API, st.target.SourceID
	if len(plan.upserts) > 0 {
		ids := make([]string, len(plan.upserts))
		for i, g := range plan.upserts {
			ids[i] = g.ExternalID
		}
		err := st.uploadGroupRequest(ctx, "groups.upsert", ids, plan.upsertVers, len(ids), &sess.Counts.Groups, func(ctx context.Context) error {
			return api.UpsertGroups(ctx, src, sess.ID, plan.upserts)
		})
		if err != nil {
			return err
		}
	}
	if len(plan.deletes) > 0 {
		err := st.uploadGroupRequest(ctx, "groups.delete", plan.deletes, plan.deleteVers, len(plan.deletes), &sess.Counts.Groups, func(ctx context.Context) error {
			return api.DeleteGroups(ctx, src, sess.ID, plan.deletes)
		})
		if err != nil {
			return err
		}
	}
	for _, set := range []struct {
		kind string
		reqs [][]okta.Membership
		fn   func(ctx context.Context, src, sess string, ms []okta.Membership) error
	}{
		{"memberships.upsert", plan.adds, api.UpsertGroupMemberships},
		{"memberships.delete", plan.removes, api.DeleteGroupMemberships},
	} {
		for _, req := range set.reqs {
			ids := make([]string, len(req))
			n := 0
			for i, m := range req {
				ids[i] = m.GroupExternalID
				n += len(m.MemberExternalIDs)
			}
			err := st.uploadGroupRequest(ctx, set.kind, ids, nil, n, &sess.Counts.Memberships, func(ctx context.Context) error {
				return set.fn(ctx, src, sess.ID, req)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// uploadGroupRequest sends one upload of groups or memberships that carries
// n entities under the group ids ids, adds n to count when Okta took it,
// and checkpoints the run. A membership request counts its member ids as
// the session's entities, beyond the one per group upload counts.
func (st *stepper) uploadGroupRequest(ctx context.Context, kind string, ids []string, vers []int64, n int, count *int, send func(context.Context) error) error {
	ok, err := st.upload(ctx, kind, ids, vers, nil, "group", send)
	if err != nil {
		return err
	}
	if ok {
		*count += n
		st.cur().Entities += n - len(ids)
	}
	return st.checkpoint(ctx)
}
