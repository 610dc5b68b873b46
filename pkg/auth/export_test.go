package auth

import "github.com/scimless/scimless/pkg/store"

// WithCacheLimits sets the bounds of the caches of known and unknown tokens
// (tests: MaxKnownTokens and MaxUnknownTokens take too many lookups to fill
// on the embedded engine).
func WithCacheLimits(known, unknown int) Option {
	return func(a *Authenticator) {
		a.known = newExpiringMap[*store.Token](known)
		a.unknown = newExpiringMap[struct{}](unknown)
	}
}

// CacheSizes returns how many known and unknown tokens are cached.
func (a *Authenticator) CacheSizes() (known, unknown int) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.known.len(), a.unknown.len()
}
