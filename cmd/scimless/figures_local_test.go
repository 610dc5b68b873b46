package main

// Figures of the local stack: the SCIM handler over the embedded engine,
// over loopback HTTP, with 8 concurrent clients and the tenant rate limit
// lifted. Not part of the default test run:
//
//	SCIMLESS_LOCAL_FIGURES=1000,100000 go test -run TestLocalFigures -v -timeout 1h ./cmd/scimless/
//	(make figures-local)
//
// For each directory size it creates the users through POST /Users, then
// measures, with the table at that size: POST /Users (2,000 more creates),
// GET /Users/{id}, PATCH /Users/{id}, GET /Users?filter=userName eq "…",
// and Okta's import walk of 1,000 users in pages of 100 (one client, as
// Okta does). It prints FIGURE lines; nothing is asserted on time.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

const figuresToken = "figures-token-0123456789"

func TestLocalFigures(t *testing.T) {
	spec := os.Getenv("SCIMLESS_LOCAL_FIGURES")
	if spec == "" {
		t.Skip("set SCIMLESS_LOCAL_FIGURES=1000,100000 (make figures-local)")
	}
	for _, f := range strings.Split(spec, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || size < 1000 {
			t.Fatalf("SCIMLESS_LOCAL_FIGURES: %q is not a size of at least 1000", f)
		}
		t.Run(fmt.Sprint("users=", size), func(t *testing.T) { localFigures(t, size) })
	}
}

type figureStack struct {
	t      *testing.T
	base   string
	client *http.Client
}

// figureHandler is the SCIM handler as `scimless dev` serves it, over an
// in-memory engine reached in-process, with one token and no rate limit.
type figureHandler struct {
	eng     *localdb.Engine
	store   *store.Store
	metrics *store.Metrics
	handler http.Handler
}

// newFigureHandler starts a figureHandler; it is torn down when tb ends.
func newFigureHandler(tb testing.TB) *figureHandler {
	tb.Helper()
	ctx := context.Background()
	eng, err := localdb.StartWith(localdb.Options{TTLSweepInterval: localdb.DefaultTTLSweepInterval})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	metrics := store.NewMetrics()
	// As scimless dev does: the SDK reaches the engine in-process.
	client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: eng.Endpoint(), Metrics: metrics, HTTPClient: eng.HTTPClient(), Unsigned: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.EnsureTable(ctx, client, table.DefaultName); err != nil {
		tb.Fatal(err)
	}
	st := store.New(client, table.DefaultName)
	if _, _, err := auth.Issue(ctx, st, auth.IssueOptions{Tenant: "default", Secret: figuresToken, Label: "figures"}); err != nil {
		tb.Fatal(err)
	}
	// As scimless dev does, with its log lines formatted (and dropped
	// rather than written to a terminal); no rate limit.
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := scim.New(scim.Config{Store: st, Auth: auth.NewAuthenticator(st, 0), Logger: logger})
	return &figureHandler{eng: eng, store: st, metrics: metrics, handler: h}
}

// createBody is the POST /Users body of userName, as Okta sends it.
func createBody(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName +
		`","name":{"givenName":"Given","familyName":"Family"},"emails":[{"value":"` + userName + `","primary":true,"type":"work"}],"active":true}`
}

