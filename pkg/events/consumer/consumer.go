// Package consumer turns batches of the table's stream records into stored
// directory events and fans them out: to the Events API's storage (one
// conditional put per event, so a redelivered batch never duplicates one), to
// each subscribed webhook's delivery queue, and to an event bus. It is the
// logic of the events Lambda and of the local run's in-process consumer.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// Bus publishes events to an event bus (EventBridge on AWS).
type Bus interface {
	Publish(ctx context.Context, evs []events.Event) error
}

// Consumer handles stream batches. It is safe for concurrent use.
type Consumer struct {
	store *store.Store
	queue delivery.Queue
	bus   Bus
	hub   *events.Hub
	opts  events.Options
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	tenants map[string]cachedTenant
}

type cachedTenant struct {
	keep  time.Duration
	hooks []store.Webhook
	exp   time.Time
}

// cacheTTL bounds how stale the cached webhooks and retention of a tenant
// are: a new webhook receives events within it.
const cacheTTL = 15 * time.Second

// Option configures a Consumer.
type Option func(*Consumer)

// WithQueue sets the webhook delivery queue (no webhook deliveries without).
func WithQueue(q delivery.Queue) Option { return func(c *Consumer) { c.queue = q } }

// WithBus sets the event bus (no bus without).
func WithBus(b Bus) Option { return func(c *Consumer) { c.bus = b } }

// WithHub makes the consumer wake the Events API's long polls of the same
// process as soon as a tenant's events are stored.
func WithHub(h *events.Hub) Option { return func(c *Consumer) { c.hub = h } }

// WithBaseURL sets the SCIM base URL rendered into event data.
func WithBaseURL(u string) Option { return func(c *Consumer) { c.opts.BaseURL = u } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Consumer) { c.log = l } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(c *Consumer) { c.now = now } }

// New returns a consumer storing events in st.
func New(st *store.Store, opts ...Option) *Consumer {
	c := &Consumer{store: st, log: slog.Default(), now: time.Now, tenants: map[string]cachedTenant{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Stats describes one handled batch.
type Stats struct {
	Records int `json:"records"` // records in the batch
	Events  int `json:"events"`  // events derived from the records handled
	Stored  int `json:"stored"`  // events new to the store (the rest were stored before)
	Jobs    int `json:"jobs"`    // webhook deliveries queued
}

// Handle handles one batch of stream records (in stream order) and reports
// the records to retry as batch item failures (ReportBatchItemFailures):
// the first record that could not be turned into events, or the first
// record of the batch when storing or fanning out failed. Everything before
// the reported record is stored and fanned out; records from it on are
// delivered again by the event source, which is harmless: event ids are
// stable and storing is idempotent, and webhook and bus deliveries are at
// least once.
func (c *Consumer) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	resp, _, err := c.HandleStats(ctx, ev)
	return resp, err
}

// HandleStats is Handle, also returning what the batch yielded.
func (c *Consumer) HandleStats(ctx context.Context, ev lambdaevents.DynamoDBEvent) (resp lambdaevents.DynamoDBEventResponse, st Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.ErrorContext(ctx, "events consumer panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp, err = failFrom(ev.Records, 0), nil
		}
	}()
	recs := ev.Records
	st.Records = len(recs)
	if len(recs) == 0 {
		return resp, st, nil
	}
	known, err := c.deletions(ctx, recs)
	if err != nil {
		c.log.ErrorContext(ctx, "events batch failed; it will be retried", "records", len(recs), "err", err.Error())
		return failFrom(recs, 0), st, nil
	}
	results := events.Derive(recs, c.opts, known)
	good := len(recs)
	var evs []events.Event
	for i, r := range results {
		if r.Err != nil {
			c.log.ErrorContext(ctx, "stream record cannot be turned into events", "event_id", recs[i].EventID,
				"sequence_number", recs[i].Change.SequenceNumber, "err", r.Err.Error())
			good = i
			break
		}
		evs = append(evs, r.Events...)
	}
	st.Events = len(evs)
	if err := c.process(ctx, recs[:good], evs, &st); err != nil {
		c.log.ErrorContext(ctx, "events batch failed; it will be retried", "records", len(recs), "err", err.Error())
		return failFrom(recs, 0), st, nil
	}
	if good < len(recs) {
		return failFrom(recs, good), st, nil
	}
	return resp, st, nil
}

// deletions reads the deletion markers of the items deleted in recs whose
// markers' records are not in recs (a batch boundary or another shard
// separated them): one consistent batch read per 100.
func (c *Consumer) deletions(ctx context.Context, recs []lambdaevents.DynamoDBEventRecord) (map[string]events.Deletion, error) {
	keys := events.Unattributed(recs)
	if len(keys) == 0 {
		return nil, nil
	}
	sk := make([]store.ItemKey, len(keys))
	for i, k := range keys {
		sk[i] = store.ItemKey{PK: k.PK, SK: k.SK}
	}
	stamps, err := c.store.Deletions(ctx, sk)
	if err != nil {
		return nil, err
	}
	out := make(map[string]events.Deletion, len(stamps))
	for k, a := range stamps {
		at, _ := time.Parse(time.RFC3339Nano, a.ActorAt)
		out[k] = events.Deletion{Actor: events.Actor{TokenID: a.ActorToken, RequestID: a.ActorRequest, Via: a.ActorVia}, At: at.UTC()}
	}
	return out, nil
}

func failFrom(recs []lambdaevents.DynamoDBEventRecord, i int) lambdaevents.DynamoDBEventResponse {
	if len(recs) == 0 {
		return lambdaevents.DynamoDBEventResponse{}
	}
	return lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{
		{ItemIdentifier: recs[i].Change.SequenceNumber}}}
}

