// Package api serves the Events API: a tenant's directory events in order,
// read with a cursor, with long polling.
//
//	GET /events/v1?after=CURSOR&limit=100&types=user.created,user.deleted&wait=20s
//	→ 200 {"data":[event…],"next":"CURSOR"}
//
// The bearer token must carry the "events" scope. Pass next as after to read
// on; next is returned even when data is empty, and an empty after starts at
// the oldest event kept (30 days by default).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
)

// Path is the route of the Events API.
const Path = "/events/v1"

// Limits of a request.
const (
	// MaxWait is the longest long poll: API Gateway ends requests at 29 s.
	MaxWait = 25 * time.Second
	// MaxBody bounds a response (Lambda responses hold 6 MB): a page stops
	// before it would exceed it, and next points after its last event.
	MaxBody = 5 << 20
)

// Defaults of a Handler.
const (
	DefaultPoll = time.Second
	// DefaultSettle is how old an event must be (by its id's time) to be
	// served: it gives events written concurrently, which can reach the
	// store out of id order, time to arrive before a reader's cursor moves
	// past them.
	DefaultSettle = 2 * time.Second
)

// Authenticator maps an Authorization header to a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, header string) (auth.Principal, error)
}

// Handler serves the Events API.
type Handler struct {
	store  *store.Store
	auth   Authenticator
	hub    *events.Hub
	log    *slog.Logger
	now    func() time.Time
	poll   time.Duration
	settle time.Duration
	// watermark, when set, bounds the served ids instead of settle.
	watermark func() string

	mu      sync.Mutex
	tenants map[string]cachedTTL
}

type cachedTTL struct {
	ttl time.Duration
	exp time.Time
}

// Option configures a Handler.
type Option func(*Handler)

// WithHub wakes long polls when the consumer of the same process stores
// events.
func WithHub(h *events.Hub) Option { return func(a *Handler) { a.hub = h } }

// WithPoll sets how often a long poll reads the store.
func WithPoll(d time.Duration) Option { return func(a *Handler) { a.poll = d } }

// WithWatermark serves events only below the bound before returns (see
// events.Hub.Before) instead of waiting for them to settle: exact, and
// without the settle delay, where one consumer reads a single-shard stream in
// order (the local stack). An empty bound serves nothing yet.
func WithWatermark(before func() string) Option {
	return func(a *Handler) { a.watermark, a.settle = before, 0 }
}

// WithSettle sets the settle delay (see DefaultSettle).
func WithSettle(d time.Duration) Option { return func(a *Handler) { a.settle = d } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(a *Handler) { a.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Handler) { a.log = l } }

// New returns the Events API handler.
func New(st *store.Store, a Authenticator, opts ...Option) *Handler {
	h := &Handler{store: st, auth: a, log: slog.Default(), now: time.Now, poll: DefaultPoll, settle: DefaultSettle,
		tenants: map[string]cachedTTL{}}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Routes registers the API on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Path, h.list)
}

// ServeHTTP serves the API alone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	h.Routes(mux)
	mux.ServeHTTP(w, r)
}

type query struct {
	after string
	limit int
	types []string
	wait  time.Duration
}

func parseQuery(r *http.Request) (query, error) {
	v := r.URL.Query()
	q := query{after: v.Get("after"), limit: store.DefaultEventLimit}
	if q.after != "" && !events.ValidID(q.after) {
		return q, errors.New("after: not a cursor returned by this API (use next from the previous page)")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxEventLimit {
			return q, fmt.Errorf("limit: must be a number from 1 to %d", store.MaxEventLimit)
		}
		q.limit = n
	}
	types, err := events.ParseTypes(v.Get("types"))
	if err != nil {
		return q, fmt.Errorf("types: %w", err)
	}
	q.types = types
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, nerr := strconv.Atoi(s) // plain seconds
			if nerr != nil {
				return q, errors.New(`wait: must be a duration such as "20s"`)
			}
			d = time.Duration(n) * time.Second
		}
		if d < 0 || d > MaxWait {
			return q, fmt.Errorf("wait: must be from 0s to %s", MaxWait)
		}
		q.wait = d
	}
	return q, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.auth.Authenticate(ctx, r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, auth.ErrSuspended):
		writeError(w, http.StatusForbidden, "the tenant is suspended")
		return
	case errors.Is(err, auth.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimless"`)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	case err != nil:
		h.log.ErrorContext(ctx, "events api: authenticate", "err", err.Error())
		writeError(w, http.StatusServiceUnavailable, "authentication is unavailable; retry")
		return
	}
	if !p.Has(auth.ScopeEvents) {
		writeError(w, http.StatusForbidden, `the token lacks the "events" scope`)
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ttl, err := h.retention(ctx, p.Tenant)
	if err != nil {
		h.log.ErrorContext(ctx, "events api: tenant", "tenant", p.Tenant, "err", err.Error())
		writeError(w, http.StatusServiceUnavailable, "the event store is unavailable; retry")
		return
	}
	deadline := h.now().Add(q.wait)
	for {
		var changed <-chan struct{}
		if h.hub != nil {
			changed = h.hub.Changed(p.Tenant) // before reading: no notification is lost
		}
		now := h.now()
		sq := store.EventQuery{After: q.after, Limit: q.limit, Types: q.types, Before: events.CursorAt(now.Add(-h.settle))}
		if h.watermark != nil {
			sq.Before = h.watermark()
			if sq.Before == "" {
				sq.Before = events.CursorAt(time.Time{}) // nothing is stored in full yet
			}
		}
		if floor := events.CursorAt(now.Add(-ttl)); sq.After < floor {
			sq.After = floor // older events are past retention
		}
		page, err := h.store.ListEvents(ctx, p.Tenant, sq)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.ErrorContext(ctx, "events api: list", "tenant", p.Tenant, "err", err.Error())
			writeError(w, http.StatusServiceUnavailable, "the event store is unavailable; retry")
			return
		}
		if len(page.Events) > 0 || !now.Before(deadline) {
			h.write(w, q, page)
			return
		}
		if page.Next > q.after {
			q.after = page.Next // skipped events of other types need not be read again
		}
		wait := min(h.poll, deadline.Sub(now))
		if h.settle > 0 {
			wait = min(wait, h.settle) // an event stored now is served once it settles
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// write answers with a page, cut before MaxBody.
func (h *Handler) write(w http.ResponseWriter, q query, page store.EventPage) {
	var b strings.Builder
	b.WriteString(`{"data":[`)
	next := q.after
	if len(page.Events) == 0 && page.Next > next {
		next = page.Next
	}
	for i, e := range page.Events {
		if b.Len()+len(e.JSON)+len(e.ID)+64 > MaxBody && i > 0 {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.JSON)
		next = e.ID
		if i == len(page.Events)-1 && page.Next > next {
			next = page.Next
		}
	}
	nb, _ := json.Marshal(next)
	b.WriteString(`],"next":`)
	b.Write(nb)
	b.WriteString("}")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

func writeError(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(map[string]any{"error": detail, "status": status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// retention returns the tenant's event retention, cached briefly.
func (h *Handler) retention(ctx context.Context, tenant string) (time.Duration, error) {
	now := h.now()
	h.mu.Lock()
	c, ok := h.tenants[tenant]
	h.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.ttl, nil
	}
	t, err := h.store.GetTenant(ctx, tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	c = cachedTTL{ttl: t.EventTTL(), exp: now.Add(time.Minute)}
	h.mu.Lock()
	if len(h.tenants) > 10000 {
		clear(h.tenants)
	}
	h.tenants[tenant] = c
	h.mu.Unlock()
	return c.ttl, nil
}
