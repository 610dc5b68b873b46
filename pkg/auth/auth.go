// Package auth authenticates bearer tokens: it maps a token to the tenant it
// acts for. Tokens are stored only as SHA-256 hashes; a lookup is one read of
// the hash, cached in memory for a short TTL so a warm Lambda authenticates
// without a round trip. A revoked token stops working within that TTL.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/safe"
	"github.com/scimless/scimless/pkg/store"
)

// Scopes a token can carry.
const (
	ScopeSCIM   = "scim"
	ScopeXaaS   = "xaas"
	ScopeEvents = "events" // read the Events API
)

// ErrUnauthorized means the token is missing, malformed, unknown, expired or
// revoked. Its message never contains the token.
var ErrUnauthorized = errors.New("unauthorized")

// ErrSuspended means the token is valid but its tenant is suspended. It wraps
// ErrUnauthorized (so a caller that only knows ErrUnauthorized refuses the
// request with 401) and store.ErrSuspended; test it first to answer 403.
var ErrSuspended = fmt.Errorf("%w: %w", store.ErrSuspended, ErrUnauthorized)

// Principal is who a request acts as.
type Principal struct {
	Tenant  string
	TokenID string
	Scopes  []string
}

// Has reports whether the principal carries scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal stored by WithPrincipal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Hash returns the hex SHA-256 of a token secret: the only form stored.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// maxSecret is the longest token secret accepted, in bytes.
const maxSecret = 512

// secretHash returns the SHA-256 of a secret of at most maxSecret bytes. The
// bytes are copied to a stack buffer, so hashing allocates nothing.
func secretHash(secret string) hashKey {
	var buf [maxSecret]byte
	n := copy(buf[:], secret)
	return sha256.Sum256(buf[:n])
}

// NewSecret returns a new random token secret ("scim_" + 43 base64url
// characters: 256 bits of entropy).
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return "scim_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// NewID returns a random identifier (16 bytes, hex).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Authenticator maps bearer tokens to principals, with a cache.
//
// A cold lookup is one GetItem of the token's hash (the lookup item carries
// the tenant, scopes, expiry and the tenant's suspension), cached for the
// authenticator's TTL (DefaultCacheTTL, 60 s): a warm Lambda authenticates
// without a round trip, and a revoked token, a suspended or resumed tenant
// take effect within that TTL.
//
// Tokens found in the table and hashes not found are cached apart, each
// bounded (MaxKnownTokens, MaxUnknownTokens): a flood of random tokens
// churns only the cache of unknown ones, so it can never push a valid token
// out. A client (source IP; IPv6 /64) that presents more unknown tokens
// than its budget (DefaultBadTokenBurst in a row, then DefaultBadTokenRate
// per second) is refused with a *ThrottledError, before any lookup, until
// the budget refills; its valid tokens keep working from the cache.
type Authenticator struct {
	store *store.Store
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	lastUsed bool
	touches  chan struct{} // semaphore bounding the last-used updates in flight
	wg       sync.WaitGroup

	badRate  float64
	badBurst int
	throttle *clientThrottle

	mu      sync.RWMutex
	known   *expiringMap[*store.Token] // tokens found in the table
	unknown *expiringMap[struct{}]     // hashes not found

	flightMu sync.Mutex
	flights  map[hashKey]*flight // lookups in progress, by token hash
}

// flight is one token lookup in progress; requests with the same token that
// miss the cache meanwhile wait for its answer instead of looking up again.
type flight struct {
	done chan struct{}
	tok  *store.Token
	err  error
}

// DefaultCacheTTL is how long a token lookup is cached: a revoked token stops
// working, and a suspended tenant's tokens are refused, within it.
const DefaultCacheTTL = 60 * time.Second

// Bounds of the token caches of an Authenticator. Only tokens stored in the
// table can enter the cache of known tokens, so it holds every live token of
// a deployment of up to MaxKnownTokens (200 tenants at the most tokens each);
// beyond that, arbitrary entries are dropped and looked up again.
const (
	MaxKnownTokens   = 10000
	MaxUnknownTokens = 4096
)

