package xaas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/store"
)

// Prefix is the path under which the XaaS API is served. The routes of the
// sample items API (/items) are served beside it.
const Prefix = "/xaas/v1"

// Defaults of a Server.
const (
	// DefaultMaxBulkBytes is the largest bulk body: Lambda's 6 MB request
	// payload limit (a Lambda behind API Gateway cannot get more).
	DefaultMaxBulkBytes = config.DefaultXaaSMaxBulkBytes
	// DefaultRequestTimeout bounds a request below API Gateway's 29 s.
	DefaultRequestTimeout = 25 * time.Second
	// DefaultPageSize and MaxPageSize bound list pages.
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// MaxItemsPage bounds GET /items (the how-to's Workflows flows read every record in
	// one call); more are paged with the X-Next-Cursor header.
	MaxItemsPage = 10000
)

// Authenticator checks an Authorization header and returns the principal.
type Authenticator interface {
	Authenticate(ctx context.Context, header string) (auth.Principal, error)
}

// Limiter decides whether a tenant's request may be served now (the
// per-tenant rate limit the SCIM API applies too).
type Limiter interface {
	// Allow counts one request of tenant. It reports whether the request
	// may be served and, when not, how long until one may.
	Allow(ctx context.Context, tenant string) (ok bool, retryAfter time.Duration)
}

// Config configures a Server.
type Config struct {
	Store *store.Store
	Auth  Authenticator
	// Limiter limits each tenant's requests; nil means no limit. A refused
	// request gets 429 with Retry-After.
	Limiter Limiter
	// Engine queues sync runs (POST /xaas/v1/syncs); nil answers 503.
	Engine *Engine
	// Logger receives one JSON line per request.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RequestTimeout bounds each request (DefaultRequestTimeout when zero;
	// negative: none, for the local run's large bulk pushes).
	RequestTimeout time.Duration
	// MaxBulkBytes bounds a bulk body (DefaultMaxBulkBytes when zero).
	MaxBulkBytes int64
	// WriteConcurrency bounds the parallel writes of a bulk chunk.
	WriteConcurrency int
}

// Server serves the XaaS API and the sample items API's /items routes.
type Server struct {
	store    *store.Store
	auth     Authenticator
	limiter  Limiter
	engine   *Engine
	ingest   *Ingester
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration
	maxBulk  int64
	mux      *http.ServeMux
	bulkPath string
}

// NewServer returns a server for cfg.
func NewServer(cfg Config) *Server {
	s := &Server{store: cfg.Store, auth: cfg.Auth, limiter: cfg.Limiter, engine: cfg.Engine, log: cfg.Logger, now: cfg.Now,
		timeout: cfg.RequestTimeout, maxBulk: cfg.MaxBulkBytes}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout == 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.maxBulk <= 0 {
		s.maxBulk = DefaultMaxBulkBytes
	}
	s.ingest = NewIngester(cfg.Store, s.log, s.now, cfg.WriteConcurrency)
	s.bulkPath = Prefix + "/users:bulk"
	s.mux = s.routes()
	return s
}

// Handles reports whether path is served by the XaaS handler (the local
// run routes these to it, everything else to SCIM).
func Handles(path string) bool {
	return path == Prefix || strings.HasPrefix(path, Prefix+"/") || path == "/items" || strings.HasPrefix(path, "/items/")
}

// apiError is an error answered to the client.
type apiError struct {
	status int
	detail string
	extra  map[string]any
	// retryAfter, when positive, is sent as Retry-After (seconds).
	retryAfter int
}

func (e *apiError) Error() string { return e.detail }

func errStatus(status int, format string, args ...any) *apiError {
	return &apiError{status: status, detail: fmt.Sprintf(format, args...)}
}

