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
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/reqlog"
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
	// NoAudit turns off the audit trail of writes (benchmarks only).
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
	limiter  ratelimit.Limiter
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
	s.limiter = cfg.Limiter
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
		if err := s.store.Ping(ctx); err != nil {
			s.log.ErrorContext(ctx, "health check failed", "err", err.Error())
			http.Error(rw, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(rw, `{"status":"ok"}`)
		return
	}
	if !strings.HasPrefix(r.URL.Path, Prefix+"/") && r.URL.Path != Prefix {
		s.writeError(rw, r, scimerr.NotFound("no such endpoint: %s", r.URL.Path))
		return
	}
	p, err := s.auth.Authenticate(ctx, r.Header.Get("Authorization"))
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if !p.Has(auth.ScopeSCIM) {
		s.writeError(rw, r, scimerr.New(http.StatusForbidden, "", "this token is not allowed to use the SCIM API"))
		return
	}
	principal = p
	if s.limiter != nil {
		if ok, wait := s.limiter.Allow(ctx, p.Tenant); !ok {
			s.writeError(rw, r, tooManyRequests(wait))
			return
		}
	}
	v, err := s.tenants.viewFor(ctx, p.Tenant)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	r = r.WithContext(context.WithValue(auth.WithPrincipal(ctx, p), viewKey{}, v))
	if r.ContentLength > MaxBodyBytes {
		s.writeError(rw, r, scimerr.New(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", MaxBodyBytes))
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, MaxBodyBytes)
	served := s.withTimeout(rw, r, s.mux)
	logReq = served
	if !s.noAudit {
		s.audit(served, p, rw.Status, rw.Header().Get("Location"))
	}
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
	m.HandleFunc("GET "+p+"/ServiceProviderConfig", s.serviceProviderConfig)
	m.HandleFunc("GET "+p+"/ResourceTypes", s.resourceTypes)
	m.HandleFunc("GET "+p+"/ResourceTypes/{id}", s.resourceType)
	m.HandleFunc("GET "+p+"/Schemas", s.schemas)
	m.HandleFunc("GET "+p+"/Schemas/{id}", s.schemaByID)
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/{id}", "/Schemas", "/Schemas/{id}"} {
		m.HandleFunc(p+path, s.methodNotAllowed("GET"))
	}

	m.HandleFunc("GET "+p+"/Users", s.listing(usersOf, s.serveUserList, false))
	m.HandleFunc("POST "+p+"/Users", s.createUser)
	m.HandleFunc("POST "+p+"/Users/.search", s.listing(usersOf, s.serveUserList, true))
	m.HandleFunc("GET "+p+"/Users/{id}", s.getUser)
	m.HandleFunc("PUT "+p+"/Users/{id}", s.replaceUser)
	m.HandleFunc("PATCH "+p+"/Users/{id}", s.patchUser)
	m.HandleFunc("DELETE "+p+"/Users/{id}", s.deleteUser)
	m.HandleFunc(p+"/Users", s.methodNotAllowed("GET, POST"))
	m.HandleFunc(p+"/Users/{id}", s.methodNotAllowed("GET, PUT, PATCH, DELETE"))

	s.groupRoutes(m)

	m.HandleFunc(p+"/Me", s.notImplemented("/Me is not supported: tokens identify a provisioning client, not a user"))
	m.HandleFunc(p+"/Bulk", s.notImplemented("/Bulk is not supported (see bulk.supported in /ServiceProviderConfig)"))
	m.HandleFunc("POST "+p+"/.search", s.notImplemented("search across resource types is not supported; use /Users/.search or /Groups/.search"))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, scimerr.NotFound("no such endpoint: %s", r.URL.Path))
	})
	return m
}

func (s *Server) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, scimerr.New(http.StatusMethodNotAllowed, "", "method %s is not allowed here; allowed: %s", r.Method, allow))
	}
}

func (s *Server) notImplemented(detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, scimerr.New(http.StatusNotImplemented, "", "%s", detail))
	}
}
