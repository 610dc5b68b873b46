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

// A token is three items, written together and deleted together:
//
//	lookup   pk "TOKEN#{sha256}"  sk "TOKEN"     tenant, id, scopes, expires, suspended…  (authentication: one GetItem)
//	listing  pk "T#{tenant}"      sk "TOK#{id}"  id, hash, label, prefix, scopes, created, expires, lastUsed
//	pointer  pk "TOKID#{id}"      sk "TOKID"     id, tenant, hash  (revoke by id)
//
// Only the SHA-256 of the secret is stored. The lookup item carries a
// denormalised "suspended" flag maintained by SetTenantStatus, so a suspended
// tenant's tokens are refused without reading the tenant.

// Token is a stored bearer token.
type Token struct {
	Hash      string    // hex SHA-256 of the secret (empty in ListTokens results)
	ID        string    // public id, used to list and revoke
	Tenant    string    // tenant the token acts for
	Label     string    // operator's label, e.g. "okta-prod"
	Prefix    string    // first characters of the secret, to recognise it
	Scopes    []string  // e.g. "scim", "xaas"
	Created   time.Time // when it was issued
	Expires   time.Time // zero: never
	LastUsed  time.Time // zero: never (ListTokens only; recorded once per cache refresh)
	Suspended bool      // its tenant is suspended (TokenByHash only)
}

type tokenItem struct {
	PK        string    `dynamo:"pk,hash"`
	SK        string    `dynamo:"sk,range"`
	Type      string    `dynamo:"type"`
	ID        string    `dynamo:"id"`
	Tenant    string    `dynamo:"tenant"`
	Label     string    `dynamo:"label,omitempty"`
	Prefix    string    `dynamo:"prefix,omitempty"`
	Scopes    []string  `dynamo:"scopes,set,omitempty"`
	Created   time.Time `dynamo:"created"`
	Expires   time.Time `dynamo:"expires,omitempty"`
	Suspended bool      `dynamo:"suspended,omitempty"`
}

type tokenListItem struct {
	PK       string    `dynamo:"pk,hash"`
	SK       string    `dynamo:"sk,range"`
	Type     string    `dynamo:"type"`
	ID       string    `dynamo:"id"`
	Hash     string    `dynamo:"hash"`
	Label    string    `dynamo:"label,omitempty"`
	Prefix   string    `dynamo:"prefix,omitempty"`
	Scopes   []string  `dynamo:"scopes,set,omitempty"`
	Created  time.Time `dynamo:"created"`
	Expires  time.Time `dynamo:"expires,omitempty"`
	LastUsed time.Time `dynamo:"lastUsed,omitempty"`
}

type tokenIDItem struct {
	PK     string `dynamo:"pk,hash"`
	SK     string `dynamo:"sk,range"`
	Type   string `dynamo:"type"`
	ID     string `dynamo:"id"`
	Tenant string `dynamo:"tenant"`
	Hash   string `dynamo:"hash"`
}

const (
	tokenSK         = "TOKEN"
	tokenListPrefix = "TOK#"
	tokenIDSK       = "TOKID"
)

func tokenPK(hash string) string   { return "TOKEN#" + hash }
func tokenIDPK(id string) string   { return "TOKID#" + id }
func tokenListSK(id string) string { return tokenListPrefix + id }

