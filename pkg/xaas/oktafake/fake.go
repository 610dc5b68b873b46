// Package oktafake is an in-memory fake of Okta's Identity Sources API
// ("Anything-as-a-Source") for tests and local runs: identity source
// sessions with Okta's state machine and limits, the bulk user, group and
// membership uploads, start-import and the resulting imported users and
// groups, SSWS API tokens and an OAuth 2.0 token endpoint that accepts
// private-key JWT client assertions, rate limiting with Okta's headers, and
// a record of every request.
//
// The fake decodes the wire format itself (it does not share types with the
// client in package okta), so that tests catch shape mistakes. Where Okta's
// behaviour is not documented the fake picks one reading and can be switched
// to the other: unknown session IDs give 404 (Options.UnknownSessionStatus
// gives the older 400), listing shows only active sessions (Options.ListAll
// shows all), sessions have IN_PROGRESS (Options.LegacyStates turns it off).
// Its choices beyond the documentation: unknown JSON fields in a bulk body
// are rejected (400 E0000001), an import applies user changes, then group
// upserts, then membership changes, then group deletes, and membership
// changes naming an unknown group are ignored.
//
// Time comes from Options.Now; with a *Clock, tests move time forward to
// simulate the 5-minute gap between sessions, the 24-hour idle expiry, the
// import delay and rate-limit windows.
package oktafake

import (
	"bytes"
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Defaults of a Server made from zero Options.
const (
	// DefaultIdentitySource is the identity source ID known when
	// Options.IdentitySources is empty (the example ID of Okta's spec).
	DefaultIdentitySource = "0oa3l6l6WK6h0R0QW0g4"
	// DefaultAPIToken is the SSWS token accepted when neither
	// Options.APITokens nor Options.OAuthClients is set.
	DefaultAPIToken = "fake-okta-api-token"
)

// Scopes of the Identity Sources API.
const (
	ScopeManage = "okta.identitySources.manage"
	ScopeRead   = "okta.identitySources.read"
)

// Session states.
const (
	StatusCreated    = "CREATED"
	StatusInProgress = "IN_PROGRESS"
	StatusTriggered  = "TRIGGERED"
	StatusCompleted  = "COMPLETED"
	StatusClosed     = "CLOSED"
	StatusExpired    = "EXPIRED"
	StatusError      = "ERROR"
)

// Options configure a Server. The zero value is Okta's documented behaviour
// with one identity source (DefaultIdentitySource) and one API token
// (DefaultAPIToken).
type Options struct {
	// IdentitySources are the identity source IDs the fake knows; others
	// give 404 E0000007.
	IdentitySources []string
	// APITokens are accepted as "Authorization: SSWS {token}", with every
	// scope.
	APITokens []string
	// OAuthClients are the service apps the token endpoint accepts.
	OAuthClients []OAuthClient
	// TokenTTL is the lifetime of issued access tokens (default 1 h).
	TokenTTL time.Duration
	// TokenAudience is the aud a client assertion must have (default: the
	// token endpoint's URL as the request reached the fake,
	// "http(s)://{Host}/oauth2/v1/token").
	TokenAudience string
	// RequireDPoP makes the token endpoint refuse requests without a DPoP
	// proof, like a service app with "Require DPoP" on. The fake does not
	// implement DPoP itself.
	RequireDPoP bool

	// Now is the clock (default time.Now); see Clock.
	Now func() time.Time

	// ImportDelay is how long a TRIGGERED session takes to finish, by Now.
	ImportDelay time.Duration
	// ImportPolls is how many GETs of a TRIGGERED session still show
	// TRIGGERED before it can finish.
	ImportPolls int
	// FailImports makes imports end in ERROR without changing any data.
	FailImports bool

	// SessionGap is the least time between starting an import and creating
	// the source's next session (default 5 min; negative: no gap).
	SessionGap time.Duration
	// IdleExpiry is how long an untriggered session lives without requests
	// naming it (default 24 h; negative: forever).
	IdleExpiry time.Duration
	// MaxBatch is the most entities per bulk request (default 200).
	MaxBatch int
	// MaxUploads is the most bulk requests per session (default 50).
	MaxUploads int
	// MaxEntities is the most entities per session (default 10,000).
	MaxEntities int
	// MaxBodyBytes, when positive, rejects larger bulk bodies with 400
	// E0000001 (Okta documents "about 200 KB" without a status).
	MaxBodyBytes int

	// UnknownSessionStatus is the status for an unknown session ID: 404
	// E0000007 (default, as the spec says) or 400 E0000001 (older docs).
	UnknownSessionStatus int
	// ListAll makes the session list return every session of the source,
	// not only the active ones, to test client-side filtering.
	ListAll bool
	// LegacyStates behaves like older orgs: no IN_PROGRESS; uploads leave a
	// session CREATED, and CREATED sessions are triggered and cancelled.
	LegacyStates bool
	// RejectDuplicates refuses an upload naming an externalId already
	// uploaded (for the same kind of entity) in the session, which Okta
	// says to avoid.
	RejectDuplicates bool

	// RateLimit is how many requests (the token endpoint included) the fake
	// serves per RateLimitWindow before answering 429 (0: no limit).
	RateLimit int
	// RateLimitWindow is the rate-limit window (default 1 min); windows
	// start at multiples of it, as time.Truncate computes them.
	RateLimitWindow time.Duration

	// RecordLimit, when positive, keeps only the most recent RecordLimit
	// requests for Requests (for long local runs).
	RecordLimit int
}

// OAuthClient is a service app that may get access tokens with a
// private-key JWT.
type OAuthClient struct {
	// ClientID is the app's client ID (the assertion's iss and sub).
	ClientID string
	// PublicKey verifies the assertion's RS256 signature.
	PublicKey *rsa.PublicKey
	// KeyID, when set, must equal the assertion's kid.
	KeyID string
	// Scopes are the granted scopes (default ScopeManage and ScopeRead).
	Scopes []string
}

// Request is a request the fake received.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path.
	Path string
	// Query is the raw URL query.
	Query string
	// Header holds the request headers, Authorization included.
	Header http.Header
	// Body is the request body.
	Body []byte
	// Status is the status the fake answered.
	Status int
	// Time is the fake clock's time when the request arrived.
	Time time.Time
}

