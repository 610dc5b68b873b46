package events_test

import (
	"context"
	"encoding/json"
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
)

type want struct {
	typ     string
	changed []string
	// data holds JSON fields the event data must have (compared as JSON).
	data map[string]any
}

func TestDeriveFromStoreWrites(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	rec := streamtest.New(t, env.Client, env.Store.TableName())
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	alice := &store.User{ID: "u1", UserName: "alice@example.com", Active: true, Created: created, Modified: created,
		Doc:          []byte(`{"userName":"alice@example.com","active":true,"name":{"givenName":"Alice","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u9"}}}`),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
	var prev *store.User
	reread := func() *store.User {
		u, err := s.GetUser(ctx, "acme", "u1")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	update := func(mut func(u *store.User)) func() error {
		return func() error {
			prev = reread()
			next := *prev
			mut(&next)
			next.Modified = next.Modified.Add(time.Minute)
			return s.UpdateUser(ctx, "acme", &next, prev)
		}
	}
	setDoc := func(doc string) func(u *store.User) {
		return func(u *store.User) {
			u.Doc = []byte(doc)
			var d struct{ Active bool }
			_ = json.Unmarshal(u.Doc, &d)
			u.Active = d.Active
		}
	}
	eng := &store.Group{ID: "g1", DisplayName: "Engineering", Created: created, Modified: created, Doc: []byte(`{"displayName":"Engineering"}`)}

	steps := []struct {
		name string
		recs func() []lambdaevents.DynamoDBEventRecord
		want []want
	}{
		{"create user", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error { return s.CreateUser(ctx, "acme", alice) }, streamtest.UserKeys("acme", "u1", alice.UserName)...)
		}, []want{{typ: events.UserCreated,
			changed: []string{"active", "emails", "name.familyName", "name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "userName"},
			data: map[string]any{"id": "u1", "userName": "alice@example.com", "schemas": []any{events.UserSchema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
				"meta": map[string]any{"resourceType": "User", "created": "2026-03-01T10:00:00Z", "lastModified": "2026-03-01T10:00:00Z", "version": `W/"1"`, "location": "https://id.example.com/scim/v2/Users/u1"}}}}},
		{"rename given name and manager", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(update(setDoc(`{"userName":"alice@example.com","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)), streamtest.UserKeys("acme", "u1", alice.UserName)...)
		}, []want{{typ: events.UserUpdated, changed: []string{"name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"},
			data: map[string]any{"name": map[string]any{"givenName": "Alicia", "familyName": "Liddell"}}}}},
		{"write that changes nothing", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(update(func(*store.User) {}), streamtest.UserKeys("acme", "u1", alice.UserName)...)
		}, nil},
		{"change userName", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(update(func(u *store.User) {
				u.UserName = "alice@wonderland.example"
				setDoc(`{"userName":"alice@wonderland.example","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)(u)
			}), append(streamtest.UserKeys("acme", "u1", "alice@example.com"), streamtest.Key{PK: "T#acme", SK: "UN#alice@wonderland.example"})...)
		}, []want{{typ: events.UserUpdated, changed: []string{"userName"}, data: map[string]any{"userName": "alice@wonderland.example"}}}},
		{"deactivate", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(update(setDoc(`{"userName":"alice@wonderland.example","active":false,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)), streamtest.Key{PK: "T#acme", SK: "U#u1"})
		}, []want{{typ: events.UserDeactivated, changed: []string{"active"}, data: map[string]any{"active": false}}}},
		{"reactivate with a new department", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(update(setDoc(`{"userName":"alice@wonderland.example","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"u8"}}}`)), streamtest.Key{PK: "T#acme", SK: "U#u1"})
		}, []want{{typ: events.UserReactivated, changed: []string{"active", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}, data: map[string]any{"active": true}}}},
		{"create group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error { return s.CreateGroup(ctx, "acme", eng) }, streamtest.GroupKeys("acme", "g1", "Engineering")...)
		}, []want{{typ: events.GroupCreated, changed: []string{"displayName"},
			data: map[string]any{"id": "g1", "displayName": "Engineering", "schemas": []any{events.GroupSchema}}}}},
		{"add member (the user's group set changes too)", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error {
				_, err := s.AddMembers(ctx, "acme", "g1", 0, []store.Member{{UserID: "u1", Display: "Alicia"}})
				return err
			}, streamtest.MemberKeys("acme", "g1", "u1")...)
		}, []want{{typ: events.GroupMemberAdded, data: map[string]any{"group": map[string]any{"id": "g1", "displayName": ""}, "user": map[string]any{"id": "u1", "userName": ""}}}}},
		{"re-add an existing member", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error {
				_, err := s.AddMembers(ctx, "acme", "g1", 0, []store.Member{{UserID: "u1", Display: "Alicia"}})
				return err
			}, streamtest.MemberKeys("acme", "g1", "u1")...)
		}, nil},
		{"rename group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error {
				g, err := s.GetGroup(ctx, "acme", "g1")
				if err != nil {
					return err
				}
				next := *g
				next.DisplayName, next.Doc = "R&D", []byte(`{"displayName":"R&D"}`)
				return s.UpdateGroup(ctx, "acme", &next, g)
			}, append(streamtest.GroupKeys("acme", "g1", "Engineering"), streamtest.Key{PK: "T#acme", SK: "GN#r&d"})...)
		}, []want{{typ: events.GroupUpdated, changed: []string{"displayName"}, data: map[string]any{"displayName": "R&D"}}}},
		{"remove member", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error { return s.RemoveMembers(ctx, "acme", "g1", 0, []string{"u1"}) }, streamtest.MemberKeys("acme", "g1", "u1")...)
		}, []want{{typ: events.GroupMemberRemove, data: map[string]any{"group": map[string]any{"id": "g1", "displayName": ""}, "user": map[string]any{"id": "u1", "userName": ""}}}}},
		{"delete group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error {
				g, err := s.GetGroup(ctx, "acme", "g1")
				if err != nil {
					return err
				}
				return s.DeleteGroup(ctx, "acme", g)
			}, streamtest.GroupKeys("acme", "g1", "R&D")...)
		}, []want{{typ: events.GroupDeleted, data: map[string]any{"id": "g1", "displayName": "R&D"}}}},
		{"delete user", func() []lambdaevents.DynamoDBEventRecord {
			return rec.Write(func() error { return s.DeleteUser(ctx, "acme", reread()) }, streamtest.UserKeys("acme", "u1", "alice@wonderland.example")...)
		}, []want{{typ: events.UserDeleted, data: map[string]any{"id": "u1", "userName": "alice@wonderland.example", "active": true}}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			recs := st.recs()
			var got []events.Event
			for i, r := range events.Derive(recs, events.Options{BaseURL: "https://id.example.com/scim/v2"}, nil) {
				if r.Err != nil {
					t.Fatalf("record %d: %v", i, r.Err)
				}
				got = append(got, r.Events...)
			}
			if len(got) != len(st.want) {
				t.Fatalf("got %d events %s, want %d", len(got), typesOf(got), len(st.want))
			}
			for i, w := range st.want {
				e := got[i]
				if e.Type != w.typ || e.Tenant != "acme" {
					t.Errorf("event %d: type %s tenant %s, want %s acme", i, e.Type, e.Tenant, w.typ)
				}
				if w.changed == nil {
					w.changed = []string{}
				}
				if c := orEmpty(e.Changed); !slices.Equal(c, w.changed) {
					t.Errorf("changed = %q, want %q", c, w.changed)
				}
				var data map[string]any
				if err := json.Unmarshal(e.Data, &data); err != nil {
					t.Fatalf("data: %v", err)
				}
				for k, v := range w.data {
					if !jsonEqual(data[k], v) {
						t.Errorf("data.%s = %v, want %v", k, data[k], v)
					}
				}
				for _, secret := range []string{"argon2", "pwd", "password", "gsi1pk", "\"ver\""} {
					if strings.Contains(string(e.Data), secret) {
						t.Errorf("data leaks %q: %s", secret, e.Data)
					}
				}
				if !events.ValidID(e.ID) {
					t.Errorf("id %q is not a valid id", e.ID)
				}
			}
		})
	}
}

