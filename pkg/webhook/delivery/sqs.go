package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	sqsMaxBatch      = 10
	sqsMaxBytes      = 256 * 1024
	sqsMaxVisibility = 12 * time.Hour
	sqsSendRetries   = 3
)

// SQSAPI is the part of the SQS client the queue uses.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// SQSQueue queues jobs on an SQS FIFO queue: one message per job, its
// message group the job's ordering key (Job.Key, hashed when SQS would
// refuse it), so SQS hands out a key's jobs one at a time in the order they
// were sent. Messages are sent in batches of up to 10 messages and 256 KB.
// A job's NotBefore is not used: FIFO queues have no per-message delay, and
// a retry is delayed by its message's visibility (see Handler).
type SQSQueue struct {
	client SQSAPI
	url    string
	now    func() time.Time
	resend bool
}

// SQSOption configures an SQSQueue.
type SQSOption func(*SQSQueue)

// Resend makes every Enqueue send its jobs even when the same deliveries
// were sent in the last five minutes (webhook replay). Without it a job's
// deduplication id is derived from its tenant, webhook and event, so a
// redelivered stream batch queues no delivery twice within SQS's
// deduplication interval.
func Resend() SQSOption { return func(q *SQSQueue) { q.resend = true } }

// NewSQSQueue returns a queue sending to the FIFO queue at url.
func NewSQSQueue(client SQSAPI, url string, opts ...SQSOption) *SQSQueue {
	q := &SQSQueue{client: client, url: url, now: time.Now}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Enqueue sends the jobs, in order. Messages SQS refuses (other than for
// the sender's fault) are sent again up to three times, together with the
// later messages of their group in the same request, which SQS drops as
// duplicates if it had accepted them; an error remains when some still
// fail. (Should SQS refuse one message of a request and accept a later one
// of the same group, that later one stays ahead: every delivery is still
// made, that pair out of order.)
func (q *SQSQueue) Enqueue(ctx context.Context, jobs []Job) error {
	nonce := ""
	if q.resend {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce = hex.EncodeToString(b)
	}
	var batch []types.SendMessageBatchRequestEntry
	size := 0
	for i := range jobs {
		j := jobs[i]
		key := j.key()
		body, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("sqs: encode job %s: %w", j.EventID, err)
		}
		if len(body) > sqsMaxBytes {
			return fmt.Errorf("sqs: job for event %s is %d bytes, over %d", j.EventID, len(body), sqsMaxBytes)
		}
		e := types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(string(body)),
			MessageGroupId:         aws.String(groupID(key)),
			MessageDeduplicationId: aws.String(hashHex(nonce, j.Tenant, j.WebhookID, j.EventID)),
		}
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
		failed := map[string]bool{}
		senderFault := false
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = true
			senderFault = senderFault || f.SenderFault
		}
		if senderFault || try >= sqsSendRetries {
			f := out.Failed[0]
			return fmt.Errorf("sqs: %d of %d messages refused (%s: %s)", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		// Send again each refused message and whatever follows it in its
		// group, in order.
		var retry []types.SendMessageBatchRequestEntry
		blocked := map[string]bool{}
		for _, e := range entries {
			g := aws.ToString(e.MessageGroupId)
			if failed[aws.ToString(e.Id)] || blocked[g] {
				blocked[g] = true
				retry = append(retry, e)
			}
		}
		entries = retry
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqs: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond << try):
		}
	}
}

// SQS pause delays: a suspended tenant's message is received again after
// its age / pauseDivisor, at least SuspendedDelay and at most
// sqsMaxPauseDelay, so a long suspension costs few receives (and its
// messages stay far from the dead-letter queue's receive count).
const (
	pauseDivisor     = 12
	sqsMaxPauseDelay = 30 * time.Minute
)

// sqsDeadline is how much of a batch's time an attempt needs: the
// receiver's cut-off and a margin to report the outcome.
const sqsDeadline = DefaultTimeout + 3*time.Second

