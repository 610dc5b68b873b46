package scim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scimless/scimless/pkg/jsonstr"
	"github.com/scimless/scimless/pkg/scim/patch"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

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
	if err := checkIdentifier("userName", userName); err != nil {
		return "", "", false, err
	}
	if err := checkIdentifier("externalId", externalID); err != nil {
		return "", "", false, err
	}
	active, ok := doc["active"].(bool)
	if !ok {
		active = true
		doc["active"] = true
	}
	return userName, externalID, active, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := decodeObject(body)
	if err != nil {
		return err
	}
	v := s.viewOf(r)
	doc, err := normalizeExt(v.users, in, v.passThrough)
	if err == nil {
		err = checkRequired(v.users, doc)
	}
	if err != nil {
		return err
	}
	pwHash, err := v.passwordHash(doc)
	if err != nil {
		return err
	}
	userName, externalID, active, err := userFields(doc)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	u := &store.User{ID: newID(), UserName: userName, ExternalID: externalID, Active: active, Doc: raw, Created: now, Modified: now, PasswordHash: pwHash}
	if err := s.store.CreateUser(r.Context(), tenantOf(r), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = scimerr.Conflict("a user with userName %q already exists", userName)
		}
		return err
	}
	res := s.renderUser(r, u, doc)
	w.Header().Set("Location", res["meta"].(map[string]any)["location"].(string))
	q, _ := parseQuery(s.viewOf(r).users, r.URL.Query())
	return s.writeResource(w, http.StatusCreated, u.Version, q.proj.apply(s.viewOf(r).users, res))
}

// writeUser writes one user, with its groups, as a 200 response.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, q query, u *store.User) error {
	groups, err := s.userGroups(r, q, []*store.User{u})
	if err != nil {
		return err
	}
	return s.writeUserBody(w, r, q, u, groups)
}

// writeUserBody writes u with its resolved groups: the default
// representation straight from the stored JSON (see fastjson.go), any other
// projection through the generic renderer.
func (s *Server) writeUserBody(w http.ResponseWriter, r *http.Request, q query, u *store.User, groups map[string]*store.Group) error {
	if q.proj.include == nil && q.proj.exclude == nil && s.viewOf(r).plainUsers {
		writeRaw(w, http.StatusOK, u.Version, appendUserJSON(make([]byte, 0, len(u.Doc)+512), s.viewOf(r).users, s.base(r), u, groups))
		return nil
	}
	res, err := s.userResource(r, u, groups)
	if err != nil {
		return err
	}
	return s.writeResource(w, http.StatusOK, u.Version, q.proj.apply(s.viewOf(r).users, res))
}

func (s *Server) renderUser(r *http.Request, u *store.User, doc Resource) Resource {
	return render(s.viewOf(r).users, s.base(r), doc, meta{ID: u.ID, Created: u.Created, Modified: u.Modified, Version: u.Version})
}

// writeResource writes one resource with its ETag. A resource larger than
// any response may be (a group with a very large member list) is refused
// with 400 tooMany instead.
func (s *Server) writeResource(w http.ResponseWriter, status int, version int64, res Resource) error {
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode resource: %w", err)
	}
	if jsonstr.QuotedLen(b) > s.maxResponse {
		return tooLargeToReturn(res)
	}
	writeRaw(w, status, version, b)
	return nil
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
	if err := checkIfMatch(r, "user", u.Version); err != nil {
		return nil, err
	}
	return u, nil
}

// checkIfMatch returns 412 when the request's If-Match names no current
// version of the resource (a kind such as "user") at version.
func checkIfMatch(r *http.Request, kind string, version int64) error {
	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, version) {
		return scimerr.New(http.StatusPreconditionFailed, "", "the %s's version is %s, not the one in If-Match", kind, etag(version))
	}
	return nil
}

// notModified answers 304 Not Modified, and reports true, when the
// request's If-None-Match names version.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, version) {
		w.Header().Set("ETag", etag(version))
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// decodePatch reads the query and the PatchOp body of a PATCH of a resource
// of type rt.
func (s *Server) decodePatch(r *http.Request, rt *schema.ResourceType) (query, *patch.Request, error) {
	q, err := parseQuery(rt, r.URL.Query())
	if err != nil {
		return q, nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return q, nil, err
	}
	req, err := patch.Decode(body)
	return q, req, err
}

