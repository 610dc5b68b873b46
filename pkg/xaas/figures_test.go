package xaas

// The issue's figures, against the fake Okta with its 5-minute gap on a
// simulated clock. They are not part of the default test run:
//
//	SCIMLESS_XAAS_FIGURES=100000 go test -run TestFigures -v -timeout 2h ./pkg/xaas/
//	(make figures-xaas)
//
// The embedded DynamoDB-compatible engine and the fake Okta run in a child
// process (this test binary in server mode), so that the peak memory
// measured here is the ingest's and the sync's own, not that of 100,000
// items held by the engine and the fake.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

const figuresServerEnv = "SCIMLESS_XAAS_FIGURES_SERVER"

// TestFiguresServer is the child process: the engine and the fake Okta,
// whose clock the parent sets with POST /__clock?t=UnixNano. It prints
// {"dynamodb": URL, "okta": URL} and serves until stdin closes.
func TestFiguresServer(t *testing.T) {
	if os.Getenv(figuresServerEnv) != "1" {
		t.Skip("child process of TestFigures")
	}
	eng, err := localdb.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	clock := oktafake.NewClock(time.Unix(0, 0))
	fake := oktafake.New(oktafake.Options{Now: clock.Now, RecordLimit: 1})
	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__clock", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("t"), 10, 64)
		clock.Set(time.Unix(0, n))
	})
	mux.HandleFunc("GET /__stats", func(w http.ResponseWriter, r *http.Request) {
		users := fake.Users()
		active := 0
		for _, u := range users {
			if u.Active {
				active++
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"users": len(users), "active": active,
			"sessions": len(fake.Sessions(oktafake.DefaultIdentitySource)), "requests": requests.Load()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fake.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"dynamodb": eng.Endpoint(), "okta": srv.URL})
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// remoteClock is the parent's clock, mirrored into the child's fake Okta.
type remoteClock struct {
	local *oktafake.Clock
	url   string
}

func (c *remoteClock) Now() time.Time { return c.local.Now() }

func (c *remoteClock) Set(t time.Time) {
	c.local.Set(t)
	resp, err := http.Post(c.url+"/__clock?t="+strconv.FormatInt(t.UnixNano(), 10), "text/plain", nil)
	if err == nil {
		resp.Body.Close()
	}
}

func (c *remoteClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Set(c.Now().Add(d))
	return nil
}

// peakMeter samples the live heap while running.
type peakMeter struct {
	stop      chan struct{}
	done      sync.WaitGroup
	peak      atomic.Uint64
	peakTotal atomic.Uint64
}

func startPeak() *peakMeter {
	runtime.GC()
	p := &peakMeter{stop: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > p.peak.Load() {
				p.peak.Store(v)
			}
			if v := samples[1].Value.Uint64(); v > p.peakTotal.Load() {
				p.peakTotal.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakMeter) end() (heapMB, totalMB float64) {
	close(p.stop)
	p.done.Wait()
	return float64(p.peak.Load()) / (1 << 20), float64(p.peakTotal.Load()) / (1 << 20)
}

func TestFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SCIMLESS_XAAS_FIGURES"))
	if n <= 0 {
		t.Skip("set SCIMLESS_XAAS_FIGURES=100000 (make figures-xaas)")
	}
	ctx := context.Background()
	child := exec.Command(os.Args[0], "-test.run=^TestFiguresServer$", "-test.v=false")
	child.Env = append(os.Environ(), figuresServerEnv+"=1")
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	var eps map[string]string
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&eps); err != nil {
		t.Fatal(err)
	}

	metricsDB := store.NewMetrics()
	// Unsigned, as scimless dev reaches its engine (which checks no signature).
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eps["dynamodb"], Metrics: metricsDB, Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, client, table.DefaultName); err != nil {
		t.Fatal(err)
	}
	clock := &remoteClock{local: oktafake.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)), url: eps["okta"]}
	clock.Set(clock.Now())
	st := store.New(client, table.DefaultName, store.WithClock(clock.Now))
	oc, err := okta.New(eps["okta"], okta.APIToken(oktafake.DefaultAPIToken), okta.WithClock(clock.Now), okta.WithSleep(clock.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	api := &countingAPI{OktaAPI: oc}
	logger := slog.New(slog.DiscardHandler)
	engine := NewEngine(EngineConfig{Store: st, Resolver: StaticResolver{T: Target{API: api, SourceID: oktafake.DefaultIdentitySource}},
		Logger: logger, Now: clock.Now})
	srv := NewServer(Config{Store: st, Auth: auth.NewAuthenticator(st, 0), Engine: engine, Logger: logger, Now: clock.Now,
		RequestTimeout: -1, MaxBulkBytes: 1 << 40})
	if _, _, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: testTenant, Secret: testToken}); err != nil {
		t.Fatal(err)
	}
	stats := func() map[string]float64 {
		resp, err := http.Get(eps["okta"] + "/__stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]float64
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}

	// 1. Bulk ingest of an n-row CSV, streamed from a generator.
	pr, pw := io.Pipe()
	go func() { genCSV(pw, n, ""); pw.Close() }()
	req := httptest.NewRequest("POST", Prefix+"/users:bulk", pr)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	m0 := metricsDB.Snapshot()
	peak := startPeak()
	start := time.Now()
	srv.ServeHTTP(rec, req)
	ingestWall := time.Since(start)
	heap, total := peak.end()
	res := decode[BulkResult](t, rec)
	dm := metricsDB.Snapshot().Sub(m0)
	if res.Created != n {
		t.Fatalf("ingest: %+v", res)
	}
	t.Logf("FIGURE bulk ingest of a %d-row CSV: %.0f rows/s (%s), peak Go heap %.1f MB (runtime total %.1f MB), DynamoDB %d requests, %d items read, %d written",
		n, float64(n)/ingestWall.Seconds(), ingestWall.Round(time.Millisecond), heap, total, dm.Total(), dm.ItemsRead, dm.ItemsWritten)

	// 1b. The same ingest on the local stack as `scimless dev` runs it: the
	// engine in the same process, reached without a socket.
	localIngest(t, n)

	// 2. The first push of n users.
	syncRun := func(label string) {
		api.reset()
		m0 := metricsDB.Snapshot()
		simStart := clock.Now()
		peak := startPeak()
		start := time.Now()
		id, err := engine.StartRun(ctx, testTenant, TriggerAPI)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			rep, err := engine.Tick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Active == 0 {
				break
			}
			if !rep.NextWake.IsZero() && rep.NextWake.After(clock.Now()) {
				clock.Set(rep.NextWake)
			}
			if i > 100000 {
				t.Fatal("no end")
			}
		}
		wall := time.Since(start)
		heap, total := peak.end()
		dm := metricsDB.Snapshot().Sub(m0)
		d, _ := GetRun(ctx, st, testTenant, id)
		uploads := api.get("UpsertUsers") + api.get("DeactivateUsers") + api.get("UpsertGroups") + api.get("DeleteGroups") +
			api.get("UpsertGroupMemberships") + api.get("DeleteGroupMemberships")
		t.Logf("FIGURE %s: state %s, %d upserted, %d sessions; Okta calls %d (%d uploads + %d session calls: %v); DynamoDB items read %d (%d requests, %d items written); peak Go heap %.1f MB (runtime total %.1f MB); wall %s, simulated %s",
			label, d.Status.State, d.Status.Counts.Upserted, len(d.Status.Sessions), api.total(), uploads, api.total()-uploads, api.calls,
			dm.ItemsRead, dm.Total(), dm.ItemsWritten, heap, total, wall.Round(time.Millisecond), clock.Now().Sub(simStart).Round(time.Second))
		if d.Status.State != store.RunSucceeded {
			t.Fatalf("%s: %+v", label, d.Status)
		}
	}
	syncRun(fmt.Sprintf("first push of %d users", n))
	if s := stats(); int(s["active"]) != n {
		t.Fatalf("okta has %v", s)
	}

	// 3. 100 changed of n.
	clock.Set(clock.Now().Add(10 * time.Minute))
	for i := 0; i < 100; i++ {
		id := userID(i * (n / 100))
		rec := httptest.NewRecorder()
		body := fmt.Sprintf(`{"email":%q,"first_name":"Changed","last_name":"User"}`, id)
		req := httptest.NewRequest("PUT", Prefix+"/users/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
	}
	syncRun(fmt.Sprintf("100 changed of %d", n))
}

