package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Webhook subscriptions are items of the tenant's partition:
//
//	pk "T#{tenant}"  sk "WH#{id}"
//
// The signing secret is kept on the item (deliveries are signed with it) and
// shown to the operator once, when the webhook is added.

// MaxWebhooksPerTenant bounds a tenant's webhook subscriptions: every event
// is delivered to each of them.
const MaxWebhooksPerTenant = 10

// Webhook is one webhook subscription of a tenant.
type Webhook struct {
	ID      string
	Tenant  string
	URL     string
	Types   []string // event types delivered; empty: all
	Secret  string   // the signing secret; never shown after creation
	Created time.Time
	// Failing is set when a delivery exhausted its retries; LastError and
	// LastErrorAt describe the last failed attempt. A later successful
	// delivery clears it.
	Failing     bool
	LastError   string
	LastErrorAt time.Time
}

// Wants reports whether the webhook subscribes to events of type typ.
func (w *Webhook) Wants(typ string) bool { return len(w.Types) == 0 || slices.Contains(w.Types, typ) }

type webhookItem struct {
	PK          string    `dynamo:"pk,hash"`
	SK          string    `dynamo:"sk,range"`
	Type        string    `dynamo:"type"`
	ID          string    `dynamo:"id"`
	URL         string    `dynamo:"url"`
	Types       []string  `dynamo:"types,set,omitempty"`
	Secret      string    `dynamo:"secret"`
	Created     time.Time `dynamo:"created"`
	Failing     bool      `dynamo:"failing"`
	LastError   string    `dynamo:"lastError,omitempty"`
	LastErrorAt time.Time `dynamo:"lastErrorAt,omitempty"`
}

const webhookPrefix = "WH#"

func (it *webhookItem) webhook(tenant string) Webhook {
	types := slices.Clone(it.Types)
	slices.Sort(types)
	return Webhook{ID: it.ID, Tenant: tenant, URL: it.URL, Types: types, Secret: it.Secret, Created: it.Created,
		Failing: it.Failing, LastError: it.LastError, LastErrorAt: it.LastErrorAt}
}

// maxWebhookError bounds the stored last error.
const maxWebhookError = 500

// CreateWebhook stores a new webhook subscription (w.ID, URL and Secret
// set by the caller). A tenant has at most MaxWebhooksPerTenant (ErrTooLarge
// beyond); an existing id yields ErrConflict.
func (s *Store) CreateWebhook(ctx context.Context, tenant string, w *Webhook) error {
	if w.ID == "" || w.URL == "" || w.Secret == "" {
		return fmt.Errorf("create webhook: id, url and secret are required")
	}
	existing, err := s.ListWebhooks(ctx, tenant)
	if err != nil {
		return err
	}
	if len(existing) >= MaxWebhooksPerTenant {
		return fmt.Errorf("create webhook: tenant %s has %d webhooks already (at most %d): %w", tenant, len(existing), MaxWebhooksPerTenant, ErrTooLarge)
	}
	if w.Created.IsZero() {
		w.Created = s.now().UTC()
	}
	w.Tenant = tenant
	it := webhookItem{PK: tenantPK(tenant), SK: webhookPrefix + w.ID, Type: "webhook", ID: w.ID, URL: w.URL,
		Types: w.Types, Secret: w.Secret, Created: w.Created.UTC()}
	if err := s.table.Put(it).If("attribute_not_exists($)", table.PartitionKey).Run(ctx); err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("create webhook %s: %w", w.ID, ErrConflict)
		}
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	return nil
}

// ListWebhooks returns the tenant's webhook subscriptions in id order: one
// Query.
func (s *Store) ListWebhooks(ctx context.Context, tenant string) ([]Webhook, error) {
	items, _, err := listPrefix[webhookItem](ctx, s, tenant, webhookPrefix, "", MaxWebhooksPerTenant+1)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", tenant, err)
	}
	out := make([]Webhook, len(items))
	for i := range items {
		out[i] = items[i].webhook(tenant)
	}
	return out, nil
}

// GetWebhook reads one webhook subscription: one GetItem.
func (s *Store) GetWebhook(ctx context.Context, tenant, id string) (*Webhook, error) {
	if len(id) > MaxKeyValue {
		return nil, fmt.Errorf("get webhook: %w", ErrNotFound)
	}
	var it webhookItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, webhookPrefix+id).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("get webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	w := it.webhook(tenant)
	return &w, nil
}

// DeleteWebhook removes a webhook subscription; deliveries still queued for
// it are dropped. ErrNotFound when there is none.
func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	if len(id) > MaxKeyValue {
		return fmt.Errorf("delete webhook: %w", ErrNotFound)
	}
	err := s.table.Delete(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, webhookPrefix+id).
		If("attribute_exists($)", table.PartitionKey).Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("delete webhook %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// MarkWebhookFailing records that a delivery to the webhook exhausted its
// retries, with its last error: one conditional UpdateItem (ErrNotFound
// when the webhook was removed).
func (s *Store) MarkWebhookFailing(ctx context.Context, tenant, id, lastError string, at time.Time) error {
	if len(lastError) > maxWebhookError {
		lastError = lastError[:maxWebhookError]
	}
	err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, webhookPrefix+id).
		Set("failing", true).Set("lastError", lastError).Set("lastErrorAt", at.UTC()).
		If("attribute_exists($)", table.PartitionKey).Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("mark webhook %s failing: %w", id, ErrNotFound)
		}
		return fmt.Errorf("mark webhook %s failing: %w", id, err)
	}
	return nil
}

// MarkWebhookHealthy clears the failing flag after a successful delivery
// (the last error is kept for reference). Call it only for a webhook read as
// failing: it is one UpdateItem.
func (s *Store) MarkWebhookHealthy(ctx context.Context, tenant, id string) error {
	err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, webhookPrefix+id).
		Set("failing", false).If("attribute_exists($)", table.PartitionKey).Run(ctx)
	if err != nil && !isCondFailed(err) {
		return fmt.Errorf("mark webhook %s healthy: %w", id, err)
	}
	return nil
}
