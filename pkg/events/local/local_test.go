package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/scimless/scimless/pkg/auth"
	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/local"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook"
)

// memStream is a one-shard stream that the test appends the records of its
// writes to, as the engine's stream would.
type memStream struct {
	mu   sync.Mutex
	recs []types.Record
}

func conv(v ddb.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *ddb.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *ddb.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *ddb.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: v.Value}
	case *ddb.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *ddb.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: v.Value}
	case *ddb.AttributeValueMemberM:
		m := map[string]types.AttributeValue{}
		for k, e := range v.Value {
			m[k] = conv(e)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}

func convItem(it map[string]ddb.AttributeValue) map[string]types.AttributeValue {
	if it == nil {
		return nil
	}
	out := map[string]types.AttributeValue{}
	for k, v := range it {
		out[k] = conv(v)
	}
	return out
}

// write runs fn and appends a record for each of keys that changed.
func (m *memStream) write(t *testing.T, client *dynamodb.Client, table string, fn func() error, keys ...[2]string) {
	t.Helper()
	get := func(k [2]string) map[string]ddb.AttributeValue {
		out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]ddb.AttributeValue{"pk": &ddb.AttributeValueMemberS{Value: k[0]}, "sk": &ddb.AttributeValueMemberS{Value: k[1]}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	before := make([]map[string]ddb.AttributeValue, len(keys))
	for i, k := range keys {
		before[i] = get(k)
	}
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		b, a := before[i], get(k)
		name := types.OperationTypeModify
		switch {
		case b == nil && a == nil:
			continue
		case b == nil:
			name = types.OperationTypeInsert
		case a == nil:
			name = types.OperationTypeRemove
		}
		seq := len(m.recs) + 1
		m.recs = append(m.recs, types.Record{EventID: aws.String(fmt.Sprint(seq)), EventName: name,
			Dynamodb: &types.StreamRecord{SequenceNumber: aws.String(fmt.Sprintf("%021d", seq)), ApproximateCreationDateTime: aws.Time(time.Now()),
				OldImage: convItem(b), NewImage: convItem(a), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	}
}

func (m *memStream) ListStreams(context.Context, *dynamodbstreams.ListStreamsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error) {
	return &dynamodbstreams.ListStreamsOutput{Streams: []types.Stream{{StreamArn: aws.String("arn")}}}, nil
}

func (m *memStream) DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{Shards: []types.Shard{{ShardId: aws.String("s")}}}}, nil
}

func (m *memStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pos := 0
	if in.ShardIteratorType == types.ShardIteratorTypeAtSequenceNumber {
		pos, _ = strconv.Atoi(strings.TrimLeft(aws.ToString(in.SequenceNumber), "0"))
		pos--
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(pos))}, nil
}

func (m *memStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pos, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	end := min(pos+int(aws.ToInt32(in.Limit)), len(m.recs))
	return &dynamodbstreams.GetRecordsOutput{Records: m.recs[pos:end], NextShardIterator: aws.String(strconv.Itoa(end))}, nil
}

type oneToken struct{}

func (oneToken) Authenticate(_ context.Context, h string) (auth.Principal, error) {
	if h != "Bearer t" {
		return auth.Principal{}, auth.ErrUnauthorized
	}
	return auth.Principal{Tenant: "acme", Scopes: []string{auth.ScopeEvents}}, nil
}

// TestPipeline: writes reach both the Events API (a long poll answers) and
// a subscribed webhook receiver, signed.
func TestPipeline(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	var (
		mu  sync.Mutex
		got []string
	)
	var secret string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e events.Event
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		got = append(got, e.Type)
		mu.Unlock()
	}))
	defer rcv.Close()
	var err error
	if secret, err = local.Subscribe(ctx, env.Store, rcv.URL, []string{"acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Subscribe(ctx, env.Store, "ftp://nope", []string{"acme"}); err == nil {
		t.Fatal("a bad URL was subscribed")
	}
	ms := &memStream{}
	p, err := local.Start(ctx, local.Config{Store: env.Store, Streams: ms, Auth: oneToken{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}()
	srv := httptest.NewServer(p.API)
	defer srv.Close()

	type page struct {
		Data []events.Event `json:"data"`
	}
	res := make(chan page, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events/v1?wait=20s", nil)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		var pg page
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&pg)
			resp.Body.Close()
		}
		res <- pg
	}()
	now := time.Now().UTC()
	u := &store.User{ID: "u1", UserName: "ada@example.com", Active: true, Doc: []byte(`{"userName":"ada@example.com","active":true}`), Created: now, Modified: now}
	ms.write(t, env.Client, env.Store.TableName(), func() error { return env.Store.CreateUser(ctx, "acme", u) }, [2]string{"T#acme", "U#u1"})
	select {
	case pg := <-res:
		if len(pg.Data) != 1 || pg.Data[0].Type != events.UserCreated {
			t.Fatalf("long poll answered %+v", pg)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the long poll did not answer")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != events.UserCreated {
		t.Fatalf("receiver got %v", got)
	}
}
