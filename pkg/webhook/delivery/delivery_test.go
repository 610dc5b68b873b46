package delivery_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/syncbuf"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestValidateURL(t *testing.T) {
	r := fakeResolver{
		"hooks.example.com":  {"93.184.216.34"},
		"mixed.example.com":  {"93.184.216.34", "10.0.0.5"},
		"meta.example.com":   {"169.254.169.254"},
		"v6.example.com":     {"2606:2800:220:1::1"},
		"ula.example.com":    {"fd00:ec2::254"},
		"mapped.example.com": {"::ffff:127.0.0.1"},
	}
	tests := []struct {
		url    string
		policy delivery.Policy
		want   string // substring of the error; "" for ok
	}{
		{"https://hooks.example.com/scim", delivery.Strict, ""},
		{"https://v6.example.com/x", delivery.Strict, ""},
		{"http://hooks.example.com/scim", delivery.Strict, "only https"},
		{"ftp://hooks.example.com/", delivery.Strict, "must start with https://"},
		{"hooks.example.com/x", delivery.Strict, "must start with https://"},
		{"https://user:pw@hooks.example.com/", delivery.Strict, "credentials"},
		{"https://hooks.example.com/#frag", delivery.Strict, "fragment"},
		{"https:///nohost", delivery.Strict, "no host"},
		{"https://127.0.0.1/", delivery.Strict, "loopback"},
		{"https://[::1]:8443/", delivery.Strict, "loopback"},
		{"https://localhost/", delivery.Strict, "loopback"},
		{"https://10.1.2.3/", delivery.Strict, "private"},
		{"https://192.168.0.1/", delivery.Strict, "private"},
		{"https://169.254.169.254/latest/meta-data/", delivery.Strict, "link-local"},
		{"https://100.64.0.1/", delivery.Strict, "shared"},
		{"https://0.0.0.0/", delivery.Strict, "unspecified"},
		{"https://meta.example.com/", delivery.Strict, "link-local"},
		{"https://mixed.example.com/", delivery.Strict, "10.0.0.5, a private"},
		{"https://ula.example.com/", delivery.Strict, "private"},
		{"https://mapped.example.com/", delivery.Strict, "loopback"},
		{"https://unknown.example.com/", delivery.Strict, "resolve"},
		{"http://localhost:9000/hook", delivery.Local, ""},
		{"http://127.0.0.1:9000/hook", delivery.Local, ""},
		{"ftp://localhost/", delivery.Local, "must start"},
		{"https://" + strings.Repeat("a", 3000) + ".com/", delivery.Strict, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.url[:min(len(tc.url), 60)], func(t *testing.T) {
			err := delivery.ValidateURL(context.Background(), tc.url, tc.policy, r)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, delivery.ErrURL) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrURL containing %q", err, tc.want)
			}
		})
	}
}

// TestDialTimeCheck: a strict client refuses to connect to a loopback
// address even when handed the URL directly (as after a DNS rebinding).
func TestDialTimeCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, err := delivery.NewClient(delivery.Strict, time.Second).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil || !errors.Is(err, delivery.ErrURL) {
		t.Fatalf("strict client reached a loopback receiver: %v", err)
	}
	resp, err := delivery.NewClient(delivery.Local, time.Second).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("local client: %v", err)
	}
	resp.Body.Close()
}

// receiver records verified deliveries and answers with status(n) for the
// n-th request (1-based).
type receiver struct {
	mu       sync.Mutex
	secret   string
	got      []string // event ids
	requests atomic.Int64
	status   func(n int64) int
	bad      atomic.Int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := rc.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, time.Minute); err != nil {
		rc.bad.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if s := rc.status(n); s != http.StatusOK {
		w.WriteHeader(s)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, r.Header.Get(webhook.EventIDHeader))
	rc.mu.Unlock()
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.got...)
}

