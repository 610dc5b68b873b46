package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// scenario writes a small directory history through the real store and
// returns its stream records in order.
func scenario(t testing.TB, env *storetest.Env, tenant string) []lambdaevents.DynamoDBEventRecord {
	s, ctx := env.Store, context.Background()
	rec := streamtest.New(t, env.Client, s.TableName())
	now := time.Now().UTC()
	var recs []lambdaevents.DynamoDBEventRecord
	for i := 1; i <= 3; i++ {
		u := &store.User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d@example.com", i), Active: true,
			Doc: []byte(fmt.Sprintf(`{"userName":"user%d@example.com","active":true}`, i)), Created: now, Modified: now}
		recs = append(recs, rec.Write(func() error { return s.CreateUser(ctx, tenant, u) }, streamtest.UserKeys(tenant, u.ID, u.UserName)...)...)
	}
	g := &store.Group{ID: "g1", DisplayName: "Engineering", Doc: []byte(`{"displayName":"Engineering"}`), Created: now, Modified: now}
	recs = append(recs, rec.Write(func() error { return s.CreateGroup(ctx, tenant, g) }, streamtest.GroupKeys(tenant, "g1", "Engineering")...)...)
	recs = append(recs, rec.Write(func() error {
		_, err := s.AddMembers(ctx, tenant, "g1", 0, []store.Member{{UserID: "u1"}, {UserID: "u2"}, {UserID: "u3"}})
		return err
	}, streamtest.MemberKeys(tenant, "g1", "u1", "u2", "u3")...)...)
	recs = append(recs, rec.Write(func() error { return s.RemoveMembers(ctx, tenant, "g1", 0, []string{"u2"}) }, streamtest.MemberKeys(tenant, "g1", "u2")...)...)
	recs = append(recs, rec.Write(func() error {
		u, err := s.GetUser(ctx, tenant, "u3")
		if err != nil {
			return err
		}
		return s.DeleteUser(ctx, tenant, u)
	}, streamtest.UserKeys(tenant, "u3", "user3@example.com")...)...)
	return recs
}

var scenarioTypes = []string{
	events.UserCreated, events.UserCreated, events.UserCreated, events.GroupCreated,
	events.GroupMemberAdded, events.GroupMemberAdded, events.GroupMemberAdded, events.GroupMemberRemove, events.UserDeleted,
}

type memBus struct {
	mu   sync.Mutex
	evs  []events.Event
	fail error
}

func (b *memBus) Publish(_ context.Context, evs []events.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.evs = append(b.evs, evs...)
	return nil
}

type memQueue struct {
	mu   sync.Mutex
	jobs []delivery.Job
}

func (q *memQueue) Enqueue(_ context.Context, jobs []delivery.Job) error {
	q.mu.Lock()
	q.jobs = append(q.jobs, jobs...)
	q.mu.Unlock()
	return nil
}

func listAll(t testing.TB, s *store.Store, tenant string) []events.Event {
	t.Helper()
	page, err := s.ListEvents(context.Background(), tenant, store.EventQuery{Limit: store.MaxEventLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]events.Event, len(page.Events))
	for i, e := range page.Events {
		if err := json.Unmarshal(e.JSON, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func typesOf(evs []events.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return s
}

func TestConsumerStoresAndFansOut(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "all", URL: "https://a.example.com", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "deletes", URL: "https://b.example.com", Secret: "s", Types: []string{events.UserDeleted}}); err != nil {
		t.Fatal(err)
	}
	recs := scenario(t, env, "acme")
	bus, q := &memBus{}, &memQueue{}
	c := consumer.New(env.Store, consumer.WithBus(bus), consumer.WithQueue(q), consumer.WithBaseURL("https://id.example.com/scim/v2"))
	resp, st, err := c.HandleStats(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("handle: %+v %v", resp, err)
	}
	if st.Events != len(scenarioTypes) || st.Stored != len(scenarioTypes) || st.Jobs != len(scenarioTypes)+1 {
		t.Fatalf("stats %+v", st)
	}
	got := listAll(t, env.Store, "acme")
	if !slices.Equal(typesOf(got), scenarioTypes) {
		t.Fatalf("stored %v, want %v", typesOf(got), scenarioTypes)
	}
	// Membership names come from the batch and the store.
	var m events.MemberData
	if err := json.Unmarshal(got[4].Data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Group.ID != "g1" || m.Group.DisplayName != "Engineering" || m.User.ID != "u1" || m.User.UserName != "user1@example.com" {
		t.Fatalf("member data %+v", m)
	}
	if len(bus.evs) != len(scenarioTypes) {
		t.Fatalf("bus got %d events", len(bus.evs))
	}
	var deletes int
	for _, j := range q.jobs {
		if j.WebhookID == "deletes" {
			deletes++
			var e events.Event
			if err := json.Unmarshal(j.Event, &e); err != nil || e.Type != events.UserDeleted || e.ID != j.EventID {
				t.Fatalf("job %+v: %v", j, err)
			}
		}
	}
	if deletes != 1 {
		t.Fatalf("filtered webhook got %d jobs, want 1", deletes)
	}
	// The audit trail is read from the same events.
	trail, err := env.Store.ListEventAudit(ctx, "acme", time.Time{}, 100)
	if err != nil || len(trail) != len(scenarioTypes) || trail[0].Operation != events.UserDeleted || trail[0].ResourceID != "u3" {
		t.Fatalf("trail %+v %v", trail, err)
	}
}

// TestConsumerCrashAndRedelivery: however a batch is cut short (a crash after
// storing part of it, a failing fan-out, a bad record), handing the records
// from the reported failure on again stores every event exactly once.
func TestConsumerCrashAndRedelivery(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	recs := scenario(t, env, "acme")

	// 1. Crash after storing the first records: the event source redelivers
	// the whole batch.
	c := consumer.New(env.Store)
	if _, err := c.Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs[:5]}); err != nil {
		t.Fatal(err)
	}
	// 2. A redelivery whose bus fails: the batch is reported from its first
	// record, although its events were stored.
	bus := &memBus{fail: errors.New("bus unavailable")}
	c2 := consumer.New(env.Store, consumer.WithBus(bus))
	resp, err := c2.Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != recs[0].Change.SequenceNumber {
		t.Fatalf("failed fan-out reported %+v %v", resp, err)
	}
	// 3. A corrupt record in the middle: reported, everything before it handled.
	bad := recs[6]
	bad.Change.NewImage = events.Image{"pk": lambdaevents.NewStringAttribute("T#acme"), "sk": lambdaevents.NewStringAttribute("U#zz"),
		"type": lambdaevents.NewStringAttribute("user"), "id": lambdaevents.NewStringAttribute("zz"),
		"doc": lambdaevents.NewBinaryAttribute([]byte("{broken"))}
	bad.EventName = "INSERT"
	withBad := append(append(slices.Clone(recs[:6]), bad), recs[6:]...)
	resp, err = consumer.New(env.Store).Handle(ctx, lambdaevents.DynamoDBEvent{Records: withBad})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.Change.SequenceNumber {
		t.Fatalf("bad record reported %+v %v", resp, err)
	}
	// 4. The final, successful redelivery.
	bus.fail = nil
	resp, st, err := consumer.New(env.Store, consumer.WithBus(bus)).HandleStats(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery: %+v %v", resp, err)
	}
	if st.Stored != 0 {
		t.Fatalf("redelivery stored %d new events; all were stored before", st.Stored)
	}
	got := listAll(t, env.Store, "acme")
	if !slices.Equal(typesOf(got), scenarioTypes) {
		t.Fatalf("after crashes: %v, want %v", typesOf(got), scenarioTypes)
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("duplicate event %s", e.ID)
		}
		seen[e.ID] = true
	}
}