func typesOf(evs []events.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return fmt.Sprint(s)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestDeriveActorAndEdges(t *testing.T) {
	s := lambdaevents.NewStringAttribute
	user := events.Image{"pk": s("T#acme"), "sk": s("U#u1"), "type": s("user"), "id": s("u1"), "userName": s("a@x"),
		"active": lambdaevents.NewBooleanAttribute(true), "doc": lambdaevents.NewBinaryAttribute([]byte(`{"userName":"a@x","active":true}`)),
		"ver": lambdaevents.NewNumberAttribute("1"), "pwd": s("$argon2id$secret")}
	stamped := func(im events.Image, kv ...string) events.Image {
		out := events.Image{}
		for k, v := range im {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = s(kv[i+1])
		}
		return out
	}
	at := "2026-06-01T08:00:00.123456789Z"
	rec := func(name string, old, new events.Image, seq string) lambdaevents.DynamoDBEventRecord {
		return lambdaevents.DynamoDBEventRecord{EventID: "e" + seq, EventName: name, Change: lambdaevents.DynamoDBStreamRecord{
			SequenceNumber: seq, OldImage: old, NewImage: new,
			ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: time.Unix(1_790_000_000, 0)}}}
	}
	counter := events.Image{"pk": s("T#acme"), "sk": s("COUNT#U"), "n": lambdaevents.NewNumberAttribute("0")}
	marker := events.Image{"pk": s("T#acme"), "sk": s("DEL#U#u1"), "type": s("deletion"), "actorDeleted": s("T#acme|U#u1"),
		"actorVia": s("cli"), "actorRequest": s("cli-7"), "actorAt": s(at)}
	cli7 := events.Actor{RequestID: "cli-7", Via: "cli"}
	tests := []struct {
		name      string
		recs      []lambdaevents.DynamoDBEventRecord
		wantTypes []string
		wantActor events.Actor
		wantTime  string
		wantErr   bool
		known     map[string]events.Deletion
		unknown   int // deletions Unattributed reports
	}{
		{name: "insert with actor", recs: []lambdaevents.DynamoDBEventRecord{rec("INSERT", nil, stamped(user, "actorToken", "tok1", "actorRequest", "r1", "actorVia", "scim", "actorAt", at), "101")},
			wantTypes: []string{events.UserCreated}, wantActor: events.Actor{TokenID: "tok1", RequestID: "r1", Via: "scim"}, wantTime: at},
		{name: "delete attributed through its marker in the batch", recs: []lambdaevents.DynamoDBEventRecord{
			rec("REMOVE", stamped(user, "actorToken", "tok1", "actorVia", "scim"), nil, "102"),
			rec("INSERT", nil, marker, "103")},
			wantTypes: []string{events.UserDeleted}, wantActor: cli7, wantTime: at},
		{name: "delete attributed through its marker read back", recs: []lambdaevents.DynamoDBEventRecord{
			rec("REMOVE", stamped(user, "actorToken", "tok1", "actorVia", "scim"), nil, "102")},
			known:     map[string]events.Deletion{"T#acme|U#u1": {Actor: cli7, At: time.Date(2026, 6, 1, 8, 0, 0, 123456789, time.UTC)}},
			wantTypes: []string{events.UserDeleted}, wantActor: cli7, wantTime: at, unknown: 1},
		{name: "an actorDeleted on another item is not a marker", recs: []lambdaevents.DynamoDBEventRecord{
			rec("REMOVE", stamped(user, "actorToken", "tok1", "actorVia", "scim"), nil, "102"),
			rec("MODIFY", counter, stamped(counter, "actorVia", "cli", "actorRequest", "cli-7", "actorAt", at, "actorDeleted", "T#acme|U#u1"), "103")},
			wantTypes: []string{events.UserDeleted}, wantTime: "2026-09-21T14:13:20Z", unknown: 1},
		{name: "delete without a marker", recs: []lambdaevents.DynamoDBEventRecord{rec("REMOVE", stamped(user, "actorToken", "tok1"), nil, "104")},
			wantTypes: []string{events.UserDeleted}, wantTime: "2026-09-21T14:13:20Z", unknown: 1},
		{name: "a marker is not an event", recs: []lambdaevents.DynamoDBEventRecord{rec("INSERT", nil, marker, "103")}},
		{"ttl expiry is not an event", []lambdaevents.DynamoDBEventRecord{func() lambdaevents.DynamoDBEventRecord {
			r := rec("REMOVE", user, nil, "105")
			r.UserIdentity = &lambdaevents.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
			return r
		}()}, nil, events.Actor{}, "", false, nil, 0},
		{"event items are not events", []lambdaevents.DynamoDBEventRecord{rec("INSERT", nil, events.Image{"pk": s("T#acme#EV"), "sk": s("0001"), "type": s("event")}, "106")},
			nil, events.Actor{}, "", false, nil, 0},
		{"keys-only stream", []lambdaevents.DynamoDBEventRecord{func() lambdaevents.DynamoDBEventRecord {
			r := rec("REMOVE", nil, nil, "107")
			r.Change.Keys = events.Image{"pk": s("T#acme"), "sk": s("U#u1")}
			return r
		}()}, nil, events.Actor{}, "", true, nil, 0},
		{"corrupt document", []lambdaevents.DynamoDBEventRecord{rec("INSERT", nil, stamped(user, "doc", "{not json"), "108")}, nil, events.Actor{}, "", true, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := len(events.Unattributed(tc.recs)); n != tc.unknown {
				t.Errorf("%d deletions unattributed, want %d", n, tc.unknown)
			}
			res := events.Derive(tc.recs, events.Options{}, tc.known)
			var got []events.Event
			var err error
			for _, r := range res {
				got = append(got, r.Events...)
				if r.Err != nil {
					err = r.Err
				}
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var types []string
			for _, e := range got {
				types = append(types, e.Type)
			}
			if !slices.Equal(types, tc.wantTypes) {
				t.Fatalf("types = %v, want %v", types, tc.wantTypes)
			}
			if len(got) == 0 {
				return
			}
			if got[0].Actor != tc.wantActor {
				t.Errorf("actor = %+v, want %+v", got[0].Actor, tc.wantActor)
			}
			if tm := got[0].Time.Format(time.RFC3339Nano); tm != tc.wantTime {
				t.Errorf("time = %s, want %s", tm, tc.wantTime)
			}
			if strings.Contains(string(got[0].Data), "argon2") {
				t.Errorf("data leaks the password hash: %s", got[0].Data)
			}
			// The same record always yields the same id.
			again := events.Derive(tc.recs, events.Options{}, tc.known)
			for _, r := range again {
				for _, e := range r.Events {
					if e.ID != got[0].ID {
						t.Errorf("redelivery id %s != %s", e.ID, got[0].ID)
					}
				}
			}
		})
	}
}

func TestIDOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, _ := events.NewID(t0, "999", 0)
	b, _ := events.NewID(t0, "1000", 0)
	c, _ := events.NewID(t0.Add(time.Microsecond), "5", 0)
	if !(a < b && b < c) {
		t.Fatalf("ids out of order: %s %s %s", a, b, c)
	}
	if tm, ok := events.IDTime(c); !ok || !tm.Equal(t0.Add(time.Microsecond)) {
		t.Fatalf("IDTime = %v %v", tm, ok)
	}
	if cur := events.CursorAt(t0.Add(time.Microsecond)); !(b < cur && cur < c) || !events.ValidID(cur) {
		t.Fatalf("cursor %s not between %s and %s", cur, b, c)
	}
	for _, bad := range []string{"", "12a", strings.Repeat("9", 41)} {
		if _, err := events.NewID(t0, bad, 0); err == nil {
			t.Errorf("NewID(%q) accepted", bad)
		}
	}
	if _, err := events.ParseTypes("user.created, group.member_added"); err != nil {
		t.Fatal(err)
	}
	if _, err := events.ParseTypes("user.created,user.exploded"); err == nil || !strings.Contains(err.Error(), "user.exploded") {
		t.Fatalf("ParseTypes accepted an unknown type: %v", err)
	}
}

