package scim

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

// EventFeed plays the table's stream in tests: Flush turns the changes made
// to the table since the last Flush into stream records and hands them to
// the events consumer, which stores the events the audit trail is read
// from. Changes of one item between two Flushes collapse into one record,
// so tests that check every event flush after every write.
type EventFeed struct {
	tb   testing.TB
	rec  *streamtest.Recorder
	last streamtest.Snapshot
	c    *consumer.Consumer
}

// NewEventFeed starts a feed of env's table from its current contents.
func NewEventFeed(tb testing.TB, env *storetest.Env) *EventFeed {
	rec := streamtest.New(tb, env.Client, table.DefaultName)
	return &EventFeed{tb: tb, rec: rec, last: rec.Snapshot(), c: consumer.New(env.Store)}
}

// Flush delivers the changes since the last Flush to the consumer.
func (f *EventFeed) Flush() {
	f.tb.Helper()
	now := f.rec.Snapshot()
	recs := f.rec.Diff(f.last, now)
	if len(recs) == 0 {
		return
	}
	resp, err := f.c.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) > 0 {
		f.tb.Fatalf("events consumer: %+v %v", resp, err)
	}
	// The consumer's own writes (event items) are part of the next diff;
	// they are not directory items and yield no events.
	f.last = f.rec.Snapshot()
}

// TestWriteEventsCarryActor: each SCIM write's events carry its token id,
// its request id (the X-Request-Id answered) and "scim", for every kind of
// write, deletions and membership removals included.
func TestWriteEventsCarryActor(t *testing.T) {
	h := newHarness(t)
	feed := NewEventFeed(t, h.env)
	ctx := context.Background()
	toks, err := h.env.Store.ListTokens(ctx, "default")
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens %v %v", toks, err)
	}
	uid := h.createUser(oktaUserBody("actor.one@example.com", "Actor", "One"))
	uid2 := h.createUser(oktaUserBody("actor.two@example.com", "Actor", "Two"))
	feed.Flush()
	var gid string
	patch := func(ops ...map[string]any) map[string]any {
		return map[string]any{"schemas": []string{patchOpMsgURN}, "Operations": ops}
	}
	tests := []struct {
		name   string
		rq     func() req
		status int
		want   []string // event types
		// unattributed are event types whose actor the feed cannot show:
		// it collapses the user's update that records a membership's
		// removal into the user's deletion, where the table's stream
		// delivers both (the store's TestWritesRecordActor covers it).
		unattributed string
	}{
		{"PUT user", func() req {
			b := oktaUserBody("actor.one@example.com", "Actor", "Uno")
			return req{method: "PUT", path: "/Users/" + uid, body: b}
		}, 200, []string{"user.updated"}, ""},
		{"PATCH user inactive", func() req {
			return req{method: "PATCH", path: "/Users/" + uid, body: patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}})}
		}, 200, []string{"user.deactivated"}, ""},
		{"POST group with 2 members", func() req {
			return req{method: "POST", path: "/Groups", body: map[string]any{"displayName": "Actors",
				"members": []any{map[string]any{"value": uid}, map[string]any{"value": uid2}}}}
		}, 201, []string{"group.created", "group.member_added", "group.member_added"}, ""},
		{"PATCH group remove a member", func() req {
			return req{method: "PATCH", path: "/Groups/" + gid, body: patch(map[string]any{"op": "remove", "path": `members[value eq "` + uid2 + `"]`})}
		}, 204, []string{"group.member_removed"}, ""},
		{"DELETE a member user", func() req { return req{method: "DELETE", path: "/Users/" + uid} }, 204,
			[]string{"group.member_removed", "user.deleted"}, "group.member_removed"},
		{"DELETE group", func() req { return req{method: "DELETE", path: "/Groups/" + gid} }, 204, []string{"group.deleted"}, ""},
	}
	start, err := h.env.Store.ListEvents(ctx, "default", store.EventQuery{Limit: 100})
	if err != nil || len(start.Events) != 2 {
		t.Fatalf("events of the set-up: %d, %v", len(start.Events), err)
	}
	after := start.Next
	for _, tc := range tests {
		w := h.do(tc.rq())
		if w.Code != tc.status {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		if tc.status == 201 && gid == "" {
			gid = jsonBody(t, w)["id"].(string)
		}
		feed.Flush()
		page, err := h.env.Store.ListEvents(ctx, "default", store.EventQuery{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		after = page.Next
		var got []string
		for _, e := range page.Events {
			got = append(got, e.Type)
			var ev events.Event
			if err := json.Unmarshal(e.JSON, &ev); err != nil {
				t.Fatal(err)
			}
			want := events.Actor{TokenID: toks[0].ID, RequestID: w.Header().Get("X-Request-Id"), Via: "scim"}
			if e.Type == tc.unattributed {
				continue
			}
			if ev.Actor != want || want.RequestID == "" {
				t.Errorf("%s: %s has actor %+v, want %+v", tc.name, e.Type, ev.Actor, want)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
		}
	}
}
