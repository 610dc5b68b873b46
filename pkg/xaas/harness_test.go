package xaas

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/syncbuf"
	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

// testToken is the bearer token of tenant testTenant in a harness.
const (
	testToken  = "xaas-test-token"
	testTenant = "acme"
)

// harness is a store on the embedded engine, a fake Okta on a settable
// clock, an engine and the HTTP server, wired as the local run wires them.
type harness struct {
	t      testing.TB
	env    *storetest.Env
	st     *store.Store
	clock  *oktafake.Clock
	fake   *oktafake.Server
	fsrv   *httptest.Server
	api    *countingAPI
	engine *Engine
	srv    *Server
	logs   *syncbuf.Buffer
}

type harnessOpts struct {
	fake    oktafake.Options
	limits  Limits
	after   func(ctx context.Context, tenant string, session, upload int) error
	afterCP func(ctx context.Context, tenant string, session, uploads int) error
	owner   string
	retry   okta.RetryPolicy
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, clock: oktafake.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)), logs: &syncbuf.Buffer{}}
	h.env = storetest.New(t, store.WithClock(h.clock.Now))
	h.st = h.env.Store
	o.fake.Now = h.clock.Now
	if o.fake.RecordLimit == 0 {
		o.fake.RecordLimit = 100000
	}
	h.fake = oktafake.New(o.fake)
	h.fsrv = httptest.NewServer(h.fake)
	t.Cleanup(h.fsrv.Close)
	retry := o.retry
	if retry.BaseDelay == 0 {
		retry.BaseDelay = 10 * time.Millisecond
	}
	client, err := okta.New(h.fsrv.URL, okta.APIToken(oktafake.DefaultAPIToken),
		okta.WithHTTPClient(h.fsrv.Client()), okta.WithClock(h.clock.Now), okta.WithSleep(h.clock.Sleep),
		okta.WithJitter(func(d time.Duration) time.Duration { return d / 2 }), okta.WithRetryPolicy(retry))
	if err != nil {
		t.Fatal(err)
	}
	h.api = &countingAPI{OktaAPI: client}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.engine = NewEngine(EngineConfig{Store: h.st, Resolver: StaticResolver{T: Target{API: h.api, SourceID: oktafake.DefaultIdentitySource}},
		Logger: logger, Now: h.clock.Now, Limits: o.limits, AfterUpload: o.after, AfterCheckpoint: o.afterCP, Owner: "worker-a"})
	h.srv = NewServer(Config{Store: h.st, Auth: auth.NewAuthenticator(h.st, 0), Engine: h.engine, Logger: logger,
		Now: h.clock.Now, RequestTimeout: -1, MaxBulkBytes: 64 << 20})
	ctx := context.Background()
	if _, _, err := auth.Issue(ctx, h.st, auth.IssueOptions{Tenant: testTenant, Secret: testToken, Label: "test"}); err != nil {
		t.Fatal(err)
	}
	return h
}

// do sends a request to the XaaS server as the test tenant.
func (h *harness) do(method, path, contentType string, body io.Reader) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return rec
}

func (h *harness) doJSON(method, path string, v any) *httptest.ResponseRecorder {
	h.t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	return h.do(method, path, "application/json", body)
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %d %s: %v", rec.Code, rec.Body.String(), err)
	}
	return v
}

// drive ticks the engine, moving the clock to each next wake, until no run
// is active (or maxTicks).
func (h *harness) drive(ctx context.Context, maxTicks int) int {
	h.t.Helper()
	for i := 0; i < maxTicks; i++ {
		rep, err := h.engine.Tick(ctx)
		if err != nil {
			h.t.Fatalf("tick: %v", err)
		}
		if rep.Active == 0 && len(rep.Started) == 0 {
			return i + 1
		}
		if !rep.NextWake.IsZero() && rep.NextWake.After(h.clock.Now()) {
			h.clock.Set(rep.NextWake)
		}
	}
	h.t.Fatalf("the sync did not finish in %d ticks; logs:\n%s", maxTicks, tail(h.logs.String(), 4000))
	return maxTicks
}

