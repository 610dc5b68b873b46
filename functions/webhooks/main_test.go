package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/scimless/scimless/pkg/lambdatest"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
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

// fakeSQS answers ChangeMessageVisibilityBatch (JSON protocol) and keeps
// the visibility timeouts set, by receipt handle.
type fakeSQS struct {
	mu  sync.Mutex
	vis map[string]int
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), "ChangeMessageVisibilityBatch") {
		http.Error(w, `{"__type":"UnsupportedOperation"}`, http.StatusBadRequest)
		return
	}
	var in struct {
		Entries []struct {
			Id, ReceiptHandle string
			VisibilityTimeout int
		}
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	type ok struct{ Id string }
	var out struct{ Successful []ok }
	f.mu.Lock()
	for _, e := range in.Entries {
		f.vis[e.ReceiptHandle] = e.VisibilityTimeout
		out.Successful = append(out.Successful, ok{Id: e.Id})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// TestFunctionDeliversFromSQS: the function runs the strict policy (a
// loopback receiver is refused, so the message is reported failed and made
// visible again after the backoff, with the later message of its group)
// and drops jobs of removed webhooks.
func TestFunctionDeliversFromSQS(t *testing.T) {
	env := storetest.NewTable(t, "scimless-webhooks-fn-test")
	ctx := context.Background()
	q := &fakeSQS{vis: map[string]int{}}
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
		"SCIMLESS_WEBHOOK_QUEUE_URL="+sqsSrv.URL+"/123456789012/deliveries.fifo",
		"AWS_ENDPOINT_URL_SQS="+sqsSrv.URL,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		"AWS_LAMBDA_RUNTIME_API="+rt.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=scimless-webhooks",
	)
	// The SAM event: three delivery jobs of tenant acme, the first and third
	// for webhook "wh" about user u1 (one message group), the second for a
	// webhook that no longer exists.
	payload, err := os.ReadFile("../../events/sqs-webhook-deliveries.json")
	if err != nil {
		t.Fatal(err)
	}
	// The jobs were queued just now, so their retries have not run out.
	payload = bytes.ReplaceAll(payload, []byte(`\"first\":\"2026-01-01T00:00:01Z\"`),
		[]byte(`\"first\":\"`+time.Now().UTC().Format(time.RFC3339)+`\"`))
	res := rt.Invoke(t, fn, "inv-1", payload)
	if res.Failed {
		t.Fatalf("function error %s\nstderr: %s", res.Body, fn.Stderr())
	}
	var resp lambdaevents.SQSEventResponse
	if err := json.Unmarshal(res.Body, &resp); err != nil {
		t.Fatalf("answer %s: %v\nstderr: %s", res.Body, err, fn.Stderr())
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "059f36b4-87a3-44ab-83d2-665197552571,059f36b4-87a3-44ab-83d2-665197552573" {
		t.Fatalf("failures %v, want 1,3 (the refused delivery and the later one of its group)\nstderr: %s", failed, fn.Stderr())
	}
	fn.Stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	if hits.Load() != 0 {
		t.Fatal("the strict policy let a delivery reach a loopback receiver")
	}
	// The first retry waits the first backoff, [2.5 s, 5 s); the later
	// message is visible again at once (the group stays held by the first).
	if v, ok := q.vis["r1"]; !ok || v < 2 || v > 5 {
		t.Fatalf("visibility of the failed message: %d (set: %v)", v, ok)
	}
	if v, ok := q.vis["r3"]; !ok || v != 0 {
		t.Fatalf("visibility of the later message: %d (set: %v)", v, ok)
	}
	if _, ok := q.vis["r2"]; ok {
		t.Fatal("the dropped message's visibility was changed")
	}
}
