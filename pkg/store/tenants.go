package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Tenants are items of the same table:
//
//	tenant     pk "T#{id}"   sk "TENANT"   id, display, created, status, settings, tokens, ver
//	directory  pk "TENANTS"  sk "T#{id}"   id, display, created, status
//
// The directory item is written in the same transaction as the tenant item,
// so listing the tenants is one Query of the operator partition "TENANTS"
// (the only key of the table that does not start with a tenant; only the
// operator CLI reads it). "tokens" counts the tenant's live tokens and "ver"
// changes whenever a token is issued or the status changes, which is what
// keeps a suspension and a concurrent token issue consistent.

// Tenant statuses.
const (
	TenantActive    = "active"
	TenantSuspended = "suspended"
)

// Tenant setting names (keys of Tenant.Settings). Values are strings; each
// reader parses its own and treats a missing or unparsable value as the
// default.
const (
	SettingPasswordSync         = "passwordSync"         // "true" stores password hashes (default "false": discarded)
	SettingExtensionPassThrough = "extensionPassThrough" // "true" accepts unknown extension URNs
	SettingRateLimit            = "rateLimit"            // requests per second for the tenant
	SettingAuditTTLDays         = "auditTTLDays"         // days audit entries are kept (default 90)
)

// MaxTokensPerTenant bounds the live (not revoked) tokens of a tenant, so
// that suspending or resuming it flags all of them in one transaction.
// Expired tokens count until they are revoked.
const MaxTokensPerTenant = 50

// ErrSuspended means the tenant is suspended.
var ErrSuspended = errors.New("tenant suspended")

// Tenant is a tenant: one Okta org or app served by the deployment.
type Tenant struct {
	ID       string
	Display  string
	Created  time.Time
	Status   string            // TenantActive or TenantSuspended
	Settings map[string]string // see the Setting… constants
	Tokens   int               // live tokens (not filled by ListTenants)
	Version  int64             // changes on every token issue and status change
	// Resumed is when the tenant was last resumed after a suspension
	// (zero: never).
	Resumed time.Time
}

// Suspended reports whether the tenant is suspended.
func (t *Tenant) Suspended() bool { return t.Status == TenantSuspended }

// Setting returns the named setting, "" when unset (t may be nil).
func (t *Tenant) Setting(name string) string {
	if t == nil {
		return ""
	}
	return t.Settings[name]
}

// AuditTTL returns how long the tenant's audit entries are kept: the
// SettingAuditTTLDays setting when it is a positive number of days, else
// DefaultAuditTTL (t may be nil).
func (t *Tenant) AuditTTL() time.Duration {
	if n, err := strconv.Atoi(t.Setting(SettingAuditTTLDays)); err == nil && n > 0 {
		return time.Duration(n) * 24 * time.Hour
	}
	return DefaultAuditTTL
}

type tenantItem struct {
	PK       string            `dynamo:"pk,hash"`
	SK       string            `dynamo:"sk,range"`
	Type     string            `dynamo:"type"`
	ID       string            `dynamo:"id"`
	Display  string            `dynamo:"display,omitempty"`
	Created  time.Time         `dynamo:"created"`
	Status   string            `dynamo:"status"`
	Settings map[string]string `dynamo:"settings,omitempty"`
	Tokens   int               `dynamo:"tokens"`
	Version  int64             `dynamo:"ver"`
	Resumed  time.Time         `dynamo:"resumed,omitempty"`
}

type tenantDirItem struct {
	PK      string    `dynamo:"pk,hash"`
	SK      string    `dynamo:"sk,range"`
	Type    string    `dynamo:"type"`
	ID      string    `dynamo:"id"`
	Display string    `dynamo:"display,omitempty"`
	Created time.Time `dynamo:"created"`
	Status  string    `dynamo:"status"`
}

const (
	tenantSK    = "TENANT"
	tenantDirPK = "TENANTS"
)

func tenantDirSK(id string) string { return "T#" + id }

func (it *tenantItem) tenant() *Tenant {
	return &Tenant{ID: it.ID, Display: it.Display, Created: it.Created, Status: it.Status,
		Settings: it.Settings, Tokens: it.Tokens, Version: it.Version, Resumed: it.Resumed}
}

// CreateTenant stores a new active tenant and its directory entry in one
// transaction. An existing tenant yields ErrConflict. Created defaults to now;
// Status, Tokens and Version are set by the store.
func (s *Store) CreateTenant(ctx context.Context, t *Tenant) error {
	if t.Created.IsZero() {
		t.Created = s.now()
	}
	t.Created = t.Created.UTC()
	t.Status, t.Tokens, t.Version = TenantActive, 0, 1
	it := tenantItem{PK: tenantPK(t.ID), SK: tenantSK, Type: "tenant", ID: t.ID, Display: t.Display, Created: t.Created,
		Status: t.Status, Settings: t.Settings, Version: t.Version}
	dir := tenantDirItem{PK: tenantDirPK, SK: tenantDirSK(t.ID), Type: "tenantDir", ID: t.ID, Display: t.Display,
		Created: t.Created, Status: t.Status}
	err := s.db.WriteTx().
		Put(s.table.Put(it).If("attribute_not_exists($)", table.PartitionKey)).
		Put(s.table.Put(dir).If("attribute_not_exists($)", table.PartitionKey)).
		Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("create tenant %s: already exists: %w", t.ID, ErrConflict)
		}
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// GetTenant reads a tenant with its settings: one strongly consistent
// GetItem. A missing tenant yields ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	var it tenantItem
	err := s.table.Get(table.PartitionKey, tenantPK(id)).Range(table.SortKey, dynamo.Equal, tenantSK).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	return it.tenant(), nil
}

