package ratelimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/ratelimit"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/syncbuf"
)

// clock is a settable clock shared by the limiters of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestWindow(t *testing.T) {
	tests := []struct {
		rate   float64
		window time.Duration
		limit  int
	}{
		{1, time.Second, 1},
		{10, time.Second, 10},
		{1000, time.Second, 1000},
		{2.5, 2 * time.Second, 5},
		{1.5, 4 * time.Second, 6},
		{0.5, 10 * time.Second, 5},
		{7.3, time.Second, 7},
		{0.1, 50 * time.Second, 5},
		{0.03, time.Minute, 1},
		{0.001, time.Minute, 1},
	}
	for _, tc := range tests {
		w, n := ratelimit.Window(tc.rate)
		if w != tc.window || n != tc.limit {
			t.Errorf("Window(%v) = %v, %d; want %v, %d", tc.rate, w, n, tc.window, tc.limit)
		}
		// Never above the rate, at most 20 % below it (from 5/min up).
		if got := float64(n) / w.Seconds(); tc.rate >= 5.0/60 && (got > tc.rate*1.000001 || got < tc.rate*0.8) {
			t.Errorf("Window(%v) allows %v/s", tc.rate, got)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {9500 * time.Millisecond, 10}} {
		if got := ratelimit.RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// Several instances (limiters sharing one table, as Lambda instances do)
// under parallel load far over the limit: together they allow the tenant's
// rate within ±20 % (exactly, for whole rates).
func TestSharedAcrossInstances(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	tests := []struct {
		rate     string
		duration time.Duration
	}{
		{"10", 12 * time.Second},
		{"2.5", 12 * time.Second},
		{"0.5", 40 * time.Second},
	}
	const instances, clientsPerInstance, step = 4, 6, 250 * time.Millisecond
	for i, tc := range tests {
		t.Run("rate "+tc.rate, func(t *testing.T) {
			tenant := fmt.Sprintf("t%d", i)
			if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: tenant, Settings: map[string]string{store.SettingRateLimit: tc.rate}}); err != nil {
				t.Fatal(err)
			}
			clk := &clock{t: time.Unix(1_700_000_000, 0)}
			var limiters []*ratelimit.Shared
			for range instances {
				limiters = append(limiters, ratelimit.New(ratelimit.Config{Store: env.Store, Now: clk.now, SettingsTTL: time.Hour}))
			}
			var allowed, refused atomic.Int64
			for elapsed := time.Duration(0); elapsed < tc.duration; elapsed += step {
				var wg sync.WaitGroup
				for _, l := range limiters {
					for range clientsPerInstance {
						wg.Go(func() {
							ok, wait := l.Allow(ctx, tenant)
							switch {
							case ok:
								allowed.Add(1)
							case wait <= 0 || wait > ratelimit.MaxWindow:
								t.Errorf("refused with retry after %v", wait)
							default:
								refused.Add(1)
							}
						})
					}
				}
				wg.Wait()
				clk.add(step)
			}
			var rate float64
			fmt.Sscan(tc.rate, &rate)
			want := rate * tc.duration.Seconds()
			got := float64(allowed.Load())
			t.Logf("rate %s/s over %v: %v allowed (%.0f expected), %d refused", tc.rate, tc.duration, got, want, refused.Load())
			if math.Abs(got-want) > 0.2*want {
				t.Errorf("%v allowed over %v, want %.0f ± 20 %%", got, tc.duration, want)
			}
			if refused.Load() == 0 {
				t.Errorf("nothing refused: the load did not exceed the limit")
			}
		})
	}
	// Whole rates are exact: 10/s over 12 s.
	if n, _ := env.Store.RequestCount(ctx, "t0", time.Unix(1_700_000_003, 0)); n != 10 {
		t.Errorf("one second of t0 counted %d, want 10", n)
	}
}

func TestSharedSettings(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	for id, rate := range map[string]string{"limited": "2", "unlimited": "0", "garbage": "fast"} {
		if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: id, Settings: map[string]string{store.SettingRateLimit: rate}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: "plain"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		def         float64
		tenant      string
		requests    int
		wantAllowed int
		wantWrites  int64 // UpdateItem round trips
	}{
		{"setting", 0, "limited", 5, 2, 3},
		{"setting over the default", 100, "limited", 5, 2, 3},
		{"no setting, no default: free", 0, "plain", 50, 50, 0},
		{"no setting: the default", 3, "plain", 5, 3, 4},
		{"rateLimit=0 lifts the default", 3, "unlimited", 20, 20, 0},
		{"unparsable setting: the default", 1, "garbage", 3, 1, 2},
		{"unknown tenant: the default", 2, "nobody", 4, 2, 3},
		{"unknown tenant, no default", 0, "nobody", 4, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1_800_000_000, 0).Add(time.Duration(len(tc.name)) * time.Hour)}
			l := ratelimit.New(ratelimit.Config{Store: env.Store, Default: tc.def, Now: clk.now})
			before := env.Metrics.Snapshot()
			allowed := 0
			for range tc.requests {
				if ok, _ := l.Allow(ctx, tc.tenant); ok {
					allowed++
				}
			}
			d := env.Metrics.Snapshot().Sub(before)
			if allowed != tc.wantAllowed {
				t.Errorf("%d allowed, want %d", allowed, tc.wantAllowed)
			}
			if d.Requests["UpdateItem"] != tc.wantWrites || d.Requests["GetItem"] != 1 {
				t.Errorf("round trips %v, want %d UpdateItem and 1 GetItem (the setting, cached)", d.Requests, tc.wantWrites)
			}
			// The next window allows again; Retry-After points at it.
			clk.add(time.Second)
			if ok, _ := l.Allow(ctx, tc.tenant); !ok {
				t.Errorf("refused in the next window")
			}
		})
	}
}