func TestDispatcherRetriesAndGivesUp(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rc := &receiver{secret: "whsec_t", status: func(n int64) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh1", URL: srv.URL, Secret: "whsec_t"}); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	d := delivery.NewDispatcher(env.Store, delivery.Local, delivery.WithClock(clock), delivery.WithBackoff(time.Second, time.Minute, time.Hour),
		delivery.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))

	job := delivery.Job{Tenant: "acme", WebhookID: "wh1", EventID: "e1", Event: []byte(`{"id":"e1"}`)}
	// Two 500s: each attempt is to be retried with a growing delay.
	for attempt := 1; attempt <= 2; attempt++ {
		out, err := d.Handle(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Retry || out.Paused || out.Job.Attempt != attempt || !out.Job.NotBefore.After(now) {
			t.Fatalf("attempt %d: %+v", attempt, out)
		}
		if delay := out.Job.NotBefore.Sub(now); delay < time.Second<<(attempt-1)/2 || delay > time.Second<<(attempt-1) {
			t.Fatalf("attempt %d delay %v", attempt, delay)
		}
		job = out.Job
		// Not due yet: handed straight back, no request.
		before := rc.requests.Load()
		if out, err := d.Handle(ctx, job); err != nil || rc.requests.Load() != before || !out.Retry || out.Job.Attempt != job.Attempt {
			t.Fatalf("early job was attempted: %+v %v", out, err)
		}
		now = job.NotBefore
	}
	if out, err := d.Handle(ctx, job); err != nil || out.Retry {
		t.Fatalf("%+v %v", out, err)
	}
	if got := rc.ids(); len(got) != 1 || got[0] != "e1" || rc.bad.Load() != 0 {
		t.Fatalf("delivered %v, bad signatures %d", got, rc.bad.Load())
	}

	// A receiver that always fails: after the retry period the webhook is
	// marked failing with the last error and the job is finished.
	rc.status = func(int64) int { return http.StatusServiceUnavailable }
	job = delivery.Job{Tenant: "acme", WebhookID: "wh1", EventID: "e2", Event: []byte(`{"id":"e2"}`)}
	start := now
	for i := 0; ; i++ {
		out, err := d.Handle(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Retry {
			break
		}
		job = out.Job
		now = job.NotBefore
		if i > 200 {
			t.Fatal("never gave up")
		}
	}
	if now.Sub(start) < time.Hour {
		t.Fatalf("gave up after %v, before the retry period", now.Sub(start))
	}
	time.Sleep(0)
	w, err := env.Store.GetWebhook(ctx, "acme", "wh1")
	if err != nil || !w.Failing || !strings.Contains(w.LastError, "503") {
		t.Fatalf("webhook after giving up: %+v %v", w, err)
	}
	// The give-up line is a CloudWatch metric record (the alarm's source).
	if out := logs.String(); !strings.Contains(out, `"WebhookDeliveriesFailed":1`) || !strings.Contains(out, `"Namespace":"scimless"`) {
		t.Fatalf("no failed-delivery metric in the logs:\n%s", out)
	}
	// A later success clears the flag.
	rc.status = func(int64) int { return http.StatusOK }
	now = now.Add(time.Minute) // past the cache
	if out, err := d.Handle(ctx, delivery.Job{Tenant: "acme", WebhookID: "wh1", EventID: "e3", Event: []byte(`{}`)}); err != nil || out.Retry {
		t.Fatalf("%+v %v", out, err)
	}
	if w, _ := env.Store.GetWebhook(ctx, "acme", "wh1"); w.Failing {
		t.Fatal("still failing after a success")
	}
}

func TestDispatcherSuspendedAndRemoved(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	rc := &receiver{secret: "s", status: func(int64) int { return http.StatusOK }}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: "acme", Status: store.TenantActive}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh1", URL: srv.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetTenantStatus(ctx, "acme", store.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	d := delivery.NewDispatcher(env.Store, delivery.Local, delivery.WithClock(func() time.Time { return now }))
	job := delivery.Job{Tenant: "acme", WebhookID: "wh1", EventID: "e1", Event: []byte(`{}`), First: now}
	out, err := d.Handle(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Retry || !out.Paused || out.Job.Attempt != 0 || rc.requests.Load() != 0 || !out.Job.First.After(now) ||
		out.Job.NotBefore != now.Add(delivery.SuspendedDelay) {
		t.Fatalf("suspended tenant's job: %+v, %d requests", out, rc.requests.Load())
	}
	if _, err := env.Store.SetTenantStatus(ctx, "acme", store.TenantActive); err != nil {
		t.Fatal(err)
	}
	now = out.Job.NotBefore.Add(time.Minute) // past the tenant cache
	if out, err := d.Handle(ctx, out.Job); err != nil || out.Retry {
		t.Fatalf("%+v %v", out, err)
	}
	if got := rc.ids(); len(got) != 1 {
		t.Fatalf("resumed tenant: delivered %v", got)
	}
	if err := env.Store.DeleteWebhook(ctx, "acme", "wh1"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if out, err := d.Handle(ctx, job); err != nil || out.Retry || len(rc.ids()) != 1 {
		t.Fatalf("removed webhook's job was not dropped: %+v %v", out, err)
	}
}

func TestHangingReceiverIsCutOff(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	env := storetest.New(t)
	d := delivery.NewDispatcher(env.Store, delivery.Local, delivery.WithHTTPClient(delivery.NewClient(delivery.Local, 100*time.Millisecond)))
	start := time.Now()
	err := d.Deliver(context.Background(), &store.Webhook{URL: srv.URL, Secret: "s"}, "e1", []byte(`{}`))
	if err == nil {
		t.Fatal("a hanging receiver counted as delivered")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("not cut off: %v", time.Since(start))
	}
}

func TestBackoffCoversADay(t *testing.T) {
	d := delivery.NewDispatcher(nil, delivery.Strict)
	var total time.Duration
	attempts := 0
	for total < delivery.DefaultRetryFor {
		attempts++
		b := d.Backoff(attempts)
		want := min(delivery.DefaultBaseDelay<<min(attempts-1, 30), delivery.DefaultMaxDelay)
		if b < want/2 || b >= want {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v)", attempts, b, want/2, want)
		}
		total += b
	}
	if delivery.DefaultRetryFor < 24*time.Hour || attempts < 25 || attempts > 60 {
		t.Fatalf("%d attempts over %v", attempts, total)
	}
}

func TestStrictDispatcherRefusesHTTP(t *testing.T) {
	d := delivery.NewDispatcher(nil, delivery.Strict)
	err := d.Deliver(context.Background(), &store.Webhook{URL: "http://hooks.example.com/x", Secret: "s"}, "e1", []byte(`{}`))
	if !errors.Is(err, delivery.ErrURL) {
		t.Fatalf("http URL under the strict policy: %v", err)
	}
}

// TestReceiverDownFiveMinutes: with the default backoff, a receiver that
// refuses every delivery for 5 minutes gets the event once it is back.
func TestReceiverDownFiveMinutes(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	now := start
	rc := &receiver{secret: "s"}
	rc.status = func(int64) int {
		if now.Sub(start) < 5*time.Minute {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh", URL: srv.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	d := delivery.NewDispatcher(env.Store, delivery.Local, delivery.WithClock(func() time.Time { return now }))
	job := delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e1", Event: []byte(`{}`)}
	attempts := 0
	for {
		attempts++
		out, err := d.Handle(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Retry {
			break
		}
		job, now = out.Job, out.Job.NotBefore
	}
	if got := rc.ids(); len(got) != 1 || now.Sub(start) < 5*time.Minute || now.Sub(start) > 15*time.Minute {
		t.Fatalf("delivered %v after %v and %d attempts", got, now.Sub(start), attempts)
	}
	t.Logf("delivered %v after the outage began, on attempt %d", now.Sub(start).Round(time.Second), attempts)
}
