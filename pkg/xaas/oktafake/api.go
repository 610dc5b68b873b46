package oktafake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Okta error codes the fake answers with.
const (
	codeValidation   = "E0000001"
	codeBadRequest   = "E0000003"
	codeForbidden    = "E0000006"
	codeNotFound     = "E0000007"
	codeInternal     = "E0000009"
	codeUnauthorized = "E0000011"
	codeRateLimited  = "E0000047"
)

// okError is Okta's error body.
type okError struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []errorCause `json:"errorCauses"`
}

type errorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

func writeError(w http.ResponseWriter, s *Server, status int, code, summary string, causes ...string) {
	e := okError{
		ErrorCode: code, ErrorSummary: summary, ErrorLink: code,
		ErrorID:     fmt.Sprintf("oaefake%013d", s.seq),
		ErrorCauses: []errorCause{},
	}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, errorCause{c})
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"","errorCauses":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// validation answers 400 E0000001 with causes.
func (s *Server) validation(w http.ResponseWriter, causes ...string) {
	writeError(w, s, http.StatusBadRequest, codeValidation, "Api validation failed: "+strings.Join(causes, "; "), causes...)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	const base = "/api/v1/identity-sources/{source}/sessions"
	m.HandleFunc("POST /oauth2/v1/token", s.token)
	m.HandleFunc("GET "+base, s.api(ScopeRead, s.listSessions))
	m.HandleFunc("POST "+base, s.api(ScopeManage, s.createSession))
	m.HandleFunc("GET "+base+"/{session}", s.api(ScopeRead, s.withSession(s.getSession)))
	m.HandleFunc("DELETE "+base+"/{session}", s.api(ScopeManage, s.withSession(s.cancelSession)))
	m.HandleFunc("POST "+base+"/{session}/start-import", s.api(ScopeManage, s.withSession(s.startImport)))
	for _, op := range []string{opUsersUpsert, opUsersDelete, opGroupsUpsert, opGroupsDelete, opMembersUpsert, opMembersDelete} {
		m.HandleFunc("POST "+base+"/{session}/"+op, s.api(ScopeManage, s.withSession(s.bulk(op))))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// Bulk operations (the last path segment).
const (
	opUsersUpsert   = "bulk-upsert"
	opUsersDelete   = "bulk-delete"
	opGroupsUpsert  = "bulk-groups-upsert"
	opGroupsDelete  = "bulk-groups-delete"
	opMembersUpsert = "bulk-group-memberships-upsert"
	opMembersDelete = "bulk-group-memberships-delete"
)

// api checks the token and its scope (ScopeManage also allows reads) and
// the identity source, then calls h. s.mu is held.
func (s *Server) api(scope string, h func(http.ResponseWriter, *http.Request, *source)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scopes, ok := s.authenticate(r, info(r).now)
		if !ok {
			writeError(w, s, http.StatusUnauthorized, codeUnauthorized, "Invalid token provided")
			return
		}
		allowed := false
		for _, sc := range scopes {
			if sc == scope || sc == ScopeManage {
				allowed = true
			}
		}
		if !allowed {
			writeError(w, s, http.StatusForbidden, codeForbidden, "You do not have permission to perform the requested action")
			return
		}
		src := s.sources[r.PathValue("source")]
		if src == nil {
			writeError(w, s, http.StatusNotFound, codeNotFound,
				"Not found: Resource not found: "+r.PathValue("source")+" (IdentitySource)")
			return
		}
		h(w, r, src)
	}
}

// authenticate returns the scopes of the request's token.
func (s *Server) authenticate(r *http.Request, now time.Time) ([]string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || tok == "" {
		return nil, false
	}
	switch {
	case strings.EqualFold(scheme, "SSWS"):
		for _, t := range s.opts.APITokens {
			if t == tok {
				return []string{ScopeManage, ScopeRead}, true
			}
		}
	case strings.EqualFold(scheme, "Bearer"):
		if at, found := s.tokens[tok]; found && now.Before(at.expires) {
			return at.scopes, true
		}
	}
	return nil, false
}

// withSession looks up the session named in the path (which must belong to
// the source), marks it used and calls h.
func (s *Server) withSession(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *source) {
	return func(w http.ResponseWriter, r *http.Request, src *source) {
		id := r.PathValue("session")
		ss := s.sessions[id]
		if ss == nil || ss.IdentitySourceID != src.id {
			if s.opts.UnknownSessionStatus == http.StatusBadRequest {
				s.validation(w, "Invalid session id: "+id)
			} else {
				writeError(w, s, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+id+" (IdentitySourceSession)")
			}
			return
		}
		ss.lastActivity = info(r).now
		h(w, r, ss)
	}
}

// wireSession is Okta's session object.
type wireSession struct {
	ID               string `json:"id"`
	IdentitySourceID string `json:"identitySourceId"`
	Status           string `json:"status"`
	ImportType       string `json:"importType"`
	Created          string `json:"created"`
	LastUpdated      string `json:"lastUpdated"`
}

const oktaTime = "2006-01-02T15:04:05.000Z"

func (ss *session) wire() wireSession {
	return wireSession{
		ID: ss.ID, IdentitySourceID: ss.IdentitySourceID, Status: ss.Status, ImportType: ss.ImportType,
		Created: ss.Created.UTC().Format(oktaTime), LastUpdated: ss.LastUpdated.UTC().Format(oktaTime),
	}
}

func active(status string) bool {
	return status == StatusCreated || status == StatusInProgress || status == StatusTriggered
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, src *source) {
	out := []wireSession{}
	for _, ss := range src.sessions {
		if s.opts.ListAll || active(ss.Status) {
			out = append(out, ss.wire())
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, src *source) {
	now := info(r).now
	for _, ss := range src.sessions {
		if active(ss.Status) {
			s.validation(w, "An active session ("+ss.ID+", "+ss.Status+") already exists for this identity source")
			return
		}
	}
	if s.opts.SessionGap > 0 && !src.lastTrigger.IsZero() && now.Before(src.lastTrigger.Add(s.opts.SessionGap)) {
		s.validation(w, "A new session cannot be created within "+s.opts.SessionGap.String()+" of triggering the previous one")
		return
	}
	ss := &session{
		Session: Session{
			ID:               fmt.Sprintf("uis%017d", len(s.sessions)+1),
			IdentitySourceID: src.id,
			Status:           StatusCreated,
			ImportType:       "INCREMENTAL",
			Created:          now,
			LastUpdated:      now,
		},
		lastActivity: now,
		seenUsers:    map[string]bool{},
		seenGroups:   map[string]bool{},
	}
	s.sessions[ss.ID] = ss
	src.sessions = append(src.sessions, ss)
	writeJSON(w, http.StatusOK, ss.wire())
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, ss *session) {
	if ss.Status == StatusTriggered {
		if ss.polls < s.opts.ImportPolls {
			ss.polls++
		} else {
			s.advance(info(r).now)
		}
	}
	writeJSON(w, http.StatusOK, ss.wire())
}

func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request, ss *session) {
	if ss.Status != StatusCreated && (ss.Status != StatusInProgress || s.opts.LegacyStates) {
		s.validation(w, "Session "+ss.ID+" is "+ss.Status+" and cannot be cancelled")
		return
	}
	ss.Status, ss.LastUpdated, ss.uploads = StatusClosed, info(r).now, nil
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) startImport(w http.ResponseWriter, r *http.Request, ss *session) {
	triggerable := ss.Status == StatusInProgress
	if s.opts.LegacyStates {
		triggerable = ss.Status == StatusCreated
	}
	if !triggerable {
		s.validation(w, "Session "+ss.ID+" is "+ss.Status+" and cannot be triggered")
		return
	}
	now := info(r).now
	ss.Status, ss.LastUpdated, ss.TriggeredAt, ss.polls = StatusTriggered, now, now, 0
	s.sources[ss.IdentitySourceID].lastTrigger = now
	writeJSON(w, http.StatusOK, ss.wire())
}

// advance applies the passage of time up to now: idle sessions expire and
// triggered imports finish. s.mu is held.
func (s *Server) advance(now time.Time) {
	for _, src := range s.sources {
		for _, ss := range src.sessions {
			switch ss.Status {
			case StatusCreated, StatusInProgress:
				if s.opts.IdleExpiry > 0 && now.Sub(ss.lastActivity) > s.opts.IdleExpiry {
					ss.Status, ss.LastUpdated, ss.uploads = StatusExpired, ss.lastActivity.Add(s.opts.IdleExpiry), nil
				}
			case StatusTriggered:
				if !now.Before(ss.TriggeredAt.Add(s.opts.ImportDelay)) && ss.polls >= s.opts.ImportPolls {
					s.finish(ss, now)
				}
			}
		}
	}
}

// finish ends a triggered session's import.
func (s *Server) finish(ss *session, now time.Time) {
	ss.LastUpdated = now
	if s.opts.FailImports {
		ss.Status, ss.uploads = StatusError, nil
		return
	}
	ss.Status = StatusCompleted
	// Users first, in upload order.
	for _, u := range ss.uploads {
		switch u.op {
		case opUsersUpsert:
			for _, p := range u.users {
				s.users[p.ExternalID] = &User{ExternalID: p.ExternalID, Profile: p.Profile, Active: true, SessionID: ss.ID}
			}
		case opUsersDelete:
			for _, id := range u.ids {
				if usr := s.users[id]; usr != nil {
					usr.Active, usr.SessionID = false, ss.ID
				}
			}
		}
	}
	for _, u := range ss.uploads {
		if u.op != opGroupsUpsert {
			continue
		}
		for _, g := range u.groups {
			gs := s.groups[g.ExternalID]
			if gs == nil {
				gs = &groupState{members: map[string]bool{}}
				s.groups[g.ExternalID] = gs
			}
			gs.ExternalID, gs.DisplayName, gs.Description = g.ExternalID, g.Profile.DisplayName, deref(g.Profile.Description)
		}
	}
	for _, u := range ss.uploads {
		if u.op != opMembersUpsert && u.op != opMembersDelete {
			continue
		}
		for _, m := range u.memberships {
			gs := s.groups[m.GroupExternalID]
			if gs == nil {
				continue
			}
			for _, id := range m.MemberExternalIDs {
				if u.op == opMembersUpsert {
					gs.members[id] = true
				} else {
					delete(gs.members, id)
				}
			}
		}
	}
	for _, u := range ss.uploads {
		if u.op == opGroupsDelete {
			for _, id := range u.ids {
				delete(s.groups, id)
			}
		}
	}
	ss.uploads = nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// upload is one accepted bulk request.
type upload struct {
	op          string
	users       []wireUser
	ids         []string
	groups      []wireGroup
	memberships []wireMembership
}

type wireUser struct {
	ExternalID string            `json:"externalId"`
	Profile    map[string]string `json:"-"`
}

type wireGroup struct {
	ExternalID string `json:"externalId"`
	Profile    struct {
		DisplayName string  `json:"displayName"`
		Description *string `json:"description"`
	} `json:"profile"`
}

type wireMembership struct {
	GroupExternalID   string   `json:"groupExternalId"`
	MemberExternalIDs []string `json:"memberExternalIds"`
}

// bulk returns the handler of one bulk operation.
func (s *Server) bulk(op string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, ss *session) {
		if ss.Status != StatusCreated && (ss.Status != StatusInProgress || s.opts.LegacyStates) {
			s.validation(w, "Session "+ss.ID+" is "+ss.Status+"; data can only be uploaded to a session that has not been triggered")
			return
		}
		body := info(r).body
		if len(bytes.TrimSpace(body)) == 0 {
			writeError(w, s, http.StatusBadRequest, codeBadRequest, "The request body was not well-formed.", "Request body is required")
			return
		}
		if s.opts.MaxBodyBytes > 0 && len(body) > s.opts.MaxBodyBytes {
			s.validation(w, fmt.Sprintf("Request body is larger than %d bytes", s.opts.MaxBodyBytes))
			return
		}
		up, code, causes := decodeUpload(op, body)
		switch code {
		case codeBadRequest:
			writeError(w, s, http.StatusBadRequest, codeBadRequest, "The request body was not well-formed.", causes...)
			return
		case codeValidation:
			s.validation(w, causes...)
			return
		}
		n := up.count()
		switch {
		case n == 0:
			s.validation(w, "profiles: must not be empty")
			return
		case n > s.opts.MaxBatch:
			s.validation(w, fmt.Sprintf("A maximum of %d entities can be uploaded per request; got %d", s.opts.MaxBatch, n))
			return
		case ss.Uploads >= s.opts.MaxUploads:
			s.validation(w, fmt.Sprintf("A maximum of %d bulk requests can be made per session", s.opts.MaxUploads))
			return
		case ss.Entities+n > s.opts.MaxEntities:
			s.validation(w, fmt.Sprintf("A maximum of %d entities can be uploaded per session", s.opts.MaxEntities))
			return
		}
		// Users (upserted or deactivated) and groups (upserted or deleted)
		// may each appear once per session; a group's memberships may be
		// split over several uploads.
		keys, seen := up.keys(), ss.seenUsers
		switch op {
		case opGroupsUpsert, opGroupsDelete:
			seen = ss.seenGroups
		case opMembersUpsert, opMembersDelete:
			keys = nil
		}
		if s.opts.RejectDuplicates {
			for _, k := range keys {
				if seen[k] {
					s.validation(w, "externalId "+k+" was already uploaded in this session")
					return
				}
			}
		}
		for _, k := range keys {
			seen[k] = true
		}
		now := info(r).now
		known := op != opUsersDelete
		if !known {
			for _, id := range up.ids {
				if s.users[id] != nil || s.uploadedUser(ss, id) {
					known = true
					break
				}
			}
		}
		ss.uploads = append(ss.uploads, up)
		ss.Uploads++
		ss.Entities += n
		ss.LastUpdated = now
		if known && !s.opts.LegacyStates {
			ss.Status = StatusInProgress
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// uploadedUser reports whether the session upserts the user.
func (s *Server) uploadedUser(ss *session, id string) bool {
	for _, u := range ss.uploads {
		for _, p := range u.users {
			if p.ExternalID == id {
				return true
			}
		}
	}
	return false
}

func (u *upload) count() int {
	return len(u.users) + len(u.ids) + len(u.groups) + len(u.memberships)
}

// keys returns the externalIds the upload names (for memberships, the
// groups).
func (u *upload) keys() []string {
	var out []string
	for _, p := range u.users {
		out = append(out, p.ExternalID)
	}
	out = append(out, u.ids...)
	for _, g := range u.groups {
		out = append(out, g.ExternalID)
	}
	for _, m := range u.memberships {
		out = append(out, m.GroupExternalID)
	}
	return out
}

// profileLimits returns the length limits in characters of a standard user
// profile attribute, and false for other attributes.
func profileLimits(name string) (lo, hi int, ok bool) {
	switch name {
	case "userName", "mobilePhone":
		return 0, 100, true
	case "firstName", "lastName":
		return 1, 50, true
	case "email", "secondEmail":
		return 5, 100, true
	case "homeAddress":
		return 0, 4096, true
	}
	return 0, 0, false
}

// decodeUpload parses and validates a bulk body. A non-empty code
// (codeBadRequest for a body that is not the expected JSON at all,
// codeValidation otherwise) means the body is refused with the causes.
//
// It is long because it checks every field rule of Okta's bulk-upload
// contract in the order Okta reports them, one short check each.
func decodeUpload(op string, body []byte) (upload, string, []string) {
	up := upload{op: op}
	strict := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(body))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return err
		}
		if d.More() {
			return fmt.Errorf("trailing data after the JSON body")
		}
		return nil
	}
	var causes []string
	add := func(format string, args ...any) { causes = append(causes, fmt.Sprintf(format, args...)) }
	checkID := func(field, id string, max int) {
		switch {
		case id == "":
			add("%s: must not be empty", field)
		case !utf8.ValidString(id) || utf8.RuneCountInString(id) > max:
			add("%s: must be at most %d characters", field, max)
		}
	}
	switch op {
	case opUsersUpsert, opUsersDelete:
		var b struct {
			EntityType *string           `json:"entityType"`
			Profiles   []json.RawMessage `json:"profiles"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return up, codeBadRequest, []string{err.Error()}
		}
		if b.EntityType == nil || *b.EntityType != "USERS" {
			return up, codeBadRequest, []string{"entityType: must be USERS"}
		}
		if err := strict(&struct {
			EntityType *string           `json:"entityType"`
			Profiles   []json.RawMessage `json:"profiles"`
		}{}); err != nil {
			return up, codeValidation, []string{err.Error()}
		}
		for i, raw := range b.Profiles {
			field := fmt.Sprintf("profiles[%d]", i)
			if op == opUsersDelete {
				var p struct {
					ExternalID string `json:"externalId"`
				}
				if err := decodeStrict(raw, &p); err != nil {
					add("%s: %v", field, err)
					continue
				}
				checkID(field+".externalId", p.ExternalID, 512)
				up.ids = append(up.ids, p.ExternalID)
				continue
			}
			var p struct {
				ExternalID string                     `json:"externalId"`
				Profile    map[string]json.RawMessage `json:"profile"`
			}
			if err := decodeStrict(raw, &p); err != nil {
				add("%s: %v", field, err)
				continue
			}
			checkID(field+".externalId", p.ExternalID, 512)
			profile := make(map[string]string, len(p.Profile))
			for k, v := range p.Profile {
				if string(v) == "null" {
					continue
				}
				var sv string
				if json.Unmarshal(v, &sv) != nil {
					add("%s.profile.%s: attribute values must be strings", field, k)
					continue
				}
				if lo, hi, ok := profileLimits(k); ok {
					if n := utf8.RuneCountInString(sv); n < lo || n > hi {
						add("%s.profile.%s: must be %d to %d characters", field, k, lo, hi)
					}
					if (k == "email" || k == "secondEmail") && strings.Count(sv, "@") != 1 {
						add("%s.profile.%s: must be an email address", field, k)
					}
				}
				profile[k] = sv
			}
			up.users = append(up.users, wireUser{ExternalID: p.ExternalID, Profile: profile})
		}
	case opGroupsUpsert:
		var b struct {
			Profiles []wireGroup `json:"profiles"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return up, codeBadRequest, []string{err.Error()}
		}
		if err := strict(&b); err != nil {
			return up, codeValidation, []string{err.Error()}
		}
		for i, g := range b.Profiles {
			field := fmt.Sprintf("profiles[%d]", i)
			checkID(field+".externalId", g.ExternalID, 255)
			checkID(field+".profile.displayName", g.Profile.DisplayName, 255)
			if g.Profile.Description != nil && utf8.RuneCountInString(*g.Profile.Description) > 1024 {
				add("%s.profile.description: must be at most 1024 characters", field)
			}
		}
		up.groups = b.Profiles
	case opGroupsDelete:
		var b struct {
			ExternalIDs []string `json:"externalIds"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return up, codeBadRequest, []string{err.Error()}
		}
		if err := strict(&b); err != nil {
			return up, codeValidation, []string{err.Error()}
		}
		for i, id := range b.ExternalIDs {
			checkID(fmt.Sprintf("externalIds[%d]", i), id, 255)
		}
		up.ids = b.ExternalIDs
	case opMembersUpsert, opMembersDelete:
		var b struct {
			Memberships []wireMembership `json:"memberships"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return up, codeBadRequest, []string{err.Error()}
		}
		if err := strict(&b); err != nil {
			return up, codeValidation, []string{err.Error()}
		}
		for i, m := range b.Memberships {
			field := fmt.Sprintf("memberships[%d]", i)
			checkID(field+".groupExternalId", m.GroupExternalID, 255)
			if len(m.MemberExternalIDs) == 0 {
				add("%s.memberExternalIds: must not be empty", field)
			}
			for j, id := range m.MemberExternalIDs {
				checkID(fmt.Sprintf("%s.memberExternalIds[%d]", field, j), id, 255)
			}
		}
		up.memberships = b.Memberships
	}
	if len(causes) > 0 {
		return up, codeValidation, causes
	}
	return up, "", nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