func localFigures(t *testing.T, size int) {
	ls := newFigureHandler(t)
	metrics := ls.metrics
	srv := httptest.NewServer(ls.handler)
	defer srv.Close()
	fs := &figureStack{t: t, base: srv.URL + scim.Prefix, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}

	// Load the directory (the first `size` creates).
	ids := make([]string, size)
	names := make([]string, size)
	var next atomic.Int64
	loadStart := time.Now()
	fs.parallel(size, func(int) int {
		i := int(next.Add(1) - 1)
		names[i] = fmt.Sprintf("user%07d@example.com", i)
		id, code := fs.create(names[i])
		ids[i] = id
		return code
	}, http.StatusCreated)
	loadRate := float64(size) / time.Since(loadStart).Seconds()
	fmt.Printf("FIGURE local users=%d POST /Users while loading 0→%d: %.0f/s\n", size, size, loadRate)

	// POST at this size: 2,000 more.
	var extra atomic.Int64
	ph := fs.measure(2000, func(int) int {
		_, code := fs.create(fmt.Sprintf("extra%07d-%d@example.com", extra.Add(1), size))
		return code
	}, http.StatusCreated)
	fmt.Printf("FIGURE local users=%d POST /Users: %s\n", size, ph)

	ph = fs.measure(20000, func(k int) int {
		return fs.do("GET", "/Users/"+ids[rand.IntN(size)], nil)
	}, http.StatusOK)
	fmt.Printf("FIGURE local users=%d GET /Users/{id}: %s\n", size, ph)

	ph = fs.measure(5000, func(k int) int {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.givenName","value":"G` + strconv.Itoa(k) + `"}]}`
		return fs.do("PATCH", "/Users/"+ids[rand.IntN(size)], []byte(body))
	}, http.StatusOK)
	fmt.Printf("FIGURE local users=%d PATCH /Users/{id}: %s\n", size, ph)

	ph = fs.measure(10000, func(k int) int {
		return fs.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+names[rand.IntN(size)]+`"`), nil)
	}, http.StatusOK)
	fmt.Printf("FIGURE local users=%d GET /Users?filter=userName eq: %s\n", size, ph)

	var walks []time.Duration
	before := metrics.Snapshot()
	for range 7 {
		t0 := time.Now()
		for start := 1; start <= 1000; start += 100 {
			if code := fs.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil); code != http.StatusOK {
				t.Fatalf("import page %d: status %d", start, code)
			}
		}
		walks = append(walks, time.Since(t0))
	}
	slices.Sort(walks)
	cost := metrics.Snapshot().Sub(before)
	fmt.Printf("FIGURE local users=%d Okta import walk of 1,000 users in pages of 100: %s (median of 7, best %s); per walk %d DynamoDB requests, %d items read\n",
		size, walks[len(walks)/2].Round(100*time.Microsecond), walks[0].Round(100*time.Microsecond), cost.Total()/7, cost.ItemsRead/7)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("FIGURE local users=%d memory: heap in use after GC %d MiB, peak RSS of the process (engine, handler and clients) %d MiB\n",
		size, ms.HeapInuse>>20, ru.Maxrss>>10)
}

// create POSTs a user and returns its id and the status.
func (fs *figureStack) create(userName string) (string, int) {
	req, _ := http.NewRequest("POST", fs.base+"/Users", strings.NewReader(createBody(userName)))
	req.Header.Set("Authorization", "Bearer "+figuresToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := fs.client.Do(req)
	if err != nil {
		fs.t.Error(err)
		return "", 0
	}
	defer resp.Body.Close()
	var u struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&u)
	return u.ID, resp.StatusCode
}

func (fs *figureStack) do(method, path string, body []byte) int {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, fs.base+path, r)
	req.Header.Set("Authorization", "Bearer "+figuresToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := fs.client.Do(req)
	if err != nil {
		fs.t.Error(err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

const figureClients = 8

// parallel runs fn total times from 8 clients; every call must answer want.
func (fs *figureStack) parallel(total int, fn func(k int) int, want int) []time.Duration {
	var next atomic.Int64
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range figureClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= total {
					return
				}
				t0 := time.Now()
				if code := fn(k); code != want {
					if bad.Add(1) == 1 {
						fs.t.Errorf("status %d, want %d", code, want)
					}
				}
				lat[k] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		fs.t.FailNow()
	}
	return lat
}

// phase is what measure measured.
type phase struct {
	rate     float64       // requests per second
	p50, p99 time.Duration // latency
	// cpu is the process's CPU time (user and system) per request: the
	// server, the engine and the load's clients together. Unlike the rate
	// it hardly moves when other processes share the machine.
	cpu time.Duration
}

func (ph phase) String() string {
	return fmt.Sprintf("%.0f/s (p50 %s, p99 %s; %s of CPU per request)", ph.rate, ph.p50, ph.p99, ph.cpu)
}

// measure returns the rate, the median and 99th percentile latency and the
// CPU time per call of total calls of fn from 8 clients.
func (fs *figureStack) measure(total int, fn func(k int) int, want int) phase {
	cpu0 := processCPU()
	t0 := time.Now()
	lat := fs.parallel(total, fn, want)
	rate := float64(total) / time.Since(t0).Seconds()
	cpu := (processCPU() - cpu0) / time.Duration(total)
	slices.Sort(lat)
	return phase{rate: rate, p50: lat[len(lat)/2].Round(time.Microsecond), p99: lat[len(lat)*99/100].Round(time.Microsecond), cpu: cpu.Round(time.Microsecond)}
}

// processCPU returns the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
