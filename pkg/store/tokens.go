package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Token is a stored bearer token. Only the SHA-256 hash of the secret is kept;
// the item key is "TOKEN#{hash}", so authenticating is one GetItem.
type Token struct {
	Hash    string    // hex SHA-256 of the secret
	ID      string    // public id, used to list and revoke
	Tenant  string    // tenant the token acts for
	Label   string    // operator's label, e.g. "okta-prod"
	Prefix  string    // first characters of the secret, to recognise it
	Scopes  []string  // e.g. "scim", "xaas"
	Created time.Time // when it was issued
	Expires time.Time // zero: never
}

type tokenItem struct {
	PK      string    `dynamo:"pk,hash"`
	SK      string    `dynamo:"sk,range"`
	Type    string    `dynamo:"type"`
	ID      string    `dynamo:"id"`
	Tenant  string    `dynamo:"tenant"`
	Label   string    `dynamo:"label,omitempty"`
	Prefix  string    `dynamo:"prefix,omitempty"`
	Scopes  []string  `dynamo:"scopes,set,omitempty"`
	Created time.Time `dynamo:"created"`
	Expires time.Time `dynamo:"expires,omitempty"`
}

const tokenSK = "TOKEN"

func tokenPK(hash string) string { return "TOKEN#" + hash }

// PutToken stores a token (creating or replacing it).
func (s *Store) PutToken(ctx context.Context, t Token) error {
	it := tokenItem{PK: tokenPK(t.Hash), SK: tokenSK, Type: "token", ID: t.ID, Tenant: t.Tenant, Label: t.Label,
		Prefix: t.Prefix, Scopes: t.Scopes, Created: t.Created.UTC(), Expires: t.Expires.UTC()}
	if t.Expires.IsZero() {
		it.Expires = time.Time{}
	}
	if err := s.table.Put(it).Run(ctx); err != nil {
		return fmt.Errorf("put token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash reads a token by the hash of its secret: one GetItem.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	var it tokenItem
	err := s.table.Get(table.PartitionKey, tokenPK(hash)).Range(table.SortKey, dynamo.Equal, tokenSK).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &Token{Hash: hash, ID: it.ID, Tenant: it.Tenant, Label: it.Label, Prefix: it.Prefix, Scopes: it.Scopes,
		Created: it.Created, Expires: it.Expires}, nil
}
