package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/scimless/scimless/pkg/scim/patch"
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
// transactions of 50 members (each membership together with the user's
// group-id set), then write the group item with its version bumped. Every
// step is idempotent, so when a request fails midway (a timeout, a crash) the
// client's retry of the same request converges on the same result; a client
// never gets a success for a request that was only partly applied. A
// 1,000-member PATCH is 20 transactions.

// groupRoutes registers the /Groups endpoints.
func (s *Server) groupRoutes(m *http.ServeMux) {
	p := Prefix
	m.HandleFunc("GET "+p+"/Groups", s.listing(groupsOf, s.serveGroupList, false))
	m.HandleFunc("POST "+p+"/Groups", s.createGroup)
	m.HandleFunc("POST "+p+"/Groups/.search", s.listing(groupsOf, s.serveGroupList, true))
	m.HandleFunc("GET "+p+"/Groups/{id}", s.getGroup)
	m.HandleFunc("PUT "+p+"/Groups/{id}", s.replaceGroup)
	m.HandleFunc("PATCH "+p+"/Groups/{id}", s.patchGroup)
	m.HandleFunc("DELETE "+p+"/Groups/{id}", s.deleteGroup)
	m.HandleFunc(p+"/Groups", s.methodNotAllowed("GET, POST"))
	m.HandleFunc(p+"/Groups/{id}", s.methodNotAllowed("GET, PUT, PATCH, DELETE"))
}

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
	ids := make([]string, 0, len(list))
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
		if !slices.Contains(ids, id) {
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
	return name, nil
}

// checkUsers returns the users among ids, or 400 invalidValue naming the
// first id that is not a user of the tenant.
func (s *Server) checkUsers(ctx context.Context, tenant string, ids []string) (map[string]*store.User, error) {
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

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	ctx, tenant := r.Context(), tenantOf(r)
	in, err := s.decodeGroup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.checkUsers(ctx, tenant, in.members)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	raw, err := json.Marshal(in.doc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now().UTC()
	name, _ := groupFields(in.doc)
	ext, _ := in.doc["externalId"].(string)
	g := &store.Group{ID: newID(), DisplayName: name, ExternalID: ext, Doc: raw, Created: now, Modified: now}
	if err := s.store.CreateGroup(ctx, tenant, g); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = scimerr.Conflict("a group with displayName %q already exists", name)
		}
		s.writeError(w, r, err)
		return
	}
	members := s.toMembers(users, in.members)
	if _, err := s.store.AddMembers(ctx, tenant, g.ID, members); err != nil {
		s.writeError(w, r, err)
		return
	}
	res := s.renderGroup(r, g, in.doc, members)
	w.Header().Set("Location", res["meta"].(map[string]any)["location"].(string))
	q, _ := parseQuery(s.viewOf(r).groups, r.URL.Query())
	s.writeResource(w, http.StatusCreated, g.Version, q.proj.apply(s.viewOf(r).groups, res))
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
	g, err := s.store.GetGroup(r.Context(), tenantOf(r), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scimerr.NotFound("group %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, g.Version) {
		return nil, scimerr.New(http.StatusPreconditionFailed, "", "the group's version is %s, not the one in If-Match", etag(g.Version))
	}
	return g, nil
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

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).groups, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.getGroupChecked(r, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, g.Version) {
		w.Header().Set("ETag", etag(g.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	res, err := s.groupResources(r, q, []*store.Group{g}, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, http.StatusOK, g.Version, q.proj.apply(s.viewOf(r).groups, res[0]))
}

// updateGroup validates and applies a change of a group: modify returns the
// new document and the member change. See the comment at the top of the file
// for the order of writes.
func (s *Server) updateGroup(r *http.Request, id string, modify func(g *store.Group, doc Resource) (Resource, patch.MemberChange, error)) (*store.Group, Resource, error) {
	ctx, tenant := r.Context(), tenantOf(r)
	for attempt := 0; ; attempt++ {
		prev, err := s.getGroupChecked(r, id)
		if err != nil {
			return nil, nil, err
		}
		doc, err := decodeGroupDoc(prev)
		if err != nil {
			return nil, nil, err
		}
		next, mc, err := modify(prev, doc)
		if err != nil {
			return nil, nil, err
		}
		name, err := groupFields(next)
		if err != nil {
			return nil, nil, err
		}
		if !strings.EqualFold(name, prev.DisplayName) {
			other, err := s.store.GroupByDisplayName(ctx, tenant, name)
			switch {
			case err == nil && other.ID != prev.ID:
				return nil, nil, scimerr.Conflict("a group with displayName %q already exists", name)
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return nil, nil, err
			}
		}
		add, remove := mc.Add, mc.Remove
		if mc.ReplaceAll {
			cur, err := s.store.Members(ctx, tenant, id)
			if err != nil {
				return nil, nil, err
			}
			want := map[string]bool{}
			for _, u := range mc.Add {
				want[u] = true
			}
			have := map[string]bool{}
			add, remove = nil, nil
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
		}
		users, err := s.checkUsers(ctx, tenant, add)
		if err != nil {
			return nil, nil, err
		}
		if err := s.store.RemoveMembers(ctx, tenant, id, remove); err != nil {
			return nil, nil, err
		}
		if _, err := s.store.AddMembers(ctx, tenant, id, s.toMembers(users, add)); err != nil {
			return nil, nil, err
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return nil, nil, err
		}
		g := *prev
		g.DisplayName, g.Doc, g.Modified = name, raw, s.now().UTC()
		g.ExternalID, _ = next["externalId"].(string)
		err = s.store.UpdateGroup(ctx, tenant, &g, prev)
		switch {
		case err == nil:
			return &g, next, nil
		case errors.Is(err, store.ErrConflict):
			return nil, nil, scimerr.Conflict("a group with displayName %q already exists", name)
		case errors.Is(err, store.ErrVersion) && r.Header.Get("If-Match") == "" && attempt < maxWriteRetries:
			continue // membership writes are idempotent: redo the whole change
		}
		return nil, nil, err
	}
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).groups, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := s.decodeGroup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, err)
		return
	}
	res, err := s.groupResources(r, q, []*store.Group{g}, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, http.StatusOK, g.Version, q.proj.apply(s.viewOf(r).groups, res[0]))
}