// Bounds of the asynchronous "last used" updates.
const (
	maxTouches   = 8               // in flight at once; more are skipped
	touchTimeout = 3 * time.Second // each
)

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithLogger sets the logger of the "last used" updates that fail or panic
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(a *Authenticator) { a.log = l } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(a *Authenticator) { a.now = now } }

// WithoutLastUsed disables recording when tokens were last used.
func WithoutLastUsed() Option { return func(a *Authenticator) { a.lastUsed = false } }

// WithBadTokenLimit sets how many unknown tokens a client may present:
// burst in a row, then rate per second (defaults DefaultBadTokenRate and
// DefaultBadTokenBurst). A rate ≤ 0 turns the throttle off.
func WithBadTokenLimit(rate float64, burst int) Option {
	return func(a *Authenticator) { a.badRate, a.badBurst = rate, burst }
}

// NewAuthenticator returns an authenticator over st caching lookups for ttl
// (DefaultCacheTTL when zero or negative).
func NewAuthenticator(st *store.Store, ttl time.Duration, opts ...Option) *Authenticator {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	a := &Authenticator{store: st, ttl: ttl, now: time.Now, log: slog.Default(), lastUsed: true,
		touches: make(chan struct{}, maxTouches), badRate: DefaultBadTokenRate, badBurst: DefaultBadTokenBurst,
		known: newExpiringMap[*store.Token](MaxKnownTokens), unknown: newExpiringMap[struct{}](MaxUnknownTokens),
		flights: map[hashKey]*flight{}}
	for _, o := range opts {
		o(a)
	}
	if a.badRate > 0 {
		a.throttle = newClientThrottle(a.badRate, a.badBurst)
	}
	return a
}

// ErrThrottled means the client presented too many unknown tokens and is
// refused without a lookup for a while. It wraps ErrUnauthorized (a caller
// that does not know it refuses the request with 401); errors.As with a
// *ThrottledError gives the time to wait, for a 429 with Retry-After.
var ErrThrottled = fmt.Errorf("too many unknown tokens from this client: %w", ErrUnauthorized)

// ThrottledError is the error of a request refused by the throttle of
// unknown tokens. It wraps ErrThrottled.
type ThrottledError struct {
	// RetryAfter is how long until the client may present a token again.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return ErrThrottled.Error() }

// Unwrap returns ErrThrottled.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// Authenticate checks an Authorization header value ("Bearer <token>") and
// returns the principal. Errors wrap ErrUnauthorized (missing, malformed,
// unknown, revoked or expired token), ErrSuspended (the tenant is
// suspended; it wraps ErrUnauthorized too) or ErrThrottled (a
// *ThrottledError: the client, reqlog.ClientFrom(ctx), presented too many
// unknown tokens; it wraps ErrUnauthorized too), except store failures.
// Error messages never contain the token. With ErrSuspended the returned
// principal names the tenant and token (for logs and the error detail) but
// carries no scope.
//
// With a warm cache it makes no request; on a miss it makes one GetItem, and
// for a valid token starts an asynchronous UpdateItem recording when the
// token was last used (see Wait). That update is off the request path,
// bounded (maxTouches in flight, touchTimeout each) and best effort: errors
// and panics are only logged, and on Lambda a process frozen after the
// response may skip some updates, so "last used" is a lower bound accurate
// to about the cache TTL.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > maxSecret {
		return Principal{}, fmt.Errorf("malformed authorization header: %w", ErrUnauthorized)
	}
	key := secretHash(secret)
	now := a.now()
	a.mu.RLock()
	tok, hit := a.known.get(key, now)
	bad := false
	if !hit {
		_, bad = a.unknown.get(key, now)
	}
	a.mu.RUnlock()
	if !hit {
		var err error
		if tok, err = a.miss(ctx, key, bad, now); err != nil {
			return Principal{}, err
		}
	}
	// The lookup is by hash, so no secret comparison happens here: there is
	// nothing for a timing attack to measure beyond the hash itself.
	if !tok.Expires.IsZero() && now.After(tok.Expires) {
		return Principal{}, fmt.Errorf("expired token: %w", ErrUnauthorized)
	}
	if tok.Suspended {
		return Principal{Tenant: tok.Tenant, TokenID: tok.ID}, fmt.Errorf("tenant %s: %w", tok.Tenant, ErrSuspended)
	}
	return Principal{Tenant: tok.Tenant, TokenID: tok.ID, Scopes: tok.Scopes}, nil
}

