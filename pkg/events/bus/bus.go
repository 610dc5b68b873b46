// Package bus publishes directory events to an Amazon EventBridge bus: one
// entry per event, source "scimless", detail-type the event type, detail the
// event, so AWS users route them with ordinary rules.
package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/scimless/scimless/pkg/events"
)

// Source is the source of every entry.
const Source = "scimless"

// Name returns the bus name of a stage: "scimless-<stage>".
func Name(stage string) string { return "scimless-" + stage }

// EventBridge limits on one PutEvents call.
const (
	MaxEntries    = 10
	MaxBatchBytes = 256 * 1024
)

// API is the part of the EventBridge client the bus uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge publishes to one bus.
type EventBridge struct {
	client  API
	bus     string
	retries int
	pause   time.Duration
}

// New returns a publisher to the named bus.
func New(client API, busName string) *EventBridge {
	return &EventBridge{client: client, bus: busName, retries: 3, pause: 100 * time.Millisecond}
}

// entrySize is how EventBridge counts an entry against the batch limit.
func entrySize(e types.PutEventsRequestEntry) int {
	n := len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail)) + len(aws.ToString(e.EventBusName))
	if e.Time != nil {
		n += 14
	}
	return n
}

// Publish sends the events in calls of up to 10 entries and 256 KB. Entries
// EventBridge refuses are sent again (up to 3 times, with a short pause);
// an error remains when some still fail or an event is too large.
func (b *EventBridge) Publish(ctx context.Context, evs []events.Event) error {
	var batch []types.PutEventsRequestEntry
	size := 0
	for _, e := range evs {
		detail, err := json.Marshal(events.Fit(e, events.MaxBytes))
		if err != nil {
			return fmt.Errorf("eventbridge: encode event %s: %w", e.ID, err)
		}
		entry := types.PutEventsRequestEntry{
			EventBusName: aws.String(b.bus), Source: aws.String(Source), DetailType: aws.String(e.Type),
			Detail: aws.String(string(detail)), Time: aws.Time(e.Time),
		}
		es := entrySize(entry)
		if es > MaxBatchBytes {
			return fmt.Errorf("eventbridge: event %s is %d bytes, over %d", e.ID, es, MaxBatchBytes)
		}
		if len(batch) == MaxEntries || size+es > MaxBatchBytes {
			if err := b.put(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch = append(batch, entry)
		size += es
	}
	if len(batch) > 0 {
		return b.put(ctx, batch)
	}
	return nil
}

func (b *EventBridge) put(ctx context.Context, entries []types.PutEventsRequestEntry) error {
	for try := 0; ; try++ {
		out, err := b.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("eventbridge: put events to %s: %w", b.bus, err)
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		var failed []types.PutEventsRequestEntry
		var last string
		for i, r := range out.Entries {
			if r.ErrorCode != nil && i < len(entries) {
				failed = append(failed, entries[i])
				last = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
			}
		}
		if len(failed) == 0 || try >= b.retries {
			return fmt.Errorf("eventbridge: %d of %d entries refused by %s (last: %s)", out.FailedEntryCount, len(entries), b.bus, last)
		}
		entries = failed
		select {
		case <-ctx.Done():
			return fmt.Errorf("eventbridge: %w", ctx.Err())
		case <-time.After(b.pause << try):
		}
	}
}
