package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Index paging (startIndex/count) over DynamoDB, whose queries page by key,
// would re-read every earlier page to reach an offset: O(N²) for an import.
// Instead each page served records where the next one starts, as a small item
// with a TTL keyed by the query and the offset. Okta's import asks for
// startIndex=1,101,201,…, so every page after the first starts from a cursor:
// one extra item read per page, O(N) for the whole import, and it works across
// Lambda instances.

type cursorItem struct {
	PK    string `dynamo:"pk,hash"`
	SK    string `dynamo:"sk,range"`
	After string `dynamo:"after"`
	TTL   int64  `dynamo:"ttl"`
}

func cursorSK(query string, offset int) string {
	h := sha256.Sum256([]byte(query))
	return "CUR#" + hex.EncodeToString(h[:12]) + "#" + strconv.Itoa(offset)
}

// SaveCursor records that the results of query (any string identifying the
// listing: resource type, filter, …) from offset on (0-based) start after the
// item with id after.
func (s *Store) SaveCursor(ctx context.Context, tenant, query string, offset int, after string) error {
	it := cursorItem{PK: tenantPK(tenant), SK: cursorSK(query, offset), After: after, TTL: s.now().Add(s.cursorTTL).Unix()}
	if err := s.table.Put(it).Run(ctx); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	return nil
}

// LoadCursor returns the id after which the results of query start at offset,
// as saved by SaveCursor and not yet expired. ok is false when there is none.
func (s *Store) LoadCursor(ctx context.Context, tenant, query string, offset int) (after string, ok bool, err error) {
	var it cursorItem
	err = s.table.Get(table.PartitionKey, tenantPK(tenant)).Range(table.SortKey, dynamo.Equal, cursorSK(query, offset)).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load cursor: %w", err)
	}
	if it.TTL < s.now().Unix() {
		return "", false, nil // expired; DynamoDB deletes it eventually
	}
	return it.After, true, nil
}

// PageStart is what a page of an unfiltered listing reads before the page
// itself: the tenant's count and the cursor saved for the page's offset.
type PageStart struct {
	Total int    // the tenant's users (or groups)
	After string // the id the page starts after, when HasCursor
	// HasCursor is true when a cursor was saved for the offset and has not
	// expired.
	HasCursor bool
}

// UserPageStart reads the tenant's user count and, for offset > 0, the
// cursor SaveCursor recorded for query at offset: together in one
// BatchGetItem (one GetItem at offset 0).
func (s *Store) UserPageStart(ctx context.Context, tenant, query string, offset int) (PageStart, error) {
	return s.pageStart(ctx, tenant, userCountSK, query, offset)
}

// GroupPageStart is UserPageStart for groups.
func (s *Store) GroupPageStart(ctx context.Context, tenant, query string, offset int) (PageStart, error) {
	return s.pageStart(ctx, tenant, groupCountSK, query, offset)
}

func (s *Store) pageStart(ctx context.Context, tenant, countSK, query string, offset int) (PageStart, error) {
	var ps PageStart
	if offset <= 0 {
		n, err := s.count(ctx, tenant, countSK)
		ps.Total = n
		return ps, err
	}
	pk, curSK := tenantPK(tenant), cursorSK(query, offset)
	var items []struct {
		SK    string `dynamo:"sk"`
		N     int    `dynamo:"n"`
		After string `dynamo:"after"`
		TTL   int64  `dynamo:"ttl"`
	}
	err := s.table.Batch(table.PartitionKey, table.SortKey).
		Get(dynamo.Keys{pk, countSK}, dynamo.Keys{pk, curSK}).Consistent(true).All(ctx, &items)
	if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
		return ps, fmt.Errorf("page start %s: %w", countSK, err)
	}
	now := s.now().Unix()
	for _, it := range items {
		switch it.SK {
		case countSK:
			ps.Total = it.N
		case curSK:
			if it.TTL >= now { // an expired one is deleted by DynamoDB eventually
				ps.After, ps.HasCursor = it.After, true
			}
		}
	}
	return ps, nil
}