// miss answers a token that is not in the cache of known tokens. Requests
// that present the same token meanwhile share one lookup, so a client's first
// burst of parallel requests costs one lookup and one unit of the client's
// budget of unknown tokens (refunded when the token is valid), not one each.
func (a *Authenticator) miss(ctx context.Context, key hashKey, bad bool, now time.Time) (*store.Token, error) {
	a.flightMu.Lock()
	if f := a.flights[key]; f != nil {
		a.flightMu.Unlock()
		select {
		case <-f.done:
			// The leader's throttle or cancellation is its own, not this
			// request's: then this request resolves the token itself.
			if _, throttled := errors.AsType[*ThrottledError](f.err); throttled || errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
				return a.resolve(ctx, key, bad, now)
			}
			return f.tok, f.err
		case <-ctx.Done():
			return nil, fmt.Errorf("authenticate: %w", ctx.Err())
		}
	}
	f := &flight{done: make(chan struct{})}
	a.flights[key] = f
	a.flightMu.Unlock()
	defer func() {
		a.flightMu.Lock()
		delete(a.flights, key)
		a.flightMu.Unlock()
		close(f.done)
	}()
	f.tok, f.err = a.resolve(ctx, key, bad, now)
	return f.tok, f.err
}

// resolve looks a token up, within the client's budget of unknown tokens.
func (a *Authenticator) resolve(ctx context.Context, key hashKey, bad bool, now time.Time) (*store.Token, error) {
	client := ""
	if a.throttle != nil {
		client = clientKey(reqlog.ClientFrom(ctx))
		if ok, wait := a.throttle.take(client, now); !ok {
			return nil, &ThrottledError{RetryAfter: wait}
		}
	}
	if bad {
		return nil, fmt.Errorf("unknown token: %w", ErrUnauthorized)
	}
	tok, err := a.lookup(ctx, key, now)
	if err != nil {
		if a.throttle != nil && !errors.Is(err, ErrUnauthorized) {
			a.throttle.refund(client) // a store failure is not the client's
		}
		return nil, err
	}
	if a.throttle != nil {
		a.throttle.refund(client)
	}
	return tok, nil
}

// lookup reads the token with hash key from the table and caches the
// answer: the token in the cache of known tokens, or the hash in the cache
// of unknown ones (then the error wraps ErrUnauthorized).
func (a *Authenticator) lookup(ctx context.Context, key hashKey, now time.Time) (*store.Token, error) {
	tok, err := a.store.TokenByHash(ctx, hex.EncodeToString(key[:]))
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.mu.Lock()
		a.known.delete(key)
		a.unknown.put(key, struct{}{}, now, now.Add(a.ttl))
		a.mu.Unlock()
		return nil, fmt.Errorf("unknown token: %w", ErrUnauthorized)
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	a.mu.Lock()
	a.unknown.delete(key)
	a.known.put(key, tok, now, now.Add(a.ttl))
	a.mu.Unlock()
	if !tok.Suspended && (tok.Expires.IsZero() || !now.After(tok.Expires)) {
		a.touch(ctx, tok.Tenant, tok.ID, now)
	}
	return tok, nil
}

// touch records asynchronously that a token was used at t (see Authenticate).
func (a *Authenticator) touch(ctx context.Context, tenant, id string, t time.Time) {
	if !a.lastUsed {
		return
	}
	select {
	case a.touches <- struct{}{}:
	default:
		return // enough in flight: this one is skipped
	}
	a.wg.Add(1)
	safe.Go(context.WithoutCancel(ctx), a.log, "record token last use", func(ctx context.Context) {
		defer func() { <-a.touches; a.wg.Done() }()
		ctx, cancel := context.WithTimeout(ctx, touchTimeout)
		defer cancel()
		if err := a.store.TouchToken(ctx, tenant, id, t); err != nil && !errors.Is(err, store.ErrNotFound) {
			a.log.WarnContext(ctx, "record token last use", "tenant", tenant, "token_id", id, "err", err.Error(),
				"request_id", reqlog.IDFrom(ctx))
		}
	})
}