// localIngest measures the bulk ingest of an n-row CSV with the engine in
// this process, reached as `scimless dev` reaches it (in-process, unsigned).
func localIngest(t *testing.T, n int) {
	ctx := context.Background()
	eng, err := localdb.Open(localdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	metrics := store.NewMetrics()
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: "http://embedded.invalid", Metrics: metrics,
		HTTPClient: &http.Client{Transport: eng.RoundTripper()}, Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, client, table.DefaultName); err != nil {
		t.Fatal(err)
	}
	st := store.New(client, table.DefaultName)
	if _, _, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: testTenant, Secret: testToken}); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Store: st, Auth: auth.NewAuthenticator(st, 0), Logger: slog.New(slog.DiscardHandler),
		RequestTimeout: -1, MaxBulkBytes: 1 << 40})
	pr, pw := io.Pipe()
	go func() { genCSV(pw, n, ""); pw.Close() }()
	req := httptest.NewRequest("POST", Prefix+"/users:bulk", pr)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	start := time.Now()
	srv.ServeHTTP(rec, req)
	wall := time.Since(start)
	if res := decode[BulkResult](t, rec); res.Created != n {
		t.Fatalf("local ingest: %+v", res)
	}
	t.Logf("FIGURE bulk ingest of a %d-row CSV on the local stack (engine in-process, as scimless dev): %.0f rows/s (%s), DynamoDB %d requests",
		n, float64(n)/wall.Seconds(), wall.Round(time.Millisecond), metrics.Snapshot().Total())
}
