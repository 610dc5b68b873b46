package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// streamInvokeResult is what `invoke` prints for a table stream batch: the
// events function's answer and what the batch stored.
type streamInvokeResult struct {
	// Response is what the function returns to Lambda (ReportBatchItemFailures).
	Response lambdaevents.DynamoDBEventResponse `json:"response"`
	// Stats counts the records, the events derived and those stored.
	Stats consumer.Stats `json:"stats"`
}

// recordsSource returns the eventSource of the first record of a batch
// Lambda hands to a function ("aws:dynamodb", "aws:sqs"), or "" when raw is
// not such a batch.
func recordsSource(raw []byte) string {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if json.Unmarshal(raw, &probe) != nil || len(probe.Records) == 0 {
		return ""
	}
	return probe.Records[0].EventSource
}

// streamInvoke runs a table stream batch through the events function's
// handler against the table of tf (a fresh embedded one by default), as
// `sam local invoke` would: ok is false when raw is not a stream batch.
func streamInvoke(ctx context.Context, tf *tableFlags, raw []byte, logw io.Writer) (res streamInvokeResult, ok bool, err error) {
	if recordsSource(raw) != "aws:dynamodb" {
		return res, false, nil
	}
	var ev lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return res, true, fmt.Errorf("decode stream batch: %w", err)
	}
	db, err := tf.open(ctx, true, true)
	if err != nil {
		return res, true, err
	}
	defer db.Close()
	c := consumer.New(db.Store, consumer.WithLogger(slog.New(slog.NewJSONHandler(logw, nil))))
	res.Response, res.Stats, err = c.HandleStats(ctx, ev)
	return res, true, err
}

// queueInvokeResult is what `invoke` prints for an SQS batch of webhook
// deliveries: the webhooks function's answer, and the visibility timeouts
// (seconds, by receipt handle) it would set on the queue for the
// deliveries to retry later.
type queueInvokeResult struct {
	Response   lambdaevents.SQSEventResponse `json:"response"`
	Visibility map[string]int32              `json:"visibility"`
}

// queueInvoke runs an SQS batch of delivery jobs through the webhooks
// function's handler against the table of tf, under the policy of the local
// run (any http(s) receiver): ok is false when raw is not an SQS batch. The
// queue's visibility changes are recorded, not sent.
func queueInvoke(ctx context.Context, tf *tableFlags, raw []byte, logw io.Writer) (res queueInvokeResult, ok bool, err error) {
	if recordsSource(raw) != "aws:sqs" {
		return res, false, nil
	}
	var ev lambdaevents.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return res, true, fmt.Errorf("decode SQS batch: %w", err)
	}
	db, err := tf.open(ctx, true, true)
	if err != nil {
		return res, true, err
	}
	defer db.Close()
	q := &recordingQueue{vis: map[string]int32{}}
	d := delivery.NewDispatcher(db.Store, delivery.Local, delivery.WithLogger(slog.New(slog.NewJSONHandler(logw, nil))))
	res.Response, err = delivery.NewSQSQueue(q, "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks.fifo").Handler(d)(ctx, ev)
	res.Visibility = q.vis
	return res, true, err
}

// recordingQueue stands for SQS in `invoke`: it records visibility changes
// and refuses to send.
type recordingQueue struct {
	mu  sync.Mutex
	vis map[string]int32
}

func (q *recordingQueue) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errors.New("invoke sends no SQS messages")
}

func (q *recordingQueue) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		q.vis[aws.ToString(e.ReceiptHandle)] = e.VisibilityTimeout
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}
