package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/table"
)

// Actor is who makes a write: recorded on the items written (see the
// Actor* attributes in package table), so the table's stream attributes
// every change without an extra write.
type Actor struct {
	TokenID   string // the token of the request; empty for the CLI
	RequestID string // the request id (the one in the JSON log line)
	Via       string // ViaSCIM, ViaXaaS or ViaCLI
}

// Paths a write comes through.
const (
	ViaSCIM = "scim"
	ViaXaaS = "xaas"
	ViaCLI  = "cli"
)

type actorKey struct{}

// WithActor returns a context whose writes record a as their actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor set by WithActor.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// ActorStamp holds the actor attributes of an item. Item structs embed it
// so a Put records the actor with the item in the same write.
type ActorStamp struct {
	ActorToken   string `dynamo:"actorToken,omitempty"`
	ActorRequest string `dynamo:"actorRequest,omitempty"`
	ActorVia     string `dynamo:"actorVia,omitempty"`
	ActorAt      string `dynamo:"actorAt,omitempty"`
}

// actorStamp returns the stamp for a write made now with ctx's actor. Every
// write is stamped with its time, actor or not, so its event has the write's
// time.
func (s *Store) actorStamp(ctx context.Context) ActorStamp {
	a, _ := ActorFrom(ctx)
	return ActorStamp{ActorToken: a.TokenID, ActorRequest: a.RequestID, ActorVia: a.Via,
		ActorAt: s.now().UTC().Format(time.RFC3339Nano)}
}

// stampUpdate makes an UpdateItem record ctx's actor on the item it updates.
// Attributes of an absent actor are removed (Set of "" removes), so an item
// never keeps the actor of an earlier write.
func (s *Store) stampUpdate(ctx context.Context, u *dynamo.Update) *dynamo.Update {
	st := s.actorStamp(ctx)
	return u.Set(table.ActorToken, st.ActorToken).Set(table.ActorRequest, st.ActorRequest).
		Set(table.ActorVia, st.ActorVia).Set(table.ActorAt, st.ActorAt)
}

// deletionItem is a deletion marker (see table.DeletionPrefix).
type deletionItem struct {
	PK      string `dynamo:"pk,hash"`
	SK      string `dynamo:"sk,range"`
	Type    string `dynamo:"type"`
	Deleted string `dynamo:"actorDeleted"`
	TTL     int64  `dynamo:"ttl"`
	ActorStamp
}

// markDeletion returns the Put of the marker that attributes the deletion of
// the item (pk, sk) to ctx's actor; it belongs in the deleting transaction.
func (s *Store) markDeletion(ctx context.Context, pk, sk string) *dynamo.Put {
	return s.table.Put(deletionItem{PK: pk, SK: table.DeletionPrefix + sk, Type: table.DeletionType, Deleted: pk + "|" + sk,
		TTL: s.now().Add(table.DeletionMarkerHours * time.Hour).Unix(), ActorStamp: s.actorStamp(ctx)})
}

// ItemKey is the primary key of an item.
type ItemKey struct{ PK, SK string }

// Deletions returns who deleted the items of keys, keyed "{pk}|{sk}", from
// their deletion markers: consistent BatchGetItems of up to 100 keys. An
// item without a marker (deleted before markers, or its marker expired) is
// absent from the result.
func (s *Store) Deletions(ctx context.Context, keys []ItemKey) (map[string]ActorStamp, error) {
	out := make(map[string]ActorStamp, len(keys))
	for start := 0; start < len(keys); start += 100 {
		chunk := keys[start:min(start+100, len(keys))]
		dk := make([]dynamo.Keyed, len(chunk))
		for i, k := range chunk {
			dk[i] = dynamo.Keys{k.PK, table.DeletionPrefix + k.SK}
		}
		var items []deletionItem
		err := s.table.Batch(table.PartitionKey, table.SortKey).Get(dk...).Consistent(true).All(ctx, &items)
		if err != nil && !errors.Is(err, dynamo.ErrNotFound) {
			return nil, fmt.Errorf("read deletion markers: %w", err)
		}
		for _, it := range items {
			if it.Type == table.DeletionType && it.Deleted != "" {
				out[it.Deleted] = it.ActorStamp
			}
		}
	}
	return out, nil
}
