package stream_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/scimless/scimless/pkg/events/stream"
)

// fakeStreams serves one stream with a closed parent shard and an open
// child shard. Iterators are "shard|position".
type fakeStreams struct {
	mu     sync.Mutex
	shards map[string][]types.Record
	closed map[string]bool
	order  []types.Shard
}

func rec(seq int, name string) types.Record {
	return types.Record{EventID: aws.String(fmt.Sprintf("ev%d", seq)), EventName: types.OperationType(name), AwsRegion: aws.String("local"),
		Dynamodb: &types.StreamRecord{SequenceNumber: aws.String(fmt.Sprintf("%021d", seq)), StreamViewType: types.StreamViewTypeNewAndOldImages,
			ApproximateCreationDateTime: aws.Time(time.Unix(1_800_000_000, 0)),
			Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme"}},
			NewImage: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "T#acme"}, "n": &types.AttributeValueMemberN{Value: strconv.Itoa(seq)},
				"b": &types.AttributeValueMemberB{Value: []byte("x")}, "ok": &types.AttributeValueMemberBOOL{Value: true},
				"ss": &types.AttributeValueMemberSS{Value: []string{"a"}}, "m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}}}},
			}}}
}

func (f *fakeStreams) ListStreams(context.Context, *dynamodbstreams.ListStreamsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error) {
	return &dynamodbstreams.ListStreamsOutput{Streams: []types.Stream{{StreamArn: aws.String("arn:stream")}}}, nil
}

func (f *fakeStreams) DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{StreamViewType: types.StreamViewTypeNewAndOldImages, Shards: f.order}}, nil
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	shard := aws.ToString(in.ShardId)
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeLatest:
		pos = len(f.shards[shard])
	case types.ShardIteratorTypeAtSequenceNumber:
		for i, r := range f.shards[shard] {
			if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
				pos = i
			}
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d", shard, pos))}, nil
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	shard, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "|")
	pos, _ := strconv.Atoi(p)
	recs := f.shards[shard]
	end := min(pos+int(aws.ToInt32(in.Limit)), len(recs))
	out := &dynamodbstreams.GetRecordsOutput{Records: recs[pos:end]}
	if !(f.closed[shard] && end == len(recs)) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d", shard, end))
	}
	return out, nil
}

func (f *fakeStreams) add(shard string, r types.Record) {
	f.mu.Lock()
	f.shards[shard] = append(f.shards[shard], r)
	f.mu.Unlock()
}

func TestPoller(t *testing.T) {
	f := &fakeStreams{shards: map[string][]types.Record{}, closed: map[string]bool{"s1": true},
		order: []types.Shard{{ShardId: aws.String("s2"), ParentShardId: aws.String("s1")}, {ShardId: aws.String("s1")}}}
	for i := 1; i <= 7; i++ {
		f.add("s1", rec(i, "INSERT"))
	}
	for i := 8; i <= 9; i++ {
		f.add("s2", rec(i, "MODIFY"))
	}
	var (
		mu      sync.Mutex
		handled []string
		failed  bool
	)
	h := func(_ context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for i, r := range ev.Records {
			if r.Change.NewImage["n"].Number() != strings.TrimLeft(r.Change.SequenceNumber, "0") || !r.Change.NewImage["ok"].Boolean() {
				panic("image not converted")
			}
			if !failed && strings.HasSuffix(r.Change.SequenceNumber, "3") {
				failed = true // report record 3 once: records 3.. come again
				return lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}, nil
			}
			handled = append(handled, strings.TrimLeft(ev.Records[i].Change.SequenceNumber, "0"))
		}
		return lambdaevents.DynamoDBEventResponse{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := stream.NewPoller(f, "scimless", h, stream.WithBatchSize(4), stream.WithIdle(5*time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	f.add("s2", rec(10, "REMOVE")) // arrives while polling
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(handled)
		mu.Unlock()
		if n >= 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// 1 and 2 were handled in the failed batch; from 3 on everything once
	// more, the parent shard before its child.
	if got := strings.Join(handled, ","); got != "1,2,3,4,5,6,7,8,9,10" {
		t.Fatalf("handled %s", got)
	}
}
