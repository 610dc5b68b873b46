package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Audit entries are items of the tenant's partition:
//
//	pk "T#{tenant}"  sk "AUDIT#{time}#{random}"  ttl = time + the tenant's audit TTL
//
// {time} is RFC 3339 in UTC with exactly nine fractional digits
// (2006-01-02T15:04:05.000000000Z): unlike time.RFC3339Nano, which drops
// trailing zeros, it sorts as text in time order, so one Query reads a time
// range newest first. {random} keeps entries of the same nanosecond apart.

// DefaultAuditTTL is how long audit entries are kept when the tenant has no
// SettingAuditTTLDays: DynamoDB deletes them after it (within a few days).
const DefaultAuditTTL = 90 * 24 * time.Hour

// Default and largest number of entries ListAudit returns.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditEntry is one write made through the API: who, what and when.
type AuditEntry struct {
	Time         time.Time // when; now when zero
	TokenID      string    // the token that made the request
	Operation    string    // e.g. "POST /Users", "PATCH /Groups"
	ResourceType string    // "User", "Group", …
	ResourceID   string    // the resource written, when known
	Status       int       // HTTP status answered
	RequestID    string    // optional: the request id of the JSON log line
}

type auditItem struct {
	PK           string    `dynamo:"pk,hash"`
	SK           string    `dynamo:"sk,range"`
	Type         string    `dynamo:"type"`
	Time         time.Time `dynamo:"time"`
	TokenID      string    `dynamo:"tokenId,omitempty"`
	Operation    string    `dynamo:"op,omitempty"`
	ResourceType string    `dynamo:"resourceType,omitempty"`
	ResourceID   string    `dynamo:"resourceId,omitempty"`
	Status       int       `dynamo:"status,omitempty"`
	RequestID    string    `dynamo:"requestId,omitempty"`
	TTL          int64     `dynamo:"ttl"`
}

const (
	auditPrefix     = "AUDIT#"
	auditTimeFormat = "2006-01-02T15:04:05.000000000Z"
)

func auditSKTime(t time.Time) string { return auditPrefix + t.UTC().Format(auditTimeFormat) }

// PutAudit records one audit entry of tenant, kept for ttl (DefaultAuditTTL
// when zero or negative; pass Tenant.AuditTTL()): one PutItem.
func (s *Store) PutAudit(ctx context.Context, tenant string, e AuditEntry, ttl time.Duration) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if ttl <= 0 {
		ttl = DefaultAuditTTL
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	it := auditItem{PK: tenantPK(tenant), SK: auditSKTime(e.Time) + "#" + hex.EncodeToString(r[:]), Type: "audit",
		Time: e.Time.UTC(), TokenID: e.TokenID, Operation: e.Operation, ResourceType: e.ResourceType,
		ResourceID: e.ResourceID, Status: e.Status, RequestID: e.RequestID, TTL: e.Time.Add(ttl).Unix()}
	if err := s.table.Put(it).Run(ctx); err != nil {
		return fmt.Errorf("put audit entry: %w", err)
	}
	return nil
}

// ListAudit returns up to limit audit entries of tenant made at or after
// since (all when since is zero), newest first: one Query reading only the
// entries returned. limit ≤ 0 means DefaultAuditLimit; it is capped at
// MaxAuditLimit. Entries past their TTL that DynamoDB has not deleted yet are
// left out.
func (s *Store) ListAudit(ctx context.Context, tenant string, since time.Time, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	lo := auditPrefix
	if !since.IsZero() {
		lo = auditSKTime(since)
	}
	// "AUDIT$" is the first key after every "AUDIT#…" key.
	var items []auditItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Between, lo, "AUDIT$").
		Order(dynamo.Descending).Limit(limit).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("list audit of %s: %w", tenant, err)
	}
	now := s.now().Unix()
	out := make([]AuditEntry, 0, len(items))
	for _, it := range items {
		if it.TTL > 0 && it.TTL < now {
			continue
		}
		out = append(out, AuditEntry{Time: it.Time, TokenID: it.TokenID, Operation: it.Operation, ResourceType: it.ResourceType,
			ResourceID: it.ResourceID, Status: it.Status, RequestID: it.RequestID})
	}
	return out, nil
}
