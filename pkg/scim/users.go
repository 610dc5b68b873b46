package scim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scimless/scimless/pkg/scim/patch"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// maxWriteRetries bounds the read-modify-write retries of a PATCH, PUT or
// DELETE that races another write of the same resource (without If-Match).
const maxWriteRetries = 3

// newID returns a random UUID (version 4), the id of a new resource.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// userDoc validates a normalised user and returns the fields the store keeps
// beside the document. The password is removed: it is never stored in clear.
func userFields(doc Resource) (userName, externalID string, active bool, err error) {
	delete(doc, "password")
	userName, _ = doc["userName"].(string)
	if strings.TrimSpace(userName) == "" {
		return "", "", false, scimerr.InvalidValue("userName is required")
	}
	if len(userName) > store.MaxKeyValue {
		return "", "", false, scimerr.InvalidValue("userName is longer than %d bytes", store.MaxKeyValue)
	}
	externalID, _ = doc["externalId"].(string)
	if len(externalID) > store.MaxKeyValue {
		return "", "", false, scimerr.InvalidValue("externalId is longer than %d bytes", store.MaxKeyValue)
	}
	active, ok := doc["active"].(bool)
	if !ok {
		active = true
		doc["active"] = true
	}
	return userName, externalID, active, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := decodeObject(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := s.viewOf(r)
	doc, err := normalizeExt(v.users, in, v.passThrough)
	if err == nil {
		err = checkRequired(v.users, doc)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pwHash, err := v.passwordHash(doc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	userName, externalID, active, err := userFields(doc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now().UTC()
	u := &store.User{ID: newID(), UserName: userName, ExternalID: externalID, Active: active, Doc: raw, Created: now, Modified: now, PasswordHash: pwHash}
	if err := s.store.CreateUser(r.Context(), tenantOf(r), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = scimerr.Conflict("a user with userName %q already exists", userName)
		}
		s.writeError(w, r, err)
		return
	}
	res := s.renderUser(r, u, doc)
	w.Header().Set("Location", res["meta"].(map[string]any)["location"].(string))
	q, _ := parseQuery(s.viewOf(r).users, r.URL.Query())
	s.writeResource(w, http.StatusCreated, u.Version, q.proj.apply(s.viewOf(r).users, res))
}

// writeUser writes one user, with its groups, as a 200 response.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, q query, u *store.User) {
	groups, err := s.userGroups(r, q, []*store.User{u})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeUserBody(w, r, q, u, groups)
}

// writeUserBody writes u with its resolved groups: the default
// representation straight from the stored JSON (see fastjson.go), any other
// projection through the generic renderer.
func (s *Server) writeUserBody(w http.ResponseWriter, r *http.Request, q query, u *store.User, groups map[string]*store.Group) {
	if q.proj.include == nil && q.proj.exclude == nil && s.viewOf(r).plainUsers {
		writeRaw(w, http.StatusOK, u.Version, appendUserJSON(make([]byte, 0, len(u.Doc)+512), s.viewOf(r).users, s.base(r), u, groups))
		return
	}
	res, err := s.userResource(r, u, groups)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, http.StatusOK, u.Version, q.proj.apply(s.viewOf(r).users, res))
}

func (s *Server) renderUser(r *http.Request, u *store.User, doc Resource) Resource {
	return render(s.viewOf(r).users, s.base(r), doc, meta{ID: u.ID, Created: u.Created, Modified: u.Modified, Version: u.Version})
}

func (s *Server) writeResource(w http.ResponseWriter, status int, version int64, res Resource) {
	w.Header().Set("ETag", etag(version))
	writeJSON(w, status, res)
}

func decodeDoc(u *store.User) (Resource, error) {
	var doc Resource
	if err := json.Unmarshal(u.Doc, &doc); err != nil {
		return nil, fmt.Errorf("decode user %s: %w", u.ID, err)
	}
	if doc == nil {
		doc = Resource{}
	}
	return doc, nil
}

// getUserChecked reads a user and applies If-Match.
func (s *Server) getUserChecked(r *http.Request, id string) (*store.User, error) {
	if !possibleID(id) {
		return nil, scimerr.NotFound("user %q not found", truncateID(id))
	}
	u, err := s.store.GetUser(r.Context(), tenantOf(r), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scimerr.NotFound("user %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, u.Version) {
		return nil, scimerr.New(http.StatusPreconditionFailed, "", "the user's version is %s, not the one in If-Match", etag(u.Version))
	}
	return u, nil
}

// possibleID reports whether id could name a stored resource. Longer ids
// cannot be part of a DynamoDB key (1,024 bytes at most), which DynamoDB
// refuses with a ValidationException; they are answered as not found
// without a read.
func possibleID(id string) bool { return id != "" && len(id) <= store.MaxKeyValue }

// truncateID shortens an id for an error detail.
func truncateID(id string) string {
	if len(id) > 64 {
		return id[:64] + "…"
	}
	return id
}

// etagMatches reports whether an If-Match / If-None-Match list names version.
func etagMatches(header string, version int64) bool {
	want := etag(version)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == want || "W/"+t == want {
			return true
		}
	}
	return false
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).users, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.getUserChecked(r, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, u.Version) {
		w.Header().Set("ETag", etag(u.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeUser(w, r, q, u)
}

// updateUser runs a read-modify-write of one user, retrying when another
// write wins the race (unless the client pinned a version with If-Match).
func (s *Server) updateUser(r *http.Request, id string, modify func(u *store.User, doc Resource) (Resource, error)) (*store.User, Resource, error) {
	for attempt := 0; ; attempt++ {
		prev, err := s.getUserChecked(r, id)
		if err != nil {
			return nil, nil, err
		}
		doc, err := decodeDoc(prev)
		if err != nil {
			return nil, nil, err
		}
		next, err := modify(prev, doc)
		if err == nil {
			err = checkRequired(s.viewOf(r).users, next)
		}
		if err != nil {
			return nil, nil, err
		}
		pwHash, err := s.viewOf(r).passwordHash(next)
		if err != nil {
			return nil, nil, err
		}
		userName, externalID, active, err := userFields(next)
		if err != nil {
			return nil, nil, err
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return nil, nil, err
		}
		u := *prev
		u.UserName, u.ExternalID, u.Active, u.Doc, u.Modified = userName, externalID, active, raw, s.now().UTC()
		if pwHash != "" {
			u.PasswordHash = pwHash // a new password; otherwise the stored hash stays
		}
		err = s.store.UpdateUser(r.Context(), tenantOf(r), &u, prev)
		switch {
		case err == nil:
			return &u, next, nil
		case errors.Is(err, store.ErrConflict):
			return nil, nil, scimerr.Conflict("a user with userName %q already exists", userName)
		case errors.Is(err, store.ErrVersion) && r.Header.Get("If-Match") == "" && attempt < maxWriteRetries:
			continue
		}
		return nil, nil, err
	}
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).users, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := decodeObject(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if bid, ok := in["id"].(string); ok && bid != "" && bid != id {
		s.writeError(w, r, scimerr.Mutability("the id in the body (%q) does not match the URL", bid))
		return
	}
	next, err := normalizeExt(s.viewOf(r).users, in, s.viewOf(r).passThrough)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, _, err := s.updateUser(r, id, func(prev *store.User, cur Resource) (Resource, error) {
		n := make(Resource, len(next)+1)
		for k, v := range next {
			n[k] = v
		}
		// Okta's PUT omits attributes it does not map: an omitted active keeps
		// its value instead of silently deactivating the user.
		if _, ok := n["active"]; !ok {
			n["active"] = prev.Active
		}
		return n, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeUser(w, r, q, u)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(s.viewOf(r).users, r.URL.Query())
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
	id := r.PathValue("id")
	u, _, err := s.updateUser(r, id, func(prev *store.User, cur Resource) (Resource, error) {
		cur["id"] = prev.ID
		out, err := patch.Apply(r.Context(), s.viewOf(r).users, cur, req.Operations)
		if err != nil {
			return nil, err
		}
		delete(out, "id")
		return normalizeExt(s.viewOf(r).users, out, s.viewOf(r).passThrough)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeUser(w, r, q, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	s.retryDelete(w, r, func() error {
		prev, err := s.getUserChecked(r, r.PathValue("id"))
		if err != nil {
			return err
		}
		// Memberships go first, so no group ever lists a deleted user. A
		// concurrent add bumps the user's version, failing the delete below,
		// which then starts over with the new group list.
		if err := s.store.RemoveUserFromGroups(r.Context(), tenantOf(r), prev.ID, prev.Groups); err != nil {
			return err
		}
		return s.store.DeleteUser(r.Context(), tenantOf(r), prev)
	})
}

// serveUserList answers a user list by the cheapest access pattern that
// serves it: an index for id / userName / externalId equality, the cursor
// cache for unfiltered index paging, and a bounded in-memory evaluation
// within the tenant for anything else.
func (s *Server) serveUserList(w http.ResponseWriter, r *http.Request, q query) {
	ctx, tenant := r.Context(), tenantOf(r)
	if q.filter == nil && q.sortBy == "" {
		s.pageAllUsers(w, r, q)
		return
	}
	var candidates []*store.User
	indexed := false
	{
		if eq, ok := indexEquality(q); ok {
			var err error
			switch eq.Attr {
			case "id":
				indexed = true
				if !possibleID(eq.Value) {
					break
				}
				u, gerr := s.store.GetUser(ctx, tenant, eq.Value)
				if gerr == nil {
					candidates = []*store.User{u}
				} else if !errors.Is(gerr, store.ErrNotFound) {
					err = gerr
				}
			case "userName":
				indexed = true
				u, gerr := s.store.UserByUserName(ctx, tenant, eq.Value)
				if gerr == nil {
					candidates = []*store.User{u}
				} else if !errors.Is(gerr, store.ErrNotFound) {
					err = gerr
				}
			case "externalId":
				indexed = true
				candidates, err = s.store.UsersByExternalID(ctx, tenant, eq.Value)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	}
	var matched []Resource
	evalQ := q
	if !strings.Contains(strings.ToLower(q.rawFilter), "groups") && !strings.EqualFold(q.sortBy, "groups") {
		evalQ.proj = projection{exclude: map[string]bool{"groups": true}}
	}
	byID := map[string]*store.User{}
	consider := func(u *store.User) error {
		byID[u.ID] = u
		rs, err := s.userResources(r, evalQ, []*store.User{u})
		if err != nil {
			return err
		}
		res := rs[0]
		if q.filter == nil || q.filter.Match(res) {
			matched = append(matched, res)
		}
		return nil
	}
	if indexed {
		for _, u := range candidates {
			if err := consider(u); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	} else {
		var ferr error
		scanned := 0
		err := s.store.EachUser(ctx, tenant, "", func(u *store.User) bool {
			scanned++
			if scanned > MaxFilterScan {
				ferr = scimerr.BadRequest(scimerr.TooManyType, "this filter needs more than %d users evaluated; filter on id, userName or externalId", MaxFilterScan)
				return false
			}
			if err := consider(u); err != nil {
				ferr = err
				return false
			}
			return true
		})
		if err == nil {
			err = ferr
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if q.sortBy != "" {
		sortResources(s.viewOf(r).users, q, matched)
	}
	enrich := func(page []Resource) ([]Resource, error) {
		if q.proj.excludes("groups") || evalQ.proj.exclude == nil {
			return page, nil
		}
		us := make([]*store.User, len(page))
		for i, res := range page {
			us[i] = byID[res["id"].(string)]
		}
		return s.userResources(r, q, us)
	}
	s.writeSliceFor(w, r, s.viewOf(r).users, q, matched, enrich)
}

// pageAllUsers serves an unfiltered page of users.
func (s *Server) pageAllUsers(w http.ResponseWriter, r *http.Request, q query) {
	pageAll(s, w, r, q, "users", s.store.CountUsers,
		func(ctx context.Context, tenant, after string, n int) ([]*store.User, string, error) {
			p, err := s.store.ListUsers(ctx, tenant, after, n)
			return p.Users, p.Last, err
		},
		func(us []*store.User) ([]Resource, error) { return s.userResources(r, q, us) },
		s.viewOf(r).users)
}

// userResources renders users with their groups. The display names of all
// the page's groups are read with one BatchGetItem per 100 groups, and only
// when the projection returns groups. Group ids whose group no longer exists
// (a deleted group still being cleaned up) are left out.
func (s *Server) userResources(r *http.Request, q query, users []*store.User) ([]Resource, error) {
	groups, err := s.userGroups(r, q, users)
	if err != nil {
		return nil, err
	}
	out := make([]Resource, len(users))
	for i, u := range users {
		if out[i], err = s.userResource(r, u, groups); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// userGroups reads the groups of users (one BatchGetItem per 100 groups),
// unless the projection leaves groups out.
func (s *Server) userGroups(r *http.Request, q query, users []*store.User) (map[string]*store.Group, error) {
	var groups map[string]*store.Group
	if !q.proj.excludes("groups") {
		var ids []string
		seen := map[string]bool{}
		for _, u := range users {
			for _, g := range u.Groups {
				if !seen[g] {
					seen[g] = true
					ids = append(ids, g)
				}
			}
		}
		if len(ids) > 0 {
			var err error
			if groups, err = s.store.GetGroups(r.Context(), tenantOf(r), ids); err != nil {
				return nil, err
			}
		}
	}
	return groups, nil
}

// userResource renders one user with its groups.
func (s *Server) userResource(r *http.Request, u *store.User, groups map[string]*store.Group) (Resource, error) {
	doc, err := decodeDoc(u)
	if err != nil {
		return nil, err
	}
	res := s.renderUser(r, u, doc)
	base := s.base(r)
	var list []any
	for _, gid := range u.Groups {
		if g := groups[gid]; g != nil {
			list = append(list, map[string]any{"value": gid, "$ref": base + "/Groups/" + gid, "display": g.DisplayName, "type": "direct"})
		}
	}
	if list != nil {
		res["groups"] = list
	}
	return res, nil
}
