package xaas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/scimless/scimless/pkg/config"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

// Limits tune the sync engine. Zero fields take DefaultLimits' values.
type Limits struct {
	// BatchSize is the most entities per upload (Okta: 200).
	BatchSize int
	// UploadsPerSession is the most uploads per session (Okta: 50).
	UploadsPerSession int
	// EntitiesPerSession is the most entities per session (Okta: 10,000).
	EntitiesPerSession int
	// SessionGap is the least time between starting an import and creating
	// the next session (Okta: 5 minutes); negative: none.
	SessionGap time.Duration
	// PollInterval is how often a triggered import is checked.
	PollInterval time.Duration
	// RetryDelay is the wait after a transient failure (or a refused session).
	RetryDelay time.Duration
	// Lease is how long a worker owns a tenant's run without renewing.
	Lease time.Duration
	// MaxRunAge fails a run that has not finished after it.
	MaxRunAge time.Duration
	// MaxErrors fails a run after this many consecutive failed steps.
	MaxErrors int
	// Margin is the time kept free before a deadline: no upload starts later.
	Margin time.Duration
	// MaxFailures is how many failed records a run keeps with reasons.
	MaxFailures int
}

// DefaultLimits returns Okta's limits and the engine's defaults.
func DefaultLimits() Limits {
	return Limits{
		BatchSize:          okta.MaxBatchSize,
		UploadsPerSession:  okta.MaxUploadsPerSession,
		EntitiesPerSession: okta.MaxEntitiesPerSession,
		SessionGap:         okta.MinSessionGap,
		PollInterval:       15 * time.Second,
		RetryDelay:         time.Minute,
		Lease:              2 * time.Minute,
		MaxRunAge:          24 * time.Hour,
		MaxErrors:          10,
		Margin:             5 * time.Second,
		MaxFailures:        200,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	pickD := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	pick(&l.BatchSize, d.BatchSize)
	pick(&l.UploadsPerSession, d.UploadsPerSession)
	pick(&l.EntitiesPerSession, d.EntitiesPerSession)
	pick(&l.MaxErrors, d.MaxErrors)
	pick(&l.MaxFailures, d.MaxFailures)
	pickD(&l.SessionGap, d.SessionGap)
	pickD(&l.PollInterval, d.PollInterval)
	pickD(&l.RetryDelay, d.RetryDelay)
	pickD(&l.Lease, d.Lease)
	pickD(&l.MaxRunAge, d.MaxRunAge)
	pickD(&l.Margin, d.Margin)
	if l.SessionGap < 0 {
		l.SessionGap = 0
	}
	l.BatchSize = min(l.BatchSize, okta.MaxBatchSize)
	return l
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Store    *store.Store
	Resolver Resolver
	// Logger receives JSON lines about runs (never record contents).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil). Okta's session gap, polls and
	// leases are measured with it; deadlines use the real time.
	Now func() time.Time
	// Owner identifies this worker in leases (random when empty).
	Owner string
	// Limits tune the engine.
	Limits Limits
	// Interval and Debounce apply to tenants without their own schedule:
	// the time between scheduled runs (0: none) and the quiet time after a
	// push before a run starts (0: pushes do not start runs).
	Interval time.Duration
	Debounce time.Duration
	// Concurrency bounds the tenants a tick works on at once (4 when 0).
	Concurrency int
	// MetricDimensions are added to the metrics a finished run emits
	// (config.XaaS.MetricDimensions on Lambda; none when nil).
	MetricDimensions map[string]string
	// AfterUpload, if set, is called after each upload Okta answered and
	// before the run records it; an error stops the step at once, as a
	// crash would (tests).
	AfterUpload func(ctx context.Context, tenant string, session, upload int) error
	// AfterCheckpoint, if set, is called after the run's state is written
	// following an upload; an error stops the step at once (tests).
	AfterCheckpoint func(ctx context.Context, tenant string, session, uploads int) error
}

// Engine runs the XaaS sync: per tenant, a resumable state machine
// checkpointed in the table.
//
// One run: list the identity source's sessions and cancel stale unfinished
// ones → wait out Okta's gap since the last import → create a session →
// upload the dirty users (active ones with bulk-upsert, inactive and
// deleted ones with bulk-delete, 200 per upload), then the dirty groups
// (bulk-groups-upsert/-delete) and their membership changes
// (bulk-group-memberships-upsert/-delete) → start the import when the
// session is full (50 uploads or 10,000 entities) or the data ran out →
// poll until COMPLETED → mark what the session carried as synced (only the
// versions sent: a record changed meanwhile stays dirty) → next session,
// until every record dirty when the run started is pushed.
//
// Every upload is logged (which records, which versions) before it is sent
// and the run's state is written after; a run interrupted between the two
// cannot know whether Okta got the upload, so it cancels that session and
// redoes it in a new one: no record is uploaded twice in one session, and
// none is lost. Waiting (the 5-minute gap, an import in progress, a rate
// limit) ends a step; the next tick continues.
type Engine struct {
	store    *store.Store
	resolver Resolver
	log      *slog.Logger
	now      func() time.Time
	owner    string
	lim      Limits
	interval time.Duration
	debounce time.Duration
	conc     int
	after    func(ctx context.Context, tenant string, session, upload int) error
	afterCP  func(ctx context.Context, tenant string, session, uploads int) error
	dims     map[string]string
}

// NewEngine returns an engine for cfg.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{store: cfg.Store, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now, owner: cfg.Owner,
		lim: cfg.Limits.withDefaults(), interval: cfg.Interval, debounce: cfg.Debounce, conc: cfg.Concurrency,
		after: cfg.AfterUpload, afterCP: cfg.AfterCheckpoint, dims: cfg.MetricDimensions}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.owner == "" {
		e.owner = "worker-" + randomHex(6)
	}
	if e.conc <= 0 {
		e.conc = 4
	}
	return e
}