// ServeHTTP serves a request: logging, panic recovery, authentication (a
// bearer token with the xaas scope) and the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw, r := reqlog.Start(w, r)
	ctx := r.Context()
	var principal auth.Principal
	var rows *BulkResult
	defer func() {
		if rw.Recovered(ctx, s.log, recover()) {
			s.writeError(rw, r, errors.New("panic"))
		}
		var counts []slog.Attr
		if rows != nil {
			counts = []slog.Attr{slog.Int("created", rows.Created), slog.Int("updated", rows.Updated),
				slog.Int("unchanged", rows.Unchanged), slog.Int("failed", rows.Failed)}
		}
		rw.Log(ctx, s.log, r.Method, route(r), principal.Tenant, counts...)
	}()
	cleanPath(r)
	if !Handles(r.URL.Path) {
		s.writeError(rw, r, errStatus(http.StatusNotFound, "no such endpoint: %s", r.URL.Path))
		return
	}
	p, err := s.auth.Authenticate(ctx, r.Header.Get("Authorization"))
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if !p.Has(auth.ScopeXaaS) {
		s.writeError(rw, r, errStatus(http.StatusForbidden, "this token is not allowed to use the XaaS API"))
		return
	}
	principal = p
	if s.limiter != nil {
		if ok, wait := s.limiter.Allow(ctx, p.Tenant); !ok {
			ae := errStatus(http.StatusTooManyRequests, "too many requests for this tenant; retry after the time in Retry-After")
			ae.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
			s.writeError(rw, r, ae)
			return
		}
	}
	// Writes record who made them, for the directory events and the audit trail.
	r = r.WithContext(store.WithActor(auth.WithPrincipal(ctx, p),
		store.Actor{TokenID: p.TokenID, RequestID: reqlog.IDFrom(ctx), Via: store.ViaXaaS}))
	if r.Method == http.MethodPost && r.URL.Path == s.bulkPath {
		rows = &BulkResult{}
	}
	if s.timeout > 0 {
		tctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		r = r.WithContext(tctx)
	}
	if rows != nil {
		res, err := s.bulk(rw, r)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		*rows = res
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// cleanPath collapses repeated slashes and dot segments and drops a
// trailing slash, so that "/xaas/v1//users" is served as API Gateway serves
// it rather than redirected (as http.ServeMux would). Escaped slashes
// ("%2F" in an externalId) stay escaped.
func cleanPath(r *http.Request) {
	esc := r.URL.EscapedPath()
	c := path.Clean(esc)
	if c == esc || c == "." {
		return
	}
	u, err := url.ParseRequestURI(c)
	if err != nil {
		return
	}
	r.URL.Path, r.URL.RawPath = u.Path, u.RawPath
}

func route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	if strings.HasSuffix(r.URL.Path, ":bulk") {
		return r.Method + " " + r.URL.Path
	}
	return r.Method + " " + Prefix + "/…"
}

