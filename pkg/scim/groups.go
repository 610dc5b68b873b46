package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/patch"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// Groups and memberships. A group is one small item; each membership is an
// item of its own (with an inverted index for a user's groups), and each user
// keeps the ids of its groups, so:
//   - a rename is one write whatever the group's size;
//   - GET /Groups?excludedAttributes=members never reads members;
//   - a user's groups are resolved with one BatchGetItem per page.
//
// A PATCH or PUT that changes members is applied in this order: validate the
// whole request (every added id must be a user of the tenant, a new
// displayName must be free), then write the membership changes in
// transactions of 49 members (each membership together with the user's
// group-id set), then write the group item with its version bumped. Every
// step is idempotent, so when a request fails midway (a timeout, a crash) the
// client's retry of the same request converges on the same result; a client
// never gets a success for a request that was only partly applied. A
// 1,000-member PATCH is 21 transactions.

// groupInput is a validated group body: its document (without members) and
// its member ids, if members were given.
type groupInput struct {
	doc        Resource
	members    []string
	hasMembers bool
}

func (s *Server) decodeGroup(r *http.Request) (groupInput, error) {
	var in groupInput
	body, err := readBody(r)
	if err != nil {
		return in, err
	}
	obj, err := decodeObject(body)
	if err != nil {
		return in, err
	}
	for k, v := range obj {
		if strings.EqualFold(k, "members") {
			in.hasMembers = true
			ids, err := memberValues(v)
			if err != nil {
				return in, err
			}
			in.members = ids
			delete(obj, k)
		}
	}
	if in.doc, err = normalizeExt(s.viewOf(r).groups, obj, s.viewOf(r).passThrough); err != nil {
		return in, err
	}
	if _, err := groupFields(in.doc); err != nil {
		return in, err
	}
	return in, nil
}

// memberValues validates a members value: an array of objects with a string
// "value" (null means none).
func memberValues(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, scimerr.InvalidValue("members must be an array of objects with a \"value\"")
	}
	if len(list) > schema.MaxMembersPerRequest {
		return nil, scimerr.InvalidValue("members has %d values; one request may name at most %d members (send larger groups in several PATCH requests)", len(list), schema.MaxMembersPerRequest)
	}
	ids := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, scimerr.InvalidValue("members[%d] must be an object with a \"value\"", i)
		}
		var id string
		for k, x := range m {
			if strings.EqualFold(k, "value") {
				id, _ = x.(string)
			}
		}
		if id == "" {
			return nil, scimerr.InvalidValue("members[%d].value must be a non-empty string", i)
		}
		if hasControl(id) {
			return nil, scimerr.InvalidValue("members[%d].value must not contain control characters", i)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func groupFields(doc Resource) (string, error) {
	name, _ := doc["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return "", scimerr.InvalidValue("displayName is required")
	}
	if len(name) > store.MaxKeyValue {
		return "", scimerr.InvalidValue("displayName is longer than %d bytes", store.MaxKeyValue)
	}
	if err := checkIdentifier("displayName", name); err != nil {
		return "", err
	}
	ext, _ := doc["externalId"].(string)
	if len(ext) > store.MaxKeyValue {
		return "", scimerr.InvalidValue("externalId is longer than %d bytes", store.MaxKeyValue)
	}
	if err := checkIdentifier("externalId", ext); err != nil {
		return "", err
	}
	return name, nil
}

// checkUsers returns the users among ids, or 400 invalidValue naming the
// first id that is not a user of the tenant.
func (s *Server) checkUsers(ctx context.Context, tenant string, ids []string) (map[string]*store.User, error) {
	for _, id := range ids {
		if err := checkIdentifier("a member's value", id); err != nil {
			return nil, err
		}
	}
	users, err := s.store.ExistingUsers(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if users[id] == nil {
			return nil, scimerr.InvalidValue("member %q is not a user of this tenant; nothing was changed", id)
		}
	}
	return users, nil
}

// memberDisplay is the display value stored with a membership.
func memberDisplay(u *store.User) string {
	if doc, err := decodeDoc(u); err == nil {
		if d, _ := doc["displayName"].(string); d != "" {
			return d
		}
	}
	return u.UserName
}

func (s *Server) toMembers(users map[string]*store.User, ids []string) []store.Member {
	out := make([]store.Member, 0, len(ids))
	for _, id := range ids {
		out = append(out, store.Member{UserID: id, Display: memberDisplay(users[id])})
	}
	return out
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	ctx, tenant := r.Context(), tenantOf(r)
	in, err := s.decodeGroup(r)
	if err != nil {
		return err
	}
	users, err := s.checkUsers(ctx, tenant, in.members)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(in.doc)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	name, _ := groupFields(in.doc)
	ext, _ := in.doc["externalId"].(string)
	g := &store.Group{ID: newID(), DisplayName: name, ExternalID: ext, Doc: raw, Created: now, Modified: now}
	if err := s.store.CreateGroup(ctx, tenant, g); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = scimerr.Conflict("a group with displayName %q already exists", name)
		}
		return err
	}
	members := s.toMembers(users, in.members)
	if _, err := s.store.AddMembers(ctx, tenant, g.ID, 0, members); err != nil {
		return groupGone(err, g.ID)
	}
	res := s.renderGroup(r, g, in.doc, members)
	w.Header().Set("Location", res["meta"].(map[string]any)["location"].(string))
	q, _ := parseQuery(s.viewOf(r).groups, r.URL.Query())
	return s.writeResource(w, http.StatusCreated, g.Version, q.proj.apply(s.viewOf(r).groups, res))
}

