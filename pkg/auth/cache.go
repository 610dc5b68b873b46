package auth

import (
	"crypto/sha256"
	"time"
)

// hashKey is the SHA-256 of a token secret: the key of the caches.
type hashKey = [sha256.Size]byte

// expiringValue is a value of an expiringMap and when it stops being valid.
type expiringValue[V any] struct {
	v       V
	expires time.Time
}

// expiringMap is a map whose entries expire, bounded to max entries. When a
// put finds it full, the expired entries are dropped and, if that leaves it
// more than nine tenths full, arbitrary entries too down to nine tenths:
// the O(max) sweep happens at most once per max/10 puts, so a put costs O(1)
// amortised, and the map never holds more than max entries. It is not safe
// for concurrent use (the Authenticator's mutex guards it).
type expiringMap[V any] struct {
	m   map[hashKey]expiringValue[V]
	max int
}

func newExpiringMap[V any](max int) *expiringMap[V] {
	return &expiringMap[V]{m: make(map[hashKey]expiringValue[V]), max: max}
}

// get returns the value under k unless it is missing or expired at now.
func (c *expiringMap[V]) get(k hashKey, now time.Time) (V, bool) {
	e, ok := c.m[k]
	if !ok || now.After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *expiringMap[V]) put(k hashKey, v V, now, expires time.Time) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, key)
			}
		}
		target := c.max - max(1, c.max/10)
		for key := range c.m {
			if len(c.m) <= target {
				break
			}
			delete(c.m, key) // Go randomises map order: an arbitrary entry
		}
	}
	c.m[k] = expiringValue[V]{v: v, expires: expires}
}

func (c *expiringMap[V]) delete(k hashKey) { delete(c.m, k) }

func (c *expiringMap[V]) len() int { return len(c.m) }
