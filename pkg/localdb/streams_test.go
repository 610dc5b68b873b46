package localdb_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/scimless/scimless/pkg/localdb"
)

func streamTable(t testing.TB, e *testEnv, name string) string {
	t.Helper()
	_, err := e.db.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.StreamSpecification == nil || !aws.ToBool(d.Table.StreamSpecification.StreamEnabled) || d.Table.LatestStreamArn == nil {
		t.Fatalf("DescribeTable does not show the stream: %+v", d.Table)
	}
	return aws.ToString(d.Table.LatestStreamArn)
}

type rec struct {
	event, sk, oldV, newV string
}

func summarize(rs []stypes.Record) []rec {
	var out []rec
	for _, r := range rs {
		x := rec{event: string(r.EventName), sk: r.Dynamodb.Keys["sk"].(*stypes.AttributeValueMemberS).Value}
		if v, ok := r.Dynamodb.OldImage["v"].(*stypes.AttributeValueMemberS); ok {
			x.oldV = v.Value
		}
		if v, ok := r.Dynamodb.NewImage["v"].(*stypes.AttributeValueMemberS); ok {
			x.newV = v.Value
		}
		out = append(out, x)
	}
	return out
}

// readAll reads a shard from an iterator until a page comes back empty.
func readAll(t testing.TB, st *dynamodbstreams.Client, it *string) ([]stypes.Record, *string) {
	t.Helper()
	var all []stypes.Record
	for {
		out, err := st.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Records...)
		it = out.NextShardIterator
		if len(out.Records) == 0 || it == nil {
			return all, it
		}
	}
}

func TestStreams(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	arn := streamTable(t, e, "str")
	put := func(sk, v string) {
		e.put(t, "str", av{"pk": s("p"), "sk": s(sk), "v": s(v)})
	}
	put("a", "1")
	put("a", "2")
	if _, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("str"), Key: av{"pk": s("p"), "sk": s("a")}}); err != nil {
		t.Fatal(err)
	}
	// A transaction's items are contiguous in the stream.
	if _, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("str"), Item: av{"pk": s("p"), "sk": s("t1"), "v": s("x")}}},
		{Put: &types.Put{TableName: aws.String("str"), Item: av{"pk": s("p"), "sk": s("t2"), "v": s("y")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("str"), Key: av{"pk": s("p"), "sk": s("a")}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}}); err != nil {
		t.Fatal(err)
	}
	// A failed conditional write leaves no record.
	_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("str"), Item: av{"pk": s("p"), "sk": s("t1")}, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	wantErr(t, err, "ConditionalCheckFailedException", "")

	ls, err := e.streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String("str")})
	if err != nil || len(ls.Streams) != 1 || aws.ToString(ls.Streams[0].StreamArn) != arn {
		t.Fatalf("ListStreams: %+v %v", ls, err)
	}
	ds, err := e.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil || len(ds.StreamDescription.Shards) != 1 || ds.StreamDescription.StreamViewType != stypes.StreamViewTypeNewAndOldImages || ds.StreamDescription.StreamStatus != stypes.StreamStatusEnabled {
		t.Fatalf("DescribeStream: %+v %v", ds, err)
	}
	shard := ds.StreamDescription.Shards[0].ShardId
	iter := func(typ stypes.ShardIteratorType, seq string) *string {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: shard, ShardIteratorType: typ}
		if seq != "" {
			in.SequenceNumber = aws.String(seq)
		}
		out, err := e.streams.GetShardIterator(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.ShardIterator
	}
	all, _ := readAll(t, e.streams, iter(stypes.ShardIteratorTypeTrimHorizon, ""))
	want := []rec{{"INSERT", "a", "", "1"}, {"MODIFY", "a", "1", "2"}, {"REMOVE", "a", "2", ""}, {"INSERT", "t1", "", "x"}, {"INSERT", "t2", "", "y"}}
	if got := summarize(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("records %+v, want %+v", got, want)
	}
	for i := 1; i < len(all); i++ {
		if aws.ToString(all[i].Dynamodb.SequenceNumber) <= aws.ToString(all[i-1].Dynamodb.SequenceNumber) {
			t.Fatalf("sequence numbers not increasing: %s then %s", *all[i-1].Dynamodb.SequenceNumber, *all[i].Dynamodb.SequenceNumber)
		}
	}
	if !all[3].Dynamodb.ApproximateCreationDateTime.Equal(*all[4].Dynamodb.ApproximateCreationDateTime) {
		t.Fatal("a transaction's records carry different times")
	}
	third := aws.ToString(all[2].Dynamodb.SequenceNumber)
	for _, tc := range []struct {
		typ  stypes.ShardIteratorType
		seq  string
		want []rec
	}{
		{stypes.ShardIteratorTypeAtSequenceNumber, third, want[2:]},
		{stypes.ShardIteratorTypeAfterSequenceNumber, third, want[3:]},
		{stypes.ShardIteratorTypeLatest, "", nil},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			got, next := readAll(t, e.streams, iter(tc.typ, tc.seq))
			if s := summarize(got); !reflect.DeepEqual(s, tc.want) {
				t.Fatalf("records %+v, want %+v", s, tc.want)
			}
			if next == nil {
				t.Fatal("an open shard always returns a next iterator")
			}
		})
	}
	// LATEST sees what is written after it was taken.
	latest := iter(stypes.ShardIteratorTypeLatest, "")
	put("later", "z")
	got, _ := readAll(t, e.streams, latest)
	if s := summarize(got); !reflect.DeepEqual(s, []rec{{"INSERT", "later", "", "z"}}) {
		t.Fatalf("after LATEST: %+v", s)
	}

	// The same records, in-process, in the shape Lambda receives.
	ev, err := e.eng.StreamRecords("str", "", 100)
	if err != nil || len(ev.Records) != 6 || ev.Records[1].EventName != "MODIFY" || ev.Records[1].Change.OldImage["v"].String() != "1" ||
		ev.Records[1].Change.NewImage["v"].String() != "2" || ev.Records[0].EventSourceArn != arn {
		t.Fatalf("StreamRecords: %+v %v", ev.Records, err)
	}
	rest, err := e.eng.StreamRecords("str", ev.Records[3].Change.SequenceNumber, 100)
	if err != nil || len(rest.Records) != 2 || rest.Records[0].Change.Keys["sk"].String() != "t2" {
		t.Fatalf("StreamRecords after: %+v %v", rest.Records, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	last := ev.Records[5].Change.SequenceNumber
	go func() { done <- e.eng.WaitStream(waitCtx, "str", last) }()
	put("wake", "w")
	if err := <-done; err != nil {
		t.Fatalf("WaitStream: %v", err)
	}
}

// TestStreamRetention: records older than 24 h are trimmed, and reading
// from a trimmed position is refused as DynamoDB refuses it.
func TestStreamRetention(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	e := start(t, localdb.Options{Now: clock.Now})
	ctx := context.Background()
	arn := streamTable(t, e, "ret")
	e.put(t, "ret", av{"pk": s("p"), "sk": s("old"), "v": s("1")})
	ds, err := e.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := readAll(t, e.streams, mustIter(t, e, arn, ds, stypes.ShardIteratorTypeTrimHorizon, ""))
	clock.now = clock.now.Add(25 * time.Hour)
	e.put(t, "ret", av{"pk": s("p"), "sk": s("new"), "v": s("2")})
	got, _ := readAll(t, e.streams, mustIter(t, e, arn, ds, stypes.ShardIteratorTypeTrimHorizon, ""))
	if s := summarize(got); !reflect.DeepEqual(s, []rec{{"INSERT", "new", "", "2"}}) {
		t.Fatalf("after 25 h: %+v", s)
	}
	_, err = e.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: ds.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: stypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: first[0].Dynamodb.SequenceNumber})
	wantErr(t, err, "TrimmedDataAccessException", "")
}

