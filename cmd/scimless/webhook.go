package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

const webhookUsage = `usage: scimless webhook add TENANT URL [-types user.created,user.deleted] [table flags]
       scimless webhook list TENANT [table flags]
       scimless webhook remove TENANT ID [table flags]
       scimless webhook replay TENANT [-since 1h] [-webhook ID] [-queue-url URL] [-timeout 5m] [table flags]

add     subscribes URL to the tenant's directory events (all types, or -types)
        and prints the signing secret, once. On AWS (no -dynamodb-endpoint)
        the URL must be https and resolve only to public addresses.
list    the tenant's webhooks: id, URL, types, and whether deliveries are
        failing, with the last error (never the secret)
remove  deletes a webhook; deliveries still queued for it are dropped
replay  sends the tenant's events since -since again to its webhooks (or to
        -webhook ID): through the delivery queue with -queue-url, otherwise
        from this process, retrying failed deliveries until -timeout

` + tableFlagsUsage

func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, webhookUsage)
		return errUsage
	}
	switch args[0] {
	case "add":
		return webhookAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return webhookList(ctx, args[1:], stdout, stderr)
	case "remove":
		return webhookRemove(ctx, args[1:], stdout, stderr)
	case "replay":
		return webhookReplay(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "scimless webhook: unknown subcommand %q\n\n%s", args[0], webhookUsage)
	return errUsage
}

// policy is the webhook URL policy for the table: local endpoints accept any
// http(s) receiver, AWS only public https ones.
func (c *command) policy() delivery.Policy {
	if c.tf.endpointSet && c.tf.endpoint != "" {
		return delivery.Local
	}
	return delivery.Strict
}

func newWebhookID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "wh_" + hex.EncodeToString(b[:])
}

func webhookAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("webhook add", webhookUsage, stderr)
	typesFlag := c.fs.String("types", "", "comma-separated event types to deliver (default: all)")
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	tenant, url := c.args[0], c.args[1]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	types, err := events.ParseTypes(*typesFlag)
	if err != nil {
		return fmt.Errorf("-types: %w", err)
	}
	if err := delivery.ValidateURL(ctx, url, c.policy(), net.DefaultResolver); err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	w := &store.Webhook{ID: newWebhookID(), URL: url, Types: types, Secret: secret}
	if err := db.Store.CreateWebhook(ctx, tenant, w); err != nil {
		if errors.Is(err, store.ErrTooLarge) {
			return fmt.Errorf("tenant %s has %d webhooks already (the most allowed); remove one first", tenant, store.MaxWebhooksPerTenant)
		}
		return err
	}
	delivered := "all event types"
	if len(types) > 0 {
		delivered = strings.Join(types, ", ")
	}
	fmt.Fprintf(stdout, "webhook %s added for tenant %s: %s (%s)\n", w.ID, tenant, url, delivered)
	fmt.Fprintf(stdout, "signing secret (shown once; verify the %s header with it):\n%s\n", webhook.SignatureHeader, secret)
	return nil
}

func webhookList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("webhook list", webhookUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	hooks, err := db.Store.ListWebhooks(ctx, tenant)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		fmt.Fprintf(stdout, "no webhooks for tenant %s (add one with: scimless webhook add %s URL)\n", tenant, tenant)
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tURL\tTYPES\tSTATUS\tLAST ERROR\tCREATED")
	for _, h := range hooks {
		types := "all"
		if len(h.Types) > 0 {
			types = strings.Join(h.Types, ",")
		}
		status, lastErr := "ok", "-"
		if h.Failing {
			status = "failing"
		}
		if h.LastError != "" {
			lastErr = formatTime(h.LastErrorAt) + " " + h.LastError
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.URL, types, status, lastErr, formatTime(h.Created))
	}
	return w.Flush()
}

func webhookRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("webhook remove", webhookUsage, stderr)
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	tenant, id := c.args[0], c.args[1]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Store.DeleteWebhook(ctx, tenant, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tenant %s has no webhook %q (see: scimless webhook list %s)", tenant, id, tenant)
		}
		return err
	}
	fmt.Fprintf(stdout, "webhook %s of tenant %s removed\n", id, tenant)
	return nil
}

func webhookReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("webhook replay", webhookUsage, stderr)
	sinceFlag := c.fs.String("since", "1h", "events at or after this time or duration ago (1h, 7d, 2025-06-01)")
	only := c.fs.String("webhook", "", "replay to this webhook only (default: every webhook of the tenant)")
	queueURL := c.fs.String("queue-url", "", "send the deliveries through this SQS queue (the delivery function's)")
	timeout := c.fs.Duration("timeout", 5*time.Minute, "without -queue-url: how long to keep retrying failed deliveries")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return fmt.Errorf("-since: %w", err)
	}
	if *timeout <= 0 {
		return fmt.Errorf("-timeout: must be positive")
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	hooks, err := db.Store.ListWebhooks(ctx, tenant)
	if err != nil {
		return err
	}
	if *only != "" {
		var keep []store.Webhook
		for _, h := range hooks {
			if h.ID == *only {
				keep = append(keep, h)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("tenant %s has no webhook %q (see: scimless webhook list %s)", tenant, *only, tenant)
		}
		hooks = keep
	}
	if len(hooks) == 0 {
		return fmt.Errorf("tenant %s has no webhooks to replay to", tenant)
	}
	jobs, nEvents, err := replayJobs(ctx, db.Store, tenant, since, hooks)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		fmt.Fprintf(stdout, "no events of tenant %s since %s for its webhooks\n", tenant, formatTime(since))
		return nil
	}
	if *queueURL != "" {
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.tf.region))
		if err != nil {
			return fmt.Errorf("load aws config: %w", err)
		}
		if err := delivery.NewSQSQueue(sqs.NewFromConfig(awsCfg), *queueURL, delivery.Resend()).Enqueue(ctx, jobs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "queued %d deliveries of %d events to %d webhooks\n", len(jobs), nEvents, len(hooks))
		return nil
	}
	delivered, failed, err := deliverNow(ctx, db.Store, c.policy(), jobs, *timeout, stderr)
	fmt.Fprintf(stdout, "replayed %d events to %d webhooks: %d deliveries succeeded, %d failed\n", nEvents, len(hooks), delivered, failed)
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d deliveries failed (see: scimless webhook list %s)", failed, tenant)
	}
	return nil
}

// replayJobs reads the tenant's events since and makes one job per event
// and webhook that subscribes to its type.
func replayJobs(ctx context.Context, st *store.Store, tenant string, since time.Time, hooks []store.Webhook) ([]delivery.Job, int, error) {
	var jobs []delivery.Job
	n := 0
	after := events.CursorAt(since)
	now := time.Now()
	for {
		page, err := st.ListEvents(ctx, tenant, store.EventQuery{After: after, Limit: store.MaxEventLimit})
		if err != nil {
			return nil, 0, err
		}
		for _, e := range page.Events {
			n++
			for _, h := range hooks {
				if h.Wants(e.Type) {
					jobs = append(jobs, delivery.Job{Tenant: tenant, WebhookID: h.ID, EventID: e.ID, Event: e.JSON, First: now})
				}
			}
		}
		if page.Next == after || len(page.Events) == 0 {
			return jobs, n, nil
		}
		after = page.Next
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
}

// deliverNow delivers jobs from this process, retrying failures with
// backoff until timeout (then the webhook is marked failing).
func deliverNow(ctx context.Context, st *store.Store, p delivery.Policy, jobs []delivery.Job, timeout time.Duration, stderr io.Writer) (delivered, failed int, err error) {
	var mu sync.Mutex
	left := len(jobs)
	finished := make(chan struct{})
	q := delivery.NewMemQueue()
	d := delivery.NewDispatcher(st, p,
		delivery.WithLogger(discardLogger()),
		delivery.WithBackoff(time.Second, 30*time.Second, timeout),
		delivery.WithOnDone(func(j delivery.Job, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				delivered++
			} else {
				failed++
				fmt.Fprintf(stderr, "event %s to webhook %s: %v\n", j.EventID, j.WebhookID, err)
			}
			left--
			if left == 0 {
				close(finished)
			}
		}))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(stderr, "webhook deliveries stopped: %v\n", r)
			}
		}()
		q.Run(rctx, 8, d.Handle)
	}()
	_ = q.Enqueue(rctx, jobs)
	select {
	case <-finished:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(timeout + time.Minute):
		err = errors.New("replay did not finish in time")
	}
	cancel()
	<-ran
	mu.Lock()
	defer mu.Unlock()
	return delivered, failed, err
}
