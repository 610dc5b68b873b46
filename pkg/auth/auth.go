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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/store"
)

// Scopes a token can carry.
const (
	ScopeSCIM = "scim"
	ScopeXaaS = "xaas"
)

// ErrUnauthorized means the token is missing, malformed, unknown, expired or
// revoked. Its message never contains the token.
var ErrUnauthorized = errors.New("unauthorized")

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
type Authenticator struct {
	store *store.Store
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cached // key: token hash
}

type cached struct {
	tok     *store.Token // nil: known bad
	expires time.Time
}

// DefaultCacheTTL is how long a token lookup is cached.
const DefaultCacheTTL = 60 * time.Second

// maxCache bounds the cache; when full it is emptied (simple and safe).
const maxCache = 10000

// NewAuthenticator returns an authenticator over st caching lookups for ttl
// (DefaultCacheTTL when zero or negative).
func NewAuthenticator(st *store.Store, ttl time.Duration) *Authenticator {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Authenticator{store: st, ttl: ttl, now: time.Now, cache: map[string]cached{}}
}

// Authenticate checks an Authorization header value ("Bearer <token>") and
// returns the principal. Errors wrap ErrUnauthorized, except store failures.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > 512 {
		return Principal{}, fmt.Errorf("malformed authorization header: %w", ErrUnauthorized)
	}
	hash := Hash(secret)
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[hash]
	a.mu.Unlock()
	if !hit || now.After(c.expires) {
		tok, err := a.store.TokenByHash(ctx, hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
			tok = nil
		case err != nil:
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		c = cached{tok: tok, expires: now.Add(a.ttl)}
		a.mu.Lock()
		if len(a.cache) >= maxCache {
			clear(a.cache)
		}
		a.cache[hash] = c
		a.mu.Unlock()
	}
	// The lookup is by hash, so no secret comparison happens here: there is
	// nothing for a timing attack to measure beyond the hash itself.
	if c.tok == nil {
		return Principal{}, fmt.Errorf("unknown token: %w", ErrUnauthorized)
	}
	if !c.tok.Expires.IsZero() && now.After(c.tok.Expires) {
		return Principal{}, fmt.Errorf("expired token: %w", ErrUnauthorized)
	}
	return Principal{Tenant: c.tok.Tenant, TokenID: c.tok.ID, Scopes: c.tok.Scopes}, nil
}

// IssueOptions describe a token to issue.
type IssueOptions struct {
	Tenant  string
	Secret  string // the token; a new random one when empty
	Label   string
	Scopes  []string // default: scim and xaas
	Expires time.Time
	Now     time.Time
}

// Issue stores a token (its hash only) and returns the secret, which cannot
// be recovered later, and the stored record.
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
	if len(secret) < 8 || len(secret) > 512 || strings.ContainsAny(secret, " \t\r\n") {
		return "", store.Token{}, errors.New("issue token: a token must be 8-512 characters without spaces")
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeSCIM, ScopeXaaS}
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	t := store.Token{Hash: Hash(secret), ID: NewID()[:12], Tenant: o.Tenant, Label: o.Label,
		Prefix: secret[:min(8, len(secret)/4)], Scopes: scopes, Created: now, Expires: o.Expires}
	if err := st.PutToken(ctx, t); err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
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
