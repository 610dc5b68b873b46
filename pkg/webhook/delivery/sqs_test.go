package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

type fakeSQS struct {
	calls    [][]types.SendMessageBatchRequestEntry
	failOnce int // messages refused (not sender's fault) in the first call
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls = append(f.calls, in.Entries)
	out := &sqs.SendMessageBatchOutput{}
	for i, e := range in.Entries {
		if i < f.failOnce {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	f.failOnce = 0
	return out, nil
}

func TestSQSQueue(t *testing.T) {
	now := time.Now()
	var jobs []delivery.Job
	for i := range 23 {
		jobs = append(jobs, delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: fmt.Sprint(i), Event: []byte(`{}`)})
	}
	jobs[0].NotBefore = now.Add(90 * time.Second)
	jobs[1].NotBefore = now.Add(2 * time.Hour)
	big := delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "big", Event: []byte(`"` + strings.Repeat("x", 150_000) + `"`)}
	jobs = append(jobs, big, big)
	f := &fakeSQS{failOnce: 2}
	if err := delivery.NewSQSQueue(f, "https://sqs.example/q").Enqueue(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range f.calls {
		sizes = append(sizes, len(c))
	}
	// 10, the 2 refused sent again, 10, 3 + one big, one big.
	if fmt.Sprint(sizes) != "[10 2 10 4 1]" {
		t.Fatalf("calls %v", sizes)
	}
	if d := f.calls[0][0].DelaySeconds; d < 89 || d > 91 {
		t.Fatalf("delay %d, want 90", d)
	}
	if d := f.calls[0][1].DelaySeconds; d != 900 {
		t.Fatalf("delay %d, want the 900 s cap", d)
	}
	var j delivery.Job
	if err := json.Unmarshal([]byte(*f.calls[2][0].MessageBody), &j); err != nil || j.EventID != "10" {
		t.Fatalf("body: %+v %v", j, err)
	}
}

func TestHandleSQS(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh", URL: ok.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	q := &sliceQueue{}
	d := delivery.NewDispatcher(env.Store, q, delivery.Local)
	body := func(j delivery.Job) string { b, _ := json.Marshal(j); return string(b) }
	ev := lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		{MessageId: "m1", Body: body(delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e1", Event: []byte(`{}`)})},
		{MessageId: "m2", Body: "not json"},
		{MessageId: "m3", Body: body(delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e3", Event: []byte(`{}`), NotBefore: time.Now().Add(time.Hour)})},
	}}
	resp, err := d.HandleSQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	if jobs := q.take(); len(jobs) != 1 || jobs[0].EventID != "e3" {
		t.Fatalf("requeued %+v", jobs)
	}
	// The store is unreachable: the message is handed back.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	d2 := delivery.NewDispatcher(env.Store, q, delivery.Local)
	resp, _ = d2.HandleSQS(cctx, lambdaevents.SQSEvent{Records: ev.Records[:1]})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
}
