package okta_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

const (
	sourceID = oktafake.DefaultIdentitySource
	apiToken = "ssws-test-token-0123456789"
	clientID = "0oaTESTSERVICEAPP"
	keyID    = "test-kid-1"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var otherKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// start is the fake clock's start: 10 s into a minute, so that a
// one-minute rate-limit window resets 50 s later.
var start = time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)

// env is a fake Okta behind httptest and a client pointed at it; both use
// the same fake clock, and the client's sleeps advance it.
type env struct {
	t      *testing.T
	clock  *oktafake.Clock
	fake   *oktafake.Server
	srv    *httptest.Server
	client *okta.Client

	mu     sync.Mutex
	sleeps []time.Duration
}

type authKind int

const (
	useSSWS authKind = iota
	useJWT
)

func (k authKind) String() string { return [...]string{"SSWS", "JWT"}[k] }

func newEnv(t *testing.T, auth authKind, opts oktafake.Options, clientOpts ...okta.Option) *env {
	t.Helper()
	e := &env{t: t, clock: oktafake.NewClock(start)}
	opts.Now = e.clock.Now
	opts.APITokens = append(opts.APITokens, apiToken)
	opts.OAuthClients = append(opts.OAuthClients, oktafake.OAuthClient{
		ClientID: clientID, PublicKey: &testKey().PublicKey, KeyID: keyID,
	})
	e.fake = oktafake.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	var cred okta.Credentials = okta.APIToken(apiToken)
	if auth == useJWT {
		cred = okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: testKey()}
	}
	all := append([]okta.Option{
		okta.WithHTTPClient(e.srv.Client()),
		okta.WithClock(e.clock.Now),
		okta.WithSleep(e.sleep),
		okta.WithJitter(func(max time.Duration) time.Duration { return max }),
	}, clientOpts...)
	c, err := okta.New(e.srv.URL, cred, all...)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	return e.clock.Sleep(ctx, d)
}

func (e *env) slept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// calls returns "METHOD /last/path/segments STATUS" for each request.
func (e *env) calls() []string {
	var out []string
	for _, r := range e.fake.Requests() {
		p := strings.TrimPrefix(r.Path, "/api/v1/identity-sources/"+sourceID)
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, p, r.Status))
	}
	return out
}