// patchGroup applies a PATCH and answers 204 No Content (RFC 7644 §3.5.2
// allows it; Okta and Entra accept it, and it spares returning a large member
// list). With attributes or excludedAttributes in the query, it answers 200
// with the group instead.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).groups, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := patch.Decode(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, _, err := s.updateGroup(r, r.PathValue("id"), func(prev *store.Group, doc Resource) (Resource, patch.MemberChange, error) {
		rest, mc, err := patch.SplitMembers(s.viewOf(r).groups, req.Operations)
		if err != nil {
			return nil, mc, err
		}
		if len(rest) == 0 {
			return doc, mc, nil
		}
		doc["id"] = prev.ID
		out, err := patch.Apply(r.Context(), s.viewOf(r).groups, doc, rest)
		if err != nil {
			return nil, mc, err
		}
		delete(out, "id")
		delete(out, "members")
		next, err := normalizeExt(s.viewOf(r).groups, out, s.viewOf(r).passThrough)
		return next, mc, err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(g.Version))
	v := r.URL.Query()
	if !v.Has("attributes") && !v.Has("excludedAttributes") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	res, err := s.groupResources(r, q, []*store.Group{g}, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, http.StatusOK, g.Version, q.proj.apply(s.viewOf(r).groups, res[0]))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	s.retryDelete(w, r, func() error {
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
func (s *Server) serveGroupList(w http.ResponseWriter, r *http.Request, q query) {
	ctx, tenant := r.Context(), tenantOf(r)
	if q.filter == nil && q.sortBy == "" {
		pageAll(s, w, r, q, "groups", s.store.CountGroups,
			func(ctx context.Context, tenant, after string, n int) ([]*store.Group, string, error) {
				p, err := s.store.ListGroups(ctx, tenant, after, n)
				return p.Groups, p.Last, err
			},
			func(gs []*store.Group) ([]Resource, error) { return s.groupResources(r, q, gs, false) },
			s.viewOf(r).groups)
		return
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
			s.writeError(w, r, err)
			return
		}
	}
	if !indexed {
		after := ""
		for {
			p, err := s.store.ListGroups(ctx, tenant, after, 500)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			candidates = append(candidates, p.Groups...)
			if len(candidates) > MaxFilterScan {
				s.writeError(w, r, scimerr.BadRequest(scimerr.TooManyType, "this filter needs more than %d groups evaluated; filter on id, displayName, externalId or members.value", MaxFilterScan))
				return
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
		s.writeError(w, r, err)
		return
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
	s.writeSliceFor(w, r, s.viewOf(r).groups, q, matched, nil)
}