// renderGroup returns the full group; members nil means "not read".
func (s *Server) renderGroup(r *http.Request, g *store.Group, doc Resource, members []store.Member) Resource {
	res := render(s.viewOf(r).groups, s.base(r), doc, meta{ID: g.ID, Created: g.Created, Modified: g.Modified, Version: g.Version})
	if members != nil {
		base := s.base(r)
		list := make([]any, len(members))
		for i, m := range members {
			e := map[string]any{"value": m.UserID, "$ref": base + "/Users/" + m.UserID, "type": "User"}
			if m.Display != "" {
				e["display"] = m.Display
			}
			list[i] = e
		}
		res["members"] = list
	}
	return res
}

func decodeGroupDoc(g *store.Group) (Resource, error) {
	var doc Resource
	if err := json.Unmarshal(g.Doc, &doc); err != nil {
		return nil, fmt.Errorf("decode group %s: %w", g.ID, err)
	}
	if doc == nil {
		doc = Resource{}
	}
	return doc, nil
}

func (s *Server) getGroupChecked(r *http.Request, id string) (*store.Group, error) {
	if !possibleID(id) {
		return nil, scimerr.NotFound("group %q not found", truncateID(id))
	}
	g, err := s.store.GetGroup(r.Context(), tenantOf(r), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scimerr.NotFound("group %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(r, "group", g.Version); err != nil {
		return nil, err
	}
	return g, nil
}

// writeGroup writes one group, with its members unless the projection
// leaves them out, as a 200 response.
func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, q query, g *store.Group) error {
	res, err := s.groupResources(r, q, []*store.Group{g}, false)
	if err != nil {
		return err
	}
	return s.writeResource(w, http.StatusOK, g.Version, q.proj.apply(s.viewOf(r).groups, res[0]))
}

