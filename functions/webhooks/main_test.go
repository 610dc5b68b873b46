package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

const runMainEnv = "SCIMLESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestRefusesToStartWithoutQueue: the function needs its queue to retry.
func TestRefusesToStartWithoutQueue(t *testing.T) {
	rt := lambdatest.StartRuntime(t)
	fn := lambdatest.StartFunction(t, runMainEnv, "AWS_LAMBDA_RUNTIME_API="+rt.Addr, "AWS_REGION=us-east-1")
	if err := fn.Wait(); err == nil {
		t.Fatal("started without a queue")
	}
	if !strings.Contains(fn.Stderr(), "SCIMLESS_WEBHOOK_QUEUE_URL is not set") {
		t.Fatalf("stderr: %s", fn.Stderr())
	}
}

// fakeSQS answers SendMessageBatch (JSON protocol) and keeps the messages.
type fakeSQS struct {
	mu   sync.Mutex
	msgs []string
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), "SendMessageBatch") {
		http.Error(w, `{"__type":"UnsupportedOperation"}`, http.StatusBadRequest)
		return
	}
	var in struct {
		Entries []struct{ Id, MessageBody string }
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	type ok struct{ Id, MessageId, MD5OfMessageBody string }
	var out struct{ Successful []ok }
	f.mu.Lock()
	for _, e := range in.Entries {
		f.msgs = append(f.msgs, e.MessageBody)
		sum := md5.Sum([]byte(e.MessageBody))
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: "m-" + e.Id, MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// TestFunctionDeliversFromSQS: the function runs the strict policy (a
// loopback receiver is refused, so the job goes back on the queue with a
// delay) and drops jobs of removed webhooks.
func TestFunctionDeliversFromSQS(t *testing.T) {
	env := storetest.NewTable(t, "scimless-webhooks-fn-test")
	ctx := context.Background()
	q := &fakeSQS{}
	sqsSrv := httptest.NewServer(q)
	defer sqsSrv.Close()
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer rcv.Close()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh", URL: rcv.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	rt := lambdatest.StartRuntime(t)
	fn := lambdatest.StartFunction(t, runMainEnv,
		"SCIMLESS_TABLE=scimless-webhooks-fn-test",
		"SCIMLESS_DYNAMODB_ENDPOINT="+env.Engine.Endpoint(),
		"SCIMLESS_WEBHOOK_QUEUE_URL="+sqsSrv.URL+"/123456789012/deliveries",
		"AWS_ENDPOINT_URL_SQS="+sqsSrv.URL,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=scimless-webhooks",
	)
	body := func(j delivery.Job) string { b, _ := json.Marshal(j); return string(b) }
	ev := lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		{MessageId: "1", Body: body(delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e1", Event: []byte(`{"id":"e1"}`)})},
		{MessageId: "2", Body: body(delivery.Job{Tenant: "acme", WebhookID: "gone", EventID: "e2", Event: []byte(`{}`)})},
	}}
	payload, _ := json.Marshal(ev)
	res := rt.Invoke(t, fn, "inv-1", payload)
	if res.Failed {
		t.Fatalf("function error %s\nstderr: %s", res.Body, fn.Stderr())
	}
	var resp lambdaevents.SQSEventResponse
	if err := json.Unmarshal(res.Body, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("answer %s: %v\nstderr: %s", res.Body, err, fn.Stderr())
	}
	fn.Stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	if hits.Load() != 0 {
		t.Fatal("the strict policy let a delivery reach a loopback receiver")
	}
	if len(q.msgs) != 1 {
		t.Fatalf("queued %d messages, want the one retry: %v", len(q.msgs), q.msgs)
	}
	var j delivery.Job
	if err := json.Unmarshal([]byte(q.msgs[0]), &j); err != nil || j.EventID != "e1" || j.Attempt != 1 || j.NotBefore.IsZero() {
		t.Fatalf("retry %s: %v", q.msgs[0], err)
	}
}