// CreateToken stores a new token in one transaction: its lookup, listing and
// id items, and the tenant's token count and version. The tenant must be
// active and have fewer than MaxTokensPerTenant tokens. When createTenant is
// true a missing tenant is created (active, with its directory entry) in the
// same transaction (the local run and tests); otherwise a missing tenant
// yields ErrNotFound. A suspended tenant yields ErrSuspended, a full one
// ErrTooLarge, and a secret (hash) or id already stored ErrConflict.
func (s *Store) CreateToken(ctx context.Context, t Token, createTenant bool) error {
	now := s.now().UTC()
	if t.Created.IsZero() {
		t.Created = now
	}
	created, expires := t.Created.UTC(), t.Expires.UTC()
	if t.Expires.IsZero() {
		expires = time.Time{}
	}
	ten := s.table.Update(table.PartitionKey, tenantPK(t.Tenant)).Range(table.SortKey, tenantSK).
		Add("tokens", 1).Add("ver", 1)
	tx := s.db.WriteTx()
	if createTenant {
		tx.Update(ten.SetIfNotExists("type", "tenant").SetIfNotExists("id", t.Tenant).SetIfNotExists("created", now).
			SetIfNotExists("status", TenantActive).
			If("attribute_not_exists($) OR ($ = ? AND $ < ?)", table.PartitionKey, "status", TenantActive, "tokens", MaxTokensPerTenant))
		tx.Update(s.table.Update(table.PartitionKey, tenantDirPK).Range(table.SortKey, tenantDirSK(t.Tenant)).
			SetIfNotExists("type", "tenantDir").SetIfNotExists("id", t.Tenant).SetIfNotExists("created", now).
			SetIfNotExists("status", TenantActive))
	} else {
		tx.Update(ten.If("attribute_exists($) AND $ = ? AND $ < ?", table.PartitionKey, "status", TenantActive, "tokens", MaxTokensPerTenant))
	}
	lookup := tokenItem{PK: tokenPK(t.Hash), SK: tokenSK, Type: "token", ID: t.ID, Tenant: t.Tenant, Label: t.Label,
		Prefix: t.Prefix, Scopes: t.Scopes, Created: created, Expires: expires}
	listing := tokenListItem{PK: tenantPK(t.Tenant), SK: tokenListSK(t.ID), Type: "tokenRef", ID: t.ID, Hash: t.Hash,
		Label: t.Label, Prefix: t.Prefix, Scopes: t.Scopes, Created: created, Expires: expires}
	pointer := tokenIDItem{PK: tokenIDPK(t.ID), SK: tokenIDSK, Type: "tokenId", ID: t.ID, Tenant: t.Tenant, Hash: t.Hash}
	err := tx.
		Put(s.table.Put(lookup).If("attribute_not_exists($)", table.PartitionKey)).
		Put(s.table.Put(listing).If("attribute_not_exists($)", table.PartitionKey)).
		Put(s.table.Put(pointer).If("attribute_not_exists($)", table.PartitionKey)).
		Run(ctx)
	if err == nil {
		return nil
	}
	if !isCondFailed(err) {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	if r := txReasons(err); len(r) > 0 && r[0] != "ConditionalCheckFailed" {
		return fmt.Errorf("create token %s: token already stored: %w", t.ID, ErrConflict)
	}
	// The tenant's condition failed: say why.
	cur, gerr := s.GetTenant(ctx, t.Tenant)
	switch {
	case errors.Is(gerr, ErrNotFound):
		return fmt.Errorf("create token %s: unknown tenant %s: %w", t.ID, t.Tenant, ErrNotFound)
	case gerr != nil:
		return fmt.Errorf("create token %s: %w", t.ID, gerr)
	case cur.Suspended():
		return fmt.Errorf("create token %s: tenant %s is suspended: %w", t.ID, t.Tenant, ErrSuspended)
	case cur.Tokens >= MaxTokensPerTenant:
		return fmt.Errorf("create token %s: tenant %s has %d tokens, the most allowed (revoke one first): %w",
			t.ID, t.Tenant, cur.Tokens, ErrTooLarge)
	}
	return fmt.Errorf("create token %s: token already stored: %w", t.ID, ErrConflict)
}

// TokenByHash reads a token by the hash of its secret: one GetItem. The read
// is strongly consistent (1 RCU instead of 0.5, once per cache TTL), so a
// token just issued is never refused, and cached as refused, by mistake.
// Suspended is set when its tenant is suspended.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	var it tokenItem
	err := s.table.Get(table.PartitionKey, tokenPK(hash)).Range(table.SortKey, dynamo.Equal, tokenSK).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &Token{Hash: hash, ID: it.ID, Tenant: it.Tenant, Label: it.Label, Prefix: it.Prefix, Scopes: it.Scopes,
		Created: it.Created, Expires: it.Expires, Suspended: it.Suspended}, nil
}

// ListTokens returns the live tokens of a tenant in id order, without their
// hashes: one Query of the tenant's token listing items.
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	items, err := s.tokenRefs(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", tenant, err)
	}
	out := make([]Token, len(items))
	for i, it := range items {
		slices.Sort(it.Scopes)
		out[i] = Token{ID: it.ID, Tenant: tenant, Label: it.Label, Prefix: it.Prefix, Scopes: it.Scopes,
			Created: it.Created, Expires: it.Expires, LastUsed: it.LastUsed}
	}
	return out, nil
}

func (s *Store) tokenRefs(ctx context.Context, tenant string) ([]tokenListItem, error) {
	var items []tokenListItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.BeginsWith, tokenListPrefix).
		Consistent(true).All(ctx, &items)
	return items, err
}

// RevokeToken deletes the token with the given id: its lookup, listing and
// id items in one transaction, with the tenant's token count. It returns the
// revoked token (without its hash). An unknown id yields ErrNotFound.
// Authenticators that cached the token keep accepting it until their cache
// entry expires.
func (s *Store) RevokeToken(ctx context.Context, id string) (*Token, error) {
	var p tokenIDItem
	err := s.table.Get(table.PartitionKey, tokenIDPK(id)).Range(table.SortKey, dynamo.Equal, tokenIDSK).Consistent(true).One(ctx, &p)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("revoke token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w", id, err)
	}
	err = s.db.WriteTx().
		Delete(s.table.Delete(table.PartitionKey, tokenIDPK(id)).Range(table.SortKey, tokenIDSK).If("attribute_exists($)", table.PartitionKey)).
		Delete(s.table.Delete(table.PartitionKey, tokenPK(p.Hash)).Range(table.SortKey, tokenSK)).
		Delete(s.table.Delete(table.PartitionKey, tenantPK(p.Tenant)).Range(table.SortKey, tokenListSK(id))).
		Update(s.table.Update(table.PartitionKey, tenantPK(p.Tenant)).Range(table.SortKey, tenantSK).
			Add("tokens", -1).If("attribute_exists($)", table.PartitionKey)).
		Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			if r := txReasons(err); len(r) > 0 && r[0] == "ConditionalCheckFailed" {
				return nil, fmt.Errorf("revoke token %s: %w", id, ErrNotFound) // revoked meanwhile
			}
			return nil, fmt.Errorf("revoke token %s: tenant %s missing: %w", id, p.Tenant, ErrNotFound)
		}
		return nil, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return &Token{ID: id, Tenant: p.Tenant}, nil
}

// TouchToken records that a token was used at the given time: one
// UpdateItem of its listing item (nothing when it was revoked meanwhile).
func (s *Store) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	err := s.table.Update(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, tokenListSK(id)).
		Set("lastUsed", at.UTC()).If("attribute_exists($)", table.PartitionKey).Run(ctx)
	if err != nil {
		if isCondFailed(err) {
			return fmt.Errorf("touch token %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}