// Session is an identity source session as the fake holds it.
type Session struct {
	// ID is the session ID.
	ID string
	// IdentitySourceID is the identity source the session belongs to.
	IdentitySourceID string
	// Status is one of the Status* constants.
	Status string
	// ImportType is always "INCREMENTAL".
	ImportType string
	// Created is when the session was created.
	Created time.Time
	// LastUpdated is when the session last changed.
	LastUpdated time.Time
	// TriggeredAt is when start-import succeeded (zero if it did not).
	TriggeredAt time.Time
	// Uploads counts the accepted bulk requests.
	Uploads int
	// Entities counts the entities in the accepted bulk requests.
	Entities int
}

// User is a user as an import left it in Okta.
type User struct {
	// ExternalID is the source system's key of the user.
	ExternalID string
	// Profile holds the last upserted profile.
	Profile map[string]string
	// Active is false after a bulk-delete (deactivation).
	Active bool
	// SessionID is the session whose import last changed the user.
	SessionID string
}

// Group is a group as imports left it in Okta.
type Group struct {
	// ExternalID is the source system's key of the group.
	ExternalID string
	// DisplayName is the group's name.
	DisplayName string
	// Description is the group's description, empty if none.
	Description string
	// Members are the member externalIds, sorted.
	Members []string
}

// Server is the fake Okta. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	opts Options
	now  func() time.Time

	mu          sync.Mutex
	sources     map[string]*source
	sessions    map[string]*session
	users       map[string]*User
	groups      map[string]*groupState
	tokens      map[string]accessToken
	usedJTIs    map[string]time.Time
	requests    []Request
	seq         int
	throttle    int
	failNext    int
	failStatus  int
	windowStart time.Time
	windowCount int
	mux         *http.ServeMux
}

type source struct {
	id          string
	sessions    []*session // creation order
	lastTrigger time.Time
}

type session struct {
	Session
	lastActivity time.Time
	polls        int
	uploads      []upload
	seenUsers    map[string]bool
	seenGroups   map[string]bool
}

type groupState struct {
	Group
	members map[string]bool
}

type accessToken struct {
	scopes  []string
	expires time.Time
}