func TestSharedRetryAfterAndSettingChange(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: "acme", Settings: map[string]string{store.SettingRateLimit: "0.5"}}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_700_000_000, 0).Add(3 * time.Second)} // 3 s into a 10 s window
	l := ratelimit.New(ratelimit.Config{Store: env.Store, Now: clk.now, SettingsTTL: time.Minute})
	for i := range 5 {
		if ok, _ := l.Allow(ctx, "acme"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.Allow(ctx, "acme")
	if ok || wait != 7*time.Second || ratelimit.RetryAfterSeconds(wait) != 7 {
		t.Fatalf("6th request: %v, retry after %v; want refused, 7 s", ok, wait)
	}
	// The refusal is remembered: no round trip until the window ends.
	before := env.Metrics.Snapshot()
	clk.add(6500 * time.Millisecond)
	if ok, wait := l.Allow(ctx, "acme"); ok || wait != 500*time.Millisecond {
		t.Fatalf("later in the window: %v %v", ok, wait)
	}
	if d := env.Metrics.Snapshot().Sub(before); d.Total() != 0 {
		t.Fatalf("a known-full window cost %v", d.Requests)
	}
	// A setting change takes effect once the cached one expires.
	if _, err := env.Store.SetTenantSettings(ctx, "acme", map[string]string{store.SettingRateLimit: ""}); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	for i := range 20 {
		if ok, _ := l.Allow(ctx, "acme"); !ok {
			t.Fatalf("request %d after the limit was removed: refused", i)
		}
	}
}

// A table that cannot be reached does not turn into refusals: requests are
// allowed uncounted and the failure is logged without the token.
func TestSharedStoreFailure(t *testing.T) {
	env := storetest.New(t)
	var logs syncbuf.Buffer
	broken := store.New(env.Client, "no-such-table")
	l := ratelimit.New(ratelimit.Config{Store: broken, Default: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for i := range 3 {
		if ok, _ := l.Allow(context.Background(), "acme"); !ok {
			t.Fatalf("request %d refused with the table unreachable", i)
		}
	}
	if !strings.Contains(logs.String(), "allowed uncounted") || !strings.Contains(logs.String(), `"tenant":"acme"`) {
		t.Fatalf("failure not logged: %s", logs.String())
	}
}

// BenchmarkAllow is the limiter's cost per request: nothing for a tenant
// without a limit (its setting is cached), one UpdateItem on the embedded
// engine for a limited one, none once its window is known to be full.
//
//	go test ./pkg/ratelimit -run '^$' -bench Allow -benchmem
func BenchmarkAllow(b *testing.B) {
	env := storetest.New(b)
	ctx := context.Background()
	for id, rate := range map[string]string{"free": "", "limited": "1000000", "full": "1"} {
		if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: id, Settings: map[string]string{store.SettingRateLimit: rate}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tenant := range []string{"free", "limited", "full"} {
		b.Run(tenant, func(b *testing.B) {
			at := time.Unix(1_700_000_000, 0)
			l := ratelimit.New(ratelimit.Config{Store: env.Store, Now: func() time.Time { return at }})
			l.Allow(ctx, tenant) // reads and caches the setting
			before := env.Metrics.Snapshot()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l.Allow(ctx, tenant)
			}
			b.StopTimer()
			b.ReportMetric(float64(env.Metrics.Snapshot().Sub(before).Total())/float64(b.N), "roundtrips/op")
		})
	}
}

// BenchmarkSharedInstances measures, on the real clock, how close four
// instances sharing the table keep a tenant limited to 20 requests/s when
// every benchmark goroutine sends requests as fast as it can: allowed/s
// should read 20 (the window count is exact; the edges of the run add at
// most one window).
//
//	go test ./pkg/ratelimit -run '^$' -bench SharedInstances -benchtime 5s
func BenchmarkSharedInstances(b *testing.B) {
	env := storetest.New(b)
	ctx := context.Background()
	if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: "acme", Settings: map[string]string{store.SettingRateLimit: "20"}}); err != nil {
		b.Fatal(err)
	}
	var instances [4]*ratelimit.Shared
	for i := range instances {
		instances[i] = ratelimit.New(ratelimit.Config{Store: env.Store})
		instances[i].Allow(ctx, "acme") // reads and caches the setting
	}
	var next, allowed atomic.Int64
	b.SetParallelism(4)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		l := instances[next.Add(1)%int64(len(instances))]
		for pb.Next() {
			if ok, _ := l.Allow(ctx, "acme"); ok {
				allowed.Add(1)
			}
		}
	})
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(allowed.Load())/elapsed, "allowed/s")
	b.ReportMetric(elapsed, "s")
}