// applyPatch applies PATCH operations to the stored document of the
// resource id (of type rt) and returns the new document, normalised as a
// PUT body would be. id is visible to the operations' filters, and
// attributes dropped (read-only ones such as members, which are stored
// apart) never reach the document.
func (s *Server) applyPatch(r *http.Request, rt *schema.ResourceType, id string, doc Resource, ops []patch.Operation, drop ...string) (Resource, error) {
	doc["id"] = id
	out, err := patch.Apply(r.Context(), rt, doc, ops)
	if err != nil {
		return nil, err
	}
	delete(out, "id")
	for _, k := range drop {
		delete(out, k)
	}
	return normalizeExt(rt, out, s.viewOf(r).passThrough)
}

// possibleID reports whether id could name a stored resource. Longer ids
// cannot be part of a DynamoDB key (1,024 bytes at most), which DynamoDB
// refuses with a ValidationException; they, and ids with control
// characters (never issued), are answered as not found without a read.
func possibleID(id string) bool {
	return id != "" && len(id) <= store.MaxKeyValue && !hasControl(id)
}

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

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(s.viewOf(r).users, r.URL.Query())
	if err != nil {
		return err
	}
	u, err := s.getUserChecked(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if notModified(w, r, u.Version) {
		return nil
	}
	return s.writeUser(w, r, q, u)
}