// Handler returns the delivery function's handler for batches of the FIFO
// queue (ReportBatchItemFailures). The messages of one group are attempted
// in order, one at a time; groups run concurrently. When a message is not
// finished — to be retried, paused for a suspended tenant, handed back
// (the store could not be read), or left for lack of time — its visibility
// is set to when it is due (the backoff, at most 12 hours) and it and the
// later messages of its group in the batch are reported as failures, the
// later ones unattempted and made visible again at once (the group stays
// held by the first). A message's attempt count is its
// ApproximateReceiveCount less one; its retry period runs from the job's
// First, or from its tenant's last resume if later. A message that is not a
// job is logged and dropped.
func (q *SQSQueue) Handler(d *Dispatcher) func(context.Context, lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	return func(ctx context.Context, ev lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
		return q.handle(ctx, d, ev), nil
	}
}

type sqsMessage struct {
	id, receipt string
	job         Job
}

func (q *SQSQueue) handle(ctx context.Context, d *Dispatcher, ev lambdaevents.SQSEvent) lambdaevents.SQSEventResponse {
	var (
		order  []string
		groups = map[string][]sqsMessage{}
	)
	for _, m := range ev.Records {
		var j Job
		if err := json.Unmarshal([]byte(m.Body), &j); err != nil || j.Tenant == "" || j.WebhookID == "" || j.EventID == "" {
			d.log.ErrorContext(ctx, "webhook delivery: not a job; dropped", "message_id", m.MessageId)
			continue
		}
		if n, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"]); err == nil && n > 1 {
			j.Attempt = n - 1
		}
		g := m.Attributes["MessageGroupId"]
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], sqsMessage{id: m.MessageId, receipt: m.ReceiptHandle, job: j})
	}
	var (
		mu   sync.Mutex
		resp lambdaevents.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, g := range order {
		wg.Add(1)
		go func(msgs []sqsMessage) {
			defer wg.Done()
			failed := msgs // unless handled
			defer func() {
				if r := recover(); r != nil {
					d.log.ErrorContext(ctx, "webhook delivery panicked", "event_id", msgs[0].job.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				}
				mu.Lock()
				for _, m := range failed {
					resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: m.id})
				}
				mu.Unlock()
			}()
			failed = q.handleGroup(ctx, d, msgs)
		}(groups[g])
	}
	wg.Wait()
	return resp
}

// handleGroup attempts one group's messages in order and returns those not
// finished: the first that was not, and all after it.
func (q *SQSQueue) handleGroup(ctx context.Context, d *Dispatcher, msgs []sqsMessage) []sqsMessage {
	for i, m := range msgs {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sqsDeadline {
			q.setVisibility(ctx, d, msgs[i:], 0)
			return msgs[i:]
		}
		out, err := q.attempt(ctx, d, m.job)
		if err == nil && !out.Retry {
			continue
		}
		var wait time.Duration
		switch {
		case err != nil:
			d.log.WarnContext(ctx, "webhook delivery handed back", "tenant", m.job.Tenant, "event_id", m.job.EventID, "err", err.Error())
			wait = d.Backoff(m.job.Attempt + 1) // a store outage costs few receives
		case out.Paused:
			age := d.now().Sub(m.job.First)
			wait = min(max(SuspendedDelay, age/pauseDivisor), sqsMaxPauseDelay)
		default:
			wait = out.Job.NotBefore.Sub(d.now())
		}
		q.setVisibility(ctx, d, msgs[i:], wait)
		return msgs[i:]
	}
	return nil
}

func (q *SQSQueue) attempt(ctx context.Context, d *Dispatcher, j Job) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.ErrorContext(ctx, "webhook delivery panicked", "event_id", j.EventID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return d.Handle(ctx, j)
}

// setVisibility makes msgs[0] visible again after wait (whole seconds, at
// most 12 hours) and the rest at once. When it fails the messages come back
// after the queue's visibility timeout.
func (q *SQSQueue) setVisibility(ctx context.Context, d *Dispatcher, msgs []sqsMessage, wait time.Duration) {
	wait = min(max(wait, 0), sqsMaxVisibility)
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		secs := int32(0)
		if i == 0 {
			secs = int32((wait + time.Second - 1) / time.Second)
		}
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: secs}
	}
	out, err := q.client.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
	if err == nil && len(out.Failed) > 0 {
		err = fmt.Errorf("%d of %d refused (%s: %s)", len(out.Failed), len(entries), aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
	}
	if err != nil {
		d.log.WarnContext(ctx, "webhook delivery: set visibility", "event_id", msgs[0].job.EventID, "err", err.Error())
	}
}
