// Package scim is scimless's SCIM 2.0 service provider (RFC 7643, RFC 7644):
// the /Users, /Groups and discovery endpoints as a plain net/http handler,
// with the behaviour Okta's and Microsoft Entra ID's SCIM clients rely on.
// It knows nothing of Lambda; storage is package store.
package scim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/scim/scimerr"
	"github.com/scimless/scimless/pkg/store"
)

// Prefix is the path under which the SCIM API is served.
const Prefix = "/scim/v2"

// Limits of the service, advertised in /ServiceProviderConfig.
const (
	// MaxBodyBytes is the largest request body accepted (10 MB).
	MaxBodyBytes = 10 << 20
	// MaxResults is the largest page a list returns (count is capped to it).
	MaxResults = 1000
	// DefaultCount is the page size when the client gives no count.
	DefaultCount = 100
	// MaxResponseBytes is the largest response body sent. A Lambda
	// function's response may hold 6 MB (6,291,456 bytes) once the body is
	// embedded, escaped, in the JSON of the API Gateway response; bodies are
	// measured that way, and 64 KB are kept for the headers and the rest of
	// that envelope. A list page holds fewer resources rather than more.
	MaxResponseBytes = 6<<20 - 64<<10
	// MaxFilterScan is how many resources a filter no index can serve may
	// evaluate in memory before the request is refused with 400 tooMany.
	MaxFilterScan = 100000
)

// Authenticator checks an Authorization header and returns the principal.
type Authenticator interface {
	Authenticate(ctx context.Context, header string) (auth.Principal, error)
}

// Config configures a Server.
type Config struct {
	Store *store.Store
	Auth  Authenticator
	// Logger receives one JSON line per request and server faults.
	Logger *slog.Logger
	// BaseURL, if set, is the absolute SCIM base URL used in meta.location
	// (e.g. "https://scim.example.com/scim/v2"); otherwise it is derived from
	// each request's Host and X-Forwarded-Proto.
	BaseURL string
	// Now returns the current time (tests); time.Now when nil.
	Now func() time.Time
	// RequestTimeout bounds each request (DefaultRequestTimeout when zero;
	// negative disables it).
	RequestTimeout time.Duration
	// Limiter limits each tenant's requests (see package ratelimit); nil
	// means no limit. A refused request gets a SCIM 429 with Retry-After.
	Limiter ratelimit.Limiter
	// NoAudit turns off the "audit" log line of writes (benchmarks only).
	// The audit trail in the table is derived from the directory events and
	// costs the request nothing.
	NoAudit bool
}

// Server serves the SCIM API.
type Server struct {
	store   *store.Store
	auth    Authenticator
	log     *slog.Logger
	baseURL string
	now     func() time.Time
	// defaults is the view of a tenant without extensions or settings.
	defaults *view
	mux      *http.ServeMux
	timeout  time.Duration
	tenants  *tenants
	noAudit  bool
	// workers run the handlers, calls are the runs' reusable state (see
	// withTimeout).
	workers *workers
	calls   sync.Pool
	limiter ratelimit.Limiter
	// maxResponse is MaxResponseBytes (lowered by tests).
	maxResponse int
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	s := &Server{
		store: cfg.Store, auth: cfg.Auth, log: cfg.Logger, baseURL: strings.TrimSuffix(cfg.BaseURL, "/"), now: cfg.Now,
	}
	s.defaults, _ = buildView(nil, nil)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.timeout = cfg.RequestTimeout
	if s.timeout == 0 {
		s.timeout = DefaultRequestTimeout
	}
	s.tenants = &tenants{store: cfg.Store, now: s.now, m: map[string]cachedTenant{}}
	s.noAudit = cfg.NoAudit
	s.workers = newWorkers()
	s.limiter = cfg.Limiter
	s.maxResponse = MaxResponseBytes
	s.mux = s.routes()
	return s
}

