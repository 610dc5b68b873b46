package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Directory events are items of a partition of their own per tenant:
//
//	pk "T#{tenant}#EV"  sk "{event id}"  ttl = event time + retention
//
// Event ids sort in time order (see package events), so one Query reads a
// tenant's events in order after a cursor, and the same partition read
// newest first is the audit trail. An event is written with a conditional
// put on its id: a redelivered stream batch never stores an event twice.

// DefaultEventTTL is how long events are kept for the Events API when the
// tenant has no SettingEventTTLDays.
const DefaultEventTTL = 30 * 24 * time.Hour

// SettingEventTTLDays is the tenant setting for how many days events are
// served by the Events API (default 30).
const SettingEventTTLDays = "eventTTLDays"

// EventTTL returns how long the tenant's events are served: the
// SettingEventTTLDays setting when it is a positive number of days, else
// DefaultEventTTL (t may be nil).
func (t *Tenant) EventTTL() time.Duration {
	if n, err := strconv.Atoi(t.Setting(SettingEventTTLDays)); err == nil && n > 0 {
		return time.Duration(n) * 24 * time.Hour
	}
	return DefaultEventTTL
}

// EventKeep returns how long an event item of the tenant is kept: the longer
// of its event retention and its audit retention, since the audit trail is
// read from the same items.
func (t *Tenant) EventKeep() time.Duration { return max(t.EventTTL(), t.AuditTTL()) }

// Limits of ListEvents.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// StoredEvent is a directory event as stored: the fields the store indexes
// and filters on, and the event's JSON as delivered.
type StoredEvent struct {
	ID           string
	Tenant       string
	Type         string
	Time         time.Time
	ResourceType string
	ResourceID   string
	TokenID      string
	RequestID    string
	Via          string
	JSON         []byte
}

type eventItem struct {
	PK           string    `dynamo:"pk,hash"`
	SK           string    `dynamo:"sk,range"`
	Type         string    `dynamo:"type"`
	EventType    string    `dynamo:"evType"`
	Time         time.Time `dynamo:"time"`
	ResourceType string    `dynamo:"resourceType,omitempty"`
	ResourceID   string    `dynamo:"resourceId,omitempty"`
	TokenID      string    `dynamo:"tokenId,omitempty"`
	RequestID    string    `dynamo:"requestId,omitempty"`
	Via          string    `dynamo:"via,omitempty"`
	Body         []byte    `dynamo:"body"`
	TTL          int64     `dynamo:"ttl"`
}

func eventPK(tenant string) string { return tenantPK(tenant) + "#EV" }

func (it *eventItem) event(tenant string) StoredEvent {
	return StoredEvent{ID: it.SK, Tenant: tenant, Type: it.EventType, Time: it.Time, ResourceType: it.ResourceType,
		ResourceID: it.ResourceID, TokenID: it.TokenID, RequestID: it.RequestID, Via: it.Via, JSON: it.Body}
}

// eventPutWorkers bounds the conditional puts of one PutEvents in flight.
const eventPutWorkers = 16