func users(n int, prefix string) []okta.User {
	out := make([]okta.User, n)
	for i := range out {
		id := fmt.Sprintf("%s%05d@example.com", prefix, i)
		out[i] = okta.User{ExternalID: id, Profile: okta.UserProfile{
			UserName: id, Email: id, FirstName: "First", LastName: fmt.Sprint("Last", i),
			Custom: map[string]string{"title": "Engineer", "zipCode": "94105", "empty": ""},
		}}
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func apiError(t *testing.T, err error) *okta.APIError {
	t.Helper()
	var ae *okta.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *okta.APIError", err, err)
	}
	return ae
}

func TestSessionLifecycle(t *testing.T) {
	for _, tc := range []struct {
		auth authKind
		opts oktafake.Options
		name string
	}{
		{useSSWS, oktafake.Options{ImportPolls: 2}, "ssws"},
		{useJWT, oktafake.Options{ImportPolls: 2}, "jwt"},
		{useSSWS, oktafake.Options{ImportDelay: 3 * time.Minute}, "import-delay"},
		{useSSWS, oktafake.Options{LegacyStates: true}, "legacy-states"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.auth, tc.opts)
			c, ctx := e.client, ctx(t)

			list, err := c.ListSessions(ctx, sourceID)
			if err != nil || len(list) != 0 {
				t.Fatalf("ListSessions = %v, %v; want empty", list, err)
			}
			s, err := c.CreateSession(ctx, sourceID)
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != okta.StatusCreated || s.IdentitySourceID != sourceID || s.ImportType != "INCREMENTAL" ||
				!s.Created.Equal(start) || s.LastUpdated.IsZero() {
				t.Fatalf("created session = %+v", s)
			}
			all := users(250, "u")
			for i := 0; i < len(all); i += okta.MaxBatchSize {
				if err := c.UpsertUsers(ctx, sourceID, s.ID, all[i:min(i+okta.MaxBatchSize, len(all))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.DeactivateUsers(ctx, sourceID, s.ID, []string{all[0].ExternalID, "unknown@example.com"}); err != nil {
				t.Fatal(err)
			}
			if err := c.UpsertGroups(ctx, sourceID, s.ID, []okta.Group{
				{ExternalID: "g1", DisplayName: "Engineering", Description: "All engineers"},
				{ExternalID: "g2", DisplayName: "Sales"},
			}); err != nil {
				t.Fatal(err)
			}
			if err := c.UpsertGroupMemberships(ctx, sourceID, s.ID, []okta.Membership{
				{GroupExternalID: "g1", MemberExternalIDs: []string{all[1].ExternalID, all[2].ExternalID}},
			}); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetSession(ctx, sourceID, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := okta.StatusInProgress
			if tc.opts.LegacyStates {
				wantStatus = okta.StatusCreated
			}
			if got.Status != wantStatus {
				t.Fatalf("after uploads status = %s, want %s", got.Status, wantStatus)
			}
			trig, err := c.StartImport(ctx, sourceID, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if trig.Status != okta.StatusTriggered || trig.ID != s.ID {
				t.Fatalf("StartImport = %+v", trig)
			}
			done, err := c.WaitForImport(ctx, sourceID, s.ID, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if done.Status != okta.StatusCompleted {
				t.Fatalf("WaitForImport status = %s", done.Status)
			}

			// What Okta now has.
			u := e.fake.Users()
			if len(u) != 250 {
				t.Fatalf("imported %d users, want 250", len(u))
			}
			if u[all[0].ExternalID].Active || !u[all[1].ExternalID].Active {
				t.Errorf("user 0 should be deactivated and user 1 active: %+v %+v", u[all[0].ExternalID], u[all[1].ExternalID])
			}
			p := u[all[7].ExternalID].Profile
			if p["lastName"] != "Last7" || p["title"] != "Engineer" || p["zipCode"] != "94105" {
				t.Errorf("profile = %v", p)
			}
			if _, ok := p["empty"]; ok {
				t.Errorf("empty attribute was sent: %v", p)
			}
			g := e.fake.Groups()
			if len(g) != 2 || g["g1"].DisplayName != "Engineering" || g["g1"].Description != "All engineers" ||
				strings.Join(g["g1"].Members, ",") != all[1].ExternalID+","+all[2].ExternalID {
				t.Errorf("groups = %+v", g)
			}

			// Order of calls and batch sizes.
			var ops []string
			for _, r := range e.fake.Requests() {
				if r.Path == "/oauth2/v1/token" {
					if tc.auth != useJWT {
						t.Errorf("token request with SSWS auth")
					}
					continue
				}
				wantAuth := "SSWS " + apiToken
				if tc.auth == useJWT {
					wantAuth = "Bearer "
				}
				if !strings.HasPrefix(r.Header.Get("Authorization"), wantAuth) {
					t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
				}
				if r.Status >= 300 {
					t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
				}
				op := r.Path[strings.LastIndexByte(r.Path, '/')+1:]
				ops = append(ops, r.Method+" "+op)
				if strings.HasPrefix(op, "bulk-") {
					var body struct {
						Profiles    []json.RawMessage `json:"profiles"`
						Memberships []json.RawMessage `json:"memberships"`
					}
					if err := json.Unmarshal(r.Body, &body); err != nil {
						t.Fatal(err)
					}
					if n := len(body.Profiles) + len(body.Memberships); n == 0 || n > 200 {
						t.Errorf("%s carried %d entities", op, n)
					}
					if r.Header.Get("Content-Type") != "application/json" {
						t.Errorf("%s Content-Type %q", op, r.Header.Get("Content-Type"))
					}
				}
			}
			polls := strings.Repeat("GET "+s.ID+" ", max(tc.opts.ImportPolls+1, 1))
			if tc.opts.ImportDelay > 0 {
				polls = strings.Repeat("GET "+s.ID+" ", 4) // 0, 1, 2, 3 minutes
			}
			want := "GET sessions POST sessions POST bulk-upsert POST bulk-upsert POST bulk-delete " +
				"POST bulk-groups-upsert POST bulk-group-memberships-upsert GET " + s.ID + " POST start-import " + polls
			if got := strings.Join(ops, " ") + " "; got != want {
				t.Errorf("calls:\n got %s\nwant %s", got, want)
			}

			// The finished session is no longer listed as active.
			list, err = c.ListSessions(ctx, sourceID)
			if err != nil || len(list) != 0 {
				t.Errorf("ListSessions after import = %v, %v", list, err)
			}
		})
	}
}

func TestCancelStaleSessions(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{ListAll: true})
	c, ctx := e.client, ctx(t)
	// A finished session and a stale one in progress.
	s1, err := c.CreateSession(ctx, sourceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CancelSession(ctx, sourceID, s1.ID); err != nil {
		t.Fatal(err)
	}
	s2, err := c.CreateSession(ctx, sourceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertUsers(ctx, sourceID, s2.ID, users(3, "stale")); err != nil {
		t.Fatal(err)
	}
	// The sync's first step: list, cancel what is active and cancellable.
	list, err := c.ListSessions(ctx, sourceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Status != okta.StatusClosed || list[1].Status != okta.StatusInProgress {
		t.Fatalf("ListSessions = %+v", list)
	}
	for _, s := range list {
		if s.Status.Active() && s.Status.Cancellable() {
			if err := c.CancelSession(ctx, sourceID, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s, _ := e.fake.Session(s2.ID); s.Status != oktafake.StatusClosed {
		t.Fatalf("stale session status %s", s.Status)
	}
	// Not triggered, so no 5-minute gap.
	if _, err := c.CreateSession(ctx, sourceID); err != nil {
		t.Fatal(err)
	}
	if len(e.fake.Users()) != 0 {
		t.Error("a cancelled session's users were imported")
	}
}

func TestSessionGapAndExpiry(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{})
	c, ctx := e.client, ctx(t)
	s, _ := c.CreateSession(ctx, sourceID)
	if err := c.UpsertUsers(ctx, sourceID, s.ID, users(1, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartImport(ctx, sourceID, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForImport(ctx, sourceID, s.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetRequests()
	_, err := c.CreateSession(ctx, sourceID)
	if ae := apiError(t, err); ae.StatusCode != 400 || ae.ErrorCode != okta.CodeValidation || ae.Attempts != 1 {
		t.Fatalf("create within the gap: %v", err)
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Fatalf("a 400 was retried: %d requests", n)
	}
	e.clock.Advance(okta.MinSessionGap)
	s2, err := c.CreateSession(ctx, sourceID)
	if err != nil {
		t.Fatalf("create after the gap: %v", err)
	}
	// An untouched session expires after 24 h and stops blocking.
	e.clock.Advance(okta.SessionIdleExpiry + time.Second)
	got, err := c.GetSession(ctx, sourceID, s2.ID)
	if err != nil || got.Status != okta.StatusExpired || got.Status.Active() {
		t.Fatalf("after 24 h: %+v, %v", got, err)
	}
	if _, err := c.CreateSession(ctx, sourceID); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      oktafake.Options
		throttle  int
		calls     int
		policy    okta.RetryPolicy
		wantErr   bool
		wantSleep []time.Duration
	}{
		{name: "one 429 then success", throttle: 1, calls: 1, wantSleep: []time.Duration{50 * time.Second}},
		{name: "two 429s", throttle: 2, calls: 1, wantSleep: []time.Duration{50 * time.Second, 60 * time.Second}},
		{name: "budget of 3 per minute", opts: oktafake.Options{RateLimit: 3}, calls: 7,
			wantSleep: []time.Duration{50 * time.Second, 60 * time.Second}},
		{name: "reset too far away", throttle: 1, calls: 1, wantErr: true,
			policy: okta.RetryPolicy{MaxRateLimitWait: 10 * time.Second}},
		{name: "attempts run out", throttle: 5, calls: 1, wantErr: true, policy: okta.RetryPolicy{MaxAttempts: 3},
			wantSleep: []time.Duration{50 * time.Second, 60 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, tc.opts, okta.WithRetryPolicy(tc.policy))
			e.fake.ThrottleNext(tc.throttle)
			var err error
			for range tc.calls {
				if _, err = e.client.ListSessions(ctx(t), sourceID); err != nil {
					break
				}
			}
			if tc.wantErr {
				ae := apiError(t, err)
				if ae.StatusCode != 429 || ae.ErrorCode != okta.CodeRateLimited || ae.RateLimitReset.IsZero() || !ae.Temporary() {
					t.Fatalf("err = %#v", ae)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := e.slept(); fmt.Sprint(got) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("slept %v, want %v", got, tc.wantSleep)
			}
			// Every retry after a 429 came at or after the reset.
			var reset time.Time
			for _, r := range e.fake.Requests() {
				if !reset.IsZero() && r.Time.Before(reset) {
					t.Errorf("request at %v before the reset %v", r.Time, reset)
				}
				reset = time.Time{}
				if r.Status == 429 {
					reset = r.Time.Truncate(time.Minute).Add(time.Minute)
				}
			}
		})
	}
}

func TestServerErrorRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      int
		status    int
		policy    okta.RetryPolicy
		wantErr   int
		wantSleep []time.Duration
	}{
		{name: "503 twice", fail: 2, status: 503, wantSleep: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "500 once", fail: 1, status: 500, wantSleep: []time.Duration{500 * time.Millisecond}},
		{name: "502 until attempts run out", fail: 10, status: 502, policy: okta.RetryPolicy{MaxAttempts: 3},
			wantErr: 502, wantSleep: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "backoff is capped", fail: 5, status: 504,
			policy:    okta.RetryPolicy{BaseDelay: time.Second, MaxDelay: 3 * time.Second},
			wantSleep: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, oktafake.Options{}, okta.WithRetryPolicy(tc.policy))
			s, err := e.client.CreateSession(ctx(t), sourceID)
			if err != nil {
				t.Fatal(err)
			}
			e.fake.FailNext(tc.fail, tc.status)
			err = e.client.UpsertUsers(ctx(t), sourceID, s.ID, users(2, "x"))
			if tc.wantErr != 0 {
				if ae := apiError(t, err); ae.StatusCode != tc.wantErr || ae.Attempts != tc.policy.MaxAttempts {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := e.slept(); fmt.Sprint(got) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("slept %v, want %v", got, tc.wantSleep)
			}
			reqs := e.fake.Requests()[1:] // after the create
			for i, r := range reqs {
				count, retryFor := r.Header.Get("X-Okta-Retry-Count"), r.Header.Get("X-Okta-Retry-For")
				if i == 0 && (count != "" || retryFor != "") ||
					i > 0 && (count != fmt.Sprint(i) || retryFor == "" || retryFor == r.Header.Get("X-Okta-Request-Id")) {
					t.Errorf("attempt %d: X-Okta-Retry-Count %q, X-Okta-Retry-For %q", i+1, count, retryFor)
				}
			}
		})
	}
}

// flakyDoer fails the first n requests with a connection error, or by
// blocking until the attempt's context ends (a timeout).
type flakyDoer struct {
	mu      sync.Mutex
	n       int
	timeout bool
	next    okta.HTTPDoer
	calls   int
}

func (d *flakyDoer) Do(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.calls++
	fail := d.calls <= d.n
	d.mu.Unlock()
	if !fail {
		return d.next.Do(r)
	}
	if d.timeout {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return nil, errors.New("dial tcp 192.0.2.1:443: connect: connection refused")
}

func TestTransportErrorRetries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    int
		timeout bool
		policy  okta.RetryPolicy
		wantErr bool
	}{
		{name: "connection refused twice", fail: 2},
		{name: "attempt timeout", fail: 1, timeout: true,
			policy: okta.RetryPolicy{AttemptTimeout: 20 * time.Millisecond}},
		{name: "connection refused always", fail: 100, policy: okta.RetryPolicy{MaxAttempts: 4}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, oktafake.Options{})
			d := &flakyDoer{n: tc.fail, timeout: tc.timeout, next: e.srv.Client()}
			c, err := okta.New(e.srv.URL, okta.APIToken(apiToken), okta.WithHTTPClient(d),
				okta.WithSleep(e.sleep), okta.WithRetryPolicy(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListSessions(ctx(t), sourceID)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "giving up after 4 attempts") || d.calls != 4 {
					t.Fatalf("err = %v after %d calls", err, d.calls)
				}
				if strings.Contains(err.Error(), apiToken) {
					t.Fatal("error contains the API token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.calls != d.n+1 {
				t.Errorf("%d calls, want %d", d.calls, d.n+1)
			}
		})
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{})
	e.fake.FailNext(100, 503)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := okta.New(e.srv.URL, okta.APIToken(apiToken), okta.WithHTTPClient(e.srv.Client()),
		okta.WithSleep(func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSessions(ctx, sourceID)
	if !errors.Is(err, context.Canceled) || apiError(t, err).StatusCode != 503 {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Errorf("%d requests after cancel", n)
	}
}

func TestClientErrors(t *testing.T) {
	type step func(c *okta.Client, ctx context.Context, sess string) error
	for _, tc := range []struct {
		name       string
		opts       oktafake.Options
		token      string
		run        step
		wantStatus int
		wantCode   string
	}{
		{name: "bad API token", token: "wrong-token", wantStatus: 401, wantCode: okta.CodeUnauthorized,
			run: func(c *okta.Client, ctx context.Context, _ string) error {
				_, err := c.ListSessions(ctx, sourceID)
				return err
			}},
		{name: "unknown identity source", wantStatus: 404, wantCode: okta.CodeNotFound,
			run: func(c *okta.Client, ctx context.Context, _ string) error {
				_, err := c.CreateSession(ctx, "0oaNOPE")
				return err
			}},
		{name: "unknown session", wantStatus: 404, wantCode: okta.CodeNotFound,
			run: func(c *okta.Client, ctx context.Context, _ string) error {
				_, err := c.GetSession(ctx, sourceID, "uisNOPE")
				return err
			}},
		{name: "unknown session, older behaviour", opts: oktafake.Options{UnknownSessionStatus: 400},
			wantStatus: 400, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, _ string) error {
				return c.UpsertUsers(ctx, sourceID, "uisNOPE", users(1, "a"))
			}},
		{name: "second active session", wantStatus: 400, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, _ string) error {
				_, err := c.CreateSession(ctx, sourceID)
				return err
			}},
		{name: "start import without data", wantStatus: 400, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				_, err := c.StartImport(ctx, sourceID, s)
				return err
			}},
		{name: "cancel a triggered session", wantStatus: 400, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				if err := c.UpsertUsers(ctx, sourceID, s, users(1, "a")); err != nil {
					return err
				}
				if _, err := c.StartImport(ctx, sourceID, s); err != nil {
					return err
				}
				return c.CancelSession(ctx, sourceID, s)
			}},
		{name: "upload after trigger", opts: oktafake.Options{ImportPolls: 5}, wantStatus: 400, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				if err := c.UpsertUsers(ctx, sourceID, s, users(1, "a")); err != nil {
					return err
				}
				if _, err := c.StartImport(ctx, sourceID, s); err != nil {
					return err
				}
				return c.DeactivateUsers(ctx, sourceID, s, []string{"a"})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, tc.opts)
			s, err := e.client.CreateSession(ctx(t), sourceID)
			if err != nil {
				t.Fatal(err)
			}
			c := e.client
			if tc.token != "" {
				c, _ = okta.New(e.srv.URL, okta.APIToken(tc.token), okta.WithHTTPClient(e.srv.Client()), okta.WithSleep(e.sleep))
			}
			e.fake.ResetRequests()
			err = tc.run(c, ctx(t), s.ID)
			ae := apiError(t, err)
			if ae.StatusCode != tc.wantStatus || ae.ErrorCode != tc.wantCode || ae.ErrorSummary == "" ||
				ae.ErrorID == "" || ae.RequestID == "" || ae.Attempts != 1 || ae.Temporary() {
				t.Fatalf("err = %#v", ae)
			}
			if !okta.HasCode(err, tc.wantCode) {
				t.Error("HasCode = false")
			}
			reqs := e.fake.Requests()
			if last := reqs[len(reqs)-1]; last.Status != tc.wantStatus {
				t.Errorf("last request answered %d", last.Status)
			}
			if len(e.slept()) != 0 {
				t.Errorf("a %d was retried", tc.wantStatus)
			}
			if msg := err.Error(); strings.Contains(msg, apiToken) || strings.Contains(msg, "wrong-token") ||
				!strings.Contains(msg, tc.wantCode) {
				t.Errorf("error message %q", msg)
			}
		})
	}
}

func TestBatchLimits(t *testing.T) {
	type step func(c *okta.Client, ctx context.Context, sess string) error
	upsert := func(n int) step {
		return func(c *okta.Client, ctx context.Context, s string) error {
			return c.UpsertUsers(ctx, sourceID, s, users(n, "b"))
		}
	}
	for _, tc := range []struct {
		name string
		opts oktafake.Options
		run  step
		// wantIndex ≥ -1: a *ValidationError at that index, nothing sent;
		// otherwise wantCode from the fake.
		wantIndex int
		wantCode  string
	}{
		{name: "201 users refused by the client", run: upsert(201), wantIndex: -1},
		{name: "no users refused by the client", run: upsert(0), wantIndex: -1},
		{name: "201 deactivations refused by the client", wantIndex: -1,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				ids := make([]string, 201)
				for i := range ids {
					ids[i] = fmt.Sprint(i)
				}
				return c.DeactivateUsers(ctx, sourceID, s, ids)
			}},
		{name: "201 memberships refused by the client", wantIndex: -1,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				ms := make([]okta.Membership, 201)
				for i := range ms {
					ms[i] = okta.Membership{GroupExternalID: fmt.Sprint("g", i), MemberExternalIDs: []string{"u"}}
				}
				return c.UpsertGroupMemberships(ctx, sourceID, s, ms)
			}},
		{name: "duplicate externalId", wantIndex: 1,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				u := users(2, "d")
				u[1].ExternalID = u[0].ExternalID
				return c.UpsertUsers(ctx, sourceID, s, u)
			}},
		{name: "invalid email", wantIndex: 3,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				u := users(5, "e")
				u[3].Profile.Email = "not-an-email"
				return c.UpsertUsers(ctx, sourceID, s, u)
			}},
		{name: "empty profile", wantIndex: 0,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				return c.UpsertUsers(ctx, sourceID, s, []okta.User{{ExternalID: "x"}})
			}},
		{name: "custom attribute shadows a standard one", wantIndex: 0,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				return c.UpsertUsers(ctx, sourceID, s, []okta.User{{ExternalID: "x",
					Profile: okta.UserProfile{Custom: map[string]string{"email": "a@b.c"}}}})
			}},
		{name: "group without name", wantIndex: 0,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				return c.UpsertGroups(ctx, sourceID, s, []okta.Group{{ExternalID: "g"}})
			}},
		{name: "external id too long", wantIndex: 0,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				return c.DeleteGroups(ctx, sourceID, s, []string{strings.Repeat("g", 256)})
			}},
		{name: "batch over the fake's limit", opts: oktafake.Options{MaxBatch: 10}, run: upsert(11),
			wantIndex: -2, wantCode: okta.CodeValidation},
		{name: "51st upload", opts: oktafake.Options{MaxUploads: 3}, wantIndex: -2, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				for i := range 4 {
					if err := c.UpsertUsers(ctx, sourceID, s, users(1, fmt.Sprint("up", i))); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "entities per session", opts: oktafake.Options{MaxEntities: 25}, wantIndex: -2, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				for i := range 3 {
					if err := c.UpsertUsers(ctx, sourceID, s, users(10, fmt.Sprint("ent", i))); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "same user twice in a session", opts: oktafake.Options{RejectDuplicates: true},
			wantIndex: -2, wantCode: okta.CodeValidation,
			run: func(c *okta.Client, ctx context.Context, s string) error {
				if err := c.UpsertUsers(ctx, sourceID, s, users(2, "dup")); err != nil {
					return err
				}
				return c.DeactivateUsers(ctx, sourceID, s, []string{users(2, "dup")[1].ExternalID})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, tc.opts)
			s, err := e.client.CreateSession(ctx(t), sourceID)
			if err != nil {
				t.Fatal(err)
			}
			e.fake.ResetRequests()
			err = tc.run(e.client, ctx(t), s.ID)
			if tc.wantIndex >= -1 {
				var ve *okta.ValidationError
				if !errors.As(err, &ve) || ve.Index != tc.wantIndex {
					t.Fatalf("err = %v, want a ValidationError at %d", err, tc.wantIndex)
				}
				if n := len(e.fake.Requests()); n != 0 {
					t.Fatalf("%d requests sent", n)
				}
				return
			}
			ae := apiError(t, err)
			if ae.StatusCode != 400 || ae.ErrorCode != tc.wantCode || len(ae.ErrorCauses) == 0 {
				t.Fatalf("err = %#v", ae)
			}
		})
	}
}

