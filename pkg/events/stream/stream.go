// Package stream reads a table's stream through the DynamoDB Streams API
// (ListStreams, DescribeStream, GetShardIterator, GetRecords) and hands the
// records to a handler in batches, the way a Lambda event source mapping
// does: the same handler runs on AWS behind the mapping and locally behind a
// Poller, on DynamoDB or on any engine that serves the Streams API.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/scimless/scimless/pkg/events"
)

// API is the part of the DynamoDB Streams client a Poller uses.
type API interface {
	ListStreams(ctx context.Context, in *dynamodbstreams.ListStreamsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error)
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Handler handles a batch and reports the records to retry, as an events
// Lambda does (see consumer.Consumer.Handle).
type Handler func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error)

// Poller polls the latest stream of a table.
type Poller struct {
	api      API
	table    string
	handle   Handler
	log      *slog.Logger
	batch    int32
	idle     time.Duration
	retry    time.Duration
	discover time.Duration
	latest   bool
}

// Option configures a Poller.
type Option func(*Poller)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(p *Poller) { p.log = l } }

// WithBatchSize sets the most records per batch (default 100, at most 1000).
func WithBatchSize(n int) Option { return func(p *Poller) { p.batch = int32(min(max(n, 1), 1000)) } }

// WithIdle sets how long a shard with no new records waits before reading
// again (default 100 ms).
func WithIdle(d time.Duration) Option { return func(p *Poller) { p.idle = d } }

// FromLatest starts at the end of the stream instead of its oldest record.
func FromLatest() Option { return func(p *Poller) { p.latest = true } }

// NewPoller returns a poller of table's stream.
func NewPoller(api API, table string, h Handler, opts ...Option) *Poller {
	p := &Poller{api: api, table: table, handle: h, log: slog.Default(), batch: 100,
		idle: 100 * time.Millisecond, retry: time.Second, discover: 5 * time.Second}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Run polls until ctx ends. Shards are read in parallel, a child shard only
// once its parent is finished, so a key's records are handled in order.
// A batch the handler reports failures for is handed to it again from the
// first failed record after a pause, until it succeeds.
func (p *Poller) Run(ctx context.Context) error {
	arn, err := p.streamARN(ctx)
	if err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		started  = map[string]bool{}
		finished = map[string]bool{}
		wg       sync.WaitGroup
		wake     = make(chan struct{}, 1) // a shard finished: its children may start
	)
	defer wg.Wait()
	for {
		shards, err := p.shards(ctx, arn)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.WarnContext(ctx, "describe stream", "err", err.Error())
		}
		known := map[string]bool{}
		for _, s := range shards {
			known[aws.ToString(s.ShardId)] = true
		}
		for _, s := range shards {
			id, parent := aws.ToString(s.ShardId), aws.ToString(s.ParentShardId)
			mu.Lock()
			ready := !started[id] && (parent == "" || !known[parent] || finished[parent])
			if ready {
				started[id] = true
			}
			mu.Unlock()
			if !ready {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						p.log.ErrorContext(ctx, "stream shard reader panicked", "shard", id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
						mu.Lock()
						delete(started, id) // read again at the next discovery
						mu.Unlock()
					}
				}()
				if p.readShard(ctx, arn, id) {
					mu.Lock()
					finished[id] = true
					mu.Unlock()
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(p.discover):
		}
	}
}

func (p *Poller) streamARN(ctx context.Context) (string, error) {
	out, err := p.api.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(p.table)})
	if err != nil {
		return "", fmt.Errorf("list streams of %s: %w", p.table, err)
	}
	if len(out.Streams) == 0 {
		return "", fmt.Errorf("table %s has no stream (enable it with NEW_AND_OLD_IMAGES)", p.table)
	}
	return aws.ToString(out.Streams[len(out.Streams)-1].StreamArn), nil
}

