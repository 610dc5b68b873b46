package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

// TestWritesRecordActor: every write of a user, group or membership records
// its actor and time on the items it writes (a deletion on the item its
// transaction updates), and the events derived from the table's records of
// the real writes carry that actor and time.
func TestWritesRecordActor(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC)
	env := storetest.New(t, store.WithClock(func() time.Time { return at }))
	st := env.Store
	rec := streamtest.New(t, env.Client, table.DefaultName)
	const tenant = "acme"
	scimActor := func(n int) store.Actor {
		return store.Actor{TokenID: fmt.Sprintf("tok%d", n), RequestID: fmt.Sprintf("req%d", n), Via: store.ViaSCIM}
	}
	cli := store.Actor{Via: store.ViaCLI, RequestID: "cli-1"}
	user := func(id, userName string, active bool) *store.User {
		return &store.User{ID: id, UserName: userName, Active: active, Created: at, Modified: at,
			Doc: []byte(fmt.Sprintf(`{"userName":%q,"active":%v}`, userName, active))}
	}
	group := func(id, name string) *store.Group {
		return &store.Group{ID: id, DisplayName: name, Created: at, Modified: at, Doc: []byte(fmt.Sprintf(`{"displayName":%q}`, name))}
	}
	getUser := func(ctx context.Context, id string) *store.User {
		u, err := st.GetUser(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	getGroup := func(ctx context.Context, id string) *store.Group {
		g, err := st.GetGroup(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	type key = streamtest.Key
	userKey := func(id string) key { return key{PK: "T#" + tenant, SK: "U#" + id} }
	groupKey := func(id string) key { return key{PK: "T#" + tenant, SK: "G#" + id} }
	memberKey := func(gid, uid string) key { return key{PK: "T#" + tenant + "#G#" + gid, SK: "M#" + uid} }
	marker := func(k key) key { return key{PK: k.PK, SK: table.DeletionPrefix + k.SK} }
	cat := func(ks ...[]key) []key { return slices.Concat(ks...) }

	tests := []struct {
		name    string
		actor   store.Actor
		write   func(ctx context.Context) error
		keys    []key    // items the write touches (recorded as stream records)
		stamped []key    // items that carry the actor afterwards
		deleted []key    // items deleted: each one's marker carries the actor
		events  []string // the events derived, each with the actor
	}{
		{name: "create user", actor: scimActor(1),
			write:   func(ctx context.Context) error { return st.CreateUser(ctx, tenant, user("u1", "ada@x", true)) },
			keys:    streamtest.UserKeys(tenant, "u1", "ada@x"),
			stamped: []key{userKey("u1")}, events: []string{events.UserCreated}},
		{name: "create user from the CLI", actor: cli,
			write:   func(ctx context.Context) error { return st.CreateUser(ctx, tenant, user("u2", "bob@x", true)) },
			keys:    streamtest.UserKeys(tenant, "u2", "bob@x"),
			stamped: []key{userKey("u2")}, events: []string{events.UserCreated}},
		{name: "deactivate user", actor: scimActor(2),
			write: func(ctx context.Context) error {
				prev := getUser(ctx, "u1")
				return st.UpdateUser(ctx, tenant, user("u1", "ada@x", false), prev)
			},
			keys: streamtest.UserKeys(tenant, "u1", "ada@x"), stamped: []key{userKey("u1")}, events: []string{events.UserDeactivated}},
		{name: "rename user (guard moves)", actor: scimActor(3),
			write: func(ctx context.Context) error {
				prev := getUser(ctx, "u1")
				return st.UpdateUser(ctx, tenant, user("u1", "ada.l@x", false), prev)
			},
			keys:    cat(streamtest.UserKeys(tenant, "u1", "ada@x"), streamtest.UserKeys(tenant, "u1", "ada.l@x")[1:2]),
			stamped: []key{userKey("u1")}, events: []string{events.UserUpdated}},
		{name: "create group", actor: scimActor(4),
			write:   func(ctx context.Context) error { return st.CreateGroup(ctx, tenant, group("g1", "Eng")) },
			keys:    streamtest.GroupKeys(tenant, "g1", "Eng"),
			stamped: []key{groupKey("g1")}, events: []string{events.GroupCreated}},
		{name: "rename group", actor: scimActor(5),
			write: func(ctx context.Context) error {
				return st.UpdateGroup(ctx, tenant, group("g1", "Engineering"), getGroup(ctx, "g1"))
			},
			keys:    cat(streamtest.GroupKeys(tenant, "g1", "Eng"), streamtest.GroupKeys(tenant, "g1", "Engineering")[1:2]),
			stamped: []key{groupKey("g1")}, events: []string{events.GroupUpdated}},
		{name: "add members (CLI: no token left from earlier writes)", actor: cli,
			write: func(ctx context.Context) error {
				_, err := st.AddMembers(ctx, tenant, "g1", 0, []store.Member{{UserID: "u1"}, {UserID: "u2"}})
				return err
			},
			keys:    streamtest.MemberKeys(tenant, "g1", "u1", "u2"),
			stamped: []key{memberKey("g1", "u1"), memberKey("g1", "u2"), userKey("u1"), userKey("u2")},
			events:  []string{events.GroupMemberAdded, events.GroupMemberAdded}},
		{name: "touch group", actor: scimActor(6),
			write: func(ctx context.Context) error {
				_, err := st.TouchGroup(ctx, tenant, "g1", at, 0)
				return err
			},
			keys: []key{groupKey("g1")}, stamped: []key{groupKey("g1")}},
		{name: "remove member", actor: scimActor(7),
			write:   func(ctx context.Context) error { return st.RemoveMembers(ctx, tenant, "g1", 0, []string{"u2"}) },
			keys:    streamtest.MemberKeys(tenant, "g1", "u2"),
			stamped: []key{userKey("u2"), marker(memberKey("g1", "u2"))}, deleted: []key{memberKey("g1", "u2")},
			events: []string{events.GroupMemberRemove}},
		{name: "remove a user from its groups (before deleting it)", actor: scimActor(8),
			write:   func(ctx context.Context) error { return st.RemoveUserFromGroups(ctx, tenant, "u1", []string{"g1"}) },
			keys:    streamtest.MemberKeys(tenant, "g1", "u1"),
			stamped: []key{userKey("u1"), marker(memberKey("g1", "u1"))}, deleted: []key{memberKey("g1", "u1")},
			events: []string{events.GroupMemberRemove}},
		{name: "delete user", actor: scimActor(9),
			write:   func(ctx context.Context) error { return st.DeleteUser(ctx, tenant, getUser(ctx, "u1")) },
			keys:    streamtest.UserKeys(tenant, "u1", "ada.l@x"),
			stamped: []key{marker(userKey("u1"))}, deleted: []key{userKey("u1")},
			events: []string{events.UserDeleted}},
		{name: "re-add a member", actor: scimActor(10),
			write: func(ctx context.Context) error {
				_, err := st.AddMembers(ctx, tenant, "g1", 0, []store.Member{{UserID: "u2"}})
				return err
			},
			keys:    streamtest.MemberKeys(tenant, "g1", "u2"),
			stamped: []key{memberKey("g1", "u2"), userKey("u2")}, events: []string{events.GroupMemberAdded}},
		{name: "delete group with a member", actor: scimActor(11),
			write:   func(ctx context.Context) error { return st.DeleteGroup(ctx, tenant, getGroup(ctx, "g1")) },
			keys:    cat(streamtest.GroupKeys(tenant, "g1", "Engineering"), streamtest.MemberKeys(tenant, "g1", "u2")),
			stamped: []key{marker(groupKey("g1")), userKey("u2"), marker(memberKey("g1", "u2"))},
			deleted: []key{groupKey("g1"), memberKey("g1", "u2")},
			events:  []string{events.GroupDeleted, events.GroupMemberRemove}},
	}
	for _, tc := range tests {
		ctx := store.WithActor(context.Background(), tc.actor)
		recs := rec.Write(func() error { return tc.write(ctx) }, tc.keys...)
		for _, k := range tc.stamped {
			im := rec.Raw(k)
			if im == nil {
				t.Fatalf("%s: item %v is gone", tc.name, k)
			}
			for attr, want := range map[string]string{table.ActorToken: tc.actor.TokenID, table.ActorRequest: tc.actor.RequestID,
				table.ActorVia: tc.actor.Via, table.ActorAt: at.Format(time.RFC3339Nano)} {
				v, ok := im[attr]
				switch {
				case want == "" && ok:
					t.Errorf("%s: %v keeps %s = %v, want it absent", tc.name, k, attr, v)
				case want != "" && (!ok || v.String() != want):
					t.Errorf("%s: %v has %s = %v, want %q", tc.name, k, attr, v, want)
				}
			}
		}
		var goneKeys []store.ItemKey
		for _, gone := range tc.deleted {
			if rec.Raw(gone) != nil {
				t.Fatalf("%s: %v not deleted", tc.name, gone)
			}
			if v := rec.Raw(marker(gone))[table.ActorDeleted]; v.String() != gone.PK+"|"+gone.SK {
				t.Errorf("%s: marker of %v records the deletion of %v", tc.name, gone, v)
			}
			goneKeys = append(goneKeys, store.ItemKey{PK: gone.PK, SK: gone.SK})
		}
		// The markers' records in the batch attribute the deletions; so do
		// the markers read back when their records are in another batch.
		stamps, err := st.Deletions(ctx, goneKeys)
		if err != nil {
			t.Fatal(err)
		}
		known := map[string]events.Deletion{}
		for k, a := range stamps {
			known[k] = events.Deletion{Actor: events.Actor{TokenID: a.ActorToken, RequestID: a.ActorRequest, Via: a.ActorVia}, At: at}
		}
		withoutMarkers := slices.DeleteFunc(slices.Clone(recs), func(r lambdaevents.DynamoDBEventRecord) bool {
			return strings.HasPrefix(r.Change.NewImage["sk"].String(), table.DeletionPrefix)
		})
		if n := len(events.Unattributed(withoutMarkers)); n != len(tc.deleted) {
			t.Errorf("%s: %d deletions unattributed without their markers, want %d", tc.name, n, len(tc.deleted))
		}
		for _, batch := range []struct {
			recs  []lambdaevents.DynamoDBEventRecord
			known map[string]events.Deletion
		}{{recs, nil}, {withoutMarkers, known}} {
			var got []string
			for _, r := range events.Derive(batch.recs, events.Options{}, batch.known) {
				if r.Err != nil {
					t.Fatalf("%s: derive: %v", tc.name, r.Err)
				}
				for _, e := range r.Events {
					got = append(got, e.Type)
					want := events.Actor{TokenID: tc.actor.TokenID, RequestID: tc.actor.RequestID, Via: tc.actor.Via}
					if e.Actor != want || !e.Time.Equal(at) {
						t.Errorf("%s: %s event has actor %+v at %v, want %+v at %v", tc.name, e.Type, e.Actor, e.Time, want, at)
					}
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.events))
			if !slices.Equal(got, want) {
				t.Errorf("%s: events %v, want %v", tc.name, got, want)
			}
		}
	}
}