func TestWaitForImportError(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{FailImports: true, ImportDelay: 30 * time.Second})
	c, ctx := e.client, ctx(t)
	s, _ := c.CreateSession(ctx, sourceID)
	if err := c.UpsertUsers(ctx, sourceID, s.ID, users(1, "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartImport(ctx, sourceID, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err := c.WaitForImport(ctx, sourceID, s.ID, 10*time.Second)
	if err != nil || got.Status != okta.StatusError {
		t.Fatalf("WaitForImport = %+v, %v", got, err)
	}
	if got := e.slept(); fmt.Sprint(got) != "[10s 10s 10s]" {
		t.Errorf("polled with sleeps %v", got)
	}
	if len(e.fake.Users()) != 0 {
		t.Error("a failed import changed users")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		url  string
		cred okta.Credentials
	}{
		{"ftp://example.okta.com", okta.APIToken("t")},
		{"https://user:pass@example.okta.com", okta.APIToken("t")},
		{"https://example.okta.com?x=1", okta.APIToken("t")},
		{"https://example.okta.com", okta.APIToken("")},
		{"https://example.okta.com", nil},
		{"https://example.okta.com", okta.PrivateKeyJWT{ClientID: "c"}},
		{"https://example.okta.com", okta.PrivateKeyJWT{Key: testKey()}},
		{"https://example.okta.com", (*okta.PrivateKeyJWT)(nil)},
	} {
		if _, err := okta.New(tc.url, tc.cred); err == nil {
			t.Errorf("New(%q, %v) succeeded", tc.url, tc.cred)
		}
	}
	if _, err := okta.New("https://example.okta.com/", okta.APIToken("t")); err != nil {
		t.Error(err)
	}
}