// TestDeriveSourceRecords: the users and groups an XaaS source pushes are
// directory resources too. Their writes through the real store yield user.*
// and group.* events with the XaaS actor; writes that only record sync
// state yield none.
func TestDeriveSourceRecords(t *testing.T) {
	env := storetest.New(t)
	s := env.Store
	rec := streamtest.New(t, env.Client, s.TableName())
	actor := store.Actor{TokenID: "tok-x", RequestID: "req-x", Via: store.ViaXaaS}
	ctx := store.WithActor(context.Background(), actor)
	const tenant = "acme"
	userKey := streamtest.Key{PK: "T#" + tenant, SK: "SRC#U#e1"}
	groupKey := streamtest.Key{PK: "T#" + tenant, SK: "SRC#G#eng"}
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	var ver int64
	putUser := func(hash string, active, deleted bool, attrs map[string]string) func() error {
		return func() error {
			u := &store.SourceUser{ExternalID: "e1", Attrs: attrs, Active: active, Deleted: deleted, Hash: hash, Created: t0, Changed: t0.Add(time.Duration(ver) * time.Minute)}
			err := s.PutSourceUser(ctx, tenant, u, ver)
			ver = u.Version
			return err
		}
	}
	var gver int64
	putGroup := func(hash string, deleted bool, name string, members ...string) func() error {
		return func() error {
			g := &store.SourceGroup{ExternalID: "eng", DisplayName: name, Members: members, Deleted: deleted, Hash: hash, Created: t0, Changed: t0.Add(time.Duration(gver) * time.Minute)}
			err := s.PutSourceGroup(ctx, tenant, g, gver)
			gver = g.Version
			return err
		}
	}
	ada := map[string]string{"firstName": "Ada", "email": "ada@example.com"}
	adaL := map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}
	tests := []struct {
		name  string
		write func() error
		key   streamtest.Key
		want  *want
	}{
		{"create user", putUser("h1", true, false, ada), userKey,
			&want{events.UserCreated, []string{"active", "email", "externalId", "firstName"}, map[string]any{"externalId": "e1", "firstName": "Ada", "active": true}}},
		{"update user", putUser("h2", true, false, adaL), userKey, &want{events.UserUpdated, []string{"lastName"}, map[string]any{"lastName": "Lovelace"}}},
		{"sync state only", func() error {
			ok, err := s.MarkSourceUserSynced(ctx, tenant, "e1", ver, t0, time.Time{})
			if err == nil && !ok {
				err = fmt.Errorf("not marked synced")
			}
			return err
		}, userKey, nil},
		{"deactivate user", putUser("h3", false, false, adaL), userKey, &want{events.UserDeactivated, []string{"active"}, map[string]any{"active": false}}},
		{"reactivate user", putUser("h4", true, false, adaL), userKey, &want{events.UserReactivated, []string{"active"}, map[string]any{"active": true}}},
		{"delete user (tombstone)", putUser("h5", true, true, adaL), userKey, &want{events.UserDeleted, nil, map[string]any{"externalId": "e1", "lastName": "Lovelace"}}},
		{"create group", putGroup("g1", false, "Eng", "e1"), groupKey,
			&want{events.GroupCreated, []string{"displayName", "externalId", "members"}, map[string]any{"externalId": "eng", "displayName": "Eng", "members": []string{"e1"}}}},
		{"change members", putGroup("g2", false, "Eng", "e1", "e2"), groupKey, &want{events.GroupUpdated, []string{"members"}, map[string]any{"members": []string{"e1", "e2"}}}},
		{"group sync state only", func() error {
			ok, err := s.MarkSourceGroupSynced(ctx, tenant, "eng", gver, t0, time.Time{})
			if err == nil && !ok {
				err = fmt.Errorf("not marked synced")
			}
			return err
		}, groupKey, nil},
		{"rename group", putGroup("g3", false, "Engineering", "e1", "e2"), groupKey, &want{events.GroupUpdated, []string{"displayName"}, map[string]any{"displayName": "Engineering"}}},
		{"delete group (tombstone)", putGroup("g4", true, "Engineering", "e1", "e2"), groupKey, &want{events.GroupDeleted, nil, map[string]any{"externalId": "eng"}}},
	}
	for _, tc := range tests {
		recs := rec.Write(tc.write, tc.key)
		var got []events.Event
		for _, r := range events.Derive(recs, events.Options{}, nil) {
			if r.Err != nil {
				t.Fatalf("%s: %v", tc.name, r.Err)
			}
			got = append(got, r.Events...)
		}
		if tc.want == nil {
			if len(got) != 0 {
				t.Errorf("%s: events %s, want none", tc.name, typesOf(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Type != tc.want.typ {
			t.Fatalf("%s: events %s, want [%s]", tc.name, typesOf(got), tc.want.typ)
		}
		e := got[0]
		if !slices.Equal(orEmpty(e.Changed), orEmpty(tc.want.changed)) {
			t.Errorf("%s: changed %v, want %v", tc.name, e.Changed, tc.want.changed)
		}
		if wantActor := (events.Actor{TokenID: actor.TokenID, RequestID: actor.RequestID, Via: actor.Via}); e.Actor != wantActor {
			t.Errorf("%s: actor %+v, want %+v", tc.name, e.Actor, wantActor)
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want.data {
			if !jsonEqual(data[k], v) {
				t.Errorf("%s: data.%s = %v, want %v", tc.name, k, data[k], v)
			}
		}
		for _, internal := range []string{"hash", "gsi3pk", "synced", "actorToken"} {
			if strings.Contains(string(e.Data), internal) {
				t.Errorf("%s: data carries %q: %s", tc.name, internal, e.Data)
			}
		}
		if id := e.ResourceID(); id != strings.TrimPrefix(strings.TrimPrefix(tc.key.SK, "SRC#U#"), "SRC#G#") {
			t.Errorf("%s: resource id %q", tc.name, id)
		}
	}
}