// New returns a fake Okta configured by opts.
func New(opts Options) *Server {
	if len(opts.IdentitySources) == 0 {
		opts.IdentitySources = []string{DefaultIdentitySource}
	}
	if len(opts.APITokens) == 0 && len(opts.OAuthClients) == 0 {
		opts.APITokens = []string{DefaultAPIToken}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.SessionGap == 0 {
		opts.SessionGap = 5 * time.Minute
	}
	if opts.IdleExpiry == 0 {
		opts.IdleExpiry = 24 * time.Hour
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 200
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = 50
	}
	if opts.MaxEntities <= 0 {
		opts.MaxEntities = 10000
	}
	if opts.UnknownSessionStatus != http.StatusBadRequest {
		opts.UnknownSessionStatus = http.StatusNotFound
	}
	if opts.RateLimitWindow <= 0 {
		opts.RateLimitWindow = time.Minute
	}
	for i, c := range opts.OAuthClients {
		if len(c.Scopes) == 0 {
			opts.OAuthClients[i].Scopes = []string{ScopeManage, ScopeRead}
		}
	}
	s := &Server{
		opts:     opts,
		now:      opts.Now,
		sources:  map[string]*source{},
		sessions: map[string]*session{},
		users:    map[string]*User{},
		groups:   map[string]*groupState{},
		tokens:   map[string]accessToken{},
		usedJTIs: map[string]time.Time{},
	}
	for _, id := range opts.IdentitySources {
		s.sources[id] = &source{id: id}
	}
	s.routes()
	return s
}

// Handler returns the fake as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// maxRequestBody bounds what the fake reads of a request body.
const maxRequestBody = 4 << 20

// ServeHTTP serves the Identity Sources API and the token endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		body = nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.advance(now)
	s.seq++
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	h := w.Header()
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Okta-Request-Id", "fakereq"+strconv.Itoa(s.seq))
	defer func() {
		if n := s.opts.RecordLimit; n > 0 && len(s.requests) >= n {
			s.requests = slices.Delete(s.requests, 0, len(s.requests)-n+1)
		}
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Status: rw.status, Time: now,
		})
	}()

	reset := s.window(now)
	limit := s.opts.RateLimit
	setRemaining := func(n int) {
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(n, 0)))
	}
	if limit > 0 {
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
		setRemaining(limit - s.windowCount)
	} else {
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(unlimited))
		setRemaining(unlimited)
	}
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset, 10))
	switch {
	case s.failNext > 0:
		s.failNext--
		writeError(rw, s, s.failStatus, codeInternal, "Internal Server Error")
		return
	case s.throttle > 0 || (limit > 0 && s.windowCount >= limit):
		if s.throttle > 0 {
			s.throttle--
		}
		setRemaining(0)
		writeError(rw, s, http.StatusTooManyRequests, codeRateLimited,
			"API call exceeded rate limit due to too many requests.")
		return
	}
	if limit > 0 {
		s.windowCount++
		setRemaining(limit - s.windowCount)
	}
	if len(body) > maxRequestBody {
		writeError(rw, s, http.StatusRequestEntityTooLarge, codeBadRequest, "The request body was too large.")
		return
	}
	s.mux.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, reqInfo{now: now, body: body})))
}

type ctxKey struct{}

type reqInfo struct {
	now  time.Time
	body []byte
}

func info(r *http.Request) reqInfo { return r.Context().Value(ctxKey{}).(reqInfo) }

// recorder remembers the response status.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// unlimited is the X-Rate-Limit-Limit sent when Options.RateLimit is 0.
const unlimited = 1000000

// window moves the rate-limit window to the one holding now and returns its
// reset time in Unix seconds (rounded up).
func (s *Server) window(now time.Time) int64 {
	win := s.opts.RateLimitWindow
	start := now.Truncate(win)
	if !start.Equal(s.windowStart) {
		s.windowStart, s.windowCount = start, 0
	}
	end := start.Add(win)
	reset := end.Unix()
	if end.After(time.Unix(reset, 0)) {
		reset++
	}
	return reset
}

// ThrottleNext makes the next n requests fail with 429 E0000047, with the
// current window's X-Rate-Limit-Reset.
func (s *Server) ThrottleNext(n int) {
	s.mu.Lock()
	s.throttle = n
	s.mu.Unlock()
}

// FailNext makes the next n requests fail with the given status (such as
// 500 or 503) and an Okta error body.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	s.failNext, s.failStatus = n, status
	s.mu.Unlock()
}

// RevokeTokens invalidates every access token issued so far, so that the
// next API call with one of them gets 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// Sessions returns the sessions of the identity source in creation order,
// after applying the passage of time (expiry, finished imports).
func (s *Server) Sessions(sourceID string) []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	src := s.sources[sourceID]
	if src == nil {
		return nil
	}
	out := make([]Session, len(src.sessions))
	for i, ss := range src.sessions {
		out[i] = ss.Session
	}
	return out
}

// Session returns one session by ID.
func (s *Server) Session(id string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	ss := s.sessions[id]
	if ss == nil {
		return Session{}, false
	}
	return ss.Session, true
}

// Users returns the users that imports have put in Okta, by externalId.
func (s *Server) Users() map[string]User {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	out := make(map[string]User, len(s.users))
	for k, u := range s.users {
		c := *u
		c.Profile = make(map[string]string, len(u.Profile))
		for pk, pv := range u.Profile {
			c.Profile[pk] = pv
		}
		out[k] = c
	}
	return out
}

// Groups returns the groups that imports have put in Okta, by externalId.
func (s *Server) Groups() map[string]Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	out := make(map[string]Group, len(s.groups))
	for k, g := range s.groups {
		c := g.Group
		c.Members = make([]string, 0, len(g.members))
		for m := range g.members {
			c.Members = append(c.Members, m)
		}
		slices.Sort(c.Members)
		out[k] = c
	}
	return out
}

// Clock is a settable clock for Options.Now. Its Sleep advances it, so it
// also stands in for a client's sleep. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Sleep advances the clock by d at once, or returns ctx.Err() if ctx is
// done. It has the signature of a client's injectable sleep.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}
