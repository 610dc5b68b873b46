package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook"
)

// Job is one delivery of one event to one webhook, as queued.
type Job struct {
	Tenant    string          `json:"tenant"`
	WebhookID string          `json:"webhook"`
	EventID   string          `json:"eventId"`
	Event     json.RawMessage `json:"event"`
	// Key orders the job among the webhook's deliveries (OrderKey; set
	// when the job is queued if empty).
	Key string `json:"key,omitempty"`
	// Attempt counts the attempts made so far.
	Attempt int `json:"attempt"`
	// First is when the job was first queued: retries stop RetryFor after it.
	First time.Time `json:"first"`
	// NotBefore is when the next attempt is due (zero: now).
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Queue holds delivery jobs until they are due. Jobs with the same ordering
// key (Job.Key) are handed out one at a time, in the order they were queued.
type Queue interface {
	// Enqueue queues jobs, each to be attempted at its NotBefore or later
	// and after the jobs with its key queued before it.
	Enqueue(ctx context.Context, jobs []Job) error
}

// Outcome is what Handle decided about a job.
type Outcome struct {
	// Retry is set when the job was not finished: Job (updated) is to be
	// attempted again at Job.NotBefore, before any later job with its key.
	// Otherwise the job is finished: delivered, given up after its retries,
	// or dropped.
	Retry bool
	// Paused is set (with Retry) when the job was not attempted because
	// its tenant is suspended.
	Paused bool
	Job    Job
}

// Defaults of a Dispatcher.
const (
	// DefaultTimeout cuts off a receiver that does not answer.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryFor is how long a delivery is retried before the webhook
	// is marked failing.
	DefaultRetryFor = 25 * time.Hour
	// DefaultBaseDelay and DefaultMaxDelay shape the exponential backoff.
	DefaultBaseDelay = 5 * time.Second
	DefaultMaxDelay  = time.Hour
	// SuspendedDelay is how often a suspended tenant's deliveries check
	// whether it was resumed.
	SuspendedDelay = time.Minute
	// cacheTTL bounds how stale a cached webhook or tenant read is.
	cacheTTL = 15 * time.Second
)

// MetricDeliveriesFailed counts deliveries given up after their retries
// (namespace config.MetricNamespace, no dimensions): the "gave up" log line
// is a CloudWatch embedded-metric-format record, so an alarm on failing
// webhooks needs no metric filter.
const MetricDeliveriesFailed = "WebhookDeliveriesFailed"

func failedMetric() []slog.Attr {
	return []slog.Attr{
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  config.MetricNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    []map[string]string{{"Name": MetricDeliveriesFailed, "Unit": "Count"}},
			}},
		}),
		slog.Int(MetricDeliveriesFailed, 1),
	}
}

// Dispatcher attempts delivery jobs. It is safe for concurrent use.
type Dispatcher struct {
	store    *store.Store
	policy   Policy
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	retryFor time.Duration
	base     time.Duration
	maxDelay time.Duration
	jitter   func() float64
	onDone   func(Job, error)

	mu      sync.Mutex
	hooks   map[string]cachedHook
	tenants map[string]cachedTenant
}

type cachedHook struct {
	w   *store.Webhook // nil: removed
	exp time.Time
}

type cachedTenant struct {
	suspended bool
	resumed   time.Time
	exp       time.Time
}

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(d *Dispatcher) { d.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(d *Dispatcher) { d.log = l } }

// WithBackoff sets the first retry delay, the largest delay and how long
// deliveries are retried.
func WithBackoff(base, maxDelay, retryFor time.Duration) Option {
	return func(d *Dispatcher) { d.base, d.maxDelay, d.retryFor = base, maxDelay, retryFor }
}

// ErrRemoved is what WithOnDone reports for a job dropped because its
// webhook was removed.
var ErrRemoved = errors.New("webhook removed")

// WithOnDone calls fn when a job is finished: delivered (nil), given up
// after its retries (the last error), or dropped (ErrRemoved).
func WithOnDone(fn func(Job, error)) Option { return func(d *Dispatcher) { d.onDone = fn } }

// WithHTTPClient replaces the HTTP client (it must keep the policy checks).
func WithHTTPClient(c *http.Client) Option { return func(d *Dispatcher) { d.client = c } }

