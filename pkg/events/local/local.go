// Package local runs the directory events pipeline in one process, for the
// local run: the stream poller feeds the consumer, which stores events for
// the Events API (waking its long polls at once) and queues webhook
// deliveries on an in-process queue that a dispatcher works through. It is
// the same code the events and webhooks functions run on AWS, with the
// in-process queue in place of SQS and no EventBridge bus.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/stream"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// Config configures a Pipeline.
type Config struct {
	Store *store.Store
	// Streams reads the table's stream (the embedded engine's, through the
	// DynamoDB Streams API).
	Streams stream.API
	// Auth authenticates Events API requests.
	Auth api.Authenticator
	// BaseURL is the SCIM base URL rendered into event data (optional).
	BaseURL string
	// Policy is the webhook URL policy (delivery.Local when zero).
	Policy *delivery.Policy
	Logger *slog.Logger
	// Workers is how many webhook deliveries run at once (default 8).
	Workers int
}

// Pipeline is a running local events pipeline.
type Pipeline struct {
	// Consumer handles stream batches; Handle can also be fed directly.
	Consumer *consumer.Consumer
	// API serves GET /events/v1.
	API *api.Handler
	// Queue holds pending webhook deliveries.
	Queue *delivery.MemQueue

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
}

// Start starts the pipeline; Stop ends it.
func Start(ctx context.Context, cfg Config) (*Pipeline, error) {
	if cfg.Store == nil || cfg.Streams == nil {
		return nil, errors.New("local events: a store and a stream are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	policy := delivery.Local
	if cfg.Policy != nil {
		policy = *cfg.Policy
	}
	hub := &events.Hub{}
	q := delivery.NewMemQueue()
	p := &Pipeline{
		Consumer: consumer.New(cfg.Store, consumer.WithQueue(q), consumer.WithHub(hub), consumer.WithBaseURL(cfg.BaseURL), consumer.WithLogger(log)),
		API:      api.New(cfg.Store, cfg.Auth, api.WithHub(hub), api.WithLogger(log), api.WithWatermark(hub.Before)),
		Queue:    q,
	}
	d := delivery.NewDispatcher(cfg.Store, policy, delivery.WithLogger(log))
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	poller := stream.NewPoller(cfg.Streams, cfg.Store.TableName(), p.Consumer.Handle, stream.WithLogger(log))
	p.goRun(log, "stream poller", func() error { return poller.Run(ctx) })
	p.goRun(log, "webhook deliveries", func() error { q.Run(ctx, max(cfg.Workers, 8), d.Handle); return nil })
	return p, nil
}

func (p *Pipeline) goRun(log *slog.Logger, what string, fn func() error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				log.Error("local events: "+what+" panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				p.setErr(fmt.Errorf("%s panicked: %v", what, r))
			}
		}()
		if err := fn(); err != nil {
			log.Error("local events: "+what+" stopped", "err", err.Error())
			p.setErr(fmt.Errorf("%s: %w", what, err))
		}
	}()
}

func (p *Pipeline) setErr(err error) {
	p.errMu.Lock()
	p.err = errors.Join(p.err, err)
	p.errMu.Unlock()
}

// Stop stops the pipeline and returns what stopped it early, if anything.
// Deliveries still queued are dropped (webhook replay sends them again).
func (p *Pipeline) Stop() error {
	p.cancel()
	p.wg.Wait()
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// Subscribe adds a webhook for url to every given tenant (all event types)
// and returns the signing secret, the same for all of them: the local
// run's -webhook flag.
func Subscribe(ctx context.Context, st *store.Store, url string, tenants []string) (string, error) {
	if err := delivery.ValidateURL(ctx, url, delivery.Local, net.DefaultResolver); err != nil {
		return "", err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return "", err
	}
	for _, t := range tenants {
		w := &store.Webhook{ID: "wh_local", URL: url, Secret: secret}
		if err := st.DeleteWebhook(ctx, t, w.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		if err := st.CreateWebhook(ctx, t, w); err != nil {
			return "", fmt.Errorf("subscribe %s for tenant %s: %w", url, t, err)
		}
	}
	return secret, nil
}