// groupResources renders groups, reading their members (concurrently, a few
// at a time) unless the projection excludes them.
func (s *Server) groupResources(r *http.Request, q query, groups []*store.Group, filterOn bool) ([]Resource, error) {
	out := make([]Resource, len(groups))
	readMembers := !q.proj.excludes("members") || filterOn
	members := make([][]store.Member, len(groups))
	if readMembers {
		var wg sync.WaitGroup
		errs := make([]error, len(groups))
		sem := make(chan struct{}, 8)
		for i, g := range groups {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				defer func() {
					if p := recover(); p != nil {
						errs[i] = fmt.Errorf("read members of %s: panic: %v", g.ID, p)
						s.log.ErrorContext(r.Context(), "panic reading group members", "panic", fmt.Sprint(p),
							"stack", string(debug.Stack()), "request_id", reqlog.IDFrom(r.Context()))
					}
				}()
				members[i], errs[i] = s.store.Members(r.Context(), tenantOf(r), g.ID)
				if members[i] == nil && errs[i] == nil {
					members[i] = []store.Member{}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	for i, g := range groups {
		doc, err := decodeGroupDoc(g)
		if err != nil {
			return nil, err
		}
		out[i] = s.renderGroup(r, g, doc, members[i])
	}
	return out, nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(s.viewOf(r).groups, r.URL.Query())
	if err != nil {
		return err
	}
	g, err := s.getGroupChecked(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if notModified(w, r, g.Version) {
		return nil
	}
	return s.writeGroup(w, r, q, g)
}

// updateGroup validates and applies a change of a group: modify returns the
// new document and the member change. See the comment at the top of the file
// for the order of writes. A change of members only (the document is
// unchanged, as in Okta's and Entra's membership PATCHes) bumps the group's
// version with an unconditional increment, so parallel membership changes
// never conflict; a change of the document is a conditional write, retried on
// the new state when another write wins the race (see retryWrite).
func (s *Server) updateGroup(r *http.Request, id string, modify func(g *store.Group, doc Resource) (Resource, patch.MemberChange, error)) (*store.Group, Resource, error) {
	ctx, tenant := r.Context(), tenantOf(r)
	var (
		out    *store.Group
		outDoc Resource
	)
	err := s.retryWrite(r, func() error {
		prev, err := s.getGroupChecked(r, id)
		if err != nil {
			return err
		}
		doc, err := decodeGroupDoc(prev)
		if err != nil {
			return err
		}
		next, mc, err := modify(prev, doc)
		if err != nil {
			return err
		}
		name, err := groupFields(next)
		if err != nil {
			return err
		}
		if !strings.EqualFold(name, prev.DisplayName) {
			other, err := s.store.GroupByDisplayName(ctx, tenant, name)
			switch {
			case err == nil && other.ID != prev.ID:
				return scimerr.Conflict("a group with displayName %q already exists", name)
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		add, remove, err := s.memberDiff(ctx, tenant, id, mc)
		if err != nil {
			return err
		}
		users, err := s.checkUsers(ctx, tenant, add)
		if err != nil {
			return err
		}
		// With If-Match every membership write is conditional on the version
		// the client named, so a failed precondition changes nothing.
		var pin int64
		if r.Header.Get("If-Match") != "" {
			pin = prev.Version
		}
		if err := s.store.RemoveMembers(ctx, tenant, id, pin, remove); err != nil {
			return groupGone(err, id)
		}
		if _, err := s.store.AddMembers(ctx, tenant, id, pin, s.toMembers(users, add)); err != nil {
			return groupGone(err, id)
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if bytes.Equal(raw, prev.Doc) {
			if len(add) == 0 && len(remove) == 0 {
				out, outDoc = prev, next // nothing changed
				return nil
			}
			g, err := s.store.TouchGroup(ctx, tenant, id, s.now().UTC(), pin)
			if err != nil {
				return groupGone(err, id)
			}
			out, outDoc = g, next
			return nil
		}
		g := *prev
		g.DisplayName, g.Doc, g.Modified = name, raw, s.now().UTC()
		g.ExternalID, _ = next["externalId"].(string)
		err = s.store.UpdateGroup(ctx, tenant, &g, prev)
		if errors.Is(err, store.ErrConflict) {
			return scimerr.Conflict("a group with displayName %q already exists", name)
		}
		if err != nil {
			return err // a version conflict redoes the whole change: membership writes are idempotent
		}
		out, outDoc = &g, next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, outDoc, nil
}

// groupGone turns a store.ErrNotFound from a write to group id (it was
// deleted meanwhile) into the client's 404.
func groupGone(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return scimerr.NotFound("group %q not found", id)
	}
	return err
}

// memberDiff returns the users to add to and remove from group id for mc: a
// replace of all members is compared with the current members.
func (s *Server) memberDiff(ctx context.Context, tenant, id string, mc patch.MemberChange) (add, remove []string, err error) {
	if !mc.ReplaceAll {
		return mc.Add, mc.Remove, nil
	}
	cur, err := s.store.Members(ctx, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	want := make(map[string]bool, len(mc.Add))
	for _, u := range mc.Add {
		want[u] = true
	}
	have := make(map[string]bool, len(cur))
	for _, m := range cur {
		have[m.UserID] = true
		if !want[m.UserID] {
			remove = append(remove, m.UserID)
		}
	}
	for _, u := range mc.Add {
		if !have[u] {
			add = append(add, u)
		}
	}
	return add, remove, nil
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(s.viewOf(r).groups, r.URL.Query())
	if err != nil {
		return err
	}
	in, err := s.decodeGroup(r)
	if err != nil {
		return err
	}
	g, _, err := s.updateGroup(r, r.PathValue("id"), func(*store.Group, Resource) (Resource, patch.MemberChange, error) {
		mc := patch.MemberChange{}
		if in.hasMembers {
			mc = patch.MemberChange{Add: in.members, ReplaceAll: true}
			if mc.Add == nil {
				mc.Add = []string{}
			}
		}
		return in.doc, mc, nil
	})
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, q, g)
}

// patchGroup applies a PATCH and answers 204 No Content (RFC 7644 §3.5.2
// allows it; Okta and Entra accept it, and it spares returning a large member
// list). With attributes or excludedAttributes in the query, it answers 200
// with the group instead.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) error {
	rt := s.viewOf(r).groups
	q, req, err := s.decodePatch(r, rt)
	if err != nil {
		return err
	}
	g, _, err := s.updateGroup(r, r.PathValue("id"), func(prev *store.Group, doc Resource) (Resource, patch.MemberChange, error) {
		rest, mc, err := patch.SplitMembers(rt, req.Operations)
		if err != nil || len(rest) == 0 {
			return doc, mc, err
		}
		next, err := s.applyPatch(r, rt, prev.ID, doc, rest, "members")
		return next, mc, err
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(g.Version))
	v := r.URL.Query()
	if !v.Has("attributes") && !v.Has("excludedAttributes") {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s.writeGroup(w, r, q, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	return s.retryDelete(w, r, func() error {
		prev, err := s.getGroupChecked(r, r.PathValue("id"))
		if err != nil {
			return err
		}
		return s.store.DeleteGroup(r.Context(), tenantOf(r), prev)
	})
}

// serveGroupList answers a group list: displayName, externalId, id and
// members.value equality from keys and indexes, unfiltered listings from the
// cursor cache, anything else evaluated in memory within the tenant.
func (s *Server) serveGroupList(w http.ResponseWriter, r *http.Request, q query) error {
	ctx, tenant := r.Context(), tenantOf(r)
	if q.filter == nil && q.sortBy == "" {
		return pageAll(s, w, r, q, "groups", s.store.GroupPageStart,
			func(ctx context.Context, tenant, after string, n int) ([]*store.Group, string, error) {
				p, err := s.store.ListGroups(ctx, tenant, after, n)
				return p.Groups, p.Last, err
			},
			func(gs []*store.Group) ([]Resource, func(Resource) []byte, error) {
				rs, err := s.groupResources(r, q, gs, false)
				return rs, nil, err
			},
			s.viewOf(r).groups)
	}
	var candidates []*store.Group
	indexed := false
	if eq, ok := indexEquality(q); ok {
		var err error
		one := func(g *store.Group, gerr error) {
			if gerr == nil {
				candidates = []*store.Group{g}
			} else if !errors.Is(gerr, store.ErrNotFound) {
				err = gerr
			}
		}
		switch eq.Attr {
		case "id":
			indexed = true
			one(s.store.GetGroup(ctx, tenant, eq.Value))
		case "displayName":
			indexed = true
			one(s.store.GroupByDisplayName(ctx, tenant, eq.Value))
		case "externalId":
			indexed = true
			candidates, err = s.store.GroupsByExternalID(ctx, tenant, eq.Value)
		case "members.value":
			indexed = true
			var ids []string
			if ids, err = s.store.GroupsOf(ctx, tenant, eq.Value); err == nil {
				var m map[string]*store.Group
				if m, err = s.store.GetGroups(ctx, tenant, ids); err == nil {
					for _, id := range ids {
						if g := m[id]; g != nil {
							candidates = append(candidates, g)
						}
					}
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if !indexed {
		after := ""
		for {
			p, err := s.store.ListGroups(ctx, tenant, after, 500)
			if err != nil {
				return err
			}
			candidates = append(candidates, p.Groups...)
			if len(candidates) > MaxFilterScan {
				return scimerr.BadRequest(scimerr.TooManyType, "this filter needs more than %d groups evaluated; filter on id, displayName, externalId or members.value", MaxFilterScan)
			}
			if p.Last == "" {
				break
			}
			after = p.Last
		}
	}
	filterOnMembers := q.filter != nil && strings.Contains(q.rawFilter, "members")
	all, err := s.groupResources(r, q, candidates, filterOnMembers)
	if err != nil {
		return err
	}
	matched := all[:0]
	for _, res := range all {
		if q.filter == nil || q.filter.Match(res) {
			matched = append(matched, res)
		}
	}
	if q.sortBy != "" {
		sortResources(s.viewOf(r).groups, q, matched)
	}
	return s.writeSliceFor(w, r, s.viewOf(r).groups, q, matched, nil, nil)
}
