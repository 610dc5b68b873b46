package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/events"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/webhook"
	"github.com/scimless/scimless/pkg/webhook/delivery"
)

// flakyReceiver verifies every delivery, answers 500 to a share of them,
// and records what it accepted in arrival order.
type flakyReceiver struct {
	secret   string
	failRate float64
	mu       sync.Mutex
	accepted []events.Event
	seen     map[string]int
	requests atomic.Int64
	failed   atomic.Int64
	badSig   atomic.Int64
}

func (rc *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, time.Minute); err != nil {
		rc.badSig.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rand.Float64() < rc.failRate {
		rc.failed.Add(1)
		http.Error(w, "flaky", http.StatusInternalServerError)
		return
	}
	var e events.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get(webhook.EventIDHeader) {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.accepted = append(rc.accepted, e)
	rc.seen[e.ID]++
	rc.mu.Unlock()
}

// TestDeliveryRun delivers 10,000 events to a local receiver that answers
// 500 to 1 % of deliveries and is down (connection refused) for 5 s, and
// prints and checks: every event delivered, duplicates, retries, and for
// each resource that its events arrived in time order. It runs only when
// SCIMLESS_DELIVERY_RUN=1 (make figures-webhooks): it takes about half a
// minute. Backoff starts at 500 ms here instead of 5 s to keep it short.
func TestDeliveryRun(t *testing.T) {
	if os.Getenv("SCIMLESS_DELIVERY_RUN") != "1" {
		t.Skip("set SCIMLESS_DELIVERY_RUN=1 (make figures-webhooks)")
	}
	const (
		total     = 10000
		resources = 500
		downFor   = 5 * time.Second
	)
	env := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	rc := &flakyReceiver{secret: "whsec_run", failRate: 0.01, seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := env.Store.CreateWebhook(ctx, "acme", &store.Webhook{ID: "wh", URL: "http://" + addr + "/hook", Secret: rc.secret}); err != nil {
		t.Fatal(err)
	}

	q := delivery.NewMemQueue()
	logger := slog.New(slog.DiscardHandler)
	runDone := make(chan struct{})
	defer func() { cancel(); <-runDone }()

	start := time.Now()
	base := start.Add(-time.Hour)
	jobs := make([]delivery.Job, 0, total)
	for i := range total {
		at := base.Add(time.Duration(i) * time.Millisecond)
		id, _ := events.NewID(at, fmt.Sprint(1000000+i), 0)
		e := events.Event{ID: id, Type: events.UserUpdated, Tenant: "acme", Time: at,
			Data: json.RawMessage(fmt.Sprintf(`{"id":"u%03d"}`, i%resources)), Changed: []string{"name.givenName"}}
		body, _ := json.Marshal(e)
		jobs = append(jobs, delivery.Job{Tenant: "acme", WebhookID: "wh", EventID: id, Event: body, First: start})
	}
	// Events arrive over 10 s in batches of 100, as the consumer queues
	// them.
	d := delivery.NewDispatcher(env.Store, delivery.Local, delivery.WithLogger(logger),
		delivery.WithBackoff(500*time.Millisecond, 10*time.Second, 25*time.Hour))
	var retries atomic.Int64
	handle := func(ctx context.Context, j delivery.Job) (delivery.Outcome, error) {
		out, err := d.Handle(ctx, j)
		if err == nil && out.Retry && out.Job.Attempt > j.Attempt {
			retries.Add(1)
		}
		return out, err
	}
	go func() { defer close(runDone); q.Run(ctx, 32, handle) }()
	go func() {
		for i := 0; i < total; i += 100 {
			_ = q.Enqueue(ctx, jobs[i:min(i+100, total)])
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// The receiver goes down after 3 s, for 5 s, then comes back on the
	// same address.
	time.Sleep(3 * time.Second)
	_ = srv.Close()
	downAt := time.Now()
	time.Sleep(downFor)
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv2 := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv2.Serve(ln2) }()
	defer srv2.Close()
	upAt := time.Now()

	deadline := time.Now().Add(3 * time.Minute)
	for {
		rc.mu.Lock()
		n := len(rc.seen)
		rc.mu.Unlock()
		if n == total && q.Pending() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 min: %d of %d events delivered, %d jobs pending", n, total, q.Pending())
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	dups := len(rc.accepted) - len(rc.seen)
	// Per resource: were its events accepted in time (id) order? A
	// duplicate (a delivery accepted whose answer was lost) comes right
	// after its first copy, so the order holds with it.
	arrival := map[string][]string{}
	for _, e := range rc.accepted {
		r := e.ResourceID()
		arrival[r] = append(arrival[r], e.ID)
	}
	outOfOrder := 0
	for r, ids := range arrival {
		if !slices.IsSorted(ids) {
			outOfOrder++
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != total/resources {
			t.Errorf("resource %s: %d distinct events, want %d", r, len(slices.Compact(sorted)), total/resources)
		}
	}
	if len(rc.seen) != total || rc.badSig.Load() != 0 {
		t.Fatalf("delivered %d of %d, %d bad signatures", len(rc.seen), total, rc.badSig.Load())
	}
	if outOfOrder > 0 {
		t.Errorf("%d of %d resources received their events out of time order", outOfOrder, len(arrival))
	}
	fmt.Printf("webhook delivery run: %d events to a receiver answering 500 on %.0f%% and down %s (from %s to %s after start)\n",
		total, rc.failRate*100, downFor, downAt.Sub(start).Round(time.Millisecond), upAt.Sub(start).Round(time.Millisecond))
	fmt.Printf("  delivered: %d of %d distinct events, all signatures valid; finished %s after start\n", len(rc.seen), total, elapsed.Round(time.Millisecond))
	fmt.Printf("  attempts: %d (%d retries); requests reaching the receiver: %d, of which %d answered 500; the other failed attempts met a refused connection\n",
		int64(total)+retries.Load(), retries.Load(), rc.requests.Load(), rc.failed.Load())
	fmt.Printf("  duplicates accepted: %d\n", dups)
	fmt.Printf("  order: %d resources with %d events each; %d received their events in time order, %d did not (32 deliveries in flight, one per resource at a time)\n",
		len(arrival), total/resources, len(arrival)-outOfOrder, outOfOrder)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("run timed out")
	}
}