func TestConsumerCanceledMidBatch(t *testing.T) {
	env := storetest.New(t)
	recs := scenario(t, env, "acme")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := consumer.New(env.Store).Handle(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("canceled batch: %+v %v", resp, err)
	}
	if _, err := consumer.New(env.Store).Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, env.Store, "acme"); len(got) != len(scenarioTypes) {
		t.Fatalf("stored %d events, want %d", len(got), len(scenarioTypes))
	}
}

// TestConsumerAttributesDeletionsAcrossBatches: when a deletion's marker
// record reaches the consumer in another batch (a batch boundary, or another
// shard on AWS), the consumer reads the marker back and the event still
// carries the deleting actor.
func TestConsumerAttributesDeletionsAcrossBatches(t *testing.T) {
	env := storetest.New(t)
	s := env.Store
	rec := streamtest.New(t, env.Client, s.TableName())
	const tenant = "acme"
	setup := context.Background()
	now := time.Now().UTC()
	u := &store.User{ID: "u1", UserName: "ada@example.com", Active: true, Doc: []byte(`{"userName":"ada@example.com","active":true}`), Created: now, Modified: now}
	g := &store.Group{ID: "g1", DisplayName: "Eng", Doc: []byte(`{"displayName":"Eng"}`), Created: now, Modified: now}
	if err := s.CreateUser(setup, tenant, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(setup, tenant, g); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMembers(setup, tenant, "g1", 0, []store.Member{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{TokenID: "tok-del", RequestID: "req-del", Via: store.ViaSCIM}
	ctx := store.WithActor(context.Background(), actor)
	recs := rec.Write(func() error { return s.RemoveUserFromGroups(ctx, tenant, "u1", []string{"g1"}) }, streamtest.MemberKeys(tenant, "g1", "u1")...)
	recs = append(recs, rec.Write(func() error {
		prev, err := s.GetUser(ctx, tenant, "u1")
		if err != nil {
			return err
		}
		return s.DeleteUser(ctx, tenant, prev)
	}, streamtest.UserKeys(tenant, "u1", u.UserName)...)...)
	var removes, markers []lambdaevents.DynamoDBEventRecord
	for _, r := range recs {
		if r.Change.NewImage["type"].DataType() == lambdaevents.DataTypeString && r.Change.NewImage["type"].String() == "deletion" {
			markers = append(markers, r)
		} else {
			removes = append(removes, r)
		}
	}
	if len(markers) != 2 {
		t.Fatalf("%d marker records, want 2", len(markers))
	}
	c := consumer.New(s)
	for _, batch := range [][]lambdaevents.DynamoDBEventRecord{removes, markers} {
		resp, _, err := c.HandleStats(context.Background(), lambdaevents.DynamoDBEvent{Records: batch})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("handle: %v %+v", err, resp)
		}
	}
	got := listAll(t, s, tenant)
	if want := []string{events.GroupMemberRemove, events.UserDeleted}; !slices.Equal(typesOf(got), want) {
		t.Fatalf("events %v, want %v", typesOf(got), want)
	}
	for _, e := range got {
		if want := (events.Actor{TokenID: actor.TokenID, RequestID: actor.RequestID, Via: actor.Via}); e.Actor != want {
			t.Errorf("%s: actor %+v, want %+v", e.Type, e.Actor, want)
		}
	}
}
