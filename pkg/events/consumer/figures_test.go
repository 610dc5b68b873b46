package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/scim"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// BenchmarkEventsPerOperation reports, for each SCIM request made through
// the real handler, exactly how many events its writes yield (events/op)
// and of which types: every item the request changed becomes a stream
// record (the table is snapshotted before and after), and the records are
// derived as the events function derives them.
//
//	go test -run '^$' -bench EventsPerOperation -benchtime 1x ./pkg/events/consumer
func BenchmarkEventsPerOperation(b *testing.B) {
	env := storetest.New(b)
	ctx := context.Background()
	secret, _, err := auth.Issue(ctx, env.Store, auth.IssueOptions{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	srv := scim.New(scim.Config{Store: env.Store, Auth: auth.NewAuthenticator(env.Store, 0), Logger: slog.New(slog.DiscardHandler)})
	rec := streamtest.New(b, env.Client, env.Store.TableName())
	const members = 1000
	var users []*store.User
	now := time.Now().UTC()
	for i := range members {
		users = append(users, &store.User{ID: fmt.Sprintf("m%04d", i), UserName: fmt.Sprintf("member%d@example.com", i), Active: true,
			Doc: []byte(fmt.Sprintf(`{"userName":"member%d@example.com","active":true}`, i)), Created: now, Modified: now})
	}
	if err := env.Store.ImportUsers(ctx, "acme", users); err != nil {
		b.Fatal(err)
	}
	do := func(method, path, body string) string {
		req := httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/scim+json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		out, _ := io.ReadAll(w.Body)
		return string(out)
	}
	idOf := func(body string) string {
		_, rest, _ := strings.Cut(body, `"id":"`)
		id, _, _ := strings.Cut(rest, `"`)
		return id
	}
	memberList := func(n int) string {
		var sb strings.Builder
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"value":"m%04d"}`, i)
		}
		return sb.String()
	}
	var userID, groupID string
	steps := []struct {
		name string
		run  func()
		want int
	}{
		{"POST_Users", func() {
			userID = idOf(do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","name":{"givenName":"Ada"},"active":true}`))
		}, 1},
		{"PUT_Users", func() {
			do("PUT", "/Users/"+userID, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true}`)
		}, 1},
		{"PATCH_Users_deactivate", func() {
			do("PATCH", "/Users/"+userID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
		}, 1},
		{"POST_Groups", func() {
			groupID = idOf(do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone"}`))
		}, 1},
		{"PATCH_Groups_add_1000_members", func() {
			do("PATCH", "/Groups/"+groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`+memberList(members)+`]}]}`)
		}, members},
		{"PATCH_Groups_remove_1_member", func() {
			do("PATCH", "/Groups/"+groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"m0000\"]"}]}`)
		}, 1},
		{"PATCH_Groups_add_user", func() {
			do("PATCH", "/Groups/"+groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+userID+`"}]}]}`)
		}, 1},
		{"DELETE_Users_member_of_1_group", func() { do("DELETE", "/Users/"+userID, "") }, 2},
		{"DELETE_Groups_999_members", func() { do("DELETE", "/Groups/"+groupID, "") }, 1 + members - 1},
	}
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			if b.N != 1 {
				b.Skip("run with -benchtime 1x: each step changes the directory")
			}
			before := rec.Snapshot()
			st.run()
			recs := rec.Diff(before, rec.Snapshot())
			counts := map[string]int{}
			total := 0
			for _, r := range events.Derive(recs, events.Options{}, nil) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				for _, e := range r.Events {
					counts[e.Type]++
					total++
				}
			}
			if total != st.want {
				b.Errorf("%s yields %d events %v, want %d", st.name, total, counts, st.want)
			}
			b.ReportMetric(float64(total), "events/op")
			b.ReportMetric(float64(len(recs)), "records/op")
			b.Logf("%s: %d events %v from %d stream records", st.name, total, counts, len(recs))
		})
	}
}

// BenchmarkConsumerThroughput measures how many events one consumer (one
// shard) stores per second from batches of 100 stream records (Lambda's
// default batch size), each a new user: derive, conditional put per event.
//
//	go test -run '^$' -bench ConsumerThroughput ./pkg/events/consumer
func BenchmarkConsumerThroughput(b *testing.B) {
	env := storetest.New(b)
	ctx := context.Background()
	rec := streamtest.New(b, env.Client, env.Store.TableName())
	var batch []lambdaevents.DynamoDBEventRecord
	now := time.Now().UTC()
	for i := range 100 {
		u := &store.User{ID: fmt.Sprintf("u%03d", i), UserName: fmt.Sprintf("user%d@example.com", i), Active: true,
			Doc: []byte(fmt.Sprintf(`{"userName":"user%d@example.com","active":true,"name":{"givenName":"U%d"},"emails":[{"value":"user%d@example.com"}]}`, i, i, i)), Created: now, Modified: now}
		batch = append(batch, rec.Write(func() error { return env.Store.CreateUser(ctx, "acme", u) }, streamtest.Key{PK: "T#acme", SK: "U#" + u.ID})...)
	}
	c := consumer.New(env.Store, consumer.WithQueue(&memQueue{}), consumer.WithBus(&memBus{}))
	b.ResetTimer()
	start := time.Now()
	stored := 0
	for n := range b.N {
		recs := make([]lambdaevents.DynamoDBEventRecord, len(batch))
		for i, r := range batch {
			r.Change.SequenceNumber = fmt.Sprintf("%d%08d%04d", 2, n, i) // a new record each time
			recs[i] = r
		}
		resp, st, err := c.HandleStats(ctx, lambdaevents.DynamoDBEvent{Records: recs})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			b.Fatalf("%+v %v", resp, err)
		}
		stored += st.Stored
	}
	elapsed := time.Since(start)
	if stored != 100*b.N {
		b.Fatalf("stored %d events, want %d", stored, 100*b.N)
	}
	b.ReportMetric(float64(stored)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

var _ http.Handler = (*scim.Server)(nil)
