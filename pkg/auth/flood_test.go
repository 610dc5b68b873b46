package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/reqlog"
	"github.com/scimless/scimless/pkg/store/storetest"
)

func from(addr string) context.Context { return reqlog.WithClient(context.Background(), addr) }

// A flood of random tokens from many parallel clients never pushes a valid
// token out of the cache: the valid ones keep authenticating with no
// round trip, and the cache of unknown tokens stays within its bound.
func TestUnknownTokensCannotEvictKnown(t *testing.T) {
	env := storetest.New(t)
	const valid, clients, perClient, unknownCap = 4, 24, 8, 32
	var secrets []string
	for i := range valid {
		s, _ := issue(t, env.Store, auth.IssueOptions{Tenant: fmt.Sprintf("t%d", i)})
		secrets = append(secrets, s)
	}
	a := auth.NewAuthenticator(env.Store, time.Hour, auth.WithoutLastUsed(), auth.WithCacheLimits(valid, unknownCap))
	for _, s := range secrets {
		if _, err := a.Authenticate(from("192.0.2.1:1"), bearer(s)); err != nil {
			t.Fatal(err)
		}
	}
	before := env.Metrics.Snapshot()
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient*2)
	for c := range clients {
		wg.Go(func() {
			ctx := from(fmt.Sprintf("198.51.100.%d:4000", c))
			for i := range perClient {
				if _, err := a.Authenticate(ctx, bearer(fmt.Sprintf("scim_random-%d-%d", c, i))); !errors.Is(err, auth.ErrUnauthorized) || errors.Is(err, auth.ErrThrottled) {
					errs <- fmt.Errorf("random token: %v, want 401", err)
				}
				// Valid tokens interleaved with the flood.
				if p, err := a.Authenticate(ctx, bearer(secrets[(c+i)%valid])); err != nil || p.Tenant != fmt.Sprintf("t%d", (c+i)%valid) {
					errs <- fmt.Errorf("valid token during the flood: %+v %v", p, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d := env.Metrics.Snapshot().Sub(before)
	if got := d.Requests["GetItem"]; got != clients*perClient {
		t.Errorf("%d lookups, want one per random token (%d): the valid tokens were looked up again", got, clients*perClient)
	}
	known, unknown := a.CacheSizes()
	if known != valid || unknown > unknownCap {
		t.Errorf("cache sizes: %d known (want %d), %d unknown (bound %d)", known, valid, unknown, unknownCap)
	}
}

func TestBadTokenThrottle(t *testing.T) {
	env := storetest.New(t)
	cached, _ := issue(t, env.Store, auth.IssueOptions{Tenant: "acme"})
	uncached, _ := issue(t, env.Store, auth.IssueOptions{Tenant: "acme"})
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	const burst = 3
	a := auth.NewAuthenticator(env.Store, time.Hour, auth.WithoutLastUsed(), auth.WithClock(clk.now), auth.WithBadTokenLimit(0.5, burst))
	if _, err := a.Authenticate(from("192.0.2.9:1"), bearer(cached)); err != nil {
		t.Fatal(err)
	}
	const attacker = "203.0.113.5:40000"
	steps := []struct {
		name    string
		advance time.Duration
		client  string
		secret  string
		want    error // nil: authenticated
		lookups int64 // GetItem requests the step makes
		retry   time.Duration
	}{
		{"1st unknown token", 0, attacker, "scim_guess-1", auth.ErrUnauthorized, 1, 0},
		{"2nd unknown token", 0, attacker, "scim_guess-2", auth.ErrUnauthorized, 1, 0},
		{"the same unknown token again (cached)", 0, attacker, "scim_guess-2", auth.ErrUnauthorized, 0, 0},
		{"budget spent", 0, attacker, "scim_guess-3", auth.ErrThrottled, 0, 2 * time.Second},
		{"throttled: no lookup", 0, attacker, "scim_guess-4", auth.ErrThrottled, 0, 2 * time.Second},
		{"a valid cached token from the same client", 0, attacker, cached, nil, 0, 0},
		{"a valid token not cached yet from the same client", 0, attacker, uncached, auth.ErrThrottled, 0, 2 * time.Second},
		{"another port of the same IP", 0, "203.0.113.5:40001", "scim_guess-5", auth.ErrThrottled, 0, 2 * time.Second},
		{"another client", 0, "203.0.113.6:40000", "scim_guess-6", auth.ErrUnauthorized, 1, 0},
		{"half the refill time", time.Second, attacker, "scim_guess-7", auth.ErrThrottled, 0, time.Second},
		{"refilled by one", time.Second, attacker, "scim_guess-8", auth.ErrUnauthorized, 1, 0},
		{"spent again", 0, attacker, "scim_guess-9", auth.ErrThrottled, 0, 2 * time.Second},
		{"a valid token is refunded", 2 * time.Second, attacker, uncached, nil, 1, 0},
		{"so the budget is still one", 0, attacker, "scim_guess-10", auth.ErrUnauthorized, 1, 0},
		{"IPv6 client", 0, "[2001:db8:0:1::1]:5", "scim_v6-1", auth.ErrUnauthorized, 1, 0},
		{"IPv6 same /64", 0, "[2001:db8:0:1::2]:5", "scim_v6-2", auth.ErrUnauthorized, 1, 0},
		{"IPv6 same /64 again", 0, "[2001:db8:0:1:ffff::9]:5", "scim_v6-3", auth.ErrUnauthorized, 1, 0},
		{"IPv6 same /64, spent", 0, "[2001:db8:0:1::3]:5", "scim_v6-4", auth.ErrThrottled, 0, 2 * time.Second},
		{"IPv6 another /64", 0, "[2001:db8:0:2::1]:5", "scim_v6-5", auth.ErrUnauthorized, 1, 0},
	}
	for _, s := range steps {
		clk.add(s.advance)
		before := env.Metrics.Snapshot()
		p, err := a.Authenticate(from(s.client), bearer(s.secret))
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
		if s.want == nil && p.Tenant != "acme" {
			t.Fatalf("%s: principal %+v", s.name, p)
		}
		if s.want == auth.ErrUnauthorized && errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("%s: throttled too early: %v", s.name, err)
		}
		var te *auth.ThrottledError
		if errors.As(err, &te) != (s.want == auth.ErrThrottled) {
			t.Fatalf("%s: %v: *ThrottledError only when throttled", s.name, err)
		}
		if te != nil && te.RetryAfter != s.retry {
			t.Fatalf("%s: RetryAfter %v, want %v", s.name, te.RetryAfter, s.retry)
		}
		if got := env.Metrics.Snapshot().Sub(before).Requests["GetItem"]; got != s.lookups {
			t.Fatalf("%s: %d lookups, want %d", s.name, got, s.lookups)
		}
	}
}

// Many parallel clients with random tokens: each gets exactly its budget of
// lookups (401), then 429s; none is charged for another.
func TestBadTokenThrottleParallel(t *testing.T) {
	env := storetest.New(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	const clients, perClient, burst = 16, 12, 5
	a := auth.NewAuthenticator(env.Store, time.Hour, auth.WithoutLastUsed(), auth.WithClock(clk.now), auth.WithBadTokenLimit(1, burst))
	before := env.Metrics.Snapshot()
	var mu sync.Mutex
	refused, throttled := map[int]int{}, map[int]int{}
	var wg sync.WaitGroup
	for c := range clients {
		for i := range perClient {
			wg.Go(func() {
				_, err := a.Authenticate(from(fmt.Sprintf("10.0.%d.1:999", c)), bearer(fmt.Sprintf("scim_r%d-%d", c, i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, auth.ErrThrottled):
					throttled[c]++
				case errors.Is(err, auth.ErrUnauthorized):
					refused[c]++
				default:
					t.Errorf("client %d: %v", c, err)
				}
			})
		}
	}
	wg.Wait()
	for c := range clients {
		if refused[c] != burst || throttled[c] != perClient-burst {
			t.Errorf("client %d: %d × 401, %d × 429; want %d and %d", c, refused[c], throttled[c], burst, perClient-burst)
		}
	}
	if got := env.Metrics.Snapshot().Sub(before).Requests["GetItem"]; got != clients*burst {
		t.Errorf("%d lookups, want %d", got, clients*burst)
	}
}

// A client's first burst of parallel requests with one valid token (an
// identity provider starting a provisioning run) is all accepted, with one
// lookup: requests that miss the cache together share it, so the burst never
// spends the client's budget of unknown tokens.
func TestFirstBurstOfAValidToken(t *testing.T) {
	env := storetest.New(t)
	secret, _ := issue(t, env.Store, auth.IssueOptions{Tenant: "acme"})
	const parallel, burst = 50, 5
	a := auth.NewAuthenticator(env.Store, time.Hour, auth.WithoutLastUsed(), auth.WithBadTokenLimit(1, burst))
	before := env.Metrics.Snapshot()
	var wg sync.WaitGroup
	errs := make([]error, parallel)
	for i := range parallel {
		wg.Go(func() {
			_, errs[i] = a.Authenticate(from("10.0.0.1:999"), bearer(secret))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := env.Metrics.Snapshot().Sub(before).Requests["GetItem"]; got != 1 {
		t.Errorf("%d lookups, want 1", got)
	}
}
