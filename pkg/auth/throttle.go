package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the throttle of unknown tokens per client.
const (
	// DefaultBadTokenRate is how many unknown tokens per second a client may
	// present, over DefaultBadTokenBurst, before it is throttled.
	DefaultBadTokenRate = 1.0
	// DefaultBadTokenBurst is how many unknown tokens a client may present
	// in a row.
	DefaultBadTokenBurst = 20
	// maxClients bounds the clients tracked; when that many have presented
	// unknown tokens recently, further new clients share one budget.
	maxClients = 10000
)

// clientThrottle keeps a token bucket per client (source address) that an
// unknown token empties by one. A client whose bucket is empty is refused
// without a lookup until it refills. Clients behind one IPv6 /64 share a
// bucket, since one host can hold a whole /64.
type clientThrottle struct {
	rate  float64
	burst float64

	mu       sync.Mutex
	buckets  map[string]*badBucket
	overflow badBucket // shared by new clients while buckets is full
	swept    time.Time // last sweep of buckets (at most one a second)
}

type badBucket struct {
	tokens float64
	last   time.Time
}

func newClientThrottle(rate float64, burst int) *clientThrottle {
	return &clientThrottle{rate: rate, burst: float64(max(burst, 1)), buckets: map[string]*badBucket{}}
}

// clientKey maps a request's client address (see reqlog.ClientFrom) to its
// bucket: the IP for IPv4, the /64 for IPv6; an address that is not an IP
// (which a listener never gives) is used as is, cut to 64 bytes.
func clientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			return addr[:min(len(addr), 64)]
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// take takes one unit of the client's budget of unknown tokens. When the
// budget is spent it returns false and how long until a unit is back.
func (t *clientThrottle) take(client string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(client, now)
	b.tokens = math.Min(t.burst, b.tokens+now.Sub(b.last).Seconds()*t.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / t.rate * float64(time.Second))
}

// refund gives back a unit taken for a lookup that found a valid token.
func (t *clientThrottle) refund(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[client]
	if b == nil {
		b = &t.overflow
	}
	b.tokens = math.Min(t.burst, b.tokens+1)
}

// bucket returns the client's bucket, creating it full. Buckets that have
// refilled are forgotten when the map is full (a full bucket is what a new
// client gets anyway; the sweep runs at most once a second, so a flood of
// new clients costs O(1) amortised each); while it is still full, new
// clients share the overflow bucket.
func (t *clientThrottle) bucket(client string, now time.Time) *badBucket {
	if b := t.buckets[client]; b != nil {
		return b
	}
	if len(t.buckets) >= maxClients && now.Sub(t.swept) >= time.Second {
		t.swept = now
		for k, b := range t.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*t.rate >= t.burst {
				delete(t.buckets, k)
			}
		}
	}
	if len(t.buckets) >= maxClients {
		if t.overflow.last.IsZero() {
			t.overflow = badBucket{tokens: t.burst, last: now}
		}
		return &t.overflow
	}
	b := &badBucket{tokens: t.burst, last: now}
	t.buckets[client] = b
	return b
}