// updateUser runs a read-modify-write of one user, again on the new state
// when another write wins the race (see retryWrite).
func (s *Server) updateUser(r *http.Request, id string, modify func(u *store.User, doc Resource) (Resource, error)) (*store.User, Resource, error) {
	var (
		out              *store.User
		outD             Resource
		hashedPW, pwHash string
	)
	err := s.retryWrite(r, func() error {
		prev, err := s.getUserChecked(r, id)
		if err != nil {
			return err
		}
		doc, err := decodeDoc(prev)
		if err != nil {
			return err
		}
		next, err := modify(prev, doc)
		if err == nil {
			err = checkRequired(s.viewOf(r).users, next)
		}
		if err != nil {
			return err
		}
		// The password is the same on every attempt: hash it once.
		pw, _ := next["password"].(string)
		if pw != hashedPW || pw == "" {
			if pwHash, err = s.viewOf(r).passwordHash(next); err != nil {
				return err
			}
			hashedPW = pw
		}
		userName, externalID, active, err := userFields(next)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return err
		}
		u := *prev
		u.UserName, u.ExternalID, u.Active, u.Doc, u.Modified = userName, externalID, active, raw, s.now().UTC()
		if pwHash != "" {
			u.PasswordHash = pwHash // a new password; otherwise the stored hash stays
		}
		err = s.store.UpdateUser(r.Context(), tenantOf(r), &u, prev)
		if errors.Is(err, store.ErrConflict) {
			return scimerr.Conflict("a user with userName %q already exists", userName)
		}
		if err != nil {
			return err
		}
		out, outD = &u, next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, outD, nil
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(s.viewOf(r).users, r.URL.Query())
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := decodeObject(body)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if bid, ok := in["id"].(string); ok && bid != "" && bid != id {
		return scimerr.Mutability("the id in the body (%q) does not match the URL", bid)
	}
	next, err := normalizeExt(s.viewOf(r).users, in, s.viewOf(r).passThrough)
	if err != nil {
		return err
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
		return err
	}
	return s.writeUser(w, r, q, u)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	rt := s.viewOf(r).users
	q, req, err := s.decodePatch(r, rt)
	if err != nil {
		return err
	}
	u, _, err := s.updateUser(r, r.PathValue("id"), func(prev *store.User, cur Resource) (Resource, error) {
		return s.applyPatch(r, rt, prev.ID, cur, req.Operations)
	})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, q, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	return s.retryDelete(w, r, func() error {
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
func (s *Server) serveUserList(w http.ResponseWriter, r *http.Request, q query) error {
	ctx, tenant := r.Context(), tenantOf(r)
	if q.filter == nil && q.sortBy == "" {
		return s.pageAllUsers(w, r, q)
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
				return err
			}
		}
	}
	var matched []Resource
	evalQ := q
	if !strings.Contains(strings.ToLower(q.rawFilter), "groups") && !strings.EqualFold(q.sortBy, "groups") {
		evalQ.proj = projection{exclude: map[string]bool{"groups": true}}
	}
	byID := map[string]*store.User{}
	// Okta's and Entra's existence checks (userName eq "…") with no sorting
	// or attribute selection: the filter tests only id and userName, which
	// the stored user holds as its document does, and a user in no group is
	// written as stored (see encode below), so its document is never decoded.
	asStored := q.sortBy == "" && q.proj.include == nil && q.proj.exclude == nil && s.viewOf(r).plainUsers && testsOnly(q, "id", "userName")
	consider := func(u *store.User) error {
		byID[u.ID] = u
		var res Resource
		if asStored && len(u.Groups) == 0 {
			res = Resource{"id": u.ID, "userName": u.UserName}
		} else {
			rs, err := s.userResources(r, evalQ, []*store.User{u})
			if err != nil {
				return err
			}
			res = rs[0]
		}
		if q.filter == nil || q.filter.Match(res) {
			matched = append(matched, res)
		}
		return nil
	}
	if indexed {
		for _, u := range candidates {
			if err := consider(u); err != nil {
				return err
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
			return err
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
		grouped := false
		for i, res := range page {
			us[i] = byID[res["id"].(string)]
			grouped = grouped || len(us[i].Groups) > 0
		}
		if !grouped {
			return page, nil // rendered with groups, they would be the same
		}
		return s.userResources(r, q, us)
	}
	var encode func(Resource) []byte
	if q.proj.include == nil && q.proj.exclude == nil && s.viewOf(r).plainUsers {
		// A user in no group is written as stored, as GET /Users/{id}
		// writes it, rather than encoding the resource rendered for the
		// filter.
		rt, base := s.viewOf(r).users, s.base(r)
		encode = func(res Resource) []byte {
			id, _ := res["id"].(string)
			if u := byID[id]; u != nil && len(u.Groups) == 0 {
				return appendUserJSON(make([]byte, 0, len(u.Doc)+512), rt, base, u, nil)
			}
			return nil
		}
	}
	return s.writeSliceFor(w, r, s.viewOf(r).users, q, matched, enrich, encode)
}

// testsOnly reports whether q's filter tests no attribute but attrs.
func testsOnly(q query, attrs ...string) bool {
	if q.filter == nil {
		return false
	}
	for _, a := range q.filter.Attrs() {
		if !slices.Contains(attrs, a) {
			return false
		}
	}
	return true
}

// pageAllUsers serves an unfiltered page of users.
func (s *Server) pageAllUsers(w http.ResponseWriter, r *http.Request, q query) error {
	return pageAll(s, w, r, q, "users", s.store.UserPageStart,
		func(ctx context.Context, tenant, after string, n int) ([]*store.User, string, error) {
			p, err := s.store.ListUsers(ctx, tenant, after, n)
			return p.Users, p.Last, err
		},
		func(us []*store.User) ([]Resource, func(Resource) []byte, error) { return s.userPage(r, q, us) },
		s.viewOf(r).users)
}

// userPage renders a page of users. In their default representation (no
// attribute selection) each user is written as stored, with its groups, as
// GET /Users/{id} writes it: the resources returned then only carry the
// users' ids, for the encoder returned with them.
func (s *Server) userPage(r *http.Request, q query, us []*store.User) ([]Resource, func(Resource) []byte, error) {
	v := s.viewOf(r)
	if q.proj.include != nil || q.proj.exclude != nil || !v.plainUsers {
		rs, err := s.userResources(r, q, us)
		return rs, nil, err
	}
	groups, err := s.userGroups(r, q, us)
	if err != nil {
		return nil, nil, err
	}
	rs := make([]Resource, len(us))
	byID := make(map[string]*store.User, len(us))
	for i, u := range us {
		rs[i] = Resource{"id": u.ID}
		byID[u.ID] = u
	}
	base := s.base(r)
	return rs, func(res Resource) []byte {
		id, _ := res["id"].(string)
		u := byID[id]
		if u == nil {
			return nil
		}
		return appendUserJSON(make([]byte, 0, len(u.Doc)+512), v.users, base, u, groups)
	}, nil
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