// Limits returns the engine's limits.
func (e *Engine) Limits() Limits { return e.lim }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRunID returns a run id that sorts by creation time.
func newRunID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000Z") + "-" + randomHex(4)
}

// configured reports whether the tenant has an Okta target.
func (e *Engine) configured(ctx context.Context, tenant string) error {
	if c, ok := e.resolver.(interface {
		Configured(ctx context.Context, tenant string) error
	}); ok {
		return c.Configured(ctx, tenant)
	}
	_, err := e.resolver.Target(ctx, tenant)
	return err
}

// Configured reports whether the tenant's Okta org is configured (cheaply:
// the configuration item, not the secret).
func (r *TableResolver) Configured(ctx context.Context, tenant string) error {
	c, err := LoadOktaConfig(ctx, r.Store, tenant)
	if err != nil {
		return err
	}
	return c.Validate()
}

// StartRun queues a run of the tenant and returns its id. If a run is
// queued or running it returns a *RunActiveError with that run's id; a
// tenant without an Okta org gets ErrNotConfigured.
func (e *Engine) StartRun(ctx context.Context, tenant, trigger string) (string, error) {
	if err := e.configured(ctx, tenant); err != nil {
		return "", err
	}
	return e.startRun(ctx, tenant, trigger, time.Time{})
}

func (e *Engine) startRun(ctx context.Context, tenant, trigger string, nextDue time.Time) (string, error) {
	now := e.now()
	d := runDoc{ID: newRunID(now), Tenant: tenant, Trigger: trigger, State: store.RunQueued, Created: now,
		Phase: phasePrepare, Sessions: []sessionDoc{}}
	doc, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	active, err := e.store.StartXaaSRun(ctx, tenant, &store.XaaSRun{ID: d.ID, State: d.State, Doc: doc, Created: now}, nextDue)
	if errors.Is(err, store.ErrConflict) {
		return active, &RunActiveError{ID: active}
	}
	if err != nil {
		return "", err
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "xaas sync queued", slog.String("tenant", tenant), slog.String("run", d.ID),
		slog.String("trigger", trigger))
	return d.ID, nil
}

// CloudWatch metrics the engine emits (embedded metric format) when a run
// finishes: alarm on MetricSyncFailed ≥ 1. Package config defines them for
// the infrastructure's alarms.
const (
	MetricNamespace     = config.MetricNamespace
	MetricSyncRuns      = config.MetricXaaSSyncRuns
	MetricSyncFailed    = config.MetricXaaSSyncFailed
	MetricRecordsFailed = config.MetricXaaSRecordsFailed
)

// metricAttrs are the log attributes that make a run's "finished" line a
// CloudWatch embedded-metric-format record: the _aws directive, the metric
// values and the engine's dimensions. CloudWatch creates the metrics from
// the log line, so an alarm needs no metric filter and no API call is made.
func (e *Engine) metricAttrs(syncFailed, recordsFailed int) []slog.Attr {
	dimNames := make([]string, 0, len(e.dims))
	for k := range e.dims {
		dimNames = append(dimNames, k)
	}
	slices.Sort(dimNames)
	attrs := []slog.Attr{
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{dimNames},
				"Metrics": []map[string]string{
					{"Name": MetricSyncRuns, "Unit": "Count"},
					{"Name": MetricSyncFailed, "Unit": "Count"},
					{"Name": MetricRecordsFailed, "Unit": "Count"},
				},
			}},
		}),
		slog.Int(MetricSyncRuns, 1), slog.Int(MetricSyncFailed, syncFailed), slog.Int(MetricRecordsFailed, recordsFailed),
	}
	for _, k := range dimNames {
		attrs = append(attrs, slog.String(k, e.dims[k]))
	}
	return attrs
}

// apiErrorDetail is an Okta refusal as reported for the records it
// concerns (through the API, not the logs).
func apiErrorDetail(ae *okta.APIError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", ae.StatusCode, ae.ErrorCode)
	if ae.ErrorSummary != "" {
		b.WriteString(": " + ae.ErrorSummary)
	}
	for _, c := range ae.ErrorCauses {
		b.WriteString("; " + c.ErrorSummary)
	}
	return b.String()
}

// errAttr logs an error without record contents: for Okta errors only the
// status, code and request path.
func errAttr(err error) slog.Attr {
	return slog.String("err", safeMessage(errMessage(err)))
}

func errMessage(err error) string {
	if err == nil {
		return ""
	}
	var ae *okta.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("okta: %s %s: %d %s", ae.Method, ae.Path, ae.StatusCode, ae.ErrorCode)
	}
	var ve *okta.ValidationError
	if errors.As(err, &ve) {
		return "okta: invalid batch: " + ve.Field + ": " + ve.Reason
	}
	return err.Error()
}

// safeMessage cuts a message that might quote a record (Okta's error
// causes) down to its first clause.
func safeMessage(s string) string {
	if i := strings.Index(s, " ["); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