func tenantOf(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Tenant
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := Prefix
	m.HandleFunc("GET "+p+"/users", s.listUsers)
	m.HandleFunc("GET "+p+"/users/{externalId}", s.getUser)
	m.HandleFunc("PUT "+p+"/users/{externalId}", s.putUser)
	m.HandleFunc("DELETE "+p+"/users/{externalId}", s.deleteUser)
	m.HandleFunc(p+"/users", s.methodNotAllowed("GET"))
	m.HandleFunc(p+"/users/{externalId}", s.methodNotAllowed("GET, PUT, DELETE"))

	m.HandleFunc("GET "+p+"/groups", s.listGroups)
	m.HandleFunc("GET "+p+"/groups/{externalId}", s.getGroup)
	m.HandleFunc("PUT "+p+"/groups/{externalId}", s.putGroup)
	m.HandleFunc("DELETE "+p+"/groups/{externalId}", s.deleteGroup)
	m.HandleFunc(p+"/groups", s.methodNotAllowed("GET"))
	m.HandleFunc(p+"/groups/{externalId}", s.methodNotAllowed("GET, PUT, DELETE"))

	m.HandleFunc("POST "+p+"/syncs", s.startSync)
	m.HandleFunc("GET "+p+"/syncs", s.listSyncs)
	m.HandleFunc("GET "+p+"/syncs/{id}", s.getSync)
	m.HandleFunc("GET "+p+"/syncs/{id}/failures", s.getSyncFailures)
	m.HandleFunc(p+"/syncs", s.methodNotAllowed("GET, POST"))
	m.HandleFunc(p+"/syncs/{id}", s.methodNotAllowed("GET"))

	m.HandleFunc("GET /items", s.listItems)
	m.HandleFunc("PUT /items", s.putItem)
	m.HandleFunc("GET /items/{id}", s.getItem)
	m.HandleFunc("DELETE /items/{id}", s.deleteItem)
	m.HandleFunc("/items", s.methodNotAllowed("GET, PUT"))
	m.HandleFunc("/items/{id}", s.methodNotAllowed("GET, DELETE"))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errStatus(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return m
}

func (s *Server) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, errStatus(http.StatusMethodNotAllowed, "method %s is not allowed here; allowed: %s", r.Method, allow))
	}
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status":500,"detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers err as {"status": n, "detail": "…"} (plus any extra
// fields of the error).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var re *errRecord
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, auth.ErrThrottled): // wraps ErrUnauthorized: check first
		ae = errStatus(http.StatusTooManyRequests, "too many requests with an unknown token from this client; retry after the time in Retry-After")
		ae.retryAfter = 1
		if te, ok := errors.AsType[*auth.ThrottledError](err); ok {
			ae.retryAfter = max(1, int(math.Ceil(te.RetryAfter.Seconds())))
		}
	case errors.Is(err, auth.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimless"`)
		ae = errStatus(http.StatusUnauthorized, "a valid bearer token is required")
	case errors.As(err, &mbe):
		ae = errStatus(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", mbe.Limit)
	case errors.As(err, &re):
		ae = errStatus(http.StatusBadRequest, "%s", re.msg)
	case errors.Is(err, store.ErrNotFound):
		ae = errStatus(http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrTooLarge):
		ae = errStatus(http.StatusRequestEntityTooLarge, "the record is too large to store")
	case errors.Is(err, errBusy), errors.Is(err, store.ErrVersion):
		w.Header().Set("Retry-After", "1")
		ae = errStatus(http.StatusServiceUnavailable, "%s", errBusy)
	case errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		ae = errStatus(http.StatusServiceUnavailable, "the request took too long; retry it")
	default:
		s.log.ErrorContext(r.Context(), "server error", "err", errMessage(err), "request_id", reqlog.IDFrom(r.Context()))
		ae = errStatus(http.StatusInternalServerError, "internal error")
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	body := map[string]any{"status": ae.status, "detail": ae.detail}
	for k, v := range ae.extra {
		body[k] = v
	}
	writeJSON(w, ae.status, body)
}

// readBody reads a request body of at most max bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength > max {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", max)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", max)
		}
		return nil, errStatus(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errStatus(http.StatusBadRequest, "empty body")
	}
	return b, nil
}

// pageParams reads limit and cursor.
func pageParams(r *http.Request, def, max int) (int, string, error) {
	q := r.URL.Query()
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, "", errStatus(http.StatusBadRequest, "limit must be a positive number")
		}
		limit = min(n, max)
	}
	return limit, q.Get("cursor"), nil
}

// pathID returns the externalId in the URL's path segment name: 400 when it
// is not one (invalid UTF-8, control characters, too long).
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if err := checkExternalID(id); err != nil {
		return "", err
	}
	return id, nil
}

// --- users ---