// Wait waits until the "last used" updates started so far have finished
// (tests, graceful shutdown).
func (a *Authenticator) Wait() { a.wg.Wait() }

// IssueOptions describe a token to issue.
type IssueOptions struct {
	Tenant  string
	Secret  string // the token; a new random one when empty
	Label   string
	Scopes  []string // ScopeSCIM, ScopeXaaS, ScopeEvents; default: ScopeSCIM and ScopeXaaS
	Expires time.Time
	Now     time.Time
	// RequireTenant makes Issue refuse a tenant that does not exist (what
	// "scimless token issue" does). Without it a missing tenant is created,
	// active, in the same transaction as the token (the local run, invoke and
	// tests). A suspended tenant is refused either way.
	RequireTenant bool
}

// MaxLabel is the longest token label accepted, in bytes.
const MaxLabel = 128

// Issue stores a token (its hash only) and returns the secret, which cannot
// be recovered later, and the stored record. Errors wrap ErrSuspended for a
// suspended tenant, store.ErrNotFound for an unknown tenant (with
// RequireTenant) and store.ErrTooLarge when the tenant has
// store.MaxTokensPerTenant tokens.
//
// Issuing a given Secret again for the same tenant is idempotent: it returns
// the token already stored (so a local run restarted with the same -token
// against a persistent table works). A Secret stored for another tenant is an
// error.
func Issue(ctx context.Context, st *store.Store, o IssueOptions) (string, store.Token, error) {
	if !ValidTenant(o.Tenant) {
		return "", store.Token{}, fmt.Errorf("issue token: invalid tenant name %q (1-64 letters, digits, '.', '_' or '-')", o.Tenant)
	}
	secret := o.Secret
	if secret == "" {
		var err error
		if secret, err = NewSecret(); err != nil {
			return "", store.Token{}, err
		}
	}
	if len(secret) < 8 || len(secret) > maxSecret {
		return "", store.Token{}, fmt.Errorf("issue token: a token must be 8-%d characters long", maxSecret)
	}
	if strings.ContainsFunc(secret, unicode.IsSpace) {
		return "", store.Token{}, errors.New("issue token: a token must not contain spaces or line breaks")
	}
	if len(o.Label) > MaxLabel || strings.ContainsFunc(o.Label, unicode.IsControl) {
		return "", store.Token{}, fmt.Errorf("issue token: a label must be at most %d characters without control characters", MaxLabel)
	}
	scopes := slices.Clone(o.Scopes)
	if len(scopes) == 0 {
		scopes = []string{ScopeSCIM, ScopeXaaS}
	}
	for _, sc := range scopes {
		switch sc {
		case ScopeSCIM, ScopeXaaS, ScopeEvents:
		default:
			return "", store.Token{}, fmt.Errorf("issue token: unknown scope %q (%s, %s or %s)", sc, ScopeSCIM, ScopeXaaS, ScopeEvents)
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !o.Expires.IsZero() && !o.Expires.After(now) {
		return "", store.Token{}, errors.New("issue token: the expiry is in the past")
	}
	t := store.Token{Hash: Hash(secret), ID: NewID()[:12], Tenant: o.Tenant, Label: o.Label,
		Prefix: secret[:min(8, len(secret)/4)], Scopes: scopes, Created: now, Expires: o.Expires}
	err := st.CreateToken(ctx, t, !o.RequireTenant)
	switch {
	case err == nil:
		return secret, t, nil
	case errors.Is(err, store.ErrSuspended):
		return "", store.Token{}, fmt.Errorf("issue token: tenant %s: %w", o.Tenant, ErrSuspended)
	case errors.Is(err, store.ErrConflict) && o.Secret != "":
		prev, gerr := st.TokenByHash(ctx, t.Hash)
		if gerr == nil && prev.Tenant == o.Tenant {
			return secret, *prev, nil
		}
		if gerr == nil {
			return "", store.Token{}, errors.New("issue token: this token is already issued for another tenant")
		}
	}
	return "", store.Token{}, fmt.Errorf("issue token: %w", err)
}

// ValidTenant reports whether name is a valid tenant name: 1-64 ASCII
// letters, digits, '.', '_' or '-'.
func ValidTenant(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
