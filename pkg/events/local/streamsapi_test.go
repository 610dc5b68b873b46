package local_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/local"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// TestPipelineOnStreamsAPI runs the pipeline against an endpoint that
// serves DynamoDB and DynamoDB Streams (SCIMLESS_STREAMS_ENDPOINT, e.g.
// `python3 -m moto.server -p 5077` → http://127.0.0.1:5077): writes made
// through the store reach the Events API through the real Streams API.
func TestPipelineOnStreamsAPI(t *testing.T) {
	if os.Getenv("SCIMLESS_STREAMS_ENDPOINT") == "" {
		t.Skip("set SCIMLESS_STREAMS_ENDPOINT to an endpoint serving DynamoDB and DynamoDB Streams")
	}
	ctx := context.Background()
	st, streams := streamsStore(t)
	p, err := local.Start(ctx, local.Config{Store: st, Streams: streams, Auth: oneToken{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}()
	now := time.Now().UTC()
	for i := 1; i <= 3; i++ {
		u := &store.User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d@example.com", i), Active: true,
			Doc: []byte(fmt.Sprintf(`{"userName":"user%d@example.com","active":true}`, i)), Created: now, Modified: now}
		if err := st.CreateUser(ctx, "acme", u); err != nil {
			t.Fatal(err)
		}
	}
	g := &store.Group{ID: "g1", DisplayName: "Eng", Doc: []byte(`{"displayName":"Eng"}`), Created: now, Modified: now}
	if err := st.CreateGroup(ctx, "acme", g); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMembers(ctx, "acme", "g1", 0, []store.Member{{UserID: "u1"}, {UserID: "u2"}}); err != nil {
		t.Fatal(err)
	}
	u3, err := st.GetUser(ctx, "acme", "u3")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser(ctx, "acme", u3); err != nil {
		t.Fatal(err)
	}
	want := []string{events.UserCreated, events.UserCreated, events.UserCreated, events.GroupCreated,
		events.GroupMemberAdded, events.GroupMemberAdded, events.UserDeleted}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		page, err := st.ListEvents(ctx, "acme", store.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range page.Events {
			got = append(got, e.Type)
		}
		if len(got) >= len(want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// streamsStore returns a store on a new table with a NEW_AND_OLD_IMAGES
// stream and a client of its stream: on SCIMLESS_STREAMS_ENDPOINT when set,
// else on the embedded engine (skipping when it serves no stream).
func streamsStore(tb testing.TB) (*store.Store, *dynamodbstreams.Client) {
	tb.Helper()
	ctx := context.Background()
	endpoint := os.Getenv("SCIMLESS_STREAMS_ENDPOINT")
	var st *store.Store
	if endpoint == "" {
		env := storetest.New(tb)
		endpoint, st = env.Engine.Endpoint(), env.Store
	} else {
		name := fmt.Sprintf("scimless-streams-%d", time.Now().UnixNano())
		client, err := store.NewClient(ctx, store.ClientConfig{Endpoint: endpoint})
		if err != nil {
			tb.Fatal(err)
		}
		in := store.CreateTableInput(name)
		in.StreamSpecification = &ddb.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddb.StreamViewTypeNewAndOldImages}
		if _, err := client.CreateTable(ctx, in); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		st = store.New(client, name)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	if err != nil {
		tb.Fatal(err)
	}
	streams := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if _, err := streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(st.TableName())}); err != nil {
		tb.Skipf("%s does not serve the table's stream: %v", endpoint, err)
	}
	return st, streams
}
