package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// fakeSQS records what the queue sends and the visibility it sets.
type fakeSQS struct {
	mu      sync.Mutex
	calls   [][]types.SendMessageBatchRequestEntry
	failIDs map[string]bool  // entry ids refused (not the sender's fault) in the first call
	vis     map[string]int32 // receipt handle → visibility timeout
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.Entries)
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if f.failIDs[aws.ToString(e.Id)] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	f.failIDs = nil
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.vis == nil {
		f.vis = map[string]int32{}
	}
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		f.vis[aws.ToString(e.ReceiptHandle)] = e.VisibilityTimeout
		out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func userEvent(id, user string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"type":"user.updated","data":{"id":%q}}`, id, user))
}

func TestSQSQueue(t *testing.T) {
	var jobs []delivery.Job
	for i := range 23 {
		jobs = append(jobs, delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: fmt.Sprint(i), Event: userEvent(fmt.Sprint(i), fmt.Sprintf("u%d", i%5))})
	}
	big := delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "big", Event: []byte(`{"type":"user.updated","data":{"id":"u1","x":"` + strings.Repeat("x", 150_000) + `"}}`)}
	jobs = append(jobs, big, big)
	// Entry 1 (group u1) is refused once: it is sent again with entry 6,
	// the later message of its group, and not entry 2.
	f := &fakeSQS{failIDs: map[string]bool{"1": true}}
	if err := delivery.NewSQSQueue(f, "https://sqs.example/q.fifo").Enqueue(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range f.calls {
		sizes = append(sizes, len(c))
	}
	if fmt.Sprint(sizes) != "[10 2 10 4 1]" {
		t.Fatalf("calls %v", sizes)
	}
	if a, b := aws.ToString(f.calls[1][0].Id), aws.ToString(f.calls[1][1].Id); a != "1" || b != "6" {
		t.Fatalf("sent again %s, %s; want 1, 6", a, b)
	}
	e := f.calls[0][3]
	if g := aws.ToString(e.MessageGroupId); g != "acme/wh/user/u3" {
		t.Fatalf("group %q", g)
	}
	if e.DelaySeconds != 0 {
		t.Fatal("a FIFO message has a delay")
	}
	// A key longer than a group id may be, or with characters SQS
	// refuses, is hashed.
	for _, user := range []string{strings.Repeat("u", 200), "jane doe"} {
		f := &fakeSQS{}
		j := delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e", Event: userEvent("e", user)}
		if err := delivery.NewSQSQueue(f, "q").Enqueue(context.Background(), []delivery.Job{j}); err != nil {
			t.Fatal(err)
		}
		if g := aws.ToString(f.calls[0][0].MessageGroupId); len(g) != 64 || strings.Contains(g, "uuu") || strings.Contains(g, " ") {
			t.Fatalf("group of user %.10q: %q", user, g)
		}
	}
	var j delivery.Job
	if err := json.Unmarshal([]byte(*f.calls[2][0].MessageBody), &j); err != nil || j.EventID != "10" || j.Key != "acme/wh/user/u0" {
		t.Fatalf("body: %+v %v", j, err)
	}

	// Deduplication: the same delivery gets the same id (a redelivered
	// stream batch), another webhook's another; replays are sent anew.
	dedup := func(opts ...delivery.SQSOption) string {
		f := &fakeSQS{}
		_ = delivery.NewSQSQueue(f, "q", opts...).Enqueue(context.Background(), jobs[:1])
		return aws.ToString(f.calls[0][0].MessageDeduplicationId)
	}
	other := func() string {
		f := &fakeSQS{}
		j := jobs[0]
		j.WebhookID = "wh2"
		_ = delivery.NewSQSQueue(f, "q").Enqueue(context.Background(), []delivery.Job{j})
		return aws.ToString(f.calls[0][0].MessageDeduplicationId)
	}
	if a, b := dedup(), dedup(); a != b || len(a) > 128 || a == other() {
		t.Fatalf("deduplication ids %q %q %q", a, b, other())
	}
	if a, b := dedup(delivery.Resend()), dedup(delivery.Resend()); a == b || a == dedup() {
		t.Fatal("replayed deliveries share a deduplication id")
	}
}

// TestHandleSQS: the FIFO handler attempts each group in order, stops a
// group at its first unfinished message, sets that message's visibility to
// when it is due, and reports it and the group's later messages.
func TestHandleSQS(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	fail := map[string]bool{"e1": true, "g1": true, "f1": true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(webhook.EventIDHeader)
		if fail[id] {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
	}))
	defer srv.Close()
	for _, tenant := range []string{"acme", "paused", "resumed"} {
		if err := env.Store.CreateTenant(ctx, &store.Tenant{ID: tenant, Status: store.TenantActive}); err != nil {
			t.Fatal(err)
		}
		if err := env.Store.CreateWebhook(ctx, tenant, &store.Webhook{ID: "wh", URL: srv.URL, Secret: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []struct{ tenant, status string }{
		{"paused", store.TenantSuspended}, {"resumed", store.TenantSuspended}, {"resumed", store.TenantActive},
	} {
		if _, err := env.Store.SetTenantStatus(ctx, st.tenant, st.status); err != nil {
			t.Fatal(err)
		}
	}

	type msg struct {
		id, tenant, webhook, user string
		receives                  int
		age                       time.Duration
		body                      string // instead of a job
	}
	tests := []struct {
		name      string
		msgs      []msg
		deadline  time.Duration // of the invocation; 0: none
		failures  []string      // reported message ids
		vis       map[string][2]int32
		delivered []string
		failing   bool // the webhook is marked failing
	}{
		{name: "failed head holds its group only",
			msgs:     []msg{{id: "e1", user: "u1"}, {id: "e2", user: "u1"}, {id: "o1", user: "u2"}, {id: "e3", user: "u1"}, {id: "o2", user: "u2"}},
			failures: []string{"e1", "e2", "e3"}, vis: map[string][2]int32{"e1": {2, 5}, "e2": {0, 0}, "e3": {0, 0}},
			delivered: []string{"o1", "o2"}},
		{name: "attempt from the receive count",
			msgs:     []msg{{id: "e1", user: "u1", receives: 4}},
			failures: []string{"e1"}, vis: map[string][2]int32{"e1": {20, 40}}},
		{name: "given up after the retry period, the group goes on",
			msgs:      []msg{{id: "g1", user: "u1", receives: 30, age: 26 * time.Hour}, {id: "g2", user: "u1", age: 26 * time.Hour}},
			delivered: []string{"g2"}}, // g2's success clears the failing mark g1 set
		{name: "suspended tenant pauses",
			msgs:     []msg{{id: "p1", tenant: "paused", user: "u1", age: time.Hour}, {id: "p2", tenant: "paused", user: "u1", age: time.Hour}},
			failures: []string{"p1", "p2"}, vis: map[string][2]int32{"p1": {299, 301}, "p2": {0, 0}}},
		{name: "suspended tenant pause is capped",
			msgs:     []msg{{id: "p1", tenant: "paused", user: "u1", age: 30 * time.Hour}},
			failures: []string{"p1"}, vis: map[string][2]int32{"p1": {1800, 1800}}},
		{name: "a pause does not use up the retry period",
			msgs:     []msg{{id: "f1", tenant: "resumed", user: "u1", receives: 50, age: 30 * time.Hour}},
			failures: []string{"f1"}, vis: map[string][2]int32{"f1": {1800, 3600}}},
		{name: "removed webhook dropped; not a job dropped",
			msgs:      []msg{{id: "r1", webhook: "gone", user: "u1"}, {id: "x1", body: "not json"}, {id: "r2", user: "u1"}},
			delivered: []string{"r2"}},
		{name: "no time left: unattempted, visible again",
			msgs:     []msg{{id: "t1", user: "u1"}, {id: "t2", user: "u2"}},
			deadline: 5 * time.Second, failures: []string{"t1", "t2"}, vis: map[string][2]int32{"t1": {0, 0}, "t2": {0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			f := &fakeSQS{}
			q := delivery.NewSQSQueue(f, "https://sqs.example/q.fifo")
			d := delivery.NewDispatcher(env.Store, delivery.Local)
			var ev lambdaevents.SQSEvent
			now := time.Now()
			for _, m := range tc.msgs {
				tenant, hook := cmp(m.tenant, "acme"), cmp(m.webhook, "wh")
				j := delivery.Job{Tenant: tenant, WebhookID: hook, EventID: m.id, Event: userEvent(m.id, m.user), First: now.Add(-m.age)}
				body, _ := json.Marshal(j)
				if m.body != "" {
					body = []byte(m.body)
				}
				ev.Records = append(ev.Records, lambdaevents.SQSMessage{MessageId: m.id, ReceiptHandle: "r-" + m.id, Body: string(body),
					Attributes: map[string]string{"MessageGroupId": delivery.OrderKey(tenant, hook, j.Event), "ApproximateReceiveCount": strconv.Itoa(max(m.receives, 1))}})
			}
			hctx := ctx
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				hctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			resp, err := q.Handler(d)(hctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			var failures []string
			for _, f := range resp.BatchItemFailures {
				failures = append(failures, f.ItemIdentifier)
			}
			slices.Sort(failures)
			if !slices.Equal(failures, tc.failures) {
				t.Errorf("failures %v, want %v", failures, tc.failures)
			}
			for id, r := range tc.vis {
				v, ok := f.vis["r-"+id]
				if !ok || v < r[0] || v > r[1] {
					t.Errorf("visibility of %s = %d (set %v), want in [%d, %d]", id, v, ok, r[0], r[1])
				}
			}
			if len(f.vis) != len(tc.vis) {
				t.Errorf("visibility set for %v, want %v", f.vis, tc.vis)
			}
			mu.Lock()
			if !slices.Equal(got, tc.delivered) && !(len(got) == 0 && len(tc.delivered) == 0) {
				t.Errorf("delivered %v, want %v", got, tc.delivered)
			}
			mu.Unlock()
			w, err := env.Store.GetWebhook(ctx, "acme", "wh")
			if err != nil || w.Failing != tc.failing {
				t.Errorf("webhook failing = %v, want %v (%v)", w.Failing, tc.failing, err)
			}
			if w.Failing {
				if err := env.Store.MarkWebhookHealthy(ctx, "acme", "wh"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestHandleSQSHandsBack: when the store cannot be read the message is
// handed back, visible again after the first backoff.
func TestHandleSQSHandsBack(t *testing.T) {
	env := storetest.New(t)
	f := &fakeSQS{}
	q := delivery.NewSQSQueue(f, "q.fifo")
	j, _ := json.Marshal(delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: "e1", Event: userEvent("e1", "u1")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, _ := q.Handler(delivery.NewDispatcher(env.Store, delivery.Local))(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		{MessageId: "m1", ReceiptHandle: "r1", Body: string(j), Attributes: map[string]string{"MessageGroupId": "g"}}}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" || f.vis["r1"] < 2 || f.vis["r1"] > 5 {
		t.Fatalf("failures %+v, visibility %v", resp.BatchItemFailures, f.vis)
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestHandleSQSGroupsConcurrent: a batch's groups are attempted at once,
// each group's messages one at a time and in order.
func TestHandleSQSGroupsConcurrent(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	var (
		mu       sync.Mutex
		inFlight = map[string]int{}
		total    int
		most     int
		overlap  bool
		got      = map[string][]string{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(webhook.EventIDHeader)
		user := id[:2]
		mu.Lock()
		inFlight[user]++
		total++
		overlap = overlap || inFlight[user] > 1
		most = max(most, total)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight[user]--
		total--
		got[user] = append(got[user], id)
		mu.Unlock()
	}))
	defer srv.Close()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh", URL: srv.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.SQSEvent
	for i := range 10 {
		user := fmt.Sprintf("u%d", i%5)
		id := fmt.Sprintf("%s-%d", user, i)
		j := delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: id, Event: userEvent(id, user), First: time.Now()}
		body, _ := json.Marshal(j)
		ev.Records = append(ev.Records, lambdaevents.SQSMessage{MessageId: id, ReceiptHandle: "r" + id, Body: string(body),
			Attributes: map[string]string{"MessageGroupId": delivery.OrderKey("acme", "wh", j.Event), "ApproximateReceiveCount": "1"}})
	}
	f := &fakeSQS{}
	resp, err := delivery.NewSQSQueue(f, "q.fifo").Handler(delivery.NewDispatcher(env.Store, delivery.Local))(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("two messages of one group were attempted at once")
	}
	if most < 2 {
		t.Errorf("at most %d deliveries at once: the groups did not run concurrently", most)
	}
	for i := range 5 {
		user := fmt.Sprintf("u%d", i)
		if want := []string{fmt.Sprintf("%s-%d", user, i), fmt.Sprintf("%s-%d", user, i+5)}; !slices.Equal(got[user], want) {
			t.Errorf("%s delivered %v, want %v", user, got[user], want)
		}
	}
}