func mustIter(t testing.TB, e *testEnv, arn string, ds *dynamodbstreams.DescribeStreamOutput, typ stypes.ShardIteratorType, seq string) *string {
	t.Helper()
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: ds.StreamDescription.Shards[0].ShardId, ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = aws.String(seq)
	}
	out, err := e.streams.GetShardIterator(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.ShardIterator
}

// TestStreamEnableLater: UpdateTable turns a stream on and off.
func TestStreamEnableLater(t *testing.T) {
	e := start(t, localdb.Options{})
	ctx := context.Background()
	e.createTable(t, "later", "S")
	e.put(t, "later", av{"pk": s("p"), "sk": s("before")})
	up, err := e.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("later"),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil || up.TableDescription.LatestStreamArn == nil {
		t.Fatalf("enable stream: %+v %v", up, err)
	}
	for i := range 3 {
		e.put(t, "later", av{"pk": s("p"), "sk": s(fmt.Sprint(i)), "v": s("x")})
	}
	ev, err := e.eng.StreamRecords("later", "", 10)
	if err != nil || len(ev.Records) != 3 {
		t.Fatalf("records: %d %v", len(ev.Records), err)
	}
	if _, err := e.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("later"), StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	ds, err := e.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: up.TableDescription.LatestStreamArn})
	if err != nil || ds.StreamDescription.StreamStatus != stypes.StreamStatusDisabled || ds.StreamDescription.Shards[0].SequenceNumberRange.EndingSequenceNumber == nil {
		t.Fatalf("disabled stream: %+v %v", ds, err)
	}
	got, next := readAll(t, e.streams, mustIter(t, e, *up.TableDescription.LatestStreamArn, ds, stypes.ShardIteratorTypeTrimHorizon, ""))
	if len(got) != 3 || next != nil {
		t.Fatalf("closed shard: %d records, next %v", len(got), next)
	}
}
