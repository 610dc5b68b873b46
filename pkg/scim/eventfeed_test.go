package scim

import (
	"context"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/events/consumer"
	"github.com/scimless/scimless/pkg/events/streamtest"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

// EventFeed plays the table's stream in tests: Flush turns the changes made
// to the table since the last Flush into stream records and hands them to
// the events consumer, which stores the events the audit trail is read
// from. Changes of one item between two Flushes collapse into one record,
// so tests that check every event flush after every write.
type EventFeed struct {
	tb   testing.TB
	rec  *streamtest.Recorder
	last streamtest.Snapshot
	c    *consumer.Consumer
}

// NewEventFeed starts a feed of env's table from its current contents.
func NewEventFeed(tb testing.TB, env *storetest.Env) *EventFeed {
	rec := streamtest.New(tb, env.Client, table.DefaultName)
	return &EventFeed{tb: tb, rec: rec, last: rec.Snapshot(), c: consumer.New(env.Store)}
}

// Flush delivers the changes since the last Flush to the consumer.
func (f *EventFeed) Flush() {
	f.tb.Helper()
	now := f.rec.Snapshot()
	recs := f.rec.Diff(f.last, now)
	if len(recs) == 0 {
		return
	}
	resp, err := f.c.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) > 0 {
		f.tb.Fatalf("events consumer: %+v %v", resp, err)
	}
	// The consumer's own writes (event items) are part of the next diff;
	// they are not directory items and yield no events.
	f.last = f.rec.Snapshot()
}