func (s *Server) putUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("externalId")
	if err := checkExternalID(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r, MaxRecordBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := recordFromJSON(body, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	outcome, u, err := s.ingest.Put(r.Context(), tenantOf(r), rec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if outcome == Created {
		status = http.StatusCreated
	}
	w.Header().Set("X-Outcome", outcome)
	writeJSON(w, status, userJSON(u))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "externalId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.store.GetSourceUser(r.Context(), tenantOf(r), id)
	if err == nil && u.Deleted {
		err = store.ErrNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "externalId")
	if err == nil {
		err = s.ingest.Delete(r.Context(), tenantOf(r), id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listUsers lists users by externalId, or with changedSince (RFC 3339) in
// change order, deleted ones included (with meta.deleted); or with
// failed=true the users whose profile could not be sent. Pages carry
// "next", the cursor of the next page.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r, DefaultPageSize, MaxPageSize)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	ctx, tenant := r.Context(), tenantOf(r)
	var since time.Time
	kind := cursorUsers
	switch {
	case q.Get("changedSince") != "":
		if since, err = time.Parse(time.RFC3339Nano, q.Get("changedSince")); err != nil {
			s.writeError(w, r, errStatus(http.StatusBadRequest, "changedSince must be an RFC 3339 time"))
			return
		}
		kind = cursorChanged
	case q.Get("failed") == "true":
		kind = cursorFailed
	case q.Has("failed") && q.Get("failed") != "false":
		s.writeError(w, r, errStatus(http.StatusBadRequest, "failed must be true or false"))
		return
	}
	after, err := decodeCursor(kind, tenant, cursor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var page store.SourceUserPage
	switch kind {
	case cursorChanged:
		page, err = s.store.SourceUsersChanged(ctx, tenant, since, after, limit)
	case cursorFailed:
		page, err = s.store.FailedSourceUsers(ctx, tenant, after, limit)
	default:
		page, err = s.store.ListSourceUsers(ctx, tenant, after, limit)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users := make([]map[string]any, 0, len(page.Users))
	for _, u := range page.Users {
		if u.Deleted && kind != cursorChanged {
			continue
		}
		users = append(users, userJSON(u))
	}
	out := map[string]any{"users": users}
	if page.Next != "" {
		out["next"] = encodeCursor(kind, tenant, page.Next)
	}
	writeJSON(w, http.StatusOK, out)
}

// bulk serves POST /xaas/v1/users:bulk, streaming the body row by row.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) (BulkResult, error) {
	if r.ContentLength > s.maxBulk {
		return BulkResult{}, errStatus(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", s.maxBulk)
	}
	format := BulkFormat(r.Header.Get("Content-Type"))
	if format == "unsupported" {
		return BulkResult{}, errStatus(http.StatusUnsupportedMediaType,
			"Content-Type must be text/csv, application/x-ndjson or application/json")
	}
	body := http.MaxBytesReader(w, r.Body, s.maxBulk)
	rr, err := NewRowReader(body, format)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return BulkResult{}, err
		}
		return BulkResult{}, errStatus(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), ErrBadBody.Error()+": "))
	}
	res, err := s.ingest.Bulk(r.Context(), tenantOf(r), rr)
	if err != nil {
		var mbe *http.MaxBytesError
		status := http.StatusBadRequest
		detail := "the body could not be read further: " + err.Error()
		switch {
		case errors.As(err, &mbe):
			status, detail = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			status, detail = http.StatusServiceUnavailable, "the request took too long"
			w.Header().Set("Retry-After", "1")
		}
		n := res.Created + res.Updated + res.Unchanged + res.Failed
		res.fail(n+1, "", detail+"; the rows before were processed, the rest were not")
		writeJSON(w, status, res)
		return res, nil
	}
	writeJSON(w, http.StatusOK, res)
	return res, nil
}

// --- groups ---

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("externalId")
	body, err := readBody(w, r, MaxGroupBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := groupFromJSON(body, id)
	if errors.Is(err, errTooManyMembers) {
		s.writeError(w, r, errStatus(http.StatusRequestEntityTooLarge, "a group has at most %d members", MaxGroupMembers))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	outcome, sg, err := s.ingest.PutGroup(r.Context(), tenantOf(r), g)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if outcome == Created {
		status = http.StatusCreated
	}
	w.Header().Set("X-Outcome", outcome)
	writeJSON(w, status, groupJSON(sg))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "externalId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.store.GetSourceGroup(r.Context(), tenantOf(r), id)
	if err == nil && g.Deleted {
		err = store.ErrNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groupJSON(g))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "externalId")
	if err == nil {
		err = s.ingest.DeleteGroup(r.Context(), tenantOf(r), id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r, DefaultPageSize, MaxPageSize)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after, err := decodeCursor(cursorGroups, tenantOf(r), cursor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.store.ListSourceGroups(r.Context(), tenantOf(r), after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	groups := make([]map[string]any, 0, len(page.Groups))
	for _, g := range page.Groups {
		if !g.Deleted {
			groups = append(groups, groupJSON(g))
		}
	}
	out := map[string]any{"groups": groups}
	if page.Next != "" {
		out["next"] = encodeCursor(cursorGroups, tenantOf(r), page.Next)
	}
	writeJSON(w, http.StatusOK, out)
}

// --- syncs ---

func (s *Server) startSync(w http.ResponseWriter, r *http.Request) {
	if s.engine == nil {
		s.writeError(w, r, errStatus(http.StatusServiceUnavailable, "the sync engine is not available here"))
		return
	}
	id, err := s.engine.StartRun(r.Context(), tenantOf(r), TriggerAPI)
	var active *RunActiveError
	switch {
	case errors.As(err, &active):
		state := store.RunRunning
		if d, gerr := GetRun(r.Context(), s.store, tenantOf(r), active.ID); gerr == nil {
			state = d.Status.State
		}
		ae := errStatus(http.StatusConflict, "a sync is already %s", state)
		ae.extra = map[string]any{"id": active.ID, "state": state}
		s.writeError(w, r, ae)
		return
	case errors.Is(err, ErrNotConfigured):
		s.writeError(w, r, errStatus(http.StatusBadRequest, "%s: configure its Okta org with `scimless xaas config set`", ErrNotConfigured))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/syncs/"+id)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "state": store.RunQueued})
}

func (s *Server) getSync(w http.ResponseWriter, r *http.Request) {
	d, err := GetRun(r.Context(), s.store, tenantOf(r), r.PathValue("id"))
	if errors.Is(err, ErrRunNotFound) {
		err = errStatus(http.StatusNotFound, "no such sync")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d.Status)
}

func (s *Server) getSyncFailures(w http.ResponseWriter, r *http.Request) {
	d, err := GetRun(r.Context(), s.store, tenantOf(r), r.PathValue("id"))
	if errors.Is(err, ErrRunNotFound) {
		err = errStatus(http.StatusNotFound, "no such sync")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": d.Status.ID, "failed": d.Status.Counts.Failed, "failures": d.Failures})
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r, 20, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	before, err := decodeCursor(cursorSyncs, tenantOf(r), cursor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, err := ListRuns(r.Context(), s.store, tenantOf(r), before, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]RunStatus, len(runs))
	for i, d := range runs {
		out[i] = d.Status
	}
	body := map[string]any{"syncs": out}
	if len(runs) == limit {
		body["next"] = encodeCursor(cursorSyncs, tenantOf(r), runs[len(runs)-1].Status.ID)
	}
	writeJSON(w, http.StatusOK, body)
}

// --- the sample items API's /items ---

// listItems answers every record in the sample items API's shape, as a JSON array (what
// the how-to's Workflows flows read). Past MaxItemsPage records (or ?limit=) the
// X-Next-Cursor header gives the cursor of the rest (?cursor=).
func (s *Server) listItems(w http.ResponseWriter, r *http.Request) {
	limit, raw, err := pageParams(r, MaxItemsPage, MaxItemsPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cursor, err := decodeCursor(cursorItems, tenantOf(r), raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]map[string]any, 0)
	for len(items) < limit {
		page, err := s.store.ListSourceUsers(r.Context(), tenantOf(r), cursor, min(limit-len(items), MaxPageSize))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, u := range page.Users {
			if !u.Deleted {
				items = append(items, itemJSON(u))
			}
		}
		cursor = page.Next
		if cursor == "" {
			break
		}
	}
	if cursor != "" {
		w.Header().Set("X-Next-Cursor", encodeCursor(cursorItems, tenantOf(r), cursor))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.store.GetSourceUser(r.Context(), tenantOf(r), id)
	if err == nil && u.Deleted {
		err = store.ErrNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, itemJSON(u))
}

// putItem stores a record of the sample items API's shape; the body's "id" is the key
// (400 without it). It answers like the sample items API ("Put item {id}").
func (s *Server) putItem(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, MaxRecordBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := recordFromJSON(body, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	outcome, _, err := s.ingest.Put(r.Context(), tenantOf(r), rec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("X-Outcome", outcome)
	writeJSON(w, http.StatusOK, "Put item "+rec.ExternalID)
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = s.ingest.Delete(r.Context(), tenantOf(r), id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "Deleted item "+id)
}
