package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// A tenant's custom schema extensions are one item, `T#{t}`/`SCHEMAS`,
// holding the operator's schema file as validated JSON. The SCIM layer owns
// its format; the store keeps it opaque.

type schemasItem struct {
	PK       string    `dynamo:"pk,hash"`
	SK       string    `dynamo:"sk,range"`
	Doc      []byte    `dynamo:"doc"`
	Modified time.Time `dynamo:"modified"`
}

const schemasSK = "SCHEMAS"

// PutSchemas stores the tenant's schema extensions document.
func (s *Store) PutSchemas(ctx context.Context, tenant string, doc []byte) error {
	it := schemasItem{PK: tenantPK(tenant), SK: schemasSK, Doc: doc, Modified: s.now().UTC()}
	if err := s.table.Put(it).Run(ctx); err != nil {
		return fmt.Errorf("put schemas of %s: %w", tenant, err)
	}
	return nil
}

// GetSchemas returns the tenant's schema extensions document: one GetItem.
// ErrNotFound means the tenant has none.
func (s *Store) GetSchemas(ctx context.Context, tenant string) ([]byte, error) {
	var it schemasItem
	err := s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, schemasSK).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return nil, fmt.Errorf("schemas of %s: %w", tenant, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("schemas of %s: %w", tenant, err)
	}
	return it.Doc, nil
}

// DeleteSchemas removes the tenant's schema extensions.
func (s *Store) DeleteSchemas(ctx context.Context, tenant string) error {
	if err := s.table.Delete(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, schemasSK).Run(ctx); err != nil {
		return fmt.Errorf("delete schemas of %s: %w", tenant, err)
	}
	return nil
}
