package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS limits.
const (
	sqsMaxBatch    = 10
	sqsMaxBytes    = 256 * 1024
	sqsMaxDelay    = 15 * time.Minute
	sqsSendRetries = 3
)

// SQSAPI is the part of the SQS client the queue uses.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SQSQueue queues jobs on an SQS queue: one message per job, sent in
// batches of up to 10 messages and 256 KB, delayed until the job is due (at
// most 15 minutes: a job due later is delayed again when received).
type SQSQueue struct {
	client SQSAPI
	url    string
	now    func() time.Time
}

// NewSQSQueue returns a queue sending to the queue at url.
func NewSQSQueue(client SQSAPI, url string) *SQSQueue {
	return &SQSQueue{client: client, url: url, now: time.Now}
}

// Enqueue sends the jobs. Messages SQS refuses are sent again up to three
// times; an error remains when some still fail.
func (q *SQSQueue) Enqueue(ctx context.Context, jobs []Job) error {
	var batch []types.SendMessageBatchRequestEntry
	size := 0
	now := q.now()
	for i, j := range jobs {
		body, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("sqs: encode job %s: %w", j.EventID, err)
		}
		if len(body) > sqsMaxBytes {
			return fmt.Errorf("sqs: job for event %s is %d bytes, over %d", j.EventID, len(body), sqsMaxBytes)
		}
		delay := min(max(j.NotBefore.Sub(now), 0), sqsMaxDelay)
		e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
			DelaySeconds: int32((delay + time.Second - 1) / time.Second)}
		if len(batch) == sqsMaxBatch || size+len(body) > sqsMaxBytes {
			if err := q.send(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch = append(batch, e)
		size += len(body)
	}
	if len(batch) > 0 {
		return q.send(ctx, batch)
	}
	return nil
}

func (q *SQSQueue) send(ctx context.Context, entries []types.SendMessageBatchRequestEntry) error {
	for try := 0; ; try++ {
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			return fmt.Errorf("sqs: send to %s: %w", q.url, err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		byID := map[string]types.SendMessageBatchRequestEntry{}
		for _, e := range entries {
			byID[aws.ToString(e.Id)] = e
		}
		var retry []types.SendMessageBatchRequestEntry
		for _, f := range out.Failed {
			if !f.SenderFault {
				retry = append(retry, byID[aws.ToString(f.Id)])
			}
		}
		if len(retry) < len(out.Failed) || try >= sqsSendRetries {
			f := out.Failed[0]
			return fmt.Errorf("sqs: %d of %d messages refused (%s: %s)", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		entries = retry
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqs: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond << try):
		}
	}
}

// HandleSQS is the delivery function's handler: it attempts the jobs of an
// SQS batch concurrently and reports the messages to receive again
// (ReportBatchItemFailures): those whose job was neither delivered nor
// queued again. A message that is not a job is logged and dropped.
func (d *Dispatcher) HandleSQS(ctx context.Context, ev lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp lambdaevents.SQSEventResponse
		wg   sync.WaitGroup
	)
	fail := func(id string) {
		mu.Lock()
		resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: id})
		mu.Unlock()
	}
	for _, m := range ev.Records {
		var j Job
		if err := json.Unmarshal([]byte(m.Body), &j); err != nil || j.Tenant == "" || j.WebhookID == "" || j.EventID == "" {
			d.log.ErrorContext(ctx, "webhook delivery: not a job; dropped", "message_id", m.MessageId)
			continue
		}
		wg.Add(1)
		go func(id string, j Job) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					d.log.ErrorContext(ctx, "webhook delivery panicked", "event_id", j.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					fail(id)
				}
			}()
			if err := d.Handle(ctx, j); err != nil {
				d.log.WarnContext(ctx, "webhook delivery handed back", "tenant", j.Tenant, "event_id", j.EventID, "err", err.Error())
				fail(id)
			}
		}(m.MessageId, j)
	}
	wg.Wait()
	return resp, nil
}