func (p *Poller) shards(ctx context.Context, arn string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := p.api.DescribeStream(ctx, in)
		if err != nil {
			return shards, fmt.Errorf("describe stream %s: %w", arn, err)
		}
		if out.StreamDescription == nil {
			return shards, nil
		}
		if vt := out.StreamDescription.StreamViewType; vt != "" && vt != types.StreamViewTypeNewAndOldImages {
			return nil, fmt.Errorf("stream %s has view type %s; NEW_AND_OLD_IMAGES is needed", arn, vt)
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return shards, nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// readShard reads one shard until it is closed (true) or ctx ends (false).
func (p *Poller) readShard(ctx context.Context, arn, shard string) bool {
	typ := types.ShardIteratorTypeTrimHorizon
	if p.latest {
		typ = types.ShardIteratorTypeLatest
	}
	it, err := p.iterator(ctx, arn, shard, typ, "")
	for err != nil {
		if ctx.Err() != nil {
			return false
		}
		p.log.WarnContext(ctx, "shard iterator", "shard", shard, "err", err.Error())
		if !p.sleep(ctx, p.retry) {
			return false
		}
		it, err = p.iterator(ctx, arn, shard, typ, "")
	}
	for it != "" {
		out, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(p.batch)})
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			var expired *types.ExpiredIteratorException
			if !errors.As(err, &expired) {
				p.log.WarnContext(ctx, "get records", "shard", shard, "err", err.Error())
			}
			if !p.sleep(ctx, p.retry) {
				return false
			}
			continue // the same iterator again: nothing was handed out
		}
		next := aws.ToString(out.NextShardIterator)
		if len(out.Records) > 0 {
			failedSeq, err := p.handleBatch(ctx, out.Records)
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				p.log.WarnContext(ctx, "stream batch failed; retrying", "shard", shard, "err", err.Error())
				if !p.sleep(ctx, p.retry) {
					return false
				}
				if next, err = p.iterator(ctx, arn, shard, types.ShardIteratorTypeAtSequenceNumber, failedSeq); err != nil {
					p.log.WarnContext(ctx, "shard iterator", "shard", shard, "err", err.Error())
					continue // retry GetRecords with the old iterator
				}
			}
		} else if next != "" && !p.sleep(ctx, p.idle) {
			return false
		}
		it = next
	}
	return true
}

func (p *Poller) iterator(ctx context.Context, arn, shard string, typ types.ShardIteratorType, seq string) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = aws.String(seq)
	}
	out, err := p.api.GetShardIterator(ctx, in)
	if err != nil {
		return "", fmt.Errorf("shard iterator of %s: %w", shard, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

// handleBatch hands records to the handler; on failure it returns the
// sequence number to read again from.
func (p *Poller) handleBatch(ctx context.Context, recs []types.Record) (failedSeq string, err error) {
	ev := lambdaevents.DynamoDBEvent{Records: make([]lambdaevents.DynamoDBEventRecord, 0, len(recs))}
	for _, r := range recs {
		lr, err := Record(r)
		if err != nil {
			return aws.ToString(r.Dynamodb.SequenceNumber), err
		}
		ev.Records = append(ev.Records, lr)
	}
	first := ev.Records[0].Change.SequenceNumber
	defer func() {
		if r := recover(); r != nil {
			failedSeq, err = first, fmt.Errorf("handler panicked: %v", r)
		}
	}()
	resp, err := p.handle(ctx, ev)
	if err != nil {
		return first, err
	}
	if len(resp.BatchItemFailures) == 0 {
		return "", nil
	}
	seqs := make([]string, len(resp.BatchItemFailures))
	for i, f := range resp.BatchItemFailures {
		seqs[i] = f.ItemIdentifier
	}
	// The lowest failed sequence number, compared as stream order.
	idx := len(ev.Records)
	for i, r := range ev.Records {
		if slices.Contains(seqs, r.Change.SequenceNumber) {
			idx = i
			break
		}
	}
	if idx == len(ev.Records) {
		return first, fmt.Errorf("handler reported unknown records %v", seqs)
	}
	return ev.Records[idx].Change.SequenceNumber, fmt.Errorf("handler reported record %s as failed", ev.Records[idx].Change.SequenceNumber)
}

func (p *Poller) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Record converts a DynamoDB Streams record into the record a Lambda
// receives.
func Record(r types.Record) (lambdaevents.DynamoDBEventRecord, error) {
	out := lambdaevents.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion),
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &lambdaevents.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	if r.Dynamodb == nil {
		return out, fmt.Errorf("stream record %s has no data", out.EventID)
	}
	d := r.Dynamodb
	var err error
	c := &out.Change
	c.SequenceNumber, c.SizeBytes, c.StreamViewType = aws.ToString(d.SequenceNumber), aws.ToInt64(d.SizeBytes), string(d.StreamViewType)
	if d.ApproximateCreationDateTime != nil {
		c.ApproximateCreationDateTime = lambdaevents.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	if c.Keys, err = image(d.Keys); err != nil {
		return out, err
	}
	if c.NewImage, err = image(d.NewImage); err != nil {
		return out, err
	}
	if c.OldImage, err = image(d.OldImage); err != nil {
		return out, err
	}
	return out, nil
}

func image(m map[string]types.AttributeValue) (events.Image, error) {
	if m == nil {
		return nil, nil
	}
	out := make(events.Image, len(m))
	for k, v := range m {
		av, err := attr(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func attr(v types.AttributeValue) (lambdaevents.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return lambdaevents.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return lambdaevents.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return lambdaevents.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return lambdaevents.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		list := make([]lambdaevents.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := attr(e)
			if err != nil {
				return av, err
			}
			list[i] = av
		}
		return lambdaevents.NewListAttribute(list), nil
	case *types.AttributeValueMemberM:
		m, err := image(v.Value)
		if err != nil {
			return lambdaevents.DynamoDBAttributeValue{}, err
		}
		return lambdaevents.NewMapAttribute(m), nil
	}
	return lambdaevents.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}