func (c *Consumer) process(ctx context.Context, recs []lambdaevents.DynamoDBEventRecord, evs []events.Event, st *Stats) error {
	if len(evs) == 0 {
		return nil
	}
	if err := c.enrich(ctx, recs, evs); err != nil {
		return err
	}
	tenants := map[string]cachedTenant{}
	stored := make([]store.StoredEvent, len(evs))
	for i := range evs {
		evs[i] = events.Fit(evs[i], events.MaxBytes)
		body, err := json.Marshal(evs[i])
		if err != nil {
			return fmt.Errorf("encode event %s: %w", evs[i].ID, err)
		}
		e := evs[i]
		stored[i] = store.StoredEvent{ID: e.ID, Tenant: e.Tenant, Type: e.Type, Time: e.Time, ResourceType: e.ResourceType(),
			ResourceID: e.ResourceID(), TokenID: e.Actor.TokenID, RequestID: e.Actor.RequestID, Via: e.Actor.Via, JSON: body}
		if _, ok := tenants[e.Tenant]; !ok {
			t, err := c.tenant(ctx, e.Tenant)
			if err != nil {
				return err
			}
			tenants[e.Tenant] = t
		}
	}
	n, err := c.store.PutEvents(ctx, stored, func(tenant string) time.Duration { return tenants[tenant].keep })
	st.Stored = n
	if err != nil {
		return err
	}
	if c.hub != nil {
		top := ""
		for _, e := range evs {
			top = max(top, e.ID)
		}
		c.hub.Advance(top)
		for tenant := range tenants {
			c.hub.Notify(tenant)
		}
	}
	if c.queue != nil {
		var jobs []delivery.Job
		now := c.now()
		for i, e := range evs {
			for _, w := range tenants[e.Tenant].hooks {
				if w.Wants(e.Type) {
					jobs = append(jobs, delivery.Job{Tenant: e.Tenant, WebhookID: w.ID, EventID: e.ID, Event: stored[i].JSON, First: now})
				}
			}
		}
		if len(jobs) > 0 {
			if err := c.queue.Enqueue(ctx, jobs); err != nil {
				return fmt.Errorf("queue webhook deliveries: %w", err)
			}
		}
		st.Jobs = len(jobs)
	}
	if c.bus != nil {
		if err := c.bus.Publish(ctx, evs); err != nil {
			return fmt.Errorf("publish events: %w", err)
		}
	}
	return nil
}

// tenant returns the tenant's retention and webhooks, cached briefly.
func (c *Consumer) tenant(ctx context.Context, id string) (cachedTenant, error) {
	now := c.now()
	c.mu.Lock()
	t, ok := c.tenants[id]
	c.mu.Unlock()
	if ok && now.Before(t.exp) {
		return t, nil
	}
	tn, err := c.store.GetTenant(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("tenant %s: %w", id, err)
	}
	t = cachedTenant{keep: tn.EventKeep(), exp: now.Add(cacheTTL)}
	if c.queue != nil {
		if t.hooks, err = c.store.ListWebhooks(ctx, id); err != nil {
			return t, err
		}
	}
	c.mu.Lock()
	if len(c.tenants) > 10000 {
		clear(c.tenants)
	}
	c.tenants[id] = t
	c.mu.Unlock()
	return t, nil
}

// enrich fills the names in membership events and the group names in user
// data: from the items of the batch itself first (which covers a group or
// user deleted in the same batch), then with one batch read per 100 ids.
func (c *Consumer) enrich(ctx context.Context, recs []lambdaevents.DynamoDBEventRecord, evs []events.Event) error {
	need := events.NeededNames(evs)
	if len(need) == 0 {
		return nil
	}
	known := events.NamesFromRecords(recs)
	for tenant, n := range need {
		k := known[tenant]
		if k.Groups == nil {
			k.Groups = map[string]string{}
		}
		if k.Users == nil {
			k.Users = map[string]string{}
		}
		var gids, uids []string
		for id := range n.Groups {
			if _, ok := k.Groups[id]; !ok {
				gids = append(gids, id)
			}
		}
		for id := range n.Users {
			if _, ok := k.Users[id]; !ok {
				uids = append(uids, id)
			}
		}
		slices.Sort(gids)
		slices.Sort(uids)
		if len(gids) > 0 {
			groups, err := c.store.GetGroups(ctx, tenant, gids)
			if err != nil {
				return fmt.Errorf("names of groups: %w", err)
			}
			for id, g := range groups {
				k.Groups[id] = g.DisplayName
			}
		}
		if len(uids) > 0 {
			users, err := c.store.ExistingUsers(ctx, tenant, uids)
			if err != nil {
				return fmt.Errorf("names of users: %w", err)
			}
			for id, u := range users {
				k.Users[id] = u.UserName
			}
		}
		known[tenant] = k
	}
	events.FillNames(evs, known)
	return nil
}