// ServeHTTP serves a request: logging, panic recovery, body limit and
// authentication wrap the SCIM routes. GET /healthz needs no token.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw, r := reqlog.Start(w, r)
	ctx := r.Context()
	var principal auth.Principal
	logReq := r
	defer func() {
		if rw.Recovered(ctx, s.log, recover()) {
			s.writeError(rw, r, errors.New("panic"))
		}
		rw.Log(ctx, s.log, r.Method, route(logReq), principal.Tenant)
	}()
	if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
		// A base URL pasted with a trailing slash makes clients send
		// "/scim/v2//Users": serve the clean path rather than redirect.
		r.URL.Path, r.URL.RawPath = clean, ""
	}
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		s.health(rw, r)
		return
	}
	if s.timeout > 0 {
		// The deadline covers everything, from authentication on.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	r.URL.Path = canonicalPath(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = canonicalPath(r.URL.RawPath)
	}
	p, r, err := s.admit(rw, r)
	principal = p
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	served := s.withTimeout(rw, r, s.mux)
	logReq = served
	if !s.noAudit {
		s.audit(served, p, rw.Status, rw.Header().Get("Location"))
	}
}

// health answers GET /healthz: {"status":"ok"} when the table is
// reachable, {"status":"unavailable"} with 503 when not.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusOK, `{"status":"ok"}`
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "health check failed", "err", err.Error(), "request_id", reqlog.IDFrom(r.Context()))
		status, body = http.StatusServiceUnavailable, `{"status":"unavailable"}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// admit decides whether a request may reach the SCIM routes: the path, the
// token and its scope, the tenant's rate limit, the precondition headers
// and the body size. It returns the principal and the request carrying it
// and the tenant's view.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (auth.Principal, *http.Request, error) {
	ctx := r.Context()
	if !strings.HasPrefix(r.URL.Path, Prefix+"/") && r.URL.Path != Prefix {
		return auth.Principal{}, r, scimerr.NotFound("no such endpoint: %s", r.URL.Path)
	}
	p, err := s.auth.Authenticate(ctx, r.Header.Get("Authorization"))
	if err != nil {
		return p, r, err
	}
	if !p.Has(auth.ScopeSCIM) {
		return p, r, scimerr.New(http.StatusForbidden, "", "this token is not allowed to use the SCIM API")
	}
	if s.limiter != nil {
		if ok, wait := s.limiter.Allow(ctx, p.Tenant); !ok {
			return p, r, tooManyRequests(wait)
		}
	}
	v, err := s.tenants.viewFor(ctx, p.Tenant)
	if err != nil {
		return p, r, err
	}
	for _, h := range []string{"If-Match", "If-None-Match"} {
		if hasControl(r.Header.Get(h)) {
			return p, r, scimerr.InvalidSyntax("the %s header contains a control character", h)
		}
	}
	// Every write of the request records who made it on the items it
	// writes: the table's stream attributes the change (events, audit
	// trail) without an extra write.
	ctx = store.WithActor(auth.WithPrincipal(ctx, p), store.Actor{TokenID: p.TokenID, RequestID: reqlog.IDFrom(ctx), Via: store.ViaSCIM})
	r = r.WithContext(context.WithValue(ctx, viewKey{}, v))
	if r.ContentLength > MaxBodyBytes {
		return p, r, scimerr.New(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", MaxBodyBytes)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	return p, r, nil
}

func route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// cleanPath collapses repeated slashes and dot segments and drops a trailing
// slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if c == "." {
		return "/"
	}
	return c
}

// canonicalPath returns p with the SCIM prefix and the resource endpoint
// names in their canonical case ("/scim/v2/users/x" → "/scim/v2/Users/x"):
// endpoint names are matched case-insensitively, as most SCIM servers do and
// as third-party SCIM test suites expect. Ids are left as they are.
func canonicalPath(p string) string {
	if len(p) < len(Prefix) || !strings.EqualFold(p[:len(Prefix)], Prefix) || (len(p) > len(Prefix) && p[len(Prefix)] != '/') {
		return p
	}
	rest := strings.TrimPrefix(p[len(Prefix):], "/")
	if rest == "" {
		return Prefix + p[len(Prefix):]
	}
	seg, tail, hasTail := strings.Cut(rest, "/")
	canonSeg, canonTail := canonicalEndpoint(seg), tail
	if hasTail && strings.EqualFold(tail, ".search") {
		canonTail = ".search"
	}
	if p[:len(Prefix)] == Prefix && canonSeg == seg && canonTail == tail {
		return p // already canonical, as clients almost always send it
	}
	out := Prefix + "/" + canonSeg
	if hasTail {
		out += "/" + canonTail
	}
	return out
}

// canonicalEndpoint returns the canonical spelling of a top-level endpoint
// name, or seg when it names none.
func canonicalEndpoint(seg string) string {
	for _, name := range [...]string{"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Me", "Bulk", ".search"} {
		if strings.EqualFold(seg, name) {
			return name
		}
	}
	return seg
}

func tenantOf(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Tenant
}

// base returns the absolute SCIM base URL for links in responses.
func (s *Server) base(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "https"
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.TrimSpace(strings.Split(p, ",")[0])
	} else if r.TLS == nil && (strings.HasPrefix(r.Host, "127.") || strings.HasPrefix(r.Host, "localhost") || strings.HasPrefix(r.Host, "[::1]")) {
		scheme = "http"
	}
	return scheme + "://" + r.Host + Prefix
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := Prefix
	h := func(pattern string, fn handlerFunc) { m.Handle(pattern, s.handle(fn)) }
	h("GET "+p+"/ServiceProviderConfig", s.serviceProviderConfig)
	h("GET "+p+"/ResourceTypes", s.resourceTypes)
	h("GET "+p+"/ResourceTypes/{id}", s.resourceType)
	h("GET "+p+"/Schemas", s.schemas)
	h("GET "+p+"/Schemas/{id}", s.schemaByID)
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/{id}", "/Schemas", "/Schemas/{id}"} {
		h(p+path, methodNotAllowed("GET"))
	}

	for _, e := range []struct {
		path                             string
		of                               func(*view) *schema.ResourceType
		list                             func(http.ResponseWriter, *http.Request, query) error
		create, get, replace, patch, del handlerFunc
	}{
		{"/Users", usersOf, s.serveUserList, s.createUser, s.getUser, s.replaceUser, s.patchUser, s.deleteUser},
		{"/Groups", groupsOf, s.serveGroupList, s.createGroup, s.getGroup, s.replaceGroup, s.patchGroup, s.deleteGroup},
	} {
		h("GET "+p+e.path, s.listing(e.of, e.list, false))
		h("POST "+p+e.path, e.create)
		h("POST "+p+e.path+"/.search", s.listing(e.of, e.list, true))
		h("GET "+p+e.path+"/{id}", e.get)
		h("PUT "+p+e.path+"/{id}", e.replace)
		h("PATCH "+p+e.path+"/{id}", e.patch)
		h("DELETE "+p+e.path+"/{id}", e.del)
		h(p+e.path, methodNotAllowed("GET, POST"))
		h(p+e.path+"/{id}", methodNotAllowed("GET, PUT, PATCH, DELETE"))
	}

	h(p+"/Me", notImplemented("/Me is not supported: tokens identify a provisioning client, not a user"))
	h(p+"/Bulk", notImplemented("/Bulk is not supported (see bulk.supported in /ServiceProviderConfig)"))
	h("POST "+p+"/.search", notImplemented("search across resource types is not supported; use /Users/.search or /Groups/.search"))
	h("/", func(w http.ResponseWriter, r *http.Request) error {
		return scimerr.NotFound("no such endpoint: %s", r.URL.Path)
	})
	return m
}

// handlerFunc is an endpoint: it writes a response, or returns the error
// the client gets (see Server.handle).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts an endpoint to net/http: a returned error is written as the
// SCIM error body (and logged when it is the server's fault).
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return scimerr.New(http.StatusMethodNotAllowed, "", "method %s is not allowed here; allowed: %s", r.Method, allow)
	}
}

func notImplemented(detail string) handlerFunc {
	return func(http.ResponseWriter, *http.Request) error {
		return scimerr.New(http.StatusNotImplemented, "", "%s", detail)
	}
}