// ListTenants returns every tenant in name order, from the directory: one
// Query (paged by DynamoDB per MB). Settings and Tokens are not filled in.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	var items []tenantDirItem
	err := s.table.Get(table.PartitionKey, tenantDirPK).Range(table.SortKey, dynamo.BeginsWith, "T#").Consistent(true).All(ctx, &items)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]Tenant, len(items))
	for i, it := range items {
		out[i] = Tenant{ID: it.ID, Display: it.Display, Created: it.Created, Status: it.Status}
	}
	return out, nil
}

// statusAttempts bounds the retries of SetTenantStatus when tokens are issued
// or revoked while it runs.
const statusAttempts = 5

// SetTenantStatus suspends (TenantSuspended) or resumes (TenantActive) a
// tenant. In one transaction it sets the status of the tenant and of its
// directory entry and flags (or unflags) the lookup item of every live
// token, so that authenticating a token stays one GetItem and a suspended
// tenant's tokens are refused from it. The transaction is conditioned on the
// tenant's version: a token issued meanwhile makes it retry. Setting the
// current status again is a no-op. Returns the updated tenant.
func (s *Store) SetTenantStatus(ctx context.Context, id, status string) (*Tenant, error) {
	if status != TenantActive && status != TenantSuspended {
		return nil, fmt.Errorf("set tenant %s status: invalid status %q", id, status)
	}
	for range statusAttempts {
		t, err := s.GetTenant(ctx, id)
		if err != nil {
			return nil, err
		}
		if t.Status == status {
			return t, nil
		}
		refs, err := s.tokenRefs(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("set tenant %s status: %w", id, err)
		}
		up := s.table.Update(table.PartitionKey, tenantPK(id)).Range(table.SortKey, tenantSK).Set("status", status).Add("ver", 1)
		resumed := t.Resumed
		if status == TenantActive {
			resumed = s.now().UTC()
			up.Set("resumed", resumed)
		}
		tx := s.db.WriteTx().
			Update(up.If("$ = ?", "ver", t.Version)).
			Update(s.table.Update(table.PartitionKey, tenantDirPK).Range(table.SortKey, tenantDirSK(id)).
				Set("status", status).If("attribute_exists($)", table.PartitionKey))
		for _, r := range refs {
			u := s.table.Update(table.PartitionKey, tokenPK(r.Hash)).Range(table.SortKey, tokenSK)
			tx.Update(u.Set("suspended", status == TenantSuspended).If("attribute_exists($)", table.PartitionKey))
		}
		err = tx.Run(ctx)
		if err == nil {
			t.Status, t.Version, t.Resumed = status, t.Version+1, resumed
			return t, nil
		}
		if !isCondFailed(err) {
			return nil, fmt.Errorf("set tenant %s status: %w", id, err)
		}
		// A token was issued or revoked meanwhile: read again.
	}
	return nil, fmt.Errorf("set tenant %s status: tokens kept changing: %w", id, ErrVersion)
}

// SetTenantSettings merges settings into the tenant's (an empty value removes
// the setting) and returns the updated tenant. The write is conditioned on
// the version read, and retried a few times if it changed.
func (s *Store) SetTenantSettings(ctx context.Context, id string, settings map[string]string) (*Tenant, error) {
	for range statusAttempts {
		t, err := s.GetTenant(ctx, id)
		if err != nil {
			return nil, err
		}
		merged := maps.Clone(t.Settings)
		if merged == nil {
			merged = map[string]string{}
		}
		for k, v := range settings {
			if v == "" {
				delete(merged, k)
			} else {
				merged[k] = v
			}
		}
		if len(merged) == 0 {
			merged = nil
		}
		// The whole item is put back (conditioned on the version read), so a
		// removed setting is gone without a REMOVE action.
		it := tenantItem{PK: tenantPK(id), SK: tenantSK, Type: "tenant", ID: t.ID, Display: t.Display, Created: t.Created.UTC(),
			Status: t.Status, Settings: merged, Tokens: t.Tokens, Version: t.Version + 1, Resumed: t.Resumed.UTC()}
		err = s.table.Put(it).If("$ = ?", "ver", t.Version).Run(ctx)
		if err == nil {
			return it.tenant(), nil
		}
		if !isCondFailed(err) {
			return nil, fmt.Errorf("set tenant %s settings: %w", id, err)
		}
	}
	return nil, fmt.Errorf("set tenant %s settings: %w", id, ErrVersion)
}
