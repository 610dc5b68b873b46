// Package ratelimit limits each tenant's API requests to the rate its
// operator configured, across every instance serving the tenant.
//
// A tenant's limit is its "rateLimit" setting (requests per second; set with
// "scimless tenant set NAME rateLimit=N"), or the limiter's default for
// tenants without one (none on AWS; "scimless dev -rate-limit N" locally).
// Requests are counted in fixed time windows in one counter item per tenant
// and window in the table (store.CountRequest): one conditional UpdateItem
// per request of a limited tenant, so the count is shared by all Lambda
// instances and the limit holds within the rounding described at Window,
// however many instances run. Tenants without a limit cost nothing.
//
// Both the SCIM and the XaaS servers take a Limiter; a request it refuses
// gets a 429 with a Retry-After of RetryAfterSeconds.
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/store"
)

// Limiter decides whether a tenant's request may be served now.
type Limiter interface {
	// Allow counts one request of tenant. It reports whether the request
	// may be served and, when not, how long until one may.
	Allow(ctx context.Context, tenant string) (ok bool, retryAfter time.Duration)
}

// RetryAfterSeconds is the Retry-After header value, in whole seconds (at
// least 1), for a request refused with retryAfter.
func RetryAfterSeconds(retryAfter time.Duration) int {
	return max(1, int(math.Ceil(retryAfter.Seconds())))
}

// Window returns the counting window and the requests allowed in each for a
// rate in requests per second (rate > 0):
//   - a whole rate counts per second: rate requests each second, exactly;
//   - any other rate counts over the shortest window of whole seconds
//     holding at least 5 requests at that rate, at most MaxWindow, and
//     allows the rate times the window rounded down: never above the rate,
//     and at most 20 % below it from 5 requests a minute up (e.g. 2.5/s
//     allows 5 per 2 s, 0.5/s 5 per 10 s, 0.05/s 3 per minute);
//   - a rate under 1 per MaxWindow allows 1 request per MaxWindow.
//
// Within a window, requests are served as they come (up to its count at
// once): a client that spreads its requests sees the rate.
func Window(rate float64) (time.Duration, int) {
	if rate >= 1 && rate == math.Trunc(rate) && rate <= math.MaxInt32 {
		return time.Second, int(rate)
	}
	secs := min(math.Ceil(5/rate), MaxWindow.Seconds())
	return time.Duration(secs) * time.Second, max(1, int(math.Min(rate*secs, math.MaxInt32)))
}

// MaxWindow is the longest counting window (see Window).
const MaxWindow = time.Minute

// DefaultSettingsTTL is how long a tenant's rateLimit setting is cached: a
// change takes effect within it.
const DefaultSettingsTTL = 60 * time.Second

// Config configures a Shared limiter.
type Config struct {
	// Store holds the tenants' settings and the request counters.
	Store *store.Store
	// Default is the rate, in requests per second, of tenants without a
	// rateLimit setting; 0 means no limit.
	Default float64
	// Logger receives the failures to count (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SettingsTTL is how long a tenant's setting is cached
	// (DefaultSettingsTTL when zero).
	SettingsTTL time.Duration
}

// Shared is the Limiter whose counts live in the table, shared by every
// instance using it. It is safe for concurrent use.
//
// A request of a limited tenant costs one UpdateItem, except while this
// instance knows the tenant's current window is full: those requests are
// refused without one. If the table cannot be reached to count, the request
// is allowed (a limiter must not turn a table hiccup into an outage) and the
// failure logged.
type Shared struct {
	store *store.Store
	def   float64
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration
	mu    sync.Mutex
	rates map[string]cachedRate
	full  map[string]time.Time // tenant → end of its window known to be full
}

type cachedRate struct {
	rate    float64
	expires time.Time
}

// maxTenants bounds the per-tenant maps of a Shared limiter; when one is
// full its expired entries are dropped (and, if none is, all of them).
const maxTenants = 10000

// New returns a Shared limiter for cfg.
func New(cfg Config) *Shared {
	l := &Shared{store: cfg.Store, def: cfg.Default, log: cfg.Logger, now: cfg.Now, ttl: cfg.SettingsTTL,
		rates: map[string]cachedRate{}, full: map[string]time.Time{}}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.ttl <= 0 {
		l.ttl = DefaultSettingsTTL
	}
	return l
}

// Allow implements Limiter.
func (l *Shared) Allow(ctx context.Context, tenant string) (bool, time.Duration) {
	rate := l.rate(ctx, tenant)
	if rate <= 0 {
		return true, 0
	}
	now := l.now()
	window, limit := Window(rate)
	start := now.Truncate(window)
	end := start.Add(window)
	l.mu.Lock()
	fullUntil, known := l.full[tenant]
	l.mu.Unlock()
	if known && now.Before(fullUntil) {
		return false, fullUntil.Sub(now)
	}
	ok, err := l.store.CountRequest(ctx, tenant, start, limit)
	if err != nil {
		if ctx.Err() == nil {
			l.log.WarnContext(ctx, "count request for the rate limit; allowed uncounted", "tenant", tenant,
				"err", err.Error(), "request_id", reqlog.IDFrom(ctx))
		}
		return true, 0
	}
	if ok {
		return true, 0
	}
	l.mu.Lock()
	if len(l.full) >= maxTenants {
		prune(l.full, func(until time.Time) bool { return !now.Before(until) })
	}
	l.full[tenant] = end
	l.mu.Unlock()
	return false, end.Sub(now)
}

// rate returns the tenant's rate: its setting (cached), else the default.
func (l *Shared) rate(ctx context.Context, tenant string) float64 {
	now := l.now()
	l.mu.Lock()
	c, ok := l.rates[tenant]
	l.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.rate
	}
	rate := l.def
	t, err := l.store.GetTenant(ctx, tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		if ok {
			rate = c.rate // keep the last known setting
		}
		if ctx.Err() == nil {
			l.log.WarnContext(ctx, "read the tenant's rate limit", "tenant", tenant, "err", err.Error(),
				"request_id", reqlog.IDFrom(ctx))
		}
		return rate // not cached: read again next time
	default:
		if v := t.Setting(store.SettingRateLimit); v != "" {
			if r, perr := strconv.ParseFloat(v, 64); perr == nil && r >= 0 && !math.IsInf(r, 0) {
				rate = r
			}
		}
	}
	l.mu.Lock()
	if len(l.rates) >= maxTenants {
		prune(l.rates, func(c cachedRate) bool { return !now.Before(c.expires) })
	}
	l.rates[tenant] = cachedRate{rate: rate, expires: now.Add(l.ttl)}
	l.mu.Unlock()
	return rate
}

// prune drops the entries of m that are stale, or all of them if none is.
func prune[V any](m map[string]V, stale func(V) bool) {
	n := len(m)
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
	if len(m) == n {
		clear(m)
	}
}
