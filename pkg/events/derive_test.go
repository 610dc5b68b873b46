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
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// recorder turns writes made by the real store on the embedded engine into
// stream records: it reads the raw items before and after each write with
// the DynamoDB client and builds NEW_AND_OLD_IMAGES records from them, as
// the table's stream would.
type recorder struct {
	t      *testing.T
	client *dynamodb.Client
	table  string
	seq    int
}

type key struct{ pk, sk string }

func (r *recorder) raw(k key) events.Image {
	r.t.Helper()
	out, err := r.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(r.table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: k.pk},
			"sk": &types.AttributeValueMemberS{Value: k.sk},
		},
	})
	if err != nil {
		r.t.Fatalf("get %v: %v", k, err)
	}
	im, err := events.ImageFromSDK(out.Item)
	if err != nil {
		r.t.Fatal(err)
	}
	return im
}

// write runs fn and returns the stream records of the items at keys.
func (r *recorder) write(fn func() error, keys ...key) []lambdaevents.DynamoDBEventRecord {
	r.t.Helper()
	before := make([]events.Image, len(keys))
	for i, k := range keys {
		before[i] = r.raw(k)
	}
	if err := fn(); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	var recs []lambdaevents.DynamoDBEventRecord
	for i, k := range keys {
		after := r.raw(k)
		rec, ok := r.record(before[i], after)
		if ok {
			recs = append(recs, rec)
		}
		_ = k
	}
	return recs
}

func (r *recorder) record(before, after events.Image) (lambdaevents.DynamoDBEventRecord, bool) {
	name := "MODIFY"
	switch {
	case before == nil && after == nil:
		return lambdaevents.DynamoDBEventRecord{}, false
	case before == nil:
		name = "INSERT"
	case after == nil:
		name = "REMOVE"
	}
	r.seq++
	return lambdaevents.DynamoDBEventRecord{
		EventID: fmt.Sprintf("ev%d", r.seq), EventName: name, EventSource: "aws:dynamodb",
		Change: lambdaevents.DynamoDBStreamRecord{
			ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: time.Unix(1_800_000_000, 0)},
			SequenceNumber:              fmt.Sprintf("%d00000000000000000000", r.seq),
			OldImage:                    before, NewImage: after, StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}, true
}

func userKeys(tenant, id, userName string) []key {
	return []key{{"T#" + tenant, "U#" + id}, {"T#" + tenant, "UN#" + strings.ToLower(userName)}, {"T#" + tenant, "COUNT#U"}}
}

func groupKeys(tenant, id, name string) []key {
	return []key{{"T#" + tenant, "G#" + id}, {"T#" + tenant, "GN#" + strings.ToLower(name)}, {"T#" + tenant, "COUNT#G"}}
}

func memberKeys(tenant, gid string, uids ...string) []key {
	var ks []key
	for _, u := range uids {
		ks = append(ks, key{"T#" + tenant + "#G#" + gid, "M#" + u}, key{"T#" + tenant, "U#" + u})
	}
	return ks
}

type want struct {
	typ     string
	changed []string
	// data holds JSON fields the event data must have (compared as JSON).
	data map[string]any
}

