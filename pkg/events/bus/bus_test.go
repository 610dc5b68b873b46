package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/events/bus"
)

type fakeEB struct {
	calls    [][]types.PutEventsRequestEntry
	failOnce map[string]bool // detail-type refused the first time
}

func (f *fakeEB) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls = append(f.calls, in.Entries)
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		if f.failOnce[aws.ToString(e.DetailType)] {
			delete(f.failOnce, aws.ToString(e.DetailType))
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("slow down")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("x")})
	}
	return out, nil
}

func evs(n, dataBytes int) []events.Event {
	out := make([]events.Event, n)
	for i := range out {
		data, _ := json.Marshal(map[string]any{"id": fmt.Sprint(i), "pad": strings.Repeat("x", dataBytes)})
		out[i] = events.Event{ID: fmt.Sprintf("%058d", i), Type: events.UserUpdated, Tenant: "acme", Time: time.Unix(1_800_000_000, 0), Data: data}
	}
	return out
}

func TestPublishBatches(t *testing.T) {
	tests := []struct {
		name      string
		evs       []events.Event
		wantCalls []int
	}{
		{"25 small events: calls of 10", evs(25, 10), []int{10, 10, 5}},
		{"60 KB events: 4 per call by size", evs(9, 60_000), []int{4, 4, 1}},
		{"none", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEB{}
			if err := bus.New(f, bus.Name("prod")).Publish(context.Background(), tc.evs); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range f.calls {
				got = append(got, len(c))
				size := 0
				for _, e := range c {
					size += len(*e.Detail) + len(*e.Source) + len(*e.DetailType) + len(*e.EventBusName) + 14
					if *e.Source != "scimless" || *e.EventBusName != "scimless-prod" || *e.DetailType != events.UserUpdated {
						t.Fatalf("entry %+v", e)
					}
					var ev events.Event
					if err := json.Unmarshal([]byte(*e.Detail), &ev); err != nil || ev.Tenant != "acme" {
						t.Fatalf("detail %s: %v", *e.Detail, err)
					}
				}
				if size > bus.MaxBatchBytes {
					t.Fatalf("call of %d bytes", size)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantCalls) {
				t.Fatalf("calls %v, want %v", got, tc.wantCalls)
			}
		})
	}
}

func TestPublishRetriesRefusedEntries(t *testing.T) {
	in := evs(3, 10)
	in[1].Type = events.UserDeleted
	f := &fakeEB{failOnce: map[string]bool{events.UserDeleted: true}}
	if err := bus.New(f, "b").Publish(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 2 || len(f.calls[1]) != 1 || *f.calls[1][0].DetailType != events.UserDeleted {
		t.Fatalf("calls %v", f.calls)
	}
}
