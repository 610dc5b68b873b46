package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/guregu/dynamo/v2"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

func evID(t time.Time, seq int) string {
	return fmt.Sprintf("%016d%040d00", t.UnixMicro(), seq)
}

func testEvents(tenant string, base time.Time, n int) []store.StoredEvent {
	types := []string{"user.created", "user.updated", "group.member_added"}
	out := make([]store.StoredEvent, n)
	for i := range out {
		at := base.Add(time.Duration(i) * time.Millisecond)
		out[i] = store.StoredEvent{ID: evID(at, i+1), Tenant: tenant, Type: types[i%len(types)], Time: at,
			ResourceType: "User", ResourceID: fmt.Sprintf("u%d", i), TokenID: "tok1", RequestID: fmt.Sprintf("req%d", i), Via: "scim",
			JSON: []byte(fmt.Sprintf(`{"id":"%s"}`, evID(at, i+1)))}
	}
	return out
}

func keep30(string) time.Duration { return store.DefaultEventTTL }

func TestPutEventsIdempotent(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	evs := testEvents("acme", base, 40)

	n, err := s.PutEvents(ctx, evs[:25], keep30)
	if err != nil || n != 25 {
		t.Fatalf("first put: %d new, %v", n, err)
	}
	// A redelivered batch overlapping the first: only the new ones count.
	n, err = s.PutEvents(ctx, evs, keep30)
	if err != nil || n != 15 {
		t.Fatalf("redelivery: %d new, %v; want 15", n, err)
	}
	// Many concurrent redeliveries of the same batch: still one copy each.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, err := s.PutEvents(ctx, evs, keep30); err != nil || n != 0 {
				t.Errorf("concurrent redelivery: %d new, %v", n, err)
			}
		}()
	}
	wg.Wait()

	page, err := s.ListEvents(ctx, "acme", store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 40 {
		t.Fatalf("listed %d events, want 40", len(page.Events))
	}
	for i, e := range page.Events {
		if e.ID != evs[i].ID || string(e.JSON) != string(evs[i].JSON) || e.Type != evs[i].Type || e.TokenID != "tok1" {
			t.Fatalf("event %d = %+v, want %+v", i, e, evs[i])
		}
	}
	// Other tenants see nothing.
	if p, _ := s.ListEvents(ctx, "other", store.EventQuery{}); len(p.Events) != 0 {
		t.Fatalf("other tenant sees %d events", len(p.Events))
	}
}

