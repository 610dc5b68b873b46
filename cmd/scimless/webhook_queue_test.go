package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// fifoSQS answers SendMessageBatch (JSON protocol) and keeps the entries.
type fifoSQS struct {
	mu      sync.Mutex
	entries []sqsEntry
}

type sqsEntry struct {
	Id, MessageBody, MessageGroupId, MessageDeduplicationId string
}

func (f *fifoSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), "SendMessageBatch") {
		http.Error(w, `{"__type":"UnsupportedOperation"}`, http.StatusBadRequest)
		return
	}
	var in struct{ Entries []sqsEntry }
	_ = json.NewDecoder(r.Body).Decode(&in)
	type ok struct{ Id, MessageId, MD5OfMessageBody string }
	var out struct{ Successful []ok }
	f.mu.Lock()
	for _, e := range in.Entries {
		f.entries = append(f.entries, e)
		sum := md5.Sum([]byte(e.MessageBody))
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: "m-" + e.Id, MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// TestWebhookReplayQueue: a replay through the FIFO delivery queue sends
// one message per delivery, in its resource's message group, with fresh
// deduplication ids each time, so a second replay is sent too.
func TestWebhookReplayQueue(t *testing.T) {
	ep, st := opTable(t)
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh_q", URL: "https://hooks.example.com/x", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	ids := putTestEvents(t, st, "acme", time.Now().Add(-30*time.Minute), events.UserCreated, events.UserUpdated)
	q := &fifoSQS{}
	srv := httptest.NewServer(q)
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_SQS", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	step := opStep{args: []string{"webhook", "replay", "acme", "-since", "1h", "-queue-url", srv.URL + "/123456789012/deliveries.fifo"},
		code: 0, stdout: []string{"queued 2 deliveries of 2 events to 1 webhooks"}}
	opRun(t, ep, []opStep{step, step})
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) != 4 {
		t.Fatalf("sent %d messages, want 4", len(q.entries))
	}
	dedup := map[string]bool{}
	for i, e := range q.entries {
		var j delivery.Job
		if err := json.Unmarshal([]byte(e.MessageBody), &j); err != nil || j.EventID != ids[i%2] {
			t.Fatalf("message %d: %s (%v), want event %s", i, e.MessageBody, err, ids[i%2])
		}
		if e.MessageGroupId != "acme/wh_q/user/u1" {
			t.Errorf("message %d group %q", i, e.MessageGroupId)
		}
		dedup[e.MessageDeduplicationId] = true
	}
	if len(dedup) != 4 {
		t.Errorf("%d distinct deduplication ids for 4 replayed deliveries", len(dedup))
	}
}
