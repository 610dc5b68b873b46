package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// A tenant with a rate limit has one request counter per time window:
//
//	counter  pk "T#{tenant}#RATE#{window start, Unix seconds}"  sk "RATE"  type "rateCounter", n, ttl
//
// Every instance serving the tenant counts into the same item with one
// conditional UpdateItem, so the limit holds across Lambda instances. Each
// window is its own partition key, so a busy tenant's counters spread over
// the table instead of heating one partition. DynamoDB's TTL deletes the
// items after counterTTL.

const rateSK = "RATE"

// counterTTL is how long after its window a counter is kept (DynamoDB
// deletes expired items within a few days; they are never read again).
const counterTTL = 10 * time.Minute

func ratePK(tenant string, start time.Time) string {
	return tenantPK(tenant) + "#RATE#" + strconv.FormatInt(start.Unix(), 10)
}

// CountRequest counts one request of tenant in the window starting at start
// (whole seconds) unless the window already holds limit requests. It
// reports whether the request was counted, that is allowed. It is one
// conditional UpdateItem either way (1 WCU; a refused one is charged too).
func (s *Store) CountRequest(ctx context.Context, tenant string, start time.Time, limit int) (bool, error) {
	if limit < 1 {
		return false, nil
	}
	err := s.table.Update(table.PartitionKey, ratePK(tenant, start)).Range(table.SortKey, rateSK).
		Add("n", 1).
		SetIfNotExists("type", "rateCounter").
		SetIfNotExists(table.TTLAttribute, start.Add(counterTTL).Unix()).
		If("attribute_not_exists($) OR $ < ?", "n", "n", limit).
		Run(ctx)
	if err == nil {
		return true, nil
	}
	if isCondFailed(err) {
		return false, nil
	}
	return false, fmt.Errorf("count request of %s: %w", tenant, err)
}

// RequestCount returns how many requests of tenant the window starting at
// start counted (tests and diagnostics): one strongly consistent GetItem.
func (s *Store) RequestCount(ctx context.Context, tenant string, start time.Time) (int, error) {
	var it struct {
		N int `dynamo:"n"`
	}
	err := s.table.Get(table.PartitionKey, ratePK(tenant, start)).Range(table.SortKey, dynamo.Equal, rateSK).Consistent(true).One(ctx, &it)
	if errors.Is(err, dynamo.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("request count of %s: %w", tenant, err)
	}
	return it.N, nil
}