// sync queues a run and drives it to its end; it returns the run.
func (h *harness) sync(ctx context.Context) *RunDetail {
	h.t.Helper()
	id, err := h.engine.StartRun(ctx, testTenant, TriggerAPI)
	if err != nil {
		h.t.Fatalf("start run: %v", err)
	}
	h.drive(ctx, 10000)
	d, err := GetRun(ctx, h.st, testTenant, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// countingAPI counts Okta calls by method and can fail chosen calls.
type countingAPI struct {
	OktaAPI
	mu    sync.Mutex
	calls map[string]int
	fail  func(method string, n int) error
}

func (c *countingAPI) count(method string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
	if c.fail != nil {
		return c.fail(method, c.calls[method])
	}
	return nil
}

func (c *countingAPI) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func (c *countingAPI) reset() {
	c.mu.Lock()
	c.calls = map[string]int{}
	c.mu.Unlock()
}

func (c *countingAPI) get(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[m]
}

func (c *countingAPI) ListSessions(ctx context.Context, src string) ([]okta.Session, error) {
	if err := c.count("ListSessions"); err != nil {
		return nil, err
	}
	return c.OktaAPI.ListSessions(ctx, src)
}

func (c *countingAPI) CreateSession(ctx context.Context, src string) (*okta.Session, error) {
	if err := c.count("CreateSession"); err != nil {
		return nil, err
	}
	return c.OktaAPI.CreateSession(ctx, src)
}

func (c *countingAPI) GetSession(ctx context.Context, src, id string) (*okta.Session, error) {
	if err := c.count("GetSession"); err != nil {
		return nil, err
	}
	return c.OktaAPI.GetSession(ctx, src, id)
}

func (c *countingAPI) CancelSession(ctx context.Context, src, id string) error {
	if err := c.count("CancelSession"); err != nil {
		return err
	}
	return c.OktaAPI.CancelSession(ctx, src, id)
}

func (c *countingAPI) StartImport(ctx context.Context, src, id string) (*okta.Session, error) {
	if err := c.count("StartImport"); err != nil {
		return nil, err
	}
	return c.OktaAPI.StartImport(ctx, src, id)
}

func (c *countingAPI) UpsertUsers(ctx context.Context, src, id string, u []okta.User) error {
	if err := c.count("UpsertUsers"); err != nil {
		return err
	}
	return c.OktaAPI.UpsertUsers(ctx, src, id, u)
}

func (c *countingAPI) DeactivateUsers(ctx context.Context, src, id string, ids []string) error {
	if err := c.count("DeactivateUsers"); err != nil {
		return err
	}
	return c.OktaAPI.DeactivateUsers(ctx, src, id, ids)
}

func (c *countingAPI) UpsertGroups(ctx context.Context, src, id string, g []okta.Group) error {
	if err := c.count("UpsertGroups"); err != nil {
		return err
	}
	return c.OktaAPI.UpsertGroups(ctx, src, id, g)
}

func (c *countingAPI) DeleteGroups(ctx context.Context, src, id string, ids []string) error {
	if err := c.count("DeleteGroups"); err != nil {
		return err
	}
	return c.OktaAPI.DeleteGroups(ctx, src, id, ids)
}

func (c *countingAPI) UpsertGroupMemberships(ctx context.Context, src, id string, m []okta.Membership) error {
	if err := c.count("UpsertGroupMemberships"); err != nil {
		return err
	}
	return c.OktaAPI.UpsertGroupMemberships(ctx, src, id, m)
}

func (c *countingAPI) DeleteGroupMemberships(ctx context.Context, src, id string, m []okta.Membership) error {
	if err := c.count("DeleteGroupMemberships"); err != nil {
		return err
	}
	return c.OktaAPI.DeleteGroupMemberships(ctx, src, id, m)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// genCSV writes n users of the sample items API's shape: user i has id u{i:06}@….
func genCSV(w io.Writer, n int, variant string) {
	io.WriteString(w, "id,active,title,first_name,last_name,street_number,street_name,city,state,country,postcode,email,phone,cell,dob\n")
	var b strings.Builder
	for i := range n {
		b.Reset()
		id := userID(i)
		b.WriteString(id)
		b.WriteString(",true,Mx,First")
		b.WriteString(itoa6(i))
		b.WriteString(",Last")
		b.WriteString(variant)
		b.WriteString(",12,Main Street,Springfield,State,US,12345,")
		b.WriteString(id)
		b.WriteString(",555-0100,555-0101,1990-01-01T00:00:00.000Z\n")
		io.WriteString(w, b.String())
	}
}

func userID(i int) string { return "u" + itoa6(i) + "@example.com" }

func itoa6(i int) string {
	s := []byte("000000")
	for p := 5; p >= 0 && i > 0; p-- {
		s[p] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}