// NewClient returns the HTTP client deliveries use: a timeout of timeout,
// no proxy, no redirects followed, and (under a strict policy) every
// connection refused unless its address is public.
func NewClient(p Policy, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: p.dialControl}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       60 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewDispatcher returns a dispatcher that reads webhooks from st and
// delivers under policy p.
func NewDispatcher(st *store.Store, p Policy, opts ...Option) *Dispatcher {
	d := &Dispatcher{store: st, policy: p, client: NewClient(p, DefaultTimeout), log: slog.Default(), now: time.Now,
		retryFor: DefaultRetryFor, base: DefaultBaseDelay, maxDelay: DefaultMaxDelay, jitter: rand.Float64,
		hooks: map[string]cachedHook{}, tenants: map[string]cachedTenant{}}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Backoff returns the delay before retry number attempt (1 for the first
// retry): exponential from the base delay, capped at the largest, with
// jitter drawn from [d/2, d).
func (d *Dispatcher) Backoff(attempt int) time.Duration {
	delay := d.base
	for i := 1; i < attempt && delay < d.maxDelay; i++ {
		delay *= 2
	}
	delay = min(delay, d.maxDelay)
	return delay/2 + time.Duration(d.jitter()*float64(delay/2))
}

// Handle attempts one job and returns what the queue is to do with it. A
// failed attempt is to be retried with backoff (Outcome.Retry, at the
// returned job's NotBefore), or, once the retry period has passed since the
// job was queued (or since its tenant was last resumed, if later), the
// webhook is marked failing with the last error and the job is finished. A
// suspended tenant's job waits SuspendedDelay without using up its retries
// (Outcome.Paused); a removed webhook's is dropped; a job not due yet is
// handed back unchanged. An error means the job must be handed
// back as it was: no decision was made.
func (d *Dispatcher) Handle(ctx context.Context, j Job) (Outcome, error) {
	now := d.now()
	if j.First.IsZero() {
		j.First = now
	}
	if j.NotBefore.After(now) {
		return Outcome{Retry: true, Job: j}, nil
	}
	tenant, err := d.tenant(ctx, j.Tenant)
	if err != nil {
		return Outcome{}, err
	}
	if tenant.suspended {
		j.NotBefore = now.Add(SuspendedDelay)
		j.First = j.First.Add(SuspendedDelay) // a pause does not use up retries
		return Outcome{Retry: true, Paused: true, Job: j}, nil
	}
	w, err := d.webhook(ctx, j.Tenant, j.WebhookID)
	if err != nil {
		return Outcome{}, err
	}
	if w == nil {
		d.log.InfoContext(ctx, "webhook delivery dropped: webhook removed", "tenant", j.Tenant, "webhook", j.WebhookID, "event_id", j.EventID)
		d.done(j, ErrRemoved)
		return Outcome{}, nil
	}
	derr := d.Deliver(ctx, w, j.EventID, j.Event)
	j.Attempt++
	if derr == nil {
		if w.Failing {
			if err := d.store.MarkWebhookHealthy(ctx, j.Tenant, w.ID); err != nil {
				d.log.WarnContext(ctx, "mark webhook healthy", "tenant", j.Tenant, "webhook", w.ID, "err", err.Error())
			}
			d.forget(j.Tenant, w.ID)
		}
		d.done(j, nil)
		return Outcome{}, nil
	}
	now = d.now()
	// The retry period runs from when the job was queued, or from when its
	// tenant was last resumed if later: time spent paused is not counted.
	start := j.First
	if tenant.resumed.After(start) {
		start = tenant.resumed
	}
	if now.Sub(start) >= d.retryFor {
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhook delivery gave up", append(failedMetric(),
			slog.String("tenant", j.Tenant), slog.String("webhook", w.ID), slog.String("event_id", j.EventID),
			slog.Int("attempts", j.Attempt), slog.String("err", derr.Error()))...)
		if err := d.store.MarkWebhookFailing(ctx, j.Tenant, w.ID, derr.Error(), now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Outcome{}, err
		}
		d.forget(j.Tenant, w.ID)
		d.done(j, derr)
		return Outcome{}, nil
	}
	j.NotBefore = now.Add(d.Backoff(j.Attempt))
	d.log.InfoContext(ctx, "webhook delivery failed; retrying", "tenant", j.Tenant, "webhook", w.ID, "event_id", j.EventID,
		"attempt", j.Attempt, "retry_at", j.NotBefore.UTC().Format(time.RFC3339), "err", derr.Error())
	return Outcome{Retry: true, Job: j}, nil
}

func (d *Dispatcher) done(j Job, err error) {
	if d.onDone != nil {
		d.onDone(j, err)
	}
}

// maxResponse bounds how much of a receiver's answer is read.
const maxResponse = 64 << 10

// Deliver POSTs one event to the webhook, signed, and reports whether the
// receiver acknowledged it with a 2xx status.
func (d *Dispatcher) Deliver(ctx context.Context, w *store.Webhook, eventID string, body []byte) error {
	if !d.policy.AllowHTTP && !strings.HasPrefix(strings.ToLower(w.URL), "https://") {
		return fmt.Errorf("%w: %s: only https URLs are allowed", ErrURL, w.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scimless-webhooks/1")
	req.Header.Set(webhook.EventIDHeader, eventID)
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(w.Secret, time.Now(), body)) // wall time: what receivers check
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", w.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", w.URL, resp.Status)
	}
	return nil
}

// tenant returns whether the tenant is suspended and when it was last
// resumed, read at most cacheTTL ago.
func (d *Dispatcher) tenant(ctx context.Context, tenant string) (cachedTenant, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.tenants[tenant]
	d.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c, nil
	}
	t, err := d.store.GetTenant(ctx, tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return cachedTenant{}, fmt.Errorf("webhook delivery: tenant %s: %w", tenant, err)
	}
	c = cachedTenant{exp: now.Add(cacheTTL)}
	if t != nil {
		c.suspended, c.resumed = t.Suspended(), t.Resumed
	}
	d.mu.Lock()
	if len(d.tenants) > 10000 {
		clear(d.tenants)
	}
	d.tenants[tenant] = c
	d.mu.Unlock()
	return c, nil
}

func (d *Dispatcher) webhook(ctx context.Context, tenant, id string) (*store.Webhook, error) {
	now := d.now()
	key := tenant + "/" + id
	d.mu.Lock()
	c, ok := d.hooks[key]
	d.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.w, nil
	}
	w, err := d.store.GetWebhook(ctx, tenant, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("webhook delivery: %w", err)
	}
	d.mu.Lock()
	if len(d.hooks) > 10000 {
		clear(d.hooks)
	}
	d.hooks[key] = cachedHook{w: w, exp: now.Add(cacheTTL)}
	d.mu.Unlock()
	return w, nil
}

func (d *Dispatcher) forget(tenant, id string) {
	d.mu.Lock()
	delete(d.hooks, tenant+"/"+id)
	d.mu.Unlock()
}