// PutEvents stores events, each kept for keep (its tenant's EventKeep) after
// its time, with one conditional PutItem per event (up to 16 in flight): an
// event whose id is already stored is left as it is. It returns how many
// were new; on error, some events may have been stored, and calling it
// again with the same events is safe.
func (s *Store) PutEvents(ctx context.Context, evs []StoredEvent, keep func(tenant string) time.Duration) (int, error) {
	var (
		mu       sync.Mutex
		stored   int
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range min(eventPutWorkers, len(evs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, fmt.Errorf("put events: panic: %v\n%s", r, debug.Stack()))
					mu.Unlock()
					for range next { // let the feeder finish
					}
				}
			}()
			for i := range next {
				isNew, err := s.putEvent(ctx, evs[i], keep(evs[i].Tenant))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if isNew {
					stored++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range evs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("put events: %w", ctx.Err())
	}
	return stored, firstErr
}

func (s *Store) putEvent(ctx context.Context, e StoredEvent, keep time.Duration) (bool, error) {
	if e.Tenant == "" || e.ID == "" {
		return false, fmt.Errorf("put event: tenant and id are required")
	}
	if keep <= 0 {
		keep = DefaultEventTTL
	}
	it := eventItem{PK: eventPK(e.Tenant), SK: e.ID, Type: "event", EventType: e.Type, Time: e.Time.UTC(),
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, TokenID: e.TokenID, RequestID: e.RequestID,
		Via: e.Via, Body: e.JSON, TTL: e.Time.Add(keep).Unix()}
	err := s.table.Put(it).If("attribute_not_exists($)", table.PartitionKey).Run(ctx)
	switch {
	case err == nil:
		return true, nil
	case isCondFailed(err):
		return false, nil // stored by an earlier delivery
	case isValidation(err):
		return false, fmt.Errorf("put event %s: %w: %w", e.ID, ErrTooLarge, err)
	}
	return false, fmt.Errorf("put event %s: %w", e.ID, err)
}

// EventQuery selects a tenant's events.
type EventQuery struct {
	// After is a cursor: only events with greater ids are returned ("" from
	// the oldest kept).
	After string
	// Before, when set, is an exclusive upper bound on ids.
	Before string
	// Limit is the most events returned: ≤ 0 means DefaultEventLimit; it is
	// capped at MaxEventLimit.
	Limit int
	// Types, when set, keeps only events of these types.
	Types []string
}

// EventPage is one page of events in id order.
type EventPage struct {
	Events []StoredEvent
	// Next is the cursor to pass as After for the events after this page.
	// It moves past events that the type filter skipped, and equals the
	// query's After when nothing new was read.
	Next string
}

// ListEvents returns a page of the tenant's events in id (time) order: one
// Query, which with a type filter may read on (in pages of up to 1 MB) until
// it has Limit matches, reaches the end or ctx ends. Events past their TTL
// are left out.
func (s *Store) ListEvents(ctx context.Context, tenant string, q EventQuery) (EventPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	if q.After != "" && q.Before != "" && q.After+" " > q.Before {
		return EventPage{Next: q.After}, nil // an empty range: DynamoDB refuses BETWEEN with lo > hi
	}
	pk := eventPK(tenant)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.name),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": table.PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		Limit:                     aws.Int32(int32(limit)),
	}
	// The start goes in the key condition, not ExclusiveStartKey: a cursor
	// need not be the key of an item. Ids have a fixed length, so after+" "
	// sorts after the cursor and before every greater id.
	switch {
	case q.After != "" && q.Before != "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi")
		in.ExpressionAttributeValues[":lo"] = &types.AttributeValueMemberS{Value: q.After + " "}
		in.ExpressionAttributeValues[":hi"] = &types.AttributeValueMemberS{Value: q.Before}
	case q.After != "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk > :lo")
		in.ExpressionAttributeValues[":lo"] = &types.AttributeValueMemberS{Value: q.After}
	case q.Before != "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk < :hi")
		in.ExpressionAttributeValues[":hi"] = &types.AttributeValueMemberS{Value: q.Before}
	}
	if q.After != "" || q.Before != "" {
		in.ExpressionAttributeNames["#sk"] = table.SortKey
	}
	if len(q.Types) > 0 {
		names := make([]string, len(q.Types))
		for i, t := range q.Types {
			names[i] = fmt.Sprintf(":t%d", i)
			in.ExpressionAttributeValues[names[i]] = &types.AttributeValueMemberS{Value: t}
		}
		in.ExpressionAttributeNames["#ev"] = "evType"
		in.FilterExpression = aws.String("#ev IN (" + strings.Join(names, ", ") + ")")
	}
	page := EventPage{Next: q.After}
	now := s.now().Unix()
	client := s.db.Client()
	for {
		out, err := client.Query(ctx, in)
		if err != nil {
			return EventPage{}, fmt.Errorf("list events of %s: %w", tenant, err)
		}
		for _, raw := range out.Items {
			var it eventItem
			if err := dynamo.UnmarshalItem(raw, &it); err != nil {
				return EventPage{}, fmt.Errorf("list events of %s: decode: %w", tenant, err)
			}
			if q.Before != "" && it.SK >= q.Before {
				return page, nil // BETWEEN includes its upper bound
			}
			page.Next = it.SK
			if it.TTL > 0 && it.TTL < now {
				continue
			}
			page.Events = append(page.Events, it.event(tenant))
			if len(page.Events) == limit {
				return page, nil
			}
		}
		sk, _ := out.LastEvaluatedKey[table.SortKey].(*types.AttributeValueMemberS)
		if sk == nil {
			return page, nil
		}
		page.Next = sk.Value
		if ctx.Err() != nil {
			return page, nil // what was read is a valid page
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ListEventAudit returns up to limit audit entries of tenant at or after
// since (all kept when zero), newest first, read from its events: every
// change of a user, group or membership, whatever path made it. Operation
// is the event type. limit ≤ 0 means DefaultAuditLimit; it is capped at
// MaxAuditLimit. One Query reading only the entries returned.
func (s *Store) ListEventAudit(ctx context.Context, tenant string, since time.Time, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	qu := s.table.Get(table.PartitionKey, eventPK(tenant)).Order(dynamo.Descending).Limit(limit).
		Project("sk", "evType", "time", "resourceType", "resourceId", "tokenId", "requestId", "ttl")
	if !since.IsZero() {
		us := since.UnixMicro()
		qu = qu.Range(table.SortKey, dynamo.GreaterOrEqual, fmt.Sprintf("%016d", max(us, 0)))
	}
	var items []eventItem
	if err := qu.All(ctx, &items); err != nil {
		return nil, fmt.Errorf("list event audit of %s: %w", tenant, err)
	}
	now := s.now().Unix()
	out := make([]AuditEntry, 0, len(items))
	for _, it := range items {
		if it.TTL > 0 && it.TTL < now {
			continue
		}
		out = append(out, AuditEntry{Time: it.Time, TokenID: it.TokenID, Operation: it.EventType,
			ResourceType: it.ResourceType, ResourceID: it.ResourceID, RequestID: it.RequestID})
	}
	return out, nil
}

// ListTrail returns the tenant's audit trail newest first: entries read from
// its events merged with entries written directly (PutAudit), up to limit,
// at or after since.
func (s *Store) ListTrail(ctx context.Context, tenant string, since time.Time, limit int) ([]AuditEntry, error) {
	evs, err := s.ListEventAudit(ctx, tenant, since, limit)
	if err != nil {
		return nil, err
	}
	direct, err := s.ListAudit(ctx, tenant, since, limit)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	out := make([]AuditEntry, 0, min(limit, len(evs)+len(direct)))
	for len(out) < limit && (len(evs) > 0 || len(direct) > 0) {
		if len(direct) == 0 || len(evs) > 0 && !evs[0].Time.Before(direct[0].Time) {
			out, evs = append(out, evs[0]), evs[1:]
		} else {
			out, direct = append(out, direct[0]), direct[1:]
		}
	}
	return out, nil
}