func TestDeriveFromStoreWrites(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	rec := &recorder{t: t, client: env.Client, table: env.Store.TableName()}
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
			return rec.write(func() error { return s.CreateUser(ctx, "acme", alice) }, userKeys("acme", "u1", alice.UserName)...)
		}, []want{{typ: events.UserCreated,
			changed: []string{"active", "emails", "name.familyName", "name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "userName"},
			data: map[string]any{"id": "u1", "userName": "alice@example.com", "schemas": []any{events.UserSchema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
				"meta": map[string]any{"resourceType": "User", "created": "2026-03-01T10:00:00Z", "lastModified": "2026-03-01T10:00:00Z", "version": `W/"1"`, "location": "https://id.example.com/scim/v2/Users/u1"}}}}},
		{"rename given name and manager", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(update(setDoc(`{"userName":"alice@example.com","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)), userKeys("acme", "u1", alice.UserName)...)
		}, []want{{typ: events.UserUpdated, changed: []string{"name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"},
			data: map[string]any{"name": map[string]any{"givenName": "Alicia", "familyName": "Liddell"}}}}},
		{"write that changes nothing", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(update(func(*store.User) {}), userKeys("acme", "u1", alice.UserName)...)
		}, nil},
		{"change userName", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(update(func(u *store.User) {
				u.UserName = "alice@wonderland.example"
				setDoc(`{"userName":"alice@wonderland.example","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)(u)
			}), append(userKeys("acme", "u1", "alice@example.com"), key{"T#acme", "UN#alice@wonderland.example"})...)
		}, []want{{typ: events.UserUpdated, changed: []string{"userName"}, data: map[string]any{"userName": "alice@wonderland.example"}}}},
		{"deactivate", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(update(setDoc(`{"userName":"alice@wonderland.example","active":false,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u8"}}}`)), key{"T#acme", "U#u1"})
		}, []want{{typ: events.UserDeactivated, changed: []string{"active"}, data: map[string]any{"active": false}}}},
		{"reactivate with a new department", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(update(setDoc(`{"userName":"alice@wonderland.example","active":true,"name":{"givenName":"Alicia","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"u8"}}}`)), key{"T#acme", "U#u1"})
		}, []want{{typ: events.UserReactivated, changed: []string{"active", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}, data: map[string]any{"active": true}}}},
		{"create group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error { return s.CreateGroup(ctx, "acme", eng) }, groupKeys("acme", "g1", "Engineering")...)
		}, []want{{typ: events.GroupCreated, changed: []string{"displayName"},
			data: map[string]any{"id": "g1", "displayName": "Engineering", "schemas": []any{events.GroupSchema}}}}},
		{"add member (the user's group set changes too)", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error {
				_, err := s.AddMembers(ctx, "acme", "g1", []store.Member{{UserID: "u1", Display: "Alicia"}})
				return err
			}, memberKeys("acme", "g1", "u1")...)
		}, []want{{typ: events.GroupMemberAdded, data: map[string]any{"group": map[string]any{"id": "g1", "displayName": ""}, "user": map[string]any{"id": "u1", "userName": ""}}}}},
		{"re-add an existing member", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error {
				_, err := s.AddMembers(ctx, "acme", "g1", []store.Member{{UserID: "u1", Display: "Alicia"}})
				return err
			}, memberKeys("acme", "g1", "u1")...)
		}, nil},
		{"rename group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error {
				g, err := s.GetGroup(ctx, "acme", "g1")
				if err != nil {
					return err
				}
				next := *g
				next.DisplayName, next.Doc = "R&D", []byte(`{"displayName":"R&D"}`)
				return s.UpdateGroup(ctx, "acme", &next, g)
			}, append(groupKeys("acme", "g1", "Engineering"), key{"T#acme", "GN#r&d"})...)
		}, []want{{typ: events.GroupUpdated, changed: []string{"displayName"}, data: map[string]any{"displayName": "R&D"}}}},
		{"remove member", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error { return s.RemoveMembers(ctx, "acme", "g1", []string{"u1"}) }, memberKeys("acme", "g1", "u1")...)
		}, []want{{typ: events.GroupMemberRemove, data: map[string]any{"group": map[string]any{"id": "g1", "displayName": ""}, "user": map[string]any{"id": "u1", "userName": ""}}}}},
		{"delete group", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error {
				g, err := s.GetGroup(ctx, "acme", "g1")
				if err != nil {
					return err
				}
				return s.DeleteGroup(ctx, "acme", g)
			}, groupKeys("acme", "g1", "R&D")...)
		}, []want{{typ: events.GroupDeleted, data: map[string]any{"id": "g1", "displayName": "R&D"}}}},
		{"delete user", func() []lambdaevents.DynamoDBEventRecord {
			return rec.write(func() error { return s.DeleteUser(ctx, "acme", reread()) }, userKeys("acme", "u1", "alice@wonderland.example")...)
		}, []want{{typ: events.UserDeleted, data: map[string]any{"id": "u1", "userName": "alice@wonderland.example", "active": true}}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			recs := st.recs()
			var got []events.Event
			for i, r := range events.Derive(recs, events.Options{BaseURL: "https://id.example.com/scim/v2"}) {
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
