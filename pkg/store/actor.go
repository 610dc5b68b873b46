package store

import (
	"context"
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

// stampDelete makes an UpdateItem that belongs to the same transaction as
// the deletion of the item (pk, sk) record ctx's actor as that deletion's
// actor (table.ActorDeleted).
func (s *Store) stampDelete(ctx context.Context, u *dynamo.Update, pk, sk string) *dynamo.Update {
	return s.stampUpdate(ctx, u).Set(table.ActorDeleted, pk+"|"+sk)
}