func TestListEventsPaging(t *testing.T) {
	env := storetest.New(t)
	s, ctx := env.Store, context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	evs := testEvents("acme", base, 30)
	if _, err := s.PutEvents(ctx, evs, keep30); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		q     store.EventQuery
		want  []int // indexes into evs
		next  int   // index of the event Next points at; -1: q.After
		after int
	}{
		{"first page", store.EventQuery{Limit: 5}, []int{0, 1, 2, 3, 4}, 4, -1},
		{"after cursor", store.EventQuery{After: evs[27].ID}, []int{28, 29}, 29, -1},
		{"at the end", store.EventQuery{After: evs[29].ID}, nil, -1, 29},
		{"types", store.EventQuery{Types: []string{"group.member_added"}, Limit: 3}, []int{2, 5, 8}, 8, -1},
		{"two types after", store.EventQuery{After: evs[20].ID, Types: []string{"user.created", "group.member_added"}}, []int{21, 23, 24, 26, 27, 29}, 29, 20},
		{"before", store.EventQuery{After: evs[9].ID, Before: evs[12].ID}, []int{10, 11}, 11, 9},
		{"bound below the cursor", store.EventQuery{After: evs[12].ID, Before: evs[9].ID}, nil, -1, 12},
		{"bound at the cursor", store.EventQuery{After: evs[12].ID, Before: evs[12].ID}, nil, -1, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListEvents(ctx, "acme", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, e := range page.Events {
				got = append(got, slices.IndexFunc(evs, func(x store.StoredEvent) bool { return x.ID == e.ID }))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			wantNext := tc.q.After
			if tc.next >= 0 {
				wantNext = evs[tc.next].ID
			}
			if page.Next != wantNext {
				t.Fatalf("next = %s, want %s", page.Next, wantNext)
			}
		})
	}
	// Walking the whole feed five at a time sees every event once, in order.
	var seen []string
	cursor := ""
	for range 20 {
		page, err := s.ListEvents(ctx, "acme", store.EventQuery{After: cursor, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			seen = append(seen, e.ID)
		}
		if page.Next == cursor {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 30 || !slices.IsSorted(seen) {
		t.Fatalf("walk saw %d events (sorted %v)", len(seen), slices.IsSorted(seen))
	}
}

func TestEventTTLAndAudit(t *testing.T) {
	now := time.Now().UTC()
	env := storetest.New(t, store.WithClock(func() time.Time { return now }))
	s, ctx := env.Store, context.Background()
	old := testEvents("acme", now.Add(-40*24*time.Hour), 2)
	recent := testEvents("acme", now.Add(-time.Hour), 3)
	for i := range recent {
		recent[i].ID = evID(recent[i].Time, 100+i)
	}
	if _, err := s.PutEvents(ctx, append(old, recent...), keep30); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListEvents(ctx, "acme", store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 3 {
		t.Fatalf("listed %d events, want the 3 within 30 days", len(page.Events))
	}
	var ttl struct {
		TTL int64 `dynamo:"ttl"`
	}
	if err := dynamo.NewFromIface(env.Client).Table(s.TableName()).Get("pk", "T#acme#EV").Range("sk", dynamo.Equal, recent[0].ID).One(ctx, &ttl); err != nil {
		t.Fatal(err)
	}
	if want := recent[0].Time.Add(store.DefaultEventTTL).Unix(); ttl.TTL != want {
		t.Fatalf("ttl = %d, want %d", ttl.TTL, want)
	}
	tn := &store.Tenant{Settings: map[string]string{store.SettingEventTTLDays: "7"}}
	if tn.EventTTL() != 7*24*time.Hour || tn.EventKeep() != store.DefaultAuditTTL {
		t.Fatalf("event ttl %v keep %v", tn.EventTTL(), tn.EventKeep())
	}
	if (*store.Tenant)(nil).EventTTL() != store.DefaultEventTTL {
		t.Fatal("nil tenant ttl")
	}

	trail, err := s.ListEventAudit(ctx, "acme", now.Add(-2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 3 || trail[0].Operation != recent[2].Type || trail[0].ResourceID != recent[2].ResourceID || trail[0].TokenID != "tok1" || trail[0].RequestID != recent[2].RequestID {
		t.Fatalf("trail = %+v", trail)
	}
	// The merged trail interleaves directly written entries by time.
	if err := s.PutAudit(ctx, "acme", store.AuditEntry{Time: recent[1].Time.Add(time.Microsecond), Operation: "POST /Users", TokenID: "tok2"}, 0); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListTrail(ctx, "acme", now.Add(-2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range all {
		ops = append(ops, e.Operation)
	}
	if want := []string{recent[2].Type, "POST /Users", recent[1].Type, recent[0].Type}; !slices.Equal(ops, want) {
		t.Fatalf("trail ops = %v, want %v", ops, want)
	}
}

func TestActorStamp(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123, time.UTC)
	env := storetest.New(t, store.WithClock(func() time.Time { return at }))
	s := env.Store
	ctx := store.WithActor(context.Background(), store.Actor{TokenID: "tok9", RequestID: "req9", Via: store.ViaSCIM})
	if a, ok := store.ActorFrom(ctx); !ok || a.TokenID != "tok9" {
		t.Fatalf("ActorFrom = %+v %v", a, ok)
	}
	tbl := dynamo.NewFromIface(env.Client).Table(s.TableName())
	type item struct {
		PK string `dynamo:"pk,hash"`
		SK string `dynamo:"sk,range"`
		store.ActorStamp
	}
	if err := tbl.Put(item{PK: "T#acme", SK: "U#u1", ActorStamp: store.StampOf(s, ctx)}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	raw := func(sk string) map[string]types.AttributeValue {
		out, err := env.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.TableName()), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "T#acme"}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	str := func(it map[string]types.AttributeValue, name string) string {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	it := raw("U#u1")
	if str(it, table.ActorToken) != "tok9" || str(it, table.ActorRequest) != "req9" || str(it, table.ActorVia) != "scim" || str(it, table.ActorAt) != at.Format(time.RFC3339Nano) {
		t.Fatalf("put stamp: %v", it)
	}
	// An update by the CLI (no token) removes the earlier token.
	cli := store.WithActor(context.Background(), store.Actor{RequestID: "cli1", Via: store.ViaCLI})
	if err := store.StampUpdate(s, cli, tbl.Update("pk", "T#acme").Range("sk", "U#u1")).Run(ctx); err != nil {
		t.Fatal(err)
	}
	it = raw("U#u1")
	if _, has := it[table.ActorToken]; has || str(it, table.ActorVia) != "cli" || str(it, table.ActorRequest) != "cli1" {
		t.Fatalf("update stamp: %v", it)
	}
	if err := store.MarkDeletion(s, ctx, "T#acme", "U#u1").Run(ctx); err != nil {
		t.Fatal(err)
	}
	it = raw(table.DeletionPrefix + "U#u1")
	if str(it, table.ActorDeleted) != "T#acme|U#u1" || str(it, table.ActorToken) != "tok9" || str(it, "type") != table.DeletionType {
		t.Fatalf("deletion marker: %v", it)
	}
	ttl, ok := it[table.TTLAttribute].(*types.AttributeValueMemberN)
	if want := fmt.Sprint(at.Add(table.DeletionMarkerHours * time.Hour).Unix()); !ok || ttl.Value != want {
		t.Fatalf("deletion marker ttl = %v, want %s", it[table.TTLAttribute], want)
	}
	got, err := s.Deletions(ctx, []store.ItemKey{{PK: "T#acme", SK: "U#u1"}, {PK: "T#acme", SK: "U#none"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["T#acme|U#u1"].ActorToken != "tok9" || got["T#acme|U#u1"].ActorAt != at.Format(time.RFC3339Nano) {
		t.Fatalf("Deletions = %+v, want the marker of T#acme|U#u1 only", got)
	}
}
